"""Run the `agra-bench` CLI with torch, torchvision and diffusers made unimportable, as on a
lean install (`pip install -e .` without the `wam` extra):

    python tests/helpers/no_torch.py report results/

The blocker is installed at module level, so spawned worker processes (which re-import this
file as their main module) cannot import torch either."""

import sys

BLOCKED = ("torch", "torchvision", "diffusers")


class BlockHeavyPackages:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"No module named '{name}' (blocked: lean install)")
        return None


sys.meta_path.insert(0, BlockHeavyPackages())

if __name__ == "__main__":
    from agra_bench.cli import main

    main()
