"""Words for the programme: a readout's two estimates in one sentence, and the programme page.

Reads only the bundle's ``programme`` and ``programme_prior`` fields (and, for the page, the
numbers :mod:`readout.programme` computed); computes no statistics.
"""

from __future__ import annotations

import math
from typing import Any

from analyses.ab_test import judgement
from analyses.core.judgement import PRIOR_CONFLICT, conflict_class, prior_fit_class, prior_lean
from analyses.core.programme import MIN_EXPERIMENTS as MINIMUM
from analyses.core.results import given
from readout.wording.numbers import (
    a_prob,
    capital,
    day_text,
    estimate,
    interval,
    p_value,
    prob,
    rel_places,
    relative,
    signed,
    span,
)

#: What each ``decided_with`` says of the verdict.
DECIDED = {
    # No config key in a decision-maker's sentence (review finding 14).
    "programme": "The verdict reads the latter; on its own it would be {alone}.",
    "alone": "The verdict reads the former, as set for this programme.",
}
#: Which estimate decided, in a table cell.
DECIDED_SHORT = {
    "programme": "the verdict reads the programme's",
    "alone": "the verdict reads its own",
}
#: Why the weak prior stayed.
WEAK = {
    "too_few_experiments": (
        "The prior stays weak: {finished} {share} this primary metric's kind ({kind}); "
        "learning the programme's prior takes at least {minimum}."
    ),
}


def finished_experiments(count: int) -> str:
    """A count of finished experiments in words: "no finished experiments", "1 finished ..."."""
    if count == 0:
        return "no finished experiments"
    return f"{count} finished experiment" + ("" if count == 1 else "s")


def as_decided(bundle: Any) -> Any:
    """The bundle as its verdict read it: with the programme's numbers where they decided.

    The headline and its reason quote the numbers the verdict was made from. A withheld
    verdict read no lift: its bundle is the experiment's own.
    """
    if not judgement.verdict_by_programme(bundle):
        return bundle
    from analyses.ab_test.programme import read_by_programme

    return read_by_programme(bundle)


def _pct(summary: Any, places: int) -> str:
    return f"{relative(summary.mean, places)} ({span(summary.hdi, signed(relative), places)})"


def sentences(bundle: Any) -> list[str]:
    """The headline comparison on its own and given the programme, and which one decided.

    One sentence: "On its own, B's lift in purchase rate is +4.1% (94% HDI +0.3% to +7.9%);
    given this programme's 38 experiments, +1.9% (-0.4% to +4.6%); the verdict reads the
    latter." None for a bundle without the programme's numbers (an older readout,
    ``prior = "weak"``, or too few experiments: :func:`model_sentences` says why).
    """
    found = getattr(bundle, "programme_prior", None)
    if found is None or not given(found) or found.prior == "weak":
        return []
    metric = bundle.metrics[0]
    comp = next((c for c in metric.comparisons if c.arm == bundle.primary), None)
    if comp is None or not given(comp.programme) or comp.lift_rel is None:
        return []
    places = max(rel_places(comp.lift_rel), rel_places(comp.programme))
    verdict_words = found.alone_verdict.replace("_", " ")
    return [
        f"On its own, {comp.arm}'s lift in {metric.label} is "
        f"{estimate(bundle, comp.lift_rel, signed(relative), places)}; given this "
        f"programme's {found.experiments} experiments, {_pct(comp.programme, places)}. "
        + DECIDED[found.decided_with].format(alone=f'"{verdict_words}"')
    ] + conflict_sentences(bundle)


def _primary_programme(bundle: Any) -> Any:
    """The primary comparison with programme numbers, or ``None``."""
    found = getattr(bundle, "programme_prior", None)
    if found is None or not given(found) or found.prior == "weak":
        return None
    comp = next((c for c in bundle.metrics[0].comparisons if c.arm == bundle.primary), None)
    if comp is None or not given(comp.programme) or comp.lift_rel is None:
        return None
    return comp


def conflict_sentences(bundle: Any) -> list[str]:
    """A prior-data conflict in words (review finding 3).

    The experiment's own estimate far outside what the programme's prior expects
    (:func:`analyses.core.judgement.conflict_class`).
    """
    found = getattr(bundle, "programme_prior", None)
    comp = _primary_programme(bundle)
    if comp is None or conflict_class(found.conflict_p if given(found.conflict_p) else None) != (
        "conflict"
    ):
        return []
    places = max(rel_places(comp.lift_rel), rel_places(comp.programme))
    return [
        f"Its own {relative(comp.lift_rel.mean, places)} is far outside what the "
        f"programme's past experiments suggest ({prob(found.conflict_p)} chance under their "
        f"prior, below {PRIOR_CONFLICT:.0%}): if this change is unlike them, its own estimate "
        "may be the better guide."
    ]


def weak_arm_prior(bundle: Any, influence: float) -> str | None:
    """The model section's line on a weak arm prior where the programme's prior is set to decide.

    Each arm's prior is weak, but the lift's prior is the programme's and the verdict reads
    the lift given it: "the data decide" would not be true (review finding 3). A withheld
    verdict reads no lift (:func:`~analyses.ab_test.judgement.verdict_by_programme` is
    false): the line says what the prior does to the lift, not to a verdict.
    """
    comp = _primary_programme(bundle)
    if comp is None or not judgement.decided_by_programme(bundle):
        return None
    from readout.wording.numbers import number

    places = max(rel_places(comp.lift_rel), rel_places(comp.programme))
    times = number(math.floor(1 / influence) if influence > 0 else 1e6, 0)  # never more
    given, own = relative(comp.programme.mean, places), relative(comp.lift_rel.mean, places)
    weak = (
        f"Each arm's own prior is weak here: its posterior is more than {times} times narrower "
        "than that prior. The lift's prior, though, is the programme's, learned from past "
        "experiments"
    )
    if not judgement.verdict_by_programme(bundle):
        return f"{weak}: given it the lift is {given}, not the data's own {own}."
    return (
        f"{weak}, and it sets the verdict: the verdict reads the lift given it, {given}, "
        f"not the data's own {own}."
    )


def verdict_by_programme(bundle: Any) -> bool:
    """Whether the verdict read the programme's numbers, and the page has them to show.

    The rule of :func:`analyses.ab_test.judgement.verdict_by_programme` (never for a
    withheld verdict), where the programme's prior is not weak and its sentences exist.
    """
    return (
        judgement.verdict_by_programme(bundle)
        and bundle.programme_prior.prior != "weak"
        and bool(sentences(bundle))
    )


def verdict_line(bundle: Any) -> list[str]:
    """The verdict box's line of a verdict the programme decided: which estimate it read."""
    if not verdict_by_programme(bundle):  # never for a withheld verdict: it reads no lift
        return []
    metric = bundle.metrics[0]
    comp = next(c for c in metric.comparisons if c.arm == bundle.primary)
    places = max(rel_places(comp.lift_rel), rel_places(comp.programme))
    from analyses.ab_test.decide import stopped_by_guardrail

    if stopped_by_guardrail(bundle.decision):  # the guardrail decided, not the lift (review 4)
        return [
            f"A guardrail decides this verdict, not the primary metric's lift (given this "
            f"programme's {bundle.programme_prior.experiments} experiments "
            f"{relative(comp.programme.mean, places)}; on its own "
            f"{relative(comp.lift_rel.mean, places)})."
        ]
    return [
        f"The verdict reads the lift given this programme's "
        f"{bundle.programme_prior.experiments} experiments, "
        f"{relative(comp.programme.mean, places)}, not the experiment's own "
        f"{relative(comp.lift_rel.mean, places)}."
    ]


def given_chance(sentence: str, alone: float) -> str:
    """A chance sentence read with the programme, its own number beside it."""
    body = sentence[0].lower() + sentence[1:].rstrip(".")
    return f"Given the programme, {body} (on its own, {prob(alone)})."


def on_its_own(sentence: str, alone: bool) -> str:
    """A sentence of the experiment's own numbers, labelled so where the programme decided."""
    if not alone:
        return sentence
    return f"On its own, {sentence[0].lower()}{sentence[1:]}"


def history_words(bundle: Any) -> str:
    """What an index line says of a verdict the programme decided: its experiments."""
    if not verdict_by_programme(bundle):
        return ""
    return f" given the programme's {bundle.programme_prior.experiments} experiments"


def model_sentences(bundle: Any) -> list[str]:
    """For the model section: why the weak prior stayed, or the prior the programme taught."""
    found = getattr(bundle, "programme_prior", None)
    if found is None or not given(found):
        return []
    if found.prior == "weak":
        numbers = found.model_dump()
        count = int(numbers.get("experiments") or 0)
        finished, share = finished_experiments(count), "shares" if count == 1 else "share"
        return [WEAK[found.reason_code].format(**numbers, finished=finished, share=share)]
    dumped = found.model_dump(mode="json")
    if "applied" in dumped:
        return [applied_prior_sentence(dumped, interval(bundle))] + conflict_sentences(bundle)
    return [learned_prior_sentence(dumped, interval(bundle))]


def applied_prior_sentence(prior: dict[str, Any], ci: str) -> str:
    """The prior this readout was read with, in words: the mixture actually applied (issue 22).

    Its family (a mixture of normals on ``log(1 + lift)``), its interval and the chance of a
    lift beyond ±10% all come from ``programme_prior.applied``, computed from that mixture.
    """
    applied = prior["applied"]
    hdi = applied["hdi"]
    places = max(1, rel_places({"hdi": hdi}))
    spread = prior_shape(applied)
    beyond = relative(applied["beyond"], 0, False)
    return (
        f"The prior on the lift is learned from {prior['experiments']} finished experiments: "
        f"{spread} on the log scale of the lift. Before this experiment's data it puts a "
        f"new experiment's true lift in {span(hdi, signed(relative), places)} ({ci}) and gives "
        f"a lift beyond ±{beyond} either way a {prob(applied['prob_beyond'])} chance."
    )


def prior_shape(applied: dict[str, Any]) -> str:
    """The shape of an applied prior (``programme_prior.applied``).

    The one description the readouts and the programme page give (review finding 14).
    """
    if applied["normals"] == 1:
        return f"a normal with an sd of {relative(applied['sd_low'], 1, False)}"
    return (
        "a mixture of normals (fatter-tailed than any one of them), its components' sds "
        f"mostly from {relative(applied['sd_low'], 1, False)} to "
        f"{relative(applied['sd_high'], 1, False)}"
    )


def learned_prior_sentence(prior: dict[str, Any], ci: str) -> str:
    """The learned prior in words: where a new experiment's true lift most likely lies.

    With ``applied`` (the mixture a running readout applies) its shape is said as the
    readouts say it, and its chance of a lift beyond ±10%.
    """
    pred = prior["predictive"]
    places = max(1, rel_places(pred))
    df = prior.get("df")
    tails = (
        "normal tails"
        if df is None
        else f"fat tails (a Student-t with {df:g} degrees of freedom: rare big wins and losses)"
    )
    applied = prior.get("applied")
    if applied:
        beyond = relative(applied["beyond"], 0, False)
        return (
            f"Learned from {prior['experiments']} finished experiments: "
            f"{prior_shape(applied)} on the log scale of the lift. A new experiment's true lift "
            f"is most likely near {relative(pred['median'], places)}, with a {ci} of "
            f"{span(pred['hdi'], signed(relative), places)}; "
            f"{prob(pred['prob_positive'])} of changes help at all, and a lift beyond "
            f"±{beyond} either way has a {prob(applied['prob_beyond'])} chance."
        )
    return (
        f"Learned from {prior['experiments']} finished experiments: a new experiment's true "
        f"lift is most likely near {relative(pred['median'], places)}, with a {ci} of "
        f"{span(pred['hdi'], signed(relative), places)} and {tails}; "
        f"{prob(pred['prob_positive'])} of changes help at all."
    )


def own_readouts_sentence(experiments: int, members: list[dict[str, Any]]) -> str:
    """Why a finished experiment's readout counts one experiment fewer (review finding 5).

    A finished experiment whose readout is on this site is one of the prior's experiments,
    but its own readout reads the prior learned from the others.
    """
    own = [m["past"].title for m in members if m["past"].source == "config"]
    if not own:
        return ""
    names, n = ", ".join(own), experiments - 1
    if len(own) == 1:
        return (
            f" {names} has finished, and its own readout reads the prior learned from the "
            f"other {n} (so its pages count {n})."
        )
    return (
        f" {names} have finished, and each one's readout reads the prior learned from the "
        f"other {n} (so their pages count {n})."
    )


OTHER_SIDE = {"above": "below", "below": "above"}


def loo_sentence(check: dict[str, Any], ci_prob: float) -> str:
    """The leave-one-out check in words: how well the prior predicted each experiment."""
    share = f"{round(100 * ci_prob)}%"
    fits = prior_fit_class(check["ks_p_value"], check["held"], check["expected"], ci_prob) == "fits"
    verdict = (
        "The prior fits this programme."
        if fits
        else "The prior fits this programme poorly: read its estimates with care."
    )
    side = prior_lean(check["above"], check["below"])
    if fits:  # a lean within what chance allows: said, but not as a misfit
        lean = (
            f" More estimates fell {side} their interval than {OTHER_SIDE[side]}, within what "
            "chance allows."
            if side
            else ""
        )
    else:
        lean = {
            "above": " More estimates fell above their interval than below: bigger wins than it "
            "allows.",
            "below": " More estimates fell below their interval than above: more losses than it "
            "allows.",
            None: "",
        }[side]
    return (
        f"Each finished experiment's estimate predicted from the others: {check['held']} of "
        f"{check['experiments']} fell inside their {share} predictive interval (about "
        f"{check['expected']:.0f} expected), {check['below']} below and {check['above']} above; "
        f"a test of the spread of where they fell gives p = {check['ks_p_value']:.2f}. "
        f"{verdict}{lean}"
    )


def impact_sentence(impact: dict[str, Any], ci: str, key: str = "") -> str:
    """The cumulative expected impact of shipped changes, beside the sum of raw winners.

    "The 5 changes shipped so far together move conversion rates by an expected +17.1% (94%
    HDI +2.6% to +30.3%), each read with the programme's prior; a 99% chance that together
    they help. Their own estimates compound to +44.6%: the winner's curse over-states the
    total by 27.5 percentage points, which the programme corrects." ``key`` is the pool's
    (``binary:higher``): what the metric is and which way is better.
    """
    places = 1
    n = impact["experiments"]
    kind, _, direction = key.partition(":")
    metric = KINDS.get(kind, "the metric")
    changes = _shipped_words(n, impact.get("running") or [])
    hdi = span(impact["hdi"], signed(relative), places)
    sentence = (
        f"{changes} {metric} by an expected {relative(impact['mean'], places)} ({ci} {hdi}), "
        f"{'read' if n == 1 else 'each read'} with the programme's prior"
    )
    chance = impact.get("prob_positive")
    if chance is not None and direction in ("higher", "lower"):
        helps = chance if direction == "higher" else 1.0 - chance
        sentence += (
            f"; {a_prob(helps)} chance that {'it helps' if n == 1 else 'together they help'}"
        )
    # The gap between the two totals as printed (rounded first, so the words add up).
    gap = (round(100 * impact["alone"], places) - round(100 * impact["mean"], places)) / 100
    own = "Its own estimate comes" if n == 1 else "Their own estimates compound"
    sentence += f". {own} to {relative(impact['alone'], places)}"
    if gap:  # the two totals print differently
        more = "over-states" if abs(impact["alone"]) > abs(impact["mean"]) else "under-states"
        sentence += (
            f": the winner's curse {more} the total by {abs(100 * gap):.{places}f} percentage "
            "points, which the programme corrects"
        )
    return sentence + "."


def _shipped_words(n: int, running: list[str]) -> str:
    """The subject of the impact sentence: which changes count as shipped.

    A running experiment with a Ship verdict is counted but said apart: its change is not
    known to be shipped ("The 4 changes shipped so far and 1 with a Ship verdict whose
    experiment is still running (Checkout redesign) together move").
    """
    done = n - len(running)
    if not running:
        return (
            "The change shipped so far moves"
            if n == 1
            else f"The {n} changes shipped so far together move"
        )
    names = ", ".join(running)
    still = (
        f"with a Ship verdict whose experiment is still running ({names})"
        if len(running) == 1
        else f"with a Ship verdict whose experiments are still running ({names})"
    )
    if done == 0:
        return f"The change {still} would move" if n == 1 else f"The {n} changes {still} would move"
    shipped = "The change shipped so far" if done == 1 else f"The {done} changes shipped so far"
    return f"{shipped} and {len(running)} {still} together move"


#: Where an experiment stands, as the page says it.
STAGES = {
    "decided": "Decided",
    "withheld": "Withheld",
    "collecting": "Keep collecting",
}
#: Kinds of primary metric, as a pool's heading names them.
KINDS = {
    "binary": "conversion rates",
    "continuous": "averages",
    "count": "counts per unit",
    "log": "typical values (log scale)",
    "lognormal": "skewed averages",
    "revenue": "revenue per unit",
    "ratio": "ratios",
    "quantile": "percentiles",
}
#: Verdicts of finished experiments in a history file.
PAST_VERDICTS = {
    "ship": "Shipped",
    "keep_control": "Kept the control",
    "no_difference": "No meaningful difference",
    "keep_collecting": "Ended without a verdict",
}


def attention_line(item: dict[str, Any]) -> str:
    """One thing that needs a look, in words."""
    code = item["code"]
    if code == "srm":
        p = item.get("p_value")
        return "Sample-ratio mismatch" + (f" ({p_value(p)})" if p is not None else "")
    if code == "health":
        checks = ", ".join(item.get("checks") or []) or "sampler checks"
        return f"Health check failed ({checks})"
    if code == "guardrail_harm":
        return f"Guardrail harm: {item['metric']}"
    if code == "prior_conflict":
        return f"Own estimate far outside the programme's prior ({prob(item['p_value'])} chance)"
    if code == "no_recent_traffic":
        return f"Stalled: no exposures since {day_text(item['since'])}"
    return f"Stalled: no new data since the readout of {item['since']}"


def stage_line(row: dict[str, Any]) -> str:
    """An experiment's stage, with its day of the plan where the bundle has ``progress``.

    Past its planned end a decided experiment has concluded: "Concluded after the planned 28
    days (ended 16 November 2026)", never "day 42 of 28".
    """
    words = STAGES[row["stage"]]
    progress = row.get("progress")
    if isinstance(progress, dict) and progress.get("planned_days"):
        day, planned = progress.get("day"), progress["planned_days"]
        if day is not None and day >= planned and row["stage"] == "decided":
            ended = progress.get("end")
            return f"Concluded after the planned {planned} days" + (
                f" (ended {day_text(ended)})" if ended and day > planned else ""
            )
        if day is not None and day > planned:
            return f"{words} · past its planned {planned} days"
        words += f" · day {day} of {planned}"
    return words


def lifts_line(found: dict[str, Any] | None, ci: str, withheld: bool = False) -> str:
    """The headline lift on its own and given the programme, or why there is none."""
    if found is None:
        return "—"
    prior = found["prior"]
    if prior["prior"] == "weak":
        why = (
            f"weak prior: {finished_experiments(prior['experiments'])} of its kind "
            f"({prior['minimum']} needed)"
        )
        if found.get("alone") and not withheld:  # its own lift, as the index shows it
            places = rel_places(found["alone"])
            return f"On its own {_pct_dict(found['alone'], places)} ({ci}; {why})"
        return capital(why)
    if "programme" not in found:
        return "—"
    if withheld:  # a withheld verdict reads no lift, the programme's or its own
        return "Withheld: no lift is read until the health checks pass"
    alone, given_ = found["alone"], found["programme"]
    places = max(rel_places(alone), rel_places(given_))
    decided = "" if withheld else f"; {DECIDED_SHORT[prior['decided_with']]}"
    return (
        f"On its own {_pct_dict(alone, places)}; given the programme {_pct_dict(given_, places)} "
        f"({ci}{decided})"
    )


def _pct_dict(summary: dict[str, Any], places: int) -> str:
    return f"{relative(summary['mean'], places)} ({span(summary['hdi'], signed(relative), places)})"


def pool_heading(key: str) -> str:
    """A pool's heading: the kind of its primary metrics and their good direction."""
    kind, direction = key.split(":")
    return f"{capital(KINDS.get(kind, kind))}, {direction} is better"


def page(context: dict[str, Any]) -> dict[str, Any]:
    """Every sentence and table row of the programme page."""
    from readout.wording.numbers import ci_label

    ci = ci_label(context["ci_prob"], "hdi")
    rows = []
    for row in context["experiments"]:
        entry = row["entry"]
        latest = entry["latest"]
        if latest is None:
            rows.append(
                {
                    "entry": entry,
                    "stage": "No readout yet",
                    "verdict": None,
                    "since": "—",
                    "attention": [],
                    "lifts": "—",
                }
            )
            continue
        since = " ".join(latest["since_last"]) or "First readout."
        rows.append(
            {
                "entry": entry,
                "stage": stage_line(row),
                # The verdict's badge where it decided (the stage says the rest).
                "verdict": latest["text"].verdict_label if row["stage"] == "decided" else None,
                "tone": latest["text"].tone,
                "since": since,
                "attention": [attention_line(a) for a in row["attention"]],
                "lifts": lifts_line(row["programme"], ci, row["stage"] == "withheld"),
            }
        )
    pools = []
    for pool in context["pools"]:
        out: dict[str, Any] = {"heading": pool_heading(pool["key"]), "fit": None}
        fit = pool["fit"]
        if fit is None:
            out["weak"] = (
                f"{finished_experiments(pool['finished']).capitalize()}: too few to learn a "
                "prior from "
                f"({MINIMUM} needed), so these readouts keep the weak prior."
            )
        else:
            members = []
            for m in fit["members"]:
                past = m["past"]
                places = 1
                members.append(
                    {
                        "title": past.title,
                        "ended": past.ended or "—",
                        "verdict": PAST_VERDICTS.get(past.verdict, past.verdict.replace("_", " ")),
                        "alone": relative(m["alone"], places),
                        "given": f"{relative(m['mean'], places)} "
                        f"({span(m['hdi'], signed(relative), places)})",
                    }
                )
            out["fit"] = {
                "prior": learned_prior_sentence(fit["prior"], ci)
                + own_readouts_sentence(fit["prior"]["experiments"], fit["members"]),
                "impact": impact_sentence(fit["impact"], ci, pool["key"])
                if fit["impact"]
                else "No shipped change yet: nothing to add up.",
                "loo": loo_sentence(fit["loo"], context["ci_prob"]),
                "members": members,
            }
        pools.append(out)
    return {"rows": rows, "pools": pools, "ci": ci}


__all__ = ["impact_sentence", "interval", "learned_prior_sentence", "loo_sentence", "sentences"]
