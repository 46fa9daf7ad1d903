"""Collect time per demonstration: states-only pass, render pass, and the baseline of
rendering inline while the oracle acts (what a plain collection script does), in one run.

    python bench/collect_cost.py [--suite libero_object --task 0 --episodes 3 --image-size 128]

Prints seconds per episode (median over episodes) for each, and the ratio of the two-pass
total to the inline baseline on a line containing `ratio`.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from common import add_scene_options, bench_parser  # bench/common.py: repository on the path


def inline_baseline(suite: str, task: int, episodes: int, image_size: int) -> list[float]:
    """Oracle episodes with both cameras rendered at every step (no file written)."""
    from agra_bench.envs.settings import EnvSettings
    from agra_bench.plan import EpisodeKey, episode_seed
    from agra_bench.rollout import run_episode
    from policies.registry import make_policy

    env = EnvSettings(image_size=image_size).make(suite, task)  # the collection's own settings
    policy = make_policy("scripted")
    times = []
    for episode in range(episodes):
        start = time.perf_counter()
        key = EpisodeKey(suite, task, episode, episode, episode_seed(0, task, episode), "none", 0, "id")
        run_episode(env, policy, key, every=True)  # the one episode driver, every camera every step
        times.append(time.perf_counter() - start)
    env.close()
    return times


def main() -> None:
    from agra_bench.demos import CollectJob
    from agra_bench.demos.collect import collect_task
    from agra_bench.envs.settings import EnvSettings

    parser = bench_parser(__doc__)
    add_scene_options(parser, suite="libero_object")
    parser.add_argument("--episodes", type=int, default=3)
    parser.add_argument(
        "--no-segmentation", action="store_true", help="render pass without segmentation maps"
    )
    args = parser.parse_args()
    events: dict[str, list[float]] = {"collected": [], "rendered": []}
    last = [time.perf_counter()]

    def report(event: str) -> None:
        now = time.perf_counter()
        events[event].append(now - last[0])
        last[0] = now

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "demo.hdf5"
        env = EnvSettings(image_size=args.image_size)
        job = CollectJob(args.suite, args.task, args.episodes, out, render=False, env=env)
        last[0] = time.perf_counter()
        collect_task(job, report)
        last[0] = time.perf_counter()
        second = CollectJob(
            args.suite,
            args.task,
            args.episodes,
            out,
            env=env,
            segmentation=not args.no_segmentation,
        )
        collect_task(second, report)
        size_mb = out.stat().st_size / 1e6
    baseline = inline_baseline(args.suite, args.task, args.episodes, args.image_size)
    states = statistics.median(events["collected"])
    render = statistics.median(events["rendered"])
    inline = statistics.median(baseline)
    seg = "without" if args.no_segmentation else "with"
    print(
        f"{args.suite} task {args.task}, {args.episodes} episodes, {args.image_size} px, 2 cameras, {seg} seg"
    )
    print(f"states pass     {states:6.2f} s/episode (median; includes the reset)")
    print(f"render pass     {render:6.2f} s/episode")
    print(f"two passes      {states + render:6.2f} s/episode   file {size_mb / args.episodes:.1f} MB/demo")
    print(f"inline render   {inline:6.2f} s/episode (baseline: cameras on while the oracle acts)")
    two_pass = (states + render) / inline
    print(f"ratio states-only/inline = {states / inline:.3f}; two-pass/inline = {two_pass:.3f}")


if __name__ == "__main__":
    main()
