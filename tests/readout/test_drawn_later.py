"""Charts a programme-decided readout draws once: left by the fit, drawn after the programme.

A readout whose verdict the programme's prior decides has its lift and scorecard charts
drawn again with the programme's numbers; a fit staged for such a run leaves them
(``build.leave_for_later``), and ``build.draw_left`` draws the fit's own wherever the
programme drew none: the same charts the fit would have drawn.
"""

import shutil
from datetime import date
from pathlib import Path

import pytest

from readout import build, programme, store
from readout import bundle as bundles
from readout.config import load_config
from tests import programme_config
from tests.readout.running import chart_text, copy_data

AS_OF = date(2026, 11, 20)

EXPERIMENTS = programme_config.config(
    programme_config.SIGNUP,
    programme_config.warehouse_experiment(
        "checkout-redesign",
        programme_config.PURCHASE,
        programme_config.REVENUE,
        title="Checkout redesign",
        experiment="checkout",
    ),
    programme_config.csv_experiment("pricing-banner", "Pricing banner", "broken_split.csv"),
)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("drawn-later")
    copy_data(root, "signup_conversion.csv", "broken_split.csv", "demo.duckdb")
    (root / "experiments.toml").write_text(EXPERIMENTS)
    return root / "experiments.toml"


def _build(experiment, folder: Path, later: bool) -> dict:
    folder.mkdir()
    return build.build_readout(
        experiment, folder, AS_OF.isoformat(), None, None, AS_OF, redrawn_later=later
    )


@pytest.mark.parametrize("name", ["checkout-redesign", "signup-page"])
def test_a_fit_leaves_the_charts_the_programme_redraws_and_draw_left_draws_the_fits_own(
    project, tmp_path, name
):
    """Left: the lift and scorecard charts are listed in their places but not drawn (the
    arms chart is). Drawn later by ``draw_left`` they are the charts the fit draws when it
    leaves none, whether or not the programme's step rewrote the bundle first (the verdict
    left to the experiment alone: too few experiments to learn from). Two arms and three
    metrics; three arms."""
    experiment = next(e for e in load_config(project).experiments if e.name == name)
    at_once = _build(experiment, tmp_path / "at-once", later=False)
    left = _build(experiment, tmp_path / "left", later=True)
    keys = [f["key"] for f in left["figures"]]
    assert keys == [f["key"] for f in at_once["figures"]]
    folder = tmp_path / "left"
    assert "lift" in keys and not (folder / store.figure_file("lift")).exists()
    assert ("scorecard" in keys) == (name == "checkout-redesign")
    assert not (folder / store.figure_file("scorecard")).exists()
    assert (folder / store.figure_file("arms")).is_file()
    read = tmp_path / "read-by-the-programme"
    shutil.copytree(folder, read)
    # Not rewritten: drawn before the page is printed.
    assert sorted(build.draw_left(folder)) == sorted(set(keys) & {"lift", "scorecard"})
    assert build.draw_left(folder) == []  # nothing left twice
    # Rewritten first by the run's programme step (the verdict left to the experiment alone):
    # still left, then drawn from the rewritten bundle.
    config = load_config(project)
    output = tmp_path / "reports"
    pending = {name: (read, store.readout_folder(output, name, AS_OF.isoformat()))}
    assert programme.apply(config, output, lambda folder: None, pending) == [name]
    assert bundles.read(read / store.BUNDLE)["programme_prior"]["decided_with"] == "alone"
    assert sorted(build.draw_left(read)) == sorted(set(keys) & {"lift", "scorecard"})
    for f in at_once["figures"]:
        expected = chart_text(tmp_path / "at-once" / f["file"])
        assert chart_text(folder / f["file"]) == expected, f["key"]
        assert chart_text(read / f["file"]) == expected, f["key"]
    # The bundle lists the same charts in the same places, and its verdict is the same.
    assert left["figures"] == at_once["figures"]
    assert left["decision"] == at_once["decision"]


def test_a_withheld_verdict_leaves_nothing(project, tmp_path):
    """The programme redraws no chart of a withheld verdict: its fit draws them all."""
    experiment = next(e for e in load_config(project).experiments if e.name == "pricing-banner")
    bundle = _build(experiment, tmp_path / "withheld", later=True)
    assert bundle["decision"]["verdict"] == "withheld"
    for f in bundle["figures"]:
        assert (tmp_path / "withheld" / f["file"]).is_file(), f["key"]
    assert build.draw_left(tmp_path / "withheld") == []


def test_a_control_at_zero_leaves_nothing(tmp_path):
    """Without a relative lift (a control that never converts) the lift chart is of the
    absolute lift, which the programme does not read: the fit draws every chart."""
    (tmp_path / "data").mkdir()
    rows = ["arm,converted"] + ["A,0"] * 400 + ["B,1"] * 40 + ["B,0"] * 360
    (tmp_path / "data" / "zero.csv").write_text("\n".join(rows) + "\n")
    config = tmp_path / "experiments.toml"
    config.write_text(programme_config.csv_experiment("zero", "Zero", "zero.csv"))
    experiment = load_config(config).experiments[0]
    bundle = _build(experiment, tmp_path / "zero-control", later=True)
    assert bundle["comparisons"][0]["lift_rel"] is None
    assert all((tmp_path / "zero-control" / f["file"]).is_file() for f in bundle["figures"])


def test_a_readout_of_another_analysis_is_never_drawn_by_draw_left(tmp_path):
    """Only an A/B readout's left charts are drawn: another analysis's bundle listing a
    chart named as one of them, without its file, is left as it is."""
    fixtures = Path(__file__).resolve().parents[1] / "fixtures" / "bundles"
    source = next(
        p for p in sorted(fixtures.glob("*.json")) if bundles.read(p)["analysis"] != "ab_test"
    )
    bundle = bundles.read(source)
    bundle["figures"] = [*bundle["figures"], {"key": "lift", "file": store.figure_file("lift")}]
    (tmp_path / store.BUNDLE).write_text(bundles.dumps(bundle))
    assert build.draw_left(tmp_path) == []
    assert not (tmp_path / store.figure_file("lift")).exists()


@pytest.mark.parametrize(
    ("programme", "serial", "left"),
    [
        ("", False, {"checkout-redesign", "signup-page", "pricing-banner"}),
        ("", True, set()),
        ('decide_with = "alone"', False, set()),
        ('prior = "weak"', False, set()),
    ],
)
def test_only_a_parallel_run_whose_verdicts_the_programme_decides_leaves_charts(
    tmp_path, programme, serial, left
):
    """A one-process run draws every chart at the fit, and so does a run whose programme
    decides nothing (its prior weak, or the verdicts left to each experiment alone)."""
    from readout.runner import left_to_programme

    config = tmp_path / "experiments.toml"
    config.write_text(
        programme_config.config(
            programme_config.SIGNUP,
            programme_config.warehouse_experiment("checkout-redesign", experiment="checkout"),
            programme_config.csv_experiment("pricing-banner", "Pricing banner", "broken_split.csv"),
            programme_config.pooling_experiment("pooled", "Pooled", "data/creators.csv"),
            programme=programme,
        )
    )
    loaded = load_config(config)
    assert set(left_to_programme(loaded, loaded.experiments, serial)) == left


@pytest.mark.slow
def test_a_parallel_programme_run_draws_each_chart_once_with_the_numbers_its_verdict_read(
    tmp_path,
):
    """``readout run -j 2`` with a learned prior: a verdict the programme decided shows its
    lift chart (the fit's own was never drawn), and every chart a bundle lists is there and
    every page printed, a withheld verdict's (drawn at the fit) too."""
    from analyses.ab_test.figures import drawn_later
    from tests.readout.running import run

    copy_data(tmp_path, "signup_conversion.csv", "broken_split.csv", "programme_history.csv")
    config = tmp_path / "experiments.toml"
    config.write_text(
        programme_config.config(
            programme_config.SIGNUP,
            programme_config.csv_experiment("pricing-banner", "Pricing banner", "broken_split.csv"),
            programme='history = "data/programme_history.csv"',
        )
    )
    out = tmp_path / "reports"
    result = run(config, out, "-j", "2", "--date", AS_OF.isoformat())
    assert result.exit_code == 0, result.output
    for name in ("signup-page", "pricing-banner"):
        folder = out / name / AS_OF.isoformat()
        bundle = bundles.read(folder / store.BUNDLE)
        assert (folder / store.REPORT_PDF).is_file()
        assert all((folder / f["file"]).is_file() for f in bundle["figures"]), name
    # The programme decided signup-page's verdict: its lift chart is the programme's, not
    # the fit's own (drawn here from its saved draws, as the fit would have drawn it).
    folder = out / "signup-page" / AS_OF.isoformat()
    bundle = bundles.read(folder / store.BUNDLE)
    assert bundle["programme_prior"]["decided_with"] == "programme"
    assert bundle["decision"]["verdict"] != "withheld"
    typed = bundles.typed(bundle)
    lifts = build.own_lift_draws(folder / store.LIFT_DRAWS, [c.arm for c in typed.comparisons])
    own = drawn_later(typed, lifts, typed.ci_prob, ["lift"])["lift"]
    own.savefig(tmp_path / "own.svg", format="svg", dpi=150, metadata={"Date": None})
    assert chart_text(folder / "fig-lift.svg") != chart_text(tmp_path / "own.svg")
    assert (
        bundles.read(out / "pricing-banner" / AS_OF.isoformat() / store.BUNDLE)["decision"][
            "verdict"
        ]
        == "withheld"
    )
