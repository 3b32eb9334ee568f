"""Email summaries: one message per new readout, with the PDF attached.

Every message is first written to ``<output>/outbox/`` as an ``.eml`` file. ``--dry-run``
stops there. Otherwise the outbox is sent over SMTP; a sent message is recorded in
``<output>/.sent.json`` and leaves the outbox, so a readout is emailed once. One
``readout email`` sends at a time (a lock).

At most once, by design. A message is marked as being sent in ``.sent.json`` before the SMTP
conversation starts. A failure before the message itself went out (connection refused, the
greeting, TLS, login, a refused sender or recipient, the server refusing DATA) cannot have
delivered anything: it is retried (3 attempts, with back-off), and if all fail the mark is
removed, the message stays in the outbox and the next run sends it. Once the message has been
transmitted after DATA, only the server's reply says whether it was kept; when the connection
ends or times out before that reply, the server may well have delivered it, so it is never
sent again automatically, not by a retry and not by a later run: the entry is recorded as
``unknown``, the command prints that the message may have arrived and exits 1, and
``readout email --resend NAME`` sends the newest readout of NAME again, for the rare message
that was really lost (the same ``.eml``, with the same Message-ID, so that mail systems that
did receive it can drop the copy). A run killed mid-send leaves the ``sending`` mark, and the
next run treats it the same way. A recipient may miss a message and be told to resend it;
no recipient gets the same message twice unasked.

SMTP settings come only from the environment (``READOUT_SMTP_HOST``, ``_PORT``, ``_USER``,
``_PASSWORD``, ``_FROM``, ``_TLS`` = ``starttls`` | ``ssl`` | ``none``, ``_BACKOFF``,
``_TIMEOUT``) and are never written to a report, a log line or a bundle.
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
from email.utils import getaddresses, make_msgid
from pathlib import Path

import filelock

from readout import render, store, wording
from readout.bundle import read
from readout.config import Config
from readout.errors import ConfigError
from readout.files import atomic_write_text, remove_temporary, remove_temporary_of

#: Attempts for a failure that certainly delivered nothing; an unknown outcome gets one.
ATTEMPTS = 3
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
    timeout: float = 30.0

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
            timeout = float(env.get("READOUT_SMTP_TIMEOUT", "30"))
        except ValueError as exc:
            raise ConfigError(
                "environment",
                f"READOUT_SMTP_PORT, _BACKOFF or _TIMEOUT is not a number ({exc})",
                "give a whole number of the port (and seconds of back-off and time-out)",
            ) from None
        if not timeout > 0:
            raise ConfigError(
                "environment", f"READOUT_SMTP_TIMEOUT is {timeout}", "give a number of seconds > 0"
            )
        return cls(
            host,
            port,
            env.get("READOUT_SMTP_USER") or None,
            env.get("READOUT_SMTP_PASSWORD") or None,
            sender,
            tls,
            backoff,
            timeout,
        )


@dataclass(frozen=True)
class Delivery:
    """How one readout's email ended."""

    key: str
    status: str  # sent, written (dry run), failed, already sent, unconfirmed, partly sent,
    # not needed (email_when = "change" and the verdict is as last emailed)
    message: str

    @property
    def ok(self) -> bool:
        """Whether nothing is left for a person to check (exit 0)."""
        return self.status not in ("failed", "unconfirmed", "partly sent")


def compose(
    bundle: dict, folder: Path, recipients: list[str], sender: str, site_url: str
) -> EmailMessage:
    """The summary email of one readout: plain text, inline-styled HTML, the PDF attached."""
    text = wording.readout_text(bundle)
    date = bundle["readout_date"]
    url = store.readout_url(site_url, bundle["experiment"], date)
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
        (folder / store.REPORT_PDF).read_bytes(),
        maintype="application",
        subtype="pdf",
        filename=store.pdf_attachment(bundle["experiment"], date),
    )
    return message


def _load_log(output: Path) -> dict:
    """The record of what was sent; a damaged one stops the run (it cannot be rebuilt)."""
    path = store.sent_log(output)
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


class _Tracked:
    """An SMTP client that knows whether the message itself has gone out.

    ``body_sent`` turns true when the message is transmitted after the server accepted DATA:
    from then on only the server's reply says whether it kept the message.
    """

    body_sent = False
    _after_data = False

    def putcmd(self, cmd: str, args: str = "") -> None:  # noqa: D102 (smtplib's method)
        self._after_data = False
        super().putcmd(cmd, args)
        self._after_data = cmd.lower() == "data"

    def send(self, s) -> None:  # noqa: D102 (smtplib's method)
        if self._after_data:
            self.body_sent = True
        super().send(s)


class _Client(_Tracked, smtplib.SMTP):
    pass


class _ClientSSL(_Tracked, smtplib.SMTP_SSL):
    pass


class _MaybeSent(Exception):
    """The message went out after DATA, but the server's reply never came."""


def _send(message: EmailMessage, smtp: Smtp, recipients: list[str]) -> dict:
    """One SMTP conversation; returns the recipients the server refused (others got it).

    Raises ``_MaybeSent`` when the connection ended or timed out after the message was
    transmitted and before the server's reply; any other error delivered nothing.
    """
    context = ssl.create_default_context()
    if smtp.tls == "ssl":
        client = _ClientSSL(smtp.host, smtp.port, timeout=smtp.timeout, context=context)
    else:
        client = _Client(smtp.host, smtp.port, timeout=smtp.timeout)
    try:
        if smtp.tls == "starttls":
            client.starttls(context=context)
        if smtp.user:
            client.login(smtp.user, smtp.password or "")
        refused = client.send_message(message, to_addrs=recipients)
    except (OSError, smtplib.SMTPException) as exc:
        client.close()
        # A reply with a code is the server's word that it did not take the message.
        if client.body_sent and not isinstance(exc, smtplib.SMTPResponseException):
            raise _MaybeSent(f"{type(exc).__name__}: {exc}") from exc
        raise
    try:
        client.quit()
    except (OSError, smtplib.SMTPException):
        client.close()  # the server said 250: a failed goodbye changes nothing
    return refused


@dataclass(frozen=True)
class _Sending:
    """How sending one message ended."""

    status: str  # "sent", "partly sent", "unknown" (never confirmed), "failed" (not delivered)
    detail: str
    delivered: tuple[str, ...] = ()
    refused: tuple[str, ...] = ()


def _send_with_retries(message: EmailMessage, smtp: Smtp, sleep=time.sleep) -> _Sending:
    """Send, retrying only what certainly did not arrive.

    A failed conversation is retried while nothing can have been delivered; a recipient the
    server refused for now (4xx) is retried alone, one it refused for good (5xx) is reported;
    a message transmitted but never confirmed is not retried (``unknown``).
    """
    pending = [address for _, address in getaddresses(message.get_all("To", []))]
    delivered: list[str] = []
    refused: dict[str, str] = {}
    last = ""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            answers = _send(message, smtp, pending)
        except _MaybeSent as exc:
            return _Sending(
                "unknown",
                f"{smtp.host}:{smtp.port} received the message (attempt {attempt}) but never "
                f"confirmed it ({exc})",
                tuple(delivered),
            )
        except smtplib.SMTPRecipientsRefused as exc:
            answers = exc.recipients  # every recipient refused: nothing was sent
        except (OSError, smtplib.SMTPException) as exc:
            # The exception text names the server and the problem, never the password.
            last = f"{type(exc).__name__}: {exc}"
            if attempt < ATTEMPTS:
                sleep(smtp.backoff * 2 ** (attempt - 1))
            continue
        delivered += [address for address in pending if address not in answers]
        pending = []
        for address, (code, text) in answers.items():
            reply = f"{code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"
            refused[address] = reply
            if 400 <= code < 500:
                pending.append(address)  # "try again later": it did not get the message
        last = "; ".join(f"{a} refused ({r})" for a, r in refused.items())
        if not pending:
            break
        if attempt < ATTEMPTS:
            sleep(smtp.backoff * 2 ** (attempt - 1))
    refused = {a: r for a, r in refused.items() if a not in delivered}
    if not refused and delivered:
        return _Sending("sent", f"sent on attempt {attempt}", tuple(delivered))
    if delivered:
        return _Sending(
            "partly sent",
            f"sent to {', '.join(delivered)}; "
            + "; ".join(f"{a} refused it ({r})" for a, r in refused.items()),
            tuple(delivered),
            tuple(refused),
        )
    tries = f"{attempt} attempt{'s' if attempt > 1 else ''}"
    return _Sending("failed", f"{smtp.host}:{smtp.port} after {tries}: {last}")


def _unconfirmed(entry: dict, log_path: Path, name: str) -> str:
    """Why a message is not sent again, and how to send it anyway."""
    if entry.get("state") == "sending":
        when = f"a run stopped while sending it at {entry.get('started_at')}"
    else:
        when = entry.get("error", "the server never confirmed it")
    return (
        f"{when}, so it may have arrived; it is recorded in {log_path} and was not sent "
        f"again. Ask a recipient; if it is lost, run `readout email --resend {name}`"
    )


def deliver(
    config: Config,
    output: Path,
    dry_run: bool = False,
    smtp: Smtp | None = None,
    resend: tuple[str, ...] = (),
) -> list[Delivery]:
    """Write (and unless ``dry_run`` send) the email of each experiment's newest readout.

    Parameters
    ----------
    config, output
        The experiments and the output folder.
    dry_run
        Write the ``.eml`` files only.
    smtp
        SMTP settings (default: from the environment).
    resend
        Experiment names whose newest readout is sent again even if it was sent (or may
        have been); only these are sent. An unknown name, one without recipients or one
        without a readout is a ConfigError.
    """
    _check_resend(config, output, resend)
    if not dry_run and smtp is None:
        smtp = Smtp.from_env()
    sender = smtp.sender if smtp else os.environ.get("READOUT_SMTP_FROM", "readout@localhost")
    outbox = store.outbox(output)
    outbox.mkdir(parents=True, exist_ok=True)
    # One sender at a time: a second `readout email` waits, then finds the first one's
    # messages recorded as sent.
    with filelock.FileLock(store.lock_file(output, store.EMAIL_LOCK), timeout=LOCK_WAIT):
        remove_temporary(outbox)  # what killed runs left half-written
        remove_temporary_of(store.sent_log(output))
        return _deliver(config, output, outbox, dry_run, smtp, sender, resend)


def _check_resend(config: Config, output: Path, resend: tuple[str, ...]) -> None:
    names = {e.name: e for e in config.experiments}
    for name in resend:
        experiment = names.get(name)
        if experiment is None:
            raise ConfigError(
                str(config.path),
                f"--resend names '{name}', which is not an experiment here",
                f"use one of {', '.join(sorted(names))}",
            )
        if not experiment.spec.email:
            raise ConfigError(
                str(config.path),
                f"--resend names '{name}', which has no recipients",
                f"add email = [...] to experiment '{name}'",
            )
        if store.latest(output, name) is None:
            raise ConfigError(
                str(output / name),
                f"--resend names '{name}', which has no readout yet",
                f"run `readout run --only {name}` first",
            )


def readout_state(bundle: dict) -> dict:
    """What ``email_when = "change"`` compares: the verdict, the planned end, guardrail harm."""
    decision = bundle["decision"]
    progress = bundle.get("progress") or {}
    return {
        "verdict": decision["verdict"],
        "at_end": bool(progress.get("at_end", False)),
        "harm": decision.get("reason_code") == "guardrail_harm",
    }


def _unchanged_since(log: dict, output: Path, name: str, date: str, state: dict) -> str | None:
    """The date of the newest emailed readout before ``date`` whose state is ``state``.

    ``None`` (send) when none was emailed, or the newest one emailed differs: a new verdict,
    the planned end reached, or a guardrail's harm.
    """
    sent = sorted(
        key.split("/", 1)[1]
        for key, entry in log.items()
        if key.startswith(f"{name}/") and entry.get("state") == "sent" and key < f"{name}/{date}"
    )
    if not sent:
        return None
    last = sent[-1]
    before = log[f"{name}/{last}"].get("readout")
    if before is None:  # recorded before readouts' states were: read the bundle if kept
        bundle_path = store.readout_folder(output, name, last) / store.BUNDLE
        try:
            before = readout_state(read(bundle_path))
        except (OSError, ValueError, KeyError):
            return None
    return last if before == state else None


def _deliver(
    config: Config,
    output: Path,
    outbox: Path,
    dry_run: bool,
    smtp: Smtp | None,
    sender: str,
    resend: tuple[str, ...],
) -> list[Delivery]:
    log = _load_log(output)
    log_path = store.sent_log(output)

    def save() -> None:
        atomic_write_text(log_path, json.dumps(log, indent=2) + "\n")

    results = []
    for experiment in config.experiments:
        if resend and experiment.name not in resend:
            continue
        recipients = list(experiment.spec.email)
        folder = store.latest(output, experiment.name)
        if not recipients or folder is None:
            continue
        key = f"{experiment.name}/{folder.name}"
        entry = log.get(key)
        if entry is not None and not resend:
            if entry.get("state") in ("sending", "unknown"):
                results.append(
                    Delivery(key, "unconfirmed", _unconfirmed(entry, log_path, experiment.name))
                )
            else:
                results.append(Delivery(key, "already sent", entry.get("sent_at", "")))
            continue
        path = store.outbox_message(output, experiment.name, folder.name)
        bundle = read(folder / store.BUNDLE)
        state = readout_state(bundle)
        if experiment.spec.email_when == "change" and not resend:
            unchanged = _unchanged_since(log, output, experiment.name, folder.name, state)
            if unchanged is not None:
                results.append(
                    Delivery(
                        key,
                        "not needed",
                        f"the verdict is as in the readout of {unchanged}, which was emailed "
                        '(email_when = "change"; "always" emails every readout)',
                    )
                )
                continue
        if not path.is_file():
            message = compose(bundle, folder, recipients, sender, config.settings.site_url)
            atomic_write_text(path, message.as_string(policy=policy.SMTP))
        if dry_run:
            results.append(Delivery(key, "written", str(path)))
            continue
        message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        now = datetime.now(UTC).isoformat(timespec="seconds")
        # Recorded before the SMTP conversation: a run killed mid-send leaves this mark, and
        # the next run asks instead of sending the message a second time.
        mark = {
            "started_at": now,
            "to": recipients,
            "message_id": message["Message-ID"],
            "readout": state,
        }
        if entry is not None:
            mark["previous"] = entry  # a resend keeps the record of the earlier one
        log[key] = {"state": "sending", **mark}
        save()
        sending = _send_with_retries(message, smtp)
        if sending.status in ("sent", "partly sent"):
            when = datetime.now(UTC).isoformat(timespec="seconds")
            log[key] = {"state": "sent", "sent_at": when, **mark, "to": list(sending.delivered)}
            if sending.refused:
                log[key]["refused"] = list(sending.refused)
            save()
            path.unlink()
            detail = sending.detail
            if sending.refused:
                detail += (
                    f". Correct the address(es); `readout email --resend {experiment.name}` "
                    "sends it again to every recipient"
                )
            results.append(Delivery(key, sending.status, detail))
        elif sending.status == "unknown":
            # Kept in the outbox: `--resend` sends the same message, with the same Message-ID.
            log[key] = {"state": "unknown", "error": sending.detail, **mark}
            save()
            results.append(
                Delivery(key, "unconfirmed", _unconfirmed(log[key], log_path, experiment.name))
            )
        else:
            # Certainly not delivered: the next run tries again (a resend keeps its old record).
            if entry is None:
                del log[key]
            else:
                log[key] = entry
            save()
            results.append(Delivery(key, "failed", sending.detail))
    return results
