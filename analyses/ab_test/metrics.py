"""One metric of an A/B test from per-arm sufficient statistics: posteriors and comparisons.

Every kind of metric has an exact (conjugate) posterior per arm or, for ratios, the delta
method, so comparisons are computed from independent draws:

* ``binary``: Beta posterior of the rate;
* ``continuous``, ``count``: normal-inverse-gamma posterior of the mean;
* ``log`` (``log_transform = true``): the same on the log scale; the arm's value is the
  geometric mean ``exp(mu)``;
* ``lognormal`` and ``revenue``: a hurdle (share of positive values x log-normal amount); the
  arm's value is the mean per unit ``p * exp(mu + sigma^2 / 2)``. For ``revenue`` (most units
  spend nothing) both parts are compared too: the share of units who paid and the mean
  amount among them;
* ``ratio``: the ratio of per-unit sums, normal by the delta method;
* a covariate (CUPED) adjusts a metric's values by the same metric before exposure.

Comparisons are made in the metric's good direction: for a metric where lower is better,
"better" means lower and the expected loss counts increases.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from pydantic import MISSING

from analyses.ab_test import conjugate, user_prior, variance
from analyses.ab_test.conjugate import Moments, NormalPrior, RatioMoments
from analyses.ab_test.results import (
    Arm,
    BetaPrior,
    Comparison,
    DeltaPrior,
    Part,
    PostStratified,
    Prior,
    RevenueParts,
    Test,
    UserPrior,
)
from analyses.ab_test.results import NormalPrior as NormalPriorRecord
from analyses.core import stats
from analyses.core.results import Record, Summary, given

#: Kinds modelled as a hurdle: a share of units with a positive value times a log-normal amount.
HURDLE_KINDS = ("lognormal", "revenue")
#: Kinds whose arm values are plain means, which ``post_stratify`` can post-stratify.
POST_STRATIFIED_KINDS = ("binary", "continuous", "count")


@dataclass(frozen=True)
class Metric:
    """A metric as the A/B analysis models it (from a file's column or a warehouse metric)."""

    name: str
    label: str
    kind: str
    role: str = "primary"
    higher_is_better: bool = True
    tolerated_harm: float = 0.0
    prefix: str = ""
    suffix: str = ""
    covariate: bool = False
    #: A user-set prior on the relative lift (issue 27), both or neither.
    prior_mean: float | None = None
    prior_sd: float | None = None
    #: A quantile metric's level (``kind = "quantile"``).
    quantile: float | None = None

    @property
    def direction(self) -> float:
        """+1 when higher values are better, -1 when lower values are."""
        return 1.0 if self.higher_is_better else -1.0


@dataclass(frozen=True)
class Priors:
    """Prior settings of the arms' values (``None``: scaled to the pooled data)."""

    alpha: float = 1.0
    beta: float = 1.0
    mu_mean: float | None = None
    mu_sd: float | None = None
    sigma: float | None = None
    #: A hurdle model's Beta prior of the share of units with a positive value (Beta(1, 1)
    #: unless the sensitivity check's sceptical prior sets it).
    share_alpha: float = 1.0
    share_beta: float = 1.0
    #: The relative sd of the prior of ``sigma^2`` (``None``: the weak default); the
    #: sceptical prior holds a hurdle's log spread near the pooled one with it.
    sigma2_rel_sd: float | None = None


# --------------------------------------------------------------------------- posteriors


def moments(s: dict[str, float], prefix: str = "") -> Moments:
    """The moments in a statistics record (``n``, ``sum``, ``sum2``)."""
    return Moments(s[f"{prefix}n"], s[f"{prefix}sum"], s[f"{prefix}sum2"])


def log_moments(s: dict[str, float]) -> Moments:
    """The moments of the logs of the positive values."""
    return Moments(s["npos"], s["sumlog"], s["sumlog2"])


def ratio_moments(s: dict[str, float]) -> RatioMoments:
    """A ratio metric's sums."""
    return RatioMoments(s["units"], s["num"], s["den"], s["num2"], s["den2"], s["numden"])


def _pooled(per_arm: dict[str, Moments]) -> Moments:
    return Moments(
        sum(m.n for m in per_arm.values()),
        sum(m.total for m in per_arm.values()),
        sum(m.squares for m in per_arm.values()),
    )


def normal_prior(per_arm: dict[str, Moments], priors: Priors) -> NormalPrior:
    """The normal-inverse-gamma prior: scaled to the pooled data unless the config sets it."""
    pooled = _pooled(per_arm)
    spread = priors.sigma if priors.sigma is not None else float(np.sqrt(pooled.var))
    prior = NormalPrior.scaled(
        priors.mu_mean if priors.mu_mean is not None else pooled.mean, spread
    )
    if priors.sigma2_rel_sd is not None:  # inverse gamma: mean spread^2, this relative sd
        alpha = 2.0 + 1.0 / priors.sigma2_rel_sd**2
        prior = replace(prior, alpha=alpha, beta=(alpha - 1) * spread**2)
    if priors.mu_sd is not None:
        prior = replace(prior, kappa=prior.beta / ((prior.alpha - 1) * priors.mu_sd**2))
    return prior


def cuped(stats_: dict[str, dict[str, float]]) -> tuple[dict[str, Moments], float, float]:
    """Covariate-adjusted moments per arm, the pooled slope and the variance reduction.

    The slope ``theta = Cov(x, y) / Var(x)`` is pooled over the arms (the covariate is
    measured before exposure, so it does not depend on the arm); the adjusted values
    ``y - theta (x - mean x)`` have the same expected difference between arms and a variance
    smaller by about the squared correlation within arms. The reduction reported is the
    variance removed within arms, ``1 - SS_adjusted / SS_raw`` with the sums of squares about
    each arm's own mean: the variance an arm's interval is made of (the total variance also
    holds the gap between the arms, which no covariate removes), so ``1 / (1 - reduction)``
    is the factor of users an interval as narrow would take without the covariate.
    """
    n = sum(s["n"] for s in stats_.values())
    sy = sum(s["sum"] for s in stats_.values())
    sx = sum(s["xn"] for s in stats_.values())
    sxx = sum(s["x2n"] for s in stats_.values())
    sxy = sum(s["xy"] for s in stats_.values())
    var_x = (sxx - sx**2 / n) / (n - 1)
    cov = (sxy - sx * sy / n) / (n - 1)
    theta = cov / var_x if var_x > 0 else 0.0
    x_mean = sx / n
    adjusted = {
        arm: conjugate.cuped_moments(
            moments(s), Moments(s["n"], s["xn"], s["x2n"]), s["xy"], theta, x_mean
        )
        for arm, s in stats_.items()
    }
    raw = sum(_within(moments(s)) for s in stats_.values())
    kept = sum(_within(m) for m in adjusted.values())
    reduction = 1 - kept / raw if var_x > 0 and raw > 0 else 0.0
    return adjusted, theta, float(min(max(reduction, 0.0), 1.0))


def _within(m: Moments) -> float:
    """The sum of squares of an arm's values about its own mean."""
    return m.squares - m.total**2 / m.n


def arm_draws(
    metric: Metric,
    stats_: dict[str, dict[str, float]],
    priors: Priors,
    size: int,
    rng: np.random.Generator,
    adjusted: dict[str, Moments] | None = None,
) -> tuple[dict[str, dict[str, np.ndarray]], Prior]:
    """Posterior draws of each arm's value (and its log-scale mean where there is one)."""
    out: dict[str, dict[str, np.ndarray]] = {}
    kind = metric.kind
    if kind == "binary":
        for arm, s in stats_.items():
            out[arm] = {
                "value": conjugate.beta_draws(
                    s["sum"], s["n"], priors.alpha, priors.beta, size, rng
                )
            }
        return out, BetaPrior(kind="beta", alpha=priors.alpha, beta=priors.beta)
    if kind == "ratio":
        for arm, s in stats_.items():
            out[arm] = {"value": conjugate.ratio_draws(ratio_moments(s), size, rng)}
        return out, DeltaPrior(kind="delta")
    if kind in HURDLE_KINDS + ("log",):
        logs = {arm: log_moments(s) for arm, s in stats_.items()}
        prior = normal_prior(logs, priors)
        for arm, s in stats_.items():
            if kind == "log":
                mu, sigma = conjugate.normal_draws(logs[arm], prior, size, rng)
                out[arm] = {"value": np.exp(mu), "mu": mu}
            else:
                drawn = conjugate.lognormal_mean_draws(
                    s["n"],
                    s["npos"],
                    logs[arm],
                    prior,
                    size,
                    rng,
                    share_prior=(priors.share_alpha, priors.share_beta),
                )
                out[arm] = {
                    "value": drawn["value"],
                    "p": drawn["p"],
                    "per_payer": drawn["per_payer"],
                    "log_mu": drawn["mu"],
                }
        return out, _prior_record(prior, "log")
    per_arm = adjusted or {arm: moments(s) for arm, s in stats_.items()}
    prior = normal_prior(per_arm, priors)
    for arm, m in per_arm.items():
        mu, _ = conjugate.normal_draws(m, prior, size, rng)
        out[arm] = {"value": mu}
    return out, _prior_record(prior)


def _prior_record(prior: NormalPrior, scale: str | MISSING = MISSING) -> NormalPriorRecord:
    return NormalPriorRecord(
        kind="normal",
        scale=scale,
        mu_mean=prior.mean,
        mu_sd=prior.mu_sd(),
        sigma=float(np.sqrt(prior.beta / (prior.alpha - 1))) if prior.alpha > 1 else None,
        kappa=prior.kappa,
        alpha=prior.alpha,
        beta=prior.beta,
    )


# --------------------------------------------------------------------------- comparisons


def observed(metric: Metric, s: dict[str, float]) -> float:
    """The arm's value computed from its data alone."""
    if metric.kind == "ratio":
        return s["num"] / s["den"] if s["den"] else float("nan")
    if metric.kind == "log":
        return float(np.exp(s["sumlog"] / s["npos"]))
    return s["sum"] / s["n"] if s["n"] else float("nan")


def frequentist(metric: Metric, a: dict[str, float], b: dict[str, float], adjusted=None) -> Test:
    """The traditional test of arm ``b`` against arm ``a``: z-test, Welch or delta-method z."""
    if metric.kind == "binary":
        test = stats.two_proportion_ztest(int(a["sum"]), int(a["n"]), int(b["sum"]), int(b["n"]))
        return Test(**test, scale="absolute")
    if metric.kind == "ratio":
        ra, se_a = conjugate.ratio_estimate(ratio_moments(a))
        rb, se_b = conjugate.ratio_estimate(ratio_moments(b))
        test = stats.z_test(rb - ra, float(np.hypot(se_a, se_b)), "delta-method z-test")
        return Test(**test, scale="absolute")
    if metric.kind == "log":
        ma, mb = log_moments(a), log_moments(b)
        scale = "log"
    elif adjusted is not None:
        ma, mb = adjusted
        scale = "absolute"
    else:
        ma, mb = moments(a), moments(b)
        scale = "absolute"
    test = stats.welch_from_moments(ma.n, ma.mean, ma.var, mb.n, mb.mean, mb.var)
    return Test(**test, scale=scale)


def relative_defined(control_draws: np.ndarray, control_observed: float) -> bool:
    """Whether a lift relative to the control means anything.

    Not when the control's observed value is 0 (a conversion rate with no conversions: its
    Beta posterior puts so much weight near 0 that the relative lift has no finite mean, and
    "+300%" of nothing says nothing), nor when the control's posterior straddles 0. Then the
    comparison is read on the absolute scale only.
    """
    c = np.asarray(control_draws, dtype=float)
    return bool(control_observed != 0 and (np.all(c > 0) or np.all(c < 0)))


def headline_lift(comparison: Any) -> Summary:
    """The lift a comparison is read by: relative, or absolute where relative is not defined."""
    return comparison.lift_rel if comparison.lift_rel is not None else comparison.lift_abs


def compare(
    metric: Metric,
    draws: dict[str, dict[str, np.ndarray]],
    control: str,
    treatment: str,
    prob: float,
    rope: float | None,
    control_observed: float = 1.0,
    test: Test | MISSING = MISSING,
) -> Comparison:
    """One treatment against the control, in the metric's good direction.

    ``lift_rel`` is ``None`` when a relative lift is not defined (:func:`relative_defined`);
    then the ROPE (a relative effect) is not assessed and a guardrail's tolerated harm, also
    relative, is read as no harm at all on the absolute scale. ``test``: the traditional
    test beside it, where one is shown.
    """
    c, t = draws[control]["value"], draws[treatment]["value"]
    d = metric.direction
    loss = stats.expected_loss(d * c, d * t)
    relative = relative_defined(c, control_observed)
    lift_rel = t / c - 1 if relative else None
    scale = abs(float(np.mean(c)))
    extra: dict[str, Any] = {}
    if "mu" in draws[control]:
        extra["lift_log"] = Summary(
            **stats.summary(draws[treatment]["mu"] - draws[control]["mu"], prob)
        )
    if rope is not None and relative:
        extra["prob_meaningful"] = stats.prob_greater(d * lift_rel, rope)
        extra["prob_in_rope"] = float(np.mean(np.abs(lift_rel) < rope))
    if metric.role == "guardrail":
        harm = -d * lift_rel if relative else -d * (t - c)
        extra["prob_harm"] = stats.prob_greater(harm, metric.tolerated_harm if relative else 0.0)
    return Comparison(
        arm=treatment,
        vs=control,
        prob_better=stats.prob_greater(d * t, d * c),
        expected_loss=loss,
        expected_loss_rel=loss / scale if scale > 0 else (0.0 if loss == 0 else float("inf")),
        lift_abs=Summary(**stats.summary(t - c, prob)),
        lift_rel=Summary(**stats.summary(lift_rel, prob)) if relative else None,
        frequentist=test,
        **extra,
    )


def prob_best(metric: Metric, draws: dict[str, dict[str, np.ndarray]], arms: list[str]):
    """Each arm's probability of being the best in the metric's good direction."""
    stacked = np.stack([metric.direction * draws[a]["value"] for a in arms])
    return stats.prob_best(stacked)


class Summarised(Record):
    """One metric's arms, comparisons with the control and prior.

    The part of a :class:`~analyses.ab_test.results.Metric` the data give; ``fit`` adds
    what the config says of the metric (name, label, role, units), its method and status.
    """

    arms: tuple[Arm, ...]
    comparisons: tuple[Comparison, ...]
    prior: Prior
    prior_influence: float | None
    variance_reduction: float | MISSING = MISSING
    covariate_slope: float | MISSING = MISSING
    unadjusted: tuple[Comparison, ...] | MISSING = MISSING
    parts: tuple[RevenueParts, ...] | MISSING = MISSING
    user_prior: UserPrior | MISSING = MISSING
    without_prior: tuple[Comparison, ...] | MISSING = MISSING
    post_stratified: PostStratified | MISSING = MISSING


def summarise_arms(
    draws: dict[str, dict[str, np.ndarray]],
    arms: list[str],
    units: dict[str, int],
    seen: dict[str, float],
    prob: float,
    best,
) -> list[Arm]:
    """Each arm's row: its units, observed value, posterior summary and chance of being best.

    ``best``: :func:`prob_best`'s chances, ``None`` with two arms (no ``prob_best`` then).
    """
    return [
        Arm(
            name=arm,
            n=units[arm],
            observed=seen[arm],
            **stats.summary(draws[arm]["value"], prob),
            prob_best=float(best[i]) if best is not None else MISSING,
        )
        for i, arm in enumerate(arms)
    ]


def summarise(
    metric: Metric,
    stats_: dict[str, dict[str, float]],
    arms: list[str],
    priors: Priors,
    settings_draws: int,
    prob: float,
    rope: float | None,
    rng: np.random.Generator,
    strata: tuple[str, dict[str, dict[str, dict[str, float]]]] | None = None,
) -> tuple[Summarised, dict[str, dict[str, np.ndarray]]]:
    """Arms, comparisons with the control and the traditional tests of one metric.

    ``strata``: the ``post_stratify`` segment's name and this metric's statistics per level
    and arm (:mod:`analyses.ab_test.variance`).
    """
    control = arms[0]
    adjusted, extra = None, {}
    normal, normal_test = variance_adjusted(metric, stats_, arms, strata, extra)
    if metric.covariate and metric.kind != "ratio":
        adjusted, theta, reduction = cuped(stats_)
        extra |= {"variance_reduction": reduction, "covariate_slope": theta}
    draws, prior = arm_draws(metric, stats_, priors, settings_draws, rng, adjusted)
    if normal is not None:
        for arm, found in normal.items():
            mean, sd = _times_prior(found.mean, found.se, prior)
            draws[arm] = {"value": mean + sd * rng.standard_normal(settings_draws)}
    own_draws = draws
    if metric.prior_mean is not None and metric.prior_sd is not None:
        draws, extra["user_prior"] = user_prior.apply(
            metric.prior_mean, metric.prior_sd, draws, control, arms
        )
    best = prob_best(metric, draws, arms) if len(arms) > 2 else None
    arm_rows = summarise_arms(
        draws,
        arms,
        {arm: int(stats_[arm]["units"]) for arm in arms},
        {arm: observed(metric, stats_[arm]) for arm in arms},
        prob,
        best,
    )
    seen = observed(metric, stats_[control])
    comparisons = [
        compare(
            metric,
            draws,
            control,
            arm,
            prob,
            rope,
            seen,
            normal_test(control, arm)
            if normal_test is not None
            else frequentist(
                metric,
                stats_[control],
                stats_[arm],
                (adjusted[control], adjusted[arm]) if adjusted else None,
            ),
        )
        for arm in arms[1:]
    ]
    if given(extra.get("user_prior", MISSING)) and extra["user_prior"].applied:
        extra["without_prior"] = [
            compare(metric, own_draws, control, arm, prob, rope, seen) for arm in arms[1:]
        ]
    if normal is not None or adjusted is not None:
        plain = replace(metric, covariate=False)
        raw_draws, _ = arm_draws(plain, stats_, priors, settings_draws, rng)
        if given(extra.get("user_prior", MISSING)):
            raw_draws, _ = user_prior.apply(
                metric.prior_mean, metric.prior_sd, raw_draws, control, arms
            )
        extra["unadjusted"] = [
            compare(plain, raw_draws, control, arm, prob, rope, seen) for arm in arms[1:]
        ]
    if metric.kind == "revenue":
        extra["parts"] = [revenue_parts(draws, control, arm, prob) for arm in arms[1:]]
    summary = Summarised(
        arms=arm_rows,
        comparisons=comparisons,
        prior=prior,
        prior_influence=prior_influence(metric, stats_, prior, draws),
        **extra,
    )
    return summary, draws


def variance_adjusted(
    metric: Metric,
    stats_: dict[str, dict[str, float]],
    arms: list[str],
    strata: tuple[str, dict[str, dict[str, dict[str, float]]]] | None,
    extra: dict[str, Any],
):
    """A ratio's CUPED or a mean's post-stratification: normal arm estimates and their test.

    Returns ``(None, None)`` where neither applies. A metric with its own covariate (CUPED)
    is not post-stratified; what post-stratifying would have been worth is still recorded.
    Adds the records (``variance_reduction``, ``covariate_slope``, ``post_stratified``) to
    ``extra``.
    """
    found, name = None, ""
    if metric.covariate and metric.kind == "ratio":
        found, theta, reduction = variance.ratio_cuped(stats_)
        extra |= {"variance_reduction": reduction, "covariate_slope": theta}
        name = "CUPED-adjusted delta-method z-test"
    if strata is not None and metric.kind in POST_STRATIFIED_KINDS:
        segment, levels = strata
        adjusted, _, reduction, count = variance.post_stratified(levels, arms)
        use = not metric.covariate
        extra["post_stratified"] = PostStratified(
            segment=segment, strata=count, variance_reduction=reduction, applied=use
        )
        if use:
            found, name = adjusted, "post-stratified z-test"
    if found is None:
        return None, None

    def test(control: str, arm: str) -> Test:
        a, b = found[control], found[arm]
        return Test(
            **stats.z_test(b.mean - a.mean, float(np.hypot(a.se, b.se)), name), scale="absolute"
        )

    return found, test


def _times_prior(mean: float, se: float, prior: Prior) -> tuple[float, float]:
    """A normal estimate times the arm's prior (a Beta's moments, or a normal's): mean and sd.

    A ratio has no prior (the delta method); a post-stratified mean keeps the analysis's
    prior of the arm's value, so the sensitivity rows' flat and sceptical priors still act.
    """
    if isinstance(prior, BetaPrior):
        a, b = prior.alpha, prior.beta
        m0, s0 = a / (a + b), float(np.sqrt(a * b / ((a + b) ** 2 * (a + b + 1))))
    elif isinstance(prior, NormalPriorRecord) and given(prior.scale) is False:
        m0, s0 = prior.mu_mean, prior.mu_sd
    else:
        return mean, se
    if not (se > 0 and s0 > 0 and np.isfinite(s0)):
        return mean, se
    precision = 1 / se**2 + 1 / s0**2
    return float((mean / se**2 + m0 / s0**2) / precision), float(np.sqrt(1 / precision))


def revenue_parts(draws, control: str, treatment: str, prob: float) -> RevenueParts:
    """The two parts of revenue per unit compared: the share who paid and the mean paid by them."""
    parts = {}
    for part in ("p", "per_payer"):
        c, t = draws[control][part], draws[treatment][part]
        parts["paying" if part == "p" else "per_payer"] = Part(
            control=Summary(**stats.summary(c, prob)),
            treatment=Summary(**stats.summary(t, prob)),
            lift_rel=Summary(**stats.summary(t / c - 1, prob)),
            prob_higher=stats.prob_greater(t, c),
        )
    return RevenueParts(arm=treatment, vs=control, **parts)


def prior_influence(metric: Metric, stats_, prior: Prior, draws) -> float | None:
    """How much the prior narrows the arms' values.

    The largest ratio of posterior to prior spread of an arm's mean (near 0: the data decide; near
    1: the prior does).
    """
    if isinstance(prior, BetaPrior):
        a, b = prior.alpha, prior.beta
        prior_sd = np.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
    elif isinstance(prior, NormalPriorRecord):
        prior_sd = prior.mu_sd
    else:
        return None
    if not np.isfinite(prior_sd) or prior_sd <= 0:
        return 0.0
    first = next(iter(draws.values()))
    # The prior is on the log scale where there is one (for a hurdle, the amount's log mean).
    key = next(k for k in ("mu", "log_mu", "value") if k in first)
    return float(max(np.std(d[key]) for d in draws.values()) / prior_sd)


# --------------------------------------------------------------------------- sensitivity


def sceptical(metric: Metric, stats_, arms: list[str], scale: float) -> Priors:
    """A sceptical prior.

    Every arm's mean near the pooled mean, within ``scale`` of it (relative), so that only data can
    make the arms differ. A hurdle model's mean is the share with a positive value times the
    amount among them, ``exp(mu + sigma^2 / 2)``: the share's log gets ``scale / sqrt(2)``,
    ``mu`` and ``sigma^2 / 2`` each ``scale / 2``, so that their product is within ``scale``
    (a flat prior on the share and a free spread left the revenue lift unshrunk, review
    finding 6).
    """
    pooled_n = sum(stats_[a]["n"] for a in arms)
    if metric.kind == "binary":
        alpha, beta = _sceptical_beta(sum(stats_[a]["sum"] for a in arms), pooled_n, scale)
        return Priors(alpha=alpha, beta=beta)
    if metric.kind in ("log", *HURDLE_KINDS):
        logs = {a: log_moments(stats_[a]) for a in arms}
        pooled = _pooled(logs)
        if metric.kind == "log":
            return Priors(mu_mean=pooled.mean, mu_sd=scale)
        share = _sceptical_beta(sum(stats_[a]["npos"] for a in arms), pooled_n, scale / np.sqrt(2))
        var = max(pooled.var, 1e-12)
        return Priors(
            mu_mean=pooled.mean,
            mu_sd=scale / 2,
            sigma=float(np.sqrt(var)),
            sigma2_rel_sd=scale / var,
            share_alpha=share[0],
            share_beta=share[1],
        )
    pooled = _pooled({a: moments(stats_[a]) for a in arms})
    return Priors(mu_mean=pooled.mean, mu_sd=max(scale * abs(pooled.mean), 1e-12))


def _sceptical_beta(successes: float, n: float, scale: float) -> tuple[float, float]:
    """A Beta prior at the pooled rate with a relative spread of ``scale``."""
    # Kept inside (0, 1): every unit converting (or none) still needs a proper Beta.
    p = successes / n
    p = min(max(p, 0.5 / n), 1 - 0.5 / n)
    sd = scale * p
    strength = max(p * (1 - p) / sd**2 - 1, 2.0)
    return float(p * strength), float((1 - p) * strength)


def flat(metric: Metric) -> Priors:
    """The flattest prior: Beta(1, 1) rates, or the reference prior of a mean."""
    return Priors(alpha=1.0, beta=1.0) if metric.kind == "binary" else Priors(mu_sd=1e12)


# --------------------------------------------------------------------------- segments
