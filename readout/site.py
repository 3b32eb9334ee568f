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


def readouts(output: Path, name: str) -> list[dict[str, Any]]:
    """Every readout of an experiment, newest first, with its summary words."""
    found = []
    for folder in reversed(store.readouts(output, name)):
        bundle = read(folder / store.BUNDLE)
        text = wording.readout_text(bundle)
        found.append(
            {
                "date": folder.name,
                "bundle": bundle,
                "text": text,
                "history": wording.history_row(bundle),
                "since_last": text.since_last,
                "healthy": not text.health,
            }
        )
    return found


def history_chart(history: list[dict[str, Any]]) -> str | None:
    """An SVG data URI of the key number and its HDI over the readouts (oldest first)."""
    points = [h for h in reversed(history) if h["bundle"].get("key_numbers")]
    if points:  # one scale per chart: the latest readout's (a lift may turn absolute)
        scale_of = lambda h: h["bundle"]["key_numbers"]["scale"]  # noqa: E731
        points = [h for h in points if scale_of(h) == scale_of(points[-1])]
    if len(points) < 2:
        return None
    import io

    import matplotlib.pyplot as plt

    from analyses.core import figures

    key = points[-1]["bundle"]["key_numbers"]
    # Percent: a relative lift, or an absolute lift in a rate (percentage points).
    scale = 100 if key["scale"] == "relative" or key.get("percent") else 1
    dates = [p["date"] for p in points]
    means = [p["bundle"]["key_numbers"]["mean"] * scale for p in points]
    low = [p["bundle"]["key_numbers"]["hdi"][0] * scale for p in points]
    high = [p["bundle"]["key_numbers"]["hdi"][1] * scale for p in points]
    fig, ax = figures.new_figure(7, 2.6)
    ax.fill_between(dates, low, high, color="#bee3f8", lw=0)
    ax.plot(dates, means, "o-", color="#2b6cb0")
    ax.axhline(0, color="black", lw=0.8, ls="--")
    ax.set_ylabel(
        ("%" if key["scale"] == "relative" else "percentage points" if scale == 100 else "") or None
    )
    ax.spines[["top", "right"]].set_visible(False)
    fig.autofmt_xdate()
    fig.tight_layout()
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    plt.close(fig)
    import base64

    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue().encode()).decode()


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


#: The templates the site's pages are rendered from: each experiment's page and the index,
#: and what they import and include (the programme's page is written only where a programme
#: is configured).
SITE_TEMPLATES = ("experiment.html.j2", "index.html.j2", "_macros.html.j2", "report.css")


def warm_templates() -> None:
    """Compile the site's page templates ahead of :func:`write_site`.

    A run's main process does it while its printer or workers print the readouts' pages
    (:func:`readout.runner.finish`): it would otherwise wait for them, then compile. Only a
    head start: a template that fails to compile fails the site's writing, as before.
    """
    try:
        for template in SITE_TEMPLATES:
            render.environment().get_template(template)
    except Exception:  # noqa: BLE001 - write_site meets it again and says what fails
        return


def write_site(config: Config, output: Path, force: bool = False) -> bool:
    """Write ``index.html`` and each experiment's ``index.html`` if what they show changed.

    When nothing changed since they were written, nothing is read, worded or rendered.

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
    entries = []
    for experiment in config.experiments:
        history = readouts(output, experiment.name)
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
            "chart": history_chart(history),
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
    atomic_write_text(key_path, key)
    return True
