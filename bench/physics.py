"""Blind physics under `--physics fast` against robosuite's own loop (`stock`), and what a reset
costs next to an episode's physics.

For each suite (task 0, init state 0, cameras off) one env per physics is built in this
process; each round steps both through the same seeded random actions, alternating which goes
first, and times the step loop (`SimTaskEnv.step`: physics, success check, observation). The
state (qpos, qvel, qacc_warmstart) is hashed after every step of every round; `identical=1`
means all hashes of both physics agreed.

Then the reset (hard reset: XML rebuild, model compile, render context, init state, settle
steps) of each env is timed over a few init states, alternating the two, and set against the
physics of one episode at the protocol's step cap. Under `fast` a reset of an unchanged scene
keeps its render context (envs/render_cache.py); `stock` makes a new one each time.

Prints, per suite, `name=value` lines:
  physics_ratio_<suite>   stock time / fast time, median over rounds (target >= 2.0; >= 2.5 on
                          libero_spatial)
  identical_<suite>       1 when every state hash agreed
  fast_ms_<suite>, stock_ms_<suite>   median ms per step
  reset_s_<suite>, stock_reset_s_<suite>   median seconds of one reset (hard reset + settle)
  reset_ratio_<suite>     stock reset / fast reset
  hard_reset_s_<suite>    of the fast reset, the hard reset (rebuild, compile, init state)
  episode_physics_s_<suite>   step cap x fast ms per step: an episode that runs to the cap
and at the end `physics_ratio_min=` over the suites measured.

    python bench/physics.py                           # every suite, 150 steps, 3 rounds
    python bench/physics.py --suites libero_spatial --steps 50 --rounds 3
"""

from __future__ import annotations

import hashlib
import statistics
import time

import numpy as np
from common import bench_parser  # bench/common.py: also puts the repository on the path

from agra_bench.envs.settings import EnvSettings
from agra_bench.protocol import get_protocol
from agra_bench.suites import all_suites


def state_hash(env) -> str:
    data = env.sim.data._data
    return hashlib.sha1(data.qpos.tobytes() + data.qvel.tobytes() + data.qacc_warmstart.tobytes()).hexdigest()


def stepped(env, actions: np.ndarray) -> tuple[float, list[str]]:
    """Reset to init state 0, step through `actions`; (seconds of the step loop, state hashes)."""
    env.reset(seed=0, options={"init_state_id": 0})
    hashes = []
    tic = time.perf_counter()
    for action in actions:
        env.step(action)
        hashes.append(state_hash(env))
    return time.perf_counter() - tic, hashes


def timed_resets(envs: dict, init_states: int) -> dict[str, tuple[float, float]]:
    """Per env, median (reset seconds, hard-reset seconds) over init states 1..init_states,
    the envs alternating."""
    totals: dict[str, list[float]] = {name: [] for name in envs}
    hard: dict[str, list[float]] = {name: [] for name in envs}
    for k in range(1, init_states + 1):
        for name, env in envs.items():
            restore = env._restore_init_state

            def timed_restore(init_state_id, restore=restore, name=name):
                tic = time.perf_counter()
                out = restore(init_state_id)
                hard[name].append(time.perf_counter() - tic)
                return out

            env._restore_init_state = timed_restore
            tic = time.perf_counter()
            env.reset(seed=k, options={"init_state_id": k})
            totals[name].append(time.perf_counter() - tic)
            env._restore_init_state = restore
    return {name: (statistics.median(totals[name]), statistics.median(hard[name])) for name in envs}


def measure(suite: str, steps: int, rounds: int, resets: int, image_size: int) -> float:
    actions = np.random.default_rng(0).uniform(-1.0, 1.0, (steps, 7))
    envs = {
        name: EnvSettings(image_size=image_size, physics=name, render_images=False).make(suite, 0)
        for name in ("stock", "fast")
    }
    times: dict[str, list[float]] = {"stock": [], "fast": []}
    reference, identical = None, True
    for round_index in range(rounds):
        order = ("stock", "fast") if round_index % 2 == 0 else ("fast", "stock")
        for name in order:
            seconds, hashes = stepped(envs[name], actions)
            times[name].append(seconds)
            reference = reference or hashes
            identical = identical and hashes == reference
    ratios = [s / f for s, f in zip(times["stock"], times["fast"], strict=True)]
    fast_ms = statistics.median(times["fast"]) / steps * 1e3
    cap = get_protocol("openpi").step_cap(suite)
    resets_by_physics = timed_resets(envs, resets)
    reset_s, hard_s = resets_by_physics["fast"]
    stock_reset_s = resets_by_physics["stock"][0]
    for env in envs.values():
        env.close()
    ratio = statistics.median(ratios)
    print(f"physics_ratio_{suite}={ratio:.3f}")
    print(f"identical_{suite}={int(identical)}")
    print(f"fast_ms_{suite}={fast_ms:.3f}")
    print(f"stock_ms_{suite}={statistics.median(times['stock']) / steps * 1e3:.3f}")
    print(f"reset_s_{suite}={reset_s:.3f}")
    print(f"stock_reset_s_{suite}={stock_reset_s:.3f}")
    print(f"reset_ratio_{suite}={stock_reset_s / reset_s:.3f}")
    print(f"hard_reset_s_{suite}={hard_s:.3f}")
    print(f"episode_physics_s_{suite}={cap * fast_ms / 1e3:.3f}  # {cap} steps", flush=True)
    return ratio


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--suites", default="all", help="comma-separated suites, or all")
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--resets", type=int, default=3, help="init states whose reset is timed")
    parser.add_argument("--image-size", type=int, default=128)
    args = parser.parse_args()
    suites = all_suites() if args.suites == "all" else args.suites.split(",")
    ratios = [measure(s, args.steps, args.rounds, args.resets, args.image_size) for s in suites]
    print(f"physics_ratio_min={min(ratios):.3f}")


if __name__ == "__main__":
    main()
