"""How long until a decision: the chance that more data settle an undecided A/B test.

At the traffic seen so far (units per day, from the first-exposure times), each simulation

1. draws every arm's true value from its current posterior,
2. simulates the mean of the data the next ``h`` days would bring (normal, with the spread per
   unit implied by the current posterior: ``sd(value) * sqrt(n)``),
3. updates each arm's posterior with those data (a normal approximation of the exact update),
4. applies the readout's own decision rule to the updated comparisons.

The share of simulations that reach a verdict other than "keep collecting" is the chance of a
clear answer within ``h`` days. This is the posterior predictive distribution of the future
verdict: the chance is calibrated when the model is right (checked on simulated experiments in
the tests). Only the primary metric is forecast; guardrails can still hold a ship back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from analyses.ab_test.data import ArmData
from analyses.ab_test.decide import Many, verdicts
from analyses.ab_test.results import Forecast, Horizon, Metric
from analyses.ab_test.spec import Spec
from analyses.core import stats
from analyses.core.base import Settings

HORIZONS = (7, 14, 28)
#: Verdicts that are not a decision: more data needed, or the planned end without a winner.
UNDECIDED = ("keep_collecting", "no_clear_difference")
SIMULATIONS = 2000
SECONDS_PER_DAY = 86_400.0
#: Less than this much exposure history gives no trustworthy rate of new units.
MIN_DAYS = 1.0


def read_end(as_of: str | None) -> float:
    """The moment (epoch seconds) the data were read up to; NaN when unknown.

    An as-of day (``2026-11-30``) ends at the next midnight UTC; an as-of moment is itself.
    """
    if not as_of:
        return float("nan")
    from datetime import UTC, datetime, timedelta

    if len(as_of) == 10:
        moment = datetime.fromisoformat(as_of).replace(tzinfo=UTC) + timedelta(days=1)
    else:
        moment = datetime.fromisoformat(as_of.replace("Z", "+00:00"))
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.timestamp()


def traffic(
    first: float, last: float, units: int, end: float = float("nan")
) -> dict[str, Any] | None:
    """Units per day from the first exposure up to when the data were read (epoch seconds).

    The days counted run to ``end``, the moment the data were read as of, when it is later
    than the last exposure: days without exposures are traffic too (none), so an experiment
    whose exposures stopped is not forecast at the rate it once had.
    """
    if not (np.isfinite(first) and np.isfinite(last)) or units <= 0:
        return None
    days = (max(last, end) if np.isfinite(end) else last) - first
    days /= SECONDS_PER_DAY
    if days < MIN_DAYS:
        return None
    return {"units_per_day": units / days, "days": days, "first": first, "last": last}


def shares(verdict: np.ndarray) -> dict[str, float]:
    """Each verdict's share of the simulated readouts, in the verdicts' order."""
    names, counts = np.unique(verdict, return_counts=True)
    return {str(v): int(k) / verdict.size for v, k in zip(names, counts, strict=True)}


def normal_comparison(
    arm: str,
    vs: str,
    control: tuple[np.ndarray, np.ndarray],
    treatment: tuple[np.ndarray, np.ndarray],
    direction: float,
    prob: float,
) -> dict[str, np.ndarray | str]:
    """A comparison's decision numbers when both arms' values are normal (arrays of them).

    ``prob_better`` is P(direction * (t - c) > 0); the relative lift's interval is the delta
    method's; the expected loss E[max(direction * (c - t), 0)] is the normal's closed form.
    """
    from scipy.special import ndtr, ndtri

    (mc, sc), (mt, st) = control, treatment
    mu, sd = direction * (mt - mc), np.hypot(st, sc)
    z = mu / sd
    density = np.exp(-0.5 * z**2) / np.sqrt(2 * np.pi)
    loss = sd * density - mu * ndtr(-z)
    rel = mt / mc - 1
    rel_sd = np.sqrt(st**2 / mc**2 + mt**2 * sc**2 / mc**4)
    half = ndtri(0.5 + prob / 2) * rel_sd
    return {
        "arm": arm,
        "vs": vs,
        "prob_better": ndtr(z),
        "expected_loss_rel": loss / np.abs(mc),
        "low": rel - half,
        "high": rel + half,
    }


def forecast(
    draws: dict[str, dict[str, np.ndarray]],
    units: dict[str, float],
    arms: list[str],
    direction: float,
    rate: float,
    prob: float,
    verdict_of: Callable[[Many], np.ndarray],
    rng: np.random.Generator,
    horizons: tuple[int, ...] = HORIZONS,
    simulations: int = SIMULATIONS,
    rule_at: Callable[[int], tuple[float, Callable]] | None = None,
) -> list[Horizon]:
    """Per horizon (days): the chance of each verdict after that much more data.

    ``verdict_of`` is the readout's decision rule applied to every simulated readout's
    comparisons at once (:class:`~analyses.ab_test.decide.Many`, one column a simulation):
    their verdicts. ``rule_at``, for a planned experiment, gives per horizon the
    units that will have counted by then (none exposed after the planned end) and the rule
    that look will apply (the sequential one); ``no_clear_difference`` (the planned end
    without a winner) is not a decision here.
    """
    total = sum(units[a] for a in arms)
    post = {}
    for a in arms:
        value = draws[a]["value"]
        mean, sd = float(np.mean(value)), float(np.std(value))
        post[a] = (value, mean, sd, sd * np.sqrt(units[a]))
    out = []
    for days in horizons:
        added, decide_of = (rate * days, verdict_of) if rule_at is None else rule_at(days)
        updated = {}
        for a in arms:
            value, mean, sd, per_unit = post[a]
            n_future = max(added, 1e-9) * units[a] / total
            truth = value[rng.integers(value.size, size=simulations)]
            seen = truth + per_unit / np.sqrt(n_future) * rng.standard_normal(simulations)
            precision = 1 / sd**2 + n_future / per_unit**2
            new_mean = (mean / sd**2 + seen * n_future / per_unit**2) / precision
            updated[a] = (new_mean, np.full(simulations, 1 / np.sqrt(precision)))
        comparisons = [
            normal_comparison(a, arms[0], updated[arms[0]], updated[a], direction, prob)
            for a in arms[1:]
        ]
        verdict = decide_of(
            Many(
                prob_better=np.array([c["prob_better"] for c in comparisons]),
                expected_loss_rel=np.array([c["expected_loss_rel"] for c in comparisons]),
                low=np.array([c["low"] for c in comparisons]),
                high=np.array([c["high"] for c in comparisons]),
            )
        )
        counts = shares(verdict)
        out.append(
            Horizon(
                days=days,
                units=float(added),
                prob_decision=1.0 - sum(counts.get(v, 0.0) for v in UNDECIDED),
                verdicts=counts,
            )
        )
    return out


def forecast_primary(
    spec: Spec,
    data: ArmData,
    draws: dict,
    primary: Metric,
    settings: Settings,
    progress: dict | None = None,
    look: dict | None = None,
) -> Forecast | None:
    """For an undecided randomised test: the chance of a verdict after 7, 14 and 28 more days.

    Needs first-exposure times (a warehouse experiment) spanning at least a day. With it, the
    expected loss of stopping now and keeping the control (relative to the control's value; that
    of shipping is the comparison's own ``expected_loss_rel``). A planned experiment
    (``progress`` and the sequential ``look``) is forecast up to its planned end only, with
    the evidence each future look will need (:func:`analyses.ab_test.planned.rule_ahead`).
    """
    if spec.observational or spec.aa_test or primary.status != "keep_collecting":
        return None
    if progress is not None and progress["at_end"]:
        return None  # the planned end has been reached: the verdict stands
    if any(c.lift_rel is None for c in primary.comparisons):
        return None  # the forecast simulates relative lifts; a control at 0 has none
    exposures = data.exposures or {}
    from analyses.ab_test.data import traffic_warnings

    # Traffic that has stopped (``no_recent_traffic``) brings no more data: the forecast is then
    # one conditional on traffic resuming at the rate it had while it ran (review finding 2),
    # and the report says so; the quiet days would only dilute that rate.
    end = float("nan") if traffic_warnings(data) else read_end(data.until or data.as_of)
    rate = traffic(
        exposures.get("first_exposure", float("nan")),
        exposures.get("last_exposure", float("nan")),
        exposures.get("units", 0) - exposures.get("multiple_arms", 0),
        end,
    )
    if rate is None:
        return None
    metric = data.metrics[0]
    units = {a: data.stats[metric.name][a]["units"] for a in data.arms}

    def verdict_of(many: Many) -> np.ndarray:
        return verdicts(many, spec.decision, False, metric.higher_is_better)[0]

    rng = np.random.default_rng(settings.seed + 2)
    ahead, rule_at = HORIZONS, None
    if look is not None:
        from analyses.ab_test.planned import rule_ahead

        waiting = sum(data.stats[metric.name][a].get("waiting", 0.0) for a in data.arms)
        ahead, rule_at = rule_ahead(spec, metric, look, rate["units_per_day"], waiting)
    horizons = forecast(
        draws,
        units,
        data.arms,
        metric.direction,
        rate["units_per_day"],
        settings.ci_prob,
        verdict_of,
        rng,
        horizons=ahead,
        rule_at=rule_at,
    )
    headline = max(primary.comparisons, key=lambda c: c.prob_better)
    c, t = draws[data.arms[0]]["value"], draws[headline.arm]["value"]
    d = metric.direction
    return Forecast(
        **rate,
        horizons=horizons,
        loss_keep=stats.expected_loss(d * t, d * c) / abs(float(np.mean(c))),
        simulations=SIMULATIONS,
    )
