"""One posterior computed two ways (importance sampling and NUTS): do they agree?"""

import numpy as np
import pytest

from analyses.core.results import plain

#: A 94% HDI of a normal posterior is about this many posterior sds wide.
HDI_SDS = 3.8


def combined_ess(fast, nuts) -> float:
    """The effective draws behind a difference of two fits' estimates: 1/ess = 1/a + 1/b."""
    fast, nuts = plain(fast.diagnostics), plain(nuts.diagnostics)
    return 1 / (1 / fast["ess_bulk_min"] + 1 / nuts["ess_bulk_min"])


def assert_agree(fast: dict, nuts: dict, ess: float, label: object = None) -> None:
    """Two summaries (``mean``, ``hdi``) of one quantity: means within five combined Monte
    Carlo standard errors, HDI widths within 10%."""
    fast, nuts = plain(fast), plain(nuts)
    width = nuts["hdi"][1] - nuts["hdi"][0]
    sd = width / HDI_SDS
    assert fast["mean"] == pytest.approx(nuts["mean"], abs=5 * sd / np.sqrt(ess)), label
    assert fast["hdi"][1] - fast["hdi"][0] == pytest.approx(width, rel=0.1), label
