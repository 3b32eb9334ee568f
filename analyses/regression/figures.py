"""The regression's figures: the coefficients per interquartile step, the predictive check."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from analyses.core import figures
from analyses.core.base import Fit
from analyses.regression.results import RegressionResults

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def plot(fit: Fit[RegressionResults], ci_prob: float) -> dict[str, Figure]:
    """Coefficients with their HDIs, and the posterior-predictive check."""
    results = fit.results
    out: dict[str, Figure] = {}
    coefs = results.coefficients
    blue = figures.colour(0, skip_grey=True)
    # A share is drawn in percent, as the report writes it (percentage points for changes).
    scale, change_unit, level_unit = (
        (100.0, " (percentage points)", " (%)") if results.likelihood == "count" else (1.0, "", "")
    )
    # Narrow enough, and its text large enough, to read on a phone (9 px at 390 px).
    fig, ax = figures.new_figure(figures.PHONE_WIDTH, 1.1 + 0.4 * len(coefs))
    for i, c in enumerate(coefs):
        ax.plot(scale * np.asarray(c.per_step.hdi), [i, i], color=blue, lw=3)
        ax.plot(scale * c.per_step.mean, i, "o", color=blue)
    ax.axvline(0, color="black", lw=0.8, ls="--")
    ax.set_yticks(range(len(coefs)), [c.label for c in coefs])
    ax.set_xlabel(
        figures.wrap(
            f"Change in {results.target_label}{change_unit.replace(' ', chr(160))}\n"
            f"from a feature's 25th to its 75th percentile\n"
            f"(dot: estimate; bar: {figures.ci_label(ci_prob)})"
        ),
        fontsize=figures.PHONE_TEXT,
    )
    figures.tidy(ax, keep_left=True)
    out["coefficients"] = figures.finish(fig)

    ppc = fit.posterior["posterior_predictive"].to_dataset()
    y, y_rep = scale * ppc["y"].values, scale * ppc["y_rep"].values
    fig, ax = figures.new_figure(figures.PHONE_WIDTH, 3.0)
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
    ax.set_xlabel(figures.wrap(results.target_label + level_unit))
    figures.tidy(ax, legend=True, legend_size=figures.PHONE_TEXT)
    out["ppc"] = figures.finish(fig)
    return out
