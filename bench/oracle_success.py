"""Success rate of the scripted oracle per task over the official init states (no rendering).

The oracle reads simulator state only, so images are switched off (`render_images=False`):
an episode costs physics alone, ~1-3 s on one CPU core instead of ~30 s.

    python bench/oracle_success.py --suite libero_object --tasks all --init-states 50 --workers 2
"""

from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

from common import bench_parser  # bench/common.py: also puts the repository on the path


def run_task(suite: str, task_id: int, init_states: list[int]) -> dict:
    from agra_bench.envs.settings import EnvSettings
    from agra_bench.plan import EpisodeKey, episode_seed
    from agra_bench.rollout import run_episode
    from policies.registry import make_policy

    env = EnvSettings(image_size=32, render_images=False).make(suite, task_id)
    policy = make_policy("scripted")
    outcomes, steps, errors = [], [], []
    start = time.perf_counter()
    for init_state in init_states:
        key = EpisodeKey(
            suite, task_id, init_state, init_state, episode_seed(0, task_id, init_state), "none", 0, "id"
        )
        try:
            result = run_episode(env, policy, key)  # the one episode driver, cameras off
        except ValueError as exc:
            errors.append(str(exc))
            break
        outcomes.append(result.success)
        steps.append(result.steps)
    env.close()
    return {
        "suite": suite,
        "task_id": task_id,
        "n": len(outcomes),
        "successes": sum(outcomes),
        "failed_init_states": [i for i, ok in zip(init_states, outcomes, strict=False) if not ok],
        "median_steps": sorted(steps)[len(steps) // 2] if steps else None,
        "error": errors[0] if errors else "",
        "wall_s": time.perf_counter() - start,
    }


def main() -> None:
    from agra_bench.suites import list_tasks, parse_task_ids

    parser = bench_parser(__doc__)
    parser.add_argument("--suite", default="libero_object")
    parser.add_argument("--tasks", default="all")
    parser.add_argument("--init-states", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    task_ids = parse_task_ids(args.suite, args.tasks)
    names = {t.task_id: t.name for t in list_tasks(args.suite)}
    init_states = list(range(args.init_states))
    with ProcessPoolExecutor(args.workers, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(run_task, args.suite, t, init_states) for t in task_ids]
        total = n = 0
        for future in futures:
            r = future.result()
            total, n = total + r["successes"], n + r["n"]
            rate = r["successes"] / r["n"] if r["n"] else float("nan")
            print(
                f"{r['suite']} task {r['task_id']:2d} {r['successes']:2d}/{r['n']:2d} = {rate:6.1%}  "
                f"median steps {r['median_steps']}  {r['wall_s']:.0f} s  {names[r['task_id']][:60]}"
                + (f"  failed: {r['failed_init_states'][:10]}" if r["failed_init_states"] else "")
                + (f"  ERROR: {r['error']}" if r["error"] else ""),
                flush=True,
            )
    print(f"{args.suite}: oracle success {total}/{n} = {total / max(n, 1):.1%}")


if __name__ == "__main__":
    main()
