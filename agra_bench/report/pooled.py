"""One pooled head-to-head number per split: does the first policy (agra) keep more success
under task-irrelevant change than the second (wam), over every perturbed arm at once? Then the
same for each training seed alone, and per arm over all training seeds.

The pooled interval resamples the scenes of the training seeds that were run, so with two or
three seeds it says little about how another training run would come out. The per-seed rows
show that directly: an effect that is real should point the same way on every seed, and a
single seed's large gap that the others do not share is training noise. The per-arm rows read
one family on every seed at once.

Per-arm deltas on 50 init states have wide intervals; pooling the arms of a split narrows
them, but the episodes of one scene are not independent: the same training seed, task and
init state appear once per arm, and a hard scene is hard in every arm. So the interval is a
*cluster* bootstrap: whole clusters (training seed, suite, task, init state) are resampled
with replacement, each carrying all of its arms' paired episodes.

Two statistics, both "first minus second", with the same resampled clusters:

- `difference`: success of the first minus success of the second on the perturbed arms,
  over all pairs (an episode pair = same arm, training seed, task, init state and seed).
- `drop_difference`: the first policy's change from its own clean arm minus the second's,
  (first_arm - first_clean) - (second_arm - second_clean), averaged over the same pairs. It
  separates robustness from clean skill: positive means the first policy loses less. Only
  clusters where both policies ran the clean arm enter it.

Training seeds that ran different arms (a later seed run on a subset of the families) are
pooled over the arms they share, so that the pooled number does not move with the mix of
families (`balanced_pools`).

Checkpoints are paired by training seed (`train_seed`, from the run manifests); a seed that
is unknown (-1) pairs with every seed, as in the per-arm head-to-head.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from agra_bench.identity import PAIR_KEY, PERTURBATION, REPORT_SETTING
from agra_bench.report.load import seeds_pair
from agra_bench.report.stats import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED
from agra_bench.report.tables import CONTROL

#: What must agree for two episodes to pair: the setting less the policy label, the arm, the key.
PAIR_ON = [*REPORT_SETTING[1:], *PERTURBATION, *PAIR_KEY]
CLUSTER = ["train_seed", "suite", "task_id", "init_state_id"]


def cluster_bootstrap(
    sums: np.ndarray, counts: np.ndarray, confidence: float = 0.95
) -> tuple[float, float, float]:
    """Ratio estimate sum(sums) / sum(counts) and its percentile interval from resampling
    clusters with replacement (seeded: the same inputs give the same interval)."""
    estimate = float(sums.sum() / counts.sum())
    n = len(sums)
    if n < 2 or np.all(sums * counts.sum() == counts * sums.sum()):  # every resample agrees
        return estimate, estimate, estimate
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    weights = rng.multinomial(n, np.full(n, 1 / n), size=BOOTSTRAP_RESAMPLES)  # (R, clusters)
    resampled = (weights @ sums) / (weights @ counts)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(resampled, [tail, 100 - tail])
    return estimate, float(low), float(high)


def _seed_pairs(first: pd.DataFrame, second: pd.DataFrame) -> list[tuple[str, str, int]]:
    """(first label, second label, cluster seed) for checkpoints whose training seeds agree."""
    pairs = []
    seeds_a = first.groupby("policy_label")["train_seed"].first()
    seeds_b = second.groupby("policy_label")["train_seed"].first()
    for label_a, seed_a in seeds_a.items():
        for label_b, seed_b in seeds_b.items():
            if seeds_pair(seed_a, seed_b):
                pairs.append((label_a, label_b, int(max(seed_a, seed_b))))
    return pairs


def paired_episodes(episodes: pd.DataFrame, first: str, second: str) -> pd.DataFrame:
    """One row per episode pair (every arm, the clean one included) with columns `first`,
    `second` (success, 0/1) and the cluster columns."""
    valid = episodes[episodes["scored"]]
    a_all, b_all = valid[valid["policy"] == first], valid[valid["policy"] == second]
    frames = []
    for label_a, label_b, seed in _seed_pairs(a_all, b_all):
        a = a_all.loc[a_all["policy_label"] == label_a, [*PAIR_ON, "success"]]
        b = b_all.loc[b_all["policy_label"] == label_b, [*PAIR_ON, "success"]]
        joined = a.merge(b, on=PAIR_ON, suffixes=("_first", "_second"), validate="one_to_one")
        frames.append(joined.assign(train_seed=seed))
    if not frames:
        return pd.DataFrame(columns=[*PAIR_ON, "success_first", "success_second", "train_seed"])
    pairs = pd.concat(frames, ignore_index=True)
    pairs["first"] = pairs.pop("success_first").astype(float)
    pairs["second"] = pairs.pop("success_second").astype(float)
    return pairs


def _clean_gap(pairs: pd.DataFrame) -> pd.Series:
    """first_clean - second_clean per cluster (from the clean arm of any split)."""
    clean = pairs[pairs["perturbation"] == CONTROL].drop_duplicates([*CLUSTER, "seed"])
    gap = clean["first"] - clean["second"]
    return gap.groupby([clean[c] for c in CLUSTER]).mean()


def without_flagged_arms(episodes: pd.DataFrame, integrity: pd.DataFrame) -> pd.DataFrame:
    """The episodes less every arm the integrity check flagged (its perturbation never reached
    the policy, e.g. `object_color` in a scene without task-irrelevant objects): pooling such an
    arm would dilute the difference with clean episodes under another name."""
    flagged = integrity.loc[integrity["flagged"], ["suite", "perturbation", "severity", "split"]]
    if flagged.empty:
        return episodes
    marked = episodes.merge(flagged.drop_duplicates(), how="left", indicator=True)
    return episodes[(marked["_merge"] == "left_only").to_numpy()]


def pooled_comparisons(episodes: pd.DataFrame, comparisons: tuple[tuple[str, str], ...]) -> pd.DataFrame:
    """Per (first, second, suite, split, severity): one row pooling every perturbed arm of that
    severity (`scope` "pooled"; a dose-response sweep of one family at other severities gets
    rows of its own instead of weighing that family several times in the pool; training seeds
    that ran different arms: `balanced_pools`); then, when there are several training seeds,
    the same for each seed alone ("seed"); then, when there are several arms, one row per arm,
    a family at one severity, pooled over training seeds ("arm"; its clusters hold one pair
    each). `arms_left_out` names the arms of the split that a row's pool could not use (empty
    but for a balanced `pooled` row). Flagged arms are already left out by the caller
    (`without_flagged_arms`)."""
    rows = []
    for first, second in comparisons:
        pairs = paired_episodes(episodes, first, second)
        if pairs.empty:
            continue
        gaps = _clean_gap(pairs)
        perturbed = pairs[pairs["perturbation"] != CONTROL]
        for (suite, split, _), group in perturbed.groupby(["suite", "split", "severity"], sort=True):
            key = {"policy": first, "versus": second, "suite": suite, "split": split}
            pools = balanced_pools(group)
            if group["train_seed"].nunique() > 1:  # each seed alone
                pools += [("seed", part) for _, part in group.groupby("train_seed", sort=True)]
            if group.groupby(["perturbation", "severity"]).ngroups > 1:  # each arm (family, severity)
                pools += [("arm", part) for _, part in group.groupby(["perturbation", "severity"], sort=True)]
            for scope, part in pools:
                left_out = set(group["perturbation"]) - set(part["perturbation"]) if scope == "pooled" else ()
                stats = _pooled_statistics(part, gaps)
                rows.append({**key, "scope": scope, **stats, "arms_left_out": ",".join(sorted(left_out))})
    return pd.DataFrame(rows)


def balancing_notes(pooled: pd.DataFrame) -> list[str]:
    """One report note per pooled row that had to leave arms out (`balanced_pools`)."""
    if pooled.empty:
        return []
    balanced = pooled[(pooled["scope"] == "pooled") & (pooled["arms_left_out"] != "")]
    return [
        f"{row.policy} vs {row.versus}, {row.suite} {row.split}: the training seeds ran different "
        f"arms, so the pooled row keeps the arms every seed ran and leaves out {row.arms_left_out} "
        "(an `all_arms` row pools every arm over the seeds that ran them all, where two or more did)"
        for row in balanced.itertuples()
    ]


def balanced_pools(group: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """The pooled rows of one split and severity. When every training seed ran the same arms:
    one, `pooled`. When they did not (a later seed ran a subset), a pool of all their arms
    would weigh the families differently per seed, so its number would move with the mix of
    families rather than with the policies: `pooled` then keeps the arms every seed ran, and
    `all_arms` pools every arm over the seeds that ran them all (when two or more did; one
    such seed is already its own `seed` row)."""
    arms_of_seed = group.groupby("train_seed")["perturbation"].agg(frozenset)
    every_arm = frozenset(group["perturbation"])
    common = frozenset.intersection(*arms_of_seed)
    if common == every_arm:
        return [("pooled", group)]
    pools = []
    if common:
        pools.append(("pooled", group[group["perturbation"].isin(common)]))
    complete = [seed for seed, arms in arms_of_seed.items() if arms == every_arm]
    if len(complete) > 1:
        pools.append(("all_arms", group[group["train_seed"].isin(complete)]))
    return pools


def _pooled_statistics(group: pd.DataFrame, gaps: pd.Series) -> dict:
    """The difference and the drop difference of these pairs, cluster-bootstrapped."""
    diff = group["first"] - group["second"]
    by_cluster = diff.groupby([group[c] for c in CLUSTER])
    sums, counts = by_cluster.sum(), by_cluster.count()
    estimate, low, high = cluster_bootstrap(sums.to_numpy(), counts.to_numpy(float))
    with_clean = sums.index.isin(gaps.index)
    drop_sums = sums[with_clean] - counts[with_clean] * gaps.reindex(sums.index[with_clean])
    drop = (
        cluster_bootstrap(drop_sums.to_numpy(), counts[with_clean].to_numpy(float))
        if with_clean.any()
        else (float("nan"),) * 3
    )
    return {
        "arms": ",".join(sorted(group["perturbation"].unique())),
        "severities": ",".join(str(s) for s in sorted(group["severity"].unique())),
        "train_seeds": ",".join(str(s) for s in sorted(group["train_seed"].unique())),
        "clusters": len(sums),
        "pairs": int(counts.sum()),
        "policy_rate": group["first"].mean(),
        "versus_rate": group["second"].mean(),
        "difference": estimate,
        "ci_low": low,
        "ci_high": high,
        "drop_difference": drop[0],
        "drop_ci_low": drop[1],
        "drop_ci_high": drop[2],
    }
