"""A small warehouse of known truth for ratio CUPED, post-stratification and a user's prior.

Each user has a country (strata of very different purchase rates and spend) and an own
click propensity, the same before and after exposure, so a ratio's pre-period predicts it.
The treatment multiplies the click rate by ``click_lift`` and the purchase rate by
``purchase_lift`` in every country.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

START = np.datetime64("2026-10-01T00:00:00")
COUNTRIES = {"US": (0.5, 0.04), "DE": (0.3, 0.12), "JP": (0.2, 0.25)}  # share, purchase rate


def frames(seed: int, users: int, click_lift: float = 0.03, purchase_lift: float = 0.05):
    """The exposures, sessions (before and after exposure) and orders, and their truth."""
    rng = np.random.default_rng(seed)
    arm = rng.integers(0, 2, users)
    exposed = START + (rng.uniform(0, 10, users) * 86400).astype("timedelta64[s]")
    names = list(COUNTRIES)
    country = rng.choice(names, users, p=[COUNTRIES[c][0] for c in names])
    base = np.array([COUNTRIES[c][1] for c in country])
    exposures = pd.DataFrame(
        {
            "user_id": np.arange(users),
            "variant": np.where(arm == 1, "treatment", "control"),
            "exposed_at": exposed,
            "country": country,
        }
    )
    propensity = rng.beta(2, 8, users)  # each user's own click rate, before and after
    sessions = []
    for lo, hi, lift in ((-13.9, -0.01, np.zeros(users)), (0.01, 13.9, click_lift * arm)):
        visits = rng.poisson(4, users) + 1
        who = np.repeat(np.arange(users), visits)
        views = rng.poisson(3, who.size) + 1
        rate = np.minimum(propensity[who] * (1 + lift[who]), 1.0)
        when = exposed[who] + (rng.uniform(lo, hi, who.size) * 86400).astype("timedelta64[s]")
        sessions.append(
            pd.DataFrame(
                {
                    "user_id": who,
                    "ts": when,
                    "pageviews": views,
                    "clicks": rng.binomial(views, rate),
                }
            )
        )
    buys = rng.random(users) < base * (1 + purchase_lift * arm)
    orders = pd.DataFrame(
        {
            "user_id": np.flatnonzero(buys),
            "ts": exposed[buys] + np.timedelta64(2, "D"),
        }
    )
    shares = {c: COUNTRIES[c][0] for c in names}
    truth = {
        "click_lift": click_lift,
        "purchase_rate": sum(shares[c] * COUNTRIES[c][1] for c in names),
        "purchase_lift": purchase_lift,
    }
    return {
        "exposures": exposures,
        "sessions": pd.concat(sessions, ignore_index=True),
        "orders": orders,
    }, truth


def write(path: Path, seed: int, users: int, **effects) -> dict:
    """Write the tables to a DuckDB file; return the truth."""
    import duckdb

    tables, truth = frames(seed, users, **effects)
    con = duckdb.connect(str(path))
    for name, frame in tables.items():
        con.register("frame", frame)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM frame")
        con.unregister("frame")
    con.close()
    return truth


CONFIG = """
[sources.warehouse]
url = "duckdb://{db}"

[[experiments]]
name = "variance-demo"
title = "Variance reduction demo"
analysis = "ab_test"
source = "warehouse"
assignments = "SELECT user_id AS unit, variant AS arm, exposed_at, country FROM exposures"
control = "control"
segments = ["country"]
{extra}

[[experiments.metrics]]
name = "purchase"
label = "purchase rate"
sql = "SELECT user_id AS unit, ts, 1 AS value FROM orders"
aggregate = "any"
kind = "binary"
window_days = 7
role = "primary"
{primary}

[[experiments.metrics]]
name = "ctr"
label = "clicks per pageview"
sql = "SELECT user_id AS unit, ts, clicks AS numerator, pageviews AS denominator FROM sessions"
kind = "ratio"
window_days = 14
covariate_days = 14
"""


def config(folder: Path, db: Path, extra: str = "", primary: str = "") -> Path:
    """An ``experiments.toml`` reading ``db`` (post_stratify etc. in ``extra``)."""
    path = folder / "experiments.toml"
    path.write_text(CONFIG.format(db=db, extra=extra, primary=primary))
    return path
