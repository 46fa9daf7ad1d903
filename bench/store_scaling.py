"""Episode store scaling: median milliseconds per `EpisodeStore.add` with 100 rows already in
the run and with 20,000 (a libero_90 protocol with all arms is ~40,000 rows).

    python bench/store_scaling.py [--sizes 100,20000] [--adds 50] [--dir /tmp/store-bench]

Each size gets a fresh run folder whose table is written once with that many rows (the state
after a compaction), then `--adds` rows are added and timed one by one (each add is an fsynced
journal append). Target: store_ratio = ms at 20,000 / ms at 100 <= 1.5, i.e. adding is O(1)
(the previous store rewrote the whole table per add: O(n) per add, O(n^2) per run).
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq
from common import bench_parser  # bench/common.py: also puts the repository on the path

from agra_bench.records import EPISODE_SCHEMA, EpisodeStore, rows_to_table
from agra_bench.rollout import outcome_row


def make_row(key: str, episode: int) -> dict:
    """A complete row: the identity fields, and the outcome fields from the one row builder."""
    row = {field.name: None for field in EPISODE_SCHEMA}
    row.update(run_id="r", episode_key=key, policy="random", suite="libero_10", task_id=0, task_name="t")
    row.update(instruction="i", episode=episode, init_state_id=episode, seed=1, perturbation="none")
    row.update(severity=3, split="id", protocol="openpi", max_steps=520)
    return {**row, **outcome_row(None, None, wall_s=0.1)}


def ms_per_add(folder: Path, rows: int, adds: int) -> float:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    pq.write_table(rows_to_table([make_row(f"old{i}", i) for i in range(rows)]), folder / EpisodeStore.FILE)
    store = EpisodeStore(folder)
    times = []
    for i in range(adds):
        row = make_row(f"new{i}", rows + i)
        tic = time.perf_counter()
        store.add(row)
        times.append(1000 * (time.perf_counter() - tic))
    tic = time.perf_counter()
    store.close()
    compaction = time.perf_counter() - tic
    print(f"rows={rows}: median {statistics.median(times):.3f} ms per add; compaction {compaction:.2f} s")
    return statistics.median(times)


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--sizes", default="100,20000")
    parser.add_argument("--adds", type=int, default=50)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    root = args.dir or Path(tempfile.mkdtemp(prefix="store-bench-"))
    small, large = (int(s) for s in args.sizes.split(","))
    at_small = ms_per_add(root / "small", small, args.adds)
    at_large = ms_per_add(root / "large", large, args.adds)
    print(f"store_ms_per_add_{small}={at_small:.3f}")
    print(f"store_ms_per_add_{large}={at_large:.3f}")
    print(f"store_ratio={at_large / at_small:.3f}")
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
