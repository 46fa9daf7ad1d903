"""Worker memory over many resets: one env (as a worker holds it), N hard resets with a few
steps each, cycling through init states and perturbation arms; prints the process RSS at the
start, every 50 resets and at the end, and the end/start ratio (flat memory: close to 1).

    python bench/soak_memory.py --suite libero_object --resets 200 [--perturb none,lighting,distractor]
"""

from __future__ import annotations

import os
import resource
import time

from common import add_scene_options, bench_parser, scene_env  # bench/common.py: repository on the path


def rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    from perturbations.spec import parse_spec

    parser = bench_parser(__doc__)
    add_scene_options(parser, suite="libero_object")
    parser.add_argument("--resets", type=int, default=200)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--perturb", default="none,lighting,texture")
    args = parser.parse_args()
    env = scene_env(args)
    arms = parse_spec(args.perturb)
    start_time = time.perf_counter()
    samples = []
    for reset in range(args.resets):
        arm = arms[reset % len(arms)]
        env.set_arm(arm)
        env.reset(seed=reset, options={"init_state_id": reset % env.task.num_init_states})
        for _ in range(args.steps):
            env.step(env.action_space.sample() * 0)
        if reset == 0 or (reset + 1) % 50 == 0 or reset == args.resets - 1:
            samples.append((reset + 1, rss_mb()))
            print(f"after {reset + 1:4d} resets: RSS {samples[-1][1]:8.1f} MB", flush=True)
    env.close()
    first, last = samples[0][1], samples[-1][1]
    print(
        f"{args.resets} resets in {time.perf_counter() - start_time:.0f} s; RSS start {first:.1f} MB, "
        f"end {last:.1f} MB; ratio end/start = {last / first:.3f}"
    )


if __name__ == "__main__":
    main()
