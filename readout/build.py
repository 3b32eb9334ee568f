"""Build one readout in its staging folder: the fit, its draws, figures and bundle.

What a run does for each experiment between reading its data and rendering its page
(:mod:`readout.runner` decides which experiments, stages, renders and publishes them):
the fit's cache key, the fit and decision, the draws and figures written beside the
bundle, the numbers of the previous readout the history needs, the bundle validated and
written. Nothing here renders a page or publishes a folder.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

from analyses.core.base import DELIVERY_KEYS
from analyses.core.results import plain
from readout import bundle as bundles
from readout import files, registry, store
from readout.config import Experiment
from readout.data import Loaded, fetch_data, sha256_file
from readout.queries import READ_NOTES


def fit_key(experiment: Experiment, data_sha256: str, as_of: date | None = None) -> str:
    """Cache key of a fit: the data, further input files, the config and the analysis version.

    An experiment with a planned length also keys on the day it is read as of (its day
    counts, and the evidence a verdict needs changes with it, on the same data).
    """
    analysis = registry.get(experiment.spec.analysis)
    extra = [
        sha256_file(path) if path.is_file() else "missing"
        for path in experiment.input_paths().values()
    ]
    if getattr(experiment.spec, "planned", False):
        extra.append(f"as_of:{(as_of or datetime.now(UTC).date()).isoformat()}")
    elif experiment.data_path is not None and as_of is not None:
        extra.append(f"as_of:{as_of.isoformat()}")  # a file read as of a day (cut or whole)
    payload = "|".join(
        [data_sha256, *extra, experiment.config_sha256(), f"{analysis.name}:{analysis.version}"]
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def save_figure(fig, path: Path) -> None:
    """Write one chart as SVG at ``path`` and close it: every readout chart, fit or redrawn.

    Dense layers (scatter points, traces) are rasterised inside the SVG at 150 dpi; no date,
    so an unchanged chart writes the same file.
    """
    import matplotlib.pyplot as plt

    fig.savefig(path, format="svg", dpi=150, metadata={"Date": None})
    plt.close(fig)


def save_figures(figures: dict, staging: Path) -> list[dict]:
    """Write each figure as ``fig-<key>.svg`` in ``staging``; the bundle's list.

    A figure left to later (None: :func:`leave_for_later`) is listed, in its place, and
    written by the programme's step or :func:`draw_left`.
    """
    saved = []
    for key, fig in figures.items():
        filename = store.figure_file(key)
        if fig is not None:
            save_figure(fig, staging / filename)
        saved.append({"key": key, "file": filename})
    return saved


def leave_for_later(fit, decision: dict, staging: Path) -> tuple[str, ...]:
    """The charts an A/B fit leaves to be drawn after the programme has read it.

    A verdict the programme's prior may decide has its lift and scorecard charts drawn
    again with the programme's numbers (:func:`readout.programme.step.redraw_lift`): drawn
    at the fit too, they were thrown away (a sixth of a programme morning's CPU). Left only
    where the programme can redraw them (a verdict not withheld, relative lifts, an exact
    fit's draws of them saved beside the bundle); where it does not, :func:`draw_left`
    draws the fit's.
    """
    from analyses.ab_test.figures import REDRAWN

    relative = all(c.lift_rel is not None for c in fit.results.comparisons)
    return REDRAWN if fits_own_drawable(staging, decision["verdict"], relative) else ()


def own_lift_draws(path: Path, arms) -> dict | None:
    """The experiment's own relative lift draws per treatment arm, from the readout folder.

    ``.lift_draws.npz`` (what an A/B fit writes), or ``posterior.nc`` (a readout written
    before it, or with ``save_draws = true``). ``None`` where the file has no relative lift.
    """
    import numpy as np

    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as saved:
            treatment = [str(t) for t in saved["treatment"]]
            lift = saved["lift_rel"]
        return {arm: lift[..., treatment.index(arm)] for arm in arms}
    import arviz as az

    data = az.from_netcdf(path)["posterior"]
    if "lift_rel" not in data:
        return None
    return {arm: data["lift_rel"].sel(treatment=arm).values for arm in arms}


def draw_left(folder: Path) -> list[str]:
    """Draw the charts a fit left to later that nothing has drawn since; returns their keys.

    The programme's step draws them with its numbers where its prior decided the verdict;
    every other readout that left them (the programme did not read it, or could not) gets
    the fit's own, from its saved draws and bundle, as the fit would have drawn them.
    """
    from analyses.ab_test.figures import REDRAWN

    bundle = bundles.read(folder / store.BUNDLE)
    missing = [
        f["key"]
        for f in bundle.get("figures") or []
        if f["key"] in REDRAWN and not (folder / f["file"]).is_file()
    ]
    if bundle.get("analysis") != "ab_test" or not missing:
        return []
    draw_fits_own(folder, bundle, missing)
    return missing


def fits_own_drawable(folder: Path, verdict: str, relative: bool) -> bool:
    """Whether an A/B readout's lift and scorecard charts can be drawn again as its fit did.

    A verdict not withheld, relative lifts, its exact fit's draws of them in ``folder``:
    those a fit leaves to later (:func:`leave_for_later`) and the programme's step draws
    again as the fit's own where it no longer draws its own.
    """
    return verdict != "withheld" and relative and (folder / store.LIFT_DRAWS).is_file()


def draw_fits_own(folder: Path, bundle: dict, keys) -> None:
    """Draw the fit's own charts of ``keys`` (of the lift and scorecard) into ``folder``.

    From the bundle and the fit's saved relative lift draws, as the fit draws them
    (:func:`analyses.ab_test.figures.drawn_later`): where the fit left them, and where the
    programme's charts no longer read the verdict (it is decided alone again).
    """
    from analyses.ab_test.figures import drawn_later
    from analyses.core import figures as core_figures

    core_figures.pyplot()
    files = {f["key"]: f["file"] for f in bundle["figures"]}
    typed = bundles.typed(bundle)
    lifts = own_lift_draws(folder / store.LIFT_DRAWS, [c.arm for c in typed.comparisons])
    for key, fig in drawn_later(typed, lifts, typed.ci_prob, keys).items():
        save_figure(fig, folder / files[key])


def previous_readout(output: Path, name: str, readout_date: str) -> dict | None:
    """What the history needs of the newest readout before ``readout_date``: numbers only."""
    folder = store.previous(output, name, readout_date)
    if folder is None:
        return None
    bundle = bundles.read(folder / store.BUNDLE)
    return {
        "date": folder.name,
        "data_sha256": bundle["data_sha256"],
        "config_sha256": bundle["config_sha256"],
        "analysis_version": bundle.get("analysis_version"),
        "verdict": bundle["decision"]["verdict"],
        "key_numbers": bundle.get("key_numbers"),
    }


def build_readout(
    experiment: Experiment,
    staging: Path,
    readout_date: str,
    output: Path | None = None,
    loaded: Loaded | None = None,
    as_of: date | None = None,
    redrawn_later: bool = False,
) -> dict:
    """Fit one experiment into ``staging``: posterior, figures and bundle (numbers only).

    ``as_of``: the day the data are read as of (``None``: now). ``redrawn_later``: an A/B
    readout whose verdict the programme's prior decides after every fit, staged: the charts
    it will redraw are left to it (:func:`leave_for_later`; :func:`draw_left` draws any it
    does not).
    """
    started = time.perf_counter()
    spec = experiment.spec
    analysis = registry.get(spec.analysis)
    loaded = loaded or fetch_data(experiment, output, as_of=as_of)
    rows, warnings = analysis.load(spec, loaded.fetched, experiment.input_paths())
    # How the file was read, where not the plain way (semicolons, decimal commas, yes/no).
    warnings = list(loaded.fetched.notes) + warnings
    data_sha = _data_sha(experiment, loaded)
    fit = analysis.fit(spec, rows, experiment.settings)
    known = set(analysis.warning_codes) | set(READ_NOTES)
    unknown = {w["code"] for w in warnings + fit.warnings} - known
    if unknown:
        raise RuntimeError(
            f"analysis {analysis.name} emitted undeclared warning code(s) {sorted(unknown)}"
        )
    decision = plain(analysis.decide(spec, fit.results, fit.diagnostics))
    write_draws(fit, experiment, staging)
    decided = replace(fit, verdict=decision["verdict"])  # the figures read it
    ci_prob = experiment.settings.ci_prob
    later = leave_for_later(fit, decision, staging) if redrawn_later else ()
    plotted = analysis.plot(decided, ci_prob, later) if later else analysis.plot(decided, ci_prob)
    figures = save_figures(plotted, staging)
    tables = []
    for key, table in fit.tables.items():
        files.write_csv(table, staging / store.table_file(key))
        tables.append({"key": key, "file": store.table_file(key), "rows": len(table)})
    bundle = {
        "schema_version": bundles.SCHEMA_VERSION,
        "experiment": spec.name,
        "title": spec.title,
        "analysis": spec.analysis,
        "analysis_version": analysis.version,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "readout_date": readout_date,
        "as_of": loaded.fetched.as_of,
        "ci_prob": experiment.settings.ci_prob,
        "ci_kind": "hdi",
        "data_file": experiment.data_label(),
        "data_sha256": data_sha,
        "config_sha256": experiment.config_sha256(),
        "fit_key": fit_key(experiment, data_sha, as_of),
        "spec": spec.model_dump(mode="json", exclude=DELIVERY_KEYS),
        "versions": bundles.versions(),
        "seed": experiment.settings.seed,
        "run_seconds": 0.0,
        "diagnostics": plain(fit.diagnostics),
        "warnings": warnings + fit.warnings,
        **plain(fit.results),
        "decision": decision,
        "key_numbers": plain(analysis.key_numbers(fit.results)),
        "previous": previous_readout(output, spec.name, readout_date) if output else None,
        "queries": loaded.queries,
        "tables": tables,
        "figures": figures,
    }
    bundle["run_seconds"] = round(time.perf_counter() - started, 2)
    bundles.validate(bundle)
    bundles.atomic_write_text(staging / store.BUNDLE, bundles.dumps(bundle))
    return bundle


def write_draws(fit, experiment: Experiment, staging: Path) -> None:
    """``posterior.nc`` but for an exact fit's numpy draws; an A/B fit's primary lift draws.

    An exact fit's draws (:class:`~analyses.core.draws.Draws`) become a DataTree and a
    NetCDF file only under ``save_draws = true``: nothing in readout reads them back, and
    building them costs xarray's import and h5netcdf's bookkeeping.
    """
    from analyses.core.draws import Draws

    exact = isinstance(fit.posterior, Draws)
    if not exact or experiment.settings.save_draws or fit.diagnostics.exact is not True:
        fit.posterior.to_netcdf(staging / store.POSTERIOR, engine="h5netcdf")
    if exact and "lift_rel" in fit.posterior:
        import numpy as np

        lift = fit.posterior.values("lift_rel")
        treatment = np.array(fit.posterior.coords["posterior"]["treatment"], dtype=str)
        with open(staging / store.LIFT_DRAWS, "wb") as out:
            np.savez(out, lift_rel=lift, treatment=treatment)


def _data_sha(experiment: Experiment, loaded: Loaded | None) -> str:
    """A data file's bytes, or a source's SQL and returned numbers."""
    if experiment.data_path is not None:
        return sha256_file(experiment.data_path)
    return loaded.fingerprint
