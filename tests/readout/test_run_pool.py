"""A run's pool (issue 25): ``-j 2`` writes the same bundles as a serial run; every readout
is rendered once, after the programme has read it; a source is connected to once a run."""

import collections
from datetime import date
from pathlib import Path

import pytest

from readout import bundle as bundles
from readout import data, programme, render, runner, store, wording
from readout.config import load_config
from tests import programme_config
from tests.readout.running import copy_data

DATE = "2026-11-20"

#: Three experiments on the demo warehouse (purchase and revenue) and one data file; the
#: demo's programme history teaches a learned prior, which changes every readout's numbers
#: after its fit.
WAREHOUSE_EXPERIMENTS = {"checkout": "checkout", "search": "search", "paywall": "paywall"}
#: What differs between two runs of the same data: when and how long.
VOLATILE = ("created_at", "run_seconds")
AS_OF = date(2026, 11, 30)


def _same(a, b, where: str = "bundle") -> list[str]:
    """Where two bundles differ, numbers compared to 1e-9 (relative).

    The warehouse adds in parallel: a sum can differ in its last bits from one query to the
    next (``readout.data._significant``), and every number computed from it with it.
    """
    if isinstance(a, dict) and isinstance(b, dict):
        keys = sorted(set(a) | set(b))
        return [d for k in keys for d in _same(a.get(k), b.get(k), f"{where}.{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in _same(x, y, f"{where}[{i}]")
        ]
    if isinstance(a, float) and isinstance(b, float):
        return [] if a == pytest.approx(b, rel=1e-9, abs=1e-12) else [f"{where}: {a} != {b}"]
    return [] if a == b else [f"{where}: {a!r} != {b!r}"]


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pool")
    copy_data(root, "signup_conversion.csv", "demo.duckdb", "programme_history.csv")
    warehouse = [
        programme_config.warehouse_experiment(
            name, programme_config.PURCHASE, programme_config.REVENUE, experiment=table
        )
        for name, table in WAREHOUSE_EXPERIMENTS.items()
    ]
    config = root / "experiments.toml"
    config.write_text(
        programme_config.config(
            *warehouse,
            programme_config.SIGNUP,
            settings="exact_draws = 4000",
            programme='history = "data/programme_history.csv"',
        )
    )
    return config


def _bundles(output: Path) -> dict[str, dict]:
    found = {}
    for folder in sorted(p for p in output.iterdir() if p.is_dir() and p.name[0] != "."):
        bundle = bundles.read(folder / DATE / store.BUNDLE)
        found[folder.name] = {k: v for k, v in bundle.items() if k not in VOLATILE}
    return found


@pytest.fixture(scope="module")
def serial(project: Path, tmp_path_factory) -> tuple[Path, dict[str, int], list[str]]:
    """A serial run, counting each folder's renders and the sources opened."""
    output = tmp_path_factory.mktemp("serial") / "reports"
    # The run's printer process renders: each render leaves a line in a file.
    rendered = tmp_path_factory.mktemp("renders") / "rendered.txt"
    opened: list[str] = []
    real_render, real_open = render.render_readout, data.open_source

    def counted_render(folder, *args, **kwargs):
        with rendered.open("a") as lines:
            lines.write(Path(folder).name + "\n")
        return real_render(folder, *args, **kwargs)

    def counted_open(name, *args, **kwargs):
        opened.append(name)
        return real_open(name, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(render, "render_readout", counted_render)
        mp.setattr(data, "open_source", counted_open)
        outcomes = runner.run(load_config(project), output, jobs=1, readout_date=DATE, as_of=AS_OF)
    assert runner.exit_code(outcomes) == 0, runner.outcome_json(outcomes)
    renders = collections.Counter(rendered.read_text().split())
    return output, dict(renders), opened


@pytest.mark.slow
def test_a_pooled_run_writes_the_same_bundles_as_a_serial_one(project, serial, tmp_path):
    output, _, _ = serial
    pooled = tmp_path / "reports"
    outcomes = runner.run(load_config(project), pooled, jobs=2, readout_date=DATE, as_of=AS_OF)
    assert runner.exit_code(outcomes) == 0, runner.outcome_json(outcomes)
    assert {o.action for o in outcomes} == {"fitted"}
    expected = _bundles(output)
    assert set(expected) == {*WAREHOUSE_EXPERIMENTS, "signup-page"}
    found = _bundles(pooled)
    assert set(found) == set(expected)
    assert _same(found, expected) == []
    for name, bundle in expected.items():
        assert bundle["programme_prior"]["prior"] == "learned"  # the programme read it
        folder = pooled / name / DATE
        assert (folder / store.RENDER_KEY).is_file()
        assert (folder / "report.pdf").stat().st_size > 0
        assert str(folder) in {o.folder for o in outcomes}
    assert not list(store.staging_root(pooled).glob("*"))  # nothing left staged
    # Each line of the command quotes its published page's headline (as the worker rendered it).
    for o in outcomes:
        bundle = bundles.read(Path(o.folder) / store.BUNDLE)
        assert o.message == wording.readout_text(bundle).headline


@pytest.mark.slow
def test_each_readout_is_rendered_once_with_the_programme_numbers(project, serial):
    output, renders, _ = serial
    names = {*WAREHOUSE_EXPERIMENTS, "signup-page"}
    # Rendered in staging (named after the experiment), once each, never again in place.
    staged = {n: sum(c for f, c in renders.items() if f.startswith(f"{n}-")) for n in names}
    assert staged == dict.fromkeys(names, 1)
    assert DATE not in renders
    # The pages were made from the final bundles: the programme has nothing left to change.
    changed = programme.apply(load_config(project), output, lambda folder: None)
    assert changed == []
    for name in names:
        html = (output / name / DATE / "report.html").read_text()
        assert "programme" in html.lower()


@pytest.mark.slow
def test_a_source_is_connected_to_once_a_run(serial):
    _, _, opened = serial
    assert opened == ["warehouse"]


@pytest.mark.slow
def test_the_programme_hands_each_redraw_to_the_pool_before_it_reads_the_next(
    project, serial, tmp_path, monkeypatch
):
    """The workers redraw a readout's lift chart while the programme reads the next bundle
    (it read them all first, the workers idle, then waited for them, itself idle)."""
    import shutil
    from concurrent.futures import ThreadPoolExecutor

    from readout.programme import step

    output, _, _ = serial
    copied = tmp_path / "reports"
    shutil.copytree(output, copied)
    # Decided alone now: every readout's bundle changes, and its lift chart is redrawn.
    alone = project.with_name("alone.toml")  # beside it: its paths are relative
    text = project.read_text()
    alone.write_text(text.replace("history =", 'decide_with = "alone"\nhistory =', 1))
    events: list[str] = []
    real = step.with_programme
    monkeypatch.setattr(step, "with_programme", lambda *args: events.append("read") or real(*args))

    class Recording(ThreadPoolExecutor):
        def submit(self, fn, /, *args, **kwargs):
            events.append(fn.__name__)
            return super().submit(fn, *args, **kwargs)

    with Recording(max_workers=1) as pool:
        changed = programme.apply(load_config(alone), copied, lambda folder: None, None, pool)
    assert len(changed) == len(WAREHOUSE_EXPERIMENTS) + 1
    assert events == ["read", "rewrite"] * len(changed)
    for name in changed:  # rewritten: decided alone, its render key gone
        bundle = bundles.read(copied / name / DATE / store.BUNDLE)
        assert bundle["programme_prior"]["decided_with"] == "alone"
        assert not (copied / name / DATE / store.RENDER_KEY).exists()
