"""Email summaries: one message per new readout, with the PDF attached.

Every message is first written to ``<output>/outbox/`` as an ``.eml`` file. ``--dry-run``
stops there. Otherwise the outbox is sent over SMTP with retries and back-off; a sent message
is recorded in ``<output>/.sent.json`` and leaves the outbox, so a readout is emailed once;
a message that could not be sent stays in the outbox for the next run. One ``readout email``
sends at a time (a lock); a message is marked as being sent before the SMTP conversation, so
a run killed mid-send makes the next one ask rather than send it twice.

SMTP settings come only from the environment (``READOUT_SMTP_HOST``, ``_PORT``, ``_USER``,
``_PASSWORD``, ``_FROM``, ``_TLS`` = ``starttls`` | ``ssl`` | ``none``) and are never written
to a report, a log line or a bundle.
"""

from __future__ import annotations

import json
import os
import smtplib
import ssl
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import make_msgid
from pathlib import Path

import filelock

from readout import render, wording
from readout.bundle import atomic_write_text, read
from readout.config import Config
from readout.errors import ConfigError

SENT_LOG = ".sent.json"
OUTBOX = "outbox"
ATTEMPTS = 3
#: Held while messages are written and sent, so two runs never send the same readout.
EMAIL_LOCK = ".email.lock"
#: How long a second ``readout email`` waits for the first (seconds).
LOCK_WAIT = 900


@dataclass(frozen=True)
class Smtp:
    """SMTP settings read from the environment."""

    host: str
    port: int
    user: str | None
    password: str | None
    sender: str
    tls: str
    backoff: float

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Smtp:
        """Read and check ``READOUT_SMTP_*``; a missing or bad one is a ConfigError."""
        env = dict(os.environ if env is None else env)
        host = env.get("READOUT_SMTP_HOST", "").strip()
        sender = env.get("READOUT_SMTP_FROM", "").strip()
        tls = env.get("READOUT_SMTP_TLS", "starttls").strip().lower()
        for key, value in (("READOUT_SMTP_HOST", host), ("READOUT_SMTP_FROM", sender)):
            if not value:
                raise ConfigError(
                    "environment",
                    f"{key} is not set",
                    f"export {key}=... (or use --dry-run to write the messages only)",
                )
        if tls not in ("starttls", "ssl", "none"):
            raise ConfigError(
                "environment", f"READOUT_SMTP_TLS is '{tls}'", "use starttls, ssl or none"
            )
        default_port = {"starttls": 587, "ssl": 465, "none": 25}[tls]
        try:
            port = int(env.get("READOUT_SMTP_PORT", default_port))
            backoff = float(env.get("READOUT_SMTP_BACKOFF", "2"))
        except ValueError as exc:
            raise ConfigError(
                "environment",
                f"READOUT_SMTP_PORT or _BACKOFF is not a number ({exc})",
                "give a whole number of the port (and seconds of back-off)",
            ) from None
        return cls(
            host,
            port,
            env.get("READOUT_SMTP_USER") or None,
            env.get("READOUT_SMTP_PASSWORD") or None,
            sender,
            tls,
            backoff,
        )


@dataclass(frozen=True)
class Delivery:
    """How one readout's email ended."""

    key: str
    status: str  # "sent", "written" (dry run), "failed", "already sent"
    message: str


def compose(
    bundle: dict, folder: Path, recipients: list[str], sender: str, site_url: str
) -> EmailMessage:
    """The summary email of one readout: plain text, inline-styled HTML, the PDF attached."""
    text = wording.readout_text(bundle)
    date = bundle["readout_date"]
    url = render.readout_url(site_url, bundle["experiment"], date)
    message = EmailMessage()
    # The title was checked when the config was read; the verdict may quote arm names
    # from the data, which no check has seen.
    message["Subject"] = _one_line(
        f"[readout] {bundle['title']} — {date} — {wording.subject_verdict(bundle, text)}"
    )
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = datetime.now(UTC)
    message["Message-ID"] = make_msgid(domain="readout.local")
    message["X-Readout"] = f"{bundle['experiment']}/{date}"
    lines = [text.headline, "", text.reason, ""]
    card = text.tables.get("scorecard")
    if card is not None:
        lines += ["Scorecard:"]
        lines += [
            f"- {row[0]}: "
            + "; ".join(f"{h}: {c}" for h, c in zip(card.head[1:], row[1:], strict=True))
            for row in card.rows
        ]
        lines += [""]
    lines += [f"- {s}" for s in text.key_sentences]
    if text.health:
        lines += ["", "HEALTH CHECK FAILED:"] + [f"! {h}" for h in text.health]
    lines += [
        "",
        f"Full report: {url}" if url else "The full report is on the internal site.",
        "The PDF summary is attached.",
    ]
    message.set_content("\n".join(lines) + "\n")
    message.add_alternative(
        render.page("email.html.j2", bundle=bundle, text=text, url=url), subtype="html"
    )
    message.add_attachment(
        (folder / "report.pdf").read_bytes(),
        maintype="application",
        subtype="pdf",
        filename=f"{bundle['experiment']}-{date}.pdf",
    )
    return message


def _load_log(output: Path) -> dict:
    """The record of what was sent; a damaged one stops the run (it cannot be rebuilt)."""
    path = output / SENT_LOG
    if not path.is_file():
        return {}
    try:
        log = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(log, dict) and all(isinstance(v, dict) for v in log.values()):
            return log
        problem = "does not hold a JSON object of sent readouts"
    except (OSError, ValueError) as exc:
        problem = f"is not readable JSON ({exc})"
    raise ConfigError(
        str(path),
        problem + "; it is the only record of which readouts were emailed",
        "restore it from a backup, or delete it to email each experiment's newest readout "
        "again (recipients may get a message twice)",
    )


def _one_line(text: str) -> str:
    """Header text with any line break or control character turned into a space."""
    return "".join(" " if ord(c) < 32 or ord(c) == 127 else c for c in text)


def _send(message: EmailMessage, smtp: Smtp) -> None:
    context = ssl.create_default_context()
    if smtp.tls == "ssl":
        client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=30, context=context)
    else:
        client = smtplib.SMTP(smtp.host, smtp.port, timeout=30)
    with client:
        if smtp.tls == "starttls":
            client.starttls(context=context)
        if smtp.user:
            client.login(smtp.user, smtp.password or "")
        client.send_message(message)


def _send_with_retries(message: EmailMessage, smtp: Smtp, sleep=time.sleep) -> tuple[bool, str]:
    last = ""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            _send(message, smtp)
            return True, f"sent on attempt {attempt}"
        except (OSError, smtplib.SMTPException) as exc:
            # The exception text names the server and the problem, never the password.
            last = f"{type(exc).__name__}: {exc}"
            if attempt < ATTEMPTS:
                sleep(smtp.backoff * 2 ** (attempt - 1))
    return False, f"{smtp.host}:{smtp.port} after {ATTEMPTS} attempts: {last}"


def deliver(
    config: Config, output: Path, dry_run: bool = False, smtp: Smtp | None = None
) -> list[Delivery]:
    """Write (and unless ``dry_run`` send) the email of each experiment's newest readout."""
    if not dry_run and smtp is None:
        smtp = Smtp.from_env()
    sender = smtp.sender if smtp else os.environ.get("READOUT_SMTP_FROM", "readout@localhost")
    outbox = output / OUTBOX
    outbox.mkdir(parents=True, exist_ok=True)
    # One sender at a time: a second `readout email` waits, then finds the first one's
    # messages recorded as sent.
    with filelock.FileLock(output / EMAIL_LOCK, timeout=LOCK_WAIT):
        return _deliver(config, output, outbox, dry_run, smtp, sender)


def _deliver(
    config: Config, output: Path, outbox: Path, dry_run: bool, smtp: Smtp | None, sender: str
) -> list[Delivery]:
    from readout import tree

    log = _load_log(output)
    results = []
    for experiment in config.experiments:
        recipients = list(experiment.spec.email)
        folder = tree.latest(output, experiment.name)
        if not recipients or folder is None:
            continue
        key = f"{experiment.name}/{folder.name}"
        entry = log.get(key)
        if entry is not None and entry.get("state") == "sending":
            results.append(
                Delivery(
                    key,
                    "failed",
                    f"a run stopped while sending it at {entry.get('started_at')}, so it may "
                    f"have arrived; ask the recipients, then remove '{key}' from "
                    f"{output / SENT_LOG} to send it again",
                )
            )
            continue
        if entry is not None:
            results.append(Delivery(key, "already sent", entry.get("sent_at", "")))
            continue
        path = outbox / f"{experiment.name}--{folder.name}.eml"
        if not path.is_file():
            message = compose(
                read(folder / "bundle.json"), folder, recipients, sender, config.settings.site_url
            )
            atomic_write_text(path, message.as_string(policy=policy.SMTP))
        if dry_run:
            results.append(Delivery(key, "written", str(path)))
            continue
        message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        # Recorded before the SMTP conversation: a run killed mid-send leaves this mark, and
        # the next run asks instead of sending the message a second time.
        log[key] = {
            "state": "sending",
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "message_id": message["Message-ID"],
        }
        atomic_write_text(output / SENT_LOG, json.dumps(log, indent=2) + "\n")
        ok, detail = _send_with_retries(message, smtp)
        if ok:
            log[key] = {
                "sent_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "to": recipients,
                "message_id": message["Message-ID"],
            }
            atomic_write_text(output / SENT_LOG, json.dumps(log, indent=2) + "\n")
            path.unlink()
            results.append(Delivery(key, "sent", detail))
        else:
            del log[key]  # certainly not delivered: the next run tries again
            atomic_write_text(output / SENT_LOG, json.dumps(log, indent=2) + "\n")
            results.append(Delivery(key, "failed", detail))
    return results
