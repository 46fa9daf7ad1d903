"""`robustness.csv`: the summaries the vision-robustness field reads at a glance, per policy,
suite and split.

- `clean`: success rate of the control arm (`perturbation == none`), of the same split, or of
  the other split's run when this split has none (as the leaderboard's deltas do).
- `mpc`: mean performance under corruption, the mean over the perturbed arms (each family and
  severity one arm) of their success rates (Michaelis et al. 2019, "Benchmarking Robustness in
  Object Detection": mPC).
- `rpc`: relative performance under corruption, mpc / clean (the same paper's rPC): 1 means
  the perturbations cost nothing, 0.5 that half of the clean success is lost.
- Each with a 95% percentile interval from one cluster bootstrap: whole clusters (training
  seed, suite, task, init state) are resampled with replacement, carrying their clean and
  perturbed episodes together, so the three statistics move together as they should.
- With `--baseline POLICY`, ImageNet-C's corruption errors against that policy (Hendrycks &
  Dietterich 2019, "Benchmarking Neural Network Robustness to Common Corruptions and
  Perturbations"), with error E = 1 - success rate, per family f over its severities s:
  CE_f = sum_s E_{f,s} / sum_s E^base_{f,s}, `mce` = mean_f CE_f, and the relative version
  relCE_f = sum_s (E_{f,s} - E_clean) / sum_s (E^base_{f,s} - E^base_clean), `relative_mce` =
  mean_f relCE_f. Below 1: fewer errors (or less added error) than the baseline. A family
  whose baseline denominator is 0 is left out and counted in `mce_families`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from agra_bench.errors import UsageError
from agra_bench.identity import REPORT_SETTING
from agra_bench.report.pooled import CLUSTER
from agra_bench.report.stats import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED
from agra_bench.report.tables import CONTROL, family_of

GROUP = [*REPORT_SETTING, "split"]
TAIL = 2.5  # percent in each tail: a 95% interval


def _cluster_matrix(rows: pd.DataFrame, clusters: pd.Index) -> tuple[np.ndarray, np.ndarray]:
    """Successes and episode counts per cluster (rows of `clusters`) and arm (columns)."""
    grouped = rows.groupby([*CLUSTER, "perturbation", "severity"])["success"].agg(["sum", "count"])
    sums = grouped["sum"].unstack([-2, -1], fill_value=0).reindex(clusters, fill_value=0)
    counts = grouped["count"].unstack([-2, -1], fill_value=0).reindex(clusters, fill_value=0)
    return sums.to_numpy(dtype=float), counts.to_numpy(dtype=float)


def _statistics(weights: np.ndarray, clean: tuple, arms: tuple) -> tuple[np.ndarray, ...]:
    """clean, mpc and rpc for each row of `weights` (cluster multiplicities)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        clean_rate = (weights @ clean[0]) / (weights @ clean[1])
        arm_rates = (weights @ arms[0]) / (weights @ arms[1])
        mpc = np.nanmean(arm_rates, axis=-1)
        return clean_rate[..., 0], mpc, mpc / clean_rate[..., 0]


def robustness_table(episodes: pd.DataFrame, baseline: str | None = None) -> pd.DataFrame:
    scored = episodes[episodes["scored"]]
    if baseline is not None and baseline not in set(scored["policy_label"]):
        valid = ", ".join(sorted(set(scored["policy_label"])))
        raise UsageError(f"--baseline {baseline} ran no episode in these runs; valid: {valid}")
    rows = []
    all_clean = scored[scored["perturbation"] == CONTROL]
    for key, group in scored.groupby(GROUP, sort=True):
        clean_rows = group[group["perturbation"] == CONTROL]
        if clean_rows.empty:  # the clean arm ran in the other split's run: take it from there
            setting = dict(zip(GROUP[:-1], key[:-1], strict=True))
            clean_rows = all_clean[(all_clean[GROUP[:-1]] == pd.Series(setting)).all(axis=1)]
            group = pd.concat([group, clean_rows])
        perturbed = group[group["perturbation"] != CONTROL]
        if clean_rows.empty or perturbed.empty:
            continue
        clusters = pd.MultiIndex.from_frame(group[CLUSTER].drop_duplicates().sort_values(CLUSTER))
        clean = _cluster_matrix(clean_rows, clusters)
        arms = _cluster_matrix(perturbed, clusters)
        estimate = _statistics(np.ones((1, len(clusters))), clean, arms)
        rng = np.random.default_rng(BOOTSTRAP_SEED)
        n = len(clusters)
        weights = rng.multinomial(n, np.full(n, 1 / n), BOOTSTRAP_RESAMPLES)
        resampled = _statistics(weights.astype(float), clean, arms)
        row = dict(zip(GROUP, key, strict=True))
        row.update(clusters=len(clusters), arms=arms[0].shape[1], episodes=len(group))
        for name, value, samples in zip(("clean", "mpc", "rpc"), estimate, resampled, strict=True):
            low, high = np.nanpercentile(samples, [TAIL, 100 - TAIL])
            row.update({name: float(value[0]), f"{name}_ci_low": float(low), f"{name}_ci_high": float(high)})
        rows.append(row)
    table = pd.DataFrame(rows)
    if baseline is not None and not table.empty:
        table = _with_corruption_errors(table, scored, baseline)
    return table


def _family_errors(group: pd.DataFrame) -> tuple[float, pd.DataFrame]:
    """(clean error, per family and severity error) of one policy, suite and split."""
    clean_error = 1 - group.loc[group["perturbation"] == CONTROL, "success"].mean()
    perturbed = group[group["perturbation"] != CONTROL]
    perturbed = perturbed.assign(family=perturbed["perturbation"].map(family_of))
    errors = 1 - perturbed.groupby(["family", "severity"])["success"].mean()
    return clean_error, errors.rename("error").reset_index()


def _with_clean(rows: pd.DataFrame, split: str) -> pd.DataFrame:
    """A policy's episodes of one split, with the clean arm of another split if it has none."""
    mine = rows[rows["split"] == split]
    if (mine["perturbation"] == CONTROL).any():
        return mine
    return pd.concat([mine, rows[rows["perturbation"] == CONTROL]])


def _with_corruption_errors(table: pd.DataFrame, scored: pd.DataFrame, baseline: str) -> pd.DataFrame:
    out = []
    setting = [c for c in GROUP if c not in ("policy_label", "split")]
    for row in table.to_dict("records"):
        same_setting = (scored[setting] == pd.Series({c: row[c] for c in setting})).all(axis=1)
        label = scored["policy_label"]
        mine = _with_clean(scored[same_setting & (label == row["policy_label"])], row["split"])
        base = _with_clean(scored[same_setting & (label == baseline)], row["split"])
        row.update(mce=float("nan"), relative_mce=float("nan"), mce_families=0)
        if not base.empty:
            clean, errors = _family_errors(mine)
            base_clean, base_errors = _family_errors(base)
            joined = errors.merge(base_errors, on=["family", "severity"], suffixes=("", "_base"))
            ce, rel = [], []
            for _, f in joined.groupby("family", sort=True):
                if f["error_base"].sum() > 0:
                    ce.append(f["error"].sum() / f["error_base"].sum())
                added_base = (f["error_base"] - base_clean).sum()
                if added_base != 0:
                    rel.append((f["error"] - clean).sum() / added_base)
            row.update(
                mce=float(np.mean(ce)) if ce else float("nan"),
                relative_mce=float(np.mean(rel)) if rel else float("nan"),
                mce_families=len(ce),
            )
        out.append(row)
    return pd.DataFrame(out)
