"""What every analysis shares: the contract, the settings, the fit result, the error type.

``analyses`` knows nothing of HTML, PDF, SQL connections or email. Each analysis module
declares exactly one :class:`Analysis` object named ``ANALYSIS``; the registry in
``readout.registry`` collects the modules that do, so a helper module in this package is
never mistaken for an analysis.

Only light modules are imported here (pydantic, the standard library): checking a config
must not pay for PyMC, SciPy, pandas or matplotlib. Heavy imports happen inside the
functions that need them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_serializer,
    model_validator,
)

from analyses.core.results import (
    Decision,
    Diagnostics,
    Envelope,
    KeyNumbers,
    Results,
    bundle_model,
)

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr
    from matplotlib.figure import Figure

    from analyses.core.draws import Draws

#: The one interval used everywhere unless the config says otherwise: a 94% HDI.
CI_PROB = 0.94
CI_KIND = "hdi"
#: The default random seed of every fit.
SEED = 20261121


class DataError(ValueError):
    """Data (or config) that cannot be used, naming the file, the column and the fix.

    Parameters
    ----------
    source
        The data file, config file or source the problem is in.
    problem
        What is wrong, naming the column or key.
    fix
        What the user should do about it.
    """

    def __init__(self, source: str, problem: str, fix: str) -> None:
        self.source, self.problem, self.fix = source, problem, fix
        super().__init__(f"{source}: {problem}. Fix: {fix}")


class NothingYet(DataError):
    """Nothing to read yet, and no fault: e.g. every unit is still inside the window.

    The run says so and ends this experiment without a readout (exit 0); the next run reads
    it again.
    """


class Tone(StrEnum):
    """How a verdict reads at a glance; CSS classes and email colours key off it."""

    GOOD = "good"
    BAD = "bad"
    NEUTRAL = "neutral"
    WITHHELD = "withheld"


class Settings(BaseModel):
    """How to fit: one model for the config's ``[settings]`` and for the analyses.

    Every field except those in :data:`RUN_ONLY` changes results and is part of the fit
    cache key; ``cores`` only changes how fast a fit runs.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    ci_prob: float = Field(CI_PROB, gt=0.5, lt=1.0)
    seed: int = Field(SEED, ge=0, le=2**32 - 1)
    draws: int = Field(1000, ge=100, le=100_000)
    tune: int = Field(1000, ge=100, le=100_000)
    chains: int = Field(4, ge=1, le=8)
    exact_draws: int = Field(40_000, ge=1000, le=10_000_000)
    max_rows: int = Field(2_000_000, ge=1)
    cores: int = Field(1, ge=1, le=64)
    #: Write every readout's draws to ``posterior.nc``. Off: a fit that returns a DataTree
    #: (sampled, or another analysis's) still writes it; an exact A/B fit does not.
    save_draws: bool = False

    def results_key(self) -> dict[str, Any]:
        """The fields that change results (hashed into the fit cache key).

        ``save_draws`` only where set: turning it on refits (so the file is written), and a
        config without it hashes as before it existed.
        """
        return self.model_dump(
            exclude=RUN_ONLY | ({"save_draws"} if not self.save_draws else set())
        )


#: Settings that change how a fit runs, not what it finds.
RUN_ONLY = frozenset({"cores"})


#: Keys that say who gets a readout and when, not what it finds: left out of the config's
#: hash (changing them refits nothing) and of the bundle's ``spec``.
DELIVERY_KEYS = frozenset({"email", "email_when"})


def _email_address(value: str) -> str:
    """A plain address, checked as pydantic's ``EmailStr`` checks it (email-validator).

    ``EmailStr`` imports email-validator, whose rules compile a screenful of regular
    expressions, wherever a config is read; most configs name no recipient, so the check
    imports it only for an address it is given.
    """
    from pydantic.networks import validate_email

    return validate_email(value)[1]


#: An email address in a config (the same check and message as ``EmailStr``).
EmailAddress = Annotated[str, AfterValidator(_email_address)]


class BaseSpec(BaseModel):
    """Keys every experiment has; an analysis's ``Spec`` adds its own.

    The data come from a file (``data``, CSV or Parquet, read through DuckDB) or from a
    ``source`` named in ``[sources.<name>]``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    title: str = Field(min_length=1)
    analysis: str
    data: str | None = Field(None, min_length=1)
    source: str | None = Field(None, min_length=1)
    description: str = ""
    ci_prob: float | None = Field(None, gt=0.5, lt=1.0)
    seed: int | None = Field(None, ge=0, le=2**32 - 1)
    #: Recipients of the emailed summary: plain addresses, checked when the config is read.
    email: list[EmailAddress] = []
    #: When a new readout is emailed: ``change`` (the verdict changed, the planned end, or
    #: guardrail harm) or ``always`` (every new readout).
    email_when: Literal["change", "always"] = "change"
    #: A data file's column of dates or timestamps: ``readout run --as-of`` reads the rows
    #: before the end of that day only (without it, the whole file is read and the report
    #: says so).
    time_column: str | None = Field(None, min_length=1)

    @model_serializer(mode="wrap")
    def _without_unset_time(self, handler) -> dict[str, Any]:
        # Left out when not given: configs without it keep their hash (nothing refits).
        data = handler(self)
        if isinstance(data, dict) and self.time_column is None:
            data.pop("time_column", None)
        return data

    @field_validator("title", "name")
    @classmethod
    def _one_line(cls, value: str) -> str:
        # A title ends up in mail headers and page titles: a line break there is an injection.
        if any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise ValueError("must be one line of text, without line breaks or control characters")
        return value

    @model_validator(mode="after")
    def _data_or_source(self) -> BaseSpec:
        if (self.data is None) == (self.source is None):
            raise ValueError(
                "give either data (a CSV or Parquet file) or source (a [sources.<name>] entry)"
            )
        if self.time_column is not None and self.data is None:
            raise ValueError(
                "time_column is for a data file; a source's experiment is cut at --as-of by "
                "its exposed_at and ts columns: remove time_column"
            )
        return self


@dataclass(frozen=True)
class Fit[R: Results]:
    """What ``fit`` returns: summaries for the bundle and the posterior draws.

    Attributes
    ----------
    results
        The analysis's typed results (its ``Analysis.results`` model), merged into the
        bundle.
    posterior
        Posterior draws (and sample stats where MCMC was used) as a DataTree, or, for an
        exact posterior, as numpy arrays (:class:`~analyses.core.draws.Draws`, turned into
        a DataTree only when ``posterior.nc`` is written).
    diagnostics
        How the posterior was computed and whether it can be trusted
        (:class:`~analyses.core.results.Diagnostics`: ``r_hat_max``, ``ess_bulk_min``,
        ``divergences``, ``ok``, the limits and ``method``).
    warnings
        Problems with the data that did not stop the fit, as ``{"code", "count", ...}``;
        every code must be listed in the analysis's ``warning_codes``.
    tables
        Full tables written as CSV beside the report (``{"units": frame}`` -> units.csv),
        for results too long for the bundle, the page or the PDF.
    """

    results: R
    posterior: xr.DataTree | Draws
    diagnostics: Diagnostics
    warnings: list[dict[str, Any]] = field(default_factory=list)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    #: The verdict ``decide`` gave these results, set before ``plot``: a figure labels what
    #: the verdict allows (a withheld one shows no chance of a finding). ``None``: not decided.
    verdict: str | None = None


def no_input_files(spec: BaseSpec) -> list[str]:
    """An analysis that reads nothing besides its data."""
    return []


@dataclass(frozen=True)
class Analysis:
    """The contract every analysis module fulfils, as one declared object.

    Attributes
    ----------
    name, version
        Its name in ``experiments.toml``; a version bumped whenever its results change
        (part of the fit cache key).
    spec
        A pydantic model of its config keys (unknown keys are rejected).
    results, decision, diagnostics
        The typed models of the results it adds to a bundle, of its verdict and of its
        diagnostics (:mod:`analyses.core.results`); the bundle's model and JSON Schema
        are generated from them (:attr:`bundle`, :attr:`result_schema`).
    request
        ``request(spec) -> Request``: what the engine must fetch, in the words of
        :mod:`analyses.core.inputs` (row-level columns, or sufficient statistics per group).
    load
        ``load(spec, fetched, files) -> (data, warnings)``: check what was fetched, return
        what to fit; raise :class:`DataError` naming the data, the column and the fix.
    fit
        ``fit(spec, rows, settings) -> Fit``: fit the model and summarise it in its typed
        ``results``.
    decide
        ``decide(spec, results, diagnostics) -> Decision``: the verdict and the numbers
        behind it (``verdict``, ``reason_code``, ...), from numbers only; words come later.
    plot
        ``plot(fit, ci_prob) -> {key: Figure}``: matplotlib figures; captions and alt text
        come from the wording at render time.
    key_numbers
        ``key_numbers(results) -> KeyNumbers``: the headline number a history of readouts
        follows (``label``, ``scale``, ``mean``, ``hdi``, ``prob``, ``n``).
    verdicts
        Every verdict ``decide`` can return, with its :class:`Tone`.
    warning_codes
        Every data-warning code ``load`` or ``fit`` can emit.
    figures
        The keys of the figures ``plot`` draws.
    input_files
        ``input_files(spec) -> [path]``: further files the fit reads (relative to the
        config), so that changing them refits and ``readout validate`` checks them.
    recovery
        Optional: ``recovery(spec, tables, truth, unit_column, truth_column) -> DataFrame``
        compares a readout's full tables (``{key: DataFrame}``) with known true effects
        (``readout recovery``); ``None`` when the analysis cannot.
    """

    name: str
    version: str
    spec: type[BaseSpec]
    results: type[Results]
    decision: type[Decision]
    request: Callable[..., Any]
    load: Callable[..., tuple[Any, list[dict[str, Any]]]]
    fit: Callable[..., Fit]
    decide: Callable[..., Decision | Mapping[str, Any]]
    plot: Callable[..., dict[str, Figure]]
    key_numbers: Callable[..., KeyNumbers | Mapping[str, Any]]
    verdicts: Mapping[str, Tone]
    diagnostics: type[Diagnostics] = Diagnostics
    warning_codes: tuple[str, ...] = ()
    figures: tuple[str, ...] = ()
    input_files: Callable[[BaseSpec], list[str]] = no_input_files
    recovery: Callable[..., pd.DataFrame] | None = None

    def tone(self, verdict: str) -> Tone:
        """The tone of one of this analysis's verdicts."""
        return self.verdicts[verdict]

    @property
    def bundle(self) -> type[Envelope]:
        """The model of this analysis's whole bundle (envelope, results, decision)."""
        return bundle_model(self.name, self.results, self.decision, self.diagnostics)

    @property
    def result_schema(self) -> dict[str, Any]:
        """The JSON Schema of the results it adds to a bundle (from :attr:`results`)."""
        return self.results.model_json_schema()


#: PyTensor's numba backend. Measured on 2 cores for the three-component mixture: a first
#: compile of 26 s (the C backend: 41 s), then 5.9 s per fit from numba's cache (C: 8.9 s);
#: per-leapfrog calls are cheaper. Models hold their data in ``pm.Data`` and their
#: data-scaled priors in :func:`prior_data`, so the compiled code does not depend on any
#: value and later runs reuse it (the per-user cache folder), new data included.
COMPILE_MODE = "NUMBA"


def prior_data(**values: float) -> dict[str, Any]:
    """Prior constants as ``pm.Data`` inside the current model (``prior_<name>``).

    A constant written into the graph becomes part of the compiled code: a prior scaled to
    the data then makes every new data set compile the model afresh (5 to 8 s for the
    regression demo). As data, the values change and the compiled code stays.
    """
    import pymc as pm

    return {name: pm.Data(f"prior_{name}", float(value)) for name, value in values.items()}


def sample(settings: Settings, **options: Any) -> Any:
    """NUTS inside the current PyMC model with the run's draws, chains, cores and seed.

    Quiet (readout reports its own progress and diagnostics); ``options`` are passed on to
    ``pymc.sample`` (``target_accept``, ``init``, ``initvals``).
    """
    import sys

    import pymc as pm

    # Forked workers start at once; spawned ones re-import PyMC and re-link the model.
    options.setdefault("mp_ctx", "fork" if sys.platform == "linux" else None)
    return pm.sample(
        draws=settings.draws,
        tune=settings.tune,
        chains=settings.chains,
        cores=min(settings.cores, settings.chains),
        random_seed=settings.seed,
        progressbar=False,
        compute_convergence_checks=False,
        quiet=True,
        compile_kwargs={"mode": COMPILE_MODE},
        **options,
    )


def sampled(
    trace: Any, names: list[str] | None = None, method: str = "NUTS (PyMC)"
) -> tuple[Any, dict[str, Any]]:
    """A NUTS trace's posterior (a Dataset) and the bundle's ``diagnostics`` for it.

    R-hat and bulk ESS over the variables ``names`` (all of them when ``None``), the
    divergent transitions, and ``method``, how the posterior was computed.
    """
    from analyses.core import stats

    post = trace["posterior"].to_dataset()
    divergences = int(trace["sample_stats"]["diverging"].sum())
    checked = post if names is None else post[names]
    return post, {**stats.convergence(checked, divergences), "method": method}
