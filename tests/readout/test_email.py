"""Email summaries through a real SMTP conversation with aiosmtpd on 127.0.0.1."""

import email
import socket
from email import policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner

from readout.cli import main
from tests.readout.test_cli import binary_frame, project


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


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


@pytest.fixture
def site(tmp_path) -> tuple[Path, Path]:
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
    result = CliRunner().invoke(
        main,
        ["run", "--config", str(config), "--output", str(out), "--date", "2026-11-21"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return config, out


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
