"""`variants.parquet` (and `.csv`): one 0/1 row per episode beside its matched control, the
table users analyse themselves (LIBERO-Plus-style per-variant results; lerobot#4619 asks for the
matched clean control arm).

Each row is one episode of the loaded runs: the policy (report label) and its training seed,
suite, task, init state, seed, perturbation with its family, severity and split, a short hash
of the values the perturbation applied (`params_sha1`: episodes with the same hash saw the same
variant), `success`, and `control_success`: the success of the control arm (`perturbation ==
none`) of the same policy and setting on the same (task, init state, seed), taken from the same
split when that split has one, else from any split, and empty where there is none. A control
arm's own rows carry their own success there. Errored episodes keep their error text and
`scored` says whether the report's rates count them.
"""

from __future__ import annotations

import hashlib

import pandas as pd

from agra_bench.identity import PAIR_KEY, REPORT_SETTING
from agra_bench.report.tables import CONTROL, family_of

VARIANT_COLUMNS = [
    "policy",
    "train_seed",
    "suite",
    "task_id",
    "task_name",
    "init_state_id",
    "seed",
    "perturbation",
    "family",
    "severity",
    "split",
    "params_sha1",
    "success",
    "control_success",
    "scored",
    "error",
]


def variant_table(episodes: pd.DataFrame) -> pd.DataFrame:
    keys = [*REPORT_SETTING, *PAIR_KEY]
    control = episodes[(episodes["perturbation"] == CONTROL) & episodes["scored"]]
    same_split = control[[*keys, "split", "success"]].drop_duplicates([*keys, "split"])
    any_split = control[[*keys, "success"]].drop_duplicates(keys)
    table = episodes.merge(
        same_split.rename(columns={"success": "_control_same"}), on=[*keys, "split"], how="left"
    ).merge(any_split.rename(columns={"success": "_control_any"}), on=keys, how="left")
    table["control_success"] = (
        table["_control_same"].astype("boolean").fillna(table["_control_any"].astype("boolean"))
    )
    table["success"] = table["success"].astype("boolean")
    table["family"] = table["perturbation"].map(family_of)
    table["params_sha1"] = table["perturb_params"].map(
        lambda params: hashlib.sha1(str(params).encode()).hexdigest()[:12]
    )
    table["policy"] = table["policy_label"]  # the report's label: policy and checkpoint together
    order = ["policy", "suite", "task_id", "init_state_id", "seed", "perturbation", "severity", "split"]
    return table.sort_values(order, kind="stable").reset_index(drop=True)[VARIANT_COLUMNS]
