"""Generate the county-scale siting benchmark workspace (seeded, synthetic, reproducible).

A 44 km × 36 km county in the CGCS2000 3° Gauss-Krüger plane of CM 105°E (EPSG:4544, where
安居区 lies): Voronoi cells of uniform random points form the land parcels; a smooth random
field decides which cells are permanent farmland (with gaps for villages, roads and ponds), so
the farmland layer is a realistic coverage of >= 200 000 small parcels. Around it:
>= 5 000 ecological-redline polygons (buffered random-walk corridors and blobs, which overlap
each other as real redline patches do), towns (UGB), protected areas with core and general
zones, reservoirs with 一级/二级/准保护区 rings, rivers (some with a declared setback_m),
industrial parks, residential areas and ecological control zones.

    python scripts/gen_siting_bench.py OUT.gpkg [--seed 7] [--cells 440000]

The workspace is marked synthetic; every layer is written through ecogis.workspace.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

CRS = "EPSG:4544"
X0, Y0 = 515_000.0, 3_345_000.0
W, H = 44_000.0, 36_000.0


def _field(rng, x, y, n_waves=6):
    """A smooth random field in [-1, 1]-ish: a sum of plane waves with random directions."""
    f = np.zeros_like(x)
    for _ in range(n_waves):
        k = rng.uniform(1 / 9000, 1 / 2500)
        th = rng.uniform(0, np.pi)
        ph = rng.uniform(0, 2 * np.pi)
        f += np.sin(k * (x * np.cos(th) + y * np.sin(th)) + ph)
    return f / np.sqrt(n_waves / 2)


def _walks(rng, n, steps, step_len, start_xy):
    """Random-walk polylines starting at start_xy (n × 2)."""
    ang = rng.uniform(0, 2 * np.pi, n)
    lines = []
    for i in range(n):
        k = int(rng.integers(steps[0], steps[1] + 1))
        a = ang[i] + np.cumsum(rng.normal(0, 0.45, k))
        ln = rng.uniform(step_len[0], step_len[1], k)
        xs = start_xy[i, 0] + np.concatenate([[0], np.cumsum(ln * np.cos(a))])
        ys = start_xy[i, 1] + np.concatenate([[0], np.cumsum(ln * np.sin(a))])
        lines.append(shapely.LineString(np.column_stack([xs, ys])))
    return np.array(lines, dtype=object)


def _blobs(rng, centres, r_lo, r_hi, lobes=4):
    """Irregular polygons: the union of a few discs around each centre."""
    out = []
    for cx, cy in centres:
        r = rng.uniform(r_lo, r_hi)
        pts = shapely.points(cx + rng.normal(0, r / 2, lobes), cy + rng.normal(0, r / 2, lobes))
        out.append(shapely.union_all(shapely.buffer(pts, rng.uniform(r / 2, r, lobes),
                                                    quad_segs=6)))
    return np.array(out, dtype=object)


def _gdf(geoms, **cols):
    return gpd.GeoDataFrame(cols, geometry=list(geoms), crs=CRS)


def generate(seed: int = 7, cells: int = 440_000) -> dict[str, tuple[str, gpd.GeoDataFrame]]:
    """Return ``{name: (kind, GeoDataFrame)}`` of the benchmark county."""
    rng = np.random.default_rng(seed)
    county = shapely.box(X0, Y0, X0 + W, Y0 + H)
    t = time.perf_counter()
    pts = rng.uniform([X0, Y0], [X0 + W, Y0 + H], (cells, 2))
    vor = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=county))
    vor = shapely.intersection(vor, county)
    c = shapely.centroid(vor)
    cx, cy = shapely.get_x(c), shapely.get_y(c)
    fld = _field(rng, cx - X0, cy - Y0)
    farm_mask = (fld > -0.35) & (rng.random(len(vor)) < 0.78)
    farm = vor[farm_mask]
    print(f"  voronoi {len(vor):,} cells, farmland {len(farm):,} parcels "
          f"({time.perf_counter() - t:.1f} s)", file=sys.stderr)
    towns_c = rng.uniform([X0 + 3000, Y0 + 3000], [X0 + W - 3000, Y0 + H - 3000], (14, 2))
    ugb = _blobs(rng, towns_c, 900, 2600, lobes=5)
    # redline: corridors and blobs where the field is low (hills), overlapping one another
    n_red = 5200
    cand = rng.uniform([X0, Y0], [X0 + W, Y0 + H], (n_red * 6, 2))
    low = _field(np.random.default_rng(seed), cand[:, 0] - X0, cand[:, 1] - Y0) < -0.1
    starts = cand[low][:n_red]
    n_walk = n_red * 2 // 3
    walks = _walks(rng, n_walk, (3, 12), (80, 260), starts[:n_walk])
    red = np.concatenate([
        shapely.buffer(walks, rng.uniform(25, 110, n_walk), quad_segs=4),
        _blobs(rng, starts[n_walk:], 60, 260, lobes=3),
    ])
    red = shapely.intersection(red, county)
    red = red[~shapely.is_empty(red)]
    # protected areas: general zone blobs with a core inside
    pa_c = rng.uniform([X0 + 2000, Y0 + 2000], [X0 + W - 2000, Y0 + H - 2000], (24, 2))
    general = _blobs(rng, pa_c, 700, 1800)
    core = shapely.buffer(general, -350, quad_segs=4)
    keep = ~shapely.is_empty(core)
    pa = np.concatenate([shapely.difference(general[keep], core[keep]), core[keep],
                         general[~keep]])
    zones = ["实验区"] * int(keep.sum()) + ["核心区"] * int(keep.sum()) + \
        ["一般控制区"] * int((~keep).sum())
    # reservoirs with three protection levels
    ws_c = rng.uniform([X0 + 2500, Y0 + 2500], [X0 + W - 2500, Y0 + H - 2500], (40, 2))
    p = shapely.points(ws_c)
    l1 = shapely.buffer(p, 300, quad_segs=8)
    l2 = shapely.difference(shapely.buffer(p, 1000, quad_segs=8), l1)
    l3 = shapely.difference(shapely.buffer(p, 2000, quad_segs=8), shapely.buffer(p, 1000,
                                                                                  quad_segs=8))
    water = np.concatenate([l1, l2, l3])
    levels = ["一级"] * 40 + ["二级"] * 40 + ["准保护区"] * 40
    # rivers: long random walks; a third declare a setback
    rv_start = rng.uniform([X0, Y0], [X0 + W, Y0 + H], (60, 2))
    rivers = shapely.intersection(_walks(rng, 60, (20, 120), (150, 400), rv_start), county)
    keep = ~shapely.is_empty(rivers)
    rivers = rivers[keep]
    setback = np.where(rng.random(len(rivers)) < 0.33, rng.choice([10.0, 20.0, 30.0, 50.0],
                                                                   len(rivers)), np.nan)
    names = [f"河流{i}" for i in range(len(rivers))]
    names[0] = "涪江"
    parks_c = rng.uniform([X0 + 3000, Y0 + 3000], [X0 + W - 3000, Y0 + H - 3000], (10, 2))
    parks = shapely.box(parks_c[:, 0], parks_c[:, 1], parks_c[:, 0] + rng.uniform(800, 3000, 10),
                        parks_c[:, 1] + rng.uniform(800, 3000, 10))
    homes = _blobs(rng, rng.uniform([X0, Y0], [X0 + W, Y0 + H], (300, 2)), 80, 300, lobes=3)
    eco = _blobs(rng, rng.uniform([X0, Y0], [X0 + W, Y0 + H], (50, 2)), 400, 1200)
    return {
        "farmland": ("farmland", _gdf(farm, grade=rng.integers(1, 11, len(farm)))),
        "redline": ("redline", _gdf(red, name=[f"红线{i}" for i in range(len(red))])),
        "ugb": ("ugb", _gdf(ugb, zone=["集中建设区"] * len(ugb))),
        "protected_area": ("protected_area", _gdf(pa, zone=zones)),
        "water_source": ("water_source", _gdf(water, level=levels)),
        "rivers": ("river", _gdf(rivers, name=names, setback_m=setback)),
        "industrial_parks": ("industrial_park", _gdf(parks)),
        "residential": ("residential", _gdf(homes)),
        "eco_control": ("eco_control", _gdf(eco)),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--cells", type=int, default=440_000)
    a = ap.parse_args(argv)
    from ecogis.workspace import Workspace

    t = time.perf_counter()
    layers = generate(a.seed, a.cells)
    if a.out.exists():
        a.out.unlink()
    ws = Workspace.open(a.out, create=True)
    with ws.transaction():
        for name, (kind, gdf) in layers.items():
            ws.write(name, gdf, kind, synthetic=True,
                     source=f"scripts/gen_siting_bench.py --seed {a.seed} --cells {a.cells}")
        ws.set_meta(region="anju", synthetic=True)
    for name, (kind, gdf) in layers.items():
        print(f"  {name:18s} {kind:16s} {len(gdf):>8,}", file=sys.stderr)
    print(f"wrote {a.out} in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
