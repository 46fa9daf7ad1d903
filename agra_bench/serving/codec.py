"""openpi's wire format: msgpack, with numpy values as maps whose keys are bytes.

    ndarray     {b"__ndarray__": True, b"data": <raw bytes>, b"dtype": dtype.str, b"shape": [..]}
    np scalar   {b"__npgeneric__": True, b"data": <python value>, b"dtype": dtype.str}

Matched against openpi-client 0.1.2 (`openpi_client/msgpack_numpy.py`). Object, void and complex
dtypes are refused in both directions (an object array would need pickle, and nothing here ever
unpickles). Decoding also checks that the byte count fits dtype and shape, so a malformed frame
is a `ProtocolError`, not a numpy crash deep inside a policy.
"""

from __future__ import annotations

from typing import Any

import msgpack
import numpy as np

REFUSED_KINDS = ("O", "V", "c")


class ProtocolError(ValueError):
    """A frame that does not follow the protocol (bad msgpack, bad array map, refused dtype)."""


def _encode(value: Any) -> Any:
    if isinstance(value, (np.ndarray, np.generic)) and value.dtype.kind in REFUSED_KINDS:
        raise ProtocolError(f"dtype {value.dtype} cannot be sent (object, void and complex are refused)")
    if isinstance(value, np.ndarray):
        array = np.ascontiguousarray(value)
        return {
            b"__ndarray__": True,
            b"data": array.tobytes(),
            b"dtype": array.dtype.str,
            b"shape": array.shape,
        }
    if isinstance(value, np.generic):
        return {b"__npgeneric__": True, b"data": value.item(), b"dtype": value.dtype.str}
    return value


def _dtype(raw: Any) -> np.dtype:
    try:
        dtype = np.dtype(raw.decode() if isinstance(raw, bytes) else raw)
    except TypeError as exc:
        raise ProtocolError(f"bad dtype {raw!r}: {exc}") from None
    if dtype.kind in REFUSED_KINDS:
        raise ProtocolError(f"dtype {dtype} is refused (object, void and complex)")
    return dtype


def _decode(obj: dict) -> Any:
    if b"__ndarray__" in obj:
        dtype = _dtype(obj.get(b"dtype"))
        shape, data = tuple(obj.get(b"shape") or ()), obj.get(b"data")
        if not isinstance(data, bytes) or any(not isinstance(n, int) or n < 0 for n in shape):
            raise ProtocolError("malformed ndarray map (data must be bytes, shape non-negative ints)")
        if int(np.prod(shape, dtype=np.int64)) * dtype.itemsize != len(data):
            raise ProtocolError(f"ndarray of shape {shape} and dtype {dtype} cannot hold {len(data)} bytes")
        return np.frombuffer(data, dtype=dtype).reshape(shape)
    if b"__npgeneric__" in obj:
        return _dtype(obj.get(b"dtype")).type(obj.get(b"data"))
    return obj


def packb(value: Any) -> bytes:
    """One binary frame holding `value` (dicts, lists, str, numbers, numpy arrays and scalars)."""
    return msgpack.packb(value, default=_encode)


def unpackb(frame: bytes) -> Any:
    """The value in one binary frame; ProtocolError for anything that is not valid protocol."""
    if not isinstance(frame, (bytes, bytearray, memoryview)):
        raise ProtocolError(f"expected a binary frame, got {type(frame).__name__}")
    try:
        return msgpack.unpackb(bytes(frame), object_hook=_decode, strict_map_key=False)
    except ProtocolError:
        raise
    except Exception as exc:  # msgpack raises several unrelated types for garbage input
        raise ProtocolError(f"not a msgpack frame: {type(exc).__name__}: {exc}") from None
