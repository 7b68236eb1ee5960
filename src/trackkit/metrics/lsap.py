"""The optimal assignment of the metrics: SciPy's ``linear_sum_assignment``, loaded without
importing :mod:`scipy.optimize`.

Importing :mod:`scipy.optimize` executes its whole package (linear programming, the
optimisers, their documentation machinery): about 0.2 s, a sixth of a whole ``trackkit eval
mot`` run. The assignment itself is one compiled module, ``scipy/optimize/_lsap*.so``, that
needs only numpy; it is loaded from SciPy's folder directly. It is the very function
``scipy.optimize.linear_sum_assignment`` is (same code, same tie-breaking), so the metrics
stay identical to the official kit's; if the file cannot be loaded (another SciPy layout),
the public import is used.
"""

from __future__ import annotations

import functools
import importlib.machinery
import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["linear_sum_assignment"]


@functools.cache
def _solver() -> Callable[..., Any]:
    try:
        spec = importlib.util.find_spec("scipy")  # finds, does not import, the package
        folders = list(spec.submodule_search_locations or []) if spec else []
        files = sorted(Path(folders[0], "optimize").glob("_lsap.*")) if folders else []
        files = [f for f in files if f.suffix in (".so", ".pyd")]
        if files:
            name = "scipy.optimize._lsap"
            loader = importlib.machinery.ExtensionFileLoader(name, str(files[0]))
            ext_spec = importlib.util.spec_from_file_location(name, files[0], loader=loader)
            if ext_spec is not None:
                module = importlib.util.module_from_spec(ext_spec)
                loader.exec_module(module)
                return module.linear_sum_assignment  # type: ignore[no-any-return]
    except (ImportError, OSError, AttributeError):
        pass
    from scipy.optimize import linear_sum_assignment as public

    return public


def linear_sum_assignment(
    cost: ArrayLike, maximize: bool = False
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """``scipy.optimize.linear_sum_assignment(cost, maximize)``: row and column indices of
    an optimal assignment (rows ascending)."""
    rows, cols = _solver()(cost, maximize)
    return rows, cols
