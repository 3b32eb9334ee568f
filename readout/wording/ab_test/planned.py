"""Words of a planned A/B test read every day (issue 21): progress, waiting units, the rule.

"Day 9 of 28, 33% of the planned users"; "early looks need stronger evidence: 99.99% today,
97.5% on day 28"; "no clear difference after the planned 28 days: the lift is between -0.8%
and +1.1%". Every number comes from the typed bundle (``progress``, each metric's
``waiting``, the decision's ``sequential`` numbers); nothing here decides.
"""

from __future__ import annotations

from analyses.ab_test.results import AbBundle
from readout.wording.ab_test.common import (
    comparison_of,
    deciding_label,
    metric_name,
    share_text,
    units_word,
)
from readout.wording.numbers import (
    a_prob,
    between,
    capital,
    day_text,
    field,
    interval,
    number,
    prob,
    rel_places,
    relative,
    signed,
    span,
)


def needed(p: float) -> str:
    """A threshold of evidence, exact to the hundredth of a point: 99.99%, 97.5%, 97%."""
    return f"{100 * p:.2f}".rstrip("0").rstrip(".") + "%"


def _days(n: float) -> str:
    n = float(n)
    shown = f"{n:g}"
    return f"{shown} day" if n == 1 else f"{shown} days"


def progress_line(bundle: AbBundle) -> str | None:
    """How far along the experiment is: "Day 9 of 28, 33% of the planned 42,000 users"."""
    p = field(bundle, "progress")
    if not p:
        return None
    units = units_word(bundle)
    if p.day > p.planned_days:
        head = f"Day {p.day}: the planned {p.planned_days} days ended on {day_text(p.end)}"
        if field(p, "read_until"):
            head += (
                ", and the verdict reads the data as they stood then (later data would only "
                "add looks the design did not plan for)"
            )
    elif p.day == p.planned_days:
        head = f"Day {p.day} of {p.planned_days}: the planned end"
    else:
        head = f"Day {p.day} of {p.planned_days} (the planned end is {day_text(p.end)})"
    if p.planned_units:
        share = relative(p.units / p.planned_units, 0, False)
        return (
            f"{head}, {share} of the planned {units} exposed: {p.units:,} of "
            f"{p.planned_units:,}.{_counted(bundle, p.units)}"
        )
    return f"{head}; {p.units:,} {units}" + ("." if p.at_end else " so far.")


def _counted(bundle: AbBundle, exposed: int) -> str:
    """The units the evidence bar counts where they differ from those exposed (review 10).

    A unit counts once its metric's window has closed; the bar's information fraction is of
    the units the planned end will count, not of those exposed.
    """
    look = field(bundle.decision, "sequential")
    if not look or not field(look, "units") or round(look.units) == exposed:
        return ""
    window = number(look.window_days, 0 if float(look.window_days).is_integer() else 1)
    return (
        f" The evidence bar counts the {round(look.units):,} whose {window}-day window has "
        f"closed: {relative(look.fraction, 0, False)} of those the planned end will count."
    )


def short_progress(bundle: AbBundle) -> str | None:
    """The site index's and the history's few words: "day 9 of 28, 33% of the planned users"."""
    p = field(bundle, "progress")
    if not p:
        return None
    if p.day > p.planned_days:
        return f"ended after the planned {p.planned_days} days"
    head = f"day {p.day} of {p.planned_days}"
    if p.planned_units:
        share = relative(p.units / p.planned_units, 0, False)
        return f"{head}, {share} of the planned {units_word(bundle)}"
    return head


def waiting_since(as_of: str | None, window_days: float) -> str | None:
    """The moment after which exposed units are still inside a window, in words.

    ``as_of`` is a day (its end is the cut) or a moment; "27 November 2026" for a day cut
    at midnight with a whole-day window, else the moment to the minute (UTC).
    """
    from datetime import datetime, timedelta

    if not as_of:
        return None
    try:
        moment = datetime.fromisoformat(as_of)
    except ValueError:
        return None
    if len(as_of) == 10:  # a day: read up to its end
        moment += timedelta(days=1)
    since = moment - timedelta(days=float(window_days))
    if since.hour == since.minute == since.second == 0:
        return day_text((since - timedelta(days=1)).date().isoformat())
    return f"{day_text(since.date().isoformat())} {since:%H:%M} UTC"


def _as_of_of(bundle: AbBundle) -> str | None:
    """What the windows were counted at: the planned end where the data were read as of it."""
    progress = field(bundle, "progress")
    return (field(progress, "read_until") if progress else None) or field(bundle, "as_of")


def waiting_sentence(bundle: AbBundle) -> str | None:
    """One sentence: units not counted yet because their window has not closed."""
    waiting = [m for m in bundle.metrics if field(m, "waiting")]
    if not waiting:
        return None
    primary = waiting[0]
    others = [m for m in waiting[1:] if m.waiting != primary.waiting]
    units = units_word(bundle)
    window = _days(primary.window_days)
    since = waiting_since(_as_of_of(bundle), primary.window_days)
    when = f"after {since} (the last {window})" if since else f"in the last {window}"
    progress = field(bundle, "progress")
    if progress and field(progress, "read_until") and field(progress, "at_end"):
        # Read as of the planned end (issue 21): these units will never count.
        end = day_text(field(progress, "read_until"))
        sentence = (
            f"{primary.waiting:,} {units} exposed {when} fall outside the planned period: "
            f"their {primary.window_days:g}-day window in the {metric_name(primary)} would "
            f"close after the planned end ({end}), and the data are read as of that end"
        )
        if others:
            sentence += "; " + "; ".join(
                f"{m.waiting:,} in the {metric_name(m)} ({_days(m.window_days)} window)"
                for m in others
            )
        return sentence + "."
    sentence = (
        f"{primary.waiting:,} {units} exposed {when} are not counted in the "
        f"{metric_name(primary)} yet: a {units_word(bundle, False)} counts once its "
        f"{primary.window_days:g}-day window has closed, so that no one is counted as not "
        "having converted before they had the time to"
    )
    if others:
        sentence += "; " + "; ".join(
            f"{m.waiting:,} in the {metric_name(m)} ({_days(m.window_days)} window)" for m in others
        )
    return sentence + "."


def rule_sentence(bundle: AbBundle) -> str | None:
    """What today's look needs, and the harm rule: the key sentence of a planned test."""
    look = field(bundle.decision, "sequential")
    if not look:
        return None
    harm = needed(look.harm.evidence_needed)
    if look.at_end:
        return (
            f"The planned end has been reached, so the fixed rule decides: a win needs "
            f"{needed(look.end_threshold)} (not {needed(look.fixed_threshold)}: the daily "
            f"looks before the end cost that much), and so does harm to a guardrail."
        )
    return (
        f"Early looks need stronger evidence: {needed(look.evidence_needed)} today, "
        f"{needed(look.end_threshold)} on day {look.planned_days} (the planned end), so "
        "that reading every day ships a change that does nothing no more often than one look "
        f"at the end would ({needed(look.alpha)} of the time). A guardrail harmed beyond "
        f"its tolerance stops the experiment on any day its chance of harm reaches {harm}."
    )


def reason(bundle: AbBundle) -> str | None:
    """The verdict's reason where the sequential rule made it; ``None``: the usual words."""
    decision = bundle.decision
    look = field(decision, "sequential")
    if not look:
        return None
    code = decision.reason_code
    primary = bundle.metrics[0]
    best = comparison_of(primary, bundle.primary)
    arm, vs = best.arm, best.vs
    if decision.verdict == "no_clear_difference":
        return no_clear_reason(bundle)
    if code == "sequential_boundary_not_reached":
        return (
            f"{arm} beats {vs} with {prob(best.prob_better)} probability, but early looks "
            f"need stronger evidence: {needed(look.evidence_needed)} today, "
            f"{needed(look.end_threshold)} on day {look.planned_days}."
        )
    if code == "not_enough_evidence":
        return (
            f"The most promising variant, {arm}, beats {vs} with "
            f"{prob(best.prob_better)} probability, short of the "
            f"{needed(look.evidence_needed)} "
            + ("the planned end needs." if look.at_end else "today's look needs.")
        )
    if code == "guardrail_harm":
        return (
            f"The guardrail {deciding_label(bundle)} shows harm beyond its "
            f"{relative(decision.tolerated_harm, 1, False)} tolerance with "
            f"{prob(decision.prob_harm)} probability, at least the "
            f"{needed(look.harm.evidence_needed)} that stops an experiment "
            + ("at its planned end." if look.at_end else "before its planned end.")
        )
    if code == "guardrail_unclear_at_end":
        return (
            f"{arm} beats {vs} on {metric_name(primary)} with {prob(best.prob_better)} "
            f"probability, but at the planned end the guardrail {deciding_label(bundle)} may "
            f"still be harmed beyond its {relative(decision.tolerated_harm, 1, False)} "
            f"tolerance ({prob(decision.prob_harm)} chance), so the control stays."
        )
    return None


def no_clear_reason(bundle: AbBundle) -> str:
    """The conclusion at the planned end without a winner, with the interval reached."""
    decision = bundle.decision
    look = decision.sequential
    primary = bundle.metrics[0]
    best = comparison_of(primary, bundle.primary)
    hdi = field(decision, "lift_rel_hdi")
    if hdi is None:
        chance = prob(best.prob_better)
        return (
            f"After the planned {look.planned_days} days {best.arm} beats {best.vs} "
            f"with {chance} probability, short of the {needed(look.evidence_needed)} a win "
            "needs: that is the experiment's conclusion."
        )
    places = rel_places(best.lift_rel) if best.lift_rel else 1
    return (
        f"The lift of {best.arm} over {best.vs} in {metric_name(primary)} is "
        f"{between(hdi, relative, places)} ({interval(bundle)}){_prior_share(bundle, best, places)}"
        ": a larger effect either way is ruled out, a smaller one is not. That is the "
        "experiment's conclusion; more data would only narrow the interval."
    )


def _prior_share(bundle: AbBundle, best, places: int) -> str:
    """How much of an interval read with the programme is its prior's (issue 21)."""
    from readout.wording import programme as programme_words

    lift = field(best, "programme")
    alone = field(lift, "alone_hdi") if lift else None
    if not programme_words.verdict_by_programme(bundle) or not alone:
        return ""
    found = bundle.programme_prior
    ci = interval(bundle)
    own = f"{ci} {span(alone, signed(relative), places)}"
    applied = field(found, "applied")
    prior = (
        f", the prior alone {ci} {span(applied.hdi, signed(relative), places)}" if applied else ""
    )
    return (
        f" given the programme's {found.experiments} experiments (on its own the data allow "
        f"{own}{prior})"
    )


def forecast_sentence(bundle: AbBundle) -> str:
    """Until a decision, for a planned test: clear answers by horizon, then the planned end.

    A "no clear difference" at the planned end is named as what it is, never counted as a
    clear answer.
    """
    result = bundle.forecast
    horizons = result.horizons
    from readout.wording.ab_test.notes import at_traffic

    look = bundle.decision.sequential
    left = look.planned_days - look.day
    parts = []
    for h in horizons:
        when = (
            f"by the planned end (day {look.planned_days})"
            if h.days >= left
            else f"within {h.days} more days"
        )
        parts.append(f"{prob(h.prob_decision)} {when}")
    end = horizons[-1]
    undecided = end.verdicts.get("no_clear_difference", 0.0)
    return (
        f"{at_traffic(bundle)}, none after the planned end) and with the evidence each "
        f"later look will need, there is {a_prob(horizons[0].prob_decision)} chance of a "
        "clear answer (ship or keep the control) "
        + ", ".join(p.split(" ", 1)[1] if i == 0 else p for i, p in enumerate(parts))
        + f"; otherwise the planned end concludes “no clear difference” "
        f"({prob(undecided)} chance). Stopping now and keeping {bundle.control} would give "
        f"up about {share_text(result.loss_keep, False)} of its "
        f"{metric_name(bundle.metrics[0])} on average."
    )


def history_prefix(bundle: AbBundle) -> str:
    """The history line's start for a planned test: "Day 9 of 28, 33% of the planned users: "."""
    short = short_progress(bundle)
    return capital(short) + ": " if short else ""
