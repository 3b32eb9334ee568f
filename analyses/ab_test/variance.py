"""Variance reduction beyond a metric's own covariate: CUPED for ratios, post-stratification.

Both work from per-arm sufficient statistics (issue 27); neither changes what is compared,
only how precisely.

* CUPED for a ratio metric ``R = sum(num) / sum(den)``: the numerator and the denominator
  each have their pre-period (``num_pre``, ``den_pre``, the same sums over the
  ``covariate_days`` before exposure). Per arm, the delta method gives the variance of ``R``,
  of the pre-period ratio ``R_pre`` and their covariance from the 4 x 4 covariance of the
  per-unit ``(num, den, num_pre, den_pre)``. The adjusted ratio is
  ``R - theta (R_pre - R_pre_pooled)`` with ``theta = sum_arms Cov(R, R_pre) / sum_arms
  Var(R_pre)`` pooled over the arms (the pre-period does not depend on the arm), whose
  variance is ``Var(R) + theta^2 Var(R_pre) - 2 theta Cov(R, R_pre)``: the ratio analogue of
  CUPED (Deng, Knoblich, Lu 2018; GrowthBook's ratio adjustment is the same estimator).
* Post-stratification on a segment column: each arm's mean is the mean of its per-stratum
  means weighted by each stratum's share of all units (both arms pooled), with variance
  ``sum_k w_k^2 s_ak^2 / n_ak``. A stratum with fewer than ``MIN_STRATUM`` units in an arm
  is merged with the other small strata (and, if still too small, into the largest stratum).

The reduction reported is the variance removed within arms, ``1 - sum_arms Var_adjusted /
sum_arms Var_plain``: ``1 / (1 - reduction)`` is the factor of units an interval as narrow
would take without the adjustment (the same reading as a mean's CUPED).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: The pre-period sums of a ratio metric (per unit summed over units), as the query names them.
RATIO_PRE_KEYS = (
    "pnum",
    "pden",
    "pnum2",
    "pden2",
    "pnumden",
    "num_pnum",
    "num_pden",
    "den_pnum",
    "den_pden",
)
#: A stratum needs this many units in every arm to keep its own mean (else it is merged).
MIN_STRATUM = 10


@dataclass(frozen=True)
class Adjusted:
    """An arm's adjusted estimate and its standard error."""

    mean: float
    se: float


def _ratio_parts(s: dict[str, float]) -> tuple[float, float, float, float, float, float]:
    """An arm's ``R``, ``R_pre``, ``Var(R)``, ``Var(R_pre)``, ``Cov(R, R_pre)`` and ``n``."""
    n = s["units"]
    sums = np.array([s["num"], s["den"], s["pnum"], s["pden"]])
    names = ("num", "den", "pnum", "pden")
    second = {
        ("num", "num"): s["num2"],
        ("den", "den"): s["den2"],
        ("num", "den"): s["numden"],
        ("pnum", "pnum"): s["pnum2"],
        ("pden", "pden"): s["pden2"],
        ("pnum", "pden"): s["pnumden"],
        ("num", "pnum"): s["num_pnum"],
        ("num", "pden"): s["num_pden"],
        ("den", "pnum"): s["den_pnum"],
        ("den", "pden"): s["den_pden"],
    }
    cov = np.empty((4, 4))
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            xy = second.get((a, b), second.get((b, a)))
            cov[i, j] = (xy - sums[i] * sums[j] / n) / (n - 1)
    mean = sums / n
    ratio, pre = mean[0] / mean[1], mean[2] / mean[3]
    g = np.array([1 / mean[1], -ratio / mean[1], 0.0, 0.0])
    h = np.array([0.0, 0.0, 1 / mean[3], -pre / mean[3]])
    return ratio, pre, g @ cov @ g / n, h @ cov @ h / n, g @ cov @ h / n, n


def ratio_cuped(stats_: dict[str, dict[str, float]]) -> tuple[dict[str, Adjusted], float, float]:
    """Each arm's CUPED-adjusted ratio, the pooled slope ``theta`` and the variance reduction.

    Without a usable pre-period (a pre-period denominator summing to zero in an arm, or no
    spread in the pre-period ratio) the ratio is left as it is (slope 0, reduction 0).
    """
    plain = {}
    for arm, s in stats_.items():
        n = s["units"]
        ratio = s["num"] / s["den"]
        mean_den = s["den"] / n
        var_num = (s["num2"] - s["num"] ** 2 / n) / (n - 1)
        var_den = (s["den2"] - s["den"] ** 2 / n) / (n - 1)
        cov = (s["numden"] - s["num"] * s["den"] / n) / (n - 1)
        var = max((var_num - 2 * ratio * cov + ratio**2 * var_den) / (n * mean_den**2), 0.0)
        plain[arm] = Adjusted(ratio, float(np.sqrt(var)))
    if any(s.get("pden", 0.0) <= 0 for s in stats_.values()):
        return plain, 0.0, 0.0
    parts = {arm: _ratio_parts(s) for arm, s in stats_.items()}
    var_pre = sum(p[3] for p in parts.values())
    if not var_pre > 0:
        return plain, 0.0, 0.0
    theta = sum(p[4] for p in parts.values()) / var_pre
    pooled_pre = sum(s["pnum"] for s in stats_.values()) / sum(s["pden"] for s in stats_.values())
    adjusted = {}
    for arm, (ratio, pre, var_r, var_p, cov_rp, _) in parts.items():
        var = max(var_r + theta**2 * var_p - 2 * theta * cov_rp, 0.0)
        adjusted[arm] = Adjusted(float(ratio - theta * (pre - pooled_pre)), float(np.sqrt(var)))
    raw = sum(a.se**2 for a in plain.values())
    kept = sum(a.se**2 for a in adjusted.values())
    reduction = 1 - kept / raw if raw > 0 else 0.0
    return adjusted, float(theta), float(min(max(reduction, 0.0), 1.0))


def strata(levels: dict[str, dict[str, dict[str, float]]], arms: list[str]) -> list[list[str]]:
    """The strata: levels with at least ``MIN_STRATUM`` units in every arm, the rest merged."""

    def size(level: str, arm: str) -> float:
        return levels[level].get(arm, {}).get("n", 0.0)

    big = sorted(lv for lv in levels if all(size(lv, a) >= MIN_STRATUM for a in arms))
    small = sorted(lv for lv in levels if lv not in big)
    groups = [[lv] for lv in big]
    if small:
        if all(sum(size(lv, a) for lv in small) >= 2 for a in arms) or not groups:
            groups.append(small)
        else:
            largest = max(groups, key=lambda g: sum(size(g[0], a) for a in arms))
            largest += small
    return groups


def post_stratified(
    levels: dict[str, dict[str, dict[str, float]]], arms: list[str]
) -> tuple[dict[str, Adjusted], dict[str, Adjusted], float, int]:
    """Each arm's post-stratified mean, its plain mean, the variance reduction, the strata.

    ``levels[level][arm]`` holds the arm's moments in that level (``n``, ``sum``,
    ``sum2``); the weights are the levels' shares of all units counted in the metric.
    """
    groups = strata(levels, arms)
    pooled: dict[str, dict[str, dict[str, float]]] = {}
    for group in groups:
        key = "+".join(group)
        pooled[key] = {
            arm: {
                k: sum(levels[lv].get(arm, {}).get(k, 0.0) for lv in group)
                for k in ("n", "sum", "sum2")
            }
            for arm in arms
        }
    total = sum(s["n"] for per_arm in pooled.values() for s in per_arm.values())
    adjusted, plain = {}, {}
    for arm in arms:
        mean = var = 0.0
        for per_arm in pooled.values():
            s = per_arm[arm]
            w = sum(x["n"] for x in per_arm.values()) / total
            m = s["sum"] / s["n"]
            v = max((s["sum2"] - s["n"] * m**2) / (s["n"] - 1), 0.0)
            mean += w * m
            var += w**2 * v / s["n"]
        n = sum(p[arm]["n"] for p in pooled.values())
        total_sum = sum(p[arm]["sum"] for p in pooled.values())
        total_sq = sum(p[arm]["sum2"] for p in pooled.values())
        m = total_sum / n
        v = max((total_sq - n * m**2) / (n - 1), 0.0)
        adjusted[arm] = Adjusted(float(mean), float(np.sqrt(var)))
        plain[arm] = Adjusted(float(m), float(np.sqrt(v / n)))
    raw = sum(a.se**2 for a in plain.values())
    kept = sum(a.se**2 for a in adjusted.values())
    reduction = 1 - kept / raw if raw > 0 else 0.0
    return adjusted, plain, float(min(max(reduction, 0.0), 1.0)), len(groups)
