"""What a row of a page reads as beside the readout's verdict: one rule each, here.

``decide`` gives the verdict; the pages also show the primary metric's own status (the
scorecard) and its verdict under other priors (the sensitivity table). Both are the primary
metric's rule alone, which a guardrail can overrule and a failed health check withholds: read
through these functions, no row contradicts the verdict above it. When the programme's
numbers decide (``decide_with = "programme"``), the primary row reads as the verdict did.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from analyses.ab_test.decide import STOPPABLE, stopped_by_guardrail
from analyses.ab_test.results import AbDecision, Arm, Comparison
from analyses.core.results import given

#: A covariate that removes less than this share of the variance leaves the interval about
#: as wide as without it (the width changes by under 0.25%).
NEGLIGIBLE_REDUCTION = 0.005
#: A user's prior weighs on a lift when its interval is at least this many times narrower
#: with the prior than from the data alone.
PRIOR_WEIGHS = 1.1


#: Below this p-value a passed sample-ratio check (it fails below ``SRM_ALPHA``, 0.001) is a
#: split chance gives rarely enough to keep an eye on: not "no sign" of a broken split.
SRM_UNEVEN = 0.10


def srm_uneven(p_value: float | None) -> bool:
    """Whether a sample-ratio check's p-value, passed or not, is below :data:`SRM_UNEVEN`."""
    return p_value is not None and p_value < SRM_UNEVEN


def decided_by_programme(bundle: Any) -> bool:
    """Whether the programme's prior was set to decide the verdict, whatever the verdict.

    ``decide_with = "programme"`` with the programme's numbers in the bundle. A withheld
    verdict read no lift, so this is not "the verdict read the programme's lift": that is
    :func:`verdict_by_programme`. Use this one only for what the setting does to the lift
    (the prior it is read under), not for what it did to the verdict.
    """
    found = getattr(bundle, "programme_prior", None)
    return found is not None and given(found) and found.decided_with == "programme"


def verdict_by_programme(bundle: Any) -> bool:
    """Whether the verdict read the lift given the programme's prior.

    The programme's prior was set to decide (:func:`decided_by_programme`) and the verdict is
    not withheld. Where this holds, a page may say the verdict reads the programme's lift,
    quote that lift as the one the verdict read and label the experiment's own numbers "on
    its own". A withheld verdict reads no lift, the programme's or the experiment's own: no
    sentence may say the programme's prior set it.
    """
    return decided_by_programme(bundle) and bundle.decision.verdict != "withheld"


def primary_status(status: str, decision: AbDecision, by_programme: bool = False) -> str:
    """The primary metric's status as its scorecard row shows it.

    ``withheld`` when the verdict is; ``better`` where the primary's rule would ship but a
    guardrail stopped the ship (the guardrail's row says why); otherwise the primary's
    status. When the programme's numbers decided, ``status`` is the primary's verdict on
    those numbers (:func:`programme_primary_verdict`), not the experiment's alone; without a
    guardrail's stop the row is the verdict.
    """
    if decision.verdict == "withheld":
        return "withheld"
    if stopped_by_guardrail(decision):
        return "better" if status == "ship" else status
    if by_programme:
        return decision.verdict
    return status


def programme_primary_verdict(bundle: Any) -> str:
    """The primary metric's verdict on the numbers the verdict read (the programme's).

    :func:`~analyses.ab_test.decide.comparisons_verdict` on the primary's programme numbers,
    at the decision's thresholds (a planned look's evidence needed today where it has one):
    what the primary said before a guardrail had its say.
    """
    from analyses.ab_test.decide import comparisons_verdict
    from analyses.ab_test.programme import read_by_programme

    decision = bundle.decision
    thresholds = decision.thresholds
    look = getattr(decision, "sequential", None)
    if look is not None and given(look):
        thresholds = thresholds.model_copy(update={"min_prob_better": look.evidence_needed})
    primary = read_by_programme(bundle).metrics[0]
    return comparisons_verdict(
        primary.comparisons, thresholds, bundle.observational, primary.higher_is_better
    )[0]


def guardrail_stop(verdict: str, guardrails: Iterable[str]) -> str:
    """A primary's verdict read through the guardrails' statuses, as ``decide`` reads one.

    ``keep_control`` when a guardrail harms beyond its tolerance (whatever the primary says,
    :data:`~analyses.ab_test.decide.STOPPABLE`), a ship ``keep_collecting`` when one may
    (not yet clear); any other verdict, or a ship with every guardrail ``ok``, as is.
    """
    statuses = set(guardrails)
    if "harm" in statuses and verdict in STOPPABLE:
        return "keep_control"
    if verdict != "ship":
        return verdict
    if "unclear" in statuses:
        return "keep_collecting"
    return verdict


def prior_verdict(verdict: str, decision: AbDecision, guardrails: Iterable[str] = ()) -> str:
    """The readout's verdict under another prior, from the primary metric's verdict under it.

    ``withheld`` when the verdict is (no prior mends a failed health check); a ship under
    that prior is stopped by the same guardrail (the prior is the primary metric's), or by
    any guardrail whose status (``guardrails``: harm, unclear, ok) would stop a ship; any
    other verdict is the primary metric's.
    """
    if decision.verdict == "withheld":
        return "withheld"
    if verdict == "ship" and stopped_by_guardrail(decision):
        return decision.verdict
    return guardrail_stop(verdict, guardrails)


def part_moved(prob_higher: float, min_prob_better: float) -> Literal["higher", "lower", "same"]:
    """A part of a revenue metric (who paid, how much payers spent) at the readout's bar.

    ``higher`` when it is at least ``min_prob_better`` likely to be higher, ``lower`` when
    that likely to be lower, otherwise ``same`` (about the same).
    """
    if prob_higher >= min_prob_better:
        return "higher"
    if prob_higher <= 1 - min_prob_better:
        return "lower"
    return "same"


def reduction_worth(reduction: float) -> tuple[Literal["none", "more", "times"], float]:
    """What a variance reduction is worth, as a code and the gain in units.

    The interval of the adjusted readout is as narrow as one with ``1 + gain`` times the
    units (``gain = r / (1 - r)``): ``none`` below :data:`NEGLIGIBLE_REDUCTION` (about as
    wide), ``more`` when the gain is under one (a share more units), ``times`` otherwise.
    """
    if reduction < NEGLIGIBLE_REDUCTION:
        return "none", 0.0
    gain = reduction / (1 - reduction) if reduction < 1 else float("inf")
    return ("more" if gain < 1 else "times"), gain


def short_of_split(arms: Iterable[Arm], expected: Iterable[float]) -> list[float]:
    """Each arm's units short of what the planned split of all units expects.

    ``expected``: the sample-ratio check's expected units per arm. Negative where an arm has
    more than its share.
    """
    return [e - a.n for a, e in zip(arms, expected, strict=False)]


def prior_narrowing(alone: Comparison, read: Comparison) -> float | None:
    """How many times narrower a lift's interval is with a user's prior than without it.

    ``alone``: the comparison from the data alone; ``read``: the one the readout reads, with
    the prior. ``None`` where either has no relative lift.
    """
    if alone.lift_rel is None or read.lift_rel is None:
        return None
    low, high = alone.lift_rel.hdi
    with_low, with_high = read.lift_rel.hdi
    return (high - low) / (with_high - with_low)


def prior_weighs(narrower: float) -> bool:
    """Whether a user's prior weighs on the lift (at least :data:`PRIOR_WEIGHS`).

    ``narrower``: how many times narrower the lift's interval is with the prior than from the
    data alone.
    """
    return narrower >= PRIOR_WEIGHS
