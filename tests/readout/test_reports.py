"""What the pipeline writes: bundles valid against the published schema, self-contained
HTML with lang/title/alt text, and PDFs whose text can be extracted."""

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from pypdf import PdfReader

from readout import bundle as bundles
from readout.cli import main
from tests.pdf import pdf_pages
from tests.readout.running import copy_data, run

ROOT = Path(__file__).resolve().parents[2]

BINARY_DEMOS = """
[settings]
exact_draws = 8000

[[experiments]]
name = "signup-page"
title = "Signup page: <three> headlines & more"
analysis = "ab_test"
data = "data/signup_conversion.csv"
group = "arm"
control = "A"
metric = "converted"
metric_type = "binary"
[experiments.decision]
rope = 0.02

[[experiments]]
name = "pricing-banner"
title = "Pricing banner"
analysis = "ab_test"
data = "data/broken_split.csv"
group = "arm"
control = "A"
metric = "converted"
metric_type = "binary"
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("site")
    copy_data(root, "signup_conversion.csv", "broken_split.csv")
    (root / "experiments.toml").write_text(BINARY_DEMOS)
    result = run(root / "experiments.toml", root / "reports", "--date", "2026-11-20")
    assert result.exit_code == 0, result.output
    return root / "reports"


def test_published_schema_is_up_to_date():
    published = json.loads(bundles.SCHEMA_FILE.read_text())
    assert published == bundles.schema(), "run `make schema` to refresh docs/bundle.schema.json"


def test_every_bundle_matches_the_published_schema(site):
    schema = json.loads(bundles.SCHEMA_FILE.read_text())
    import jsonschema

    found = list(site.glob("*/*/bundle.json"))
    assert len(found) == 2
    for path in found:
        text = path.read_text()
        assert text.lstrip().startswith('{\n  "schema_version"')
        jsonschema.validate(json.loads(text), schema, format_checker=jsonschema.FormatChecker())


def test_schema_rejects_a_bundle_missing_a_required_field(site):
    import jsonschema

    data = json.loads(next(site.glob("signup-page/*/bundle.json")).read_text())
    del data["comparisons"][0]["expected_loss"]
    with pytest.raises(jsonschema.ValidationError):
        bundles.conforms(data)


def test_output_tree_has_every_file(site):
    folder = site / "signup-page" / "2026-11-20"
    for name in ("bundle.json", "report.html", "report.pdf", ".lift_draws.npz"):
        assert (folder / name).is_file()
    # An exact A/B posterior's draws are not written to posterior.nc unless asked for.
    assert not (folder / "posterior.nc").exists()
    assert (site / "index.html").is_file()
    assert (site / "signup-page" / "index.html").is_file()


def test_save_draws_writes_a_posterior_file_xarray_reads(tmp_path):
    """``save_draws = true`` writes posterior.nc: every arm's draws and the lifts."""
    import xarray as xr

    copy_data(tmp_path, "signup_conversion.csv")
    config = BINARY_DEMOS.split('[[experiments]]\nname = "pricing-banner"')[0]
    (tmp_path / "experiments.toml").write_text(
        config.replace("[settings]", "[settings]\nsave_draws = true")
    )
    result = run(tmp_path / "experiments.toml", tmp_path / "reports", "--date", "2026-11-20")
    assert result.exit_code == 0, result.output
    folder = tmp_path / "reports" / "signup-page" / "2026-11-20"
    bundle = json.loads((folder / "bundle.json").read_text())
    with xr.open_datatree(folder / "posterior.nc", engine="h5netcdf") as tree:
        post = tree["posterior"]
        assert list(post["arm"].values) == [a["name"] for a in bundle["arms"]]
        assert post["value"].shape == (1, 8000, len(bundle["arms"]))
        for comp in bundle["comparisons"]:
            lift = post["lift_rel"].sel(treatment=comp["arm"]).values.ravel()
            # The bundle's mean is these draws' mean (exact, the same seed).
            assert lift.mean() == pytest.approx(comp["lift_rel"]["mean"], rel=1e-9)


class Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_title = tag == "title"

    def handle_data(self, data):
        if self._in_title:
            self.title += data

    def handle_endtag(self, tag):
        self._in_title = False


def parse(path: Path) -> Collector:
    collector = Collector()
    collector.feed(path.read_text())
    return collector


@pytest.mark.parametrize(
    "page", ["signup-page/2026-11-20/report.html", "index.html", "signup-page/index.html"]
)
def test_html_pages_are_self_contained(site, page):
    html = parse(site / page)
    html_tag = next(attrs for tag, attrs in html.tags if tag == "html")
    assert html_tag.get("lang") == "en"
    assert html.title.strip()
    for tag, attrs in html.tags:
        if tag == "link":  # only the inline icon, so browsers do not ask for /favicon.ico
            assert attrs == {"rel": "icon", "href": "data:,"}
            continue
        assert tag not in ("script", "iframe", "object", "embed"), f"{tag} runs something"
        for attr in ("src", "href"):
            value = attrs.get(attr, "")
            assert not re.match(r"^(https?:)?//", value), f"{tag} {attr}={value} leaves the page"
        if tag == "img":
            assert attrs["src"].startswith("data:image/")
    assert "@import" not in (site / page).read_text()


def test_report_figures_have_alt_text_stating_the_finding(site):
    html = parse(site / "signup-page/2026-11-20/report.html")
    images = [attrs for tag, attrs in html.tags if tag == "img"]
    assert len(images) == 2
    for attrs in images:
        assert attrs["alt"].startswith("Density chart")
        assert "94% HDI" in attrs["alt"]
    assert "B over A" in images[0]["alt"]


def test_titles_and_data_are_escaped(site):
    text = (site / "signup-page/2026-11-20/report.html").read_text()
    assert "&lt;three&gt; headlines &amp; more" in text
    assert "<three>" not in text


def test_report_html_is_small_and_has_contents_and_print_css(site):
    path = site / "signup-page/2026-11-20/report.html"
    text = path.read_text()
    assert path.stat().st_size < 400_000
    assert 'aria-label="Contents"' in text
    assert "@media print" in text and "@page" in text
    assert 'name="viewport"' in text
    for section in ("How to read this report", "Glossary", "Provenance"):
        assert section in text


def test_pdf_text_is_extractable_and_has_page_numbers(site):
    pages = pdf_pages(site / "signup-page/2026-11-20/report.pdf")
    text = "\n".join(pages)
    assert "Ship B." in text
    assert "94% HDI" in text
    assert f"Page 1 of {len(pages)}" in text


def test_pdf_is_a_summary_with_the_decision_on_page_one(site):
    """The emailed PDF: verdict, key numbers and main chart first; at most two pages, none
    near-empty; reading aids stay in the HTML, which the PDF points to."""
    pdf = site / "signup-page/2026-11-20/report.pdf"
    pages = [" ".join(page.split()) for page in pdf_pages(pdf)]
    assert len(pages) <= 2
    first = pages[0]
    for shown in ("Ship B.", "What a decision-maker needs", "The lift", "Each arm against"):
        assert shown in first
    assert first.index("Ship B.") < first.index("What a decision-maker needs")
    assert all(len(page) > 800 for page in pages), [len(p) for p in pages]
    text = "\n".join(pages)
    assert "Glossary" not in text and "How to read this report" not in text
    assert "report.html beside this PDF" in text
    html = (site / "signup-page/2026-11-20/report.html").read_text()
    assert "How to read this report" in html and "Glossary" in html


def test_pdf_links_to_the_report_on_the_site(site, tmp_path):
    from readout import render

    folder = tmp_path / "readout"
    shutil.copytree(site / "signup-page/2026-11-20", folder)
    render.render_readout(folder, site_url="https://readouts.example.internal/")
    reader = PdfReader(folder / "report.pdf")
    url = "https://readouts.example.internal/signup-page/2026-11-20/report.html"
    links = [
        a.get_object()["/A"]["/URI"]
        for a in reader.pages[0].get("/Annots", [])
        if "/A" in a.get_object() and "/URI" in a.get_object()["/A"]
    ]
    assert url in links
    footer = [" ".join(page.split()) for page in pdf_pages(folder / "report.pdf")]
    assert all(f"Full report: {url}" in page for page in footer)


def test_health_failure_is_at_the_top_and_withholds_the_verdict(site):
    html = (site / "pricing-banner/2026-11-20/report.html").read_text()
    assert "Verdict withheld" in html
    assert html.index("Health check failed") < html.index("What a decision-maker needs")
    assert "Sample-ratio mismatch" in html
    # The size of the problem instead of any chance of winning or shipping language.
    # Both shortfalls, each named: against the split of all users and against A (review 7).
    assert (
        "B has 9,400 users where the planned split of all 19,400 expects about 9,700 (300 "
        "fewer); that is about 600 fewer than A&#39;s 10,000 imply, if A lost none" in html
    )
    report = html[: html.index('id="how-to-read"')]  # the glossary defines the terms
    for shipping in ("Chance better", "Expected loss", "If we ship", "chance that the"):
        assert shipping not in report, shipping
    bundle = json.loads((site / "pricing-banner/2026-11-20/bundle.json").read_text())
    assert bundle["srm"]["ok"] is False
    assert bundle["decision"]["verdict"] == "withheld"


def test_render_rebuilds_reports_from_bundles_without_refitting(site, tmp_path):
    report = site / "signup-page/2026-11-20/report.html"
    bundle = site / "signup-page/2026-11-20/bundle.json"
    report.unlink()
    stamp = bundle.stat().st_mtime_ns
    config = site.parent / "experiments.toml"
    result = CliRunner().invoke(main, ["render", "--config", str(config), "--output", str(site)])
    assert result.exit_code == 0
    assert report.is_file()
    assert bundle.stat().st_mtime_ns == stamp


def test_captions_come_from_the_wording_at_render_time(site, monkeypatch):
    """A bundle holds numbers only; a wording change shows after `readout render`."""
    from readout import render
    from readout.wording.ab_test import words

    folder = site / "signup-page/2026-11-20"
    data = json.loads((folder / "bundle.json").read_text())
    assert all(set(f) == {"key", "file"} for f in data["figures"])
    assert "reason" not in data["decision"]
    original = words._figures

    def reworded(bundle):
        return {
            key: type(fig)(caption="Reworded: " + fig.caption, alt=fig.alt)
            for key, fig in original(bundle).items()
        }

    monkeypatch.setattr(words, "_figures", reworded)
    render.render_readout(folder)
    assert (
        "<figcaption>Reworded: Posterior of the relative lift"
        in (folder / "report.html").read_text()
    )
    monkeypatch.undo()
    render.render_readout(folder)


def test_index_lists_experiments_newest_first_with_verdicts(site):
    index = (site / "index.html").read_text()
    assert "Ship" in index and "Verdict withheld" in index
    assert "signup-page/2026-11-20/report.html" in index
