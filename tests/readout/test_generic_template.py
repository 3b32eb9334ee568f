"""A new analysis needs no template: the generic one renders its wording's layout.

The Poisson-rate analysis in ``tests/fixtures/poisson_rate`` (one file, and one for its
words) is registered, run end to end by the real runner, and its page and PDF come from
``templates/readout.html.j2``.
"""

import json
import re

import numpy as np
import pandas as pd
import pytest

from readout import bundle as bundles
from readout import registry, render, runner, store, wording
from readout.config import load_config
from tests.fixtures import poisson_rate
from tests.fixtures.poisson_rate import PRIOR_RATE, PRIOR_SHAPE
from tests.pdf import pdf_text

CONFIG = """
[settings]
exact_draws = 20000

[[experiments]]
name = "support-calls"
title = "Support calls per customer"
analysis = "poisson_rate"
data = "data/calls.csv"
group = "arm"
control = "A"
events = "calls"
"""


@pytest.fixture(scope="module")
def readout(tmp_path_factory):
    registry.register(poisson_rate.ANALYSIS, "tests.fixtures.poisson_rate.words")
    try:
        root = tmp_path_factory.mktemp("poisson")
        (root / "data").mkdir()
        rng = np.random.default_rng(11)
        pd.DataFrame(
            {
                "arm": np.repeat(["A", "B"], 3000),
                "calls": np.r_[rng.poisson(0.20, 3000), rng.poisson(0.26, 3000)],
            }
        ).to_csv(root / "data" / "calls.csv", index=False)
        (root / "experiments.toml").write_text(CONFIG)
        config = load_config(root / "experiments.toml")
        outcomes = runner.run(config, root / "reports", readout_date="2026-11-20")
        assert [o.code for o in outcomes] == [0], outcomes
        yield root / "reports" / "support-calls" / "2026-11-20", root
    finally:
        registry.unregister("poisson_rate")


def test_a_registered_analysis_is_fitted_and_its_bundle_is_typed(readout):
    folder, root = readout
    data = json.loads((folder / store.BUNDLE).read_text())
    bundles.conforms(data)
    assert data["analysis"] == "poisson_rate" and data["decision"]["verdict"] == "ship"
    frame = pd.read_csv(root / "data" / "calls.csv")
    for arm in data["arms"]:
        calls = frame.loc[frame["arm"] == arm["name"], "calls"]
        exact = (PRIOR_SHAPE + calls.sum()) / (PRIOR_RATE + len(calls))  # the Gamma's mean
        sd = np.sqrt(PRIOR_SHAPE + calls.sum()) / (PRIOR_RATE + len(calls))
        assert arm["mean"] == pytest.approx(exact, abs=4 * sd / np.sqrt(20000))


def test_its_page_comes_from_the_generic_template_in_the_layout_order(readout):
    folder, _ = readout
    assert render.template_of("poisson_rate") == render.GENERIC
    assert render.template_of("ab_test") == "ab_test.html.j2"
    html = (folder / store.REPORT_HTML).read_text()
    text = wording.report(json.loads((folder / store.BUNDLE).read_text()))
    assert [s.id for s in text.layout] == ["rates", "model"]
    # The lead section above the contents, the other below; both listed in the contents.
    assert html.index('id="rates"') < html.index('class="toc ') < html.index('id="model"')
    assert re.search(r'<li><a href="#rates">The rates</a></li>\s*<li><a href="#model">', html)
    # Its figure (inline, with the wording's alt text) and table, in its section.
    rates = html[html.index('id="rates"') : html.index('class="toc ')]
    assert 'id="fig-rates"' in rates and "data:image/svg+xml;base64," in rates
    assert text.text.figures["rates"].alt.replace("'", "&#39;") in rates
    assert "<h3>Events per unit</h3>" in rates and "3,000" in rates
    # A section the PDF leaves out is marked for the screen only.
    assert '<section id="model" class="screen-only">' in html
    assert "Ship the treatment." in html


def test_its_pdf_prints_the_same_words_without_the_screen_only_sections(readout):
    folder, _ = readout
    pdf = (folder / store.REPORT_PDF).read_bytes()
    assert pdf.startswith(b"%PDF-")
    words = pdf_text(folder / store.REPORT_PDF)
    assert "Ship the treatment." in words and "The rates" in words and "Events per unit" in words
    assert "Model and checks" not in words


def test_its_email_and_site_speak_of_it_too(readout):
    from readout import email as mail

    folder, root = readout
    data = json.loads((folder / store.BUNDLE).read_text())
    message = mail.compose(data, folder, ["pm@example.com"], "readout@example.com", "")
    assert "ship the treatment" in message["Subject"].lower()
    assert "Ship the treatment." in message.get_body(("plain",)).get_content()
    index = (root / "reports" / store.INDEX).read_text()
    assert "Support calls per customer" in index
