"""The in-process engine: independent pieces of work on threads (GEOS releases the GIL)."""

from __future__ import annotations

from collections.abc import Callable


class LocalEngine:
    """Threads of this process; ``map`` keeps the order of the items."""

    name = "local"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers

    def map(self, func: Callable, items: list) -> list:
        from concurrent.futures import ThreadPoolExecutor

        from ecogis.overlay import default_workers

        workers = self.workers or default_workers()
        if workers <= 1 or len(items) <= 1:
            return [func(x) for x in items]
        with ThreadPoolExecutor(max_workers=workers) as ex:
            return list(ex.map(func, items))

    def describe(self) -> dict:
        return {"engine": "local", "workers": self.workers}

    def close(self) -> None:
        pass
