"""The ``readout`` command line: run, render, validate, plan, schema.

Exit codes: 0 all good; 1 some experiment failed (the others still produced reports);
2 bad usage or bad config/data, with a message naming the file, key or column and the fix.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from readout import caches, store
from readout.errors import ConfigError, DataError, Terminated

_config = click.option(
    "--config",
    "config_path",
    default="experiments.toml",
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The experiments config file.",
)
_output = click.option(
    "--output",
    default="reports",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the site is written.",
)


def _check_date(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--date``: a real calendar date written YYYY-MM-DD (it names a folder)."""
    import re
    from datetime import date

    if value is None:
        return None
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise click.BadParameter(f"'{value}' is not written YYYY-MM-DD (e.g. 2026-12-01)")
    try:
        date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"'{value}' is not a date in the calendar") from None
    return value


_as_of = click.option(
    "--as-of",
    "as_of",
    default=None,
    metavar="YYYY-MM-DD",
    callback=_check_date,
    help="Read the data as they stood at the end of this day, UTC (default: now).",
)


class _Group(click.Group):
    """The command group: an unexpected error is one line and a log file, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise  # usage errors: click prints them and exits 2
        except Terminated:
            click.echo(
                "readout: stopped by SIGTERM; finished readouts are kept, unfinished ones "
                "were discarded, and a query still running was cancelled on its engine",
                err=True,
            )
            sys.exit(143)
        except KeyboardInterrupt:
            click.echo("readout: interrupted; finished readouts are kept", err=True)
            sys.exit(130)
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            from readout.masking import scrub

            log = _crash_log(exc)
            click.echo(scrub(f"readout: {type(exc).__name__}: {exc} (details in {log})"), err=True)
            sys.exit(1)


def _masked(record: logging.LogRecord) -> bool:
    """A logging filter: no log line shows a secret (a driver's warning may quote a URL)."""
    from readout.masking import scrub

    record.msg, record.args = scrub(record.getMessage()), None
    return True


def _crash_log(exc: BaseException) -> Path:
    """Write the traceback of an unexpected error where the user can find it."""
    import tempfile
    import traceback

    from readout.masking import scrub

    text = scrub("".join(traceback.format_exception(exc)))
    for folder in (Path.cwd() / store.CRASH_LOG_FOLDER, Path(tempfile.gettempdir())):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / store.CRASH_LOG
            path.write_text(text)
            return path
        except OSError:
            continue
    return Path("(unwritable)")


def _fail(exc: DataError) -> None:
    click.echo(f"readout: error: {exc}", err=True)
    sys.exit(2)


def _load(config_path: Path):
    from readout.config import load_config

    try:
        return load_config(config_path)
    except ConfigError as exc:
        _fail(exc)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Automated Bayesian experiment readouts: fit, explain, render to HTML and PDF."""
    # Configured before PyMC is imported, so that it keeps its INFO chatter to itself.
    logging.basicConfig(level=logging.WARNING, format="readout: %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(_masked)
    caches.configure()


@main.command()
@_config
@_output
@click.option("--only", multiple=True, metavar="NAME", help="Run only this experiment (repeat).")
@click.option("--force", is_flag=True, help="Refit even if data and config are unchanged.")
@click.option(
    "-j",
    "--jobs",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Experiments fitted in parallel processes.",
)
@click.option(
    "--date",
    "readout_date",
    default=None,
    metavar="YYYY-MM-DD",
    callback=_check_date,
    help="Date of the readout folder (default: the --as-of day, else today).",
)
@_as_of
def run(
    config_path: Path,
    output: Path,
    only: tuple[str, ...],
    force: bool,
    jobs: int,
    readout_date: str | None,
    as_of: str | None,
) -> None:
    """Fit what changed, write bundles, render HTML and PDF, refresh the site index."""
    from datetime import date

    from readout import runner

    config = _load(config_path)
    day = date.fromisoformat(as_of) if as_of else None
    try:
        outcomes = runner.run(config, output, only, force, jobs, readout_date, day)
    except ConfigError as exc:
        _fail(exc)
    failed = [o for o in outcomes if o.code]
    for o in failed:
        click.echo(f"readout: {o.name} failed: {o.message}", err=True)
    later = runner.verdict_later(config)
    for o in outcomes:  # the verdicts the progress lines left for after the programme's prior
        if not o.code and o.action == "fitted" and o.name in later:
            click.echo(f"readout: {o.name}: {o.message}")
    click.echo(
        f"readout: {len(outcomes) - len(failed)} of {len(outcomes)} experiment(s) ok; "
        f"site at {store.site_index(output)}"
    )
    sys.exit(runner.exit_code(outcomes))


@main.command()
@_config
@_output
@click.option(
    "--engine",
    type=click.Choice(["html", "quarto"]),
    default="html",
    show_default=True,
    help="html: the site's pages and PDFs; quarto: a Quarto project.",
)
def render(config_path: Path, output: Path, engine: str) -> None:
    """Re-render every report from its bundle, without refitting."""
    from readout import runner

    config = _load(config_path)
    if engine == "quarto":
        from readout import quarto

        try:
            written = quarto.write_project(config, output)
        except ConfigError as exc:
            _fail(exc)
        project = store.quarto_project(output)
        click.echo(f"readout: wrote {len(written)} .qmd file(s) to {project}")
        _, message = quarto.render_project(project)
        click.echo(f"readout: {message}")
        return
    try:
        count = runner.render_all(config, output)
    except ConfigError as exc:
        _fail(exc)
    click.echo(f"readout: re-rendered {count} readout(s) in {output}")


@main.command()
@_config
@_output
@click.option("--dry-run", is_flag=True, help=f"Write the messages to OUTPUT/{store.OUTBOX} only.")
@click.option(
    "--resend",
    multiple=True,
    metavar="NAME",
    help="Send the newest readout of NAME again, even if it was sent (repeat for more).",
)
def email(config_path: Path, output: Path, dry_run: bool, resend: tuple[str, ...]) -> None:
    """Send each new readout's PDF summary to its recipients (SMTP from READOUT_SMTP_*).

    A message is sent at most once: when the connection ends after the message went out
    but before the server confirmed it, it may have arrived and is not sent again (exit 1);
    --resend NAME sends it anyway.
    """
    from readout import email as mail

    config = _load(config_path)
    try:
        deliveries = mail.deliver(config, output, dry_run=dry_run, resend=resend)
    except ConfigError as exc:
        _fail(exc)
    for d in deliveries:
        click.echo(f"readout: email {d.key}: {d.status} ({d.message})", err=not d.ok)
    if not deliveries:
        click.echo("readout: no experiment has recipients (email = [...]) and a readout")
    sys.exit(0 if all(d.ok for d in deliveries) else 1)


@main.command()
@_config
@_output
@click.argument("dest")
def publish(config_path: Path, output: Path, dest: str) -> None:
    """Copy the site to DEST atomically (a folder), or rsync it to host:path.

    DEST is replaced as a whole, so it must be a new or empty folder, or one readout
    published before; never the output folder or the project, nor inside or around them.
    """
    import subprocess

    from readout.publish import publish as publish_site

    project = config_path.resolve().parent if config_path.is_file() else None
    try:
        where = publish_site(output, dest, project)
    except ConfigError as exc:
        _fail(exc)
    except (OSError, subprocess.CalledProcessError) as exc:
        click.echo(f"readout: publish to {dest} failed: {exc}", err=True)
        sys.exit(1)
    click.echo(f"readout: published {output} to {where}")


@main.command()
@_config
@_output
@_as_of
def validate(config_path: Path, output: Path, as_of: str | None) -> None:
    """Check the config and the data it names; fit nothing."""
    from datetime import date

    from readout import runner

    config = _load(config_path)
    day = date.fromisoformat(as_of) if as_of else None
    try:
        for line in runner.validate(config, output, day):
            click.echo(line)
    except DataError as exc:
        _fail(exc)
    except ConnectionError as exc:  # the engine, not the config: try again later
        click.echo(f"readout: error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"readout: {config_path} is valid")


@main.command()
@_config
@_output
@click.argument("name")
@click.option(
    "--truth",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="CSV of true effects, one row per unit.",
)
@click.option(
    "--unit-column",
    default=None,
    help="Unit column in the truth file (default: the experiment's unit key).",
)
@click.option(
    "--truth-column",
    default="true_effect",
    show_default=True,
    help="Column of true effects in the truth file.",
)
def recovery(
    config_path: Path,
    output: Path,
    name: str,
    truth: Path,
    unit_column: str | None,
    truth_column: str,
) -> None:
    """Compare a readout with known true effects, for an analysis that declares a check.

    MSE, coverage and interval width, by unit size, against the effects in the --truth file
    (CSV or Parquet).
    """
    from readout import bundle, registry
    from readout.data import read_truth

    config = _load(config_path)
    experiment = next((e for e in config.experiments if e.name == name), None)
    if experiment is None:
        _fail(
            DataError(
                str(config_path),
                f"there is no experiment named '{name}'",
                f"use one of {', '.join(e.name for e in config.experiments)}",
            )
        )
    analysis = registry.get(experiment.spec.analysis)
    if analysis.recovery is None:
        able = [n for n in registry.available() if registry.get(n).recovery is not None]
        _fail(
            DataError(
                str(config_path),
                f"'{name}' is an experiment of analysis {analysis.name}, which has no "
                "recovery check against known effects",
                f"name an experiment whose analysis has one ({', '.join(able) or 'none'})",
            )
        )
    latest = store.latest(output, name)
    if latest is None:
        _fail(
            DataError(
                str(output / name), "no readout yet", f"run `readout run --only {name}` first"
            )
        )
    made = bundle.read(latest / store.BUNDLE)
    tables = {t["key"]: latest / t["file"] for t in made.get("tables", [])}
    try:
        table = analysis.recovery(
            experiment.spec,
            tables,
            read_truth(truth),
            str(truth),
            unit_column=unit_column,
            truth_column=truth_column,
        )
    except DataError as exc:
        _fail(exc)
    prob = round(100 * experiment.settings.ci_prob)
    click.echo(f"{name}, readout {latest.name}: {prob}% intervals against {truth.name}")
    click.echo(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))


@main.command("plan")
@_config
@_output
@click.argument("name")
@click.option(
    "--min-effect",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=None,
    metavar="LIFT",
    help="Smallest relative lift worth finding, e.g. 0.02 (default: the rope, else 0.02).",
)
@click.option(
    "--until",
    default=None,
    metavar="YYYY-MM-DD",
    callback=_check_date,
    help="Last day of the history read (default: today, up to now).",
)
@click.option(
    "--history-days",
    default=28,
    show_default=True,
    type=click.IntRange(1, 3660),
    help="Days of history read, up to --until.",
)
def plan_command(
    config_path: Path,
    output: Path,
    name: str,
    min_effect: float | None,
    until: str | None,
    history_days: int,
) -> None:
    """Say how many days an A/B test needs, from its primary metric's recent history.

    Writes OUTPUT/NAME/plan.html with the planned_days advice for an 80% and a 90% chance of
    a clear answer at the minimum effect, under the readout's own decision rule.
    """
    from readout.plan import make_plan

    config = _load(config_path)
    try:
        made = make_plan(config, name, output, min_effect, until, history_days)
    except DataError as exc:
        _fail(exc)
    except ConnectionError as exc:  # the engine, not the config: try again later
        click.echo(f"readout: error: {exc}", err=True)
        sys.exit(1)
    for line in made.summary:
        click.echo(line)


@main.command()
@click.option("--write", is_flag=True, help="Write docs/bundle.schema.json instead of printing.")
def schema(write: bool) -> None:
    """Print (or write) the JSON Schema every bundle.json follows."""
    import json

    from readout import bundle

    if write:
        bundle.write_schema()
        click.echo(f"readout: wrote {bundle.SCHEMA_FILE}")
    else:
        click.echo(json.dumps(bundle.schema(), indent=2))


def entry() -> None:
    """The ``readout`` command (:data:`main`), ended without a last garbage collection.

    When a command returns, what it writes is written, closed and renamed into place, and
    the exit handlers still run after it (logging's, the fonts' temporary folder's). What
    the interpreter then does is free memory, starting with a last collection of cyclic
    garbage that walks every object pandas, matplotlib and WeasyPrint made at import: about
    0.2 s of a 3-second one-readout run on a 2-core host. Those objects are put out of the
    collector's sight instead (:func:`gc.freeze`); the memory is returned as the process
    ends. Not in :data:`main` itself: a program calling it in its own process (the tests)
    keeps its garbage collected. So every writer in readout closes its files itself (``with``,
    :func:`readout.files.atomic_path`): an object left to be closed by its finaliser, in a
    reference cycle, would never be.
    """
    import gc

    try:
        main()
    finally:
        gc.freeze()


if __name__ == "__main__":
    entry()
