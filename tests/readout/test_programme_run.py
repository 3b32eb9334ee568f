"""The programme end to end: a run reads every A/B readout with the prior learned from the
finished experiments (the demo's history file), writes both estimates into the bundle and
page 1, decides with the one ``decide_with`` names, and publishes the programme page."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from analyses.ab_test.figures import drawn_later
from analyses.core import programme as pg
from readout import build, programme, store, wording
from readout import bundle as bundles
from readout.cli import main
from readout.config import load_config
from readout.errors import ConfigError
from tests import programme_config
from tests.readout.running import chart_text, copy_data, run

ROOT = Path(__file__).resolve().parents[2]
DATE = "2026-11-20"

EXPERIMENTS = programme_config.config(
    programme_config.warehouse_experiment(
        "checkout-redesign", title="Checkout redesign", experiment="checkout"
    ),
    programme_config.SIGNUP,
    programme_config.csv_experiment("pricing-banner", "Pricing banner", "broken_split.csv"),
)


def _project(root: Path, programme_table: str) -> Path:
    copy_data(
        root, "signup_conversion.csv", "broken_split.csv", "demo.duckdb", "programme_history.csv"
    )
    config = root / "experiments.toml"
    config.write_text(programme_table + EXPERIMENTS)
    return config


def _run(config: Path, output: Path) -> dict[str, str]:
    """Run through the CLI; how each experiment's run went (fitted, cached, rendered)."""
    result = run(config, output, "--date", DATE)
    assert result.exit_code == 0, result.output
    found = re.findall(r"\] ([a-z-]+): ok, (\w+) in", result.stderr)
    return dict(found)


def _bundle(output: Path, name: str) -> dict:
    return bundles.read(output / name / DATE / "bundle.json")


LEARNED = '[programme]\nhistory = "data/programme_history.csv"\n'


@pytest.fixture(scope="module")
def learned(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("programme")
    config = _project(root, LEARNED)
    result = run(config, root / "reports", "--date", DATE)
    assert result.exit_code == 0, result.output
    (root / "printed.txt").write_text(result.stdout + result.stderr)  # what the command said
    return config, root / "reports"


@pytest.mark.spot
@pytest.mark.slow
def test_the_command_line_prints_the_verdict_the_pages_show(learned):
    """Issue 23: the line the command prints is the final verdict (after the programme's
    prior decided it again), not the one the experiment's own numbers gave before."""
    config, output = learned
    printed = (config.parent / "printed.txt").read_text()
    bundle = _bundle(output, "signup-page")
    assert bundle["programme_prior"]["alone_verdict"] == "ship"
    assert bundle["decision"]["verdict"] == "keep_collecting"
    headline = wording.readout_text(bundle).headline
    assert f"readout: signup-page: {headline}\n" in printed
    assert headline in (output / "signup-page" / DATE / "report.html").read_text()
    assert "Ship B" not in printed  # the verdict of its numbers alone, which no page shows


@pytest.mark.slow
def test_every_primary_comparison_gets_the_programme_numbers(learned):
    config, output = learned
    history = load_config(config).history
    for name in ("checkout-redesign", "signup-page", "pricing-banner"):
        bundle = _bundle(output, name)
        bundles.conforms(bundle)
        prior = bundle["programme_prior"]
        assert prior["prior"] == "learned" and prior["family"] == "student_t"
        assert prior["experiments"] == len(history) == 38
        # Independently: the same prior fitted from the history file's numbers, applied to
        # the comparison's own estimate (its HDI on the log scale).
        fit = pg.fit([p.y for p in history], [p.s for p in history])
        for comp in bundle["metrics"][0]["comparisons"]:
            lift = comp["programme"]
            low, high = np.log1p(comp["lift_rel"]["hdi"])
            s = (high - low) / (2 * 1.8807936081512509)
            expected = pg.posterior(fit.prior(), (low + high) / 2, s)
            assert lift["mean"] == pytest.approx(expected["mean"], abs=1e-9)
            assert lift["hdi"][0] < lift["mean"] < lift["hdi"][1]
            # Shrunk toward the programme's typical lift: the winner's curse corrected.
            own = comp["lift_rel"]["mean"]
            assert abs(lift["mean"] - prior["location"]) < abs(own - prior["location"])
        assert bundle["comparisons"] == bundle["metrics"][0]["comparisons"]


@pytest.mark.slow
def test_page_one_says_both_estimates_and_which_decided(learned):
    _, output = learned
    text = wording.readout_text(_bundle(output, "signup-page"))
    joined = " ".join(text.key_sentences)
    assert (
        "On its own, B's lift in conversion rate is +13% (94% HDI +5% to +21%); given this "
        "programme's 38 experiments, +4% (-1% to +11%). The verdict reads the latter; on its "
        'own it would be "ship".'
    ) in joined
    html = (output / "signup-page" / DATE / "report.html").read_text()
    assert "given this programme&#39;s 38 experiments" in html


@pytest.mark.slow
def test_the_programme_page_lists_stages_attention_impact_and_the_check(learned):
    _, output = learned
    index = (output / "index.html").read_text()
    assert 'href="programme.html"' in index
    page = (output / "programme.html").read_text()
    for title in ("Checkout redesign", "Signup page", "Pricing banner"):
        assert title in page
    assert "Sample-ratio mismatch" in page  # the pricing banner's broken split
    assert "Withheld" in page and "Keep collecting" in page
    assert "leave-one-out" in page and "38 finished experiments" in page
    assert "shipped so far" in page
    assert "together move conversion rates by an expected" in page
    assert "Shorter signup form" in page  # the history's experiments, given the others
    # Finding 3: a prior-data conflict needs attention; signup page's +13% against a prior
    # of a few percent is one.
    from analyses.core.judgement import PRIOR_CONFLICT

    tails = {
        n: _bundle(output, n)["programme_prior"].get("conflict_p")
        for n in ("signup-page", "checkout-redesign")
    }
    assert tails["signup-page"] < PRIOR_CONFLICT, tails
    flagged = sum(t is not None and t < PRIOR_CONFLICT for t in tails.values())
    assert page.count("Own estimate far outside the programme&#39;s prior") == flagged


@pytest.mark.slow
def test_shipped_impact_comes_from_the_programme_estimates_not_the_raw_winners(learned):
    config, output = learned
    loaded = load_config(config)
    (pool,) = programme.page_context(loaded, output, [])["pools"]
    impact = pool["fit"]["impact"]
    # Finding 5: the table lists every experiment the prior learned from, a configured
    # readout past its planned length among them.
    assert len(pool["fit"]["members"]) == pool["fit"]["prior"]["experiments"]
    # Finding 14: the page describes the prior as the readouts do, from the applied mixture.
    from readout.wording.programme import prior_shape

    shape = prior_shape(pool["fit"]["prior"]["applied"])
    report = (output / "signup-page" / DATE / "report.html").read_text()
    assert shape in report.replace("&#39;", "'")
    assert shape in (output / "programme.html").read_text().replace("&#39;", "'")
    history = loaded.history
    group = programme.learn(loaded, output).groups["binary:higher"]
    shipped = [p for p in group.members if p.verdict == "ship"]
    assert impact["experiments"] == len(shipped) >= len([p for p in history if p.verdict == "ship"])
    raw = float(np.expm1(sum(p.y for p in shipped)))
    assert impact["alone"] == pytest.approx(raw)
    # The winners' own estimates overstate them (the winner's curse): the programme's
    # total is smaller.
    assert impact["mean"] < raw
    assert impact["hdi"][0] < impact["mean"] < impact["hdi"][1]
    page = (output / "programme.html").read_text()
    assert f"{100 * impact['mean']:+.1f}%" in page and f"{100 * raw:+.1f}%" in page
    # Review finding 1: a shipped change still running enters at its own programme
    # posterior, the one its bundle shows (reweighted draws there: within 0.3 pp).
    running = [i for i, p in enumerate(group.members) if p.verdict == "ship" and not p.finished]
    assert impact["running"] == [group.members[i].title for i in running]
    for i in running:
        comp = _bundle(output, group.members[i].name)["metrics"][0]["comparisons"][0]
        alone = pg.cumulative_impact(group.fit, [i], compound=False)
        assert alone["mean"] == pytest.approx(comp["programme"]["mean"], abs=0.003)


@pytest.mark.slow
def test_decide_with_switches_the_verdict_without_a_refit(learned):
    # Last of the tests on the shared run: it changes its config.
    # Signup page's B: +13% on its own (a ship), +4% (-1% to +11%) given a programme whose
    # changes rarely move conversion by more than a few percent: keep collecting.
    config, output = learned
    assert _bundle(output, "signup-page")["decision"]["verdict"] == "keep_collecting"
    alone = config.read_text().replace("[programme]\n", '[programme]\ndecide_with = "alone"\n')
    config.write_text(alone)
    actions = _run(config, output)
    assert len(actions) == 3 and set(actions.values()) <= {"cached", "rendered"}, actions
    bundle = _bundle(output, "signup-page")
    assert bundle["decision"]["verdict"] == "ship"
    assert bundle["programme_prior"]["decided_with"] == "alone"
    assert "programme" in bundle["metrics"][0]["comparisons"][0]  # still shown beside it
    assert "Ship B." in (output / "signup-page" / DATE / "report.html").read_text()
    # Its lift chart, drawn with the programme's numbers while those decided, is the fit's
    # own again: the experiment's lift alone, as its verdict now reads it.
    folder = output / "signup-page" / DATE
    typed = bundles.typed(bundle)
    lifts = build.own_lift_draws(folder / store.LIFT_DRAWS, [c.arm for c in typed.comparisons])
    own = drawn_later(typed, lifts, typed.ci_prob, ["lift"])["lift"]
    own.savefig(folder.parent / "own.svg", format="svg", dpi=150, metadata={"Date": None})
    assert chart_text(folder / "fig-lift.svg") == chart_text(folder.parent / "own.svg")


@pytest.mark.slow
def test_too_few_finished_experiments_keep_the_weak_prior_and_say_why(tmp_path):
    config = _project(tmp_path, "")
    _run(config, tmp_path / "reports")
    bundle = _bundle(tmp_path / "reports", "signup-page")
    prior = bundle["programme_prior"]
    assert (prior["prior"], prior["reason_code"], prior["experiments"]) == (
        "weak",
        "too_few_experiments",
        0,
    )
    assert all("programme" not in c for c in bundle["metrics"][0]["comparisons"])
    assert bundle["decision"]["verdict"] == "ship"
    text = wording.readout_text(bundle)
    assert not any("programme" in s for s in text.key_sentences)  # page 1 as before
    assert any(
        "The prior stays weak: no finished experiments share" in s for s in text.sections["model"]
    )


def test_old_bundles_without_the_programme_fields_still_render():
    for path in sorted((ROOT / "tests" / "fixtures" / "bundles").glob("*.json")):
        bundle = json.loads(path.read_text())
        assert "programme_prior" not in bundle
        text = wording.readout_text(bundle)
        assert not any("programme" in s for s in text.key_sentences), path.name


def test_attention_names_srm_guardrail_harm_and_a_stalled_experiment():
    bundle = json.loads((ROOT / "tests/fixtures/bundles/pricing-banner.json").read_text())
    codes = [a["code"] for a in programme.attention(bundle)]
    assert codes == ["srm"]
    bundle["srm"]["ok"] = True
    bundle["previous"] = {
        "date": "2026-11-19",
        "data_sha256": bundle["data_sha256"],
        "config_sha256": bundle["config_sha256"],
        "verdict": "withheld",
    }
    bundle["metrics"][0] |= {"role": "guardrail", "status": "harm", "label": "load time"}
    codes = [a["code"] for a in programme.attention(bundle)]
    assert codes == ["guardrail_harm", "stalled"]


@pytest.mark.parametrize(
    ("table", "named"),
    [
        ('[programme]\nprior = "strong"\n', "programme.prior"),
        ('[programme]\ndecide_with = "both"\n', "programme.decide_with"),
        ("[programme]\nshrink = true\n", "programme.shrink"),
        ('[programme]\nhistory = "data/nowhere.csv"\n', "data/nowhere.csv"),
    ],
)
def test_a_bad_programme_table_exits_2_naming_the_key(tmp_path, table, named):
    config = _project(tmp_path, table)
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert named in str(caught.value)
    result = CliRunner().invoke(main, ["validate", "--config", str(config)])
    assert result.exit_code == 2 and named in result.output and "Traceback" not in result.output


def test_a_history_file_without_a_column_or_with_a_bad_number_is_refused(tmp_path):
    config = _project(tmp_path, LEARNED)
    history = tmp_path / "data" / "programme_history.csv"
    lines = history.read_text().splitlines()
    history.write_text("\n".join([lines[0].replace(",se,", ",sd,"), *lines[1:]]) + "\n")
    with pytest.raises(ConfigError, match="lacks column.*se"):
        load_config(config)
    fields = lines[1].split(",")
    fields[6] = "-0.1"  # se
    history.write_text("\n".join([lines[0], ",".join(fields), *lines[2:]]) + "\n")
    with pytest.raises(ConfigError, match="line 2.*out of range"):
        load_config(config)


def test_a_stage_says_the_day_of_the_plan_once_the_bundle_has_progress():
    from readout.wording.programme import stage_line

    row = {"stage": "collecting", "progress": {"day": 9, "planned_days": 28}}
    assert stage_line(row) == "Keep collecting · day 9 of 28"
    row["progress"] = {"day": 30, "planned_days": 28}
    assert stage_line(row) == "Keep collecting · past its planned 28 days"
    assert stage_line({"stage": "decided", "progress": None}) == "Decided"
    # Past its planned end a verdict is a conclusion, dated; never "day 42 of 28".
    ended = {"day": 42, "planned_days": 28, "end": "2026-11-16"}
    assert (
        stage_line({"stage": "decided", "progress": ended})
        == "Concluded after the planned 28 days (ended 16 November 2026)"
    )
    at_end = {"day": 28, "planned_days": 28, "end": "2026-11-16"}
    assert stage_line({"stage": "decided", "progress": at_end}) == (
        "Concluded after the planned 28 days"
    )
    assert stage_line({"stage": "withheld", "progress": ended}) == (
        "Withheld · past its planned 28 days"
    )


def test_readouts_of_experiments_the_config_no_longer_names_teach_as_finished(tmp_path):
    config = _project(tmp_path, "")
    output = tmp_path / "reports"
    fixtures = ROOT / "tests" / "fixtures" / "bundles"
    for name, fixture in [
        ("old-a", "signup-page"),
        ("old-b", "signup-page"),
        ("old-withheld", "pricing-banner"),  # a withheld verdict teaches nothing
        ("old-aa", "checkout-aa"),  # nor does an A/A test
    ]:
        folder = output / name / "2026-01-05"
        folder.mkdir(parents=True)
        bundle = json.loads((fixtures / f"{fixture}.json").read_text())
        (folder / "bundle.json").write_text(json.dumps(bundle | {"experiment": name}))
    learned = programme.learn(load_config(config), output)
    (group,) = learned.groups.values()
    assert [(p.name, p.source) for p in group.members] == [("old-a", "ended"), ("old-b", "ended")]
    assert group.finished == 2 and group.fit is None  # fewer than 10: the weak prior stays


def _programme_sentence(page: str) -> str:
    found = re.search(
        r"On its own, [^<]*?given this programme&#39;s \d+ experiments, [^<]*?\.", page
    )
    assert found, "no programme sentence on the page"
    return found.group(0)


@pytest.mark.slow
def test_render_reapplies_the_programme_so_its_pages_say_what_run_says(tmp_path):
    config = _project(tmp_path, LEARNED)
    output = tmp_path / "reports"
    _run(config, output)
    page = output / "signup-page" / DATE / "report.html"
    before = _programme_sentence(page.read_text())
    assert "programme&#39;s 38 experiments" in before
    # The history changes (five experiments fewer) with no refit: render alone must read the
    # programme again, as run would.
    history = tmp_path / "data" / "programme_history.csv"
    lines = history.read_text().splitlines()
    history.write_text("\n".join(lines[:-5]) + "\n")
    result = CliRunner().invoke(main, ["render", "--config", str(config), "--output", str(output)])
    assert result.exit_code == 0, result.output
    rendered = _programme_sentence(page.read_text())
    assert "programme&#39;s 33 experiments" in rendered and rendered != before
    quarto = CliRunner().invoke(
        main, ["render", "--engine", "quarto", "--config", str(config), "--output", str(output)]
    )
    assert quarto.exit_code == 0, quarto.output
    qmd = (output / "quarto" / "readouts" / f"signup-page-{DATE}" / "index.qmd").read_text()
    assert "given this programme\\'s 33 experiments" in qmd  # Markdown-escaped
    # A run on the same data and history (nothing refits) writes the very same sentence.
    _run(config, output)
    assert _programme_sentence(page.read_text()) == rendered


def test_the_impact_sentence_names_the_metric_the_chance_and_the_curse_it_corrects():
    from readout.wording.programme import impact_sentence

    impact = {"experiments": 5, "mean": 0.1714, "hdi": [0.026, 0.303], "alone": 0.4462}
    words = impact_sentence(impact | {"prob_positive": 0.995}, "94% HDI", "binary:higher")
    assert words == (
        "The 5 changes shipped so far together move conversion rates by an expected +17.1% "
        "(94% HDI +2.6% to +30.3%), each read with the programme's prior; a 99.5% chance that "
        "together they help. Their own estimates compound to +44.6%: the winner's curse "
        "over-states the total by 27.5 percentage points, which the programme corrects."
    )
    # A running experiment with a Ship verdict is counted, and said apart (finding 1).
    words = impact_sentence(impact | {"running": ["Checkout redesign"]}, "94% HDI", "binary:higher")
    assert words.startswith(
        "The 4 changes shipped so far and 1 with a Ship verdict whose experiment is still "
        "running (Checkout redesign) together move conversion rates by an expected +17.1%"
    )
    # Lower is better: the chance it helps is the chance the total falls.
    one = {"experiments": 1, "mean": -0.02, "hdi": [-0.04, 0.001], "alone": -0.05}
    words = impact_sentence(one | {"prob_positive": 0.03}, "94% HDI", "count:lower")
    assert words.startswith("The change shipped so far moves counts per unit by an expected")
    assert "a 97% chance that it helps" in words and "by 3.0 percentage points" in words
