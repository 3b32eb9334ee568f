"""Notes of an ``ab_test`` readout.

How long until a decision, revenue in its two parts, CUPED, observational and ratio caveats.
"""

from __future__ import annotations

from collections.abc import Sequence

from analyses.ab_test.judgement import part_moved, reduction_worth
from analyses.ab_test.results import AbBundle, Horizon, Metric, Part
from analyses.core.results import given
from readout.wording.ab_test import variance
from readout.wording.ab_test.common import (
    lift_text,
    metric_name,
    metric_units,
    share_text,
    units_word,
)
from readout.wording.ab_test.quantile import quantile_note
from readout.wording.numbers import (
    a_prob,
    capital,
    decimals_for,
    estimate,
    field,
    number,
    prob,
    rel_places,
    relative,
    width,
)


def days_list(horizons: Sequence[Horizon]) -> str:
    """The forecast's horizons as words: "7, 14 and 28"."""
    days = [str(h.days) for h in horizons]
    return ", ".join(days[:-1]) + " and " + days[-1] if len(days) > 1 else days[0]


def stalled(bundle: AbBundle):
    """The ``no_recent_traffic`` warning when exposures have stopped (else ``None``)."""
    warnings = bundle.warnings if given(bundle.warnings) else ()
    return next((w for w in warnings if w.code == "no_recent_traffic"), None)


def at_traffic(bundle: AbBundle) -> str:
    """The forecast's traffic: the current one, or, when it has stopped, the one it had.

    A stalled experiment brings no more data; its forecast is conditional on traffic resuming
    at the rate it had while it ran (review finding 2).
    """
    rate = bundle.forecast.units_per_day
    about = f"about {number(rate, -1 if rate >= 100 else 0)} {units_word(bundle)} a day"
    stop = stalled(bundle)
    if stop is None:
        return f"At the current traffic ({about}"
    return (
        f"Traffic has stopped: no new {units_word(bundle)} since {stop.last_exposure}, so no "
        "more data are coming and the verdict stays as it is until assignment resumes. "
        f"If it resumes at the rate it had while it ran ({about}"
    )


def forecast_sentence(bundle: AbBundle) -> str:
    """How long until a decision at the current traffic, and what deciding now would cost."""
    if field(bundle.decision, "sequential"):
        from readout.wording.ab_test import planned

        return planned.forecast_sentence(bundle)
    result = bundle.forecast
    horizons = result.horizons
    chances = [f"{prob(h.prob_decision)} within {h.days}" for h in horizons[1:]]
    first = horizons[0]
    arm, control = bundle.primary, bundle.control
    metric = metric_name(bundle.metrics[0])
    return (
        f"{at_traffic(bundle)}), there is {a_prob(first.prob_decision)} chance of a "
        f"clear answer within {first.days} more days, "
        + (
            ", ".join(chances[:-1]) + " and " + chances[-1]
            if len(chances) > 1
            else "".join(chances)
        )
        + f" days. Stopping now and keeping {control} would give up about "
        f"{share_text(result.loss_keep, False)} of {control}'s {metric} on average, allowing "
        f"for the chance that {arm} is in fact better."
    )


def forecast_section(bundle: AbBundle) -> list[str]:
    """The HTML's "Until a decision" section: the forecast and how it is worked out."""
    result = field(bundle, "forecast")
    if not result:
        return []
    return [
        forecast_sentence(bundle),
        f"How this is worked out: {result.simulations:,} simulations each draw the true "
        "values from the current posterior, add the data the coming days would bring at the "
        + (
            f"traffic seen over the last {number(result.days, 0)} days"
            if stalled(bundle) is None
            else f"rate of the {number(result.days, 0)} days traffic ran"
        )
        + ", and apply this report's "
        "decision rule to the result"
        + (
            " (the evidence each later look will need; no traffic after the planned end)"
            if field(bundle.decision, "sequential")
            else ""
        )
        + ". It forecasts the primary metric only: a guardrail can still hold a ship back.",
    ]


def note_sentences(bundle: AbBundle) -> list[str]:
    """Notes below the key sentences: caveats, revenue's two parts, CUPED, ratios."""
    notes = []
    if bundle.observational:
        notes.append(
            "These groups were not assigned at random, so the comparison describes how the "
            "groups differ; it does not show that belonging to a group causes the difference."
        )
    for metric in bundle.metrics:
        if given(metric.variance_reduction):
            unadjusted = next(c for c in metric.unadjusted if c.arm == bundle.primary)
            notes.append(
                f"{capital(metric.label)} is adjusted for the same metric before exposure "
                + (
                    "(CUPED for a ratio: its numerator and its denominator each by their own "
                    "values before exposure)"
                    if metric.kind == "ratio"
                    else "(CUPED)"
                )
                + ": the adjustment removes "
                f"{relative(metric.variance_reduction, 0, False)} of its variance without "
                f"changing what is compared, {_as_if_more(bundle, metric.variance_reduction)}."
                f" Unadjusted, the lift would be {lift_text(bundle, metric, unadjusted)}."
            )
        if field(metric, "parts") and bundle.decision.verdict != "withheld":
            notes.append(revenue_sentence(bundle, metric, bundle.primary))
        if metric.kind == "ratio":
            notes.append(
                f"{capital(metric.label)} is a ratio of two per-unit sums; its intervals use "
                "the delta method, a normal approximation that is accurate with many units."
            )
        if metric.kind == "quantile":
            notes.append(quantile_note(bundle, metric))
    return variance.prior_notes(bundle) + notes + variance.strata_notes(bundle, _as_if_more)


def revenue_sentence(bundle: AbBundle, metric: Metric, arm: str) -> str:
    """Revenue per unit in its two parts: who paid, and how much those who paid spent."""
    parts = next(p for p in metric.parts if p.arm == arm)
    vs = parts.vs
    threshold = bundle.decision.thresholds.min_prob_better
    units = units_word(bundle)
    paying, per_payer = parts.paying, parts.per_payer

    def moved(part: Part, more: str, less: str, same: str) -> str:
        said = {"higher": more, "lower": less, "same": same}
        return said[part_moved(part.prob_higher, threshold)]

    money = metric_units(metric)
    amount_places = money.places(width(per_payer.treatment))
    share_places = decimals_for(100 * width(paying.treatment))
    rate = lambda x: number(100 * x, share_places) + "%"  # noqa: E731
    verdict = (
        moved(paying, f"more {units} paid", f"fewer {units} paid", "about as many paid")
        + "; "
        + moved(
            per_payer,
            "those who paid spent more",
            "those who paid spent less",
            "those who paid spent about the same",
        )
    )
    if bundle.observational:
        verdict = verdict.replace("more ", "a higher share of ").replace(
            "fewer ", "a lower share of "
        )
    return (
        f"{capital(metric.label)} has two parts. The share of {units} who paid: "
        f"{rate(paying.treatment.mean)} for {arm} against "
        f"{rate(paying.control.mean)} for {vs}, a relative difference of "
        f"{estimate(bundle, paying.lift_rel, relative, rel_places(paying.lift_rel))}. "
        f"The average amount among those who paid: "
        f"{money.value(per_payer.treatment.mean, amount_places)} against "
        f"{money.value(per_payer.control.mean, amount_places)}, "
        f"{estimate(bundle, per_payer.lift_rel, relative, rel_places(per_payer.lift_rel))}. "
        f"In short: {verdict}."
    )


def _as_if_more(bundle: AbBundle, reduction: float) -> str:
    """What a variance reduction is worth in units: the interval of a larger experiment."""
    worth, gain = reduction_worth(reduction)
    if worth == "none":
        return "so the interval is about as wide as without it"
    units = units_word(bundle)
    more = (
        f"{relative(gain, 0, False)} more {units}"
        if worth == "more"
        else f"{number(1 + gain, 1 if gain < 9 else 0)} times as many {units}"
    )
    return f"so the interval is as narrow as if the experiment had {more}"
