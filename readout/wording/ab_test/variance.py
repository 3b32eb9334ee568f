"""Words for a user's prior on the lift, a ratio's CUPED and post-stratification (issue 27)."""

from __future__ import annotations

from analyses.ab_test import judgement
from analyses.ab_test.results import AbBundle, Metric
from analyses.core.results import given
from readout.wording.ab_test.common import lift_text, units_word
from readout.wording.numbers import capital, relative


def prior_phrase(metric: Metric) -> str:
    """``a lift of +1% give or take 2%``: the user's prior as the config states it."""
    prior = metric.user_prior
    mean = f"{100 * prior.mean:+.4g}%".replace("-", "−")
    return f"a lift of {mean} give or take {100 * prior.sd:.4g}%"


def prior_label(metric: Metric) -> str:
    """The sensitivity table's row: ``Your prior (+0% ± 5%)``."""
    prior = metric.user_prior
    mean = f"{100 * prior.mean:+.4g}%".replace("-", "−")
    return f"your prior ({mean} ± {100 * prior.sd:.4g}%)"


def user_prior_sentence(bundle: AbBundle, metric: Metric) -> str:
    """The "Your prior: ..." sentence: what the prior did, and its precedence."""
    prior = metric.user_prior
    name = metric.label
    head = (
        f"Your prior: before these data you expected {prior_phrase(metric)} in {name} "
        "(prior_mean and prior_sd in the config, read as a normal prior on log(1 + lift))."
    )
    if not prior.applied:
        return (
            head + f" It is not applied: {name}'s lift relative to the control is not defined "
            "here (an arm's value may be 0 or below), so the lift is read from the data alone."
        )
    primary = metric.name == bundle.metrics[0].name
    precedence = (
        " It takes precedence over the programme's learned prior, which is not applied to "
        "this experiment."
        if primary
        else ""
    )
    own = next((c for c in metric.without_prior if c.arm == bundle.primary), None)
    read = next((c for c in metric.comparisons if c.arm == bundle.primary), None)
    if own is None or read is None or own.lift_rel is None or read.lift_rel is None:
        return head + precedence
    return (
        head + f" With it, {read.arm}'s lift is {lift_text(bundle, metric, read)}; "
        f"from the data alone it would be {lift_text(bundle, metric, own)}." + precedence
    )


def post_stratified_sentence(bundle: AbBundle, metric: Metric, as_if_more) -> str:
    """What post-stratifying on a segment is worth, applied or beside CUPED."""
    found = metric.post_stratified
    segment = found.segment
    worth = relative(found.variance_reduction, 0, False)
    if not found.applied:
        cuped = (
            relative(metric.variance_reduction, 0, False)
            if given(metric.variance_reduction)
            else "its share"
        )
        return (
            f"Post-stratifying {metric.label} by {segment} instead would have removed {worth} "
            f"of its variance, beside the {cuped} CUPED removes (the readout uses CUPED)."
        )
    sentence = (
        f"{capital(metric.label)} is post-stratified by {segment}: each arm's value is the "
        f"average of its {found.strata} per-{segment} means, each weighted by that "
        f"{segment}'s share of all {units_word(bundle)}, which removes {worth} of its "
        "variance without changing what is compared, "
        f"{as_if_more(bundle, found.variance_reduction)}."
    )
    if given(metric.unadjusted):
        plain = next((c for c in metric.unadjusted if c.arm == bundle.primary), None)
        if plain is not None:
            sentence += (
                f" Not post-stratified, the lift would be {lift_text(bundle, metric, plain)}."
            )
    return sentence


def prior_notes(bundle: AbBundle) -> list[str]:
    """The "Your prior" note of every metric with one (the primary's first)."""
    return [user_prior_sentence(bundle, m) for m in bundle.metrics if given(m.user_prior)]


def strata_notes(bundle: AbBundle, as_if_more) -> list[str]:
    """What post-stratification is worth, for every metric it was worked out for."""
    return [
        post_stratified_sentence(bundle, m, as_if_more)
        for m in bundle.metrics
        if given(m.post_stratified)
    ]


def strata_model_sentences(bundle: AbBundle) -> list[str]:
    """How a post-stratified primary metric's arms are read (beside the arms' prior)."""
    found = bundle.metrics[0].post_stratified
    if not (given(found) and found.applied):
        return []
    return [
        f"Post-stratified by {found.segment}, each arm's value is instead a normal "
        f"approximation (the per-{found.segment} means weighted by their shares, and its "
        "standard error) combined with that prior's mean and spread."
    ]


def prior_model_sentences(bundle: AbBundle) -> list[str]:
    """The user's prior on the primary lift: what it is, its precedence, how much it weighs."""
    primary = bundle.metrics[0]
    prior = primary.user_prior
    if not (given(prior) and prior.applied):
        return []
    sentence = (
        f"The arms' prior aside, your prior on the lift ({prior_phrase(primary)}, normal on "
        "log(1 + lift)) reads each treatment's lift over the control; it takes precedence "
        "over the programme's learned prior, and the flat and sceptical rows below read the "
        "data without it."
    )
    own = next((c for c in primary.without_prior if c.arm == bundle.primary), None)
    read = next((c for c in primary.comparisons if c.arm == bundle.primary), None)
    ratio = judgement.prior_narrowing(own, read) if own and read else None
    if ratio is not None:
        sentence += (
            f" It weighs here: the lift's interval is {ratio:.1f} times narrower with it than "
            "from the data alone."
            if judgement.prior_weighs(ratio)
            else " It weighs little here: the lift's interval is about as wide with it as "
            "from the data alone."
        )
    return [sentence]
