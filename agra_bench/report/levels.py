"""`levels.csv`: success per family and severity level, the clean arm as level 0.

Robustness benchmarks report an axis x level table (a family's success at each severity beside
the clean rate) so that a reader sees at once which change hurts and whether it hurts more
with the dose. One row per policy, suite, split and family; a column per severity that any
family was run at (empty where that family was not). Setting columns (protocol, step cap,
image size, render quality) appear only when they differ between rows.
"""

from __future__ import annotations

import pandas as pd

from agra_bench.identity import REPORT_SETTING
from agra_bench.report.tables import CONTROL

KEY = [*REPORT_SETTING, "split"]


def clean_rates(arms: pd.DataFrame) -> pd.DataFrame:
    """The control arm's row per setting and split: a split without its own control arm
    borrows another split's (the clean arm does not depend on the variant pool)."""
    control = arms[arms["perturbation"] == CONTROL]
    rows = []
    for setting, group in arms.groupby(REPORT_SETTING, sort=True):
        own = control[(control[REPORT_SETTING] == pd.Series(setting, index=REPORT_SETTING)).all(axis=1)]
        if own.empty:
            continue
        for split in sorted(group["split"].unique()):
            match = own[own["split"] == split]
            rows.append((match if not match.empty else own).iloc[0].to_dict() | {"split": split})
    return pd.DataFrame(rows, columns=arms.columns)


def level_table(arms: pd.DataFrame) -> pd.DataFrame:
    """policy, suite, split, family, clean, s1..s5 (success rates)."""
    perturbed = arms[arms["perturbation"] != CONTROL]
    if perturbed.empty:
        return pd.DataFrame(columns=["policy", "suite", "split", "family", "clean"])
    grid = perturbed.pivot_table(index=[*KEY, "family"], columns="severity", values="success_rate")
    grid.columns = [f"s{severity}" for severity in grid.columns]
    clean = clean_rates(arms).set_index(KEY)["success_rate"].rename("clean")
    table = grid.reset_index().join(clean, on=KEY)
    varying = [c for c in REPORT_SETTING[2:] if table.groupby("suite")[c].nunique().max() > 1]
    columns = ["policy_label", "suite", *varying, "split", "family", "clean", *grid.columns]
    return table[columns].rename(columns={"policy_label": "policy"}).reset_index(drop=True)
