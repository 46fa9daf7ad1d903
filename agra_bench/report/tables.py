"""Summary tables: one row per arm, per task, and per paired comparison.

An *arm* is everything that defines an experimental condition: the policy (and checkpoint),
suite, protocol and step cap, perturbation, severity and split. Episodes that ended in an error
are counted in `errors` and left out of the success rates and of every pair: they are neither
a success nor a failure of the policy.

Deltas are only ever computed on paired episodes (same task, init state and seed). A policy
without a control arm (`perturbation == none`) gets empty deltas and a note saying so; arms
that share no episode key get empty deltas and a note too, never an unpaired difference.
"""

from __future__ import annotations

import pandas as pd

from agra_bench.errors import UsageError
from agra_bench.identity import PAIR_KEY, REPORT_ARM, REPORT_SETTING
from agra_bench.report.load import seeds_pair
from agra_bench.report.provenance import UNKNOWN_TRAIN_SEED
from agra_bench.report.stats import NO_PAIRS, pair_outcomes, paired_delta, wilson_interval

SETTING = REPORT_SETTING
ARM = REPORT_ARM
CONTROL = "none"
#: Policy pairs compared head to head when both are present (first minus second);
#: `agra-bench report --compare A:B` chooses others.
DEFAULT_COMPARISONS = (("agra", "wam"),)


def parse_comparisons(specs: list[str]) -> tuple[tuple[str, str], ...]:
    """['agra:wam', ...] -> (('agra', 'wam'), ...); UsageError for anything else."""
    pairs = []
    for spec in specs:
        first, sep, second = spec.partition(":")
        if not sep or not first or not second or first == second:
            raise UsageError(f"bad --compare '{spec}'; valid: POLICY:POLICY, e.g. agra:wam")
        pairs.append((first, second))
    return tuple(pairs)


def expand_comparisons(
    comparisons: tuple[tuple[str, str], ...], policies: set[str]
) -> tuple[tuple[str, str], ...]:
    """A name that ran only as teacher variants (`agra` -> `agra[mobilenet_v2]`,
    `agra[sim_semantic]`) stands for each of them: `agra:wam` compares every variant with wam.
    A label may hold colons itself (`openpi://HOST:PORT`, `package.module:Class`), so a pair
    that names no policy on the first colon is read again at the colon where both sides do."""

    def variants(name: str) -> list[str]:
        if name in policies:
            return [name]
        return sorted(p for p in policies if p.startswith(name + "[")) or [name]

    def known(name: str) -> bool:
        return not policies.isdisjoint(variants(name))

    def resplit(first: str, second: str) -> tuple[str, str]:
        if known(first) and known(second):
            return first, second
        spec = f"{first}:{second}"
        readings = [(spec[:i], spec[i + 1 :]) for i, c in enumerate(spec) if c == ":"]
        matching = [(a, b) for a, b in readings if known(a) and known(b)]
        return matching[0] if len(matching) == 1 else (first, second)

    pairs = [resplit(first, second) for first, second in comparisons]
    expanded = [(a, b) for first, second in pairs for a in variants(first) for b in variants(second)]
    return tuple(dict.fromkeys(pair for pair in expanded if pair[0] != pair[1]))


def family_of(perturbation: str) -> str:
    """`lighting+camera:severity=4` -> `lighting+camera` (the families, without parameters)."""
    return "+".join(part.split(":")[0] for part in perturbation.split("+"))


def _rate_row(group: pd.DataFrame) -> dict:
    valid = group[group["scored"]]
    n, k = len(valid), int(valid["success"].sum())
    low, high = wilson_interval(k, n)
    return {
        "episodes": n,
        "successes": k,
        "success_rate": k / n if n else float("nan"),
        "ci_low": low,
        "ci_high": high,
        "errors": int((group["error"] != "").sum()),
        "mean_steps_success": float(valid.loc[valid["success"], "steps"].mean()) if k else float("nan"),
        "hit_step_cap": int(valid["hit_step_cap"].sum()),
        "success_at_reset": int(valid["success_at_reset"].sum()),
        "goal_progress": goal_progress(valid),
    }


def goal_progress(episodes: pd.DataFrame) -> float:
    """Mean share of the goal's conditions that hold at the episodes' end (1 for a success): on
    a long-horizon task it tells a policy that gets one object of two into the basket from one
    that gets none, where both have a success rate of 0. NaN when no episode recorded it (rows of
    episode schema < 6)."""
    known = episodes.dropna(subset=["goal_conditions", "goal_conditions_met"])
    known = known[known["goal_conditions"] > 0]
    if known.empty:
        return float("nan")
    return float((known["goal_conditions_met"] / known["goal_conditions"]).mean())


def arm_summary(episodes: pd.DataFrame) -> pd.DataFrame:
    rows = [
        {**dict(zip(ARM, key, strict=True)), **_rate_row(group)}
        for key, group in episodes.groupby(ARM, sort=True)
    ]
    frame = pd.DataFrame(rows)
    frame.insert(ARM.index("perturbation") + 1, "family", frame["perturbation"].map(family_of))
    frame.insert(1, "train_seed", frame["policy_label"].map(_train_seeds(episodes)))
    return frame


def _train_seeds(episodes: pd.DataFrame) -> pd.Series:
    """policy label -> its checkpoint's training seed, empty (NA) when unknown. A label names
    one checkpoint, so one seed; seeds otherwise show only through checkpoint folder names."""
    seeds = episodes.groupby("policy_label")["train_seed"].first().astype("Int64")
    return seeds.mask(seeds == UNKNOWN_TRAIN_SEED)


def task_summary(episodes: pd.DataFrame) -> pd.DataFrame:
    keys = [*ARM, "task_id", "task_name"]
    rows = [
        {**dict(zip(keys, key, strict=True)), **_rate_row(g)} for key, g in episodes.groupby(keys, sort=True)
    ]
    return pd.DataFrame(rows)


def _control_for(episodes: pd.DataFrame, arm: dict) -> pd.DataFrame:
    """The control arm's valid episodes for an arm's setting, preferring the same split."""
    same = (episodes[SETTING] == pd.Series({k: arm[k] for k in SETTING})).all(axis=1)
    control = episodes[same & (episodes["perturbation"] == CONTROL) & episodes["scored"]]
    preferred = control[control["split"] == arm["split"]]
    control = preferred if not preferred.empty else control
    return control.drop_duplicates(PAIR_KEY)


def add_control_deltas(summary: pd.DataFrame, episodes: pd.DataFrame) -> pd.DataFrame:
    """delta_vs_clean and its paired interval for every arm, with a note when there is none,
    and the matched control arm's own rate beside it (`control_success_rate` with its Wilson
    interval, over the control episodes that pair with the arm: the rate the delta starts from)."""
    valid = episodes[episodes["scored"]]
    out = []
    for arm in summary.to_dict("records"):
        control_rate = (arm["success_rate"], arm["ci_low"], arm["ci_high"])
        if arm["perturbation"] == CONTROL:
            result, note = NO_PAIRS, "control arm"
        else:
            control = _control_for(episodes, arm)
            mine = valid[(valid[ARM] == pd.Series({k: arm[k] for k in ARM})).all(axis=1)]
            result = paired_delta(mine, control) if not control.empty else NO_PAIRS
            control_rate = _matched_rate(mine, control)
            if control.empty:
                note = "no control arm (perturbation=none) for this policy and setting: no delta"
            elif result.pairs == 0:
                note = "control arm shares no (task, init state, seed) key with this arm: no delta"
            elif result.pairs < arm["episodes"]:
                note = f"delta on {result.pairs} of {arm['episodes']} episodes (those the control arm ran)"
            else:
                note = ""
        out.append(
            {
                **arm,
                **dict(
                    zip(
                        ("control_success_rate", "control_ci_low", "control_ci_high"),
                        control_rate,
                        strict=True,
                    )
                ),
                **result.as_dict("delta_vs_clean"),
                "note": note,
            }
        )
    return pd.DataFrame(out)


def _matched_rate(arm: pd.DataFrame, control: pd.DataFrame) -> tuple[float, float, float]:
    """The control arm's success rate and Wilson interval on the episodes it shares with `arm`."""
    if control.empty:
        return float("nan"), float("nan"), float("nan")
    paired = pair_outcomes(arm, control)
    n, k = len(paired), int(paired["reference"].sum()) if len(paired) else 0
    low, high = wilson_interval(k, n)
    return (k / n if n else float("nan")), low, high


def policy_comparisons(
    episodes: pd.DataFrame, pairs: tuple[tuple[str, str], ...] = DEFAULT_COMPARISONS
) -> pd.DataFrame:
    """Head-to-head paired deltas (first policy minus second) on identical episode keys.

    Checkpoints trained with different seeds are not compared: `wam` seed 0 meets `agra`
    seed 0 only (a seed that is unknown, -1, meets every seed)."""
    valid = episodes[episodes["scored"]]
    condition = [c for c in ARM if c != "policy_label"]
    rows = []
    for first, second in pairs:
        a_all, b_all = valid[valid["policy"] == first], valid[valid["policy"] == second]
        for key, a in a_all.groupby(["policy_label", *condition], sort=True):
            where = dict(zip(condition, key[1:], strict=True))
            b_match = b_all[(b_all[condition] == pd.Series(where)).all(axis=1)]
            for b_label, b in b_match.groupby("policy_label", sort=True):
                if not seeds_pair(int(a["train_seed"].iloc[0]), int(b["train_seed"].iloc[0])):
                    continue
                result = paired_delta(a, b)
                rows.append(
                    {
                        "policy": key[0],
                        "versus": b_label,
                        **where,
                        **result.as_dict("delta"),
                        "policy_rate": a["success"].mean(),
                        "versus_rate": b["success"].mean(),
                    }
                )
    return pd.DataFrame(rows)


LEADERBOARD_COLUMNS = [
    "policy",
    "train_seed",
    "suite",
    "perturbation",
    "family",
    "severity",
    "split",
    "max_steps",
    "image_size",
    "episodes",
    "successes",
    "success_rate",
    "ci_low",
    "ci_high",
    "control_success_rate",
    "control_ci_low",
    "control_ci_high",
    "delta_vs_clean",
    "delta_ci_low",
    "delta_ci_high",
    "delta_pairs",
    "delta_mcnemar_p",
    "errors",
    "note",
]


def leaderboard(arms: pd.DataFrame) -> pd.DataFrame:
    """The published table: stable column order and row order (suite, policy, arm)."""
    board = arms.rename(
        columns={
            "policy_label": "policy",
            "delta_vs_clean_ci_low": "delta_ci_low",
            "delta_vs_clean_ci_high": "delta_ci_high",
            "delta_vs_clean_pairs": "delta_pairs",
            "delta_vs_clean_mcnemar_p": "delta_mcnemar_p",
        }
    )
    board = board.assign(_control=board["perturbation"] != CONTROL)
    board = board.sort_values(
        [
            "suite",
            "policy",
            "max_steps",
            "image_size",
            "_control",
            "family",
            "severity",
            "perturbation",
            "split",
        ]
    )
    return board[LEADERBOARD_COLUMNS].reset_index(drop=True)
