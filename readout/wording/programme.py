"""Words for the programme: a readout's two estimates in one sentence, and the programme page.

Reads only the bundle's ``programme`` and ``programme_prior`` fields (and, for the page, the
numbers :mod:`readout.programme` computed); computes no statistics.
"""

from __future__ import annotations

from typing import Any

from analyses.core.results import given
from readout.wording.numbers import (
    a_prob,
    capital,
    estimate,
    interval,
    prob,
    rel_places,
    relative,
    signed,
    span,
)

#: What each ``decided_with`` says of the verdict.
DECIDED = {
    "programme": "The verdict reads the estimate given the programme ([programme] decide_with = "
    '"programme"); on its own the verdict would be {alone}.',
    "alone": 'The verdict reads the estimate on its own ([programme] decide_with = "alone").',
}
#: Why the weak prior stayed.
WEAK = {
    "too_few_experiments": (
        "The prior stays weak: {experiments} finished experiment(s) share this primary "
        "metric's kind ({kind}), and the programme's prior is learned from {minimum}."
    ),
}


def _pct(summary: Any, places: int) -> str:
    return f"{relative(summary.mean, places)} ({span(summary.hdi, signed(relative), places)})"


def sentences(bundle: Any, labels: dict[str, str] | None = None) -> list[str]:
    """The headline comparison on its own and given the programme, and which one decided.

    "On its own, B's lift in purchase rate is +4.1% (94% HDI +0.3% to +7.9%); given this
    programme's 38 experiments, +1.9% (-0.4% to +4.6%)." None for a bundle without the
    programme's fields (an older readout, or ``prior = "weak"`` in the config).
    """
    found = bundle.programme_prior if hasattr(bundle, "programme_prior") else None
    if found is None or not given(found):
        return []
    if found.prior == "weak":
        return [WEAK[found.reason_code].format(**found.model_dump())]
    metric = bundle.metrics[0]
    labels = labels or {}
    out = []
    for comp in metric.comparisons:
        if not given(comp.programme) or comp.lift_rel is None:
            continue
        places = max(rel_places(comp.lift_rel), rel_places(comp.programme))
        arm = labels.get(comp.arm, comp.arm)
        out.append(
            f"On its own, {arm}'s lift in {metric.label} is "
            f"{estimate(bundle, comp.lift_rel, signed(relative), places)}; given this "
            f"programme's {found.experiments} experiments, {_pct(comp.programme, places)}, "
            f"with {a_prob(comp.programme.prob_better)} chance of being better."
        )
    verdict_words = found.alone_verdict.replace("_", " ")
    out.append(DECIDED[found.decided_with].format(alone=f'"{verdict_words}"'))
    return out


def learned_prior_sentence(prior: dict[str, Any], ci: str) -> str:
    """The learned prior in words: where a new experiment's true lift most likely lies."""
    pred = prior["predictive"]
    places = max(1, rel_places(pred))
    df = prior.get("df")
    tails = (
        "normal tails"
        if df is None
        else f"fat tails (a Student-t with {df:g} degrees of freedom: rare big wins and losses)"
    )
    return (
        f"Learned from {prior['experiments']} finished experiments: a new experiment's true "
        f"lift is most likely near {relative(pred['median'], places)}, with a {ci} of "
        f"{span(pred['hdi'], signed(relative), places)} and {tails}; "
        f"{prob(pred['prob_positive'])} of changes help at all."
    )


def loo_sentence(check: dict[str, Any], ci_prob: float) -> str:
    """The leave-one-out check in words: how well the prior predicted each experiment."""
    share = f"{round(100 * ci_prob)}%"
    fits = check["ks_p_value"] >= 0.05 and abs(check["held"] - check["expected"]) <= max(
        2.0, 2 * (check["expected"] * (1 - ci_prob)) ** 0.5
    )
    verdict = (
        "The prior fits this programme."
        if fits
        else "The prior fits this programme poorly: read its estimates with care."
    )
    lean = ""
    if check["above"] > check["below"] + 1:
        lean = " More estimates fell above their interval than below: bigger wins than it allows."
    elif check["below"] > check["above"] + 1:
        lean = " More estimates fell below their interval than above: more losses than it allows."
    return (
        f"Each finished experiment's estimate predicted from the others: {check['held']} of "
        f"{check['experiments']} fell inside their {share} predictive interval (about "
        f"{check['expected']:.0f} expected), {check['below']} below and {check['above']} above; "
        f"a test of the spread of where they fell gives p = {check['ks_p_value']:.2f}. "
        f"{verdict}{lean}"
    )


def impact_sentence(impact: dict[str, Any], ci: str) -> str:
    """The cumulative expected impact of shipped changes, beside the sum of raw winners."""
    places = 1
    hdi = span(impact["hdi"], signed(relative), places)
    return capital(
        f"the {impact['experiments']} shipped change(s) together move the metric by "
        f"{relative(impact['mean'], places)} ({ci} {hdi}), "
        f"given the programme; their own estimates compound to "
        f"{relative(impact['alone'], places)}, the winners' curse the programme corrects."
    )


__all__ = ["impact_sentence", "interval", "learned_prior_sentence", "loo_sentence", "sentences"]
