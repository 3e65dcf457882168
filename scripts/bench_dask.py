#!/usr/bin/env python
"""Province scale: ``ecogis overlaps --engine dask`` on a real dask cluster of 1 and 2 workers.

Generates a synthetic province workspace with ``bench_overlap.make_county`` (``--scale 1`` =
200 000 farmland parcels and 5 000 redline corridors; a province of 5 M parcels is
``--scale 25``), starts a real cluster the way a bureau would across machines — ``dask
scheduler`` and ``dask worker`` processes on this machine — and times, each as the whole CLI
process, best of ``--repeat``:

* ``ecogis overlaps WS --format json`` (in-process engine, threads);
* ``ecogis overlaps WS --format json --engine dask --scheduler tcp://127.0.0.1:PORT`` with 1
  worker, then with 2 workers;

with the peak RSS of the CLI process and of each worker process (the workers' own maxrss,
asked of them at the end), and checks that the three JSON results agree (matrix and rules to
1e-9). Prints a Markdown report.

Usage::

    PYTHONPATH=. python scripts/bench_dask.py --scale 0.25 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from benchpeers import best_of, env_with_tree, timed  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_cluster(n_workers: int, env: dict) -> tuple[str, list[subprocess.Popen]]:
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    bindir = Path(sys.executable).parent
    dask_cli = str(bindir / "dask") if (bindir / "dask").exists() else "dask"
    procs = [subprocess.Popen([dask_cli, "scheduler", "--host", "127.0.0.1", "--port",
                               str(port), "--no-dashboard"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    for _ in range(n_workers):
        procs.append(subprocess.Popen([dask_cli, "worker", address, "--nthreads", "1",
                                       "--no-dashboard", "--memory-limit", "0"], env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    from distributed import Client

    with Client(address, timeout=60) as c:
        c.wait_for_workers(n_workers, timeout=120)
    return address, procs


def _worker_peaks(address: str) -> list[float]:
    import resource

    from distributed import Client

    with Client(address, timeout=30) as c:
        got = c.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return sorted(got.values())


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in reversed(procs):
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()


def _cmp(a: dict, b: dict) -> float:
    worst = 0.0
    for key in ("matrix", "rules"):
        for x, y in zip(a[key], b[key], strict=True):
            for k in ("area_m2",):
                if x[k] or y[k]:
                    worst = max(worst, abs(x[k] - y[k]) / max(abs(x[k]), abs(y[k])))
    return worst


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=0.25)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args(argv)

    import bench_overlap

    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench-dask-"))
    work.mkdir(parents=True, exist_ok=True)
    ws = work / f"province_{args.scale:g}.gpkg"
    if not ws.exists():
        t = time.perf_counter()
        bench_overlap.write_workspace(ws, bench_overlap.make_county(args.scale))
        print(f"generated {ws} in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    env = env_with_tree()
    base = [sys.executable, "-m", "ecogis.cli", "overlaps", str(ws), "--format", "json",
            "--unit", "m2"]
    rows, outputs = [], {}

    def run(label: str, cmd: list[str], address: str | None = None) -> None:
        runs = []
        for _ in range(args.repeat):
            out = work / f"{label}.json"
            with open(out, "w") as fh:
                runs.append(timed(cmd, env=env, stdout=fh))
        best = best_of(runs)
        outputs[label] = json.loads((work / f"{label}.json").read_text())
        peaks = _worker_peaks(address) if address else []
        rows.append((label, best, peaks))
        print(f"{label}: {best['all_seconds']} s, {best['peak_rss_mb']:.0f} MB, workers "
              f"{[round(p) for p in peaks]} MB", file=sys.stderr)

    run("local", base)
    for n in (1, 2):
        address, procs = _start_cluster(n, env)
        try:
            run(f"dask-{n}", [*base, "--engine", "dask", "--scheduler", address], address)
        finally:
            _stop(procs)

    import pyogrio

    n_farm = pyogrio.read_info(ws, layer="farmland")["features"]
    n_red = pyogrio.read_info(ws, layer="redline")["features"]
    lines = [
        f"Run {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC} on {os.cpu_count()} cores "
        f"({platform.processor() or platform.machine()}), shared with other jobs "
        f"(1-minute load {os.getloadavg()[0]:.1f} at the end).",
        f"Workspace: `bench_overlap.make_county({args.scale:g})`: {n_farm:,} farmland parcels, "
        f"{n_red:,} redline corridors, UGB, protected, water, industrial (EPSG:4523).",
        "",
        f"| run | wall s, best of {args.repeat} (all) | peak RSS of the CLI (MB) | peak RSS "
        "per worker (MB) | speed-up over 1 worker |",
        "|---|---:|---:|---:|---:|",
    ]
    one = next((b for label, b, _ in rows if label == "dask-1"), None)
    for label, b, peaks in rows:
        what = {"local": "in-process engine (threads)", "dask-1": "--engine dask, 1 worker",
                "dask-2": "--engine dask, 2 workers"}[label]
        su = f"{one['seconds'] / b['seconds']:.2f}×" if one and label.startswith("dask") else ""
        lines.append(f"| {what} | {b['seconds']:.2f} ({', '.join(map(str, b['all_seconds']))}) "
                     f"| {b['peak_rss_mb']:.0f} | "
                     f"{', '.join(f'{p:.0f}' for p in peaks) or '—'} | {su} |")
    diff = max(_cmp(outputs["local"], outputs[k]) for k in outputs if k != "local")
    lines += ["", f"Largest relative difference of the dask results from the in-process "
              f"engine (matrix and rule areas): {diff:.1e}."]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
