"""Gaussian mixtures: data from several sub-populations.

Model: ``weights ~ Dirichlet(1, ..., 1)``, component means with an ordered transform (so
components keep their labels across chains), standard deviations half-normal, and the
observations from the mixture with the memberships marginalised out (``NormalMixture``, no
per-observation categorical variable). Priors are scaled to the data. With a list of
component counts, each is fitted and compared by PSIS-LOO (``analyses/loo.py``).

Each count is first computed by Pareto-smoothed importance sampling from a Laplace
approximation (``analyses/importance.py``, the log-density in NumPy: :func:`log_density`).
Where Pareto k rejects the weights (on the demo, three components: their posterior is far
from normal), that count and every larger one are sampled with NUTS.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field, field_validator

from analyses.core import figures, stats
from analyses.core.base import (
    Analysis,
    BaseSpec,
    DataError,
    Fit,
    Settings,
    Tone,
    prior_data,
    sample,
    sampled,
)
from analyses.core.importance import HALF_LOG_2PI, half_normal_log_pdf_of_log, normal_log_pdf
from analyses.core.inputs import Column, Fetched, Request, Rows, RowsSource
from analyses.mixture_results import MixtureDecision, MixtureResults

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: An observation is confidently assigned when one component has at least this probability.
CONFIDENT = 0.9
#: A component whose weight is below this is reported as nearly empty.
NEARLY_EMPTY = 0.02
#: Observations needed per component.
MIN_ROWS_PER_COMPONENT = 10
#: Posterior draws used for each observation's membership probabilities.
MEMBERSHIP_DRAWS = 500


class Spec(BaseSpec, RowsSource):
    """Config keys of a ``mixture`` experiment."""

    analysis: Literal["mixture"]
    value: str
    components: int | list[int] = Field(2)
    value_label: str | None = None
    unit_label: str = "observation"
    component_labels: list[str] = []
    value_prefix: str = ""
    value_suffix: str = ""

    @field_validator("components")
    @classmethod
    def _positive(cls, value: int | list[int]) -> int | list[int]:
        counts = value if isinstance(value, list) else [value]
        if not counts or any(k < 1 or k > 10 for k in counts):
            raise ValueError("components must be a whole number from 1 to 10, or a list of them")
        twice = [k for i, k in enumerate(counts) if k in counts[:i]]
        if twice:
            raise ValueError(f"components lists {twice[0]} twice")
        return sorted(value) if isinstance(value, list) else value

    @property
    def counts(self) -> list[int]:
        """The component counts to fit."""
        return self.components if isinstance(self.components, list) else [self.components]


def request(spec: Spec) -> Request:
    """The value column, row by row (a mixture needs every value)."""
    return {"rows": Rows((Column("value", spec.value),))}


def load(
    spec: Spec, fetched: Fetched, files: Mapping[str, Path] | None = None
) -> tuple[np.ndarray, list[dict]]:
    """The values as an array of finite numbers.

    Raises
    ------
    DataError
        A constant column, or too few rows for the number of components (missing,
        non-numeric and non-finite values are refused by the engine's checks).
    """
    source = fetched.source
    y = fetched.parts["rows"][spec.value].astype(float)
    if np.unique(y).size < 2:
        raise DataError(
            source,
            f"column '{spec.value}' is constant ({y[0]:g} in every row): there is nothing to "
            "separate into groups",
            "check the column",
        )
    need = MIN_ROWS_PER_COMPONENT * max(spec.counts)
    if len(y) < need:
        raise DataError(
            source,
            f"{len(y)} rows are too few for {max(spec.counts)} components "
            f"(at least {MIN_ROWS_PER_COMPONENT} per component, so {need})",
            "collect more data or ask for fewer components",
        )
    return y, []


def priors(y: np.ndarray) -> dict[str, float]:
    """Weakly informative priors scaled to the data."""
    return {
        "mu_mean": float(np.mean(y)),
        "mu_sd": float(2 * np.std(y)),
        "sigma_scale": float(np.std(y)),
    }


#: A dense mass matrix: a mixture's means, spreads and weights are strongly correlated, and
#: adapting to that cuts the leapfrog steps per draw about fourfold (32 to 8 for three
#: components on the demo) and triples the effective sample size.
INIT = "adapt_full"
#: How the model is written, after the method's name in ``diagnostics``.
MODEL_NOTE = ", memberships marginalised, ordered means"


def mixture_model(y: np.ndarray, k: int) -> tuple[Any, dict[str, float]]:
    """The ``k``-component normal mixture in PyMC (ordered means) and its prior."""
    import pymc as pm
    from pymc.distributions.transforms import ordered

    prior = priors(y)
    with pm.Model(coords={"component": np.arange(k)}) as model:
        order = {"transform": ordered} if k > 1 else {}
        p = prior_data(**prior)
        mu = pm.Normal("mu", p["mu_mean"], p["mu_sd"], dims="component", **order)
        sigma = pm.HalfNormal("sigma", p["sigma_scale"], dims="component")
        if k > 1:
            weight = pm.Dirichlet("weight", np.ones(k), dims="component")
            pm.NormalMixture("y", w=weight, mu=mu, sigma=sigma, observed=pm.Data("y_data", y))
        else:
            pm.Deterministic("weight", pm.math.ones_like(mu), dims="component")
            pm.Normal("y", mu[0], sigma[0], observed=pm.Data("y_data", y))
    return model, prior


def _start_means(y: np.ndarray, k: int) -> np.ndarray:
    """Where the ``k`` component means start, in order: the data's quantiles."""
    return np.quantile(y, (np.arange(k) + 0.5) / k)


def _sample(y: np.ndarray, k: int, settings: Settings) -> tuple[Any, dict[str, Any]]:
    """The ``k``-component posterior by NUTS (a Dataset of draws) and its checks."""
    model, _ = mixture_model(y, k)
    start = _start_means(y, k)
    with model:
        with warnings.catch_warnings():
            # PyMC labels the dense mass matrix "experimental"; it is chosen knowingly here.
            warnings.filterwarnings("ignore", "QuadPotentialFullAdapt", UserWarning)
            trace = _sample_with(settings, start, k, np.std(y))
    names = ["mu", "sigma"] + (["weight"] if k > 1 else [])
    return sampled(trace, names, f"NUTS (PyMC){MODEL_NOTE}")


def _unconstrain(theta: np.ndarray, k: int) -> tuple[np.ndarray, ...]:
    """Means, log spreads, weights and the transforms' log-Jacobian of unconstrained points.

    A row of ``theta`` is PyMC's unconstrained point of :func:`mixture_model`: the first mean
    and the logs of the gaps to the next (the ordered transform), the log spreads, then (for
    ``k > 1``) the ``k - 1`` values of the simplex transform of the weights.
    """
    raw, log_sigma = theta[:, :k], theta[:, k : 2 * k]
    mu = np.cumsum(np.column_stack([raw[:, 0], np.exp(raw[:, 1:])]), axis=1)
    jacobian = raw[:, 1:].sum(axis=1)
    if k == 1:
        return mu, log_sigma, np.ones_like(mu), jacobian
    from scipy.special import logsumexp, softmax

    free = theta[:, 2 * k :]
    total = free.sum(axis=1)
    weight = softmax(np.column_stack([free, -total]), axis=1)
    log_sum = logsumexp(np.column_stack([free + total[:, None], np.zeros(len(theta))]), axis=1)
    jacobian = jacobian + np.log(k) + k * total - k * log_sum
    return mu, log_sigma, weight, jacobian


def log_density(theta: np.ndarray, y: np.ndarray, k: int, prior: Mapping[str, float]):
    """The log posterior density of :func:`mixture_model` at each row of ``theta``.

    Rows are points on PyMC's unconstrained scale (see :func:`_unconstrain`), the
    transforms' Jacobians included; the values equal PyMC's ``model.compile_logp()`` at the
    same points (checked in a test).
    """
    from scipy.special import gammaln

    theta = np.atleast_2d(np.asarray(theta, dtype=float))
    mu, log_sigma, weight, total = _unconstrain(theta, k)
    total = total + normal_log_pdf(mu, prior["mu_mean"], prior["mu_sd"]).sum(axis=1)
    total += half_normal_log_pdf_of_log(log_sigma, prior["sigma_scale"]).sum(axis=1)
    if k > 1:
        total += gammaln(k)  # Dirichlet(1, ..., 1): constant on the simplex
    sigma = np.exp(log_sigma)
    block = max(1, 2_000_000 // max(y.size * k, 1))
    for start in range(0, theta.shape[0], block):
        rows = slice(start, start + block)
        total[rows] += log_likelihood(y, weight[rows], mu[rows], sigma[rows]).sum(axis=1)
    return total


def _importance(y: np.ndarray, k: int, settings: Settings) -> tuple[Any, dict[str, Any]] | None:
    """The ``k``-component posterior (a Dataset of draws) by PSIS, and its checks, or ``None``.

    ``None`` when Pareto k rejects the weights of the Laplace approximation. The data are
    standardised first, the priors with them (the same model in other units), so that the
    optimiser works on numbers of order one.
    """
    import xarray as xr

    from analyses.core import importance

    centre, scale = float(np.mean(y)), float(np.std(y)) or 1.0
    z = (y - centre) / scale
    standard = priors(z)  # the priors scale with the data, so these are priors(y) rescaled
    means = _start_means(z, k)
    gaps = np.log(np.maximum(np.diff(means), 1e-3))
    start = np.r_[means[0], gaps, np.full(k, np.log(1.0 / k)), np.zeros(k - 1)]
    found = importance.sample(
        lambda theta: log_density(theta, z, k, standard),
        start,
        settings.chains * settings.draws,
        np.random.default_rng([settings.seed, k]),
    )
    if found is None:
        return None
    mu, log_sigma, weight, _ = _unconstrain(found.values, k)
    shape = (settings.chains, settings.draws, k)
    dims = ("chain", "draw", "component")
    post = xr.Dataset(
        {
            "mu": (dims, (centre + scale * mu).reshape(shape)),
            "sigma": (dims, (scale * np.exp(log_sigma)).reshape(shape)),
            "weight": (dims, weight.reshape(shape)),
        },
        coords={"component": np.arange(k)},
    )
    checks = importance.diagnostics(found)
    return post, {**checks, "method": checks["method"] + MODEL_NOTE}


def _component_log_p(
    y: np.ndarray, weight: np.ndarray, mu: np.ndarray, sigma: np.ndarray
) -> list[np.ndarray]:
    """log(weight_k) + log Normal(y_i | mu_k, sigma_k), one (draws, observations) array per k.

    ``weight``, ``mu`` and ``sigma`` have shape (draws, components). One array per
    component, because NumPy reduces over a short last axis slowly.
    """
    offset = np.log(weight) - np.log(sigma) - HALF_LOG_2PI
    out = []
    for c in range(mu.shape[1]):
        z = (y[None, :] - mu[:, c, None]) / sigma[:, c, None]
        z *= z
        z *= -0.5
        z += offset[:, c, None]
        out.append(z)
    return out


def log_likelihood(y: np.ndarray, weight: np.ndarray, mu: np.ndarray, sigma: np.ndarray):
    """Each observation's log-likelihood under each draw, memberships marginalised.

    ``weight``, ``mu`` and ``sigma`` have shape (draws, components); the result has shape
    (draws, observations). The same numbers as ``pm.compute_log_likelihood`` on the model
    (checked in a test), in one vectorised step instead of one compiled call per draw.
    """
    log_p = _component_log_p(y, weight, mu, sigma)
    if len(log_p) == 1:
        return log_p[0]
    top = np.maximum.reduce(log_p)
    total = np.zeros_like(top)
    for part in log_p:
        total += np.exp(part - top)
    return top + np.log(total)


#: The mixture's parameters, in the order :func:`log_likelihood` takes them.
PARAMS = ("weight", "mu", "sigma")


def _draws(post: Any) -> dict[str, np.ndarray]:
    """Each of :data:`PARAMS` as (draws, components), chains pooled."""
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


def _sample_with(settings: Settings, start: np.ndarray, k: int, spread: float):
    return sample(
        settings,
        target_accept=0.9,
        # Start every chain with the means at the data's quantiles, in order, without
        # jitter: jittered starts of a mixture land chains in different local modes.
        init=INIT,
        initvals={"mu": start, "sigma": np.full(k, spread / k)},
    )


def membership(y: np.ndarray, weight: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Each observation's probability of belonging to each component, averaged over draws.

    Parameters
    ----------
    y
        Observations, shape (n,).
    weight, mu, sigma
        Posterior draws, shape (draws, components).

    Returns
    -------
    ndarray
        Shape (n, components); rows sum to one.
    """
    out = np.empty((len(y), mu.shape[1]))
    block = max(1, 2_000_000 // (mu.shape[0] * mu.shape[1]))
    for start in range(0, len(y), block):
        part = y[start : start + block]
        log_p = np.stack(_component_log_p(part, weight, mu, sigma), axis=2)
        log_p -= log_p.max(axis=2, keepdims=True)
        p = np.exp(log_p)
        p /= p.sum(axis=2, keepdims=True)
        out[start : start + block] = p.mean(axis=0)
    return out


def _compare(posteriors: dict[int, Any], y: np.ndarray) -> list[dict[str, Any]]:
    """PSIS-LOO comparison of the fitted component counts, best ELPD first."""
    from analyses.core import loo

    found = {}
    for k, post in posteriors.items():
        found[k] = loo.loo(
            pointwise_blocks(y, post, loo.BLOCK),
            loo.relative_efficiency({name: v.values for name, v in post.data_vars.items()}),
        )
    return [{"components": row.pop("name"), **row} for row in loo.compare(found)]


#: A larger model must beat a smaller one by more than this many ELPD points (or two
#: standard errors of the difference) to be preferred.
ELPD_MARGIN = 4.0


def choose(comparison: list[dict[str, Any]]) -> int:
    """The smallest component count whose ELPD is within the margin of the best."""
    close = [
        row["components"]
        for row in comparison
        if -row["elpd_diff"] <= max(ELPD_MARGIN, 2 * row["dse"])
    ]
    return min(close)


def fit(spec: Spec, y: np.ndarray, settings: Settings) -> Fit:
    """Fit each component count; summarise the one PSIS-LOO prefers."""
    y = np.asarray(y, dtype=float)
    posteriors, checks = {}, {}
    # Importance sampling where it passes its check; once it fails for a component count,
    # larger counts (further from normal still) go straight to NUTS.
    approximate = True
    for k in spec.counts:
        found = _importance(y, k, settings) if approximate else None
        approximate = found is not None
        posteriors[k], checks[k] = found if found is not None else _sample(y, k, settings)
    comparison = _compare(posteriors, y) if len(posteriors) > 1 else []
    chosen = choose(comparison) if comparison else spec.counts[0]
    post = posteriors[chosen]
    diagnostics = checks[chosen]
    names = ["mu", "sigma"] + (["weight"] if chosen > 1 else [])
    prior = priors(y)
    prob = settings.ci_prob
    flat = _draws(post)
    components = [
        {
            "component": i,
            "label": spec.component_labels[i] if i < len(spec.component_labels) else None,
            "weight": stats.summary(flat["weight"][:, i], prob),
            "mean": stats.summary(flat["mu"][:, i], prob),
            "sd": stats.summary(flat["sigma"][:, i], prob),
        }
        for i in range(chosen)
    ]
    chain_means = post["mu"].mean("draw").values  # chains x components
    spread = post["mu"].std(("chain", "draw")).values
    label_switching = bool(np.any(np.ptp(chain_means, axis=0) > 3 * np.maximum(spread, 1e-12)))
    thin = np.linspace(0, flat["mu"].shape[0] - 1, min(MEMBERSHIP_DRAWS, flat["mu"].shape[0]))
    thin = thin.round().astype(int)
    member = membership(y, flat["weight"][thin], flat["mu"][thin], flat["sigma"][thin])
    best = member.max(axis=1)
    warnings = []
    empty = [c["component"] for c in components if c["weight"]["mean"] < NEARLY_EMPTY]
    if empty and chosen > 1:
        warnings.append(
            {
                "code": "nearly_empty_component",
                "count": len(empty),
                "components": [i + 1 for i in empty],
                "threshold": NEARLY_EMPTY,
            }
        )
    if label_switching or diagnostics["r_hat_max"] > stats.R_HAT_MAX:
        warnings.append(
            {"code": "multimodal_posterior", "count": 1, "r_hat_max": diagnostics["r_hat_max"]}
        )
    import pandas as pd
    import xarray as xr

    table = pd.DataFrame({"row": np.arange(len(y)) + 2, "value": y})
    for i in range(chosen):
        table[f"p_component_{i + 1}"] = member[:, i]
    table["most_likely"] = member.argmax(axis=1) + 1
    results = {
        "value_label": spec.value_label or spec.value,
        "unit_label": spec.unit_label,
        "n": int(len(y)),
        "prior": prior,
        "chosen_components": chosen,
        "components": components,
        "comparison": comparison,
        "label_switching": label_switching,
        "assignment": {
            "threshold": CONFIDENT,
            "confident": int((best >= CONFIDENT).sum()),
            "ambiguous": int((best < CONFIDENT).sum()),
            "per_component": [
                int(((member.argmax(axis=1) == i) & (best >= CONFIDENT)).sum())
                for i in range(chosen)
            ],
        },
        "observed": {
            "min": float(y.min()),
            "max": float(y.max()),
            "mean": float(y.mean()),
            "sd": float(y.std(ddof=1)),
        },
    }
    tree = xr.DataTree.from_dict({"posterior": post[names]})
    return Fit(
        results=results,
        posterior=tree,
        diagnostics=diagnostics,
        warnings=warnings,
        tables={"membership": table},
    )


def key_numbers(results: dict[str, Any]) -> dict[str, Any]:
    """The numbers a history of readouts follows: the largest component's mean."""
    largest = max(results["components"], key=lambda c: c["weight"]["mean"])
    return {
        "label": f"mean of the largest of {results['chosen_components']} component(s)",
        "scale": "value",
        "mean": largest["mean"]["mean"],
        "hdi": largest["mean"]["hdi"],
        "prob": None,
        "prob_label": None,
        "n": results["n"],
        "n_label": f"{results['unit_label']}s",
    }


VERDICTS = {"mixture": Tone.NEUTRAL, "withheld": Tone.WITHHELD}


def decide(spec: Spec, results: dict[str, Any], diagnostics: dict[str, Any]) -> dict[str, Any]:
    """The fitted mixture is reported, unless the sampler's checks failed."""
    numbers = {
        "components": results["chosen_components"],
        "largest_tried": max(spec.counts),
    }
    if not diagnostics["ok"]:
        return {"verdict": "withheld", "reason_code": "health_failed", **numbers}
    return {"verdict": "mixture", "reason_code": "components_chosen", **numbers}


def plot(fit: Fit, ci_prob: float) -> dict[str, Figure]:
    """Histogram with the fitted mixture and each component; posterior of the means."""
    from scipy import stats as sps

    results = fit.results
    y = fit.tables["membership"]["value"].to_numpy()
    post = fit.posterior["posterior"].to_dataset()
    out: dict[str, Figure] = {}
    fig, ax = figures.new_figure(7, 3.4)
    ax.hist(
        y,
        bins=min(80, max(20, len(y) // 25)),
        density=True,
        color="#cbd5e0",
        edgecolor="white",
        lw=0.3,
    )
    grid = np.linspace(y.min() - 0.1 * np.ptp(y), y.max() + 0.1 * np.ptp(y), 500)
    total = np.zeros_like(grid)
    for i, comp in enumerate(results["components"]):
        part = comp["weight"]["mean"] * sps.norm.pdf(grid, comp["mean"]["mean"], comp["sd"]["mean"])
        total += part
        ax.plot(
            grid,
            part,
            color=figures.colour(i, skip_grey=True),
            lw=1.4,
            ls="--",
            label=comp["label"] or f"component {i + 1}",
        )
    ax.plot(grid, total, color="black", lw=1.8, label="mixture")
    ax.set_xlabel(results["value_label"])
    figures.tidy(ax, legend=True)
    out["fit"] = figures.finish(fig)

    fig, ax = figures.new_figure(7, 2.8)
    for i, comp in enumerate(results["components"]):
        draws = post["mu"].sel(component=i).values.ravel()
        ax.hist(
            draws,
            bins=60,
            density=True,
            histtype="stepfilled",
            alpha=0.5,
            color=figures.colour(i, skip_grey=True),
            label=comp["label"] or f"component {i + 1}",
        )
        ax.plot(comp["mean"]["hdi"], [0, 0], color=figures.colour(i, skip_grey=True), lw=4)
    ax.set_xlabel(
        f"Posterior of each component's mean ({results['value_label']}); "
        f"bar: {figures.ci_label(ci_prob)}"
    )
    figures.tidy(ax, legend=True)
    out["means"] = figures.finish(fig)
    return out


ANALYSIS = Analysis(
    name="mixture",
    version="3",
    spec=Spec,
    results=MixtureResults,
    decision=MixtureDecision,
    request=request,
    load=load,
    fit=fit,
    decide=decide,
    plot=plot,
    key_numbers=key_numbers,
    verdicts=VERDICTS,
    warning_codes=("nearly_empty_component", "multimodal_posterior"),
    figures=("fit", "means"),
)
