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

import numpy as np

from analyses.core import stats
from analyses.core.base import Fit, Settings
from analyses.core.results import MISSING, Diagnostics, KeyNumbers, Summary
from analyses.regression import models
from analyses.regression.data import Data
from analyses.regression.results import (
    Check,
    Coefficient,
    Prediction,
    RegressionPrior,
    RegressionResults,
    Step,
)
from analyses.regression.spec import Spec

#: Replicated data sets drawn for the posterior-predictive check.
PPC_DRAWS = 100


def fit(spec: Spec, data: Data, settings: Settings) -> Fit[RegressionResults]:
    """Fit the regression, summarise effects per interquartile step, check it, predict."""
    import pandas as pd
    import xarray as xr

    y, x = data.y, data.x
    centre, scale = x.mean(axis=0), x.std(axis=0)
    kind = models.likelihood(spec)
    prior = models.priors(y, kind)
    found = models.importance_draws(kind, data, (x - centre) / scale, prior, settings)
    if found is not None:
        post, diagnostics = found
    else:
        post, diagnostics = models.nuts(spec, data, centre, scale, settings)
    flat = lambda v: post[v].stack(s=("chain", "draw")).transpose("s", ...).values  # noqa: E731
    beta_std, intercept_std = flat("beta_std"), flat("intercept_std")
    sigma_draws = flat("sigma") if "sigma" in post else np.ones(len(intercept_std))
    beta_orig = beta_std / scale
    intercept_orig = intercept_std - beta_orig @ centre
    prob = settings.ci_prob
    q25, q75 = np.percentile(x, [25, 75], axis=0)
    step = np.where(q75 > q25, q75 - q25, scale)
    coefficients = tuple(
        Coefficient(
            name=feature,
            label=spec.feature_labels.get(feature, feature),
            **stats.summary(beta_orig[:, j], prob),
            prob_positive=stats.prob_greater(beta_orig[:, j], 0.0),
            step=Step(low=float(q25[j]), high=float(q75[j]), size=float(step[j])),
            per_step=Summary(**stats.summary(beta_orig[:, j] * step[j], prob)),
        )
        for j, feature in enumerate(spec.features)
    )
    mean_draws = intercept_orig[:, None] + beta_orig @ x.T
    if kind == "count":
        mean_draws = np.clip(mean_draws, 0.0, 1.0)
    rng = np.random.default_rng(settings.seed)
    pick = rng.choice(len(intercept_std), size=min(PPC_DRAWS, len(intercept_std)), replace=False)
    error = data.error if data.error is not None else np.ones(len(y))
    replicated = models.replicate(
        kind, mean_draws[pick], sigma_draws[pick], error[None, :], data.count, rng
    )
    fitted = pd.DataFrame(
        {"row": np.arange(len(y)) + 2, "observed": y, "fitted": mean_draws.mean(axis=0)}
    )
    tables = {"fitted": fitted}
    predictions: tuple[Prediction, ...] = ()
    if data.predict is not None:
        predictions, tables["predictions"] = _predictions(
            spec, data.predict, intercept_orig, beta_orig, sigma_draws, kind, prob, rng
        )
    results = RegressionResults(
        target_label=spec.target_label or spec.target,
        n=int(len(y)),
        likelihood=kind,
        error_source="target_error" if spec.target_error else "count" if spec.count else None,
        prior=RegressionPrior(**prior),
        coefficients=coefficients,
        evidence_threshold=stats.STRONG_EVIDENCE,
        intercept=Summary(**stats.summary(intercept_orig, prob)),
        sigma=Summary(**stats.summary(sigma_draws, prob)) if kind != "count" else None,
        ppc=Check(
            observed_sd=float(np.std(y, ddof=1)),
            replicated_sd=Summary(**stats.summary(replicated.std(axis=1, ddof=1), prob)),
            observed_mean=float(np.mean(y)),
            replicated_mean=Summary(**stats.summary(replicated.mean(axis=1), prob)),
            residual_sd=float(np.std(y - fitted["fitted"])),
        ),
        predictions=predictions,
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
    return Fit(
        results=results,
        posterior=tree,
        diagnostics=Diagnostics.model_validate(diagnostics),
        tables=tables,
    )


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
        observations = models.replicate(kind, mean_draws, sigma, error[None, :], error, rng)
        obs_hdi = stats.hdi_columns(observations, prob)
        table["observation_low"], table["observation_high"] = obs_hdi[:, 0], obs_hdi[:, 1]
    rows = tuple(
        Prediction(
            row=str(ids[i]) if ids is not None else str(i + 2),
            mean=float(table["predicted_mean"].iloc[i]),
            hdi=(float(mean_hdi[i, 0]), float(mean_hdi[i, 1])),
            observation_hdi=(
                (float(obs_hdi[i, 0]), float(obs_hdi[i, 1])) if obs_hdi is not None else MISSING
            ),
            features={f: float(x[i, j]) for j, f in enumerate(spec.features)},
        )
        for i in range(len(x))
    )
    return rows, table


def key_numbers(results: RegressionResults) -> KeyNumbers:
    """The numbers a history of readouts follows: the first feature's interquartile effect."""
    first = results.coefficients[0]
    return KeyNumbers(
        quantity="per_step",
        feature=first.name,
        unit="row",
        scale="value",
        mean=first.per_step.mean,
        hdi=first.per_step.hdi,
        prob=first.prob_positive,
        n=results.n,
    )
