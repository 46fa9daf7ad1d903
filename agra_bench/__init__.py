"""agra-bench: closed-loop robustness benchmark for visuomotor robot policies.

The package is split so that each part knows as little as possible about the others:
envs know nothing of policies, the runner knows nothing of a policy's internals, and a
perturbation knows only the simulator it edits (see README, "Layout").
"""

__version__ = "0.1.0"
# 6: goal_conditions(_met), how far an episode got; 5: protocol `openpi`/`libero` place the scene as
# their source (protocol.py)
SCHEMA_VERSION = 6
