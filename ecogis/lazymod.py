"""Modules imported on first use, so light commands start without the heavy geo stack."""

from __future__ import annotations

import importlib
from types import ModuleType


class LazyModule:
    """Stand-in for a module that imports it on the first attribute access.

    ``gpd = LazyModule("geopandas")`` at the top of a module costs nothing; ``gpd.read_file``
    imports geopandas then (once; Python caches it in :data:`sys.modules`).
    """

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str):
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attr)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"
