"""One module owns the output folder: no other module types out one of its names."""

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from readout import store
from tests.readout.running import (
    binary_frame,
    finish,
    invoke,
    project,
    run,
    slow_project,
    start,
    wait_for_staging,
)

ROOT = Path(__file__).resolve().parents[2]
#: Every name of a file, folder or state file that readout reads or writes in (or beside)
#: the output folder; the test looks for them in the string constants of the source.
NAMES = (
    store.BUNDLE,
    store.POSTERIOR,
    store.REPORT_HTML,
    store.REPORT_PDF,
    store.RENDER_KEY,
    store.INDEX,
    store.STAGING,
    store.OUTBOX,
    store.RUN_LOCK,
    store.EMAIL_LOCK,
    store.PUBLISH_LOCK,
    store.STATUS,
    store.SITE_KEY,
    store.SENT_LOG,
    store.LOGS,
    store.CACHE,
    store.SITE_MARKER,
    store.MARKER_FOLDER,
    store.QUARTO_CONFIG,
    store.QUARTO_PAGE,
    store.CRASH_LOG,
    store.TEMP_SUFFIX,
    "fig-",
    ".eml",
    "trash--",
)
#: A name inside a longer word or file name (``index.html.j2``, a template) is not it.
PATTERN = re.compile(
    "|".join(rf"(?<![\w.-]){re.escape(n)}(?![\w-]|\.\w)" for n in NAMES if n != "fig-")
    + r"|(?<![\w-])fig-\{"
)


def _docstrings(tree: ast.AST) -> set[int]:
    """The ids of the string constants that are docstrings (prose, not names used)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _literals(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    skip = _docstrings(tree)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            out.append((node.lineno, node.value))
        elif isinstance(node, ast.JoinedStr):  # an f-string: its literal parts joined
            text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
            out.append((node.lineno, text))
    return out


SOURCES = sorted(
    p
    for folder in ("readout", "analyses")
    for p in (ROOT / folder).rglob("*.py")
    if p.name != "store.py" or p.parent.name != "readout"
)


#: Names that mean something else in one module: the per-user compile cache follows the XDG
#: convention (``~/.cache/readout``), which is not the output folder's ``.cache``.
ELSEWHERE = {"readout/caches.py": {".cache"}}


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_but_the_store_types_out_a_name_of_the_output_folder(path):
    allowed = ELSEWHERE.get(str(path.relative_to(ROOT)), set())
    typed = [
        f"{path.relative_to(ROOT)}:{line}: {text!r}"
        for line, text in _literals(path)
        if PATTERN.search(text) and text not in allowed
    ]
    assert not typed, "use readout.store for:\n" + "\n".join(typed)


def test_the_grep_finds_a_name_typed_out():
    """The check can fail: each kind of literal it looks for is found."""
    for text in ('"report.pdf"', 'f"fig-{key}.svg"', '"remove .readout.lock first"', '".tmp"'):
        assert PATTERN.search(ast.literal_eval(text) if not text.startswith("f") else "fig-{}")
    assert not PATTERN.search("index.html.j2")
    assert not PATTERN.search("_quarto.yml.j2")


def test_a_readout_folder_holds_its_files_under_the_store_names(tmp_path):
    folder = store.readout_folder(tmp_path, "signup", "2026-11-20")
    assert folder == tmp_path / "signup" / "2026-11-20"
    assert store.figure_file("lift") == "fig-lift.svg"
    assert store.table_file("units") == "units.csv"
    assert store.outbox_message(tmp_path, "signup", "2026-11-20").name == "signup--2026-11-20.eml"
    assert store.readout_url("https://x/", "signup", "2026-11-20") == (
        "https://x/signup/2026-11-20/report.html"
    )
    assert store.readout_url("", "signup", "2026-11-20") is None
    name = store.temporary_prefix(tmp_path / ".sent.json") + "k2j4" + store.TEMP_SUFFIX
    assert store.is_temporary(name) and store.temporary_target(name) == ".sent.json"


# --------------------------------------------------------------------------- one writer at a time

#: A process that holds an output folder as a writer does (``store.owning``) until its
#: standard input closes.
HOLD = """
import sys
from pathlib import Path
from readout import store
with store.owning(Path(sys.argv[1]), "run"):
    print("held", flush=True)
    sys.stdin.read()
"""


def _holding(out: Path) -> subprocess.Popen:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(out)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_second_writer_of_one_output_folder_is_turned_away_naming_the_first(tmp_path):
    """run, render, the Quarto project and plan's page: while another process owns the
    folder each exits 2 at once, naming it, and writes nothing; once it is gone they run."""
    config = project(tmp_path, [{"name": "good", "file": "good.csv"}], {"good.csv": binary_frame()})
    out = tmp_path / "reports"
    holder = _holding(out)
    # The holder is a process of its own; the commands turned away run in this one (the
    # kernel's lock is per process either way), which spares four interpreter start-ups.
    try:
        for command, args in (("run", ()), ("render", ()), ("render", ("--engine", "quarto"))):
            result = invoke(command, "--config", str(config), "--output", str(out), *args)
            code, err = result.exit_code, result.output
            assert code == 2, err
            assert f"another readout run (process {holder.pid}) is writing this folder" in err
            assert "Fix: wait for it to finish" in err and "Traceback" not in err
        assert sorted(p.name for p in out.iterdir()) == sorted([store.OWNER, store.RUN_LOCK])
    finally:
        holder.communicate("", timeout=30)  # its standard input closes: it lets go
    assert holder.returncode == 0
    assert not (out / store.OWNER).exists()
    result = run(config, out)
    assert result.exit_code == 0, result.output
    assert list((out / "good").glob("*/" + store.REPORT_PDF))


def test_a_killed_owner_leaves_the_folder_free(tmp_path):
    """The lock is the kernel's (flock): a SIGKILLed holder's lock goes with it."""
    out = tmp_path / "reports"
    holder = _holding(out)
    holder.kill()
    holder.communicate(timeout=30)
    with store.owning(out, "render"):
        assert json.loads((out / store.OWNER).read_text())["command"] == "render"


@pytest.mark.slow
def test_two_real_runs_on_one_output_folder_do_not_interleave(tmp_path):
    """A second `readout run` while a first is fitting exits 2 naming it; the first ends well."""
    config, out = slow_project(tmp_path)
    first = start(config, out)
    wait_for_staging(out, first)
    second = run(config, out, "--force")  # in this process: the first is a process of its own
    assert second.exit_code == 2, second.output
    assert f"another readout run (process {first.pid}) is writing this folder" in second.output
    code, err = finish(first)
    assert code == 0, err
    assert len(list((out / "slow").glob("*/" + store.BUNDLE))) == 1
