"""Posterior draws as plain numpy arrays: what an exact fit returns instead of a DataTree.

An exact (conjugate) posterior is a few arrays of independent draws. Its figures read them
as arrays, and the xarray DataTree behind ``posterior.nc`` is built only when that file is
asked for (``save_draws = true``): a readout that writes no ``posterior.nc`` imports
neither xarray nor pandas for its draws.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from pathlib import Path

    import xarray as xr

#: One variable: its dimension names and its array (``("chain", "draw", ...)`` first).
Variable = tuple[tuple[str, ...], np.ndarray]


@dataclass(frozen=True)
class Draws:
    """Groups of draws, as a DataTree would hold them, without xarray.

    Attributes
    ----------
    groups
        ``{group path: {variable: (dims, array)}}``; the first group is ``"posterior"``.
    coords
        ``{group path: {dimension: labels}}`` for the labelled dimensions (arm, treatment).
    """

    groups: dict[str, dict[str, Variable]]
    coords: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    def values(self, variable: str, group: str = "posterior", **at: str) -> np.ndarray:
        """A variable's draws, at the given labels (``treatment="B"``), as ``.sel`` picks."""
        dims, array = self.groups[group][variable]
        for dim, label in at.items():
            axis = dims.index(dim)
            array = np.take(array, self.coords[group][dim].index(label), axis=axis)
            dims = dims[:axis] + dims[axis + 1 :]
        return array

    def __contains__(self, variable: str) -> bool:
        return variable in self.groups.get("posterior", {})

    def to_tree(self) -> xr.DataTree:
        """The same draws as an xarray DataTree (what ``posterior.nc`` holds)."""
        import xarray as xr

        return xr.DataTree.from_dict(
            {
                path: xr.Dataset(variables, coords=self.coords.get(path, {}))
                for path, variables in self.groups.items()
            }
        )

    def to_netcdf(self, path: str | Path, **kwargs) -> None:
        """Write ``posterior.nc`` (as ``DataTree.to_netcdf``)."""
        self.to_tree().to_netcdf(path, **kwargs)
