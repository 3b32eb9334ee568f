"""Email summaries through a real SMTP conversation with aiosmtpd on 127.0.0.1."""

import contextlib
import email
import json
import socket
import threading
from email import policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner

from readout.cli import main
from tests.readout.running import binary_frame, copy_project, project, run


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.messages.append((envelope.mail_from, envelope.rcpt_tos, envelope.content))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(handler, **options):
    """An aiosmtpd server on 127.0.0.1 with ``handler``, for the block."""
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **options)
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    with serving(inbox) as controller:
        yield controller, inbox


@pytest.fixture(scope="module")
def _site_made(tmp_path_factory) -> tuple[Path, Path]:
    """The project every test of this file emails from, run once."""
    tmp_path = tmp_path_factory.mktemp("site")
    config = project(
        tmp_path,
        [
            {
                "name": "signup",
                "file": "good.csv",
                "title": "Signup page",
                "extra": 'email = ["pm@example.com", "analyst@example.com"]',
            }
        ],
        {"good.csv": binary_frame(n=8000)},
    )
    config.write_text(
        config.read_text().replace(
            "[settings]", '[settings]\nsite_url = "https://readouts.example.internal/"'
        )
    )
    out = tmp_path / "reports"
    result = run(config, out, "--date", "2026-11-21")
    assert result.exit_code == 0, result.output
    return config, out


@pytest.fixture
def site(_site_made, tmp_path) -> tuple[Path, Path]:
    """This test's own copy of the project (its sent log and status file its own)."""
    return copy_project(_site_made, tmp_path)


def env(port: int, **extra) -> dict[str, str]:
    return {
        "READOUT_SMTP_HOST": "127.0.0.1",
        "READOUT_SMTP_PORT": str(port),
        "READOUT_SMTP_FROM": "readout@example.com",
        "READOUT_SMTP_TLS": "none",
        "READOUT_SMTP_BACKOFF": "0.01",
        **extra,
    }


def send(config, out, environment, *extra):
    return CliRunner(env=environment).invoke(
        main,
        ["email", "--config", str(config), "--output", str(out), *extra],
        catch_exceptions=False,
    )


def test_the_summary_arrives_with_both_parts_and_a_valid_pdf(site, smtp_server):
    config, out = site
    controller, inbox = smtp_server
    result = send(config, out, env(controller.port))
    assert result.exit_code == 0, result.output
    assert len(inbox.messages) == 1
    sender, recipients, raw = inbox.messages[0]
    assert sender == "readout@example.com"
    assert recipients == ["pm@example.com", "analyst@example.com"]
    message = email.message_from_bytes(raw, policy=policy.default)
    assert message["Subject"] == "[readout] Signup page — 2026-11-21 — ship B"
    plain = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "Ship B." in plain and "94% HDI" in plain
    assert "https://readouts.example.internal/signup/2026-11-21/report.html" in plain
    assert 'style="' in html and "<link" not in html and "<style" not in html
    assert "Ship B." in html
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content().startswith(b"%PDF-")
    assert not list((out / "outbox").glob("*.eml"))


def test_a_readout_is_emailed_once(site, smtp_server):
    config, out = site
    controller, inbox = smtp_server
    assert send(config, out, env(controller.port)).exit_code == 0
    again = send(config, out, env(controller.port))
    assert again.exit_code == 0
    assert "already sent" in again.output
    assert len(inbox.messages) == 1


def test_server_down_keeps_the_message_and_the_next_run_sends_it(site, smtp_server):
    config, out = site
    controller, inbox = smtp_server
    dead = free_port()
    result = send(
        config, out, env(dead, READOUT_SMTP_PASSWORD="s3cret-value", READOUT_SMTP_USER="bot")
    )
    assert result.exit_code == 1
    assert f"127.0.0.1:{dead} after 3 attempts" in result.output
    assert "s3cret-value" not in result.output
    (kept,) = (out / "outbox").glob("*.eml")
    assert send(config, out, env(controller.port)).exit_code == 0
    assert len(inbox.messages) == 1
    assert not kept.exists()
    for path in out.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".html", ".eml", ".csv"):
            assert "s3cret-value" not in path.read_text(errors="ignore")


def test_dry_run_writes_the_eml_and_sends_nothing(site, smtp_server):
    config, out = site
    controller, inbox = smtp_server
    result = send(config, out, {}, "--dry-run")
    assert result.exit_code == 0
    (path,) = (out / "outbox").glob("*.eml")
    parsed = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert parsed["To"] == "pm@example.com, analyst@example.com"
    assert inbox.messages == []


def test_missing_smtp_settings_exit_2_naming_the_variable(site):
    config, out = site
    result = send(config, out, {"READOUT_SMTP_HOST": ""})
    assert result.exit_code == 2
    assert "READOUT_SMTP_HOST is not set" in result.output


# --------------------------------------------------------------------------- at most once


class DropsBeforeReply(Inbox):
    """Keeps the message, then ends the connection instead of replying 250."""

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.messages.append((envelope.mail_from, envelope.rcpt_tos, envelope.content))
        server.transport.abort()
        return "250 Message accepted for delivery"


class SlowToReply(Inbox):
    """Keeps the message, then takes longer to reply than the client waits."""

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        import asyncio

        self.messages.append((envelope.mail_from, envelope.rcpt_tos, envelope.content))
        await asyncio.sleep(2.0)
        return "250 Message accepted for delivery"


def sent_log(out: Path) -> dict:
    return json.loads((out / ".sent.json").read_text())


@pytest.mark.faults
@pytest.mark.parametrize("handler", [DropsBeforeReply, SlowToReply])
def test_a_message_the_server_kept_without_replying_is_not_sent_again(site, handler):
    config, out = site
    inbox = handler()
    with serving(inbox) as controller:
        environment = env(controller.port, READOUT_SMTP_TIMEOUT="0.5")
        first = send(config, out, environment)
        again = send(config, out, environment)
    assert len(inbox.messages) == 1  # neither a retry nor the next run sent a second copy
    for result in (first, again):
        assert result.exit_code == 1, result.output
        assert "may have arrived" in result.output
        assert "readout email --resend signup" in result.output
        assert "Traceback" not in result.output
    (entry,) = sent_log(out).values()
    assert entry["state"] == "unknown"
    assert "never confirmed" in entry["error"]
    received = email.message_from_bytes(inbox.messages[0][2], policy=policy.default)
    assert entry["message_id"] == received["Message-ID"]
    assert len(list((out / "outbox").glob("*.eml"))) == 1  # kept for --resend


@pytest.mark.faults
def test_resend_sends_the_same_message_once_more(site, smtp_server):
    config, out = site
    dropping = DropsBeforeReply()
    with serving(dropping) as controller:
        assert send(config, out, env(controller.port)).exit_code == 1
    good, inbox = smtp_server
    result = send(config, out, env(good.port), "--resend", "signup")
    assert result.exit_code == 0, result.output
    assert "sent on attempt 1" in result.output
    (resent,) = [email.message_from_bytes(m[2]) for m in inbox.messages]
    first = email.message_from_bytes(dropping.messages[0][2])
    # The same message: a mail system that did receive the first can drop the copy.
    assert resent["Message-ID"] == first["Message-ID"]
    (entry,) = sent_log(out).values()
    assert entry["state"] == "sent" and entry["previous"]["state"] == "unknown"
    assert not list((out / "outbox").glob("*.eml"))
    later = send(config, out, env(good.port))
    assert later.exit_code == 0 and "already sent" in later.output
    assert len(inbox.messages) == 1
    # A delivered message can be resent too (lost in a spam folder): composed afresh.
    assert send(config, out, env(good.port), "--resend", "signup").exit_code == 0
    assert len(inbox.messages) == 2


@pytest.mark.faults
@pytest.mark.parametrize(
    "name, edit, fragments",
    [
        ("nope", None, ["'nope'", "not an experiment", "use one of signup"]),
        ("quiet", "recipients", ["'quiet'", "no recipients", "email = [...]"]),
        ("fresh", "readout", ["'fresh'", "no readout yet", "readout run --only fresh"]),
    ],
)
def test_resend_of_a_name_without_a_readout_to_send_exits_2(site, name, edit, fragments):
    config, out = site
    if edit is not None:
        recipients = 'email = ["pm@example.com"]' if edit == "readout" else ""
        config.write_text(
            config.read_text()
            + f'\n[[experiments]]\nname = "{name}"\ntitle = "t"\nanalysis = "ab_test"\n'
            'data = "data/good.csv"\ngroup = "arm"\ncontrol = "A"\nmetric = "y"\n'
            f'metric_type = "binary"\n{recipients}\n'
        )
    result = send(config, out, env(free_port()), "--resend", name)
    assert result.exit_code == 2, result.output
    for fragment in fragments:
        assert fragment in result.output
    assert "Fix:" in result.output and "Traceback" not in result.output


class RefusesRecipientsOnce(Inbox):
    """Says 'try again later' to the first RCPT: that recipient got nothing, a retry is safe."""

    refused = False

    async def handle_RCPT(self, server, session, envelope, address, options):  # noqa: N802
        if not self.refused:
            self.refused = True
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"


class RefusesOneForGood(Inbox):
    async def handle_RCPT(self, server, session, envelope, address, options):  # noqa: N802
        if address.startswith("pm@"):
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def copies(inbox) -> dict[str, int]:
    """How many copies each recipient got."""
    counts: dict[str, int] = {}
    for _, recipients, _ in inbox.messages:
        for address in recipients:
            counts[address] = counts.get(address, 0) + 1
    return counts


@pytest.mark.faults
def test_a_recipient_refused_for_now_gets_the_message_on_a_retry_once(site):
    config, out = site
    inbox = RefusesRecipientsOnce()
    with serving(inbox) as controller:
        result = send(config, out, env(controller.port))
    assert result.exit_code == 0, result.output
    assert "sent on attempt 2" in result.output
    assert copies(inbox) == {"pm@example.com": 1, "analyst@example.com": 1}
    entry = sent_log(out)["signup/2026-11-21"]
    assert entry["state"] == "sent"
    assert sorted(entry["to"]) == ["analyst@example.com", "pm@example.com"]


@pytest.mark.faults
def test_a_recipient_refused_for_good_is_named_and_the_others_get_it_once(site):
    config, out = site
    inbox = RefusesOneForGood()
    with serving(inbox) as controller:
        result = send(config, out, env(controller.port))
        again = send(config, out, env(controller.port))
    assert result.exit_code == 1
    assert "partly sent" in result.output and "pm@example.com refused it (550" in result.output
    assert "--resend signup" in result.output
    assert copies(inbox) == {"analyst@example.com": 1}
    entry = sent_log(out)["signup/2026-11-21"]
    assert entry["to"] == ["analyst@example.com"] and entry["refused"] == ["pm@example.com"]
    assert again.exit_code == 0 and "already sent" in again.output


@pytest.fixture
def busy_server():
    """Greets every connection with 421 and hangs up: nothing can be delivered."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()
    connections = []

    def serve_forever():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            connections.append(conn)
            conn.sendall(b"421 4.3.2 Too busy, try later\r\n")
            conn.close()

    thread = threading.Thread(target=serve_forever, daemon=True)
    thread.start()
    yield listener.getsockname()[1], connections
    stop.set()
    thread.join()
    listener.close()


class RejectsLogin(Inbox):
    pass


def _reject(server, session, envelope, mechanism, auth_data):
    from aiosmtpd.smtp import AuthResult

    return AuthResult(success=False, handled=False)


@pytest.mark.faults
@pytest.mark.parametrize("failure", ["greeting", "login"])
def test_failures_before_data_are_retried_then_left_for_the_next_run(
    site, smtp_server, busy_server, failure
):
    config, out = site
    if failure == "greeting":
        port, connections = busy_server
        result = send(config, out, env(port))
        assert len(connections) == 3  # retried: nothing can have arrived
    else:
        rejecting = RejectsLogin()
        with serving(rejecting, auth_require_tls=False, authenticator=_reject) as controller:
            result = send(
                config,
                out,
                env(controller.port, READOUT_SMTP_USER="bot", READOUT_SMTP_PASSWORD="x"),
            )
        assert rejecting.messages == []
    assert result.exit_code == 1
    assert "after 3 attempts" in result.output and "may have arrived" not in result.output
    assert sent_log(out) == {}  # certainly not delivered: the next run sends it
    good, inbox = smtp_server
    assert send(config, out, env(good.port)).exit_code == 0
    assert len(inbox.messages) == 1
