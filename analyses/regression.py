"""Linear regression whose target carries a known measurement error.

Each row's target is measured with a known standard error ``e_i`` (given, or the binomial
standard error of a share from a count column):

    target_i ~ Normal(intercept + x_i . beta, sigma * e_i)

so a share of 1/10 counts for far less than 10/100. Without ``target_error`` (or ``count``)
it is an ordinary Bayesian linear regression, ``target_i ~ Normal(..., sigma)``. Features are
standardised for sampling and the coefficients reported per unit of each original feature.
``pm.Data`` with named dims lets new rows be predicted without refitting.
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
    sample,
)
from analyses.checks import numeric_column, row_numbers

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

#: Rows needed per coefficient (features plus intercept).
MIN_ROWS_PER_COEFFICIENT = 5
#: Replicated data sets drawn for the posterior-predictive check.
PPC_DRAWS = 100


class Spec(BaseSpec):
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
        if len(set(self.features)) != len(self.features):
            raise ValueError("features lists a column twice")
        if self.target in self.features:
            raise ValueError("the target cannot also be a feature")
        return self


def binomial_error(share: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Standard error of a share from ``count`` trials, floored for shares of 0 or 1.

    The model evaluates it at its own fitted share; the observed shares' errors are only
    used to check the data and describe them.

    ``sqrt(p (1 - p) / n)`` with ``p`` kept within ``[0.5 / n, 1 - 0.5 / n]``, so a share of
    0 out of 10 still carries the uncertainty of about half an event.
    """
    p = np.clip(share, 0.5 / count, 1 - 0.5 / count)
    return np.sqrt(p * (1 - p) / count)


def _positive(frame: pd.DataFrame, source: str, column: str, key: str, fix: str) -> np.ndarray:
    """A numeric column whose every value must be above zero."""
    values = numeric_column(frame, source, key, column)
    bad = np.flatnonzero(values <= 0)
    if len(bad):
        raise DataError(
            source,
            f"column '{column}' ({key}) has {len(bad)} zero or negative value(s), in rows "
            f"{row_numbers(bad)}",
            fix,
        )
    return values


def _errors(spec: Spec, frame: pd.DataFrame, y: np.ndarray, source: str) -> np.ndarray | None:
    if spec.target_error is not None:
        return _positive(
            frame,
            source,
            spec.target_error,
            "target_error",
            "give every row a positive measurement error",
        )
    if spec.count is not None:
        count = _positive(
            frame,
            source,
            spec.count,
            "count",
            "give every row the positive number of trials behind its share",
        )
        if np.any((y < 0) | (y > 1)):
            raise DataError(
                source,
                f"target '{spec.target}' has values outside 0 to 1, but count = "
                f'"{spec.count}" treats it as a share',
                "use target_error for targets that are not shares",
            )
        return binomial_error(y, count)
    return None


def features_of(spec: Spec, frame: pd.DataFrame, source: str) -> np.ndarray:
    """The feature matrix (rows x features), checked to be numeric and complete."""
    return np.column_stack(
        [
            numeric_column(
                frame,
                source,
                "features",
                f,
                "make the column numeric (encode categories as 0/1 columns)",
            )
            for f in spec.features
        ]
    )


@dataclass(frozen=True)
class Rows:
    """What a regression fits: the checked rows and, if asked for, the rows to predict."""

    train: pd.DataFrame
    predict: pd.DataFrame | None = None


def load(
    spec: Spec, frame: pd.DataFrame, source: str, files: Mapping[str, Path] | None = None
) -> tuple[Rows, list[dict]]:
    """Columns ``y``, ``error`` (if known) and the features; and the rows to predict.

    ``files`` maps each of :func:`input_files` to its path (relative paths resolve from
    the config file's folder).

    Raises
    ------
    DataError
        Missing or non-numeric columns, constant features, zero or negative errors, too few
        rows for the number of features.
    """
    y = numeric_column(frame, source, "target", spec.target)
    x = features_of(spec, frame, source)
    constant = [f for f, col in zip(spec.features, x.T, strict=True) if np.ptp(col) == 0]
    if constant:
        raise DataError(
            source,
            f"feature '{constant[0]}' is constant ({x[0, spec.features.index(constant[0])]:g} "
            "in every row), so its effect cannot be estimated",
            "remove it from features",
        )
    need = MIN_ROWS_PER_COEFFICIENT * (len(spec.features) + 1)
    if len(y) < need:
        raise DataError(
            source,
            f"{len(y)} rows are too few for {len(spec.features)} feature(s) (at least "
            f"{MIN_ROWS_PER_COEFFICIENT} per coefficient, so {need})",
            "collect more rows or use fewer features",
        )
    import pandas as pd

    out = pd.DataFrame(x, columns=spec.features)
    out.insert(0, "y", y)
    error = _errors(spec, frame, y, source)
    if error is not None:
        out.insert(1, "error", error)
    if spec.count is not None:
        out.insert(2, "count", pd.to_numeric(frame[spec.count]).to_numpy(dtype=float))
    if spec.id_column and spec.id_column in frame.columns:
        out.insert(0, "id", frame[spec.id_column].astype(str).to_numpy())
    predict = None
    if spec.predict is not None:
        path = (files or {}).get(spec.predict, Path(spec.predict))
        predict = load_predict(spec, path)
    return Rows(out, predict), []


def input_files(spec: Spec) -> list[str]:
    """The predict file, whose rows change the results."""
    return [spec.predict] if spec.predict else []


def load_predict(spec: Spec, path: Path) -> pd.DataFrame:
    """The rows to predict, checked against the features the model was fitted on."""
    import pandas as pd

    source = str(path)
    if not path.is_file():
        raise DataError(
            source,
            "predict file not found (from predict = ...)",
            "check the path, relative to the config file",
        )
    frame = pd.read_csv(path) if path.suffix.lower() == ".csv" else pd.read_parquet(path)
    missing = [f for f in spec.features if f not in frame.columns]
    if missing:
        raise DataError(
            source,
            f"the predict file's columns do not match the features: missing "
            f"{', '.join(repr(f) for f in missing)} (it has {', '.join(map(str, frame.columns))})",
            "give the predict file one column per feature, named as in features",
        )
    x = features_of(spec, frame, source)
    out = pd.DataFrame(x, columns=spec.features)
    if spec.id_column and spec.id_column in frame.columns:
        out.insert(0, "id", frame[spec.id_column].astype(str).to_numpy())
    for column in (spec.target_error, spec.count):
        if column and column in frame.columns:
            out[column] = numeric_column(frame, source, column, column)
    return out


def _new_row_errors(
    spec: Spec, new: pd.DataFrame, mean_draws: np.ndarray, has_error: bool
) -> np.ndarray | None:
    """Measurement error of a new observation, where it is known (else ``None``).

    Given by ``target_error``; or the binomial error of the predicted share with the new
    row's ``count``; or 1 (times ``sigma``) in an ordinary regression.
    """
    if not has_error:
        return np.ones(len(new))
    if spec.target_error and spec.target_error in new:
        return new[spec.target_error].to_numpy()[None, :]
    if spec.count and spec.count in new:
        return binomial_error(np.clip(mean_draws, 0, 1), new[spec.count].to_numpy()[None, :])
    return None


def priors(y: np.ndarray, has_error: bool) -> dict[str, float]:
    """Weakly informative priors on the standardised scale."""
    spread = float(np.std(y, ddof=1))
    return {
        "intercept_mean": float(np.mean(y)),
        "intercept_sd": 2 * spread,
        "beta_sd": spread,
        "sigma_scale": 1.0 if has_error else spread,
    }


def fit(spec: Spec, rows: Rows, settings: Settings) -> Fit:
    """Fit the regression, summarise coefficients, check it, predict new rows."""
    import pandas as pd
    import pymc as pm
    import pytensor.tensor as pt
    import xarray as xr

    frame = rows.train
    y = frame["y"].to_numpy()
    x = frame[spec.features].to_numpy()
    has_error = "error" in frame
    error = frame["error"].to_numpy() if has_error else np.ones(len(y))
    counts = frame["count"].to_numpy() if "count" in frame else np.ones(len(y))
    centre, scale = x.mean(axis=0), x.std(axis=0)
    prior = priors(y, has_error)
    coords = {"feature": spec.features, "row": np.arange(len(y))}
    with pm.Model(coords=coords) as model:
        xs = pm.Data("x", (x - centre) / scale, dims=("row", "feature"))
        err = pm.Data("error", error, dims="row")
        n = pm.Data("count", counts, dims="row")
        intercept = pm.Normal("intercept_std", prior["intercept_mean"], prior["intercept_sd"])
        beta = pm.Normal("beta_std", 0.0, prior["beta_sd"], dims="feature")
        sigma = pm.HalfNormal("sigma", prior["sigma_scale"])
        mu = pm.Deterministic("mu", intercept + xs @ beta, dims="row")
        if spec.count is not None:
            # The binomial error at the model's share: errors from the observed shares would
            # give rows that happen to show few events too much weight and bias the fit.
            share = pt.clip(mu, 0.5 / n, 1 - 0.5 / n)
            err = pt.sqrt(share * (1 - share) / n)
        pm.Normal("y", mu, sigma * err, observed=y, dims="row")
        trace = sample(
            settings,
        )
    post = trace["posterior"].to_dataset()
    divergences = int(trace["sample_stats"]["diverging"].sum())
    flat = lambda v: post[v].stack(s=("chain", "draw")).transpose("s", ...).values  # noqa: E731
    beta_std, intercept_std, sigma_draws = flat("beta_std"), flat("intercept_std"), flat("sigma")
    beta_orig = beta_std / scale
    intercept_orig = intercept_std - beta_orig @ centre
    prob = settings.ci_prob
    coefficients = [
        {
            "name": feature,
            "label": spec.feature_labels.get(feature, feature),
            **stats.summary(beta_orig[:, j], prob),
            "prob_positive": stats.prob_greater(beta_orig[:, j], 0.0),
            "per_sd": stats.summary(beta_std[:, j], prob),
            "feature_sd": float(scale[j]),
        }
        for j, feature in enumerate(spec.features)
    ]
    params = xr.Dataset(
        {
            "beta": (("chain", "draw", "feature"), post["beta_std"].values / scale),
            "intercept": (
                ("chain", "draw"),
                post["intercept_std"].values - (post["beta_std"].values / scale) @ centre,
            ),
            "sigma": post["sigma"],
        },
        coords={"feature": spec.features},
    )
    diagnostics = {
        **stats.convergence(post[["beta_std", "intercept_std", "sigma"]], divergences),
        "method": "NUTS (PyMC)",
    }
    rng = np.random.default_rng(settings.seed)
    pick = rng.choice(len(sigma_draws), size=min(PPC_DRAWS, len(sigma_draws)), replace=False)
    mu_draws = flat("mu")
    rep_error = (
        binomial_error(np.clip(mu_draws[pick], 0, 1), counts[None, :])
        if spec.count is not None
        else error[None, :]
    )
    replicated = mu_draws[pick] + sigma_draws[pick, None] * rep_error * rng.standard_normal(
        (len(pick), len(y))
    )
    fitted = pd.DataFrame(
        {"row": np.arange(len(y)) + 2, "observed": y, "fitted": mu_draws.mean(axis=0)}
    )
    residual_sd = float(np.std(y - fitted["fitted"]))
    results = {
        "target_label": spec.target_label or spec.target,
        "n": int(len(y)),
        "error_source": "target_error" if spec.target_error else "count" if spec.count else None,
        "prior": prior,
        "coefficients": coefficients,
        "evidence_threshold": stats.STRONG_EVIDENCE,
        "intercept": stats.summary(intercept_orig, prob),
        "sigma": stats.summary(sigma_draws, prob),
        "ppc": {
            "observed_sd": float(np.std(y, ddof=1)),
            "replicated_sd": stats.summary(replicated.std(axis=1, ddof=1), prob),
            "observed_mean": float(np.mean(y)),
            "replicated_mean": stats.summary(replicated.mean(axis=1), prob),
            "residual_sd": residual_sd,
        },
        "predictions": [],
    }
    tables = {"fitted": fitted}
    ppc_data = xr.Dataset({"y_rep": (("draw", "row"), replicated), "y": (("row",), y)})
    if rows.predict is not None:
        new = rows.predict
        with model:
            pm.set_data(
                {
                    "x": (new[spec.features].to_numpy() - centre) / scale,
                    "error": np.ones(len(new)),
                    "count": np.full(len(new), 100.0),
                },
                coords={"row": np.arange(len(new))},
            )
            predicted = pm.sample_posterior_predictive(
                trace,
                var_names=["mu"],
                predictions=True,
                progressbar=False,
                random_seed=settings.seed,
            )
        mean_draws = predicted["predictions"]["mu"].to_dataset()["mu"]
        mean_draws = mean_draws.stack(s=("chain", "draw")).transpose("s", "row").values
        new_error = _new_row_errors(spec, new, mean_draws, has_error)
        table = new.copy()
        table["predicted_mean"] = mean_draws.mean(axis=0)
        mean_hdi = stats.hdi_columns(mean_draws, prob)
        table["mean_low"], table["mean_high"] = mean_hdi[:, 0], mean_hdi[:, 1]
        obs_hdi = None
        if new_error is not None:
            obs = mean_draws + sigma_draws[:, None] * new_error * rng.standard_normal(
                mean_draws.shape
            )
            if spec.count is not None:
                obs = np.clip(obs, 0.0, 1.0)  # a measured share lies between 0 and 1
            obs_hdi = stats.hdi_columns(obs, prob)
            table["observation_low"], table["observation_high"] = obs_hdi[:, 0], obs_hdi[:, 1]
        results["predictions"] = [
            {
                "row": str(new["id"].iloc[i]) if "id" in new else str(i + 2),
                "mean": float(table["predicted_mean"].iloc[i]),
                "hdi": [float(mean_hdi[i, 0]), float(mean_hdi[i, 1])],
                **(
                    {"observation_hdi": [float(obs_hdi[i, 0]), float(obs_hdi[i, 1])]}
                    if obs_hdi is not None
                    else {}
                ),
                "features": {f: float(new[f].iloc[i]) for f in spec.features},
            }
            for i in range(len(new))
        ]
        tables["predictions"] = table
    tree = xr.DataTree.from_dict({"posterior": params, "posterior_predictive": ppc_data})
    return Fit(results=results, posterior=tree, diagnostics=diagnostics, tables=tables)


def key_numbers(results: dict[str, Any]) -> dict[str, Any]:
    """The numbers a history of readouts follows: the first feature's coefficient."""
    first = results["coefficients"][0]
    return {
        "label": f"effect per unit of {first['label']}",
        "scale": "value",
        "mean": first["mean"],
        "hdi": first["hdi"],
        "prob": first["prob_positive"],
        "prob_label": "chance the effect is positive",
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
    fig, ax = figures.new_figure(7, 0.9 + 0.45 * len(coefs))
    for i, c in enumerate(coefs):
        ax.plot(c["per_sd"]["hdi"], [i, i], color=blue, lw=3)
        ax.plot(c["per_sd"]["mean"], i, "o", color=blue)
    ax.axvline(0, color="black", lw=0.8, ls="--")
    ax.set_yticks(range(len(coefs)), [c["label"] for c in coefs])
    ax.set_xlabel(
        f"Change per standard deviation of each feature; bar: {figures.ci_label(ci_prob)}"
    )
    figures.tidy(ax, keep_left=True)
    out["coefficients"] = figures.finish(fig)

    ppc = fit.posterior["posterior_predictive"].to_dataset()
    y, y_rep = ppc["y"].values, ppc["y_rep"].values
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
    ax.set_xlabel(results["target_label"])
    figures.tidy(ax, legend=True)
    out["ppc"] = figures.finish(fig)
    return out


RESULT_SCHEMA: dict[str, Any] = {
    "required": ["coefficients", "predictions", "intercept", "sigma"],
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
        "sigma": SUMMARY_SCHEMA,
    },
}


ANALYSIS = Analysis(
    name="regression",
    version="2",
    spec=Spec,
    result_schema=RESULT_SCHEMA,
    load=load,
    fit=fit,
    decide=decide,
    plot=plot,
    key_numbers=key_numbers,
    verdicts=VERDICTS,
    figures=("coefficients", "ppc"),
    input_files=input_files,
)
