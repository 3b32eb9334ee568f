"""An A/B readout read with the programme's learned prior: numbers and the verdict.

The learned prior itself is fitted in :mod:`analyses.core.programme` from the primary-metric
lifts of the programme's finished experiments. Here an A/B readout's primary comparisons are
read with it: each comparison's estimate of ``log(1 + lift)`` and its SE come from its own
(weak-prior) HDI of the relative lift, the normal approximation on the log scale, where the
posterior of a ratio is closest to normal; the programme posterior is that likelihood times
the learned prior (a mixture of normals, so every number is an exact sum but the HDI, read
off its distribution function). The verdict is the analysis's own :func:`decide`, given the
primary comparisons' programme numbers instead of their own.
"""

from __future__ import annotations

import numpy as np

from analyses.ab_test.decide import decide
from analyses.ab_test.programme_results import ProgrammeLift
from analyses.ab_test.results import AbDecision, AbResults, Comparison, Forecast, Horizon
from analyses.ab_test.spec import Spec
from analyses.core import programme as pg
from analyses.core.results import MISSING, Diagnostics, Summary


def estimate(comparison: Comparison, ci_prob: float) -> tuple[float, float] | None:
    """A comparison's ``(y, s)`` on the log scale from its HDI of the relative lift.

    ``None`` where it has no relative lift (a control at 0) or an interval reaching -100%.
    """
    from analyses.core.stats import normal_quantile

    lift = comparison.lift_rel
    if lift is None or lift.hdi[0] <= -1 or not lift.hdi[1] > lift.hdi[0]:
        return None
    low, high = np.log1p(lift.hdi)
    return float((low + high) / 2), float((high - low) / (2 * normal_quantile((1 + ci_prob) / 2)))


def expected_loss(post: pg.Mixture, direction: float) -> float:
    """``E[max(-direction * lift, 0)]`` of a single mixture over ``z = log(1 + lift)``: exact."""
    one = pg.Mixture(np.ravel(post.weights)[None, :], np.ravel(post.means), np.ravel(post.sds))
    return float(_loss_rows(one, direction)[0])


def read_with(
    prior: pg.Mixture, comparison: Comparison, direction: float, ci_prob: float
) -> ProgrammeLift | None:
    """One comparison's programme numbers, or ``None`` where it has no usable estimate."""
    found = estimate(comparison, ci_prob)
    if found is None:
        return None
    y, s = found
    numbers = pg.posterior(prior, y, s, direction, ci_prob)
    post = pg.update(pg.Mixture(np.atleast_2d(prior.weights), prior.means, prior.sds), y, s)
    return ProgrammeLift(
        mean=numbers["mean"],
        hdi=tuple(numbers["hdi"]),
        prob_better=min(max(numbers["prob_better"], 0.0), 1.0),
        expected_loss_rel=expected_loss(post, direction),
    )


def as_decided(comparison: Comparison) -> Comparison:
    """A comparison as the verdict reads it with the programme: its programme numbers."""
    found = comparison.programme
    if found is MISSING:
        return comparison
    return comparison.model_copy(
        update={
            "prob_better": found.prob_better,
            "expected_loss_rel": found.expected_loss_rel,
            "lift_rel": Summary(mean=found.mean, hdi=found.hdi),
            "programme": found.model_copy(update={"alone_hdi": comparison.lift_rel.hdi})
            if comparison.lift_rel is not None
            else found,
        }
    )


def read_by_programme(results: AbResults) -> AbResults:
    """The results as a verdict with the programme reads them: primary comparisons replaced.

    Only the primary metric's comparisons (and the headline copies of them) change.
    """
    primary = results.metrics[0]
    metric = primary.model_copy(
        update={"comparisons": tuple(as_decided(c) for c in primary.comparisons)}
    )
    return results.model_copy(
        update={
            "metrics": (metric, *results.metrics[1:]),
            "comparisons": tuple(as_decided(c) for c in results.comparisons),
        }
    )


def decide_with(
    spec: Spec, results: AbResults, diagnostics: Diagnostics, use_programme: bool
) -> AbDecision:
    """The verdict from the primary comparisons' own numbers or their programme numbers.

    The analysis's :func:`~analyses.ab_test.decide.decide` either way: only the primary
    metric's comparisons change; guardrails and health checks read as they are.
    """
    read = read_by_programme(results) if use_programme else results
    return decide(spec, read, diagnostics)


def _loss_rows(post: pg.Mixture, direction: float) -> np.ndarray:
    """:func:`expected_loss` of each row's mixture (rows x components weights).

    Higher is better: the loss where the lift is negative, ``E[(1 - e^z) 1{z < 0}]``; lower
    is better: the loss where it rises, ``E[(e^z - 1) 1{z > 0}]``.
    """
    from scipy.special import ndtr

    w, m, s = post.weights, post.means, post.sds  # broadcast in the sums below
    grow = np.exp(m + s**2 / 2)
    if direction > 0:
        parts = ndtr(-m / s) - grow * ndtr(-(m + s**2) / s)
    else:
        parts = grow * ndtr((m + s**2) / s) - ndtr(m / s)
    return np.maximum(np.sum(w * parts, axis=1), 0.0)


def forecast_with(
    prior: pg.Mixture,
    spec: Spec,
    results: AbResults,
    forecast: Forecast,
    rng: np.random.Generator,
) -> Forecast:
    """The days-to-decision forecast of a readout decided with the programme's prior.

    The same horizons, units and decision rule as the readout's own forecast
    (:func:`analyses.ab_test.forecast.forecast_primary`; a planned test's sequential rule
    at each look, :func:`analyses.ab_test.planned.rule_ahead`), but every simulation reads
    the primary comparisons as the verdict does: each comparison's true ``log(1 + lift)``
    is drawn from its programme posterior (the learned prior times its own estimate), the
    next ``h`` days bring an estimate of it with the SE shrunk by ``sqrt(n_now / n_added)``,
    and the rule reads the programme posterior of all the data (the prior times both
    estimates): its exact probability of being better and expected loss, and the interval
    of a normal matched to its mean and sd on the log scale (an approximation of its HDI).
    ``loss_keep`` is the programme posterior's expected loss of keeping the control.
    """
    from scipy.special import ndtri

    from analyses.ab_test.decide import Many, verdicts
    from analyses.ab_test.forecast import UNDECIDED, shares
    from analyses.ab_test.planned import look_of, rule_ahead

    primary = results.metrics[0]
    direction = 1.0 if primary.higher_is_better else -1.0
    ci_prob = results.ci_prob
    simulations = forecast.simulations
    found = [(c.arm, estimate(c, ci_prob)) for c in primary.comparisons]
    found = [(arm, e) for arm, e in found if e is not None]
    if not found:
        return forecast
    prior2 = pg.Mixture(np.atleast_2d(prior.weights), prior.means, prior.sds)
    n_now = float(sum(a.n for a in primary.arms))
    rate = forecast.units_per_day

    def verdict_of(many: Many) -> np.ndarray:
        return verdicts(many, spec.decision, False, primary.higher_is_better)[0]

    look = look_of(spec, results)
    rule_at = None
    if look is not None:
        waiting = float(getattr(primary, "waiting", 0) or 0)
        _, rule_at = rule_ahead(spec, primary, look, rate, waiting)
    half = ndtri(0.5 + ci_prob / 2)
    horizons = []
    # Each comparison's programme posterior today: the same at every horizon.
    posts = {arm: pg.update(prior2, np.array([y]), np.array([s])) for arm, (y, s) in found}
    for h in forecast.horizons:
        added, decide_of = (rate * h.days, verdict_of) if rule_at is None else rule_at(h.days)
        read = []
        for arm, (y, s) in found:
            post = posts[arm]
            truth = pg.draw_mixture(post, simulations, rng)[:, 0]
            s_new = s * np.sqrt(n_now / max(added, 1e-9))
            seen = truth + s_new * rng.standard_normal(simulations)
            precision = 1 / s**2 + 1 / s_new**2
            y_all = (y / s**2 + seen / s_new**2) / precision
            # Every simulation has the same SE: the prior's one row of weights and one SE
            # (the posterior's sds computed once, not once a simulation).
            after = pg.update(prior2, y_all, np.array([1 / np.sqrt(precision)]))
            m, sd = after.means, after.sds  # broadcast in the sums below
            z_mean = np.sum(after.weights * m, axis=1)
            z_sd = np.sqrt(
                np.maximum(np.sum(after.weights * (sd**2 + m**2), axis=1) - z_mean**2, 0)
            )
            read.append(
                (
                    pg.chance_better(after, np.full(simulations, direction)),
                    _loss_rows(after, direction),
                    np.expm1(z_mean - half * z_sd),
                    np.expm1(z_mean + half * z_sd),
                )
            )
        prob_better, loss, low, high = (np.array(column) for column in zip(*read, strict=True))
        verdict = decide_of(Many(np.clip(prob_better, 0.0, 1.0), loss, low, high))
        counts = shares(verdict)
        horizons.append(
            Horizon(
                days=h.days,
                units=float(added),
                prob_decision=1.0 - sum(counts.get(v, 0.0) for v in UNDECIDED),
                verdicts=counts,
            )
        )
    headline = next((e for arm, e in found if arm == results.primary), found[0][1])
    post = pg.update(prior2, np.array([headline[0]]), np.array([headline[1]]))
    return forecast.model_copy(
        update={"horizons": tuple(horizons), "loss_keep": expected_loss(post, -direction)}
    )


#: The size of lift whose prior chance the model section quotes (either way).
BEYOND = 0.10


def applied_prior(prior: pg.Mixture, ci_prob: float) -> dict:
    """The numbers of the prior a readout is read with (``AppliedPrior``), from that mixture."""
    w = np.ravel(prior.weights)
    keep = w > 0
    one = pg.Mixture(w, np.ravel(prior.means), np.ravel(prior.sds))
    inside = one.cdf(np.log1p(np.array([-BEYOND, BEYOND])))
    # The sds of the components holding 99% of the weight (0.5% on either side left out).
    order = np.argsort(one.sds[keep])
    sds, cum = one.sds[keep][order], np.cumsum(w[keep][order]) / w[keep].sum()
    return {
        "normals": int(keep.sum()),
        "sd_low": float(sds[np.searchsorted(cum, 0.005)]),
        "sd_high": float(sds[min(np.searchsorted(cum, 0.995), sds.size - 1)]),
        "hdi": tuple(one.lift_hdi(ci_prob)),
        "beyond": BEYOND,
        "prob_beyond": float(min(max(1 - (inside[1] - inside[0]), 0.0), 1.0)),
    }
