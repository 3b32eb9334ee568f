"""Programme configs as TOML text: warehouse A/B experiments and the demo's CSV ones.

One builder for the tests that run a programme on the demo warehouse and for
``bench/programme_run.py``, which writes hundreds of the same experiments: a config is
:func:`config` over experiments from :func:`warehouse_experiment` (metric blocks
:data:`PURCHASE`, :data:`REVENUE`, :data:`VISITS`) and :func:`csv_experiment` (data
files; :func:`tests.readout.running.project` writes its experiments with it too);
:func:`pooling_experiment` for a hierarchical one on creators (and ``bench/run.py``).
"""

from __future__ import annotations

#: The primary metric, whether a user bought, in the config's default window (lines of
#: its own may follow).
PRIMARY_PURCHASE = """
[[experiments.metrics]]
name = "purchase"
sql = "SELECT user_id AS unit, ts, 1 AS value FROM orders"
aggregate = "any"
kind = "binary"
role = "primary"
"""

#: The primary metric: whether a user bought within 14 days of exposure.
PURCHASE = PRIMARY_PURCHASE + 'label = "purchase rate"\nwindow_days = 14\n'

#: What a user spent within 14 days (``extra`` lines follow, e.g. a ``value_prefix``).
REVENUE = """
[[experiments.metrics]]
name = "revenue"
label = "revenue per user"
sql = "SELECT user_id AS unit, ts, amount AS value FROM orders"
aggregate = "sum"
kind = "revenue"
window_days = 14
"""

#: How often a user came back within 14 days.
VISITS = """
[[experiments.metrics]]
name = "visits"
label = "visits per user"
sql = "SELECT user_id AS unit, ts FROM visits"
aggregate = "count"
kind = "count"
window_days = 14
"""

_WAREHOUSE = """
[[experiments]]
name = "{name}"
title = "{title}"
analysis = "ab_test"
source = "warehouse"
assignments = '''SELECT user_id AS unit, variant AS arm, exposed_at
  FROM exposures WHERE experiment = '{experiment}' '''
control = "control"
"""

#: A pooling experiment on pre-summarised creators in genres (a row a creator: its
#: ``estimate``, ``std_error`` and ``users``), in dollars.
_POOLING = """
[[experiments]]
name = "{name}"
title = "{title}"
analysis = "hierarchical"
data = "{data}"
unit = "creator"
{group}
estimate = "estimate"
std_error = "std_error"
users = "users"
unit_label = "creator"
group_label = "genre"
value_prefix = "$"
"""


def pooling_experiment(name: str, title: str, data: str, grouped: bool = True) -> str:
    """A hierarchical experiment on the creators file ``data`` (a path as the config gives
    it); not ``grouped``: no ``group`` key (one group of all the creators)."""
    group = 'group = "genre"' if grouped else ""
    return _POOLING.format(name=name, title=title, data=data, group=group)


#: An A/B experiment on a data file under ``data/`` (arms ``A`` and ``B``).
CSV_EXPERIMENT = """
[[experiments]]
name = "{name}"
title = "{title}"
analysis = "ab_test"
data = "data/{file}"
group = "arm"
control = "A"
metric = "{metric}"
metric_type = "{metric_type}"
{extra}
"""


def warehouse_experiment(
    name: str, *metrics: str, title: str | None = None, experiment: str | None = None
) -> str:
    """An experiment on the warehouse's ``exposures`` (``experiment`` names its rows, by
    default ``name``) with ``metrics`` (metric blocks; by default :data:`PURCHASE`)."""
    head = _WAREHOUSE.format(name=name, title=title or name, experiment=experiment or name)
    return head + "".join(metrics or (PURCHASE,))


def csv_experiment(
    name: str,
    title: str,
    file: str,
    metric: str = "converted",
    metric_type: str = "binary",
    extra: str = "",
) -> str:
    """An A/B experiment on ``data/FILE`` (a demo conversion test by default; ``extra``
    lines of its own)."""
    return CSV_EXPERIMENT.format(
        name=name, title=title, file=file, metric=metric, metric_type=metric_type, extra=extra
    )


#: The demo's signup test (``data/signup_conversion.csv``).
SIGNUP = csv_experiment("signup-page", "Signup page", "signup_conversion.csv")


def config(
    *experiments: str,
    settings: str = "exact_draws = 8000",
    programme: str = "",
    url: str = "duckdb://data/demo.duckdb",
    dialect: str | None = None,
) -> str:
    """A whole config: ``[settings]`` and ``[programme]`` lines (none: no table), the
    warehouse source at ``url`` and the experiments."""
    text = f"\n[settings]\n{settings}\n" if settings else ""
    text += f"\n[programme]\n{programme}\n" if programme else ""
    text += f'\n[sources.warehouse]\nurl = "{url}"\n'
    text += f'dialect = "{dialect}"\n' if dialect else ""
    return text + "".join(experiments)
