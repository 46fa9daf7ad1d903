"""Env-steps/s of every way to step one LIBERO task here, one variant each, and the ratios
between them: the harness against LIBERO's own loops, against bare physics, across workers,
executors and render modes.

    python bench/env_steps.py                               # --variant throughput (below)
    python bench/env_steps.py --variant overhead --episodes 4 --steps 120
    python bench/env_steps.py --variant pipelining --episodes 4 --steps 150 --latency-ms 100
    python bench/env_steps.py --variant steps --workers 16 --steps 240   # the GPU machine
    python bench/env_steps.py --variant agra_w1,env_loop --quick          # any variants; ~1 min

Whole-process variants: each a fresh process timed whole (imports, env construction, resets,
records), same suite, task, episodes (init states 0..E-1), step cap and image size; medians
over --repeats, the variants interleaved so drift hits each alike:
  libero_loop     LIBERO's own loop in one process (OffScreenRenderEnv, set_init_state, settle)
  libero_vector   LIBERO's SubprocVectorEnv of --workers envs (both cameras every step)
  libero_chunk8   the same driven by bench/chunk_policy.py (reads agentview, 8 actions per call)
  env_loop        our gymnasium env in a plain for-loop, one process (no runner, no records)
  physics_limit   --workers bare processes, cameras off: what the cores can do at best
  agra            `agra-bench run --policy random --workers W` (renders only what it reads)
  agra_w1         the same with one worker
  agra_ray        the same with `--executor ray` (a local Ray instance)
  agra_chunk8     `agra-bench run --policy bench.chunk_policy:Chunk8Policy --workers W`
  latency_g1      `--policy FixedLatency` (bench/latency_policy.py: --latency-ms per call, CPU
                  free meanwhile, as a GPU call) with W workers, one env group
  latency_2x_g1   the same with 2W workers;   latency_2x_g2   2W workers in 2 env groups
Stepping-phase variants (bench/parallel_steps.py; W processes at a barrier, --steps each,
construction and reset not counted): steps_physics, steps_render_standard, steps_render_tuned,
steps_render_fast, steps_chunk8_tuned, steps_chunk8_standard.
Presets: throughput = libero_vector, agra, agra_ray, physics_limit, libero_chunk8, agra_chunk8;
overhead = libero_loop, env_loop, agra_w1, agra; pipelining = latency_g1, latency_2x_g1,
latency_2x_g2; steps = every steps_* variant.

Figures, each on a `name=value` line, for every pair whose variants both ran (candidate's
env-steps/s over the baseline's, from median wall times):
  ratio_blind     agra / libero_vector            (target >= 5 on 2 cores)
  limit_blind     agra / physics_limit            (target >= 0.8)
  ratio_chunk8    agra_chunk8 / libero_chunk8     (target >= 3)
  ratio_ray       agra_ray / libero_vector
  harness_over_env_loop     agra_w1 / env_loop    (target >= 0.95)
  harness_over_libero_loop  agra_w1 / libero_loop
  workers_speedup           agra / agra_w1        (target >= 1.7 with W = 2)
  pipelining_2x_g1, pipelining_2x_g2   latency_2x_g1, latency_2x_g2 / latency_g1
and the stepping-phase steps/s: physics_only_steps_per_s, render_steps_per_s_{standard,tuned,
fast}, chunk8_policy_visible_steps_per_s (tuned), chunk8_policy_visible_steps_per_s_standard,
chunk8_over_render_standard.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from common import PROCESS_ENV, add_scene_options, bench_parser, print_figure, timed

PROCESS_VARIANTS = (
    "libero_loop", "libero_vector", "libero_chunk8", "env_loop", "physics_limit",
    "agra", "agra_w1", "agra_ray", "agra_chunk8", "latency_g1", "latency_2x_g1", "latency_2x_g2",
)  # fmt: skip
STEPS_PREFIX = "steps_"
PRESETS = {
    "throughput": ["libero_vector", "agra", "agra_ray", "physics_limit", "libero_chunk8", "agra_chunk8"],
    "overhead": ["libero_loop", "env_loop", "agra_w1", "agra"],
    "pipelining": ["latency_g1", "latency_2x_g1", "latency_2x_g2"],
}
FIGURES = {  # figure: (candidate, baseline)
    "ratio_blind": ("agra", "libero_vector"),
    "limit_blind": ("agra", "physics_limit"),
    "ratio_chunk8": ("agra_chunk8", "libero_chunk8"),
    "ratio_ray": ("agra_ray", "libero_vector"),
    "harness_over_env_loop": ("agra_w1", "env_loop"),
    "harness_over_libero_loop": ("agra_w1", "libero_loop"),
    "workers_speedup": ("agra", "agra_w1"),
    "pipelining_2x_g1": ("latency_2x_g1", "latency_g1"),
    "pipelining_2x_g2": ("latency_2x_g2", "latency_g1"),
}
BENCH = Path(__file__).resolve().parent


def variants_of(text: str) -> list[str]:
    """Preset and variant names, comma-separated, in order, each once."""
    from parallel_steps import MODES

    valid = [*PRESETS, "steps", *PROCESS_VARIANTS, *(STEPS_PREFIX + mode for mode in MODES)]
    names: list[str] = []
    for word in (w.strip() for w in text.split(",") if w.strip()):
        if word not in valid:
            raise SystemExit(f"unknown variant '{word}'; valid: {', '.join(valid)}")
        expanded = PRESETS.get(word) or ([STEPS_PREFIX + m for m in MODES] if word == "steps" else [word])
        names += [name for name in expanded if name not in names]
    return names


def process_command(name: str, args: argparse.Namespace, out: Path) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of a whole-process variant."""
    shared = f"--suite {args.suite} --image-size {args.image_size} --episodes {args.episodes}".split()
    if name in ("libero_loop", "libero_vector", "libero_chunk8", "env_loop", "physics_limit"):
        child = f"--task {args.task} --steps {args.steps} --workers {args.workers} --child {name}".split()
        return [sys.executable, __file__, *shared, *child], PROCESS_ENV
    workers, policy, extra, env = args.workers, "random", [], PROCESS_ENV
    if name == "agra_w1":
        workers = 1
    elif name == "agra_ray":
        extra = ["--executor", "ray"]
    elif name == "agra_chunk8":
        policy = "bench.chunk_policy:Chunk8Policy"
    elif name.startswith("latency_"):
        policy = "latency_policy:FixedLatency"
        workers *= 2 if "_2x_" in name else 1
        extra = ["--env-groups", name[-1]]
        env = {**PROCESS_ENV, "PYTHONPATH": f"{PROCESS_ENV['PYTHONPATH']}{os.pathsep}{BENCH}"}
        env["AGRA_BENCH_POLICY_LATENCY_MS"] = str(args.latency_ms)
    run = f"run --policy {policy} --tasks {args.task} --max-steps {args.steps} --workers {workers}".split()
    return [
        sys.executable,
        "-m",
        "agra_bench.cli",
        *run,
        *shared,
        *extra,
        "--no-progress",
        "--out",
        str(out),
    ], env


def measure_processes(names: list[str], args: argparse.Namespace) -> dict[str, float]:
    """Median env-steps/s of each whole-process variant (policy steps over the whole wall time)."""
    total, root = args.episodes * args.steps, Path(tempfile.mkdtemp(prefix="agra-bench-env-steps-"))
    walls: dict[str, list[float]] = {name: [] for name in names}
    for repeat in range(args.repeats):  # interleaved, so drift hits every variant alike
        for name in names:
            command, env = process_command(name, args, root / f"{name}-{repeat}")
            walls[name].append(timed(command, env))
    for name, values in walls.items():
        runs = ", ".join(f"{total / v:.2f}" for v in values)
        print(f"{name:14s} {total / statistics.median(values):8.2f} env-steps/s   runs: {runs}", flush=True)
    return {name: total / statistics.median(values) for name, values in walls.items()}


def main() -> None:
    parser = bench_parser(__doc__)
    add_scene_options(parser)
    parser.add_argument("--variant", default="throughput", help="presets and variants, comma-separated")
    # 10 episodes of libero_spatial's step cap: long enough that start-up (imports, env
    # construction) does not hide the per-step costs that a full protocol run pays.
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument(
        "--steps", type=int, default=220, help="policy steps per episode (per worker: steps_*)"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=100.0, help="latency_* variants' policy call")
    parser.add_argument("--timeout", type=float, default=600, help="steps_* variants: seconds to wait")
    parser.add_argument("--quick", action="store_true", help="2 episodes x 20 steps, 1 repeat")
    parser.add_argument("--child", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.episodes, args.steps, args.repeats = 2, 20, 1
    if args.child:  # a bare loop, in the fresh process a whole-process variant times
        from env_loops import CHILDREN

        CHILDREN[args.child](args)
        return
    names = variants_of(args.variant)
    print(
        f"suite={args.suite} task={args.task} episodes={args.episodes} steps={args.steps} "
        f"image={args.image_size} workers={args.workers} repeats={args.repeats} cpus={os.cpu_count()}",
        flush=True,
    )
    steps_modes = [n[len(STEPS_PREFIX) :] for n in names if n.startswith(STEPS_PREFIX)]
    rates = measure_processes([n for n in names if not n.startswith(STEPS_PREFIX)], args)
    for figure, (candidate, baseline) in FIGURES.items():
        if candidate in rates and baseline in rates:
            print_figure(figure, rates[candidate] / rates[baseline])
    if steps_modes:
        from parallel_steps import measure

        figures = measure(args, steps_modes)
        for name, value in figures.items():
            print_figure(name, value, digits=1)
        standard = figures.get("render_steps_per_s_standard")
        if standard and "chunk8_policy_visible_steps_per_s" in figures:
            print_figure(
                "chunk8_over_render_standard", figures["chunk8_policy_visible_steps_per_s"] / standard, 2
            )


if __name__ == "__main__":
    main()
