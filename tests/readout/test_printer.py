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
    started = []
    real = printer.start
    monkeypatch.setattr(
        printer,
        "start",
        lambda analyses, sample: started.append((analyses, sample)) or real(analyses, sample),
    )
    outcomes = runner.run(config, out, readout_date=DAY)
    assert [o.action for o in outcomes] == ["cached"]
    assert started == []
    runner.run(config, out, readout_date=DAY, force=True)  # --force refits and renders
    # Its templates only (the run's one analysis); no sample page: a data file's A/B
    # readout is exact, its page asked for as soon as the printer is ready.
    assert started == [(("ab_test",), False)]


def test_a_printer_that_waits_prints_a_sample_page_first(tmp_path):
    """Beside a warehouse's query or a sampled fit, a printer prints a sample page (to
    memory) while it waits. The page is a readout's in small: one page, the fonts a
    readout's page uses, and its chart's text printed as text."""
    import base64
    import io

    from tests.readout.test_imports import WAREHOUSE_CONFIG

    (tmp_path / "warehouse.toml").write_text(WAREHOUSE_CONFIG)
    (tmp_path / "file.toml").write_text(
        WAREHOUSE_CONFIG.split("[[experiments]]")[0]
        + "[[experiments]]\n"
        + 'name = "signup"\ntitle = "Signup"\nanalysis = "ab_test"\ndata = "s.csv"\ngroup = "arm"\n'
        + 'control = "A"\nmetric = "y"\nmetric_type = "binary"\n'
    )
    (tmp_path / "s.csv").write_text("arm,y\nA,1\nB,0\n")
    assert runner.asked_late(load_config(tmp_path / "warehouse.toml").experiments)
    assert not runner.asked_late(load_config(tmp_path / "file.toml").experiments)

    chart = "data:image/svg+xml;base64," + base64.b64encode(render.SAMPLE_CHART.encode()).decode()
    document = render.print_document(render.page("print-warmup.html.j2", chart=chart))
    assert len(document.pages) == 1
    pdf = tmp_path / "sample.pdf"
    buffer = io.BytesIO()
    document.write_pdf(buffer)
    pdf.write_bytes(buffer.getvalue())
    (text,) = pdf_pages(pdf)
    assert "Ship treatment." in text
    assert "69% above 0" in " ".join(text.split())  # the chart's text, as text
    render.warm_printing(("ab_test",), sample=True)  # and the printer's start prints it


def test_a_run_of_the_command_leaves_no_temporary_fonts_folder(config, tmp_path):
    """The printer, stopped at the end of the run, removes the fonts folder WeasyPrint made.

    A process of its own, as a user's run is (a printer forked from this warm test process
    would inherit this process's fonts, not make its own).
    """
    import subprocess

    from tests.readout.running import READOUT

    temp = tmp_path / "tmp"
    temp.mkdir()
    done = subprocess.run(
        [*READOUT, "run", "--config", str(config.path), "--output", str(tmp_path / "out")],
        env={**os.environ, "TMPDIR": str(temp)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "signup").is_dir()  # the readout was written
    assert not list(temp.glob("weasyprint-*")), sorted(p.name for p in temp.iterdir())
