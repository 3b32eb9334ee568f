"""Gaussian mixtures: data from several sub-populations.

Model (:mod:`analyses.mixture.model`): ``weights ~ Dirichlet(1, ..., 1)``, component means
with an ordered transform (so components keep their labels), standard deviations
half-normal, and the observations from the mixture with the memberships marginalised out
(``NormalMixture``, no per-observation categorical variable). Priors are scaled to the data.
With a list of component counts, each is fitted and compared by PSIS-LOO
(``analyses/loo.py``; subsampled for many rows).

Every count is first fitted by EM from several starts (:mod:`analyses.mixture.em`). A count
whose best fit is no better by AIC than a smaller count's (by more than the margin LOO
would need) is redundant: its extra component is empty or copies another, and it is not
sampled. The others are computed by Pareto-smoothed importance sampling from the EM modes'
Laplace approximations, or by NUTS where Pareto k rejects that
(:mod:`analyses.mixture.posterior`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from analyses.core import stats
from analyses.core.base import Fit, Settings
from analyses.core.results import MISSING, Diagnostics, KeyNumbers, Summary
from analyses.mixture.model import PARAMS, log_likelihood, membership, parameters, priors
from analyses.mixture.results import (
    Assignment,
    Component,
    CountCompared,
    MixturePrior,
    MixtureResults,
    Observed,
    Redundant,
    SubsampledLikelihood,
    Subsampling,
)
from analyses.mixture.spec import Spec

#: An observation is confidently assigned when one component has at least this probability.
CONFIDENT = 0.9
#: A component whose weight is below this is reported as nearly empty.
NEARLY_EMPTY = 0.02
#: Posterior draws used for each observation's membership probabilities: this many, or for
#: more than 20,000 observations as many as make MEMBERSHIP_CELLS draws x observations (at
#: least 100: with that much data the probabilities vary little from draw to draw).
MEMBERSHIP_DRAWS = 500
MEMBERSHIP_CELLS = 10_000_000


def _draws(post: Any) -> dict[str, np.ndarray]:
    """Each of :data:`~analyses.mixture.model.PARAMS` as (draws, components), chains pooled."""
    return {
        n: post[n].stack(s=("chain", "draw")).transpose("s", "component").values for n in PARAMS
    }


def pointwise_blocks(y: np.ndarray, post: Any, block: int) -> Iterator[np.ndarray]:
    """The pointwise log-likelihood (draws x observations) of ``block`` observations at a time.

    For PSIS-LOO, which never needs all of it at once: 4,000 draws of 100,000 observations
    would take 3.2 GB.
    """
    draws = _draws(post)
    for start in range(0, len(y), block):
        yield log_likelihood(y[start : start + block], *(draws[n] for n in PARAMS))


#: Above this many values, PSIS-LOO reads this many drawn at random (:func:`analyses.core.loo.
#: loo_subsample`), and every value's log-likelihood at the posterior means for the rest.
LOO_SUBSAMPLE_ABOVE = 5000
LOO_ROWS = 1000


def _compare(posteriors: dict[int, Any], y: np.ndarray, seed: int) -> list[CountCompared]:
    """PSIS-LOO comparison of the fitted component counts, best ELPD first."""
    from analyses.core import loo

    found = {}
    rows = None
    if len(y) > LOO_SUBSAMPLE_ABOVE:
        rng = np.random.default_rng([seed, 0])
        rows = np.sort(rng.choice(len(y), LOO_ROWS, replace=False))
    for k, post in posteriors.items():
        r_eff = loo.relative_efficiency({name: v.values for name, v in post.data_vars.items()})
        if rows is None:
            found[k] = loo.loo(pointwise_blocks(y, post, loo.BLOCK), r_eff)
            continue
        draws = _draws(post)
        means = [draws[n].mean(axis=0)[None, :] for n in PARAMS]
        found[k] = loo.loo_subsample(
            log_likelihood(y[rows], *(draws[n] for n in PARAMS)),
            log_likelihood(y, *means)[0],
            rows,
            r_eff,
        )
    return [
        CountCompared.model_validate({"components": row.pop("name"), **row})
        for row in loo.compare(found)
    ]


#: A larger model must beat a smaller one by more than this many ELPD points (or two
#: standard errors of the difference) to be preferred.
ELPD_MARGIN = 4.0


def choose(comparison: Sequence[CountCompared]) -> int:
    """The smallest component count whose ELPD is within the margin of the best.

    Subsampled comparisons count the subsampling's standard error into the difference's.
    """
    close = [
        row.components
        for row in comparison
        if -row.elpd_diff <= max(ELPD_MARGIN, 2 * float(np.hypot(row.dse, _subsampling_dse(row))))
    ]
    return min(close)


def _subsampling_dse(row: CountCompared) -> float:
    """The standard error subsampling added to a difference (0 when every value was read)."""
    return 0.0 if row.subsampling_dse is MISSING else row.subsampling_dse


def elpd_aic(log_lik: float, k: int) -> float:
    """AIC's estimate of the ELPD: the maximised log-likelihood minus the parameters."""
    return log_lik - parameters(k)


def redundant(k: int, best: dict[int, float]) -> Redundant | None:
    """Whether ``k`` components are no better than the best smaller count already fitted.

    ``best`` maps each fitted count to its maximised log-likelihood. ``k`` is redundant when
    AIC's estimate of its ELPD beats theirs by no more than :data:`ELPD_MARGIN`, the margin
    PSIS-LOO would need before preferring it: then its extra component is empty or copies
    another (its weight's posterior piles at zero, or two components share one cluster), a
    posterior neither importance sampling nor NUTS computes quickly, and PSIS-LOO would
    keep the smaller count anyway. AIC charges an empty or copied component its full three
    parameters where PSIS-LOO charges only what the data pin down, so AIC leans to the
    smaller count by up to three: the two can disagree only for a count whose gain lies
    within that of the margin (the shapes in the tests recover their true counts).
    Returns the numbers behind that judgement, or ``None``.
    """
    smaller = [j for j in best if j < k]
    if not smaller:
        return None
    rival = max(smaller, key=lambda j: elpd_aic(best[j], j))
    gain = elpd_aic(best[k], k) - elpd_aic(best[rival], rival)
    if gain > ELPD_MARGIN:
        return None
    return Redundant(
        components=k,
        compared_with=rival,
        log_lik_gain=best[k] - best[rival],
        parameters_added=parameters(k) - parameters(rival),
        elpd_aic_gain=gain,
        margin=ELPD_MARGIN,
    )


def _posteriors(y: np.ndarray, counts: list[int], settings: Settings):
    """Each count's posterior and checks, redundant counts left out.

    Returns ``(posteriors, checks, subsampled, left_out)``: by fitted count its posterior,
    its checks and (when its likelihood was subsampled) the error that added; then the
    counts judged redundant (:func:`redundant`).
    """
    from analyses.mixture import em, posterior

    z = (y - y.mean()) / (y.std() or 1.0)
    solutions = {k: em.fit(z, k, np.random.default_rng([settings.seed, k, 1])) for k in counts}
    posteriors, checks, subsampled, left_out = {}, {}, {}, []
    for k in counts:
        judged = redundant(k, {j: solutions[j][0].log_lik for j in [*posteriors, k]})
        if judged is not None:
            left_out.append(judged)
            continue
        found = posterior.by_importance(y, k, solutions[k], settings)
        if found is None:
            posteriors[k], checks[k] = posterior.by_nuts(y, k, solutions[k][0], settings)
        else:
            posteriors[k], checks[k], subsampled[k] = found
    return posteriors, checks, subsampled, left_out


def fit(spec: Spec, y: np.ndarray, settings: Settings) -> Fit[MixtureResults]:
    """Fit each component count; summarise the one PSIS-LOO prefers."""
    y = np.asarray(y, dtype=float)
    posteriors, checks, subsampled, left_out = _posteriors(y, spec.counts, settings)
    comparison = _compare(posteriors, y, settings.seed) if len(posteriors) > 1 else []
    chosen = choose(comparison) if comparison else next(iter(posteriors))
    post = posteriors[chosen]
    diagnostics = Diagnostics.model_validate(checks[chosen])
    names = ["mu", "sigma"] + (["weight"] if chosen > 1 else [])
    prior = priors(y)
    prob = settings.ci_prob
    flat = _draws(post)
    components = [
        Component(
            component=i,
            label=spec.component_labels[i] if i < len(spec.component_labels) else None,
            weight=Summary.model_validate(stats.summary(flat["weight"][:, i], prob)),
            mean=Summary.model_validate(stats.summary(flat["mu"][:, i], prob)),
            sd=Summary.model_validate(stats.summary(flat["sigma"][:, i], prob)),
        )
        for i in range(chosen)
    ]
    chain_means = post["mu"].mean("draw").values  # chains x components
    spread = post["mu"].std(("chain", "draw")).values
    label_switching = bool(np.any(np.ptp(chain_means, axis=0) > 3 * np.maximum(spread, 1e-12)))
    many = max(100, min(MEMBERSHIP_DRAWS, MEMBERSHIP_CELLS // len(y)))
    thin = np.linspace(0, flat["mu"].shape[0] - 1, min(many, flat["mu"].shape[0]))
    thin = thin.round().astype(int)
    member = membership(y, flat["weight"][thin], flat["mu"][thin], flat["sigma"][thin])
    best = member.max(axis=1)
    warnings = []
    empty = [c.component for c in components if c.weight.mean < NEARLY_EMPTY]
    if empty and chosen > 1:
        warnings.append(
            {
                "code": "nearly_empty_component",
                "count": len(empty),
                "components": [i + 1 for i in empty],
                "threshold": NEARLY_EMPTY,
            }
        )
    if label_switching or diagnostics.r_hat_max > stats.R_HAT_MAX:
        warnings.append(
            {"code": "multimodal_posterior", "count": 1, "r_hat_max": diagnostics.r_hat_max}
        )
    import pandas as pd
    import xarray as xr

    table = pd.DataFrame({"row": np.arange(len(y)) + 2, "value": y})
    for i in range(chosen):
        table[f"p_component_{i + 1}"] = member[:, i]
    most_likely = member.argmax(axis=1)
    table["most_likely"] = most_likely + 1
    results = MixtureResults(
        value_label=spec.value_label or spec.value,
        unit_label=spec.unit_label,
        n=int(len(y)),
        prior=MixturePrior(**prior),
        chosen_components=chosen,
        components=tuple(components),
        comparison=tuple(comparison),
        redundant=tuple(left_out),
        subsampled=_subsampling(subsampled.get(chosen), comparison),
        label_switching=label_switching,
        assignment=Assignment(
            threshold=CONFIDENT,
            confident=int((best >= CONFIDENT).sum()),
            ambiguous=int((best < CONFIDENT).sum()),
            per_component=tuple(
                int(((most_likely == i) & (best >= CONFIDENT)).sum()) for i in range(chosen)
            ),
        ),
        observed=Observed(
            min=float(y.min()),
            max=float(y.max()),
            mean=float(y.mean()),
            sd=float(y.std(ddof=1)),
        ),
    )
    tree = xr.DataTree.from_dict({"posterior": post[names]})
    return Fit(
        results=results,
        posterior=tree,
        diagnostics=diagnostics,
        warnings=warnings,
        tables={"membership": table},
    )


def _subsampling(
    likelihood: SubsampledLikelihood | None, comparison: Sequence[CountCompared]
) -> Subsampling | None:
    """What was computed from a subset of the values, and the error it adds; ``None``: nothing.

    ``likelihood``: the reported count's importance weights read the log-likelihood of
    ``rows`` of ``of`` values (checked against the exact one at ``checked_draws`` draws:
    largest error ``error_max``, log scale). ``loo_rows``: PSIS-LOO read that many values,
    adding at most ``loo_dse_max`` to a difference's standard error.
    """
    sub = [r.subsampling_dse for r in comparison if r.subsampling_dse is not MISSING]
    if likelihood is None and not sub:
        return None
    return Subsampling(
        likelihood=likelihood,
        loo_rows=LOO_ROWS if sub else None,
        loo_dse_max=max(sub) if sub else None,
    )


def key_numbers(results: MixtureResults) -> KeyNumbers:
    """The numbers a history of readouts follows: the largest component's mean."""
    largest = max(results.components, key=lambda c: c.weight.mean)
    return KeyNumbers(
        quantity="largest_mean",
        components=results.chosen_components,
        unit=results.unit_label,
        scale="value",
        mean=largest.mean.mean,
        hdi=largest.mean.hdi,
        prob=None,
        n=results.n,
    )
