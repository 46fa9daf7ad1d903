"""`agra-bench serve`: any registered policy behind openpi's websocket protocol.

Wire behaviour (matched against openpi-client 0.1.2 and openpi's `WebsocketPolicyServer`):
plain WebSocket, compression off; `GET /healthz` answers 200 "OK"; on connect the server sends
one binary msgpack frame of metadata, then answers each binary request frame with one binary
reply `{"actions": (Ta, 7) float32, "server_timing": {...}}`. On an error it sends one text
frame (the message) and closes with code 1011, as openpi's server does; other connections are
not affected.

What this server adds, all optional for clients:
- metadata names the policy, its chunk length and execute horizon, the observation keys it
  reads, the image size it was trained at (if it knows one) and the agra-bench version;
- the episode-reset extension: a request holding `agra_bench/reset_seed` starts a new episode
  (the policy's `reset(slot, seed)`) before inferring; openpi clients never send it, and then
  each connection is one stream (reset once, at connect, with seed 0);
- frames over `max_frame_bytes` are refused (close code 1009) instead of being buffered;
- inference runs on one worker thread, off the event loop, so keepalive pings are answered
  while a slow policy computes; requests of all connections are served one at a time.

Binds 127.0.0.1 unless told otherwise: a policy server executes whatever requests reach it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import http
import ipaddress
import itertools
import re
import time
import traceback
from dataclasses import dataclass, field

import numpy as np
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode

from agra_bench.errors import UsageError
from agra_bench.serving.codec import ProtocolError, packb, unpackb
from agra_bench.serving.openpi_obs import IMAGE, PROMPT, RESET_KEY, STATE, WRIST, from_request
from policies.base import Policy

OPENPI_KEYS = {"agentview_rgb": IMAGE, "wrist_rgb": WRIST, "proprio": STATE, "instruction": PROMPT}


@dataclass(frozen=True)
class ServeSettings:
    policy: str
    policy_options: dict = field(default_factory=dict)
    host: str = "127.0.0.1"
    port: int = 8000
    max_frame_bytes: int = 32 * 2**20

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise UsageError(f"bad --port {self.port}; valid: 0-65535 (0 = any free port)")
        if self.max_frame_bytes < 1024:
            raise UsageError(
                f"bad --max-frame-mb {self.max_frame_bytes / 2**20:g}; valid: a number > 0 (at least 1 KB)"
            )
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?", self.host):
                raise UsageError(
                    f"bad --host '{self.host}'; valid: an IP address or host name, e.g. 127.0.0.1 or 0.0.0.0"
                ) from None


def server_metadata(policy: Policy, settings: ServeSettings) -> dict:
    from agra_bench.versions import package_versions

    description = policy.describe()
    return {
        "server": "agra-bench",
        "agra_bench_version": package_versions().get("agra-bench"),
        "policy": settings.policy,
        "chunk_length": policy.spec.chunk_length,
        "execute_horizon": policy.spec.execute_horizon,
        "observation_keys": [OPENPI_KEYS[k] for k in policy.spec.observation_keys if k in OPENPI_KEYS],
        "image_size": description.get("image_size"),
        "episode_reset_key": RESET_KEY,
        "batched_requests": False,
        "max_frame_bytes": settings.max_frame_bytes,
    }


class PolicyServer:
    """One policy, many connections; each connection is one slot of the policy."""

    def __init__(self, policy: Policy, settings: ServeSettings) -> None:
        self.policy, self.settings = policy, settings
        self.metadata = server_metadata(policy, settings)
        self._slots = itertools.count()
        self._inference = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="policy")

    def _infer(self, obs: dict, slot: int, reset_seed: int | None) -> np.ndarray:
        missing = [
            OPENPI_KEYS[k] for k in self.policy.spec.observation_keys if k in OPENPI_KEYS and k not in obs
        ]
        if missing:
            raise ProtocolError(f"request lacks {missing}; policy '{self.settings.policy}' reads them")
        if reset_seed is not None:
            self.policy.reset(slot, reset_seed)
        actions = np.asarray(self.policy.act(obs, [slot]), dtype=np.float32)
        return actions[0]

    async def handle(self, connection: ServerConnection) -> None:
        slot = next(self._slots)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._inference, self.policy.reset, slot, 0)
        await connection.send(packb(self.metadata))
        previous_total = None
        try:
            async for frame in connection:
                start = time.monotonic()
                try:
                    request = unpackb(frame)
                    if not isinstance(request, dict):
                        raise ProtocolError(f"a request must be a map, got {type(request).__name__}")
                    seed = request.pop(RESET_KEY, None)
                    obs = from_request(request)
                    tic = time.monotonic()
                    actions = await loop.run_in_executor(
                        self._inference, self._infer, obs, slot, None if seed is None else int(seed)
                    )
                    timing = {"infer_ms": 1000 * (time.monotonic() - tic)}
                    if previous_total is not None:
                        timing["prev_total_ms"] = previous_total
                    await connection.send(packb({"actions": actions, "server_timing": timing}))
                    previous_total = 1000 * (time.monotonic() - start)
                except (ProtocolError, ValueError, TypeError) as exc:
                    await self._fail(connection, f"bad request: {exc}")
                    return
                except ConnectionClosed:
                    raise
                except Exception:  # the policy failed: tell the client, as openpi's server does
                    await self._fail(connection, traceback.format_exc())
                    return
        except ConnectionClosed:
            return

    @staticmethod
    async def _fail(connection: ServerConnection, message: str) -> None:
        try:
            await connection.send(message)
            await connection.close(CloseCode.INTERNAL_ERROR, "error; message in the previous frame")
        except ConnectionClosed:
            pass

    @staticmethod
    def health(connection: ServerConnection, request):
        if request.path == "/healthz":
            return connection.respond(http.HTTPStatus.OK, "OK\n")
        return None

    async def serve_forever(self, ready=None) -> None:
        async with serve(
            self.handle,
            self.settings.host,
            self.settings.port,
            compression=None,
            max_size=self.settings.max_frame_bytes,
            process_request=self.health,
        ) as server:
            if ready is not None:
                ready(server.sockets[0].getsockname()[1])
            await server.serve_forever()


def run_server(settings: ServeSettings, ready=None) -> None:
    """Build the policy and serve it until interrupted; `ready(port)` is called once listening."""
    from policies.registry import make_policy

    policy = make_policy(settings.policy, **settings.policy_options)
    try:
        asyncio.run(PolicyServer(policy, settings).serve_forever(ready))
    except KeyboardInterrupt:
        pass
    finally:
        policy.close()
