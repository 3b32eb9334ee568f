"""The Quarto project: front matter parses, pandoc converts every .qmd, no refit."""

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from readout.cli import main
from tests.readout.running import ROOT, binary_frame, project

PANDOC = shutil.which("pandoc")


@pytest.fixture(scope="module")
def quarto_project(tmp_path_factory):
    """Three readouts of three tones: ship (good), a broken split (withheld), too little data
    (neutral, with 45 segments and so a ``segments.csv`` its page points to)."""
    root = tmp_path_factory.mktemp("quarto")
    small = binary_frame(n=450, seed=3)
    # More levels than the page's table shows: the page points to segments.csv for them all.
    small["country"] = np.resize([f"C{i:02d}" for i in range(45)], len(small))
    a, b = binary_frame(n=8000, seed=1), binary_frame(n=7000, seed=2)
    split = pd.concat([a[a.arm == "A"], b[b.arm == "B"]])  # planned 50/50: a ratio mismatch
    config = project(
        root,
        [
            {
                "name": "signup",
                "file": "good.csv",
                "title": "Signup: *bold* <b>claims</b> | 50% off",
            },
            {"name": "split", "file": "split.csv"},
            {"name": "small", "file": "small.csv", "extra": 'segments = ["country"]'},
        ],
        {"good.csv": binary_frame(n=8000), "split.csv": split, "small.csv": small},
    )
    out = root / "reports"
    runner = CliRunner()
    assert (
        runner.invoke(
            main, ["run", "--config", str(config), "--output", str(out), "--date", "2026-11-21"]
        ).exit_code
        == 0
    )
    bundle = out / "signup" / "2026-11-21" / "bundle.json"
    stamp = bundle.stat().st_mtime_ns
    result = runner.invoke(
        main, ["render", "--engine", "quarto", "--config", str(config), "--output", str(out)]
    )
    assert bundle.stat().st_mtime_ns == stamp  # written from the bundle, not refitted
    return result, out / "quarto"


def front_matter(path):
    text = path.read_text()
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def test_without_quarto_the_project_is_written_and_the_command_says_so(quarto_project):
    result, folder = quarto_project
    assert result.exit_code == 0
    if shutil.which("quarto") is None:
        assert "Quarto is not installed" in result.output
        assert f"quarto render {folder}" in result.output
    assert yaml.safe_load((folder / "_quarto.yml").read_text())["project"]["type"] == "website"
    listing = front_matter(folder / "index.qmd")
    assert listing["listing"]["contents"] == "readouts/*/index.qmd"


def test_readout_front_matter_parses_and_keeps_the_title(quarto_project, tmp_path):
    _, folder = quarto_project
    page = folder / "readouts" / "signup-2026-11-21" / "index.qmd"
    meta = front_matter(page)
    # Quarto reads front-matter strings as Markdown: they are escaped like the body.
    assert meta["title"] == r"Signup\: \*bold\* \<b\>claims\</b\> \| 50% off"
    if PANDOC:
        template = tmp_path / "title.plain"
        template.write_text("$title$\n")
        shown = subprocess.run(
            [PANDOC, "-f", "markdown", "-t", "plain", "-s", "--template", template, page],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        assert shown == "Signup: *bold* <b>claims</b> | 50% off"
    assert meta["date"] == "2026-11-21"
    assert meta["description"] == "Ship B."
    assert meta["categories"] == ["Group comparison", "Ship"]


@pytest.mark.skipif(PANDOC is None, reason="Debian's pandoc is not installed (make setup)")
def test_pandoc_converts_every_qmd_to_html_without_error(quarto_project):
    _, folder = quarto_project
    files = sorted(folder.rglob("*.qmd"))
    assert len(files) == 4  # three readouts and the listing
    for path in files:
        result = subprocess.run(
            [PANDOC, "--fail-if-warnings", "-f", "markdown", "-t", "html", str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
    html = subprocess.run(
        [
            PANDOC,
            "-f",
            "markdown",
            "-t",
            "html",
            str(folder / "readouts" / "signup-2026-11-21" / "index.qmd"),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "94% HDI" in html
    assert "<table>" in html
    assert 'alt="Density chart' in html or "fig-alt" in html
    assert (folder / "readouts" / "signup-2026-11-21" / "fig-lift.svg").is_file()


# --------------------------------------------------------------------------- as the HTML pages

#: The colour each verdict tone has on the HTML page (report.css), as a Quarto callout.
TONE_CALLOUT = {"good": "tip", "bad": "important", "withheld": "warning", "neutral": "note"}
#: A sign before a number (``+3%``, ``-$0.04``) not held to it by a word joiner.
LOOSE_SIGN = re.compile(r"(?<![\w.\u2060])[+\-\u2212](?![\u2060])(?=[^\s\w]?\d)")


def readout_pages(folder):
    pages = sorted((folder / "readouts").glob("*/index.qmd"))
    assert pages
    return [(page, json.loads((page.parent / "bundle.json").read_text())) for page in pages]


def pandoc(page, to="html", *flags):
    return subprocess.run(
        [PANDOC, "--fail-if-warnings", *flags, "-f", "markdown", "-t", to, str(page)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_listing_categories_are_the_analysis_name_and_the_verdict_label(quarto_project):
    from readout import registry, wording

    _, folder = quarto_project
    codes = set(registry.available())
    for name in registry.available():
        codes |= set(registry.get(name).verdicts)
    shown = set()
    for page, bundle in readout_pages(folder):
        categories = front_matter(page)["categories"]
        label = wording.module(bundle["analysis"]).VERDICT_LABELS[bundle["decision"]["verdict"]]
        assert categories == [wording.analysis_label(bundle["analysis"]), label], page
        assert not codes & set(categories), categories  # "keep_collecting", "ab_test"
        shown.add(label)
    assert shown == {"Ship", "Verdict withheld", "Keep collecting data"}


def test_every_analysis_and_verdict_label_shows_as_written_and_once():
    from readout import quarto, registry, wording

    for name in registry.available():
        analysis = wording.analysis_label(name)
        labels = wording.module(name).VERDICT_LABELS
        assert analysis != name  # a name for people, not the code
        for label in [analysis, *labels.values()]:
            # Quarto's listing shows a category as written, its page through pandoc: a
            # label with nothing to escape reads the same in both.
            assert quarto.md(label) == label, label
        assert analysis not in labels.values()  # never "mixture, mixture"


def test_every_tone_has_its_own_callout():
    from analyses.core.base import Tone
    from readout import quarto

    assert {str(t): c for t, c in quarto.CALLOUTS.items()} == TONE_CALLOUT
    assert set(quarto.CALLOUTS) == set(Tone)


def test_verdict_box_takes_its_callout_from_the_verdicts_tone(quarto_project):
    from readout import registry, wording

    _, folder = quarto_project
    callouts = set()
    for page, bundle in readout_pages(folder):
        verdict = bundle["decision"]["verdict"]
        body = page.read_text().split("---\n", 2)[2]
        first = re.search(r"^::: \{\.callout-(\w+)\}\n## (.*)\n", body, re.M)
        assert first, body[:300]
        tone = str(registry.get(bundle["analysis"]).tone(verdict))
        assert first.group(1) == TONE_CALLOUT[tone], (page, tone)
        callouts.add(first.group(1))
        headline = wording.readout_text(bundle).headline
        assert not first.group(2).startswith("Verdict:")  # not "Verdict: Verdict withheld."
        if PANDOC:
            html = pandoc(page)
            box = re.search(
                rf'<(?:div|section)[^>]*class="callout-{first.group(1)}"[^>]*>\s*<h2[^>]*>(.*?)</h2>',
                html,
            )
            assert box and " ".join(shown(box.group(1)).text) == headline, html[:500]
    assert callouts == {"tip", "warning", "note"}  # ship, withheld, keep collecting


@pytest.mark.skipif(PANDOC is None, reason="Debian's pandoc is not installed (make setup)")
def test_every_file_a_page_links_or_mentions_is_beside_it_with_content(quarto_project):
    _, folder = quarto_project
    mentioned = []
    for page, bundle in readout_pages(folder):
        seen = shown(pandoc(page))
        targets = [a for a in seen.attributes if re.match(r"^[\w.-]+\.\w+$", a)]
        assert any(t.endswith(".svg") for t in targets)
        for target in targets:
            assert (page.parent / target).is_file(), (page, target)
            assert (page.parent / target).stat().st_size > 0, (page, target)
        text = " ".join(" ".join(seen.text).split())
        for name in re.findall(r"([\w.-]+\.csv) beside this report", text):
            assert name in targets, (page, name)  # linked, and so checked above
            assert name in front_matter(page)["resources"]  # Quarto copies it to the site
            mentioned.append(name)
        for table in bundle.get("tables", []):
            assert table["file"] in targets
    assert "segments.csv" in mentioned


def test_the_listing_is_html_only_so_no_empty_pdf_is_linked(quarto_project):
    _, folder = quarto_project
    site = yaml.safe_load((folder / "_quarto.yml").read_text())
    assert set(site["format"]) == {"html", "typst"}  # every readout: a page and a PDF
    # A document that names its formats gets only those: Quarto links the formats it
    # rendered, and a Typst listing is its title and one sentence (the listing is HTML).
    assert front_matter(folder / "index.qmd")["format"] == "html"
    for page, _ in readout_pages(folder):
        assert "format" not in front_matter(page)


def test_typst_table_cells_are_ragged_unhyphenated_and_left_aligned(quarto_project):
    _, folder = quarto_project
    typst = yaml.safe_load((folder / "_quarto.yml").read_text())["format"]["typst"]
    header = typst["include-in-header"]["text"]
    assert "#show table.cell: set par(justify: false)" in header
    assert "#show table.cell: set text(hyphenate: false)" in header
    page = folder / "readouts" / "small-2026-11-21" / "index.qmd"
    rules = re.findall(r"^\|[-:|]+\|$", page.read_text(), re.M)
    assert len(rules) >= 3
    for rule in rules:
        assert all(col.startswith(":") and not col.endswith(":") for col in rule[1:-1].split("|"))
    if PANDOC is None:
        return
    html = pandoc(page)
    cells = re.findall(r"<t[hd]( [^>]*)?>", html)
    assert cells and all('style="text-align: left;"' in (c or "") for c in cells)
    # A wide table's columns share the line by their dashes: none narrower than its
    # longest word on a line of 80 characters (so no word spills or is hyphenated).
    for table in re.findall(r"<table.*?</table>", html, re.S):
        widths = [float(w) for w in re.findall(r'<col style="width: ([\d.]+)%"', table)]
        rows = [
            re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r, re.S)
            for r in re.findall(r"<tr.*?</tr>", table, re.S)
        ]
        for width, column in zip(widths, zip(*rows, strict=True), strict=False):
            longest = (
                max(len(w) for cell in column for w in shown(cell).text[0].split()) if column else 0
            )
            assert width / 100 * 80 >= longest, (width, column)
    if (
        "typst"
        in subprocess.run([PANDOC, "--list-output-formats"], capture_output=True, text=True).stdout
    ):
        source = pandoc(page, "typst")
        assert re.search(r"align: \(left,", source) and "align: (auto" not in source


@pytest.mark.skipif(PANDOC is None, reason="Debian's pandoc is not installed (make setup)")
def test_signs_stay_with_their_numbers(quarto_project, tmp_path):
    from readout import quarto

    _, folder = quarto_project
    joined = 0
    for page, _ in readout_pages(folder):
        text = " ".join(shown(pandoc(page)).text)
        assert not LOOSE_SIGN.search(text), LOOSE_SIGN.search(text)
        joined += text.count(quarto.WORD_JOINER)
    assert joined > 10
    sample = tmp_path / "sample.md"
    sample.write_text(
        quarto.md("+19% (-3% to +41%), +$0.39, a sub-population on 2026-11-21") + "\n"
    )
    plain = pandoc(sample, "plain", "--wrap=none").strip()
    assert (
        plain
        == "+\u206019% (-\u20603% to +\u206041%), +\u2060$0.39, a sub-population on 2026-11-21"
    )


# --------------------------------------------------------------------------- hostile values

#: Values a config or a warehouse could hold, each tried as an arm name, a title, a unit and
#: group name, and a metric label.
HOSTILE = [
    "{{< env HOME >}}",
    "{{< include /etc/passwd >}}",
    "{{< meta title >}}",
    "{{{< meta x >}}}",
    "x{{</* env HOME */>}}",
    "<script>alert(1)</script><img src=x onerror=alert(2)>",
    "say \"hi\" and 'bye' back\\slash\\",
    "&lt;b&gt; &amp; &#123;&#123;< env HOME >}}",
    "1. a -- b --- c ... d",
    "`{python} __import__('os').getenv('HOME')` `r Sys.getenv('HOME')`",
    "a=1 } ] ) :::",
]
SHORT = [text for text in HOSTILE if len(text) <= 32]
SHORTCODE = re.compile(r"\{\{[<%]|\{\{\{")


def toml_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


#: A warehouse experiment whose metric labels are hostile (from the demo warehouse).
WAREHOUSE = """
[sources.warehouse]
url = "duckdb://data/demo.duckdb"

[[experiments]]
name = "warehouse"
title = "Warehouse"
analysis = "ab_test"
source = "warehouse"
assignments = '''SELECT user_id AS unit, variant AS arm, exposed_at FROM exposures
  WHERE experiment = 'checkout''''
control = "control"

[[experiments.metrics]]
name = "purchase"
label = {purchase}
sql = "SELECT user_id AS unit, ts, 1 AS value FROM orders"
aggregate = "any"
kind = "binary"
window_days = 14
role = "primary"

[[experiments.metrics]]
name = "load_time"
label = {load_time}
sql = "SELECT user_id AS unit, ts, load_ms AS value FROM page_loads"
aggregate = "mean"
kind = "continuous"
higher_is_better = false
role = "guardrail"
"""


def arm_and_title(i: int) -> tuple[str, str]:
    """Experiment ``h{i}``: one hostile value as its arm name, the next as its title."""
    return HOSTILE[2 * i], HOSTILE[(2 * i + 1) % len(HOSTILE)]


PAIRS = (len(HOSTILE) + 1) // 2


@pytest.fixture(scope="module")
def hostile_project(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    experiments, frames = [], {}
    for i in range(PAIRS):
        arm, _ = arm_and_title(i)
        frames[f"h{i}.csv"] = binary_frame(n=400, seed=i).replace({"arm": {"B": arm}})
        experiments.append({"name": f"h{i}", "file": f"h{i}.csv", "title": "T"})
    config = project(root, experiments, frames)
    text = config.read_text()
    for i in range(PAIRS):
        title = toml_string(arm_and_title(i)[1])
        text = text.replace(f'name = "h{i}"\ntitle = "T"', f'name = "h{i}"\ntitle = {title}')
    # Unit and group names from the data, pooled (names short enough for the chart's axis).
    names = SHORT
    units = pd.DataFrame(
        {
            "unit": names,
            "group": [names[(i + 1) % len(names)] for i in range(len(names))],
            "estimate": np.linspace(-1, 1, len(names)),
            "std_error": 0.5,
        }
    )
    units.to_csv(root / "data" / "units.csv", index=False)
    text += (
        '\n[[experiments]]\nname = "units"\ntitle = "Units"\nanalysis = "hierarchical"\n'
        'data = "data/units.csv"\nunit = "unit"\ngroup = "group"\nestimate = "estimate"\n'
        'std_error = "std_error"\n'
    )
    shutil.copy(ROOT / "data" / "demo.duckdb", root / "data" / "demo.duckdb")
    labels = {"purchase": toml_string(HOSTILE[0]), "load_time": toml_string(HOSTILE[6])}
    config.write_text(text + WAREHOUSE.format(**labels))
    out = root / "reports"
    runner = CliRunner()
    result = runner.invoke(main, ["run", "--config", str(config), "--output", str(out)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        main, ["render", "--engine", "quarto", "--config", str(config), "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    return out / "quarto"


class Shown(HTMLParser):
    """The text a reader sees and the attribute values a page carries."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.attributes: list[str] = []

    def handle_data(self, data):
        self.text.append(data)

    def handle_starttag(self, tag, attrs):
        self.attributes += [value or "" for _, value in attrs]


def shown(html: str) -> Shown:
    parser = Shown()
    parser.feed(html)
    return parser


@pytest.mark.faults
def test_no_shortcode_survives_in_any_file_of_the_quarto_project(hostile_project):
    pages = [p for p in hostile_project.rglob("*") if p.suffix in (".qmd", ".yml")]
    assert len(pages) == PAIRS + 4  # a page per readout, the listing, _quarto.yml
    for page in pages:
        raw = page.read_text()
        # Quarto finds shortcodes in the raw text, before Markdown is parsed: "{{<" anywhere
        # (front matter, attributes, tables) would run.
        assert not SHORTCODE.search(raw), (page, SHORTCODE.search(raw))
        assert not re.search(r"(?<!\\)<(script|img)", raw)  # raw HTML only ever escaped


@pytest.mark.faults
@pytest.mark.skipif(PANDOC is None, reason="Debian's pandoc is not installed (make setup)")
@pytest.mark.parametrize("i", range(PAIRS))
def test_hostile_arm_names_and_titles_show_literally(hostile_project, i):
    from tests.readout.test_faults import _Markup, _pandoc_html

    arm, title = arm_and_title(i)
    (page,) = hostile_project.glob(f"readouts/h{i}-*/index.qmd")
    html = _pandoc_html(page, hostile_project)  # --fail-if-warnings, standalone, offline
    markup = _Markup()
    markup.feed(html)
    assert markup.live == []
    seen = shown(html)
    text = " ".join(" ".join(seen.text).split())
    for hostile in (arm, title):  # as written: no smart quotes or dashes, no markup
        assert " ".join(hostile.split()) in text
    alts = [a for a in seen.attributes if "chart" in a.lower() or "plot" in a.lower()]
    assert alts and any(arm in a for a in alts), alts  # fig-alt, as written
    assert meta_title(page) == title


def meta_title(page) -> str:
    template = page.parent / "title.plain"
    template.write_text("$title$\n")
    try:
        return subprocess.run(
            [
                PANDOC,
                "-f",
                "markdown",
                "-t",
                "plain",
                "--wrap=none",
                "-s",
                "--template",
                template,
                page,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    finally:
        template.unlink()


@pytest.mark.faults
@pytest.mark.skipif(PANDOC is None, reason="Debian's pandoc is not installed (make setup)")
@pytest.mark.parametrize("name", ["units", "warehouse"])
def test_hostile_unit_names_and_metric_labels_show_literally(hostile_project, name):
    from tests.readout.test_faults import _Markup, _pandoc_html

    (page,) = hostile_project.glob(f"readouts/{name}-*/index.qmd")
    html = _pandoc_html(page, hostile_project)
    markup = _Markup()
    markup.feed(html)
    assert markup.live == []
    text = " ".join(" ".join(shown(html).text).split())
    expected = SHORT if name == "units" else [HOSTILE[0], HOSTILE[6]]
    for hostile in expected:
        assert " ".join(hostile.split()) in text


@pytest.mark.faults
@pytest.mark.parametrize("kind", ["a users project", "a file"])
def test_quarto_never_writes_over_a_folder_it_did_not_write(quarto_project, tmp_path, kind):
    _, folder = quarto_project
    out = tmp_path / "reports"
    shutil.copytree(folder.parent, out)
    config = folder.parent.parent / "experiments.toml"
    mine = out / "quarto"
    shutil.rmtree(mine)
    if kind == "a file":
        mine.write_text("my notes")
    else:
        mine.mkdir()
        (mine / "_quarto.yml").write_text("project:\n  type: book\n")
        (mine / "index.qmd").write_text("# My book\n")
    before = {p.name: p.read_bytes() for p in ([mine] if mine.is_file() else mine.iterdir())}
    result = CliRunner().invoke(
        main, ["render", "--engine", "quarto", "--config", str(config), "--output", str(out)]
    )
    assert result.exit_code == 2, result.output
    assert str(mine) in result.output and "Fix:" in result.output
    assert {
        p.name: p.read_bytes() for p in ([mine] if mine.is_file() else mine.iterdir())
    } == before
