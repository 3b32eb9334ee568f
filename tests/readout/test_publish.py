"""The published site, checked as a reader would: served on 127.0.0.1, opened in Chromium."""

import functools
import http.server
import shutil
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from readout import publish as publishing
from readout.cli import main
from tests.readout.running import binary_frame, project, run

CHROMIUM = shutil.which("chromium")
XSS = "<script>alert(1)</script>"
ROOT = Path(__file__).resolve().parents[2]


def demo_experiment(name: str) -> str:
    """One experiment's entry (with its metric tables) as the demo config writes it."""
    text = (ROOT / "experiments.toml").read_text()
    start = text.index(f'[[experiments]]\nname = "{name}"')
    end = text.find("\n[[experiments]]\nname =", start + 1)
    return text[start : end if end > 0 else None]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("pub")
    config = project(
        root,
        [
            {"name": "signup", "file": "good.csv", "title": "Signup page"},
            {"name": "xss", "file": "good.csv", "title": XSS},
        ],
        {"good.csv": binary_frame(n=8000)},
    )
    # A multi-metric experiment read from the demo warehouse: the scorecard is the widest table.
    shutil.copy(ROOT / "data" / "demo.duckdb", root / "data" / "demo.duckdb")
    config.write_text(
        config.read_text()
        + '\n[sources.warehouse]\nurl = "duckdb://data/demo.duckdb"\n\n'
        + demo_experiment("checkout-redesign")
    )
    out = root / "reports"
    result = run(config, out, "--date", "2026-11-21")
    assert result.exit_code == 0, result.output
    (out / "outbox").mkdir()
    (out / "outbox" / "x.eml").write_text("private")
    return config, out


def test_publish_copies_the_site_without_working_files(site, tmp_path):
    config, out = site
    dest = tmp_path / "www"
    result = CliRunner().invoke(
        main, ["publish", "--config", str(config), "--output", str(out), str(dest)]
    )
    assert result.exit_code == 0, result.output
    assert (dest / "index.html").is_file()
    assert (dest / "signup" / "2026-11-21" / "report.pdf").is_file()
    assert not (dest / "outbox").exists()
    assert not list(dest.glob(".*"))


def test_a_failed_publish_leaves_the_previous_site_whole(site, tmp_path, monkeypatch):
    config, out = site
    dest = tmp_path / "www"
    publishing.publish(out, str(dest))
    before = sorted(p.relative_to(dest) for p in dest.rglob("*"))

    def broken_copy(*args, **kwargs):
        raise OSError("disk full while copying")

    monkeypatch.setattr(publishing.shutil, "copytree", broken_copy)
    with pytest.raises(OSError):
        publishing.publish(out, str(dest))
    assert sorted(p.relative_to(dest) for p in dest.rglob("*")) == before
    assert [p.name for p in tmp_path.iterdir()] == ["www"]


def test_remote_destinations_are_recognised():
    assert publishing.is_remote("web01:/srv/readouts")
    assert publishing.is_remote("deploy@web01:site")
    assert not publishing.is_remote("/srv/readouts")
    assert not publishing.is_remote("site")


@pytest.fixture
def served(site, tmp_path):
    _, out = site
    dest = Path(publishing.publish(out, str(tmp_path / "www")))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(dest))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.RequestHandlerClass.log_message = lambda *args: None
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (make setup)")
def test_pages_load_in_chromium_with_no_outside_requests_or_console_errors(served, tmp_path):
    from playwright.sync_api import sync_playwright

    requests, errors, dialogs = [], [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        for width, name in ((1280, "desktop"), (390, "phone")):
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.on("request", lambda r: requests.append(r.url))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on(
                "response",
                lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None,
            )
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            for path in (
                "/index.html",
                "/signup/index.html",
                "/signup/2026-11-21/report.html",
                "/xss/2026-11-21/report.html",
                "/checkout-redesign/index.html",
                "/checkout-redesign/2026-11-21/report.html",
            ):
                response = page.goto(served + path)
                assert response.status == 200
                shot = tmp_path / f"{name}-{path.strip('/').replace('/', '-')}.png"
                page.screenshot(path=str(shot), full_page=True)
                assert shot.stat().st_size > 10_000
                # No page scrolls sideways, and no table is wider than the column it sits in
                # (on a phone each row reads as a card).
                assert page.evaluate("document.documentElement.scrollWidth") <= width, path
                overflow = page.evaluate(
                    "Math.max(0, ...[...document.querySelectorAll('.table-wrap')]"
                    ".map(e => e.scrollWidth - e.clientWidth))"
                )
                assert overflow <= 1, (path, width, overflow)
                # A date reads on one line ("2026-11-21", never "2026-11-/21").
                lines = page.evaluate(
                    "[...document.querySelectorAll('td.date')].map(td => {"
                    "const w = document.createTreeWalker(td, NodeFilter.SHOW_TEXT); let n, k = 0;"
                    "while ((n = w.nextNode())) { if (!n.textContent.trim()) continue;"
                    "const r = document.createRange(); r.selectNodeContents(n);"
                    "k = Math.max(k, r.getClientRects().length); } return k; })"
                )
                assert lines or not path.endswith("/index.html"), path  # the dates are there
                assert all(n == 1 for n in lines), (path, width, lines)
            page.goto(served + "/index.html")
            assert XSS in page.inner_text("body")
            page.click("text=Signup page")
            assert page.url.endswith("/signup/index.html")
        browser.close()
    outside = [u for u in requests if not (u.startswith(served) or u.startswith("data:"))]
    assert outside == []
    assert errors == []
    assert dialogs == []


@pytest.mark.skipif(shutil.which("rsync") is None, reason="rsync is not installed (make setup)")
def test_the_rsync_branch_copies_the_site_and_leaves_working_files(site, tmp_path):
    # rsync treats a plain path as local, so the same command a host:path runs is exercised.
    _, out = site
    dest = tmp_path / "mirror"
    publishing.publish_remote(out, str(dest))
    assert (dest / "signup" / "2026-11-21" / "report.html").is_file()
    assert not (dest / "outbox").exists()
    assert not list(dest.glob(".*"))
