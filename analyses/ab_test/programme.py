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
from analyses.ab_test.results import AbDecision, AbResults, Comparison
from analyses.ab_test.spec import Spec
from analyses.core import programme as pg
from analyses.core.results import MISSING, Diagnostics, Summary


def estimate(comparison: Comparison, ci_prob: float) -> tuple[float, float] | None:
    """A comparison's ``(y, s)`` on the log scale from its HDI of the relative lift.

    ``None`` where it has no relative lift (a control at 0) or an interval reaching -100%.
    """
    from scipy.special import ndtri

    lift = comparison.lift_rel
    if lift is None or lift.hdi[0] <= -1 or not lift.hdi[1] > lift.hdi[0]:
        return None
    low, high = np.log1p(lift.hdi)
    return float((low + high) / 2), float((high - low) / (2 * ndtri((1 + ci_prob) / 2)))


def expected_loss(post: pg.Mixture, direction: float) -> float:
    """``E[max(-direction * lift, 0)]`` of a single mixture over ``z = log(1 + lift)``: exact."""
    from scipy.special import ndtr

    w, m, s = np.ravel(post.weights), np.ravel(post.means), np.ravel(post.sds)
    grow = np.exp(m + s**2 / 2)
    if direction > 0:  # loss where the lift is negative: E[(1 - e^z) 1{z < 0}]
        parts = ndtr(-m / s) - grow * ndtr(-(m + s**2) / s)
    else:  # lower is better: loss where it rises, E[(e^z - 1) 1{z > 0}]
        parts = grow * ndtr((m + s**2) / s) - ndtr(m / s)
    return float(max(np.sum(w * parts), 0.0))


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
