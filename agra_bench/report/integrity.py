"""Integrity check: did each perturbation reach what the policy sees?

A perturbation that never reaches the policy is a silent bug that public benchmarks have
shipped (a language perturbation whose prompt was read from a file name). Every row records
`obs0_input_sha1`, the SHA-1 of the first observation a policy is given (both images, proprio
and instruction). For each perturbed arm, every episode is paired with the control arm's
episode of the same policy, checkpoint, suite, task, init state and seed; an arm whose first
observation equals the control's in every pair is flagged: its success rate then measures the
clean condition, whatever its name says.
"""

from __future__ import annotations

import pandas as pd

from agra_bench.identity import PAIR_KEY, REPORT_ARM, REPORT_SETTING
from agra_bench.report.tables import CONTROL

ARM = REPORT_ARM
PAIR = [*REPORT_SETTING, *PAIR_KEY]


def integrity_table(episodes: pd.DataFrame) -> pd.DataFrame:
    """Per perturbed arm: pairs with the control arm, how many show an unchanged first
    observation, and `flagged` when none changed."""
    rows = episodes[episodes["obs0_input_sha1"].notna()]
    control = rows[rows["perturbation"] == CONTROL][[*PAIR, "obs0_input_sha1"]]
    perturbed = rows[rows["perturbation"] != CONTROL]
    pairs = perturbed.merge(control, on=PAIR, suffixes=("", "_control"))
    if pairs.empty:
        return pd.DataFrame(columns=[*ARM, "pairs", "unchanged", "flagged"])
    pairs["unchanged"] = pairs["obs0_input_sha1"] == pairs["obs0_input_sha1_control"]
    table = pairs.groupby(ARM, sort=True).agg(pairs=("unchanged", "size"), unchanged=("unchanged", "sum"))
    table = table.reset_index()
    table["flagged"] = table["unchanged"] == table["pairs"]
    return table


def integrity_notes(table: pd.DataFrame) -> list[str]:
    return [
        f"INTEGRITY: arm '{row.perturbation}' (severity {row.severity}, {row.split}) of {row.policy_label} "
        f"on {row.suite}: the policy's first observation equals the control arm's in all {row.pairs} "
        "paired episode(s); the perturbation did not reach the policy"
        for row in table[table["flagged"]].itertuples()
    ]
