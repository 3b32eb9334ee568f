"""Linear regression whose target carries a known measurement error.

Three likelihoods, by what the config says about each row's target:

* ``count``: the target is a share of events out of a count; the share is linear in the
  features (kept inside 0 to 1) and each row's events are binomial, so a share of 1/10
  counts for far less than 10/100 and no share is predicted below 0 or above 1;
* ``target_error``: ``target_i ~ Normal(intercept + x_i . beta, sigma * e_i)`` with each
  row's known standard error ``e_i``;
* neither: an ordinary Bayesian linear regression with constant noise ``sigma``.

Features are standardised for sampling. Effects are reported per interquartile step of each
feature (from its 25th to its 75th percentile in the data): a change every feature can make,
comparable across features. The data are observational: coefficients describe associations.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field, model_validator

from analyses import figures, stats
from analyses.base import (
    INTERVAL_SCHEMA,
    SUMMARY_SCHEMA,
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
from analyses.importance import HALF_LOG_2PI, half_normal_log_pdf_of_log, normal_log_pdf
from analyses.inputs import Column, Fetched, Request, Rows, RowsSource

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Rows needed per coefficient (features plus intercept).
MIN_ROWS_PER_COEFFICIENT = 5
#: Replicated data sets drawn for the posterior-predictive check.
PPC_DRAWS = 100


class Spec(BaseSpec, RowsSource):
    """Config keys of a ``regression`` experiment."""

    analysis: Literal["regression"]
    target: str
    features: list[str] = Field(min_length=1)
    target_error: str | None = None
    count: str | None = None
    predict: str | None = None
    id_column: str | None = None
    target_label: str | None = None
    feature_labels: dict[str, str] = {}
    value_prefix: str = ""
    value_suffix: str = ""

    @model_validator(mode="after")
    def _one_error_source(self) -> Spec:
        if self.target_error is not None and self.count is not None:
            raise ValueError("give target_error or count (not both)")
        twice = [f for i, f in enumerate(self.features) if f in self.features[:i]]
        if twice:
            raise ValueError(f"features lists the column '{twice[0]}' twice")
        if self.target in self.features:
            raise ValueError("the target cannot also be a feature")
        return self


def binomial_error(share: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Standard error of a share from ``count`` trials, floored for shares of 0 or 1.

    ``sqrt(p (1 - p) / n)`` with ``p`` kept within ``[0.5 / n, 1 - 0.5 / n]``, so a share of
    0 out of 10 still carries the uncertainty of about half an event.
    """
    p = np.clip(share, 0.5 / count, 1 - 0.5 / count)
    return np.sqrt(p * (1 - p) / count)


def request(spec: Spec) -> Request:
    """The target, the features and the error columns row by row; and the rows to predict."""
    target_rules: tuple = ("finite", "unit_interval") if spec.count else ("finite",)
    columns = [
        Column(
            "target",
            spec.target,
            rules=target_rules,
            fix="use target_error for targets that are not shares" if spec.count else "",
        ),
        *(
            Column("features", f, fix="make the column numeric (encode categories as 0/1)")
            for f in spec.features
        ),
    ]
    if spec.target_error:
        columns.append(
            Column(
                "target_error",
                spec.target_error,
                rules=("finite", "positive"),
                fix="give every row a positive measurement error",
            )
        )
    if spec.count:
        columns.append(
            Column(
                "count",
                spec.count,
                rules=("finite", "positive", "integer"),
                fix="give every row the whole, positive number of trials behind its share",
            )
        )
    if spec.id_column:
        columns.append(Column("id_column", spec.id_column, "text", rules=()))
    parts: Request = {"rows": Rows(tuple(columns))}
    if spec.predict:
        new = [
            Column("features", f, fix="make the column numeric (encode categories as 0/1)")
            for f in spec.features
        ]
        for key, column, rules in (
            ("id_column", spec.id_column, ()),
            ("count", spec.count, ("finite", "positive", "integer")),
            ("target_error", spec.target_error, ("finite", "positive")),
        ):
            if column:
                kind = "text" if key == "id_column" else "number"
                new.append(Column(key, column, kind, rules=rules, optional=True))
        parts["predict"] = Rows(tuple(new), input=spec.predict)
    return parts


@dataclass(frozen=True)
class Data:
    """What a regression fits: the checked rows and, if asked for, the rows to predict."""

    y: np.ndarray
    x: np.ndarray
    error: np.ndarray | None = None
    count: np.ndarray | None = None
    ids: np.ndarray | None = None
    predict: dict[str, np.ndarray] | None = None


def load(
    spec: Spec, fetched: Fetched, files: Mapping[str, Path] | None = None
) -> tuple[Data, list[dict]]:
    """The target, features, errors and counts as arrays; and the rows to predict.

    Raises
    ------
    DataError
        Constant features or target, too few rows for the number of features, shares times
        counts that are not whole numbers of events (missing, non-numeric, non-finite and
        out-of-range values are refused by the engine's checks).
    """
    source = fetched.source
    rows = fetched.parts["rows"]
    y = rows[spec.target].astype(float)
    x = np.column_stack([rows[f].astype(float) for f in spec.features])
    constant = [f for f, col in zip(spec.features, x.T, strict=True) if np.ptp(col) == 0]
    if constant:
        raise DataError(
            source,
            f"feature '{constant[0]}' is constant ({x[0, spec.features.index(constant[0])]:g} "
            "in every row), so its effect cannot be estimated",
            "remove it from features",
        )
    if spec.count is None and np.ptp(y) == 0:
        raise DataError(
            source,
            f"target '{spec.target}' is constant ({y[0]:g} in every row): there is no "
            "variation for the features to explain",
            "check the target column",
        )
    need = MIN_ROWS_PER_COEFFICIENT * (len(spec.features) + 1)
    if len(y) < need:
        raise DataError(
            source,
            f"{len(y)} rows are too few for {len(spec.features)} feature(s) (at least "
            f"{MIN_ROWS_PER_COEFFICIENT} per coefficient, so {need})",
            "collect more rows or use fewer features",
        )
    count = rows[spec.count].astype(float) if spec.count else None
    if count is not None:
        events = y * count
        off = np.flatnonzero(np.abs(events - np.round(events)) > 0.01)
        if len(off):
            where = (
                f", in rows {', '.join(str(i + 2) for i in off[:5])}" if fetched.row_numbers else ""
            )
            raise DataError(
                source,
                f"{len(off)} share(s) times their count are not whole numbers of events{where}",
                f"give {spec.target} as events / {spec.count}",
            )
    predict = fetched.parts.get("predict")
    return (
        Data(
            y=y,
            x=x,
            error=rows[spec.target_error].astype(float) if spec.target_error else None,
            count=count,
            ids=rows[spec.id_column].astype(str) if spec.id_column else None,
            predict=predict,
        ),
        [],
    )


def input_files(spec: Spec) -> list[str]:
    """The predict file, whose rows change the results."""
    return [spec.predict] if spec.predict else []


def likelihood(spec: Spec) -> str:
    """``count`` (binomial shares), ``error`` (known standard errors) or ``plain``."""
    return "count" if spec.count else "error" if spec.target_error else "plain"


def priors(y: np.ndarray, kind: str) -> dict[str, float]:
    """Weakly informative priors on the standardised scale."""
    spread = float(np.std(y, ddof=1)) or 1.0
    return {
        "intercept_mean": float(np.mean(y)),
        "intercept_sd": 2 * spread,
        "beta_sd": spread,
        "sigma_scale": spread if kind == "plain" else 1.0,
    }


def model(spec: Spec, data: Data, centre: np.ndarray, scale: np.ndarray):
    """The PyMC model.

    Binomial counts of a share (``count``), or normal noise scaled by each row's known error
    (``target_error``), or of constant size.
    """
    import pymc as pm
    import pytensor.tensor as pt

    kind = likelihood(spec)
    prior = priors(data.y, kind)
    with pm.Model(coords={"feature": spec.features}) as built:
        # Data live in pm.Data: the compiled model does not depend on them and is reused.
        xs = pm.Data("x", (data.x - centre) / scale)
        p = prior_data(**prior)
        intercept = pm.Normal("intercept_std", p["intercept_mean"], p["intercept_sd"])
        beta = pm.Normal("beta_std", 0.0, p["beta_sd"], dims="feature")
        mu = intercept + xs @ beta
        if kind == "count":
            # The share is linear in the features and kept inside (0, 1); each row's events
            # are binomial out of its count, so a share cannot be predicted below 0 or above 1.
            share = pt.clip(mu, 1e-6, 1 - 1e-6)
            count = pm.Data("count", data.count.astype("int64"))
            events = pm.Data("events", np.round(data.y * data.count).astype("int64"))
            # The binomial log-likelihood without log(count choose events), which depends on
            # the data alone: the same posterior as pm.Binomial (a test checks the difference
            # is one constant), at half the cost per gradient and a fifth of the compile.
            pm.Potential("y", pt.sum(events * pt.log(share) + (count - events) * pt.log1p(-share)))
        else:
            sigma = pm.HalfNormal("sigma", p["sigma_scale"])
            error = pm.Data("error", data.error if kind == "error" else np.ones(len(data.y)))
            pm.Normal("y", mu, sigma * error, observed=pm.Data("target", data.y))
    return built, prior, kind


def log_density(
    theta: np.ndarray,
    kind: str,
    xs: np.ndarray,
    y: np.ndarray,
    prior: dict[str, float],
    error: np.ndarray | None = None,
    count: np.ndarray | None = None,
) -> np.ndarray:
    """The log posterior density of :func:`model` at each row of ``theta``.

    Rows are points on PyMC's unconstrained scale: the intercept, the coefficients of the
    standardised features ``xs``, and (unless ``kind`` is ``count``) the log of ``sigma``,
    its Jacobian included. For ``count``, ``y`` holds the events, ``count`` the counts, and
    the binomial's log(count choose events) is left out as in the model. The values equal
    PyMC's ``model.compile_logp()`` at the same points (checked in a test).
    """
    theta = np.atleast_2d(np.asarray(theta, dtype=float))
    p = xs.shape[1]
    intercept, beta = theta[:, 0], theta[:, 1 : 1 + p]
    total = normal_log_pdf(intercept, prior["intercept_mean"], prior["intercept_sd"])
    total += np.sum(normal_log_pdf(beta, 0.0, prior["beta_sd"]), axis=1)
    if kind != "count":
        log_sigma = theta[:, 1 + p]
        sigma = np.exp(log_sigma)
        total += half_normal_log_pdf_of_log(log_sigma, prior["sigma_scale"])
        error = np.ones(y.size) if error is None else error
    block = max(1, 2_000_000 // max(y.size, 1))
    for start in range(0, theta.shape[0], block):
        rows = slice(start, start + block)
        mu = intercept[rows, None] + beta[rows] @ xs.T
        if kind == "count":
            share = np.clip(mu, 1e-6, 1 - 1e-6)
            total[rows] += (y * np.log(share) + (count - y) * np.log1p(-share)).sum(axis=1)
        else:
            spread = sigma[rows, None] * error
            z = (y - mu) / spread
            total[rows] -= np.sum(0.5 * z * z + np.log(spread), axis=1) + y.size * HALF_LOG_2PI
    return total


def _importance(
    kind: str, data: Data, xs: np.ndarray, prior: dict[str, float], settings: Settings
) -> tuple[Any, dict[str, Any]] | None:
    """The posterior by PSIS from a Laplace approximation and its diagnostics, or ``None``.

    The posterior is a (chain, draw) Dataset of ``intercept_std``, ``beta_std`` (and
    ``sigma``), as NUTS's trace has them. A normal target is standardised first (the priors
    and known errors with it: the same model in other units) so that the optimiser works on
    numbers of order one; a share's events and counts are used as they are.
    """
    import xarray as xr

    from analyses import importance

    n_draws, p = settings.chains * settings.draws, xs.shape[1]
    design = np.column_stack([np.ones(len(data.y)), xs])
    if kind == "count":
        events = np.round(data.y * data.count)
        start = np.linalg.lstsq(design, data.y, rcond=None)[0]
        centre, scale = 0.0, 1.0

        def density(theta: np.ndarray) -> np.ndarray:
            return log_density(theta, kind, xs, events, prior, count=data.count)

    else:
        centre, scale = float(np.mean(data.y)), float(np.std(data.y))
        z = (data.y - centre) / scale
        standard = {
            "intercept_mean": (prior["intercept_mean"] - centre) / scale,
            "intercept_sd": prior["intercept_sd"] / scale,
            "beta_sd": prior["beta_sd"] / scale,
            # sigma scales the known errors (kind "error"), else it is the noise itself
            "sigma_scale": prior["sigma_scale"] / (scale if kind == "plain" else 1.0),
        }
        error = data.error / scale if kind == "error" else None
        fitted = np.linalg.lstsq(design, z, rcond=None)[0]
        residual = z - design @ fitted
        noise = np.std(residual / (error if error is not None else 1.0)) or 1.0
        start = np.r_[fitted, np.log(noise)]

        def density(theta: np.ndarray) -> np.ndarray:
            return log_density(theta, kind, xs, z, standard, error=error)

    found = importance.sample(density, start, n_draws, np.random.default_rng(settings.seed))
    if found is None:
        return None
    shape = (settings.chains, settings.draws)
    values = found.values
    variables = {
        "intercept_std": (("chain", "draw"), (centre + scale * values[:, 0]).reshape(shape)),
        "beta_std": (
            ("chain", "draw", "feature"),
            (scale * values[:, 1 : 1 + p]).reshape(*shape, p),
        ),
    }
    if kind != "count":
        sigma = np.exp(values[:, 1 + p]) * (scale if kind == "plain" else 1.0)
        variables["sigma"] = (("chain", "draw"), sigma.reshape(shape))
    return xr.Dataset(variables), importance.diagnostics(found)


def _replicate(kind, mean, sigma, error, count, rng):
    """Data simulated from the model: shares from binomial counts, else normal noise."""
    if kind == "count":
        share = np.clip(mean, 1e-6, 1 - 1e-6)
        return rng.binomial(count.astype(int), share) / count
    return mean + sigma[:, None] * error * rng.standard_normal(mean.shape)


def _nuts(
    spec: Spec, data: Data, centre: np.ndarray, scale: np.ndarray, settings: Settings
) -> tuple[Any, dict[str, Any]]:
    """The posterior sampled by NUTS, where importance sampling declined."""
    built, _, _ = model(spec, data, centre, scale)
    # Every chain starts at the least-squares fit: for a share, a start whose predictions
    # leave 0 to 1 sits where the likelihood is flat and the sampler cannot find its way.
    design = np.column_stack([np.ones(len(data.y)), (data.x - centre) / scale])
    start = np.linalg.lstsq(design, data.y, rcond=None)[0]
    with built:
        trace = sample(
            settings,
            target_accept=0.9,
            init="adapt_diag",  # no jitter: it could push a start outside 0 to 1 again
            initvals={"intercept_std": start[0], "beta_std": start[1:]},
        )
    names = ["beta_std", "intercept_std"] + (["sigma"] if likelihood(spec) != "count" else [])
    return sampled(trace, names)


def fit(spec: Spec, data: Data, settings: Settings) -> Fit:
    """Fit the regression, summarise effects per interquartile step, check it, predict."""
    import pandas as pd
    import xarray as xr

    y, x = data.y, data.x
    centre, scale = x.mean(axis=0), x.std(axis=0)
    kind = likelihood(spec)
    prior = priors(y, kind)
    found = _importance(kind, data, (x - centre) / scale, prior, settings)
    if found is not None:
        post, diagnostics = found
    else:
        post, diagnostics = _nuts(spec, data, centre, scale, settings)
    flat = lambda v: post[v].stack(s=("chain", "draw")).transpose("s", ...).values  # noqa: E731
    beta_std, intercept_std = flat("beta_std"), flat("intercept_std")
    sigma_draws = flat("sigma") if "sigma" in post else np.ones(len(intercept_std))
    beta_orig = beta_std / scale
    intercept_orig = intercept_std - beta_orig @ centre
    prob = settings.ci_prob
    q25, q75 = np.percentile(x, [25, 75], axis=0)
    step = np.where(q75 > q25, q75 - q25, scale)
    coefficients = [
        {
            "name": feature,
            "label": spec.feature_labels.get(feature, feature),
            **stats.summary(beta_orig[:, j], prob),
            "prob_positive": stats.prob_greater(beta_orig[:, j], 0.0),
            "step": {"low": float(q25[j]), "high": float(q75[j]), "size": float(step[j])},
            "per_step": stats.summary(beta_orig[:, j] * step[j], prob),
        }
        for j, feature in enumerate(spec.features)
    ]
    mean_draws = intercept_orig[:, None] + beta_orig @ x.T
    if kind == "count":
        mean_draws = np.clip(mean_draws, 0.0, 1.0)
    rng = np.random.default_rng(settings.seed)
    pick = rng.choice(len(intercept_std), size=min(PPC_DRAWS, len(intercept_std)), replace=False)
    error = data.error if data.error is not None else np.ones(len(y))
    replicated = _replicate(
        kind, mean_draws[pick], sigma_draws[pick], error[None, :], data.count, rng
    )
    fitted = pd.DataFrame(
        {"row": np.arange(len(y)) + 2, "observed": y, "fitted": mean_draws.mean(axis=0)}
    )
    results = {
        "target_label": spec.target_label or spec.target,
        "n": int(len(y)),
        "likelihood": kind,
        "error_source": "target_error" if spec.target_error else "count" if spec.count else None,
        "prior": prior,
        "coefficients": coefficients,
        "evidence_threshold": stats.STRONG_EVIDENCE,
        "intercept": stats.summary(intercept_orig, prob),
        "sigma": stats.summary(sigma_draws, prob) if kind != "count" else None,
        "ppc": {
            "observed_sd": float(np.std(y, ddof=1)),
            "replicated_sd": stats.summary(replicated.std(axis=1, ddof=1), prob),
            "observed_mean": float(np.mean(y)),
            "replicated_mean": stats.summary(replicated.mean(axis=1), prob),
            "residual_sd": float(np.std(y - fitted["fitted"])),
        },
        "predictions": [],
    }
    tables = {"fitted": fitted}
    if data.predict is not None:
        results["predictions"], tables["predictions"] = _predictions(
            spec, data.predict, intercept_orig, beta_orig, sigma_draws, kind, prob, rng
        )
    params = xr.Dataset(
        {
            "beta": (("chain", "draw", "feature"), post["beta_std"].values / scale),
            "intercept": (
                ("chain", "draw"),
                post["intercept_std"].values - (post["beta_std"].values / scale) @ centre,
            ),
            **({"sigma": post["sigma"]} if "sigma" in post else {}),
        },
        coords={"feature": spec.features},
    )
    ppc_data = xr.Dataset({"y_rep": (("draw", "row"), replicated), "y": (("row",), y)})
    tree = xr.DataTree.from_dict({"posterior": params, "posterior_predictive": ppc_data})
    return Fit(results=results, posterior=tree, diagnostics=diagnostics, tables=tables)


def _predictions(spec, new, intercept, beta, sigma, kind, prob, rng):
    """Each new row's expected target and.

    Where its error or count is known, where a new measurement of it would fall.
    """
    import pandas as pd

    x = np.column_stack([new[f].astype(float) for f in spec.features])
    mean_draws = intercept[:, None] + beta @ x.T
    if kind == "count":
        mean_draws = np.clip(mean_draws, 0.0, 1.0)
    table = pd.DataFrame(x, columns=spec.features)
    ids = new.get(spec.id_column) if spec.id_column else None
    if ids is not None:
        table.insert(0, "id", ids.astype(str))
    table["predicted_mean"] = mean_draws.mean(axis=0)
    mean_hdi = stats.hdi_columns(mean_draws, prob)
    table["mean_low"], table["mean_high"] = mean_hdi[:, 0], mean_hdi[:, 1]
    obs_hdi = None
    if kind == "plain":
        error = np.ones(len(x))
    elif kind == "error" and spec.target_error in new:
        error = new[spec.target_error].astype(float)
    elif kind == "count" and spec.count in new:
        error = new[spec.count].astype(float)
    else:
        error = None
    if error is not None:
        observations = _replicate(kind, mean_draws, sigma, error[None, :], error, rng)
        obs_hdi = stats.hdi_columns(observations, prob)
        table["observation_low"], table["observation_high"] = obs_hdi[:, 0], obs_hdi[:, 1]
    rows = [
        {
            "row": str(ids[i]) if ids is not None else str(i + 2),
            "mean": float(table["predicted_mean"].iloc[i]),
            "hdi": [float(mean_hdi[i, 0]), float(mean_hdi[i, 1])],
            **(
                {"observation_hdi": [float(obs_hdi[i, 0]), float(obs_hdi[i, 1])]}
                if obs_hdi is not None
                else {}
            ),
            "features": {f: float(x[i, j]) for j, f in enumerate(spec.features)},
        }
        for i in range(len(x))
    ]
    return rows, table


def key_numbers(results: dict[str, Any]) -> dict[str, Any]:
    """The numbers a history of readouts follows: the first feature's interquartile effect."""
    first = results["coefficients"][0]
    return {
        "label": f"change per interquartile step of {first['label']}",
        "scale": "value",
        "mean": first["per_step"]["mean"],
        "hdi": first["per_step"]["hdi"],
        "prob": first["prob_positive"],
        "prob_label": "chance the association is positive",
        "n": results["n"],
        "n_label": "rows",
    }


VERDICTS = {"fitted": Tone.NEUTRAL, "withheld": Tone.WITHHELD}


def decide(spec: Spec, results: dict[str, Any], diagnostics: dict[str, Any]) -> dict[str, Any]:
    """How many features clearly move the target, unless the sampler's checks failed."""
    sure = results["evidence_threshold"]
    clear = [
        c["name"]
        for c in results["coefficients"]
        if c["prob_positive"] >= sure or c["prob_positive"] <= 1 - sure
    ]
    numbers = {"clear_features": clear, "threshold": sure}
    if not diagnostics["ok"]:
        return {"verdict": "withheld", "reason_code": "health_failed", **numbers}
    return {"verdict": "fitted", "reason_code": "coefficients_estimated", **numbers}


def plot(fit: Fit, ci_prob: float) -> dict[str, Figure]:
    """Coefficients with their HDIs, and the posterior-predictive check."""
    results = fit.results
    out: dict[str, Figure] = {}
    coefs = results["coefficients"]
    blue = figures.colour(0, skip_grey=True)
    # A share is drawn in percent, as the report writes it (percentage points for changes).
    scale, change_unit, level_unit = (
        (100.0, " (percentage points)", " (%)")
        if results["likelihood"] == "count"
        else (1.0, "", "")
    )
    fig, ax = figures.new_figure(7, 0.8 + 0.36 * len(coefs))
    for i, c in enumerate(coefs):
        ax.plot(scale * np.asarray(c["per_step"]["hdi"]), [i, i], color=blue, lw=3)
        ax.plot(scale * c["per_step"]["mean"], i, "o", color=blue)
    ax.axvline(0, color="black", lw=0.8, ls="--")
    ax.set_yticks(range(len(coefs)), [c["label"] for c in coefs])
    ax.set_xlabel(
        f"Change in {results['target_label']}{change_unit}\nfrom a feature's 25th to its 75th "
        f"percentile (dot: estimate; bar: {figures.ci_label(ci_prob)})",
        fontsize=9,
    )
    figures.tidy(ax, keep_left=True)
    out["coefficients"] = figures.finish(fig)

    ppc = fit.posterior["posterior_predictive"].to_dataset()
    y, y_rep = scale * ppc["y"].values, scale * ppc["y_rep"].values
    fig, ax = figures.new_figure()
    bins = np.histogram_bin_edges(np.concatenate([y, y_rep.ravel()]), bins=40)
    for i, rep in enumerate(y_rep[:40]):
        ax.hist(
            rep,
            bins=bins,
            density=True,
            histtype="step",
            color="#90cdf4",
            lw=0.6,
            label="replicated data (40 draws)" if i == 0 else None,
        )
    ax.hist(y, bins=bins, density=True, histtype="step", color="black", lw=1.6, label="observed")
    ax.set_xlabel(results["target_label"] + level_unit)
    figures.tidy(ax, legend=True)
    out["ppc"] = figures.finish(fig)
    return out


RESULT_SCHEMA: dict[str, Any] = {
    "required": ["coefficients", "predictions", "intercept", "sigma", "likelihood"],
    "properties": {
        "coefficients": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["name", "mean", "hdi", "prob_positive"],
                "properties": {
                    "name": {"type": "string"},
                    "mean": {"type": "number"},
                    "hdi": INTERVAL_SCHEMA,
                    "prob_positive": {"type": "number", "minimum": 0, "maximum": 1},
                },
            },
        },
        "predictions": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["row", "mean", "hdi"],
                "properties": {
                    "row": {"type": "string"},
                    "mean": {"type": "number"},
                    "hdi": INTERVAL_SCHEMA,
                },
            },
        },
        "intercept": SUMMARY_SCHEMA,
        "sigma": {"oneOf": [SUMMARY_SCHEMA, {"type": "null"}]},
    },
}


ANALYSIS = Analysis(
    name="regression",
    version="4",
    spec=Spec,
    result_schema=RESULT_SCHEMA,
    request=request,
    load=load,
    fit=fit,
    decide=decide,
    plot=plot,
    key_numbers=key_numbers,
    verdicts=VERDICTS,
    figures=("coefficients", "ppc"),
    input_files=input_files,
)
