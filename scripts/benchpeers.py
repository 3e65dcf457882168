"""Shared by the bench_*.py scripts: whole-process timing and the peers (PostGIS, QGIS).

* :func:`timed` runs a command as its own process under ``/usr/bin/time`` and returns its
  wall time and peak RSS (the child's own maxrss, so start-up, reads and output count);
* :func:`postgis_available` / :func:`in_throwaway_postgis`: a command run inside
  ``pg_virtualenv`` (Debian postgresql-common: a temporary cluster on a free port, dropped
  afterwards), with the PostGIS extension created before the clock starts;
* :func:`qgis_available`: ``qgis_process`` on the PATH.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def env_with_tree() -> dict[str, str]:
    """The environment with this checkout first on PYTHONPATH (and no progress bars)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["ECOGIS_QUIET"] = "1"
    return env


def timed(cmd: list[str], *, env: dict | None = None, stdout=subprocess.DEVNULL) -> dict:
    """Run ``cmd`` as one process; return ``seconds`` (wall), ``peak_rss_mb``, ``rc``.

    ``/usr/bin/time -f "%e %M"`` measures the process itself (GNU time's maxrss of the child),
    so each run's peak is its own; without GNU time, the wall clock and RUSAGE_CHILDREN.
    """
    fd, out = tempfile.mkstemp(suffix=".time")
    os.close(fd)
    try:
        if Path("/usr/bin/time").exists():
            proc = subprocess.run(["/usr/bin/time", "-f", "%e %M", "-o", out, *cmd], env=env,
                                  stdout=stdout, stderr=subprocess.PIPE, text=True)
            text = Path(out).read_text().strip().splitlines()
            wall, kb = text[-1].split() if text else ("nan", "0")
            res = {"seconds": float(wall), "peak_rss_mb": int(kb) / 1024}
        else:  # pragma: no cover
            import resource
            import time

            t = time.perf_counter()
            proc = subprocess.run(cmd, env=env, stdout=stdout, stderr=subprocess.PIPE, text=True)
            res = {"seconds": time.perf_counter() - t, "peak_rss_mb":
                   resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}
        res["rc"] = proc.returncode
        res["stderr"] = proc.stderr[-3000:]
        if proc.returncode:
            print(f"warning: {' '.join(map(str, cmd[:6]))} ... exited {proc.returncode}:\n"
                  f"{proc.stderr[-2000:]}", file=sys.stderr)
        return res
    finally:
        Path(out).unlink(missing_ok=True)


def best_of(runs: list[dict]) -> dict:
    """The fastest of several runs (each a :func:`timed` result), with the run count."""
    ok = [r for r in runs if not r.get("rc")] or runs
    best = dict(min(ok, key=lambda r: r["seconds"]))
    best["runs"] = len(runs)
    best["all_seconds"] = [round(r["seconds"], 2) for r in runs]
    return best


def postgis_available() -> bool:
    """True when ``pg_virtualenv`` can make a throwaway cluster (postgresql-common)."""
    return shutil.which("pg_virtualenv") is not None


def in_throwaway_postgis(cmd: list[str]) -> list[str]:
    """Wrap ``cmd`` to run inside a temporary PostgreSQL cluster (PGHOST etc. set)."""
    return ["pg_virtualenv", "-o", "shared_buffers=256MB", "-o", "work_mem=64MB",
            "-o", "fsync=off", *cmd]


def qgis_cmd() -> list[str]:
    """``qgis_process`` (its binary directly: Debian's wrapper adds an option 3.22 refuses)."""
    binary = Path("/usr/bin/qgis_process.bin")
    return [str(binary)] if binary.exists() else ["qgis_process"]


def qgis_available() -> bool:
    return Path("/usr/bin/qgis_process.bin").exists() or shutil.which("qgis_process") is not None


def qgis_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    run = Path(tempfile.gettempdir()) / f"qgis-runtime-{os.getuid()}"
    run.mkdir(mode=0o700, exist_ok=True)
    env.setdefault("XDG_RUNTIME_DIR", str(run))
    return env


def pg_load(gpkg: str | Path, layers: list[str], *, fid: str = "fid") -> None:
    """Load GeoPackage layers into the current PostgreSQL (PG* environment) with ogr2ogr."""
    for layer in layers:
        subprocess.run(["ogr2ogr", "-f", "PostgreSQL", "PG:", str(gpkg), layer, "-nln", layer,
                        "-lco", "GEOMETRY_NAME=geom", "-lco", f"FID={fid}",
                        "-lco", "SPATIAL_INDEX=GIST", "-nlt", "PROMOTE_TO_MULTI",
                        "-overwrite", "--config", "PG_USE_COPY", "YES"], check=True,
                       capture_output=True)


def ratio(peer: dict | None, ours: dict | None) -> str:
    """``peer time / our time`` as ``2.1×`` (above 1: ecogis is faster)."""
    if not peer or not ours or not ours.get("seconds"):
        return "—"
    return f"{peer['seconds'] / ours['seconds']:.2f}×"
