"""The hierarchical analysis's figures: shrinkage, the units' intervals, the hyperparameters."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from analyses.core import figures, stats
from analyses.core.base import Fit
from analyses.hierarchical.decide import GROUPS_COLOURED, groups_shown
from analyses.hierarchical.results import HierarchicalResults

if TYPE_CHECKING:
    from matplotlib.figure import Figure


# --------------------------------------------------------------------------- figures

#: Plain names of the hyperparameters, for diagnostic panels.
PARAMETER_NAMES = {
    "mu": "overall average",
    "sigma_group": "spread between groups",
    "sigma_unit": "spread between units",
}


#: The colour of the units of groups not shown one by one (light: the shown groups stand out).
OTHERS_GREY = "#a0aec0"

#: Units drawn in the shrinkage plot (a random sample beyond this, highlighted ones always).
MAX_POINTS = 3000


def plot(fit: Fit[HierarchicalResults], ci_prob: float) -> dict[str, Figure]:
    """Shrinkage plot (every highlighted unit drawn; named where names do not overlap).

    Group estimates, and the posterior of the spreads (on the grid, or rank plots of the chains).
    """
    results, table, posterior = fit.results, fit.tables["units"], fit.posterior
    out: dict[str, Figure] = {}
    # With many groups, the largest are charted (decide.groups_shown), and as many as the
    # palette tells apart are coloured (the same colour in both charts); the others are grey.
    shown_groups = groups_shown(results.groups)
    groups = [g.group for g in groups_shown(results.groups, GROUPS_COLOURED)]
    color = {g: figures.colour(i, skip_grey=True) for i, g in enumerate(groups)}
    for g in shown_groups:
        color.setdefault(g.group, figures.PALETTE[0])
    highlighted = {u.unit: u for u in results.units}
    labelled = table["unit"].isin(list(highlighted))
    rest = table[~labelled]
    sample_size = max(MAX_POINTS - int(labelled.sum()), 0)
    if len(rest) > sample_size:
        rest = rest.sample(sample_size, random_state=0)
    shown = table[labelled]
    import pandas as pd

    shown = pd.concat([rest, shown])
    size = shown["users"] if shown["users"].notna().all() else 1 / shown["raw_se"] ** 2
    area = 10 + 120 * (size / size.max()) ** 0.5
    # Narrow enough, and its text large enough, to read on a phone (9 px at 390 px).
    fig, ax = figures.new_figure(figures.PHONE_WIDTH, 4.2)
    others = ~shown["group"].isin(groups)
    if others.any():
        ax.scatter(
            shown.loc[others, "raw_estimate"],
            shown.loc[others, "mean"],
            s=area[others],
            color=OTHERS_GREY,
            alpha=0.35,
            lw=0,
            label=_others(len(results.groups) - len(groups)),
            rasterized=True,
        )
    for g in groups:
        rows = shown["group"] == g
        ax.scatter(
            shown.loc[rows, "raw_estimate"],
            shown.loc[rows, "mean"],
            s=area[rows],
            color=color[g],
            alpha=0.45,
            lw=0,
            label=figures.shorten(g) if results.grouped else None,
            rasterized=True,
        )
    low = min(shown["raw_estimate"].min(), shown["mean"].min())
    high = max(shown["raw_estimate"].max(), shown["mean"].max())
    pad = 0.04 * (high - low)
    ax.plot([low, high], [low, high], color="black", lw=0.8, ls="--")
    for row in shown_groups:
        if row.group not in groups:
            continue
        ax.axhline(row.mean, color=color[row.group], lw=0.8, alpha=0.8)
    # Named: the stories told below (circled) and the units pooling moved most (squared), so
    # the most-shrunk units, the point of the chart, are always drawn (and named where their
    # names find a place clear of the others).
    stories, movers = [], []
    for unit in results.units:
        story = any(r.startswith("story") for r in unit.roles)
        if not story and "mover" not in unit.roles:
            continue
        (stories if story else movers).append(
            (unit.raw_estimate, unit.mean, figures.shorten(unit.unit))
        )
        ax.scatter(
            [unit.raw_estimate],
            [unit.mean],
            s=30,
            marker="o" if story else "s",
            facecolor="none",
            edgecolor="black",
        )
    ax.set_xlim(low - pad, high + 4 * pad)
    ax.set_xlabel("Own estimate (no pooling)")
    ax.set_ylabel("Pooled estimate")
    if results.grouped:
        handles, names = ax.get_legend_handles_labels()
        if others.any():  # the grey "others" last
            handles, names = handles[1:] + handles[:1], names[1:] + names[:1]
        legend = ax.legend(
            handles,
            names,
            frameon=False,
            fontsize=figures.PHONE_TEXT,
            ncol=_columns(groups + ([_others(len(results.groups))] if others.any() else [])),
            loc="lower left",
            bbox_to_anchor=(0, 1),
            borderaxespad=0.2,
            markerscale=0.6,
            handletextpad=0.2,
            columnspacing=0.8,
        )
        for handle in legend.legend_handles:  # every group's marker the same, visible size
            handle.set_sizes([40])
    figures.tidy(ax, keep_left=True)
    # Labelled once the layout is final (names stay inside the axes, clear of each other).
    figures.finish(fig)
    figures.label_points(
        ax, stories + movers, figures.PHONE_TEXT, "unit-label"
    )  # the stories first: where names would overlap, the movers' names give way
    out["shrinkage"] = figures.finish(fig)

    # Rows closer together beyond a few groups: twenty fit page one at nearly full size.
    step = 0.34 if len(shown_groups) <= 8 else 0.22
    fig, ax = figures.new_figure(figures.PHONE_WIDTH, 1.1 + step * len(shown_groups))
    for i, row in enumerate(shown_groups):
        ax.plot(row.hdi, [i, i], color=color[row.group], lw=3)
        ax.plot(row.mean, i, "o", color=color[row.group])
        ax.plot(row.complete_pooling.mean, i, "x", color="black", ms=5)
    ax.axvline(0, color="black", lw=0.8, ls="--")
    ax.set_yticks(range(len(shown_groups)), [figures.shorten(g.group) for g in shown_groups])
    ax.set_xlabel(
        "Group average effect: dot and bar = partial\npooling "
        f"({figures.ci_label(ci_prob)}), x = complete pooling"
    )
    figures.tidy(ax, keep_left=True)
    out["groups"] = figures.finish(fig)
    out["diagnostics"] = _diagnostics_figure(posterior, results)
    return out


def _others(n: int) -> str:
    """The legend's name for the grey units: "994 others"."""
    return f"{n:,} other" + ("s" if n > 1 else "")


def _columns(groups: list[str], width: float = 320.0) -> int:
    """Legend columns for the groups' names: at most five, as many as fit ``width`` points.

    A name at font size 10 takes about 6 points a character, its marker about 22.
    """
    longest = max(len(figures.shorten(g)) for g in groups)
    return max(1, min(5, len(groups), int(width // (6 * longest + 22))))


def _diagnostics_figure(posterior, results) -> Figure:
    if "grid" in posterior.children:
        grid = posterior["grid"].to_dataset()
        panels = ["sigma_unit"] + (["sigma_group"] if results.grouped else [])
        fig, axes = figures.new_grid(1, len(panels), figures.PHONE_WIDTH, 2.4)
        density = grid["density"].values
        for ax, name in zip(axes[0], panels, strict=True):
            values = grid[name].values
            mass = density.sum(axis=1 if name == "sigma_unit" else 0)
            step = values[1] - values[0] if len(values) > 1 else 1.0
            ax.fill_between(values, mass / step, color="#bee3f8")
            ax.plot(values, mass / step, color="#2b6cb0", lw=1.5)
            ax.set_xlabel(PARAMETER_NAMES[name], fontsize=figures.PHONE_TEXT)
            figures.tidy(ax)
        return figures.finish(fig)
    post = posterior["posterior"].to_dataset()
    names = [v for v in ("mu", "sigma_group", "sigma_unit") if v in post and post[v].size > 1]
    fig, axes = figures.new_grid(len(names), 2, figures.PHONE_WIDTH, 1.9 * len(names) + 0.6)
    for (rank_ax, dens_ax), name in zip(axes, names, strict=True):
        values = post[name].transpose("chain", "draw").values
        ranks = stats.ranks(values)
        bins = np.linspace(0, ranks.size, 21)
        for chain, chain_ranks in zip(values, ranks, strict=True):
            rank_ax.hist(chain_ranks, bins=bins, histtype="step")
            dens_ax.hist(chain, bins=40, histtype="step", density=True)
        rank_ax.axhline(ranks.shape[1] / 20, color="black", lw=0.8, ls="--")
        rank_ax.set_ylabel(PARAMETER_NAMES[name], fontsize=figures.PHONE_TEXT)
        rank_ax.set_yticks([])
        dens_ax.set_yticks([])
    axes[-1][0].set_xlabel("rank of each draw\n(one line per chain)", fontsize=figures.PHONE_TEXT)
    axes[-1][1].set_xlabel("posterior\n(one line per chain)", fontsize=figures.PHONE_TEXT)
    return figures.finish(fig)
