"""What sharding costs: N shards run one after the other plus `merge`, against the unsharded
run of the same episodes with the same worker count.

Each variant is the real CLI in fresh processes, in a fresh folder:
  unsharded   agra-bench run ARGS --workers W
  sharded     agra-bench run ARGS --workers W --shard i/N for i in 0..N-1, then agra-bench merge
The rows are compared (episode keys, success, steps, first-observation hash) and the ratio of
wall times is printed, median over rounds (variants alternate):
  shard_overhead = sharded / unsharded   (target <= 1.10 with 3 shards)
A shard pays its own process start, imports and simulator builds; the smaller the run, the more
that weighs, so quote the episode count with the figure.

    python bench/scale.py                          # libero_object task 0, 12 episodes, 3 shards
    python bench/scale.py --args "--policy random --suite robosuite_lift --episodes 4 --max-steps 20"

With `--ray`, it measures the Ray executor instead: the same episodes on a real two-node Ray
cluster on this machine (`ray.cluster_utils.Cluster`, head and a second node with
`workers / 2` CPUs each, all on loopback) against one node with all `workers` CPUs, both with
`--executor ray --address` and the same worker count, rounds alternating:
  ray_two_node_episodes_per_hour, ray_one_node_episodes_per_hour, ray_two_node_ratio
(the whole command's wall time, Ray's actor start included; on one machine the second node
adds raylets and object stores, not cores, so the ratio is what node boundaries cost).

    python bench/scale.py --ray --rounds 2 \
        --args "--policy scripted --suite robosuite_lift --episodes 8 --max-steps 60 --image-size 32"
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import pandas as pd
from common import bench_parser, timed  # bench/common.py: also puts the repository on the path

CLI = [sys.executable, "-m", "agra_bench.cli"]
SAME = ["episode_key", "success", "steps", "obs0_sha1"]


def timed_all(commands: list[list[str]]) -> float:
    """Wall seconds of the commands, one after the other, each a fresh process."""
    return sum(timed(command) for command in commands)


def rows_of(folder: Path) -> pd.DataFrame:
    (run,) = [p for p in folder.iterdir() if p.is_dir() and (p / "episodes.parquet").exists()]
    return pd.read_parquet(run / "episodes.parquet").sort_values("episode_key").reset_index(drop=True)[SAME]


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument(
        "--args", default="--policy random --suite libero_object --tasks 0 --episodes 12 --max-steps 60"
    )
    parser.add_argument("--shards", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ray", action="store_true", help="two Ray nodes against one (see above)")
    args = parser.parse_args()
    if args.ray:
        ray_nodes(args)
        return
    base = [*CLI, "run", *args.args.split(), "--workers", str(args.workers), "--no-progress"]
    ratios = []
    for round_index in range(args.rounds):
        root = Path(tempfile.mkdtemp(prefix="agra-scale-"))
        whole = [[*base, "--out", str(root / "whole")]]
        parts = [
            [*base, "--shard", f"{i}/{args.shards}", "--out", str(root / "shards" / str(i))]
            for i in range(args.shards)
        ]
        parts.append([*CLI, "merge", str(root / "shards"), "--out", str(root / "merged")])
        order = (whole, parts) if round_index % 2 == 0 else (parts, whole)
        seconds = {id(variant): timed_all(variant) for variant in order}
        ratios.append(seconds[id(parts)] / seconds[id(whole)])
        same = rows_of(root / "whole").equals(rows_of(root / "merged"))
        print(
            f"round {round_index}: unsharded {seconds[id(whole)]:.1f} s, {args.shards} shards + merge "
            f"{seconds[id(parts)]:.1f} s, rows identical: {same}",
            flush=True,
        )
        if not same:
            raise SystemExit("merged rows differ from the unsharded run's")
    print(f"args={args.args!r} shards={args.shards} workers={args.workers}")
    print(f"shard_overhead={statistics.median(ratios):.3f}")


def ray_nodes(args: argparse.Namespace) -> None:
    from ray.cluster_utils import Cluster

    def one_run(nodes: int) -> tuple[float, int]:
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": args.workers // nodes})
        try:
            for _ in range(nodes - 1):
                cluster.add_node(num_cpus=args.workers // nodes)
            cluster.wait_for_nodes()
            out = Path(tempfile.mkdtemp(prefix="agra-scale-ray-"))
            command = [*CLI, "run", *args.args.split(), "--executor", "ray", "--address", cluster.address]
            command += ["--workers", str(args.workers), "--no-progress", "--out", str(out)]
            seconds = timed(command)
            return seconds, len(rows_of(out))
        finally:
            cluster.shutdown()

    hours: dict[int, list[float]] = {1: [], 2: []}
    for round_index in range(args.rounds):
        for nodes in (2, 1) if round_index % 2 == 0 else (1, 2):
            seconds, episodes = one_run(nodes)
            hours[nodes].append(episodes / seconds * 3600)
            print(f"round {round_index}: {nodes} node(s): {episodes} episodes in {seconds:.1f} s", flush=True)
    two, one = statistics.median(hours[2]), statistics.median(hours[1])
    print(f"args={args.args!r} workers={args.workers} episodes={episodes} rounds={args.rounds}")
    print(f"ray_two_node_episodes_per_hour={two:.0f}")
    print(f"ray_one_node_episodes_per_hour={one:.0f}")
    print(f"ray_two_node_ratio={two / one:.3f}")


if __name__ == "__main__":
    main()
