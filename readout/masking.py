"""Credentials out of everything a user sees: one masking rule for URLs and for any text.

A source URL can carry a secret in several places, each masked as ``***``:

* the user-info password: ``postgresql://reader:s3cret@db/x`` (also when an unencoded ``/``,
  ``#``, ``?`` or ``@`` in it has split the URL in odd places);
* a query parameter whose name says it is one: ``?password=``, ``?sslpassword=``,
  ``?token=``, ``?access_token=``, ``?secret=``, ``?key=``, ``?api_key=``, ``?credentials=``,
  ``?sig=`` ...;
* a token in the path of a backend that takes one there (a long run of letters and digits in
  the path of a URL that is not a file's);
* a fragment (``#...``), which no database URL uses: it is what is left of a password with an
  unencoded ``#``.

A ``${VAR}`` reference in such a place is masked as well (the message reads the same whether
the config holds the secret or names it). The values substituted for ``${VAR}`` references
when a source is opened are remembered for the life of the process (:func:`remember`), so an
engine's error that quotes one (whole, percent-encoded, escaped, or the fragments a
mis-parsed URL split it into) is masked by :func:`scrub` too. Every message, log, status
file, bundle and page that can hold a URL or an engine's words goes through :func:`mask` or
:func:`scrub`.
"""

from __future__ import annotations

import html
import json
import re
from urllib.parse import quote, quote_plus, unquote

MASK = "***"

#: Query-parameter (and ``key=value``) names that hold secrets.
SECRET_NAME = re.compile(
    r"pass|pwd|secret|token|key|credential|auth|signature|^sig$|^sas$|cookie|session", re.I
)
#: A value that is only ``${VAR}`` references: not itself a secret.
REFERENCES = re.compile(r"(?:\$\{[A-Za-z_][A-Za-z0-9_]*\})+")
#: Schemes whose path is a file's: never read as a token.
FILE_SCHEMES = {"duckdb", "sqlite", "file", "datafusion", "polars"}
#: A path segment that may be a token: 20 or more token characters ...
PATH_SEGMENT = re.compile(r"[A-Za-z0-9_\-.~+=]{20,}")
#: ... in which letters and digits alternate as in random text (a name such as
#: ``events_2024_archive`` does not).
TOKEN_RUNS = 4
SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
#: A URL inside free text (an engine's error message, a traceback).
URL_IN_TEXT = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>`]+")
#: ``name=value`` pairs in free text (libpq connection strings, driver messages).
PAIR_IN_TEXT = re.compile(
    r"(?i)\b([\w.-]*(?:pass|pwd|secret|token|key|credential|signature)[\w.-]*)(\s*=\s*)"
    r"('(?:[^'\\]|\\.)*'|\"[^\"]*\"|[^\s&;,'\"()]+)"
)
#: Characters that split a URL: a secret with them, pasted unencoded, breaks into fragments.
DELIMITERS = re.compile(r"[@#/:?&=%\s;,]+")
#: Shorter values are masked by their place in a URL only (in free text they would garble
#: ordinary words).
MIN_LENGTH, MIN_FRAGMENT = 3, 4

_remembered: set[str] = set()


def remember(value: str, secret: bool = True) -> None:
    """Mask ``value`` wherever :func:`scrub` meets it from now on (a substituted ``${VAR}``).

    A value that is itself a URL (``url = "${DATABASE_URL}"``) is remembered whole and by its
    credentials. A ``secret`` (a value of the user-info or the query) is also remembered by
    the fragments its delimiters split it into, should a URL have been cut at them; a value
    of the host or the path (``/srv/data``) is not, so ordinary words stay readable.
    """
    if len(value) < MIN_LENGTH:
        return
    _remembered.add(value)
    if "://" in value:
        for found in secrets_in(value):
            remember(found)
        return
    decoded = unquote(value)
    if decoded != value and len(decoded) >= MIN_LENGTH:
        _remembered.add(decoded)
    if secret:
        for piece in DELIMITERS.split(value):
            if len(piece) >= MIN_FRAGMENT and piece != value:
                _remembered.add(piece)


def secrets_in(url: str) -> list[str]:
    """The literal secrets a URL carries: its password and its secret-named query values."""
    found = []
    userinfo, _, _ = _split(url)
    if userinfo and ":" in userinfo:
        found.append(userinfo.split(":", 1)[1])
    query = url.partition("?")[2].partition("#")[0]
    for name, value in _pairs(query):
        if value and SECRET_NAME.search(unquote(name)):
            found.append(value)
    fragment = url.partition("#")[2]
    if fragment:
        found.append(fragment)
    return [s for s in found if s and not REFERENCES.fullmatch(s)]


def _split(url: str) -> tuple[str | None, int, int]:
    """(user-info, where the host starts, where the authority ends) of ``scheme://...``.

    The user-info runs to the last ``@`` of the authority; when there is none there but one
    comes later, a password with an unencoded ``/``, ``?`` or ``#`` split the URL, and the
    user-info runs to that later ``@``.
    """
    head, sep, rest = url.partition("://")
    if not sep or not SCHEME.fullmatch(head):
        return None, 0, 0
    start = len(head) + 3
    end = start + next((i for i, c in enumerate(rest) if c in "/?#"), len(rest))
    at = url.rfind("@", start, end)
    if at < 0 and "@" in url[end:]:
        at = url.rfind("@")
        end = max(end, url.find("/", at) if "/" in url[at:] else len(url))
    if at < 0:
        return None, start, end
    return url[start:at], at + 1, end


def _pairs(query: str) -> list[tuple[str, str]]:
    pairs = []
    for item in re.split(r"[&;]", query):
        name, _, value = item.partition("=")
        pairs.append((name, value))
    return pairs


def _masked_query(query: str) -> str:
    out = []
    for item in re.split(r"([&;])", query):
        name, eq, value = item.partition("=")
        if eq and value and SECRET_NAME.search(unquote(name)):
            value = MASK
        out.append(f"{name}{eq}{value}")
    return "".join(out)


def mask(url: str) -> str:
    """A URL as a user may see it: every credential replaced by ``***``.

    Not a URL (no ``scheme://``): the text is scrubbed as free text.

    Examples
    --------
    >>> mask("postgresql://reader:s3cret@db/x?sslmode=require&password=hunter2")
    'postgresql://reader:***@db/x?sslmode=require&password=***'
    >>> mask("postgresql://reader:${PG_PASSWORD}@db/x?token=${TOKEN}")
    'postgresql://reader:***@db/x?token=***'
    """
    userinfo, host_start, _ = _split(url)
    if host_start == 0:
        return scrub(url)
    scheme = url.partition("://")[0]
    rest = url[host_start:]
    if userinfo is not None:
        user, colon, password = userinfo.partition(":")
        if colon and password:
            password = MASK
        userinfo = f"{user}{colon}{password}@"
    rest, hash_, fragment = rest.partition("#")
    rest, question, query = rest.partition("?")
    authority, slash, path = rest.partition("/")
    if scheme.lower().split("+")[0] not in FILE_SCHEMES:
        path = PATH_SEGMENT.sub(lambda m: MASK if _tokenlike(m.group(0)) else m.group(0), path)
    query = _masked_query(query)
    fragment = MASK if fragment else ""
    return f"{scheme}://{userinfo or ''}{authority}{slash}{path}{question}{query}{hash_}{fragment}"


def _tokenlike(segment: str) -> bool:
    digits = re.findall(r"[0-9]+", segment)
    letters = re.findall(r"[A-Za-z]+", segment)
    return len(digits) >= TOKEN_RUNS and len(letters) >= TOKEN_RUNS


def scrub(text: str) -> str:
    """Any text (an engine's error, a traceback, a message) with every secret masked.

    URLs in it are masked as :func:`mask` does, ``password=...``-like pairs lose their
    values, and every remembered value (see :func:`remember`) is replaced in each form it can
    take in text: as is, percent-encoded, HTML- and JSON-escaped, and its fragments.
    """
    if not text:
        return text
    text = URL_IN_TEXT.sub(lambda m: mask(m.group(0)), text)
    text = PAIR_IN_TEXT.sub(lambda m: f"{m[1]}{m[2]}{MASK}", text)
    for value in sorted(_remembered, key=len, reverse=True):
        for form in _forms(value):
            if form in text:
                text = text.replace(form, MASK)
    return text


def _forms(value: str) -> set[str]:
    forms = {
        value,
        quote(value, safe=""),
        quote_plus(value, safe=""),
        quote(value),
        html.escape(value),
        json.dumps(value)[1:-1],
    }
    return {f for f in forms if len(f) >= MIN_LENGTH}
