"""The pooling model computed two ways: exactly on a grid, or the plain PyMC model sampled.

``marginal`` (the default) integrates the unit effects, the group means and ``mu`` out in
closed form and the two spreads on a grid (:mod:`analyses.core.pooling`); ``full`` samples
the non-centred PyMC model. The tests check both against each other and against an
independent numerical integration.
"""

from __future__ import annotations

import numpy as np

from analyses.core import pooling, stats
from analyses.core.base import prior_data, sample, sampled
from analyses.hierarchical.data import Units
from analyses.hierarchical.spec import Spec

#: Draws of the spreads and group means over which every unit is summarised.
SUMMARY_DRAWS = 2000


# --------------------------------------------------------------------------- model

#: With at least this many units in every group, the group means are well determined by the
#: data and a centred group level samples better; with fewer, a non-centred one avoids funnels.
CENTRED_MIN_UNITS = 20


def centred_groups(spec: Spec, units: Units) -> bool:
    """Whether the full model's group level is centred (``auto``: every group has enough)."""
    if spec.group_parameterisation != "auto":
        return spec.group_parameterisation == "centred"
    _, counts = np.unique(units.group, return_counts=True)
    return int(counts.min()) >= CENTRED_MIN_UNITS


def full_model(spec: Spec, units: Units, groups: list[str], prior: pooling.PoolingPrior):
    """The plain non-centred PyMC model of every unit's effect (``method = "full"``)."""
    import pymc as pm
    import pytensor.tensor as pt

    g = np.searchsorted(groups, units.group)
    with pm.Model(coords={"group": groups, "unit": list(units.unit)}) as model:
        p = prior_data(mu_mean=prior.mu_mean, mu_sd=prior.mu_sd, scale=prior.scale)
        mu = pm.Normal("mu", p["mu_mean"], p["mu_sd"])
        sigma_unit = pm.HalfNormal("sigma_unit", p["scale"])
        if len(groups) > 1:
            sigma_group = pm.HalfNormal("sigma_group", p["scale"])
            if centred_groups(spec, units):
                mu_group = pm.Normal("mu_group", mu, sigma_group, dims="group")
            else:
                z_group = pm.Normal("z_group", 0.0, 1.0, dims="group")
                mu_group = pm.Deterministic("mu_group", mu + sigma_group * z_group, dims="group")
        else:
            mu_group = pm.Deterministic("mu_group", pt.stack([mu]), dims="group")
        z_unit = pm.Normal("z_unit", 0.0, 1.0, dims="unit")
        index = pm.Data("group_index", g.astype("int64"))
        effect = pm.Deterministic("effect", mu_group[index] + sigma_unit * z_unit, dims="unit")
        pm.Normal("y", effect, pm.Data("se", units.se), observed=pm.Data("y_data", units.estimate))
    return model


def exact(spec, units, groups, g, prior, settings):
    """The exact (grid-integrated) posterior and its summaries."""
    pooled = pooling.fit(units.estimate, units.se, g, len(groups), prior)
    exact = pooling.summaries(pooled, len(units), settings.ci_prob)
    rng = np.random.default_rng(settings.seed)
    drawn = pooling.draws(pooled, SUMMARY_DRAWS, rng)
    diagnostics = {
        "r_hat_max": 1.0,
        "ess_bulk_min": float(SUMMARY_DRAWS),
        "divergences": 0,
        "ok": bool(pooled.edge_mass < pooling.EDGE),
        **stats.limits(),
        "method": (
            "exact: unit effects and averages integrated out, the spreads by numerical "
            f"integration on a grid of {len(pooled.nodes.weight):,} points"
        ),
        "grid_points": int(len(pooled.nodes.weight)),
        "edge_mass": pooled.edge_mass,
        "exact": True,
    }
    return pooled, exact, drawn, diagnostics


def predictive(mean: np.ndarray, variance: np.ndarray, prob: float) -> dict:
    """A new unit's effect from posterior draws (mean, HDI, chance above zero).

    Given each draw it is normal around ``mean`` (the overall or its group's average) with
    ``variance`` (the spreads it adds). Summarised exactly as the mixture of those normals
    over the draws, as the exact path does over its grid: no noise from drawing one new
    unit per draw, and a group's new unit carries the spread between units, not only its
    group's average's uncertainty.
    """
    weights = np.full(len(mean), 1.0 / len(mean))
    return pooling.mixture_summary(np.asarray(mean), np.asarray(variance), weights, prob)


def full(spec, units, groups, g, prior, settings):
    """The non-centred PyMC model, sampled; summaries from its draws."""
    with full_model(spec, units, groups, prior):
        trace = sample(settings, target_accept=0.95)
    names = [v for v in ("mu", "sigma_group", "sigma_unit", "mu_group") if v in trace["posterior"]]
    post, diagnostics = sampled(trace, names, "NUTS on the full non-centred model (PyMC)")

    def flat(name):
        return post[name].stack(s=("chain", "draw")).transpose("s", ...).values

    prob = settings.ci_prob
    mu, sigma_unit = flat("mu"), flat("sigma_unit")
    mu_group = flat("mu_group").reshape(-1, len(groups))
    effect = flat("effect")
    sigma_group = flat("sigma_group") if "sigma_group" in post else np.zeros_like(mu)
    average = effect.mean(axis=1)
    exact = {
        "mu": {**stats.summary(mu, prob), "prob_positive": stats.prob_greater(mu, 0.0)},
        "average": {
            **stats.summary(average, prob),
            "prob_positive": stats.prob_greater(average, 0.0),
        },
        "new_unit": predictive(mu, sigma_group**2 + sigma_unit**2, prob),
        "groups": [
            {
                **stats.summary(mu_group[:, i], prob),
                "prob_positive": stats.prob_greater(mu_group[:, i], 0.0),
                "new_unit": predictive(mu_group[:, i], sigma_unit**2, prob),
            }
            for i in range(len(groups))
        ],
        "sigma_unit": stats.summary(sigma_unit, prob),
    }
    if len(groups) > 1:
        exact["sigma_group"] = stats.summary(sigma_group, prob)
    drawn = {"mu": mu, "mu_group": mu_group, "sigma_unit": sigma_unit, "sigma_group": sigma_group}
    return effect, exact, drawn, diagnostics
