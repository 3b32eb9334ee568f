"""Hierarchical partial pooling of one effect measured on many units (creators, markets).

Each unit ``i`` has an estimate ``y_i`` with standard error ``se_i``: given, or computed in
the engine from raw rows (each unit's difference in means between the arms, with Welch's
standard error, from per unit x arm counts and sums). The model::

    effect_i ~ Normal(mu_group[g_i], sigma_unit)
    mu_group ~ Normal(mu, sigma_group)          (one level only when there is no group)
    y_i      ~ Normal(effect_i, se_i)

The default ``marginal`` method integrates the unit effects, the group means and ``mu``
out exactly and computes the posterior of the two spreads on a grid (``analyses.core.pooling``):
no sampler, no Monte Carlo error in the average, the new-unit prediction or the group
means. ``method = "full"`` samples the plain non-centred PyMC model; the tests check that
both agree, and both against an independent numerical integration.
"""

from __future__ import annotations

import numpy as np

from analyses.core import health, pooling, stats
from analyses.core.base import Fit, Settings
from analyses.core.results import Estimate, KeyNumbers, Signed, Summary
from analyses.hierarchical import models
from analyses.hierarchical import units as units_table
from analyses.hierarchical.data import Units
from analyses.hierarchical.figures import MAX_POINTS
from analyses.hierarchical.results import (
    Counts,
    GridDiagnostics,
    Group,
    HierarchicalResults,
    Hyper,
    PoolingPrior,
)
from analyses.hierarchical.spec import Spec


def fit(spec: Spec, units: Units, settings: Settings) -> Fit[HierarchicalResults]:
    """Fit the pooling model and summarise units, groups, spreads, baselines."""
    import xarray as xr

    groups = sorted(set(units.group))
    g = np.searchsorted(groups, units.group)
    prob = settings.ci_prob
    prior = pooling.PoolingPrior.scaled(units.estimate, units.se)
    y, se = units.estimate, units.se
    if spec.method == "full":
        effect, exact, drawn, diagnostics = models.full(spec, units, groups, g, prior, settings)
        tau2, s2 = drawn["sigma_unit"][:, None] ** 2, se[None, :] ** 2
        summary = {
            "mean": effect.mean(axis=0),
            "hdi": stats.hdi_columns(effect, prob),
            "prob_positive": (effect > 0).mean(axis=0),
            "shrinkage": (s2 / (s2 + tau2)).mean(axis=0),
        }
        pooled = None
    else:
        pooled, exact, drawn, diagnostics = models.exact(spec, units, groups, g, prior, settings)
        summary = pooling.unit_summaries(
            y, se, g, drawn["mu_group"], drawn["sigma_unit"], prob, settings.seed
        )
    table = units_table.unit_table(units, summary, exact, g, prob)
    picks = units_table.highlights(table)
    if pooled is not None:  # the units shown in the report are summarised exactly
        for i, row in zip(picks, pooling.unit_exact(pooled, y, se, g, picks, prob), strict=True):
            table.loc[i, ["mean", "prob_positive", "shrinkage"]] = [
                row["mean"],
                row["prob_positive"],
                row["shrinkage"],
            ]
            table.loc[i, ["hdi_low", "hdi_high"]] = row["hdi"]
    users_known = bool(table["users"].notna().all())
    parts = dict(tuple(table.groupby("group", sort=False)))  # each group's units, split once
    hyper = Hyper(
        mu=Estimate.model_validate(exact["mu"]),
        sigma_unit=Estimate.model_validate(exact["sigma_unit"]),
        **(
            {"sigma_group": Estimate.model_validate(exact["sigma_group"])}
            if "sigma_group" in exact
            else {}
        ),
    )
    results = HierarchicalResults(
        unit_label=spec.unit_label,
        group_label=spec.group_label,
        grouped=len(groups) > 1,
        n_units=int(len(table)),
        plotted_units=int(min(len(table), MAX_POINTS)),
        n_users=int(table["users"].sum()) if users_known else None,
        prior=PoolingPrior(mu_mean=prior.mu_mean, mu_sd=prior.mu_sd, sigma_scale=prior.scale),
        prior_influence=prior.influence(exact) if "sd" in exact["mu"] else None,
        average=Signed.model_validate(exact["average"]),
        new_unit=Signed.model_validate(
            {k: exact["new_unit"][k] for k in ("mean", "hdi", "prob_positive")}
        ),
        units=tuple(units_table.record(table.loc[i], roles) for i, roles in picks.items()),
        groups=tuple(
            _group(parts[name], name, exact["groups"][i]) for i, name in enumerate(groups)
        ),
        hyper=hyper,
        counts=Counts(
            threshold=stats.STRONG_EVIDENCE,
            positive=int((table["prob_positive"] >= stats.STRONG_EVIDENCE).sum()),
            negative=int((table["prob_positive"] <= 1 - stats.STRONG_EVIDENCE).sum()),
        ),
        baselines=units_table.baselines(table),
        shrinkage_by_size=units_table.shrinkage_by_size(table),
        **_left_out(units),
    )
    # The sampler's chains kept apart (its diagnostic figure compares them); the exact
    # path's independent draws are one chain. No spread between groups without groups.
    chains = settings.chains if spec.method == "full" else 1
    kept = {k: v for k, v in drawn.items() if k not in ("mu_group", "sigma_group")}
    if len(groups) > 1:
        kept["sigma_group"] = drawn["sigma_group"]
    posterior = xr.Dataset(
        {
            **{k: (("chain", "draw"), np.reshape(v, (chains, -1))) for k, v in kept.items()},
            "mu_group": (
                ("chain", "draw", "group"),
                np.reshape(drawn["mu_group"], (chains, -1, len(groups))),
            ),
        },
        coords={"group": groups},
    )
    tree = {"posterior": posterior}
    if pooled is not None:
        tree["grid"] = xr.Dataset(
            {"density": (("sigma_unit", "sigma_group"), pooled.density)},
            coords={"sigma_unit": pooled.tau_u_grid, "sigma_group": pooled.tau_g_grid},
        )
    return Fit(
        results=results,
        posterior=xr.DataTree.from_dict(tree),
        diagnostics=GridDiagnostics.model_validate(diagnostics),
        # Grouped: every group's numbers too (a page shows the largest, decide.groups_shown).
        tables={"units": table}
        | ({"groups": units_table.group_table(results.groups)} if results.grouped else {}),
    )


def _group(rows, name: str, summary: dict) -> Group:
    """One group (``rows``, its units): its average, a new unit's, complete pooling's."""
    return Group(
        group=name,
        units=int(len(rows)),
        users=int(rows["users"].sum()) if rows["users"].notna().all() else None,
        mean=summary["mean"],
        hdi=summary["hdi"],
        prob_positive=summary["prob_positive"],
        **({"sd": summary["sd"]} if "sd" in summary else {}),
        new_unit=Estimate.model_validate(summary["new_unit"]),
        complete_pooling=Summary(
            mean=float(rows["complete_mean"].iloc[0]),
            hdi=(float(rows["complete_low"].iloc[0]), float(rows["complete_high"].iloc[0])),
        ),
    )


def _left_out(units: Units) -> dict:
    """From a warehouse, what its query left out (``excluded``, ``exposures``).

    ``exposures``: the users in more than one arm. Nothing for a data file.
    """
    found = {
        "excluded": health.left_out(units.counted),
        "exposures": health.multiple_arms(units.counted),
    }
    return {key: value for key, value in found.items() if value is not None}


def key_numbers(results: HierarchicalResults) -> KeyNumbers:
    """The numbers a history of readouts follows: the average effect over the units."""
    return KeyNumbers(
        quantity="average_effect",
        unit=results.unit_label,
        scale="value",
        mean=results.average.mean,
        hdi=results.average.hdi,
        prob=results.average.prob_positive,
        n=results.n_units,
    )
