"""`python -m agra_bench ...` is `agra-bench ...`: for machines where the package runs from a
source tree on PYTHONPATH with no console script installed (the GPU kit's machine)."""

from agra_bench.cli import main

main()
