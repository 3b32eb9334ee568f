"""What every analysis shares: the interval constant, the error type, the fit result.

``analyses`` knows nothing of HTML, PDF or email. An analysis module provides:

``NAME``, ``VERSION``
    Its name in ``experiments.toml`` and a version bumped whenever its results change.
``Spec``
    A pydantic model of its config keys (unknown keys are rejected).
``RESULT_SCHEMA``
    The JSON Schema properties of the results it adds to a bundle.
``load(spec, frame, source) -> (frame, warnings)``
    Check the data and return the rows to fit; raise :class:`DataError` when unusable.
``fit(spec, frame, settings) -> Fit``
    Fit the model and summarise it.
``input_files(spec) -> list[str]`` (optional)
    Further files the fit reads (relative to the config), so that changing them refits.
``key_numbers(results) -> dict``
    The headline number (``label``, ``scale``, ``mean``, ``hdi``, ``prob``, ``n``) that the
    history of readouts follows.
``plot(fit) -> dict[str, Figure]``
    Matplotlib figures keyed by name; captions and alt text come from the wording.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from pydantic import BaseModel, ConfigDict

#: The one interval used everywhere: a 94% highest-density interval.
CI_PROB = 0.94
CI_KIND = "hdi"

#: JSON Schema pieces the analyses' ``RESULT_SCHEMA`` and the bundle schema share.
INTERVAL_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {"type": "number"},
    "minItems": 2,
    "maxItems": 2,
}
SUMMARY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["mean", "hdi"],
    "properties": {"mean": {"type": "number"}, "hdi": INTERVAL_SCHEMA},
}
PROB_SCHEMA: dict[str, Any] = {"type": "number", "minimum": 0, "maximum": 1}


class DataError(ValueError):
    """Data that an analysis cannot use, naming the file, the column and the fix.

    Parameters
    ----------
    source
        The data file (or config file) the problem is in.
    problem
        What is wrong, naming the column or key.
    fix
        What the user should do about it.
    """

    def __init__(self, source: str, problem: str, fix: str) -> None:
        self.source, self.problem, self.fix = source, problem, fix
        super().__init__(f"{source}: {problem}. Fix: {fix}")


def row_numbers(positions, limit: int = 5) -> str:
    """Spreadsheet row numbers (the header is row 1) of the first few offending rows."""
    positions = list(positions)
    shown = ", ".join(str(int(i) + 2) for i in positions[:limit])
    more = f" and {len(positions) - limit} more" if len(positions) > limit else ""
    return shown + more


def require_columns(frame: pd.DataFrame, source: str, columns: dict[str, str | None]) -> None:
    """Every configured column (config key -> column name, ``None`` when unset) exists."""
    for key, column in columns.items():
        if column is not None and column not in frame.columns:
            raise DataError(
                source,
                f"column '{column}' (from {key} = \"{column}\") is missing; the file has "
                f"columns {', '.join(map(str, frame.columns))}",
                f"set {key} to one of those columns or add the column to the file",
            )


def no_missing(frame: pd.DataFrame, source: str, columns: list[str | None]) -> None:
    """No empty cells in these columns (``None`` entries are skipped)."""
    for column in filter(None, columns):
        missing = frame.index[frame[column].isna()]
        if len(missing):
            raise DataError(
                source,
                f"column '{column}' has {len(missing)} missing value(s), in rows "
                f"{row_numbers(missing)}",
                "fill them in or remove those rows",
            )


def numeric_column(
    frame: pd.DataFrame, source: str, key: str, column: str, fix: str = "make the column numeric"
) -> np.ndarray:
    """A configured column that must exist, be complete and hold numbers, as floats."""
    require_columns(frame, source, {key: column})
    no_missing(frame, source, [column])
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = frame.index[values.isna()]
    if len(bad):
        raise DataError(
            source,
            f"column '{column}' ({key}) has {len(bad)} non-numeric value(s), in rows "
            f"{row_numbers(bad)}",
            fix,
        )
    return values.to_numpy(dtype=float)


class BaseSpec(BaseModel):
    """Keys every experiment has; an analysis's ``Spec`` adds its own."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    title: str
    analysis: str
    data: str
    description: str = ""
    ci_prob: float | None = None
    seed: int | None = None
    email: list[str] = []


@dataclass(frozen=True)
class Settings:
    """How to fit: interval probability, seed and MCMC size."""

    ci_prob: float = CI_PROB
    seed: int = 20261121
    draws: int = 1000
    tune: int = 1000
    chains: int = 2
    cores: int = 1
    exact_draws: int = 40_000
    #: Folder that relative paths in the config (such as ``predict``) are resolved against.
    base_dir: str = "."


@dataclass(frozen=True)
class Fit:
    """What ``fit`` returns: summaries for the bundle and the posterior for ``posterior.nc``.

    Attributes
    ----------
    results
        Analysis-specific summaries (plain JSON types), merged into the bundle.
    posterior
        Posterior draws (and sample stats where MCMC was used) as a DataTree.
    diagnostics
        ``r_hat_max``, ``ess_bulk_min``, ``divergences``, ``ok`` and ``method``.
    warnings
        Problems with the data that did not stop the fit, as ``{"code", "count", ...}``.
    tables
        Full tables written as CSV beside the report (``{"units": frame}`` -> units.csv),
        for results too long for the bundle, the page or the PDF.
    """

    results: dict[str, Any]
    posterior: xr.DataTree
    diagnostics: dict[str, Any]
    warnings: list[dict[str, Any]] = field(default_factory=list)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


def sample(settings: Settings, **options: Any) -> xr.DataTree:
    """NUTS inside the current PyMC model with the run's draws, chains, cores and seed.

    Quiet (readout reports its own progress and diagnostics); ``options`` are passed on to
    ``pymc.sample`` (``target_accept``, ``init``, ``initvals``).
    """
    import pymc as pm

    return pm.sample(
        draws=settings.draws,
        tune=settings.tune,
        chains=settings.chains,
        cores=settings.cores,
        random_seed=settings.seed,
        progressbar=False,
        compute_convergence_checks=False,
        quiet=True,
        **options,
    )
