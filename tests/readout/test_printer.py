"""The printer: a one-process run renders its pages in a process of their own.

``readout.printer`` starts it as the run starts (WeasyPrint's import and the fonts on the
other core while the run fits); these tests run real runs and read what they wrote.
"""

import os
from pathlib import Path

import pytest

from readout import printer, render, runner, store
from readout.config import load_config
from tests.pdf import pdf_pages
from tests.readout.running import binary_frame, project

DAY = "2026-11-20"


@pytest.fixture
def config(tmp_path: Path):
    path = project(tmp_path, [{"name": "signup", "file": "s.csv"}], {"s.csv": binary_frame(400)})
    return load_config(path)


def _pids_rendering(monkeypatch, tmp_path: Path) -> Path:
    """Each render writes the id of the process it ran in (a forked printer inherits this)."""
    pids = tmp_path / "pids.txt"
    real = render.render_readout

    def recorded(folder, *args, **kwargs):
        with pids.open("a") as lines:
            lines.write(f"{os.getpid()}\n")
        return real(folder, *args, **kwargs)

    monkeypatch.setattr(render, "render_readout", recorded)
    return pids


def _starts_recorded(monkeypatch) -> list[tuple[tuple[str, ...], bool]]:
    """Each printer started from now on, as ``(analyses, sample)``; it still starts."""
    started = []
    real = printer.start

    def recorded(analyses, sample):
        started.append((analyses, sample))
        return real(analyses, sample)

    monkeypatch.setattr(printer, "start", recorded)
    return started


def _text(pdf: Path) -> list[str]:
    """Each page's text, line by line as printed: a different font or layout changes it."""
    return pdf_pages(pdf, layout=True)


def test_a_run_renders_in_its_printer_the_page_a_render_in_process_gives(
    config, tmp_path, monkeypatch
):
    pids = _pids_rendering(monkeypatch, tmp_path)
    out = tmp_path / "reports"
    outcomes = runner.run(config, out, readout_date=DAY)
    assert runner.exit_code(outcomes) == 0, runner.outcome_json(outcomes)
    rendered = [int(p) for p in pids.read_text().split()]
    assert len(rendered) == 1 and rendered[0] != os.getpid()  # once, in another process
    folder = store.readout_folder(out, "signup", DAY)
    html, printed = (folder / store.REPORT_HTML).read_bytes(), _text(folder / store.REPORT_PDF)
    monkeypatch.undo()
    render.render_readout(folder)  # the same bundle rendered here
    assert (folder / store.REPORT_HTML).read_bytes() == html
    assert _text(folder / store.REPORT_PDF) == printed
    first = " ".join(printed[0].split())
    assert "Keep collecting data" in first or "Ship" in first


def test_a_printer_that_cannot_warm_up_still_prints(config, tmp_path, monkeypatch):
    def broken(analyses: tuple[str, ...], sample: bool = False) -> None:
        raise RuntimeError("no fonts today")

    monkeypatch.setattr(render, "warm_printing", broken)
    out = tmp_path / "reports"
    outcomes = runner.run(config, out, readout_date=DAY)
    assert runner.exit_code(outcomes) == 0, runner.outcome_json(outcomes)
    pdf = store.readout_folder(out, "signup", DAY) / store.REPORT_PDF
    assert pdf.read_bytes().startswith(b"%PDF-")


def test_a_run_with_every_readout_of_the_day_written_starts_no_printer(
    config, tmp_path, monkeypatch
):
    out = tmp_path / "reports"
    assert runner.exit_code(runner.run(config, out, readout_date=DAY)) == 0
    started = _starts_recorded(monkeypatch)
    outcomes = runner.run(config, out, readout_date=DAY)
    assert [o.action for o in outcomes] == ["cached"]
    assert started == []
    runner.run(config, out, readout_date=DAY, force=True)  # --force refits and renders
    # Its templates only (the run's one analysis); no sample page: a data file's A/B
    # readout is exact, its page asked for as soon as the printer is ready.
    assert started == [(("ab_test",), False)]


def test_a_printer_that_waits_prints_a_sample_page_first(tmp_path, monkeypatch):
    """Beside a warehouse's query (or a sampled fit) a printer prints a sample page to
    memory while it waits, and then the run's page as a render in process gives it. The
    sample is a readout's page in small: one page, a readout's fonts, its chart's text
    printed as text."""
    import base64
    import io

    from tests.readout.running import WAREHOUSE_CONFIG, warehouse_project

    started = _starts_recorded(monkeypatch)
    out = tmp_path / "reports"
    outcomes = runner.run(load_config(warehouse_project(tmp_path)), out, readout_date=DAY)
    assert runner.exit_code(outcomes) == 0, runner.outcome_json(outcomes)
    assert started == [(("ab_test",), True)]
    folder = store.readout_folder(out, "banner", DAY)
    printed = _text(folder / store.REPORT_PDF)
    monkeypatch.undo()
    render.render_readout(folder)  # the same bundle rendered here, with no sample page
    assert _text(folder / store.REPORT_PDF) == printed

    # A data file's exact A/B readout: no sample (its page is asked for at once), unless robust.
    (tmp_path / "s.csv").write_text("arm,y\nA,1.5\nB,0.5\n")
    file_config = WAREHOUSE_CONFIG.split("[[experiments]]")[0] + (
        '[[experiments]]\nname = "signup"\ntitle = "Signup"\nanalysis = "ab_test"\n'
        'data = "s.csv"\ngroup = "arm"\ncontrol = "A"\nmetric = "y"\n'
        'metric_type = "continuous"\n'
    )
    (tmp_path / "file.toml").write_text(file_config)
    (tmp_path / "robust.toml").write_text(file_config + "robust = true\n")
    assert not runner.asked_late(load_config(tmp_path / "file.toml").experiments)
    assert runner.asked_late(load_config(tmp_path / "robust.toml").experiments)

    chart = "data:image/svg+xml;base64," + base64.b64encode(render.SAMPLE_CHART.encode()).decode()
    document = render.print_document(render.page("print-warmup.html.j2", chart=chart))
    assert len(document.pages) == 1
    buffer = io.BytesIO()
    document.write_pdf(buffer)
    (tmp_path / "sample.pdf").write_bytes(buffer.getvalue())
    (text,) = pdf_pages(tmp_path / "sample.pdf")
    assert "Ship treatment." in text
    assert "69% above 0" in " ".join(text.split())  # the chart's text, as text


WRITES_A_PAGE = """
import json, sys
from pathlib import Path
from readout import bundle, render, store
render.warm_printing(("ab_test",))
env = render.environment()
compiled = []
compile_ = env.compile
def counted(source, name=None, *args, **kwargs):
    compiled.append(name)
    return compile_(source, name, *args, **kwargs)
env.compile = counted
before = set(sys.modules)
folder = Path(sys.argv[1])
render.report_page(bundle.read(folder / store.BUNDLE), folder)
print(json.dumps({"compiled": compiled, "imported": sorted(set(sys.modules) - before)}))
"""


def test_a_warmed_printer_writes_a_page_without_compiling_or_importing(config, tmp_path):
    """The printer's warm-up compiles every template the analysis's page extends or imports
    and imports its wording: the run's first page is written without either."""
    from tests.processes import in_fresh_process

    out = tmp_path / "reports"
    outcomes = runner.run(config, out, readout_date=DAY)
    assert runner.exit_code(outcomes) == 0, runner.outcome_json(outcomes)
    folder = store.readout_folder(out, "signup", DAY)
    found = in_fresh_process(WRITES_A_PAGE, str(folder))
    assert found["compiled"] == []
    assert not [m for m in found["imported"] if m.startswith("readout.wording")]


def test_a_printers_warm_up_survives_a_wording_that_fails_to_import(monkeypatch):
    """Only a head start: the page that needs the wording says what fails."""
    from readout import wording

    def failing(analysis):
        raise ImportError(f"no wording for {analysis}")

    monkeypatch.setattr(wording, "module", failing)
    render.warm_printing(("ab_test",))


WRITES_THE_SITE = """
import json, sys
from pathlib import Path
from readout import render, site
from readout.config import load_config
site.warm_templates()
env = render.environment()
compiled = []
compile_ = env.compile
def counted(source, name=None, *args, **kwargs):
    compiled.append(name)
    return compile_(source, name, *args, **kwargs)
env.compile = counted
site.write_site(load_config(Path(sys.argv[1])), Path(sys.argv[2]), force=True)
print(json.dumps({"compiled": compiled}))
"""


def test_the_sites_warm_up_compiles_what_its_pages_extend_and_import(config, tmp_path):
    """While the pages print, the run's process compiles the site's templates with the
    templates they import and include: the site is then written compiling none."""
    from tests.processes import in_fresh_process

    out = tmp_path / "reports"
    assert runner.exit_code(runner.run(config, out, readout_date=DAY)) == 0
    assert in_fresh_process(WRITES_THE_SITE, str(config.path), str(out)) == {"compiled": []}
