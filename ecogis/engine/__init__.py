"""Where the heavy geometry work runs: in this process (threads), or on a dask cluster.

The overlap analysis cuts layers along one square tile grid (spatial partitions), dissolves
each tile on its own and intersects pairs of parts in chunks; the siting check runs sites in
chunks. Those independent pieces of work go through :func:`parallel_map`, which hands them to
the *current engine*:

* :class:`~ecogis.engine.local.LocalEngine` (default): threads of this process;
* :class:`~ecogis.engine.dask.DaskEngine` (``--engine dask [--scheduler tcp://HOST:PORT]``):
  the tasks of a dask.distributed cluster (extra ``ecogis[dask]``).

Every task runs the same function on the same input either way, so the results are the same
numbers, bit for bit. Tiles are cut along shared edges, so the dissolved parts of different
tiles are disjoint and their areas add up without a merge across tile edges.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

_CURRENT: list[Any] = []


def current():
    """Return the engine in use (None: the default, threads of this process)."""
    return _CURRENT[-1] if _CURRENT else None


@contextmanager
def use(engine) -> Iterator[Any]:
    """Run the block with ``engine`` as the current engine (closed at the end)."""
    _CURRENT.append(engine)
    try:
        yield engine
    finally:
        _CURRENT.pop()
        close = getattr(engine, "close", None)
        if close is not None:
            close()


def parallel_map(func: Callable, items: Sequence, workers: int) -> list:
    """``[func(x) for x in items]`` on the current engine (threads when none is set)."""
    engine = current()
    if engine is not None and len(items) > 1:
        return engine.map(func, list(items))
    if workers > 1 and len(items) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=workers) as ex:
            return list(ex.map(func, items))
    return [func(x) for x in items]


def check_chunks(siting_engine, sites, **kw):
    """:meth:`ecogis.siting.SitingEngine.check_chunks` on the current engine."""
    eng = current()
    if eng is not None and hasattr(eng, "check_chunks"):
        return eng.check_chunks(siting_engine, sites, **kw)
    return siting_engine.check_chunks(sites, **kw)


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--engine local|dask`` and ``--scheduler ADDRESS`` to a command."""
    parser.add_argument("--engine", choices=("local", "dask"), default="local",
                        help="where the geometry work runs: this process (default) or a dask "
                        "cluster (extra ecogis[dask]); the results are the same")
    parser.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                        help="with --engine dask: the scheduler of a running cluster (default: "
                        "a local cluster of this machine's cores)")


def from_args(args):
    """Return the engine the command line asks for (a context manager via :func:`use`)."""
    name = getattr(args, "engine", "local") or "local"
    scheduler = getattr(args, "scheduler", None)
    if name == "local":
        if scheduler:
            from ecogis.errors import InputError

            raise InputError("--scheduler needs --engine dask",
                             fix="add --engine dask, or drop --scheduler")
        from contextlib import nullcontext

        return nullcontext()  # the default: threads of this process
    from ecogis.engine.dask import DaskEngine

    return use(DaskEngine.connect(scheduler))
