"""The site's cache (issue 25, read every day): a morning words the readouts it wrote, not
every readout of every morning before, and draws a history chart only where its points
changed; the pages are the same as pages written without it."""

from __future__ import annotations

import base64
import json
import re
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from readout import bundle as bundles
from readout import site, store, wording
from readout.config import load_config
from tests.readout.running import binary_frame, project, run, without_random_ids

DAYS = ("2026-11-20", "2026-11-21", "2026-11-22")
NAMES = ("alpha", "beta")


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> tuple[Path, Path]:
    """Two experiments read on three days (more users each day): ``(config, output)``."""
    root = tmp_path_factory.mktemp("site-cache")
    experiments = [{"name": n, "file": f"{n}.csv"} for n in NAMES]
    config = project(root, experiments, {f"{n}.csv": binary_frame(500) for n in NAMES})
    out = root / "out"
    for i, day in enumerate(DAYS):
        for seed, name in enumerate(NAMES):
            binary_frame(500 + 400 * i, seed=seed + 10 * i).to_csv(
                root / "data" / f"{name}.csv", index=False
            )
        result = run(config, out, "--date", day)
        assert result.exit_code == 0, result.output
    return config, out


@pytest.fixture
def copy(made, tmp_path) -> tuple[Path, Path]:
    config, out = made
    shutil.copytree(config.parent, tmp_path, dirs_exist_ok=True)
    return tmp_path / config.name, tmp_path / out.name


def _pages(out: Path) -> dict[str, str]:
    """The site's pages, their charts' random ids and the time they were generated left out."""

    def chart(found: re.Match) -> str:
        return without_random_ids(base64.b64decode(found[1]).decode())

    pages = {}
    for path in [store.site_index(out), *(store.experiment_page(out, n) for n in NAMES)]:
        text = re.sub(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC", "", path.read_text())
        pages[path.parent.name] = re.sub(r"data:image/svg\+xml;base64,([\w+/=]+)", chart, text)
    return pages


def _written(config: Path, out: Path, force: bool = False) -> dict[str, str]:
    """The site written again (the key of what it shows removed: a run's write) and its pages."""
    store.site_key_file(out).unlink(missing_ok=True)
    assert site.write_site(load_config(config), out, force=force)
    return _pages(out)


def test_pages_from_the_cache_are_the_pages_written_afresh(copy, monkeypatch):
    config, out = copy
    shutil.rmtree(store.site_cache(out), ignore_errors=True)
    cold = _written(config, out)  # every row worded, every chart drawn, and kept
    assert json.loads((store.site_cache(out) / site.ROWS).read_text())
    warm = _written(config, out)
    real = site.readouts
    with monkeypatch.context() as m:  # every readout read and worded in full, as before the cache
        m.setattr(site, "readouts", lambda output, name, cache=None: real(output, name))
        m.setattr(site, "_read_json", lambda path: {})
        afresh = _written(config, out)
    assert warm == cold == afresh
    page = afresh["alpha"]
    assert page.count('<td data-label="Readout" class="date">') == len(DAYS)
    assert "<svg" in page  # the history chart
    assert "<small>" in page  # an older readout's line says what changed since the one before


def test_a_warm_site_words_only_each_experiments_latest_readout(copy, monkeypatch):
    config, out = copy
    _written(config, out)
    worded = []
    real = wording.readout_text

    def counted(bundle):
        worded.append(bundle["readout_date"])
        return real(bundle)

    monkeypatch.setattr(wording, "readout_text", counted)
    drawn = []
    monkeypatch.setattr(site, "draw_history", lambda points: drawn.append(points) or "x")
    _written(config, out)
    assert sorted(worded) == [DAYS[-1]] * len(NAMES)
    assert drawn == []  # every chart's points as before


def test_a_bundle_changed_since_is_worded_and_drawn_again(copy):
    config, out = copy
    before = _written(config, out)
    older = out / "alpha" / DAYS[0] / store.BUNDLE
    bundle = bundles.read(older)
    bundle["key_numbers"]["mean"] += 0.05  # as if the programme's step had rewritten it
    bundle["decision"]["verdict"] = "keep_control"
    older.write_text(bundles.dumps(bundle))
    after = _written(config, out)
    assert after["beta"] == before["beta"]
    assert after["alpha"] != before["alpha"]
    label = wording.readout_text(bundle).verdict_label
    row = re.search(rf"{DAYS[0]}</td><td[^>]*><span[^>]*>([^<]*)<", after["alpha"])
    assert row is not None and row[1] == label
    # the page's chart is drawn anew from the moved point, not read from the cache
    points = site.chart_points(site.readouts(out, "alpha"))
    assert points[0][1]["mean"] == pytest.approx(bundle["key_numbers"]["mean"])
    drawn = without_random_ids(base64.b64decode(site.draw_history(points).split(",")[1]).decode())
    assert drawn in after["alpha"] and drawn not in before["alpha"]


def test_readout_render_words_and_draws_everything_anew(copy, monkeypatch):
    """``readout render`` (``write_site(force=True)``) reads nothing the cache kept."""
    config, out = copy
    _written(config, out)
    worded, drawn = [], []
    real_text, real_draw = wording.readout_text, site.draw_history
    monkeypatch.setattr(wording, "readout_text", lambda b: worded.append(1) or real_text(b))
    monkeypatch.setattr(site, "draw_history", lambda p: drawn.append(1) or real_draw(p))
    _written(config, out, force=True)
    assert len(worded) == len(NAMES) * len(DAYS) and len(drawn) == len(NAMES)


def test_a_readout_without_key_numbers_has_its_row_and_no_point(copy):
    """A bundle from before key numbers were written: its row, and no point on the chart."""
    config, out = copy
    older = out / "beta" / DAYS[0] / store.BUNDLE
    bundle = bundles.read(older)
    del bundle["key_numbers"]
    older.write_text(bundles.dumps(bundle))
    pages = _written(config, out)
    assert pages["beta"].count('<td data-label="Readout" class="date">') == len(DAYS)
    assert [d for d, _ in site.chart_points(site.readouts(out, "beta"))] == list(DAYS[1:])


def test_a_damaged_cache_is_only_a_miss(copy):
    config, out = copy
    expected = _written(config, out)
    cache = store.site_cache(out)
    (cache / site.ROWS).write_text('{"alpha/2026-11-20": {"stamp": 3')
    for chart in (cache / site.CHARTS).iterdir():
        chart.write_text("[1, 2]")
    assert _written(config, out) == expected


def test_charts_drawn_in_a_pool_are_those_drawn_here(made, tmp_path):
    _, out = made
    points = site.chart_points(site.readouts(out, "alpha"))
    many = {f"e{i}": points[: 2 + i % 2] for i in range(site.POOLED_CHARTS)}
    here = {name: site.draw_history(p) for name, p in many.items()}
    with ProcessPoolExecutor(2) as pool:
        cache = site.SiteCache(tmp_path / "elsewhere")
        pooled = cache.charts(many, pool)
    assert set(pooled) == set(here)
    for name, uri in here.items():
        decoded = [
            without_random_ids(base64.b64decode(u.split(",")[1]).decode())
            for u in (uri, pooled[name])
        ]
        assert decoded[0] == decoded[1]


def test_a_change_of_code_words_and_draws_everything_again(copy, monkeypatch):
    """Rows and charts are kept under the code's version: another version reads none."""
    config, out = copy
    _written(config, out)
    monkeypatch.setattr(site, "_site_version", lambda: "another version of the code")
    worded, drawn = [], []
    real_text, real_draw = wording.readout_text, site.draw_history
    monkeypatch.setattr(wording, "readout_text", lambda b: worded.append(1) or real_text(b))
    monkeypatch.setattr(site, "draw_history", lambda p: drawn.append(1) or real_draw(p))
    _written(config, out)
    assert len(worded) == len(NAMES) * len(DAYS) and len(drawn) == len(NAMES)


#: A fresh process whose first chart is an experiment's history chart (a ``-j`` run's main
#: process draws them without having drawn a readout's): how pyplot was imported.
_FIRST_CHART = """
import json, sys
import matplotlib
from readout import site
points = [
    (day, {"mean": mean, "hdi": [mean - 0.03, mean + 0.03], "scale": "relative"})
    for day, mean in (("2026-11-20", 0.01), ("2026-11-21", 0.02))
]
drawn = site.draw_history(points)
line = sys.modules["matplotlib.lines"].Line2D
print(json.dumps({
    "drawn": drawn.startswith("data:image/svg+xml;base64,"),
    "documented": "Supported properties" in (line.set.__doc__ or ""),
    "backend": matplotlib.get_backend().lower(),
}))
"""


def test_a_history_chart_drawn_first_imports_pyplot_as_every_chart_does():
    """``site.draw_history`` gets pyplot from ``figures.pyplot``: its quick import (no
    ``set`` docstrings built) and the off-screen backend, where it is a process's first
    chart."""
    from tests.processes import in_fresh_process

    found = in_fresh_process(_FIRST_CHART)
    assert found == {"drawn": True, "documented": False, "backend": "agg"}
