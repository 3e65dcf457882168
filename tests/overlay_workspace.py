"""A small realistic workspace inside the real 安居区 boundary with planted overlaps.

Everything is laid out in the CGCS2000 3° Gauss-Krüger plane of CM 105°E (EPSG:4544, metres)
around a point inside 安居区, then stored in mixed CRSs as real data arrive: farmland in the
prefixed zone-35 plane (EPSG:4523), redline in EPSG:4544, the rest in lon/lat (EPSG:4490).

Planted geometry (GK metres relative to the window origin X0, Y0), with closed-form overlaps:

* farmland: Voronoi parcels in [0, 3000] × [0, 2000] (seeded), plus the parcel ``P`` =
  [3500, 4000] × [0, 400] named 试点图斑.
* ugb ``U`` = [3800, 4400] × [100, 400]: U ∩ P = 200 × 300 = 60 000 m².
* redline ``R1`` = [3600, 3700] × [200, 600] and ``R2`` = [3650, 3750] × [300, 700] overlap each
  other; with P: R1 ∩ P = 20 000, R2 ∩ P = 10 000, R1 ∩ R2 ∩ P = 5 000, so the dissolved
  overlap is 25 000 m² and the raw sum 30 000 m².
* water_source 一级 ``W1`` = [5000, 5400] × [0, 400]; 二级 = [4300, 5800] × [-200, 800] − W1
  (the 二级 zone overlaps U, which is no conflict rule).
* industrial ``I`` = [5300, 5600] × [300, 600]: I ∩ W1 = 100 × 100 = 10 000 m².
* a ugb disc and a protected core disc overlap over the Voronoi parcels; seeded corridors of
  redline overlap each other and the parcels.
* admin: the real 安居区 split into three towns (西片, 中片, 东片) at X0 + 1000 and X0 + 4700.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from pyproj import Transformer

GK = "EPSG:4544"
X0, Y0 = 535_000.0, 3_361_000.0

P_BOX = (3500, 0, 4000, 400)
U_BOX = (3800, 100, 4400, 400)
R1_BOX = (3600, 200, 3700, 600)
R2_BOX = (3650, 300, 3750, 700)
W1_BOX = (5000, 0, 5400, 400)
W2_BOX = (4300, -200, 5800, 800)
I_BOX = (5300, 300, 5600, 600)

U_P_M2 = 60_000.0
R_P_DISSOLVED_M2 = 25_000.0
R_P_RAW_M2 = 30_000.0
I_W1_M2 = 10_000.0


def gk_box(b) -> shapely.Polygon:
    """A box given relative to the window origin, in EPSG:4544 metres."""
    return shapely.box(X0 + b[0], Y0 + b[1], X0 + b[2], Y0 + b[3])


def to_crs(geoms, src: str, dst: str):
    """Reproject shapely geometries with plain pyproj (always_xy)."""
    t = Transformer.from_crs(src, dst, always_xy=True)
    return shapely.transform(np.asarray(geoms, dtype=object),
                             lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))


def voronoi_parcels(rng, n=700, keep=0.7, w=3000.0, h=2000.0):
    """Voronoi cells fully inside the window, a share ``keep`` of them (a valid coverage)."""
    pts = np.column_stack([rng.uniform(X0, X0 + w, n), rng.uniform(Y0, Y0 + h, n)])
    cells = shapely.get_parts(shapely.voronoi_polygons(
        shapely.multipoints(pts), extend_to=shapely.box(X0 - w, Y0 - h, X0 + 2 * w, Y0 + 2 * h),
        ordered=True))
    inside = shapely.contains_properly(shapely.box(X0, Y0, X0 + w, Y0 + h), cells)
    cells = cells[inside]
    return cells[rng.uniform(0, 1, len(cells)) < keep]


def corridors(rng, n=8):
    """Buffered random walks across the Voronoi window (overlapping each other)."""
    out = []
    for _ in range(n):
        x, y = X0 + rng.uniform(300, 2700), Y0 + rng.uniform(300, 1700)
        h = rng.uniform(0, 2 * np.pi)
        xs, ys = [x], [y]
        for _ in range(25):
            h += rng.normal(0, 0.35)
            x, y = x + 40 * np.cos(h), y + 40 * np.sin(h)
            xs.append(x)
            ys.append(y)
        out.append(shapely.buffer(shapely.linestrings(xs, ys), rng.uniform(15, 40), quad_segs=4))
    return out


def layers_gk(anju: gpd.GeoDataFrame, seed: int = 7) -> dict:
    """Return ``{name: (GeoDataFrame in EPSG:4544, kind, store_crs)}`` (written in this order)."""
    rng = np.random.default_rng(seed)
    county = to_crs(anju.geometry.values, "EPSG:4490", GK)[0]
    assert county.contains(shapely.box(X0 - 100, Y0 - 300, X0 + 6000, Y0 + 2100))

    parcels = list(voronoi_parcels(rng)) + [gk_box(P_BOX)]
    farmland = gpd.GeoDataFrame({
        "name": [None] * (len(parcels) - 1) + ["试点图斑"],
        "town": ["西片" if shapely.centroid(p).x < X0 + 1000 else "中片" for p in parcels],
    }, geometry=parcels, crs=GK)

    red = corridors(rng) + [gk_box(R1_BOX), gk_box(R2_BOX)]
    redline = gpd.GeoDataFrame({"name": [f"红线廊道{i + 1}" for i in range(len(red) - 2)]
                                + ["红线R1", "红线R2"]}, geometry=red, crs=GK)

    disc = shapely.Point(X0 + 1500, Y0 + 1000).buffer(500, quad_segs=16)
    ugb = gpd.GeoDataFrame({"name": ["城镇开发边界-东", "城镇开发边界-中"],
                            "zone": ["集中建设区", "弹性发展区"]},
                           geometry=[gk_box(U_BOX), disc], crs=GK)

    core = shapely.Point(X0 + 2000, Y0 + 1200).buffer(200, quad_segs=16)
    general = shapely.Point(X0 + 2000, Y0 + 1200).buffer(600, quad_segs=16).difference(core)
    protected = gpd.GeoDataFrame({"name": ["湿地公园", "湿地公园"],
                                  "zone": ["核心保护区", "一般控制区"]},
                                 geometry=[core, general], crs=GK)

    w1 = gk_box(W1_BOX)
    water = gpd.GeoDataFrame({"name": ["琼江水源地", "琼江水源地"], "level": ["一级", "二级"]},
                             geometry=[w1, gk_box(W2_BOX).difference(w1)], crs=GK)
    industrial = gpd.GeoDataFrame({"name": ["安居工业园"]}, geometry=[gk_box(I_BOX)], crs=GK)

    cuts = [X0 + 1000, X0 + 4700]
    b = county.bounds
    strips = [shapely.box(b[0] - 1, b[1] - 1, cuts[0], b[3] + 1),
              shapely.box(cuts[0], b[1] - 1, cuts[1], b[3] + 1),
              shapely.box(cuts[1], b[1] - 1, b[2] + 1, b[3] + 1)]
    towns = gpd.GeoDataFrame({"name": ["西片", "中片", "东片"]},
                             geometry=[county.intersection(s) for s in strips], crs=GK)
    return {
        "farmland": (farmland, "farmland", "EPSG:4523"),
        "redline": (redline, "redline", "EPSG:4544"),
        "ugb": (ugb, "ugb", "EPSG:4490"),
        "protected": (protected, "protected_area", "EPSG:4490"),
        "water": (water, "water_source", "EPSG:4490"),
        "industrial": (industrial, "industrial_park", "EPSG:4490"),
        "towns": (towns, "admin", "EPSG:4490"),
    }


def build_workspace(path, anju: gpd.GeoDataFrame, seed: int = 7):
    """Write the layers to an ecogis workspace at ``path``; return the Workspace."""
    from ecogis.workspace import Workspace

    ws = Workspace.open(path, create=True)
    with ws.transaction():
        for name, (gdf, kind, store) in layers_gk(anju, seed).items():
            out = gdf.copy()
            geoms = gdf.geometry.values
            if store == "EPSG:4490":  # a real reprojection: densify so edges stay GK-straight
                geoms = shapely.segmentize(np.asarray(geoms, dtype=object), 5.0)
            out = out.set_geometry(gpd.GeoSeries(to_crs(geoms, GK, store), crs=store))
            ws.write(name, out, kind, source="tests/overlay_workspace.py", synthetic=True)
    return ws
