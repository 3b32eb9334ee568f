"""The mixture's figures: the fitted mixture over the data, and the component means."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from analyses.core import figures
from analyses.core.base import Fit
from analyses.mixture.results import MixtureResults

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def plot(fit: Fit[MixtureResults], ci_prob: float) -> dict[str, Figure]:
    """Histogram with the fitted mixture and each component; posterior of the means."""
    from scipy import stats as sps

    results = fit.results
    y = fit.tables["membership"]["value"].to_numpy()
    post = fit.posterior["posterior"].to_dataset()
    out: dict[str, Figure] = {}
    # Narrow enough, and its text large enough, to read on a phone (9 px at 390 px).
    fig, ax = figures.new_figure(figures.PHONE_WIDTH, 3.2)
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
    for i, comp in enumerate(results.components):
        part = comp.weight.mean * sps.norm.pdf(grid, comp.mean.mean, comp.sd.mean)
        total += part
        ax.plot(
            grid,
            part,
            color=figures.colour(i, skip_grey=True),
            lw=2.2,
            ls="--",
            label=comp.label or f"component {i + 1}",
        )
    ax.plot(grid, total, color="black", lw=1.8, label="mixture")
    ax.set_xlabel(figures.wrap(results.value_label))
    figures.tidy(ax, legend=True, legend_size=figures.PHONE_TEXT)
    out["fit"] = figures.finish(fig)

    fig, ax = figures.new_figure(figures.PHONE_WIDTH, 2.8)
    for i, comp in enumerate(results.components):
        draws = post["mu"].sel(component=i).values.ravel()
        ax.hist(
            draws,
            bins=60,
            density=True,
            histtype="stepfilled",
            alpha=0.5,
            color=figures.colour(i, skip_grey=True),
            label=comp.label or f"component {i + 1}",
        )
        ax.plot(comp.mean.hdi, [0, 0], color=figures.colour(i, skip_grey=True), lw=4)
    ax.set_xlabel(
        figures.wrap(
            f"Posterior of each component's mean ({results.value_label}); "
            f"bar: {figures.ci_label(ci_prob)}"
        )
    )
    figures.tidy(ax, legend=True, legend_size=figures.PHONE_TEXT)
    out["means"] = figures.finish(fig)
    return out
