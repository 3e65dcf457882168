"""Whole-process benchmark of ``ecogis map`` beside plain folium on the same features.

Builds a workspace on the real 安居区 boundary with N synthetic farmland parcels (a square
grid, a valid coverage), 12 towns and 60 self-overlapping redline corridors (the layer that
crashed ``maps.display_geometry``), then times, each as its own process (best of ``--repeat``):

* ``ecogis map WS -o a.html --no-dissolve`` (every parcel drawn),
* ``ecogis map WS -o b.html`` (default: large coverage dissolved by town),
* a plain folium script on the same features: geopandas reads the same layers from the
  same GeoPackage, ``folium.GeoJson`` per layer, ``Map.save`` (no simplification, no
  popups, Leaflet from the CDN) — what a planner would write by hand.

Prints wall seconds, peak RSS (MB) and output size per run, and the ratios ecogis / folium.

    python scripts/bench_map.py [--parcels 200000] [--repeat 2] [OUTDIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

PLAIN_FOLIUM = r"""
import sys, folium, geopandas as gpd, pyogrio
ws, out = sys.argv[1], sys.argv[2]
m = folium.Map(tiles=None, control_scale=True)
for name in ("towns", "redline", "farmland"):
    gdf = gpd.read_file(ws, layer=name)
    folium.GeoJson(gdf, name=name).add_to(m)
folium.LayerControl().add_to(m)
m.save(out)
"""


def build(ws: Path, parcels: int) -> None:
    import _mapdata as md
    import numpy as np
    from test_map_geometry import _grid_parcels, corridors

    from ecogis.workspace import Workspace

    side = int(np.ceil(np.sqrt(parcels)))
    farmland = _grid_parcels(side).iloc[:parcels]
    w = Workspace.open(ws, create=True)
    with w.transaction():
        w.write("towns", md.towns(), "admin", synthetic=True)
        w.write("redline", corridors(60), "redline", synthetic=True)
        w.write("farmland", farmland, "farmland", synthetic=True)


def run(cmd: list[str], env: dict) -> tuple[float, float]:
    """Run ``cmd``; return (wall seconds, peak RSS in MB) of that process."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    dt = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.read().decode()[-2000:]}")
    return dt, usage.ru_maxrss / 1024.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    ap.add_argument("outdir", nargs="?")
    ap.add_argument("--parcels", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=2)
    a = ap.parse_args()
    out = Path(a.outdir) if a.outdir else Path(tempfile.mkdtemp(prefix="ecogis-bench-map-"))
    out.mkdir(parents=True, exist_ok=True)
    ws = out / f"bench_{a.parcels}.gpkg"
    if not ws.exists():
        t = time.perf_counter()
        build(ws, a.parcels)
        print(f"workspace {ws}: {a.parcels:,} parcels built in {time.perf_counter() - t:.1f} s")
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    py = sys.executable
    (out / "plain_folium.py").write_text(PLAIN_FOLIUM, encoding="utf-8")
    variants = {
        "ecogis --no-dissolve": [py, "-m", "ecogis.cli", "map", str(ws), "-o",
                                 str(out / "ecogis_parcels.html"), "--no-dissolve"],
        "ecogis (dissolved)": [py, "-m", "ecogis.cli", "map", str(ws), "-o",
                               str(out / "ecogis_dissolved.html")],
        "plain folium": [py, str(out / "plain_folium.py"), str(ws), str(out / "folium.html")],
    }
    files = {"ecogis --no-dissolve": "ecogis_parcels.html",
             "ecogis (dissolved)": "ecogis_dissolved.html", "plain folium": "folium.html"}
    res = {}
    for label, cmd in variants.items():
        runs = [run(cmd, env) for _ in range(a.repeat)]
        best = min(runs)
        res[label] = best
        size = (out / files[label]).stat().st_size / 1e6
        print(f"{label:22s} {best[0]:7.1f} s  {max(r[1] for r in runs):7.0f} MB peak  "
              f"{size:7.1f} MB html")
    f = res["plain folium"]
    for label in ("ecogis --no-dissolve", "ecogis (dissolved)"):
        print(f"ratio {label} / plain folium: time {res[label][0] / f[0]:.2f}x, "
              f"peak memory {res[label][1] / f[1]:.2f}x")


if __name__ == "__main__":
    main()
