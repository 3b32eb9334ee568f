"""The output folder: every path, file name and state file readout reads or writes there.

One module owns the layout, so no other module types out a name (a test greps the source
for them)::

    <output>/index.html                              the site's index (site)
    <output>/<experiment>/index.html                 an experiment's page and history (site)
    <output>/<experiment>/<YYYY-MM-DD>/bundle.json   a finished readout: the numbers ...
                                       report.html   ... the figures (fig-<key>.svg), the tables
                                       report.pdf    (<key>.csv), the page, the PDF, .render_key
                                                     (what it was rendered with), the draws
                                       posterior.nc  but for an exact A/B fit unless asked
                                                     (``save_draws = true``), and an A/B
                                       .lift_draws.npz  readout's primary lift draws (the
                                                     programme's lift chart redraws from them)
    <output>/outbox/<experiment>--<date>.eml         emails written before sending (email)
    <output>/quarto/                                 the Quarto project (quarto)
    <output>/.staging/<experiment>-<id>/             readouts being built; trash--... moved aside
    <output>/.readout.lock, .email.lock, .publish.lock   one run, one sender, one publisher
    <output>/.readout.owner                          who holds .readout.lock (owning)
    <output>/.status.json                            how each experiment's last run ended (site)
    <output>/.site_key                               what the site's pages were written from
    <output>/.sent.json                              what was emailed (email)
    <output>/.logs/<experiment>.log                  a failed experiment's traceback (runner)
    <output>/.cache/queries/<key>.json               compiled SQL (data)
    <output>/.publish/readout-site.txt               the marker rsync sends along (publish)
    .<name>.<random>.tmp                             a file being written (files), anywhere

Readouts are found here too: every readout of an experiment, the latest, the one before a
date; the staging folder is cleared here after a killed run. :func:`owning` gives the folder
to one writer at a time (``readout run``, ``readout render``, the Quarto project). Names
starting with a dot are working files: never published, emailed or listed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- one readout

#: A readout folder is named by its date.
DATE_FOLDER = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: The numbers of a readout; its presence marks a finished readout.
BUNDLE = "bundle.json"
#: The posterior draws (NetCDF): written by every fit but an exact A/B one (numpy draws,
#: :class:`analyses.core.draws.Draws`), which writes it where ``save_draws = true`` asks;
#: nothing in readout reads it back.
POSTERIOR = "posterior.nc"
#: An A/B readout's primary relative lift draws per treatment (numpy ``.npz``): the
#: programme step redraws the lift chart from them (``readout.programme.redraw_lift``).
LIFT_DRAWS = ".lift_draws.npz"
#: The self-contained report page, and the PDF printed from it.
REPORT_HTML = "report.html"
REPORT_PDF = "report.pdf"
#: What a readout was last rendered with (templates, wording, site address).
RENDER_KEY = ".render_key"
#: A page listing what a folder holds: the site's index, an experiment's page.
INDEX = "index.html"


def figure_file(key: str) -> str:
    """The file of a readout's figure ``key``: ``fig-lift.svg``."""
    return f"fig-{key}.svg"


def table_file(key: str) -> str:
    """The CSV of a readout's full table ``key``: ``units.csv``."""
    return f"{key}.csv"


def pdf_attachment(experiment: str, readout_date: str) -> str:
    """The name a readout's PDF carries as an email attachment."""
    return f"{experiment}-{readout_date}.pdf"


# --------------------------------------------------------------------------- the output folder

#: Where runs build readouts before moving them into place.
STAGING = ".staging"
#: Folders of the output that are not experiments: the email outbox, the Quarto project.
OUTBOX = "outbox"
QUARTO = "quarto"
#: Experiment names that would collide with them.
RESERVED = (OUTBOX, QUARTO)
#: Locks: one run (or render) per output folder, one ``readout email``, one publish.
RUN_LOCK = ".readout.lock"
EMAIL_LOCK = ".email.lock"
#: Who holds the run lock: the command and its process id, for the one turned away.
OWNER = ".readout.owner"
PUBLISH_LOCK = ".publish.lock"
#: How each experiment's last run ended (the index page shows failures).
STATUS = ".status.json"
#: Where a damaged status file is set aside.
STATUS_DAMAGED = ".status.json.damaged"
#: What the site's pages were written from (nothing changed: nothing is rewritten).
SITE_KEY = ".site_key"
#: Which readouts were emailed, and how that ended.
SENT_LOG = ".sent.json"
#: What ``readout email`` owns in the output folder (a run leaves their leftovers alone).
EMAIL_FILES = (OUTBOX, SENT_LOG)
#: A failed experiment's traceback, one file per experiment.
LOGS = ".logs"
#: Caches inside the output folder; compiled SQL in its ``queries`` folder.
CACHE = ".cache"
QUERY_CACHE = Path(CACHE) / "queries"
#: The site's history rows and charts (:class:`readout.site.SiteCache`).
SITE_CACHE = Path(CACHE) / "site"
#: Written into every published site: only a folder holding it is ever replaced.
SITE_MARKER = "readout-site.txt"
#: Where the marker waits to be sent along by rsync (a working folder, never published).
MARKER_FOLDER = ".publish"
#: Folders inside the output that belong to other programs (Quarto's working folder).
FOREIGN = (".quarto",)
#: Written by readout, and only ever found in an output folder readout wrote.
OWN = (RUN_LOCK, STAGING, STATUS, SITE_KEY)


def status_file(output: Path) -> Path:
    """How each experiment's last run ended."""
    return output / STATUS


def site_key_file(output: Path) -> Path:
    """What the site's pages were last written from."""
    return output / SITE_KEY


def site_index(output: Path) -> Path:
    """The site's index page."""
    return output / INDEX


def experiment_page(output: Path, name: str) -> Path:
    """An experiment's page: its latest readout and its history."""
    return output / name / INDEX


def sent_log(output: Path) -> Path:
    """The record of what was emailed."""
    return output / SENT_LOG


def outbox(output: Path) -> Path:
    """Where emails are written before they are sent."""
    return output / OUTBOX


def outbox_message(output: Path, name: str, readout_date: str) -> Path:
    """The email of one readout, as written to the outbox."""
    return outbox(output) / f"{name}--{readout_date}.eml"


def failure_log(output: Path, name: str) -> Path:
    """Where a failed experiment's traceback goes."""
    return output / LOGS / f"{name}.log"


def site_cache(output: Path) -> Path:
    """The site pages' cache of an output folder."""
    return output / SITE_CACHE


def query_cache(output: Path) -> Path:
    """The compiled-SQL cache of an output folder."""
    return output / QUERY_CACHE


def publish_marker(output: Path) -> Path:
    """The marker file rsync sends along with the site."""
    return output / MARKER_FOLDER / SITE_MARKER


def lock_file(output: Path, lock: str = RUN_LOCK) -> Path:
    """One of the output folder's lock files."""
    return output / lock


# --------------------------------------------------------------------------- the Quarto project

#: The Quarto project's configuration; its first line says readout wrote it.
QUARTO_CONFIG = "_quarto.yml"
#: The listing page, and each readout's page.
QUARTO_PAGE = "index.qmd"
#: The folder of the readouts' pages inside the project.
QUARTO_READOUTS = "readouts"


def quarto_project(output: Path) -> Path:
    """The Quarto project written from the output's bundles."""
    return output / QUARTO


def quarto_readout(project: Path, name: str, readout_date: str) -> Path:
    """The folder of one readout's page inside the Quarto project."""
    return project / QUARTO_READOUTS / f"{name}-{readout_date}"


# --------------------------------------------------------------------------- outside the output

#: Where an unexpected error's traceback goes, under the working folder (or the temp folder).
CRASH_LOG = "readout-error.log"
CRASH_LOG_FOLDER = Path(CACHE) / "logs"


def publish_copy(dest: Path, kind: str, token: str) -> Path:
    """A publish's copy beside ``dest``: ``.<dest>.new-<id>`` (or ``old``, the previous site)."""
    return dest.parent / f".{dest.name}.{kind}-{token}"


def publish_copy_pattern(dest: Path) -> re.Pattern[str]:
    """The names of the copies a killed publish to ``dest`` may have left beside it."""
    return re.compile(rf"^\.{re.escape(dest.name)}\.(new|old)-[0-9a-f]{{12}}$")


# --------------------------------------------------------------------------- temporary files

#: The suffix of every temporary file readout writes (``.<name>.<random>.tmp``).
TEMP_SUFFIX = ".tmp"


def temporary_prefix(path: Path) -> str:
    """The start of a temporary file's name while ``path`` is written: ``.<name>.``."""
    return f".{path.name}."


def is_temporary(name: str) -> bool:
    """Whether a file name is one of readout's temporary files (``.<name>...tmp``)."""
    return name.startswith(".") and name.endswith(TEMP_SUFFIX) and len(name) > 5


def temporary_target(name: str) -> str:
    """The file a temporary file was to become: ``..sent.json.k2j4.tmp`` -> ``.sent.json``."""
    return name[1:].rsplit(".", 2)[0]


# --------------------------------------------------------------------------- finding readouts


def readouts(output: Path, name: str) -> list[Path]:
    """Every finished readout folder of an experiment, oldest first."""
    folder = output / name
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_dir() and DATE_FOLDER.match(p.name) and (p / BUNDLE).is_file()
    )


def latest(output: Path, name: str) -> Path | None:
    """The newest readout folder of an experiment, if any."""
    found = readouts(output, name)
    return found[-1] if found else None


def previous(output: Path, name: str, readout_date: str) -> Path | None:
    """The newest readout folder dated before ``readout_date``, if any."""
    earlier = [p for p in readouts(output, name) if p.name < readout_date]
    return earlier[-1] if earlier else None


def readout_folder(output: Path, name: str, readout_date: str) -> Path:
    """Where the readout of ``name`` on ``readout_date`` lives (whether or not it exists)."""
    return output / name / readout_date


def readout_url(site_url: str, experiment: str, readout_date: str) -> str | None:
    """A report's address on the published site, when the config gives the site's address."""
    if not site_url:
        return None
    return f"{site_url.rstrip('/')}/{experiment}/{readout_date}/{REPORT_HTML}"


# --------------------------------------------------------------------------- staging


def staging_root(output: Path) -> Path:
    """The folder in which runs build readouts before publishing them."""
    return output / STAGING


def staging_folder(output: Path, name: str) -> Path:
    """A new folder to build one readout of ``name`` in."""
    return staging_root(output) / f"{name}-{uuid.uuid4().hex}"


def trash_name(final: Path) -> str:
    """A name for the readout ``final`` while a newer one replaces it: says where it lived."""
    return f"trash--{final.parent.name}--{final.name}--{uuid.uuid4().hex}"


def clean_staging(output: Path) -> list[str]:
    """Remove what dead runs left in the staging folder; call holding the output's lock.

    A run killed mid-publish may have moved the old readout aside before moving the new one
    in: such a readout is put back where it lived. Returns what was restored.
    """
    root = staging_root(output)
    if not root.is_dir():
        return []
    restored = []
    for entry in root.iterdir():
        parts = entry.name.split("--")
        if len(parts) == 4 and parts[0] == "trash" and DATE_FOLDER.match(parts[2]):
            final = readout_folder(output, parts[1], parts[2])
            if not final.exists() and (entry / BUNDLE).is_file():
                os.replace(entry, final)
                restored.append(f"{parts[1]}/{parts[2]}")
                continue
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
    return restored


# --------------------------------------------------------------------------- one writer at a time

#: What a second writer is told while another holds the output folder (then exit 2).
BUSY_FIX = f"wait for it to finish, then run again (or remove {RUN_LOCK} if no readout is running)"


@contextlib.contextmanager
def owning(output: Path, command: str = "run") -> Iterator[None]:
    """Hold the output folder for one writer: ``readout run``, ``readout render``, Quarto.

    The folder is checked first (a folder readout did not write is refused), made if new,
    locked (``.readout.lock``, released when the process ends, however it ends) and cleared
    of what killed runs left (staging folders put back or removed, temporary files of
    killed writes, except the email's, which ``readout email`` clears under its own lock).
    A second process asking while one holds it does not wait: it gets a ConfigError (exit
    2) that names the holder, its command and process id (``.readout.owner``).

    Parameters
    ----------
    output
        The output folder.
    command
        What the holder is doing, as the one turned away is told (``run``, ``render``).
    """
    from readout.files import remove_temporary

    _check_own(output)
    output.mkdir(parents=True, exist_ok=True)
    lock = _taken(output)
    owner = output / OWNER
    try:
        owner.write_text(json.dumps({"command": command, "pid": os.getpid()}), encoding="utf-8")
        for where in clean_staging(output):
            log.warning("put back %s, which a killed run had moved aside", where)
        remove_temporary(output, skip=EMAIL_FILES)
        yield
    finally:
        owner.unlink(missing_ok=True)
        lock.release()


def _taken(output: Path):
    """The output folder's lock, acquired now; a ConfigError naming its holder if held."""
    import filelock

    from readout.errors import ConfigError

    lock = filelock.FileLock(lock_file(output), timeout=0)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise ConfigError(
            str(output), f"{_holder(output)} is writing this folder", BUSY_FIX
        ) from None
    return lock


def check_free(output: Path) -> None:
    """Refuse now what :func:`owning` would refuse later (a ConfigError naming it, exit 2).

    A folder readout did not write, or one another readout is writing. For a command that
    computes for seconds before it writes (``readout plan``) without holding the folder
    meanwhile: the user is told at once, not after the computation. :func:`owning` still
    takes the folder for the writes. The check takes the folder's lock for an instant: a
    run starting in that instant is turned away as by any holder (exit 2, run again).
    """
    _check_own(output)
    if lock_file(output).exists():
        _taken(output).release()


def _holder(output: Path) -> str:
    """Who holds the output folder, as far as its owner file says: "readout run (process 12)"."""
    try:
        found = json.loads((output / OWNER).read_text(encoding="utf-8"))
        return f"another readout {found['command']} (process {int(found['pid'])})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another readout run"


def _check_own(output: Path) -> None:
    """An existing folder readout did not write (files, and none of its own) is refused.

    Runs write ``index.html`` and a folder per experiment there.
    """
    from readout.errors import ConfigError

    if not output.is_dir():
        return
    names = [p.name for p in output.iterdir()]
    visible = sorted(n for n in names if not n.startswith("."))
    if visible and not set(OWN) & set(names):
        raise ConfigError(
            str(output),
            f"is a folder readout did not write (it holds {', '.join(visible[:3])}"
            f"{', ...' if len(visible) > 3 else ''}), and readout writes {INDEX} "
            "and a folder per experiment there",
            "give a new or empty folder as --output (the default is reports/)",
        )
