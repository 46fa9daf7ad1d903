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

A pool of servers (`openpi://h1:8000,h2:8000`, one GPU each, say) spreads the env slots over
them, slot *i* on server *i* mod *n* while it lives, else on the live server with the fewest
slots. A server that cannot be reached again is taken out of the pool: the episode it was
serving ends with error type `server_lost`, which the executors put back in the queue (the
episode starts over on another server, `scheduler.EpisodeQueue.episode_lost`), so a dead server
costs time, not episodes. Each row records the server that answered it (`policy_server`).
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


def parse_address(url: str) -> tuple[list[tuple[str, int]], dict]:
    """'openpi://HOST:PORT[,HOST:PORT...]?k=v' -> ([(host, port), ...], options); UsageError
    naming what is wrong."""
    valid = "openpi://HOST:PORT[,HOST:PORT...][?image_size=224&timeout=60]"
    if not url.startswith(SCHEME):
        raise UsageError(f"bad policy address '{url}'; valid: {valid}")
    netloc, _, query = url[len(SCHEME) :].partition("?")
    servers = []
    for part in netloc.split(","):
        try:
            parts = urlsplit(SCHEME + part)
            host, port = parts.hostname, parts.port
        except ValueError:
            host = port = None
        if not host or port is None or parts.path:
            raise UsageError(f"bad policy address '{url}' (at '{part}'); valid: {valid}")
        servers.append((host, port))
    if len(set(servers)) < len(servers):
        raise UsageError(f"bad policy address '{url}': a server is named twice; valid: {valid}")
    options = dict(parse_qsl(query))
    unknown_keys = sorted(set(options) - {"image_size", "timeout"})
    if unknown_keys:
        raise UsageError(f"unknown option {unknown_keys} in '{url}'; valid: image_size, timeout")
    try:
        parsed = {k: (int(v) if k == "image_size" else float(v)) for k, v in options.items()}
    except ValueError:
        raise UsageError(f"bad option value in '{url}': image_size is an integer, timeout seconds") from None
    return servers, parsed


class OpenPIClient(Policy):
    name = "openpi"

    def __init__(
        self, url: str, replan_steps: int | None = None, image_size: int = 224, timeout: float = 60.0
    ):
        servers, options = parse_address(url)
        self.servers = [f"ws://{host}:{port}" for host, port in servers]
        self.url = url
        self.image_size = int(options.get("image_size", image_size))
        self.timeout = float(options.get("timeout", timeout))
        if self.image_size < 8 or self.timeout <= 0:
            raise UsageError(
                f"bad openpi client option: image_size {self.image_size} (>= 8), timeout {self.timeout} (> 0)"
            )
        self.metadata: dict[int, dict] = {}  # server index -> the metadata it sent on connect
        self.alive = [True] * len(self.servers)
        self._slot_server: dict[int, int] = {}
        self._connections: dict[int, object] = {}
        self._reset_seeds: dict[int, int] = {}
        self._answered: dict[int, np.ndarray] = {}  # replies of a step that failed for another slot
        self._lost: dict[int, PolicyServerError] = {}  # slots whose server died mid-episode
        self._pool = concurrent.futures.ThreadPoolExecutor(8, thread_name_prefix="openpi")
        self.replan_steps = self._choose_replan_steps(replan_steps)
        self.spec = PolicySpec(chunk_length=self.replan_steps, execute_horizon=self.replan_steps)

    def _choose_replan_steps(self, requested: int | None) -> int:
        """--replan-steps, else 5; never more than the shortest chunk length a server announces
        (read from each server's metadata over one short connection; every server must answer)."""
        if requested is not None and requested < 1:
            raise UsageError(f"bad --replan-steps {requested}; valid: an integer >= 1")
        for index in range(len(self.servers)):
            probe = -1 - index  # a slot no env uses
            self._slot_server[probe] = index
            try:
                self._connect(probe)
            except PolicyServerError as exc:
                raise UsageError(f"cannot use policy '{self.url}': {exc}") from None
            finally:
                self.close_slot(probe)
                self._slot_server.pop(probe, None)
        chunks = [m.get("chunk_length") for m in self.metadata.values()]
        chunks = [c for c in chunks if isinstance(c, int) and c >= 1]
        chunk = min(chunks) if chunks else None
        if requested is None:
            return min(5, chunk) if chunk else 5
        if chunk and requested > chunk:
            raise UsageError(f"--replan-steps {requested} exceeds the server's chunk length {chunk}")
        return requested

    def describe(self) -> dict:
        first = self.metadata.get(0)
        return {
            **super().describe(),
            "name": self.url,
            "server": self.servers[0] if len(self.servers) == 1 else self.servers,
            "image_size": self.image_size,
            "replan_steps": self.replan_steps,
            "server_metadata": _plain(first),
        }

    # --- connections -------------------------------------------------------------------------
    def server_of(self, slot: int) -> int:
        """The slot's server: slot mod n while it lives, else the live one with fewest slots."""
        index = self._slot_server.get(slot)
        if index is not None and self.alive[index]:
            return index
        live = [i for i, ok in enumerate(self.alive) if ok]
        if not live:
            raise PolicyServerError(f"every policy server of '{self.url}' was lost")
        preferred = slot % len(self.servers)
        if preferred in live:
            index = preferred
        else:
            load = {i: sum(1 for s, j in self._slot_server.items() if j == i and s >= 0) for i in live}
            index = min(live, key=lambda i: (load[i], i))
        self._slot_server[slot] = index
        return index

    def _connect(self, slot: int):
        from websockets.sync.client import connect

        index = self.server_of(slot)
        uri = self.servers[index]
        try:
            connection = connect(uri, compression=None, max_size=None, open_timeout=self.timeout)
            metadata = unpackb(connection.recv(timeout=self.timeout))
        except Exception as exc:  # refused, timed out, bad handshake, not a metadata frame
            raise PolicyServerError(f"cannot connect to {uri}: {type(exc).__name__}: {exc}") from None
        self.metadata[index] = metadata if isinstance(metadata, dict) else {}
        self._connections[slot] = connection
        return connection

    def _lose_server(self, slot: int, error: PolicyServerError) -> PolicyServerError:
        """Take the slot's server out of the pool; `server_lost` while others live."""
        index = self._slot_server.pop(slot, None)
        if index is not None and len(self.servers) > 1:
            self.alive[index] = False
            if any(self.alive):
                # The episode must not go on elsewhere mid-stream (the new server lacks its
                # history): the slot keeps failing until its next reset.
                self._lost[slot] = PolicyServerError(
                    f"{error} (taken out of the pool; the episode starts over on another server)",
                    "server_lost",
                )
                return self._lost[slot]
        return error

    def close_slot(self, slot: int) -> None:
        connection = self._connections.pop(slot, None)
        if connection is not None:
            connection.close()

    def reset(self, slot: int, seed: int) -> None:
        """A new episode in `slot`: an agra-bench server is told (reset extension); for any other
        server the slot's connection is reopened, which is a new stream for openpi servers."""
        self._reset_seeds[slot] = int(seed)
        self._answered.pop(slot, None)
        self._lost.pop(slot, None)
        if slot in self._connections and not self._supports_reset(slot):
            self.close_slot(slot)

    def _supports_reset(self, slot: int) -> bool:
        metadata = self.metadata.get(self._slot_server.get(slot, -1))
        return bool(metadata and metadata.get("episode_reset_key") == RESET_KEY)

    def episode_info(self, slot: int) -> dict:
        index = self._slot_server.get(slot)
        return {"policy_server": self.servers[index].removeprefix("ws://") if index is not None else None}

    # --- inference ---------------------------------------------------------------------------
    def _request(self, slot: int, request: dict) -> np.ndarray:
        """One request/reply on the slot's connection, reopened once if it was dropped; a server
        that cannot be reached again is lost (`_lose_server`)."""
        from websockets.exceptions import ConnectionClosed

        if slot in self._lost:
            raise self._lost[slot]
        for attempt in (1, 2):
            try:
                connection = self._connections.get(slot) or self._connect(slot)
            except PolicyServerError as exc:
                raise self._lose_server(slot, exc) from None
            uri = self.servers[self._slot_server[slot]]
            message = dict(request)
            if slot in self._reset_seeds and self._supports_reset(slot):
                message[RESET_KEY] = self._reset_seeds[slot]
            try:
                connection.send(packb(message))
                reply = connection.recv(timeout=self.timeout)
            except TimeoutError:
                self.close_slot(slot)
                raise PolicyServerError(f"{uri} did not reply within {self.timeout:g} s", "timeout") from None
            except (ConnectionClosed, OSError) as exc:
                self.close_slot(slot)
                if attempt == 2:
                    raise self._lose_server(
                        slot, PolicyServerError(f"{uri} closed the connection: {exc}")
                    ) from None
                continue
            if isinstance(reply, str):  # openpi servers send the error text, then close
                self.close_slot(slot)
                last_line = (reply.strip().splitlines() or [""])[-1][:500]
                raise PolicyServerError(f"server {uri} failed: {last_line}", "policy")
            self._reset_seeds.pop(slot, None)
            return self._actions(uri, unpackb(reply))
        raise AssertionError("unreachable")

    def _actions(self, uri: str, reply) -> np.ndarray:
        if not isinstance(reply, dict) or "actions" not in reply:
            got = f"keys {sorted(map(str, reply))[:10]}" if isinstance(reply, dict) else type(reply).__name__
            raise PolicyServerError(f"{uri} replied without an 'actions' key (got {got})", "policy")
        actions = np.asarray(reply["actions"])
        if actions.ndim != 2 or actions.shape[1] != 7 or actions.shape[0] < self.replan_steps:
            raise PolicyServerError(
                f"{uri} replied actions of shape {actions.shape}; expected (H >= {self.replan_steps}, 7)",
                "policy",
            )
        return actions[: self.replan_steps].astype(np.float32)

    def act(self, obs: dict, slots: Sequence[int]) -> np.ndarray:
        """One request per slot, sent concurrently. If one fails, the replies the others got are
        kept for the executor's per-slot retry of this same step (`_answered`), so a slot's
        server never sees one observation twice."""
        requests = [to_request(obs, i, self.image_size) for i in range(len(slots))]
        futures = {
            s: None if s in self._answered else self._pool.submit(self._request, s, r)
            for s, r in zip(slots, requests, strict=True)
        }
        replies, failure = {}, None
        for slot, future in futures.items():
            try:
                replies[slot] = self._answered.pop(slot) if future is None else future.result()
            except Exception as exc:  # noqa: BLE001 - re-raised below, after the others are kept
                failure = failure or exc
        if failure is not None:
            self._answered.update(replies)
            raise failure
        return np.stack([replies[s] for s in slots])

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
