"""Statistics for success rates: Wilson intervals and paired comparisons of two arms.

All formulas come from statsmodels and scipy, so a reviewer can check them against the
libraries' documentation rather than against our code:

- Wilson 95% score interval: `statsmodels.stats.proportion.proportion_confint(method="wilson")`.
- Paired delta of success rates (arm minus reference) over episodes that share suite, task,
  init state and seed: percentile bootstrap with `scipy.stats.bootstrap(paired=True)`, seeded,
  so the same inputs give the same interval to the last digit.
- McNemar's test on the 2x2 table of paired outcomes: `statsmodels...mcnemar`, exact binomial
  form when the discordant pairs are fewer than 25, chi-square with continuity correction above.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.proportion import proportion_confint

from agra_bench.identity import PAIR_KEY  # pairs are formed on these columns only

BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0
EXACT_MCNEMAR_BELOW = 25


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion; (nan, nan) when n == 0."""
    if n == 0:
        return float("nan"), float("nan")
    low, high = proportion_confint(successes, n, alpha=1 - confidence, method="wilson")
    return float(low), float(high)


@dataclass(frozen=True)
class PairedDelta:
    """Arm minus reference on paired episodes. `pairs == 0` means nothing could be paired."""

    pairs: int
    delta: float
    ci_low: float
    ci_high: float
    mcnemar_p: float
    arm_only: int  # pairs where only the arm succeeded
    reference_only: int  # pairs where only the reference succeeded

    def as_dict(self, prefix: str = "delta") -> dict[str, float | int]:
        values = asdict(self)
        return {
            f"{prefix}_pairs": values["pairs"],
            prefix: values["delta"],
            f"{prefix}_ci_low": values["ci_low"],
            f"{prefix}_ci_high": values["ci_high"],
            f"{prefix}_mcnemar_p": values["mcnemar_p"],
        }


NO_PAIRS = PairedDelta(0, float("nan"), float("nan"), float("nan"), float("nan"), 0, 0)


def pair_outcomes(arm: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """Inner join of two arms' episodes on PAIR_KEY; columns `arm` and `reference` (bool).

    Rows that appear more than once for one key in either arm (which the loader already
    prevents) are rejected rather than silently multiplied by the join.
    """
    for name, frame in (("arm", arm), ("reference", reference)):
        if frame.duplicated(PAIR_KEY).any():
            raise ValueError(f"{name} has more than one episode for a (task, init state, seed) key")
    left = arm[[*PAIR_KEY, "success"]].rename(columns={"success": "arm"})
    right = reference[[*PAIR_KEY, "success"]].rename(columns={"success": "reference"})
    return left.merge(right, on=PAIR_KEY, how="inner", validate="one_to_one")


def paired_delta(arm: pd.DataFrame, reference: pd.DataFrame, confidence: float = 0.95) -> PairedDelta:
    """Success-rate difference (arm - reference) on the episodes both arms ran."""
    paired = pair_outcomes(arm, reference)
    if paired.empty:
        return NO_PAIRS
    a = paired["arm"].to_numpy(dtype=float)
    r = paired["reference"].to_numpy(dtype=float)
    diff = a - r
    if np.all(diff == diff[0]):  # every resample gives the same mean: the interval is that point
        low = high = float(diff[0])
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=stats.DegenerateDataWarning)
            result = stats.bootstrap(
                (a, r),
                lambda x, y, axis=-1: np.mean(x, axis=axis) - np.mean(y, axis=axis),
                paired=True,
                vectorized=True,
                n_resamples=BOOTSTRAP_RESAMPLES,
                confidence_level=confidence,
                method="percentile",
                rng=np.random.default_rng(BOOTSTRAP_SEED),
            )
        low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    arm_only = int(((a == 1) & (r == 0)).sum())
    reference_only = int(((a == 0) & (r == 1)).sum())
    both = int(((a == 1) & (r == 1)).sum())
    neither = int(((a == 0) & (r == 0)).sum())
    table = [[both, arm_only], [reference_only, neither]]
    discordant = arm_only + reference_only
    if discordant == 0:
        p_value = 1.0
    else:
        exact = discordant < EXACT_MCNEMAR_BELOW
        p_value = float(mcnemar(table, exact=exact, correction=True).pvalue)
    return PairedDelta(len(paired), float(diff.mean()), low, high, p_value, arm_only, reference_only)
