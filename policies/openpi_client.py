"""`--policy openpi://HOST:PORT`: a policy that lives in another process (its own environment,
its own GPU) and speaks openpi's websocket protocol: pi0 / pi0.5 servers, OpenVLA-OFT ports,
`agra-bench serve`.

Each env slot gets its own connection (openpi servers keep per-connection state), opened on the
slot's first request; the requests of one control step go out concurrently. Per call the
server's chunk is cut to `replan_steps` actions (openpi's LIBERO client executes 5).

Options, also as a query string (`openpi://127.0.0.1:8000?image_size=256&timeout=30`):
    image_size     side of the square images sent (openpi LIBERO: 224, resized with padding)
    replan_steps   actions executed per call (`--replan-steps`; default 5 as openpi's LIBERO
                   client, or the server's chunk length when it says it is shorter)
    timeout        seconds allowed to connect and for each reply (a dead server never hangs a run)

A server error (its text frame), a closed connection or a timeout raises `PolicyServerError`
with the server's message; the executor records it as that episode's error and goes on. A
dropped connection is reopened once per request before giving up.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Sequence
from urllib.parse import parse_qsl, urlsplit

import numpy as np

from agra_bench.errors import UsageError
from agra_bench.serving.codec import packb, unpackb
from agra_bench.serving.openpi_obs import RESET_KEY, to_request
from policies.base import Policy, PolicySpec

SCHEME = "openpi://"


class PolicyServerError(RuntimeError):
    """The policy server failed, closed the connection or did not answer in time.
    `error_type`: "connection" (unreachable, dropped), "timeout", or "policy" (the server's
    policy raised or replied something unusable)."""

    def __init__(self, message: str, error_type: str = "connection") -> None:
        super().__init__(message)
        self.error_type = error_type


def parse_address(url: str) -> tuple[str, int, dict]:
    """'openpi://HOST:PORT?k=v' -> (host, port, options); UsageError naming what is wrong."""
    parts = urlsplit(url)
    if parts.scheme != "openpi" or not parts.hostname or parts.port is None:
        raise UsageError(f"bad policy address '{url}'; valid: openpi://HOST:PORT[?image_size=224&timeout=60]")
    options = dict(parse_qsl(parts.query))
    unknown_keys = sorted(set(options) - {"image_size", "timeout"})
    if unknown_keys:
        raise UsageError(f"unknown option {unknown_keys} in '{url}'; valid: image_size, timeout")
    try:
        parsed = {k: (int(v) if k == "image_size" else float(v)) for k, v in options.items()}
    except ValueError:
        raise UsageError(f"bad option value in '{url}': image_size is an integer, timeout seconds") from None
    return parts.hostname, parts.port, parsed


class OpenPIClient(Policy):
    name = "openpi"

    def __init__(
        self, url: str, replan_steps: int | None = None, image_size: int = 224, timeout: float = 60.0
    ):
        host, port, options = parse_address(url)
        self.uri = f"ws://{host}:{port}"
        self.url = url
        self.image_size = int(options.get("image_size", image_size))
        self.timeout = float(options.get("timeout", timeout))
        if self.image_size < 8 or self.timeout <= 0:
            raise UsageError(
                f"bad openpi client option: image_size {self.image_size} (>= 8), timeout {self.timeout} (> 0)"
            )
        self.metadata: dict | None = None
        self._connections: dict[int, object] = {}
        self._reset_seeds: dict[int, int] = {}
        self._pool = concurrent.futures.ThreadPoolExecutor(8, thread_name_prefix="openpi")
        self.replan_steps = self._choose_replan_steps(replan_steps)
        self.spec = PolicySpec(chunk_length=self.replan_steps, execute_horizon=self.replan_steps)

    def _choose_replan_steps(self, requested: int | None) -> int:
        """--replan-steps, else 5; never more than a chunk length the server announces (read
        from its metadata over one short connection)."""
        if requested is not None and requested < 1:
            raise UsageError(f"bad --replan-steps {requested}; valid: an integer >= 1")
        try:
            self._connect(-1)
        except PolicyServerError as exc:
            raise UsageError(f"cannot use policy '{self.url}': {exc}") from None
        finally:
            self.close_slot(-1)
        chunk = self.metadata.get("chunk_length") if self.metadata else None
        if requested is None:
            return min(5, chunk) if isinstance(chunk, int) and chunk >= 1 else 5
        if isinstance(chunk, int) and requested > chunk:
            raise UsageError(f"--replan-steps {requested} exceeds the server's chunk length {chunk}")
        return requested

    def describe(self) -> dict:
        return {
            **super().describe(),
            "name": self.url,
            "server": self.uri,
            "image_size": self.image_size,
            "replan_steps": self.replan_steps,
            "server_metadata": _plain(self.metadata),
        }

    # --- connections -------------------------------------------------------------------------
    def _connect(self, slot: int):
        from websockets.sync.client import connect

        try:
            connection = connect(self.uri, compression=None, max_size=None, open_timeout=self.timeout)
            metadata = unpackb(connection.recv(timeout=self.timeout))
        except Exception as exc:  # refused, timed out, bad handshake, not a metadata frame
            raise PolicyServerError(f"cannot connect to {self.uri}: {type(exc).__name__}: {exc}") from None
        self.metadata = metadata if isinstance(metadata, dict) else {}
        self._connections[slot] = connection
        return connection

    def close_slot(self, slot: int) -> None:
        connection = self._connections.pop(slot, None)
        if connection is not None:
            connection.close()

    def reset(self, slot: int, seed: int) -> None:
        """A new episode in `slot`: an agra-bench server is told (reset extension); for any other
        server the slot's connection is reopened, which is a new stream for openpi servers."""
        self._reset_seeds[slot] = int(seed)
        if slot in self._connections and not self._supports_reset():
            self.close_slot(slot)

    def _supports_reset(self) -> bool:
        return bool(self.metadata and self.metadata.get("episode_reset_key") == RESET_KEY)

    # --- inference ---------------------------------------------------------------------------
    def _request(self, slot: int, request: dict) -> np.ndarray:
        """One request/reply on the slot's connection, reopened once if it was dropped."""
        from websockets.exceptions import ConnectionClosed

        for attempt in (1, 2):
            connection = self._connections.get(slot) or self._connect(slot)
            message = dict(request)
            if slot in self._reset_seeds and self._supports_reset():
                message[RESET_KEY] = self._reset_seeds[slot]
            try:
                connection.send(packb(message))
                reply = connection.recv(timeout=self.timeout)
            except TimeoutError:
                self.close_slot(slot)
                raise PolicyServerError(
                    f"{self.uri} did not reply within {self.timeout:g} s", "timeout"
                ) from None
            except (ConnectionClosed, OSError) as exc:
                self.close_slot(slot)
                if attempt == 2:
                    raise PolicyServerError(f"{self.uri} closed the connection: {exc}") from None
                continue
            if isinstance(reply, str):  # openpi servers send the error text, then close
                self.close_slot(slot)
                last_line = (reply.strip().splitlines() or [""])[-1][:500]
                raise PolicyServerError(f"server {self.uri} failed: {last_line}", "policy")
            self._reset_seeds.pop(slot, None)
            return self._actions(unpackb(reply))
        raise AssertionError("unreachable")

    def _actions(self, reply) -> np.ndarray:
        if not isinstance(reply, dict) or "actions" not in reply:
            got = f"keys {sorted(map(str, reply))[:10]}" if isinstance(reply, dict) else type(reply).__name__
            raise PolicyServerError(f"{self.uri} replied without an 'actions' key (got {got})", "policy")
        actions = np.asarray(reply["actions"])
        if actions.ndim != 2 or actions.shape[1] != 7 or actions.shape[0] < self.replan_steps:
            raise PolicyServerError(
                f"{self.uri} replied actions of shape {actions.shape}; "
                f"expected (H >= {self.replan_steps}, 7)",
                "policy",
            )
        return actions[: self.replan_steps].astype(np.float32)

    def act(self, obs: dict, slots: Sequence[int]) -> np.ndarray:
        requests = [to_request(obs, i, self.image_size) for i in range(len(slots))]
        futures = [self._pool.submit(self._request, s, r) for s, r in zip(slots, requests, strict=True)]
        return np.stack([f.result() for f in futures])

    def close(self) -> None:
        for slot in list(self._connections):
            self.close_slot(slot)
        self._pool.shutdown(wait=False)


def _plain(value):
    """Metadata as JSON-safe values for the manifest."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value
