"""Source URLs: their schemes, ``${VAR}`` expansion, and what is wrong with one as written."""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from urllib.parse import quote, urlsplit

from readout.errors import ConfigError
from readout.masking import mask, remember

ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

#: URL schemes readout opens itself, and the ibis backend each names.
OWN_SCHEMES = {
    "duckdb": "duckdb",
    "postgresql": "postgres",
    "postgres": "postgres",
    "pyspark": "pyspark",
    "spark": "pyspark",
}
#: Further backends ``ibis.connect`` opens (ibis 12's ``ibis.backends`` entry points); each
#: needs its extra installed, e.g. ``ibis-framework[bigquery]``.
IBIS_SCHEMES = (
    "athena",
    "bigquery",
    "clickhouse",
    "databricks",
    "datafusion",
    "druid",
    "exasol",
    "flink",
    "impala",
    "materialize",
    "mssql",
    "mysql",
    "oracle",
    "polars",
    "risingwave",
    "singlestoredb",
    "snowflake",
    "sqlite",
    "trino",
)
SCHEMES = (*OWN_SCHEMES, *IBIS_SCHEMES)


def expand(url: str, where: str, config: str) -> str:
    """Replace ``${VAR}`` references with the environment's values.

    A value that lands in the user-info or the query is percent-encoded, as libpq and ibis
    decode those parts; every value is remembered, so no message shows it.

    Raises
    ------
    ConfigError
        When a referenced variable is not set.
    """
    encoded = _encoded_spans(url)

    def value(match: re.Match) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise ConfigError(
                config,
                f"{where}: the url refers to ${{{name}}}, which is not set in the environment",
                f"export {name}=... before running readout (secrets stay out of the config)",
            )
        found = os.environ[name]
        secret = any(start <= match.start() < end for start, end in encoded)
        remember(found, secret)
        return quote(found, safe="") if secret else found

    return ENV_REFERENCE.sub(value, url)


def _encoded_spans(url: str) -> list[tuple[int, int]]:
    """Where a URL's user-info and query are: the parts whose text is percent-decoded."""
    head, sep, rest = url.partition("://")
    if not sep:
        return []
    start = len(head) + 3
    end = start + next((i for i, c in enumerate(rest) if c in "/?#"), len(rest))
    spans = []
    at = url.rfind("@", start, end)
    if at >= 0:
        spans.append((start, at))
    query = url.find("?", end)
    if query >= 0:
        fragment = url.find("#", query)
        spans.append((query, fragment if fragment >= 0 else len(url)))
    return spans


def backend_of(url: str) -> str:
    """The ibis backend a URL names: ``duckdb``, ``postgres``, ``pyspark``, ..."""
    scheme = urlsplit(url).scheme.lower()
    return OWN_SCHEMES.get(scheme, scheme)


def url_problem(url: str) -> tuple[str, str] | None:
    """What is wrong with a source URL as written, as (problem, fix); ``None`` if nothing.

    A URL that starts with a ``${VAR}`` reference is checked when the source is opened.
    """
    if url.startswith("${"):
        return None
    head, sep, rest = url.partition("://")
    known = ", ".join(f"{s}://" for s in SCHEMES)
    if not sep or not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", head):
        shown = mask(url)
        if Path(url.split("?")[0]).suffix.lower() in (".duckdb", ".db", ".ddb"):
            return f"url '{shown}' has no scheme", f'write it as url = "duckdb://{url}"'
        return (
            f"url '{shown}' has no scheme (such as postgresql://)",
            f"start it with one of {known}",
        )
    scheme = head.lower()
    if scheme not in SCHEMES:
        close = difflib.get_close_matches(scheme, SCHEMES, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]}://? " if close else ""
        return f"url scheme '{head}://' is not one readout knows", f"{hint}use one of {known}"
    authority = rest[: next((i for i, c in enumerate(rest) if c in "/?#"), len(rest))]
    userinfo = authority.rpartition("@")[0]
    password = userinfo.partition(":")[2]
    odd = "@" in userinfo or (
        "@" not in authority and "@" in rest and not re.fullmatch(r"[^:]*(:\d*)?", authority)
    )
    if odd or (password and "#" in url):
        return (
            "the url's user name or password holds an unencoded '@', '/', '?' or '#' (the URL "
            "cannot be read as written)",
            "put the password in an environment variable and write ${VAR} (readout encodes it), "
            "or percent-encode it: %40 for @, %2F for /, %3F for ?, %23 for #, %25 for %",
        )
    for part, name in ((userinfo, "user name or password"), (url.partition("?")[2], "query")):
        if re.search(r"%(?![0-9A-Fa-f]{2})", ENV_REFERENCE.sub("", part)):
            return (
                f"the url's {name} holds a '%' that is not a percent-encoding",
                "write % as %25 (or put the value in an environment variable as ${VAR})",
            )
    return None


def check_url(url: str, where: str, config: str) -> None:
    """Raise the :func:`url_problem` of an expanded URL as a config error."""
    found = url_problem(url)
    if found is not None:
        problem, fix = found
        raise ConfigError(config, f"{where}: {problem}", fix)
