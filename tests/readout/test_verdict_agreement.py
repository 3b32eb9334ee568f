"""Every status, label, tone and word a reader sees agrees with the verdict.

For every fixture bundle, bundles made from them covering every verdict code of every
analysis (the verdict set, and for a withheld one the health check that withholds it), and
A/B bundles whose verdict the programme's learned prior decided (``decide_with =
"programme"``), this reads what a reader reads: the HTML report, the PDF's text (for the
fixture bundles, the withheld and the programme-decided ones), the email (plain text, HTML
and subject), the site's index row and experiment page, and the Quarto page (its ``.qmd``
converted by Debian's pandoc). It fails on a word or a tone that contradicts the verdict:

- withheld: no ship or roll-out word, no chance of being better or best, no good (green)
  tone anywhere; the numbers shown are labelled as for diagnosis;
- any verdict but a ship: no "Ship" in a table cell (the scorecard's primary row, a
  sensitivity row);
- every page's tone classes and badges are the verdict's tone (the Quarto page's verdict
  callout is the tone's); the index card and the email name the verdict's label;
- the scorecard's primary row shows the verdict's label (with "given past experiments" where
  the programme decided), or "better" where a guardrail stopped its ship: never another verdict.
"""

from __future__ import annotations

import copy
import html as htmlmod
import io
import json
import re
import shutil
import subprocess
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest

from analyses.ab_test.decide import GUARDRAIL_STOPS as STOPPED
from analyses.ab_test.judgement import programme_primary_verdict
from analyses.core import sequential
from analyses.core.base import Tone
from readout import bundle as bundles
from readout import email as mail
from readout import quarto, registry, render, wording
from tests.fixtures.programme_decided import decided_by_programme
from tests.pdf import pdf_pages
from tests.readout.running import chart_text

PANDOC = shutil.which("pandoc")

BUNDLES = Path(__file__).resolve().parents[1] / "fixtures" / "bundles"
NAMES = sorted(p.stem for p in BUNDLES.glob("*.json"))

#: An SVG to stand in for each figure (the captions, not the drawings, are the words checked).
BLANK_SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"></svg>'


def load(name: str) -> dict:
    return json.loads((BUNDLES / f"{name}.json").read_text())


# ----------------------------------------------------------------------- the bundles


def _ab_verdicts(bundle: dict) -> list[str]:
    if bundle["aa_test"]:
        return ["aa_passed", "aa_failed", "withheld"]
    if bundle["observational"]:
        return ["higher", "lower", "unclear", "withheld"]
    return [
        "ship",
        "keep_control",
        "keep_collecting",
        "no_difference",
        "no_clear_difference",
        "withheld",
    ]


def _ab_decision(bundle: dict, verdict: str) -> dict:
    primary = bundle["metrics"][0]
    arm = bundle["primary"]
    comp = next(c for c in primary["comparisons"] if c["arm"] == arm)
    base = {
        "thresholds": bundle["decision"]["thresholds"],
        "deciding_metric": None if verdict == "withheld" else primary["name"],
    }
    numbers = {
        "arm": arm,
        "prob_better": comp["prob_better"],
        "lift_rel_hdi": comp["lift_rel"]["hdi"] if comp["lift_rel"] else None,
        "expected_loss_rel": comp["expected_loss_rel"],
    }
    widest = max(abs(h) for h in (comp["lift_rel"] or comp["lift_abs"])["hdi"])
    guardrails = [m for m in bundle["metrics"][1:] if m["role"] == "guardrail"]
    return (
        base
        | {
            "ship": {"reason_code": "clear_winner", **numbers},
            "higher": {"reason_code": "clear_winner", **numbers},
            "keep_control": (
                {
                    "reason_code": "guardrail_harm",
                    **numbers,
                    "deciding_metric": guardrails[0]["name"],
                    "prob_harm": 0.99,
                    "tolerated_harm": guardrails[0]["tolerated_harm"],
                }
                if guardrails
                else {"reason_code": "all_worse", **numbers, "arm": None}
            ),
            "lower": {"reason_code": "all_worse", **numbers, "arm": None},
            "keep_collecting": {"reason_code": "not_enough_evidence", **numbers},
            "no_clear_difference": {
                "reason_code": "planned_end_reached",
                **numbers,
                "arm": None,
                "evidence_reason": "not_enough_evidence",
                "precision": (numbers["lift_rel_hdi"][1] - numbers["lift_rel_hdi"][0]) / 2
                if numbers["lift_rel_hdi"]
                else None,
                # the planned end reached: the sequential rule's numbers at that look
                "sequential": sequential.look(
                    28, 28, bundle["decision"]["thresholds"]["min_prob_better"]
                ),
            },
            "unclear": {"reason_code": "not_enough_evidence", **numbers},
            "no_difference": {
                "reason_code": "inside_rope",
                **numbers,
                "arm": None,
                "widest": widest,
            },
            "aa_passed": {"reason_code": "arms_alike", "arm": None, "widest": widest},
            "aa_failed": {
                "reason_code": "difference_between_identical_arms",
                "arm": arm,
                "widest": widest,
            },
            "withheld": {
                "reason_code": "health_failed",
                "failed_checks": ["diagnostics"],
                "arm": None,
                "deciding_metric": None,
            },
        }[verdict]
    )


def _fail_health(bundle: dict) -> None:
    """The sampler's checks fail (R-hat far above its limit): every analysis withholds."""
    bundle["diagnostics"] = {**bundle["diagnostics"], "r_hat_max": 1.2, "ok": False}


def variant(name: str, verdict: str) -> dict:
    """The fixture bundle ``name`` with the verdict ``verdict`` (and its health to match)."""
    bundle = copy.deepcopy(load(name))
    analysis = bundle["analysis"]
    decision = bundle["decision"]
    if verdict == decision["verdict"]:
        return bundle
    if verdict == "withheld":
        _fail_health(bundle)
    if analysis == "ab_test":
        bundle["decision"] = {"verdict": verdict, **_ab_decision(bundle, verdict)}
        if verdict == "no_difference":  # a ROPE that holds every interval
            rope = round(bundle["decision"]["widest"] * 1.2, 3)
            bundle["decision"]["thresholds"] = {**bundle["decision"]["thresholds"], "rope": rope}
        if verdict == "keep_collecting" and "forecast" not in bundle:
            bundle["forecast"] = load("paywall")["forecast"]  # a readout still running has one
        if verdict != "keep_collecting":  # the forecast is drawn for a readout still running
            bundle["figures"] = [f for f in bundle["figures"] if f["key"] != "forecast"]
        if bundle["decision"]["reason_code"] == "guardrail_harm":
            # The primary metric alone ships (under every prior); its guardrail stops it.
            guard = next(m for m in bundle["metrics"] if m["role"] == "guardrail")
            guard["status"] = "harm"
            bundle["metrics"][0]["status"] = "ship"
            for row in bundle.get("sensitivity") or []:
                row["verdict"] = "ship"
        elif verdict not in ("withheld", "aa_passed", "aa_failed"):
            # The primary metric's own rule gives the verdict, under every prior.
            bundle["metrics"][0]["status"] = verdict
            for row in bundle.get("sensitivity") or []:
                row["verdict"] = verdict
    elif analysis == "hierarchical":
        keep = {k: decision[k] for k in ("average_hdi", "prob_positive", "groups")}
        code = {
            "positive": "interval_above_zero",
            "negative": "interval_below_zero",
            "unclear": "interval_includes_zero",
            "withheld": "health_failed",
        }[verdict]
        bundle["decision"] = {"verdict": verdict, "reason_code": code, **keep}
        if verdict == "withheld":
            bundle["decision"]["failed_checks"] = ["diagnostics"]
    elif analysis == "mixture":
        bundle["decision"] = {**decision, "verdict": verdict, "reason_code": "health_failed"}
    elif analysis == "regression":
        bundle["decision"] = {**decision, "verdict": verdict, "reason_code": "health_failed"}
    bundles.typed(bundle)  # every made bundle is valid
    return bundle


def verdicts_of(name: str) -> list[str]:
    bundle = load(name)
    if bundle["analysis"] == "ab_test":
        return _ab_verdicts(bundle)
    return list(registry.get(bundle["analysis"]).verdicts)


CASES = [(name, verdict) for name in NAMES for verdict in verdicts_of(name)]


def test_every_verdict_code_of_every_analysis_is_covered():
    covered = {(load(n)["analysis"], v) for n, v in CASES}
    for name in {load(n)["analysis"] for n in NAMES}:
        for verdict in registry.get(name).verdicts:
            assert (name, verdict) in covered, (name, verdict)


# ----------------------------------------------------------------------- what a reader reads


def visible(page: str) -> str:
    """The words of an HTML page, without its tags, styles and scripts (alt text kept: a
    screen reader reads it)."""
    page = re.sub(r"<(style|script)\b.*?</\1>", " ", page, flags=re.S)
    page = re.sub(r'src="data:[^"]*"', "", page)
    page = re.sub(r'<img\b[^>]*\balt="([^"]*)"[^>]*>', r" \1 ", page)
    return re.sub(r"\s+", " ", htmlmod.unescape(re.sub(r"<[^>]+>", " ", page)))


def pages(bundle: dict, folder: Path, pdf: bool) -> dict[str, str]:
    """Everything a reader sees of one readout, by where they see it (raw HTML kept)."""
    folder.mkdir(parents=True, exist_ok=True)
    for fig in bundle["figures"]:
        (folder / fig["file"]).write_text(BLANK_SVG)
    report = render.report_html(bundle, folder)
    out = {"report": report}
    if pdf:
        render.write_pdf(report, folder / "report.pdf")
        out["pdf"] = "\n".join(pdf_pages(folder / "report.pdf"))
    else:
        (folder / "report.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
    message = mail.compose(bundle, folder, ["team@example.com"], "readout@example.com", "")
    parsed = BytesParser(policy=policy.default).parse(io.BytesIO(message.as_bytes()))
    out["email subject"] = str(parsed["Subject"])
    out["email text"] = parsed.get_body(("plain",)).get_content()
    out["email html"] = parsed.get_body(("html",)).get_content()
    text = wording.readout_text(bundle)
    latest = {
        "date": bundle["readout_date"],
        "bundle": bundle,
        "text": text,
        "history": wording.history_row(bundle),
        "since_last": text.since_last,
        "healthy": not text.health,
    }
    entry = {
        "name": bundle["experiment"],
        "title": bundle["title"],
        "history": [latest],
        "latest": latest,
        "failure": None,
        "waiting": None,
        "chart": None,
        "chart_alt": "",
    }
    out["index card"] = render.page("index.html.j2", entries=[entry], generated="today")
    out["experiment page"] = render.page("experiment.html.j2", entry=entry)
    if PANDOC:  # the Quarto page, as pandoc reads its Markdown (Quarto itself is not installed)
        qmd = folder / "index.qmd"
        qmd.write_text(quarto.page(bundle, bundle["readout_date"], text))
        # The listing shows each page's categories (its front matter): the verdict's label.
        out["quarto categories"] = re.search(r"^categories: (.*)$", qmd.read_text(), re.M)[1]
        out["quarto page"] = subprocess.run(
            [PANDOC, "--fail-if-warnings", "-f", "markdown", "-t", "html", str(qmd)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    return out


# ----------------------------------------------------------------------- the rules

#: Words that say to ship or roll out.
SHIP = re.compile(r"\b(Ship|ship it|Roll out|roll out here)\b")
#: A chance of being better, best, higher or of a positive effect: what a withheld verdict hides
#: (a share of a lift's curve above zero is one too).
CHANCE = re.compile(
    r"\bchance\b\s*(>|[^.;()]{0,30}?\b(better|best|higher|lower|positive|negative|above|below"
    r"|win\w*)\b)|\bof the curve lies (above|below) zero",
    re.I,
)


def problems(bundle: dict, seen: dict[str, str]) -> list[str]:
    verdict = bundle["decision"]["verdict"]
    analysis = registry.get(bundle["analysis"])
    tone = str(analysis.tone(verdict))
    label = wording.verdict_label(bundle["analysis"], verdict)
    found = []
    for where, raw in seen.items():
        words = visible(raw) if "<" in raw else raw
        shown = re.sub(r"<style\b.*?</style>", " ", raw, flags=re.S)
        tones = set(re.findall(r"\btone-(good|bad|neutral|withheld)\b", shown))
        if tones - {tone} - ({"bad"} if where == "index card" and "Failed" in words else set()):
            found.append(f"{where}: tone classes {sorted(tones)} on a {tone} verdict")
        if verdict == "withheld":
            if where == "report" and "The lift" in words and "For diagnosis only" not in words:
                found.append(f"{where}: a withheld verdict's charts are not labelled diagnostic")
            for match in SHIP.finditer(words):
                found.append(f"{where}: '{_around(words, match)}' on a withheld verdict")
            for match in CHANCE.finditer(words):
                found.append(f"{where}: '{_around(words, match)}' on a withheld verdict")
            # The traditional test's p-value is a diagnostic number too: labelled so.
            for match in re.finditer(r"(.{0,60})\btraditional [^.]{0,300}?\bp [=<] \d", words):
                if "for diagnosis only" not in match[0].lower():
                    found.append(f"{where}: '{match[0][-120:]}' unlabelled on a withheld verdict")
        elif verdict not in ("ship",):
            cells = re.findall(r"<td[^>]*>\s*Ship\s*</td>", raw)
            cells += re.findall(r"\b(?:Status|Verdict): Ship\b", raw)  # the plain-text email
            found += [f"{where}: a table cell says Ship on a {verdict} verdict" for _ in cells]
        if where == "quarto page":
            # The verdict's callout (the first) is the tone's; a failed health check adds an
            # important one, and nothing else has a callout.
            callouts = re.findall(r"\bcallout-(\w+)\b", raw)
            if callouts[:1] != [quarto.CALLOUTS[Tone(tone)]] or set(callouts[1:]) - {"important"}:
                found.append(f"{where}: callouts {callouts} on a {tone} verdict")
        if where in ("index card", "experiment page", "quarto categories") and label not in words:
            found.append(f"{where}: the verdict's label '{label}' is missing")
        if where == "email subject" and _subject(bundle) not in words:
            found.append(f"{where}: the verdict '{_subject(bundle)}' is missing")
    return found + _scorecard_problems(bundle, label)


def _scorecard_problems(bundle: dict, label: str) -> list[str]:
    """The scorecard's primary row: the verdict, or 'better' where a guardrail stopped a ship."""
    table = wording.readout_text(bundle).tables.get("scorecard")
    if table is None or "Status" not in table.head:
        return []
    shown = table.rows[0][table.head.index("Status")]
    decision = bundle["decision"]
    programme = (bundle.get("programme_prior") or {}).get("decided_with") == "programme"
    if decision["reason_code"] in STOPPED and decision["verdict"] != "withheld":
        # The primary's own verdict (on the programme's numbers where they decided) beside
        # the guardrail that overruled it: "better" only where it would have shipped.
        own = (
            programme_primary_verdict(bundles.typed(bundle))
            if programme
            else bundle["metrics"][0]["status"]
        )
        # Otherwise what the primary says in words that do not read as the verdict (review 4).
        says = {"keep_collecting": "Not yet clear", "no_difference": "No meaningful difference"}
        expected = (
            "Better (a guardrail stops the ship)"
            if own == "ship"
            else says[own]
            + (" given past experiments" if programme else "")
            + "; a guardrail decides"
        )
    else:
        expected = label + (" (given past experiments)" if programme else "")
    if shown != expected:
        return [f"scorecard: the primary row says '{shown}' under '{label}' (want '{expected}')"]
    return []


def _subject(bundle: dict) -> str:
    return wording.subject_verdict(bundle, wording.readout_text(bundle))


def _around(words: str, match: re.Match) -> str:
    return words[max(0, match.start() - 60) : match.end() + 40]


@pytest.mark.parametrize(("name", "verdict"), CASES)
def test_every_page_agrees_with_the_verdict(name, verdict, tmp_path):
    bundle = variant(name, verdict)
    pdf = verdict == "withheld" or verdict == load(name)["decision"]["verdict"]
    seen = pages(bundle, tmp_path / "readout", pdf)
    found = problems(bundle, seen)
    assert not found, "\n".join(found)


def _stopped_at_the_planned_end(name: str, code: str) -> dict:
    """``name`` read at its planned end: the primary alone ships, a guardrail that is harmed
    (``guardrail_harm``) or might be (``guardrail_unclear_at_end``) keeps the control."""
    bundle = variant(name, "keep_control")
    guard = next(m for m in bundle["metrics"] if m["role"] == "guardrail")
    guard["status"] = "harm" if code == "guardrail_harm" else "unclear"
    bundle["decision"] |= {
        "reason_code": code,
        "prob_harm": 0.99 if code == "guardrail_harm" else 0.5,
        "sequential": sequential.look(28, 28, bundle["decision"]["thresholds"]["min_prob_better"]),
    }
    bundles.typed(bundle)
    return bundle


@pytest.mark.parametrize("code", ["guardrail_unclear_at_end", "guardrail_harm"])
@pytest.mark.parametrize("name", ["checkout-redesign", "paywall"])
def test_a_guardrail_that_keeps_the_control_at_the_planned_end_leaves_no_ship_on_the_page(
    name, code, tmp_path
):
    """The scorecard's primary row and the sensitivity rows read the decision, not their own
    rule: no "Ship" beside a verdict a guardrail turned into keep-the-control."""
    bundle = _stopped_at_the_planned_end(name, code)
    seen = pages(bundle, tmp_path / "readout", pdf=False)
    found = problems(bundle, seen)
    assert not found, "\n".join(found)
    scorecard = wording.readout_text(bundle).tables["scorecard"]
    primary = next(row for row in scorecard.rows if row[1] == "primary")
    assert primary[-1] == "Better (a guardrail stops the ship)"


#: Fixture A/B bundles read with a learned programme prior that decides the verdict: ship
#: alone -> keep collecting (checkout-redesign, signup-page). search-ranking's primary given
#: the programme would keep collecting, but its guardrail (page load time) shows harm beyond
#: its tolerance: that keeps the control whatever decides the primary (issue 23), so no page
#: says "Keep collecting data" beside "Harm beyond its tolerance".
PROGRAMME = ["checkout-redesign", "search-ranking", "signup-page"]


@pytest.mark.parametrize("name", PROGRAMME)
def test_a_verdict_the_programme_decided_agrees_everywhere(name, tmp_path):
    bundle = decided_by_programme(name)
    prior = bundle["programme_prior"]
    decision = bundle["decision"]
    assert prior["decided_with"] == "programme"
    harmed = [m["name"] for m in bundle["metrics"] if m.get("status") == "harm"]
    if harmed:  # a guardrail's harm keeps the control, given the programme or not
        assert (decision["verdict"], decision["reason_code"]) == ("keep_control", "guardrail_harm")
        assert decision["deciding_metric"] == harmed[0]
        assert prior["alone_verdict"] == "keep_control"
    else:
        assert prior["alone_verdict"] != decision["verdict"]  # the programme decided
    seen = pages(bundle, tmp_path / "readout", pdf=True)
    found = problems(bundle, seen)
    assert not found, "\n".join(found)
    # The sensitivity rows read the experiment on its own: said so, and a ship there is
    # still stopped by a guardrail that harms.
    table = wording.readout_text(bundle).tables["sensitivity"]
    guardrails = {m["status"] for m in bundle["metrics"][1:] if m["role"] == "guardrail"}
    for row in table.rows:
        assert row[1].endswith(" (on its own)"), row
    if "harm" in guardrails:
        # The guardrail decides under every prior: the column is what each prior gives the
        # primary metric (the bundle's rows), not the verdict (review finding 4).
        assert table.head[1] == "Primary metric says"
        labels = {"ship": "Would ship", "keep_collecting": "Not yet clear"}
        assert [row[1] for row in table.rows] == [
            labels[r["verdict"]] + " (on its own)" for r in bundle["sensitivity"]
        ]
        from readout.wording.ab_test.model import sensitivity_text

        (sentence,), _ = sensitivity_text(bundles.typed(bundle))
        assert sentence.startswith(
            "The verdict holds under every prior: a guardrail keeps the control"
        ), sentence
        assert "“would ship” under a flat prior" in sentence, sentence


def test_quarto_pages_are_read_when_pandoc_is_installed():
    # The Quarto page is part of what every case above reads (Debian's pandoc, make setup).
    assert PANDOC is not None, "pandoc is missing: `make setup` installs Debian's pandoc"


def test_a_harmed_guardrail_keeps_the_control_under_the_programme_on_every_page(tmp_path):
    """Issue 23: search-ranking given the programme (its primary would keep collecting) with
    page load time harmed beyond its tolerance: every page, the PDF, the email and the
    command line's line say "Keep the control"; none says "Keep collecting data"."""
    from readout import runner, store

    bundle = decided_by_programme("search-ranking")
    assert programme_primary_verdict(bundles.typed(bundle)) == "keep_collecting"
    assert bundle["decision"]["verdict"] == "keep_control"
    folder = tmp_path / "readout"
    seen = pages(bundle, folder, pdf=True)
    assert not problems(bundle, seen)
    for where in ("report", "pdf", "email text", "experiment page", "index card"):
        words = visible(seen[where]) if "<" in seen[where] else seen[where]
        assert "Keep the control" in words or "Keep control" in words, where
        assert "Keep collecting data." not in words, where
    scorecard = wording.readout_text(bundle).tables["scorecard"]
    # The primary's row says what the primary says, not in the verdict's words (review 4).
    assert scorecard.rows[0][-1] == "Not yet clear given past experiments; a guardrail decides"
    # The command line quotes the verdict of the bundle the programme rewrote, not the one
    # the fit gave before it (its numbers alone: here a ship stopped by the guardrail).
    (folder / store.BUNDLE).write_text(bundles.dumps(bundle))
    stale = runner.Outcome("search-ranking", 0, "Ship treatment.", str(folder))
    (final,) = runner.final_messages([stale])
    assert final.message == wording.readout_text(bundle).headline == "Keep the control."
    # A message a run's finish already took from the page it rendered is not read again.
    (kept,) = runner.final_messages([stale], frozenset({"search-ranking"}))
    assert kept.message == "Ship treatment."


# ----------------------------------------------------------------------- issue 23: which estimate


def _own_and_given(bundle: dict) -> tuple[dict, dict]:
    comp = next(c for c in bundle["metrics"][0]["comparisons"] if c["arm"] == bundle["primary"])
    return comp, comp["programme"]


@pytest.mark.parametrize("name", PROGRAMME)
def test_the_primary_row_and_every_quoted_chance_read_the_programme(name, tmp_path):
    """Where the programme decided, the scorecard's primary row shows its lift and chance,
    labelled, with the experiment's own beside them; a chance of the experiment on its own
    (its own chance of being better, of a worthwhile lift, of being best) is said so."""
    from readout.wording.numbers import prob

    bundle = decided_by_programme(name)
    own, given_ = _own_and_given(bundle)
    assert prob(own["prob_better"]) != prob(given_["prob_better"])  # the case tells them apart
    text = wording.readout_text(bundle)
    card = text.tables.get("scorecard")  # a readout of several metrics has one
    if card is not None:
        row = card.rows[0]
        lift, chance = row[4], row[card.head.index("Chance better")]
        assert chance.startswith(f"{prob(given_['prob_better'])} given the programme"), chance
        assert chance.endswith(f"{prob(own['prob_better'])} on its own"), chance
        assert " given the programme; " in lift and lift.endswith(" on its own"), lift
    words = visible(pages(bundle, tmp_path / "readout", pdf=False)["report"])
    # Every sentence quoting a chance of the worthwhile lift or of being best reads the
    # experiment alone (the programme has neither): it says so.
    quoted = r"(.{0,120})(minimum worthwhile effect of|most likely to be best|moved from [+\-−]\d)"
    for match in re.finditer(quoted, words):
        assert "on its own" in match[1].lower(), match[0]
    # The history chart draws the key numbers: the experiment's own, said so.
    assert " on its own over 2 readouts" in wording.history_alt(bundle, 2)
    # The lift chart's words say it draws the programme's estimate, its own beside it.
    figure = text.figures["lift"]
    assert "given this programme's" in figure.caption
    assert f"given the programme: {prob(given_['prob_better'])} of the curve" in figure.alt
    assert f"on its own, {prob(own['prob_better'])}" in figure.alt


def _posterior_file(bundle: dict, folder: Path) -> None:
    """A posterior of the relative lift matching each comparison's own HDI (normal draws)."""
    import arviz as az
    import numpy as np

    comps = bundle["comparisons"]
    rng = np.random.default_rng(1)
    draws = np.stack(
        [
            rng.normal(
                c["lift_rel"]["mean"],
                (c["lift_rel"]["hdi"][1] - c["lift_rel"]["hdi"][0]) / 3.76,
                (2, 500),
            )
            for c in comps
        ],
        axis=-1,
    )
    data = az.from_dict(
        {"posterior": {"lift_rel": draws}},
        coords={"treatment": [c["arm"] for c in comps]},
        dims={"lift_rel": ["treatment"]},
    )
    data.to_netcdf(str(folder / "posterior.nc"), engine="h5netcdf")


@pytest.mark.parametrize("name", ["checkout-redesign", "signup-page"])
def test_the_lift_chart_draws_the_estimate_the_verdict_read(name, tmp_path):
    """The lift chart of a verdict the programme decided is redrawn: the programme's curve,
    its chance above zero labelled "given the programme", the own curve "on its own"."""
    from analyses.ab_test import figures as ab_figures
    from readout import programme
    from readout.wording.numbers import prob
    from tests.fixtures.programme_decided import learned

    bundle = decided_by_programme(name)
    folder = tmp_path / "readout"
    folder.mkdir()
    _posterior_file(bundle, folder)
    drawn = []
    original = ab_figures.programme_lift

    def spy(results, draws, posts, ci_prob):
        fig = original(results, draws, posts, ci_prob)
        # Each entry's words (a long entry is wrapped over two lines).
        drawn.append([" ".join(t.get_text().split()) for t in fig.axes[0].get_legend().get_texts()])
        return fig

    ab_figures.programme_lift = spy
    try:
        assert programme.redraw_lift(folder, bundle, learned())
    finally:
        ab_figures.programme_lift = original
    own, given_ = _own_and_given(bundle)
    (legend,) = drawn
    arm, vs = bundle["primary"], bundle["control"]
    assert f"{arm} vs {vs} given the programme: {prob(given_['prob_better'])} above 0" in legend
    assert f"{arm} vs {vs} on its own: {prob(own['prob_better'])} above 0" in legend
    assert (folder / "fig-lift.svg").stat().st_size > 1000
    # A withheld verdict's chart stays the diagnostic one: nothing redrawn.
    withheld = programme.with_programme(variant(name, "withheld"), learned(), "programme")
    assert not programme.redraw_lift(folder, withheld, learned())


def test_the_lift_chart_reads_the_same_draws_from_an_ab_fits_own_file(tmp_path):
    """An A/B fit writes no posterior.nc by default: the programme's lift chart reads the
    primary lift's draws from ``.lift_draws.npz`` and draws the same chart as from the
    NetCDF file (an older readout's, or one written under ``save_draws = true``)."""
    import numpy as np
    import xarray as xr

    from readout import programme, store
    from tests.fixtures.programme_decided import learned

    bundle = decided_by_programme("checkout-redesign")
    charts = []
    for kind in ("posterior.nc", "npz"):
        folder = tmp_path / kind
        folder.mkdir()
        _posterior_file(bundle, folder)
        if kind == "npz":
            with xr.open_datatree(folder / store.POSTERIOR, engine="h5netcdf") as tree:
                lift = tree["posterior"]["lift_rel"]
                treatment = np.array([str(t) for t in lift["treatment"].values])
                values = lift.values
            (folder / store.POSTERIOR).unlink()
            with open(folder / store.LIFT_DRAWS, "wb") as out:
                np.savez(out, lift_rel=values, treatment=treatment)
        assert programme.redraw_lift(folder, bundle, learned())
        # matplotlib names an SVG's shapes afresh each time: the names left out.
        charts.append(chart_text(folder / "fig-lift.svg"))
    assert charts[0] == charts[1]
    assert len(charts[0]) > 1000


@pytest.mark.parametrize("name", PROGRAMME)
def test_a_withheld_verdict_reads_no_programme_lift(name, tmp_path):
    """Withheld means withheld: no "the verdict reads the lift given this programme" line in
    the verdict box nor in the model section ("it sets the verdict: the verdict reads the
    lift given it" was left there), and no lift on the programme page's row."""
    from readout import programme
    from readout.wording import programme as programme_words
    from tests.fixtures.programme_decided import learned

    bundle = programme.with_programme(variant(name, "withheld"), learned(), "programme")
    assert bundle["decision"]["verdict"] == "withheld"
    assert bundle["programme_prior"]["decided_with"] == "programme"
    seen = pages(bundle, tmp_path / "readout", pdf=True)
    assert not problems(bundle, seen)
    for where in ("report", "pdf", "email text", "experiment page"):
        words = visible(seen[where]) if "<" in seen[where] else seen[where]
        flat = re.sub(r"\s+", " ", words).lower()
        assert "the verdict reads the lift given" not in flat, where
        assert "sets the verdict" not in flat, where
    row = programme._programme_row(bundle)
    line = programme_words.lifts_line(row, "94% HDI", withheld=True)
    assert "%" not in line.replace("94% HDI", "") and "given the programme" not in line, line


#: Words that say the verdict read the programme's lift, or label numbers as the experiment's
#: own beside it: "the verdict reads the latter", "(not given the programme's 30 experiments,
#: as the verdict does)", "sets the verdict", "Ship (given past experiments)", "Given the
#: programme, ...", a row "(on its own)", the history chart's "on its own over".
CLAIMS_THE_PROGRAMME_DECIDED = re.compile(
    r"verdict reads|as the verdict does|sets the verdict|decides this verdict"
    r"|given past experiments|given the programme|\(on its own\)|on its own over|on its own,",
    re.IGNORECASE,
)


def _every_sentence(text) -> list[str]:
    """Every sentence, table cell and title, and figure caption and alt text of a readout."""
    found = [text.headline, text.reason, *text.key_sentences, *text.health, *text.notes]
    found += [line for lines in text.sections.values() for line in lines]
    for table in text.tables.values():
        found += [table.title, *table.head, *(cell for row in table.rows for cell in row)]
    found += [words for figure in text.figures.values() for words in (figure.caption, figure.alt)]
    return [str(s) for s in found]


@pytest.mark.parametrize("name", PROGRAMME)
def test_no_word_of_a_withheld_page_says_the_programme_decided_its_verdict(name, tmp_path):
    """The programme's prior was set to decide, but the verdict is withheld: it read no lift.
    No sentence, cell or caption, on any page, says the verdict reads the programme's lift,
    nor labels a number "on its own" beside it; the same bundle not withheld says so."""
    from tests.fixtures.programme_decided import withheld_by_programme

    decided = decided_by_programme(name)
    said = _every_sentence(wording.readout_text(decided))
    assert any(CLAIMS_THE_PROGRAMME_DECIDED.search(s) for s in said)  # the words are found
    bundle = withheld_by_programme(name)
    assert bundle["decision"]["verdict"] == "withheld"
    assert bundle["programme_prior"]["decided_with"] == "programme"
    said = _every_sentence(wording.readout_text(bundle)) + [wording.history_alt(bundle, 2)]
    found = [s for s in said if CLAIMS_THE_PROGRAMME_DECIDED.search(s)]
    seen = pages(bundle, tmp_path / "readout", pdf=False)
    for where, page in seen.items():
        words = re.sub(r"\s+", " ", visible(page) if "<" in page else page)
        found += [
            f"{where}: {_around(words, m)}" for m in CLAIMS_THE_PROGRAMME_DECIDED.finditer(words)
        ]
    assert not found, "\n".join(found)


def test_the_programme_page_names_each_harm_once_and_agrees_with_its_fit():
    """search-ranking's p90 guardrail is named with its percentile; a tiny p-value reads
    "p < 0.001"; a prior that fits is never said to allow too few losses or wins."""
    from readout import programme
    from readout.wording import programme as programme_words

    bundle = load("search-ranking")
    load_time = next(m for m in bundle["metrics"] if m["name"] == "load_time")
    load_time["status"] = "harm"
    p90 = {**copy.deepcopy(load_time), "name": "load_time_p90", "kind": "quantile", "quantile": 0.9}
    bundle["metrics"].append(p90)
    bundle["srm"] = {**bundle["srm"], "ok": False, "p_value": 1.6e-05}
    lines = [programme_words.attention_line(a) for a in programme.attention(bundle)]
    harms = [line for line in lines if line.startswith("Guardrail harm")]
    assert harms == ["Guardrail harm: page load time", "Guardrail harm: page load time, p90"]
    assert "Sample-ratio mismatch (p < 0.001)" in lines
    # 36 of 39 inside (37 expected) and p = 0.28 fits; all three misses below.
    check = {"held": 36, "experiments": 39, "expected": 36.66, "below": 3, "above": 0}
    fits = programme_words.loo_sentence({**check, "ks_p_value": 0.28}, 0.94)
    assert "The prior fits this programme." in fits and "than it allows" not in fits, fits
    poor = programme_words.loo_sentence({**check, "ks_p_value": 0.01}, 0.94)
    assert "fits this programme poorly" in poor and "more losses than it allows" in poor, poor


#: A lift or difference quoted as a number: a signed percentage, points or a p-value.
_OWN_NUMBER = re.compile(r"[+\-−]\d[\d.,]*\s*(%|percentage points|pp)|\bp [=<] \d")


def unlabelled_own_numbers(text) -> list[str]:
    """The traditional test's, the segments' and the other arms' sentences and tables (the
    experiment's own numbers: none reads the programme) that quote a number without saying
    "on its own"."""
    found = [
        f"{section}: {sentence[:90]}"
        for section in ("frequentist", "segments", "other_comparisons")
        for sentence in text.sections.get(section, [])
        if _OWN_NUMBER.search(sentence) and "on its own" not in sentence.lower()
    ]
    for key in ("segments", "comparisons"):
        table = text.tables.get(key)
        numbers = table and any(_OWN_NUMBER.search(c) for row in table.rows for c in row)
        if numbers and "on its own" not in table.title:
            found.append(f"table {key}: '{table.title}'")
    return found


def _traditional(words: str) -> list[str]:
    """Each sentence of a page that quotes the traditional test's p-value, up to it."""
    return re.findall(r"The traditional [^.]{0,300}?\bp [=<] \d", re.sub(r"\s+", " ", words))


@pytest.mark.parametrize("name", PROGRAMME)
def test_the_experiments_own_numbers_are_labelled_where_the_programme_decided(name, tmp_path):
    """Issue 23: where the programme decided, the traditional test and the segments table
    quote the experiment's own numbers: every such sentence and table says "on its own", on
    the HTML page, in the PDF and on the Quarto page; a withheld verdict reads no programme,
    so nothing there is labelled so."""
    bundle = decided_by_programme(name)
    text = wording.readout_text(bundle)
    assert not unlabelled_own_numbers(text), unlabelled_own_numbers(text)
    seen = pages(bundle, tmp_path / "readout", pdf=True)
    words = {where: visible(seen[where]) for where in ("report", "quarto page")}
    words["pdf"] = seen["pdf"]
    for where, page in words.items():
        quoted = _traditional(page)
        assert quoted, where
        assert all("on its own" in q for q in quoted), (where, quoted)
        if "segments" in text.tables and where != "pdf":  # the segments are screen-only
            assert "Segments (the experiment on its own)" in page, where
    # The check sees an unlabelled page: the same numbers, the programme left out.
    alone = copy.deepcopy(bundle)
    alone["programme_prior"]["decided_with"] = "alone"
    assert unlabelled_own_numbers(wording.readout_text(alone))
    assert not any(
        "on its own" in q
        for q in _traditional(visible(render.report_html(alone, tmp_path / "readout")))
    )
