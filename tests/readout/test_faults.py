"""Bad input, hostile input and a crashing machine: every failure named, nothing lost,
nothing sent twice, nothing injected.

Each class of fault from the robustness issue is tried in many variants (a generated matrix,
and hypothesis where the space is open). The rules every case must keep:

* bad input exits 2 with the file, the key or column, and ``Fix:``; no traceback;
* an experiment that fails for another reason exits 1 with one line and a log path;
* nothing already published is lost or half-overwritten; no mail is sent twice.

``make faults`` runs this module alone and prints how many cases held.
"""

from __future__ import annotations

import email
import json
import os
import signal
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from readout import store
from readout.cli import main
from tests.readout.running import (
    READOUT,
    assert_bad_input,
    binary_frame,
    copy_project,
    finish,
    invoke,
    project,
    slow_project,
    start,
    wait_for_staging,
)
from tests.readout.test_email import Inbox, env, free_port

pytestmark = pytest.mark.faults

QUICK = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@pytest.fixture
def good(tmp_path) -> Path:
    """A one-experiment project that validates."""
    return project(tmp_path, [{"name": "good", "file": "good.csv"}], {"good.csv": binary_frame()})


# --------------------------------------------------------------------------- config values


def with_setting(config: Path, line: str) -> Path:
    config.write_text(config.read_text().replace("[settings]\n", f"[settings]\n{line}\n"))
    return config


def with_key(config: Path, line: str) -> Path:
    config.write_text(config.read_text().rstrip() + f"\n{line}\n")
    return config


@QUICK
@given(value=st.floats(allow_nan=False, allow_infinity=False))
def test_an_interval_probability_outside_its_range_exits_2(good, value):
    config = with_setting(good, "")
    text = config.read_text()
    config.write_text(text.replace("[settings]\n", f"[settings]\nci_prob = {value!r}\n", 1))
    result = invoke("validate", "--config", str(config))
    config.write_text(text)
    if 0.5 < value < 1:
        assert result.exit_code == 0, result.output
    else:
        assert_bad_input(result, "ci_prob", str(config))


@QUICK
@given(value=st.integers(min_value=-(2**70), max_value=2**70))
def test_a_seed_outside_its_range_exits_2(good, value):
    text = good.read_text()
    good.write_text(text.replace("[settings]\n", f"[settings]\nseed = {value}\n", 1))
    result = invoke("validate", "--config", str(good))
    good.write_text(text)
    if 0 <= value <= 2**32 - 1:
        assert result.exit_code == 0, result.output
    else:
        assert_bad_input(result, "seed")


@pytest.mark.parametrize(
    "split",
    ["{ A = 0, B = 1 }", "{ A = -0.5, B = 1.5 }", "{ A = 0.5, B = -1 }", '{ A = "half", B = 1 }'],
)
def test_expected_split_shares_must_be_positive_numbers(good, split):
    with_key(good, f"expected_split = {split}")
    assert_bad_input(invoke("validate", "--config", str(good)), "expected_split")


@QUICK
@given(junk=st.binary(min_size=1, max_size=12))
def test_any_bytes_in_the_config_give_a_readout_or_a_named_error(good, junk):
    original = good.read_bytes()
    good.write_bytes(original.replace(b'title = "good"', b'title = "' + junk + b'"'))
    result = invoke("validate", "--config", str(good))
    good.write_bytes(original)
    assert result.exit_code in (0, 2), result.output
    assert "Traceback" not in result.output
    if result.exit_code == 2:
        assert str(good) in result.output and "Fix:" in result.output


@pytest.mark.parametrize("encoding", ["latin-1", "utf-16", "cp1252"])
def test_a_config_that_is_not_utf8_exits_2_naming_the_line(good, encoding):
    text = good.read_text().replace('title = "good"', 'title = "Café été"')
    good.write_bytes(text.encode(encoding))
    assert_bad_input(invoke("validate", "--config", str(good)), "not UTF-8", "save the file")


# --------------------------------------------------------------------------- --date

REAL_DATE = r"^\d{4}-\d{2}-\d{2}$"


@pytest.mark.parametrize(
    "value",
    ["2026-13-45", "2026-02-30", "2026-1-5", "../../etc", "2026-12-01/../x", "today", "", " "],
)
def test_only_real_dates_name_a_readout(good, tmp_path, value):
    out = tmp_path / "out"
    result = invoke("run", "--config", str(good), "--output", str(out), "--date", value)
    assert_bad_input(result, "--date")
    assert not out.exists()


@QUICK
@given(value=st.text(max_size=16))
def test_no_string_that_is_not_a_date_reaches_the_run(good, tmp_path, value):
    import re
    from datetime import date

    try:
        real = bool(re.match(REAL_DATE, value)) and date.fromisoformat(value) is not None
    except ValueError:
        real = False
    if real:
        return
    out = tmp_path / "never"
    result = invoke("run", "--config", str(good), "--output", str(out), "--date", value)
    assert result.exit_code == 2
    assert not out.exists()


# --------------------------------------------------------------------------- column types


@pytest.mark.parametrize(
    "labels",
    [["NA", "null"], ["none", "None"], ["01", "02"], ["0", "00"], ["NaN", "nan"], ["TRUE", "F"]],
)
def test_arm_labels_are_text_as_written(tmp_path, labels):
    frame = pd.DataFrame({"arm": np.repeat(labels, 300), "y": np.tile([0, 1, 0, 0, 1, 0], 100)})
    config = project(
        tmp_path,
        [{"name": "t", "file": "t.csv", "extra": ""}],
        {"t.csv": frame},
    )
    config.write_text(config.read_text().replace('control = "A"', f'control = "{labels[0]}"'))
    out = tmp_path / "out"
    result = invoke("run", "--config", str(config), "--output", str(out))
    assert result.exit_code == 0, result.output
    (bundle,) = out.glob("t/*/bundle.json")
    arms = [a["name"] for a in json.loads(bundle.read_text())["metrics"][0]["arms"]]
    assert arms == labels


@pytest.mark.parametrize("header", ["arm,y,y", "arm,arm,y", "arm,y,Y,y"])
def test_duplicate_column_names_exit_2(tmp_path, header):
    config = project(tmp_path, [{"name": "t", "file": "t.csv"}], {})
    width = len(header.split(","))
    rows = "".join(
        ",".join(["A" if i % 2 else "B"] + ["1"] * (width - 1)) + "\n" for i in range(20)
    )
    (tmp_path / "data" / "t.csv").write_text(header + "\n" + rows)
    assert_bad_input(invoke("validate", "--config", str(config)), "appears 2 times")


# --------------------------------------------------------------------------- numbers

EXTREME = ["inf", "-inf", "Infinity", "NaN", "1e308", "-1e308", "1e16"]


def _hierarchical_config(tmp_path: Path, frame: pd.DataFrame) -> Path:
    (tmp_path / "data").mkdir(exist_ok=True)
    frame.to_csv(tmp_path / "data" / "units.csv", index=False)
    config = tmp_path / "experiments.toml"
    config.write_text(
        '[[experiments]]\nname = "h"\ntitle = "H"\nanalysis = "hierarchical"\n'
        'data = "data/units.csv"\nunit = "unit"\nestimate = "estimate"\n'
        'std_error = "std_error"\n'
    )
    return config


def _regression_config(tmp_path: Path, frame: pd.DataFrame, predict: str | None = None) -> Path:
    (tmp_path / "data").mkdir(exist_ok=True)
    frame.to_csv(tmp_path / "data" / "rows.csv", index=False)
    config = tmp_path / "experiments.toml"
    config.write_text(
        '[[experiments]]\nname = "r"\ntitle = "R"\nanalysis = "regression"\n'
        'data = "data/rows.csv"\ntarget = "y"\nfeatures = ["x1", "x2"]\n'
        + (f'predict = "data/{predict}"\n' if predict else "")
    )
    return config


def _regression_frame(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    return pd.DataFrame({"x1": x1, "x2": x2, "y": 1 + 0.5 * x1 + rng.normal(size=n)})


@pytest.mark.parametrize("value", EXTREME)
@pytest.mark.parametrize("column", ["estimate", "std_error"])
def test_non_finite_unit_estimates_exit_2_naming_the_row(tmp_path, value, column):
    frame = pd.DataFrame(
        {"unit": list("ABCDEF"), "estimate": [1.0, 2, 3, 4, 5, 6], "std_error": [1.0] * 6}
    ).astype({column: object})
    frame.loc[2, column] = value
    config = _hierarchical_config(tmp_path, frame)
    assert_bad_input(invoke("validate", "--config", str(config)), f"'{column}'", "row")


@pytest.mark.parametrize("value", EXTREME)
@pytest.mark.parametrize("column", ["y", "x1"])
def test_non_finite_regression_values_exit_2_naming_the_row(tmp_path, value, column):
    frame = _regression_frame().astype({column: object})
    frame.loc[4, column] = value
    config = _regression_config(tmp_path, frame)
    assert_bad_input(invoke("validate", "--config", str(config)), f"'{column}'", "rows 6")


@pytest.mark.parametrize("value", EXTREME)
@pytest.mark.parametrize("metric_type", ["continuous", "continuous-log", "robust"])
def test_non_finite_metric_values_exit_2_naming_the_row(tmp_path, value, metric_type):
    frame = binary_frame(n=50).astype({"y": object})
    frame["y"] = np.linspace(1, 9, len(frame))
    frame = frame.astype({"y": object})
    frame.loc[7, "y"] = value
    extra = {"continuous": "", "continuous-log": "log_transform = true", "robust": "robust = true"}
    config = project(
        tmp_path,
        [{"name": "m", "file": "m.csv", "metric_type": "continuous", "extra": extra[metric_type]}],
        {"m.csv": frame},
    )
    result = invoke("run", "--config", str(config), "--output", str(tmp_path / "out"))
    assert_bad_input(result, "column 'y'", "rows 9")


@pytest.mark.parametrize("extra", ["", "log_transform = true", "robust = true"])
def test_constant_continuous_data_exit_2_not_a_sampler_error(tmp_path, extra):
    frame = pd.DataFrame({"arm": np.repeat(["A", "B"], 40), "y": 5.0})
    config = project(
        tmp_path,
        [{"name": "c", "file": "c.csv", "metric_type": "continuous", "extra": extra}],
        {"c.csv": frame},
    )
    result = invoke("run", "--config", str(config), "--output", str(tmp_path / "out"))
    assert_bad_input(
        result, "'y'", "every value is 5" if not extra.startswith("robust") else "is 5"
    )


def test_constant_unit_estimates_get_a_readout(tmp_path):
    frame = pd.DataFrame({"unit": list("ABCDEFGH"), "estimate": 3.0, "std_error": 2.0})
    config = _hierarchical_config(tmp_path, frame)
    result = invoke("run", "--config", str(config), "--output", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert list((tmp_path / "out" / "h").glob("*/report.pdf"))


@pytest.mark.parametrize("column", ["x1", "y"])
def test_a_constant_regression_column_exits_2(tmp_path, column):
    frame = _regression_frame()
    frame[column] = 2.5
    config = _regression_config(tmp_path, frame)
    assert_bad_input(invoke("validate", "--config", str(config)), f"'{column}'", "constant")


def test_constant_values_for_a_mixture_exit_2(tmp_path):
    (tmp_path / "data").mkdir()
    pd.DataFrame({"value": [4.2] * 50}).to_csv(tmp_path / "data" / "v.csv", index=False)
    config = tmp_path / "experiments.toml"
    config.write_text(
        '[[experiments]]\nname = "m"\ntitle = "M"\nanalysis = "mixture"\n'
        'data = "data/v.csv"\nvalue = "value"\ncomponents = [1, 2]\n'
    )
    assert_bad_input(invoke("validate", "--config", str(config)), "'value'", "constant")


# --------------------------------------------------------------------------- files a fit reads


def _write_predict(folder: Path, kind: str) -> str:
    rows = _regression_frame(10)
    if kind == "header only":
        rows.head(0).to_csv(folder / "new.csv", index=False)
        return "new.csv"
    if kind == "excel":
        (folder / "new.xlsx").write_bytes(b"PK\x03\x04" + b"\x00" * 64)
        return "new.xlsx"
    if kind == "csv named parquet":
        rows.to_csv(folder / "new.parquet", index=False)
        return "new.parquet"
    if kind == "missing column":
        rows.drop(columns=["x2"]).to_csv(folder / "new.csv", index=False)
        return "new.csv"
    if kind == "absent":
        return "absent.csv"
    if kind == "non-finite":
        rows = rows.astype({"x1": object})
        rows.loc[1, "x1"] = "inf"
        rows.to_csv(folder / "new.csv", index=False)
        return "new.csv"
    raise AssertionError(kind)


@pytest.mark.parametrize(
    ("kind", "fragment"),
    [
        ("header only", "has no rows"),
        ("excel", "unsupported file type '.xlsx'"),
        ("csv named parquet", "cannot be read as Parquet"),
        ("missing column", "column 'x2'"),
        ("absent", "not found"),
        ("non-finite", "column 'x1'"),
    ],
)
def test_validate_checks_the_predict_file_too(tmp_path, kind, fragment):
    (tmp_path / "data").mkdir()
    name = _write_predict(tmp_path / "data", kind)
    config = _regression_config(tmp_path, _regression_frame(), predict=name)
    result = invoke("validate", "--config", str(config))
    assert_bad_input(result, name, fragment)


# --------------------------------------------------------------------------- email


@pytest.mark.parametrize(
    "title",
    ["Signup\\nBcc: evil@example.com", "Signup\\r\\nX-Evil: 1", "Tab\\there", "Bell\\u0007"],
)
def test_a_title_with_a_line_break_exits_2(good, title):
    good.write_text(good.read_text().replace('title = "good"', f'title = "{title}"'))
    assert_bad_input(invoke("validate", "--config", str(good)), "'title'", "one line")


@pytest.mark.parametrize(
    "address",
    [
        "pm@example.com\\nBcc: evil@example.com",
        "pm@example.com\\r\\n",
        "pm",
        "pm@",
        "@example.com",
        "pm@@example.com",
        "p m@example.com",
        "pm@example",
        "",
        "pm@localhost",
    ],
)
def test_malformed_recipients_exit_2(good, address):
    with_key(good, f'email = ["{address}"]')
    assert_bad_input(invoke("validate", "--config", str(good)), "email address", "name@domain")


@pytest.fixture(scope="module")
def _mail_site_made(tmp_path_factory):
    """The project the mail faults' tests email from, run once."""
    tmp_path = tmp_path_factory.mktemp("mail_site")
    config = project(
        tmp_path,
        [{"name": "signup", "file": "good.csv", "extra": 'email = ["pm@example.com"]'}],
        {"good.csv": binary_frame()},
    )
    out = tmp_path / "reports"
    assert invoke("run", "--config", str(config), "--output", str(out)).exit_code == 0
    return config, out


@pytest.fixture
def mail_site(_mail_site_made, tmp_path):
    """This test's own copy of the project (its sent log and status file its own)."""
    return copy_project(_mail_site_made, tmp_path)


class SlowInbox(Inbox):
    """Accepts mail slowly, so that concurrent senders overlap."""

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        import asyncio

        await asyncio.sleep(1.0)
        return await super().handle_DATA(server, session, envelope)


def test_two_email_runs_at_once_send_each_readout_once(mail_site):
    from aiosmtpd.controller import Controller

    config, out = mail_site
    inbox = SlowInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        environment = {**os.environ, **env(controller.port)}
        command = [*READOUT, "email", "--config", str(config), "--output", str(out)]
        runs = [
            subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, text=True)
            for _ in range(3)
        ]
        outputs = [p.communicate(timeout=120)[0] for p in runs]
    finally:
        controller.stop()
    assert [p.returncode for p in runs] == [0, 0, 0], outputs
    assert len(inbox.messages) == 1
    assert sum("already sent" in o for o in outputs) == 2


def test_a_run_killed_mid_send_is_not_sent_again_blindly(mail_site):

    config, out = mail_site
    folder = store.latest(out, "signup")
    (out / store.SENT_LOG).write_text(
        json.dumps({f"signup/{folder.name}": {"state": "sending", "started_at": "t"}})
    )
    inbox = Inbox()
    from aiosmtpd.controller import Controller

    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        result = invoke(
            "email", "--config", str(config), "--output", str(out), env=env(controller.port)
        )
    finally:
        controller.stop()
    assert result.exit_code == 1
    assert "may have arrived" in result.output and ".sent.json" in result.output
    assert inbox.messages == []


@pytest.mark.parametrize("damage", ["{not json", "[]", '{"x": 3}', "\x00\x01"])
def test_a_damaged_sent_log_exits_2_naming_it(mail_site, damage):

    config, out = mail_site
    (out / store.SENT_LOG).write_text(damage)
    result = invoke("email", "--config", str(config), "--output", str(out), "--dry-run")
    assert_bad_input(result, ".sent.json", "delete it")


@pytest.mark.parametrize("damage", ["{not json", "[]", '{"x": 3}', "", "\x00\x01"])
def test_a_damaged_status_file_is_rebuilt(mail_site, damage):
    config, out = mail_site
    (out / store.STATUS).write_text(damage)
    result = invoke("run", "--config", str(config), "--output", str(out))
    assert result.exit_code == 0, result.output
    status = json.loads((out / store.STATUS).read_text())
    assert status["signup"]["code"] == 0
    assert (out / f"{store.STATUS}.damaged").read_text() == damage


def test_arm_names_with_line_breaks_never_reach_a_mail_header(tmp_path):
    frame = pd.DataFrame(
        {"arm": np.repeat(["A", "B\nBcc: evil@example.com"], 2000), "y": binary_frame()["y"]}
    )
    config = project(
        tmp_path,
        [{"name": "s", "file": "s.csv", "extra": 'email = ["pm@example.com"]'}],
        {"s.csv": frame},
    )
    out = tmp_path / "out"
    assert invoke("run", "--config", str(config), "--output", str(out)).exit_code == 0
    result = invoke("email", "--config", str(config), "--output", str(out), "--dry-run")
    assert result.exit_code == 0, result.output
    (path,) = (out / "outbox").glob("*.eml")
    message = email.message_from_bytes(path.read_bytes())
    assert message["Bcc"] is None
    assert "\n" not in message["Subject"]


# --------------------------------------------------------------------------- Quarto

HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[click](javascript:alert(1))",
    "`<b>`{=html}",
    "::: {.callout}",
    "$x^2$ and $$y$$",
    "**bold** _it_ ~~del~~ ^sup^",
    "&lt;script&gt;",
]


class _Markup(HTMLParser):
    def __init__(self):
        super().__init__()
        self.live: list[str] = []

    def handle_starttag(self, tag, attrs):
        # Tags the readout's own pages never use: they could only come from the input.
        if tag in ("script", "iframe", "object", "embed", "b", "del", "sup", "math"):
            self.live.append(tag)
        if tag == "img" and not dict(attrs).get("src", "").startswith(("data:", "fig-")):
            self.live.append(f"img {attrs}")
        for name, value in attrs:
            if name.startswith("on") or (value or "").strip().lower().startswith("javascript:"):
                self.live.append(f"{tag} {name}={value}")


@pytest.mark.skipif(not __import__("shutil").which("pandoc"), reason="Debian's pandoc is missing")
@pytest.mark.parametrize("text", HOSTILE)
def test_quarto_pages_show_hostile_text_as_text(tmp_path, text):
    frame = pd.DataFrame({"arm": np.repeat(["A", text], 2000), "y": binary_frame()["y"]})
    title = text.replace("\\", "\\\\").replace('"', '\\"')
    config = project(tmp_path, [{"name": "q", "file": "q.csv", "title": title}], {"q.csv": frame})
    out = tmp_path / "out"
    assert invoke("run", "--config", str(config), "--output", str(out)).exit_code == 0
    result = invoke("render", "--engine", "quarto", "--config", str(config), "--output", str(out))
    assert result.exit_code == 0, result.output
    folder = out / "quarto"
    for page in folder.rglob("*.qmd"):
        html = _pandoc_html(page, folder)
        parser = _Markup()
        parser.feed(html)
        assert parser.live == [], (page.name, parser.live)
    (page,) = (folder / "readouts").glob("*/index.qmd")
    assert text in _pandoc_text(page)


def _math_flag(folder: Path) -> str:
    import yaml

    method = yaml.safe_load((folder / "_quarto.yml").read_text())["format"]["html"][
        "html-math-method"
    ]
    assert method in ("mathml", "plain"), "a math method that needs a script reaches the network"
    return f"--{method}" if method == "mathml" else "--webtex=none"


def _embed_flag() -> str:
    """Quarto's embed-resources in this pandoc's words (before 2.19: --self-contained)."""
    usage = subprocess.run(["pandoc", "--help"], capture_output=True, text=True).stdout
    return "--embed-resources" if "--embed-resources" in usage else "--self-contained"


def _pandoc_html(page: Path, folder: Path) -> str:
    """The page as Quarto's HTML format renders it: standalone, resources embedded, offline."""
    offline = {
        **os.environ,
        "http_proxy": "http://127.0.0.1:9",
        "https_proxy": "http://127.0.0.1:9",
    }
    result = subprocess.run(
        [
            "pandoc",
            "--fail-if-warnings",
            "--standalone",
            _embed_flag(),
            _math_flag(folder),
            f"--resource-path={page.parent}",
            "-f",
            "markdown",
            "-t",
            "html",
            str(page),
        ],
        capture_output=True,
        text=True,
        check=False,
        env=offline,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _pandoc_text(page: Path) -> str:
    return subprocess.run(
        ["pandoc", "-f", "markdown", "-t", "plain", "--wrap=none", str(page)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


# --------------------------------------------------------------------------- killed runs


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def _running(config: Path) -> list[int]:
    """The processes whose command line names ``config`` (a run, its printer), on Linux."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if str(config).encode() in cmdline.read_bytes():
                found.append(int(cmdline.parent.name))
        except OSError:
            continue  # ended meanwhile
    return found


@pytest.mark.spot
@pytest.mark.slow
def test_sigkill_mid_fit_keeps_the_old_readout_and_the_next_run_cleans_up(tmp_path):
    config, out = slow_project(tmp_path)
    code, err = finish(start(config, out))
    assert code == 0, err
    (folder,) = [p for p in (out / "slow").iterdir() if p.is_dir()]
    before = _snapshot(folder)
    killed = start(config, out, "--force")
    wait_for_staging(out, killed)
    assert len(_running(config)) == 2  # the run and its printer (readout.printer)
    killed.send_signal(signal.SIGKILL)
    finish(killed, 30)  # its output streams closed: no printer holds them
    deadline = time.monotonic() + 10
    while _running(config) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _running(config) == []  # the printer ended with its run
    assert any((out / store.STAGING).iterdir())  # the dead run's leftovers
    assert _snapshot(folder) == before
    code, err = finish(start(config, out))
    assert code == 0, err
    assert not any((out / store.STAGING).iterdir())
    assert _snapshot(folder) == before  # unchanged data: nothing refitted


@pytest.mark.slow
def test_sigterm_ends_the_run_cleanly_and_releases_the_lock(tmp_path):
    config, out = slow_project(tmp_path)
    code, err = finish(start(config, out))
    assert code == 0, err
    (folder,) = [p for p in (out / "slow").iterdir() if p.is_dir()]
    before = _snapshot(folder)
    stopped = start(config, out, "--force")
    wait_for_staging(out, stopped)
    stopped.send_signal(signal.SIGTERM)
    code, err = finish(stopped, 60)
    assert code == 143, err
    assert "SIGTERM" in err and "Traceback" not in err
    assert not any((out / store.STAGING).iterdir())
    assert _snapshot(folder) == before
    # The lock is free: another run starts at once.
    with store.owning(out):
        pass


def test_a_readout_moved_aside_by_a_killed_publish_is_put_back(tmp_path):
    out = tmp_path / "out"
    final = store.readout_folder(out, "exp", "2026-11-20")
    final.mkdir(parents=True)
    (final / store.BUNDLE).write_text("{}")
    staging = store.staging_root(out)
    staging.mkdir()
    # What publish_folder does before it is killed: the old readout moved aside ...
    aside = staging / store.trash_name(final)
    os.replace(final, aside)
    (staging / "exp-unfinished").mkdir()  # ... and the new one not yet in place.
    assert store.clean_staging(out) == ["exp/2026-11-20"]
    assert (final / store.BUNDLE).read_text() == "{}"
    assert list(staging.iterdir()) == []


def test_an_unexpected_error_is_one_line_and_a_log_never_a_traceback(good, tmp_path, monkeypatch):
    from readout import runner

    def explode(*args, **kwargs):
        raise KeyError("simulated")

    monkeypatch.setattr(runner, "run", explode)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["run", "--config", str(good), "--output", "o"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "KeyError" in result.output and "readout-error.log" in result.output
    log = tmp_path / ".cache" / "logs" / "readout-error.log"
    assert "Traceback" in log.read_text()


def test_a_failed_experiment_names_its_log(good, tmp_path, monkeypatch):
    from dataclasses import replace

    from readout import registry

    real = registry.get("ab_test")

    def fit(spec, frame, settings):
        raise RuntimeError("simulated sampler crash\nwith a second line")

    monkeypatch.setitem(registry._all(), "ab_test", replace(real, fit=fit))
    out = tmp_path / "out"
    result = invoke("run", "--config", str(good), "--output", str(out))
    assert result.exit_code == 1
    line = next(x for x in result.output.splitlines() if "good failed" in x)
    assert "details in" in line and "Traceback" not in result.output
    assert "simulated sampler crash" in (out / ".logs" / "good.log").read_text()
