"""The dask engine: pieces of work as tasks on a dask.distributed cluster (``ecogis[dask]``).

``DaskEngine.connect("tcp://HOST:PORT")`` joins a running cluster (``dask scheduler`` on one
machine, ``dask worker tcp://HOST:PORT`` on each of the others); ``connect(None)`` starts a
local cluster of this machine's cores. An address that does not answer is an
:class:`~ecogis.errors.InputError` (exit 2) — never a silent run in this process.

Tasks are batched (a few per worker) so a grid of thousands of tiles costs a few dozen task
round trips; items and results travel as pickles (shapely geometries as WKB).
"""

from __future__ import annotations

import os
from collections.abc import Callable

from ecogis.errors import InputError


def _timeout() -> float:
    """Seconds to wait for a scheduler to answer (``$ECOGIS_DASK_TIMEOUT``, default 10)."""
    try:
        return float(os.environ.get("ECOGIS_DASK_TIMEOUT", "10"))
    except ValueError:
        return 10.0


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


def _run_batch(func: Callable, batch: list) -> list:
    return [func(x) for x in batch]


def _check(engine, ss, method: str):
    res = engine.check(ss, method=method)
    res.engine = None  # the engine stays on the worker
    return res


class DaskEngine:
    """A dask.distributed client; :meth:`map` runs a function over items as cluster tasks."""

    name = "dask"

    def __init__(self, client, cluster=None, address: str | None = None) -> None:
        self.client = client
        self.cluster = cluster
        self.address = address
        # below these sizes a round trip to the cluster costs more than the work: such
        # steps run in the CLI process (the same functions, so the same numbers)
        self.min_items = _env_int("ECOGIS_DASK_MIN_ITEMS", 64)
        self.min_pairs = _env_int("ECOGIS_DASK_MIN_PAIRS", 20_000)

    @classmethod
    def connect(cls, scheduler: str | None = None, *, n_workers: int | None = None,
                processes: bool = True) -> DaskEngine:
        """Join the cluster at ``scheduler``, or start a local one (``n_workers`` processes)."""
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise InputError("--engine dask needs dask.distributed, which is not installed",
                             fix="pip install 'ecogis[dask]'") from None
        if scheduler:
            if "://" not in scheduler:
                raise InputError(f"--scheduler {scheduler!r} is not an address",
                                 fix="give the scheduler as tcp://HOST:PORT (what `dask "
                                 "scheduler` prints)")
            try:
                client = Client(scheduler, timeout=_timeout(),
                                set_as_default=False)
            except (OSError, TimeoutError) as exc:
                raise InputError(f"no dask scheduler answers at {scheduler} "
                                 f"({type(exc).__name__}: {str(exc).splitlines()[0][:160]})",
                                 fix="start one there with `dask scheduler` (and workers with "
                                 "`dask worker ADDRESS`), or check --scheduler") from None
            if not client.scheduler_info().get("workers"):
                try:
                    client.wait_for_workers(1, timeout=_timeout())
                except (OSError, TimeoutError):
                    client.close()
                    raise InputError(f"the dask scheduler at {scheduler} has no workers",
                                     fix="start workers with `dask worker "
                                     f"{scheduler}`") from None
            return cls(client, None, scheduler)
        n = n_workers or max(1, os.cpu_count() or 1)
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=processes,
                               dashboard_address=None)
        client = Client(cluster, set_as_default=False)
        return cls(client, cluster, cluster.scheduler_address)

    @property
    def n_workers(self) -> int:
        return max(1, len(self.client.scheduler_info().get("workers", {})))

    def map(self, func: Callable, items: list) -> list:
        """``[func(x) for x in items]`` as cluster tasks, in order."""
        if not items:
            return []
        if len(items) < self.min_items:
            return [func(x) for x in items]
        k = min(len(items), 4 * self.n_workers)
        size = -(-len(items) // k)
        batches = [items[i:i + size] for i in range(0, len(items), size)]
        futures = self.client.map(_run_batch, [func] * len(batches), batches, pure=False)
        out: list = []
        for part in self.client.gather(futures):
            out.extend(part)
        return out

    def check_chunks(self, siting_engine, sites, *, chunk: int = 5_000,
                     category: str | None = None, width_m: float | None = None,
                     radius_m: float | None = None, method: str = "ellipsoidal",
                     file: str | None = None):
        """Yield the :class:`~ecogis.siting.CheckResult` of each chunk of sites, in order,
        each checked by a worker; the engine (layer indexes) is sent to every worker once."""
        from ecogis.siting import SiteSet, prepare_sites

        ss = sites if isinstance(sites, SiteSet) else prepare_sites(
            sites, siting_engine.crs, siting_engine.rulebook.categories, category=category,
            width_m=width_m, radius_m=radius_m, file=file)
        remote = self.client.scatter(siting_engine, broadcast=True)
        chunk = max(1, int(chunk))
        window = 2 * self.n_workers  # chunks in flight: memory stays bounded
        starts = list(range(0, len(ss), chunk))
        pending = []
        for start in starts:
            pending.append(self.client.submit(_check, remote, ss.slice(start, start + chunk),
                                              method, pure=False))
            if len(pending) >= window:
                yield pending.pop(0).result()
        for f in pending:
            yield f.result()

    def describe(self) -> dict:
        return {"engine": "dask", "scheduler": self.address, "workers": self.n_workers}

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()
