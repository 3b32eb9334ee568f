"""The internal site: ``index.html`` of all experiments and one page per experiment."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from readout import render, store, wording
from readout.bundle import atomic_write_text, read

if TYPE_CHECKING:
    from readout.config import Config
    from readout.runner import Outcome

log = logging.getLogger("readout")


def read_status(output: Path) -> dict[str, Any]:
    """How each experiment's last run ended; a damaged file is set aside and rebuilt.

    The file only remembers failure messages for the index page: the next run writes each
    experiment's entry again, so starting afresh loses nothing a run cannot restore.
    """
    path = store.status_file(output)
    if not path.is_file():
        return {}
    try:
        status = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(status, dict) and all(isinstance(v, dict) for v in status.values()):
            return status
    except (OSError, ValueError):
        pass
    aside = path.with_name(store.STATUS_DAMAGED)
    path.replace(aside)
    log.warning("%s was damaged; moved it to %s and started a new one", path, aside.name)
    return {}


def record_status(output: Path, outcomes: list[Outcome]) -> None:
    """Remember how each experiment's last run ended, for the index page."""
    path = store.status_file(output)
    status = read_status(output)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    for o in outcomes:
        status[o.name] = {"code": o.code, "message": o.message, "when": now, "action": o.action}
    atomic_write_text(path, json.dumps(status, indent=2) + "\n")


def readouts(output: Path, name: str, cache: SiteCache | None = None) -> list[dict[str, Any]]:
    """Every readout of an experiment, newest first, with its summary words.

    The newest with its bundle and every word (its page's verdict, the index, the programme
    page); with a ``cache``, each older one as its history row only (the table's line and
    its key numbers: :func:`older_row`), read from the cache where its bundle is unchanged,
    so a run words the readouts it wrote, not every readout of every morning before.
    """
    found = []
    for i, folder in enumerate(reversed(store.readouts(output, name))):
        row = cache.row(folder) if cache is not None and i else None
        if row is None:
            stamp = cache.stamp(folder) if cache is not None else ""  # before it is read
            bundle = read(folder / store.BUNDLE)
            text = wording.readout_text(bundle)
            full = {
                "date": folder.name,
                "bundle": bundle,
                "text": text,
                "history": wording.history_row(bundle),
                "since_last": text.since_last,
                "healthy": not text.health,
            }
            if cache is not None:
                cache.remember(folder, stamp, older_row(full))
            row = full if not i or cache is None else older_row(full)
        found.append(row)
    return found


def older_row(full: dict[str, Any]) -> dict[str, Any]:
    """An older readout's line in its experiment's history: all the site shows of it.

    The table's date, badge and key numbers, and the chart's point (its bundle's key
    numbers only); plain data, kept in the site's cache (:class:`SiteCache`).
    """
    text = full["text"]
    return {
        "date": full["date"],
        "bundle": {"key_numbers": full["bundle"].get("key_numbers")},
        "text": {"tone": text.tone, "verdict_label": text.verdict_label},
        "history": full["history"],
        "since_last": list(full["since_last"]),
        "healthy": full["healthy"],
    }


def chart_points(history: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """The history chart's points, oldest first: each readout's date and key numbers.

    One scale per chart: the latest readout's (a lift may turn absolute). None drawn for
    fewer than two.
    """
    points = [(h["date"], h["bundle"].get("key_numbers")) for h in reversed(history)]
    points = [(d, k) for d, k in points if k]
    if points:
        points = [(d, k) for d, k in points if k["scale"] == points[-1][1]["scale"]]
    return points if len(points) >= 2 else []


def draw_history(points: list[tuple[str, dict[str, Any]]]) -> str | None:
    """The history chart of :func:`chart_points`' points, as an SVG data URI (or ``None``).

    A plain function of its points, so a run's workers can draw experiments' charts.
    """
    if not points:
        return None
    import io

    from analyses.core import figures

    plt = figures.pyplot()  # the Agg backend, readout's settings, its quick import
    key = points[-1][1]
    # Percent: a relative lift, or an absolute lift in a rate (percentage points).
    scale = 100 if key["scale"] == "relative" or key.get("percent") else 1
    dates = [d for d, _ in points]
    means = [k["mean"] * scale for _, k in points]
    low = [k["hdi"][0] * scale for _, k in points]
    high = [k["hdi"][1] * scale for _, k in points]
    fig, ax = figures.new_figure(7, 2.6)
    ax.fill_between(dates, low, high, color="#bee3f8", lw=0)
    ax.plot(dates, means, "o-", color="#2b6cb0")
    ax.axhline(0, color="black", lw=0.8, ls="--")
    ax.set_ylabel(
        ("%" if key["scale"] == "relative" else "percentage points" if scale == 100 else "") or None
    )
    ax.spines[["top", "right"]].set_visible(False)
    fig.autofmt_xdate()
    figures.finish(fig)
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    plt.close(fig)
    import base64

    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue().encode()).decode()


#: The site's cache in the output folder: each older readout's history row (``rows.json``)
#: and each experiment's history chart (``charts/<experiment>.json``).
ROWS = "rows.json"
CHARTS = "charts"
#: Fewer charts to draw than this are drawn in the main process (a worker imports nothing
#: for them; one that never drew would import matplotlib first).
POOLED_CHARTS = 8


class SiteCache:
    """What the site's pages keep between runs (``<output>/.cache/site``, never published).

    A readout's history row is kept under its bundle's size and time of change and the
    code that words it; an experiment's chart under its points and the code that draws it.
    Anything changed is worded or drawn again; a damaged or missing file is only a miss.
    """

    def __init__(self, output: Path, fresh: bool = False) -> None:
        """``fresh``: nothing kept is read (``readout render``: every word and chart anew)."""
        self.folder = store.site_cache(output)
        self.version = _site_version()
        self.fresh = fresh
        self.rows: dict[str, Any] = {} if fresh else _read_json(self.folder / ROWS)
        self.changed = False

    def stamp(self, folder: Path) -> str:
        """What a readout folder's row is kept under: the code, its bundle's time and size."""
        stat = (folder / store.BUNDLE).stat()
        return f"{self.version}:{stat.st_mtime_ns}:{stat.st_size}"

    def row(self, folder: Path) -> dict[str, Any] | None:
        """A readout folder's kept history row, where its bundle is as it was then."""
        kept = self.rows.get(f"{folder.parent.name}/{folder.name}")
        try:
            fresh = isinstance(kept, dict) and kept.get("stamp") == self.stamp(folder)
        except OSError:
            return None
        row = kept.get("row") if fresh else None
        return row if isinstance(row, dict) else None

    def remember(self, folder: Path, stamp: str, row: dict[str, Any]) -> None:
        """Keep a readout folder's history row (:func:`older_row`) for later runs.

        ``stamp``: :meth:`stamp`, taken before its bundle was read (a bundle rewritten while
        it was worded is worded again next time).
        """
        self.rows[f"{folder.parent.name}/{folder.name}"] = {"stamp": stamp, "row": row}
        self.changed = True

    def charts(
        self, points: dict[str, list[tuple[str, dict[str, Any]]]], pool: Any = None
    ) -> dict[str, str | None]:
        """Each experiment's history chart: kept, else drawn (in ``pool``'s workers if many)."""
        from importlib.metadata import version

        # matplotlib's version read once, and only where there is a chart at all
        drawn_by = f"{self.version}:{version('matplotlib')}" if any(points.values()) else ""
        keys = {name: _chart_key(drawn_by, p) for name, p in points.items() if p}
        found: dict[str, str | None] = dict.fromkeys(points)
        missing = []
        for name, key in keys.items():
            kept = {} if self.fresh else _read_json(self.folder / CHARTS / f"{name}.json")
            if kept.get("key") == key and isinstance(kept.get("uri"), str):
                found[name] = kept["uri"]
            else:
                missing.append(name)
        if pool is not None and len(missing) >= POOLED_CHARTS:
            drawn = pool.map(draw_history, [points[n] for n in missing], chunksize=4)
        else:
            drawn = map(draw_history, [points[n] for n in missing])
        for name, uri in zip(missing, drawn, strict=True):
            found[name] = uri
            path = self.folder / CHARTS / f"{name}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(path, json.dumps({"key": keys[name], "uri": uri}))
        return found

    def save(self, names: set[str]) -> None:
        """Write the rows back, only those of the experiments configured now."""
        kept = {k: v for k, v in self.rows.items() if k.partition("/")[0] in names}
        if self.changed or len(kept) != len(self.rows):
            self.folder.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.folder / ROWS, json.dumps(kept))


def _read_json(path: Path) -> dict[str, Any]:
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _site_version() -> str:
    """The code a history row and chart depend on.

    Every file of the templates, of readout and of the analyses (the words read numbers,
    formats and judgements from both), by its path, size and time of change, not its bytes
    (a third of the time, on a one-readout run's path): a file touched but unchanged only
    words and draws again.
    """
    import analyses

    digest = hashlib.sha256()
    packages = (Path(__file__).parent, Path(analyses.__file__).parent)
    for root, pattern in ((render.TEMPLATES, "*"), *((p, "*.py") for p in packages)):
        for path in sorted(root.rglob(pattern)):
            found = path.stat()
            digest.update(f"{path.relative_to(root)}:{found.st_mtime_ns}:{found.st_size}".encode())
    return digest.hexdigest()


def _chart_key(drawn_by: str, points: list[tuple[str, dict[str, Any]]]) -> str:
    """A chart's key: the code and matplotlib's version (``drawn_by``), and its points."""
    return hashlib.sha256(f"{drawn_by}\n{json.dumps(points, sort_keys=True)}".encode()).hexdigest()


def site_key(config: Config, output: Path, status: dict) -> str:
    """What the site's pages depend on.

    Every readout (by its bundle's time), each experiment's title and last status, the
    ``[programme]`` table and history, and the templates and words that render them.
    """
    digest = hashlib.sha256(render.code_version().encode())
    # The programme page reads the [programme] table and its history file too.
    digest.update(repr((config.programme, config.history)).encode())
    for experiment in config.experiments:
        last = status.get(experiment.name, {})
        digest.update(
            json.dumps(
                [experiment.name, experiment.spec.title, last.get("code"), last.get("message")]
            ).encode()
        )
        for folder in store.readouts(output, experiment.name):
            digest.update(f"{folder.name}:{(folder / store.BUNDLE).stat().st_mtime_ns}".encode())
    return digest.hexdigest()


#: The templates the site's pages are rendered from: each experiment's page, the index and
#: the programme's page (with what they import and include,
#: :func:`readout.render.compile_template`).
SITE_TEMPLATES = ("experiment.html.j2", "index.html.j2", "programme.html.j2")


def warm_templates() -> None:
    """Compile the site's page templates ahead of :func:`write_site`.

    A run's main process does it while its printer or workers print the readouts' pages
    (:func:`readout.runner.finish`): it would otherwise wait for them, then compile. Only a
    head start: a template that fails to compile fails the site's writing, as before.
    """
    try:
        for template in SITE_TEMPLATES:
            render.compile_template(render.environment(), template)
    except Exception:  # noqa: BLE001 - write_site meets it again and says what fails
        return


def write_site(config: Config, output: Path, force: bool = False, pool: Any = None) -> bool:
    """Write ``index.html`` and each experiment's ``index.html`` if what they show changed.

    When nothing changed since they were written, nothing is read, worded or rendered.
    Older readouts' rows and unchanged charts come from the site's cache (:class:`SiteCache`);
    ``pool``: an executor whose workers draw the charts to draw (a ``-j`` run's).

    Returns whether the pages were written.
    """
    status = read_status(output)
    key = site_key(config, output, status)
    key_path = store.site_key_file(output)
    if (
        not force
        and store.site_index(output).is_file()
        and key_path.is_file()
        and key_path.read_text() == key
    ):
        return False
    cache = SiteCache(output, fresh=force)
    histories = {e.name: readouts(output, e.name, cache) for e in config.experiments}
    charts = cache.charts({name: chart_points(h) for name, h in histories.items()}, pool)
    entries = []
    for experiment in config.experiments:
        history = histories[experiment.name]
        last = status.get(experiment.name)
        failure = last if last and last["code"] != 0 else None
        entry = {
            "name": experiment.name,
            "title": experiment.spec.title,
            "history": history,
            "latest": history[0] if history else None,
            "failure": failure,
            # Nothing to read yet (every unit still inside its window): said, not a failure.
            "waiting": last if last and last.get("action") == "waiting" else None,
            "chart": charts[experiment.name],
            "chart_alt": (
                wording.history_alt(history[0]["bundle"], len(history)) if history else ""
            ),
        }
        entries.append(entry)
        if history or failure:
            html = render.page("experiment.html.j2", entry=entry)
            atomic_write_text(store.experiment_page(output, experiment.name), html)
    entries.sort(key=lambda e: e["latest"]["date"] if e["latest"] else "", reverse=True)
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    atomic_write_text(
        store.site_index(output),
        render.page("index.html.j2", entries=entries, generated=generated),
    )
    from readout import programme

    programme.write_page(config, output, entries)
    cache.save({e.name for e in config.experiments})
    atomic_write_text(key_path, key)
    return True
