"""What makes two episodes the same episode, and two arms the same arm: defined here once.

Three levels, each built from the one before:

- the **condition**: everything outside the episode key that changes an outcome. The policy
  and the *content* of its checkpoint (a checkpoint retrained in place is another condition;
  moving it is not), the suite, protocol and step cap, the rendered image size and quality.
  Every row records these columns, and `RunConfig.identity()` hashes them into the run id.
- the **arm**: a condition plus the perturbation arm (canonical name, severity, split). Rates,
  intervals and the leaderboard are per arm.
- the **pair key**: what pairs two arms' episodes (task, init state, seed): the same scene,
  up to the perturbation. Deltas are computed on pairs only.

An episode's identity across runs is its arm plus its pair key: `agra-bench report` counts an
episode found in several runs once by it. Within one run, `plan.EpisodeKey` identifies an
episode for resume; its fields are the pair key and the arm's perturbation fields.
"""

from __future__ import annotations

#: Row columns of the condition (policy_label stands in for policy + checkpoint in reports).
CONDITION = ["policy", "checkpoint_sha1", "suite", "protocol", "max_steps", "image_size", "render_quality"]
PERTURBATION = ["perturbation", "severity", "split"]
ARM = [*CONDITION, *PERTURBATION]
PAIR_KEY = ["task_id", "init_state_id", "seed"]
EPISODE_IDENTITY = [*ARM, *PAIR_KEY]

#: The same, as reports group them: `policy_label` names policy and checkpoint together.
REPORT_SETTING = ["policy_label", *CONDITION[2:]]
REPORT_ARM = [*REPORT_SETTING, *PERTURBATION]

#: What rows written before a column existed get in reports (never a missing group key).
UNKNOWN_CONDITION = {"checkpoint_sha1": "", "image_size": -1, "render_quality": "unknown"}
