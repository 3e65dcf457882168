"""Display geometry never yields invalid rings (issue 15, point 4).

Real boundary: 安居区 (tests/data/admin_units.gpkg). The redlines are self-overlapping corridor
parts (a random walk buffered piece by piece, all pieces one MultiPolygon: invalid, as many
digitised redlines are), some a few centimetres wide so that rounding collapses them to two
points, which crashed ``maps.display_geometry`` with ``Invalid number of points in LinearRing
found 2``. Expectations come from plain shapely: validity, dimension and the union's area.
"""

from __future__ import annotations

import _mapdata as md
import geopandas as gpd
import numpy as np
import pytest
import shapely

from ecogis.maps import MapLayer, make_map, render_html, simplify_for_display

GK = md.GK


def corridors(n: int = 60, seed: int = 0, thin: float = 0.02) -> gpd.GeoDataFrame:
    """``n`` redline features, each a MultiPolygon of overlapping buffered walk segments."""
    rng = np.random.default_rng(seed)
    b = md.region().to_crs(GK).geometry.iloc[0]
    x0, y0, x1, y1 = b.bounds
    geoms = []
    for _ in range(n):
        start = [rng.uniform(x0, x1), rng.uniform(y0, y1)]
        pts = start + np.cumsum(rng.normal(0, 300, (40, 2)), axis=0)
        widths = np.where(rng.random(20) < 0.3, thin, rng.uniform(5, 40, 20))
        parts = [shapely.LineString(pts[2 * i:2 * i + 3]).buffer(w, quad_segs=2)
                 for i, w in enumerate(widths[:19])]
        # a sliver triangle a few millimetres across: two points once rounded
        c = pts[-1]
        parts.append(shapely.Polygon([c, c + [0.003, 0], c + [0.003, 0.003]]))
        geoms.append(shapely.MultiPolygon(parts))
    return gpd.GeoDataFrame({"name": [f"示意廊道{i}" for i in range(n)]}, geometry=geoms,
                            crs=GK).to_crs(4490)


def test_corridors_are_really_invalid():
    g = corridors(10).geometry.values
    assert not shapely.is_valid(g).any()


@pytest.mark.parametrize("tol", [0.5, 2.0, 8.0, 64.0])
@pytest.mark.parametrize("grid", [None, "m", "deg"])
def test_self_overlapping_corridors_give_valid_display(tol, grid):
    gdf = corridors()
    kw = {"generalise_m": 50.0} if grid == "m" else {"grid_deg": 0.0005} if grid == "deg" else {}
    r = simplify_for_display(gdf.geometry.values, tol, **kw)
    shown = r.geoms
    assert len(shown) == len(gdf)
    assert shapely.is_valid(shown).all()
    keep = ~shapely.is_empty(shown)
    assert set(shapely.get_type_id(shown[keep]).tolist()) <= {3, 6}  # polygonal only
    assert r.repaired == int(keep.sum())  # every feature was invalid, each counted once
    assert r.dropped == int((~keep).sum())
    # the display area is the union's area (overlaps counted once), up to simplification
    union = [shapely.union_all(shapely.get_parts(g)) for g in gdf.to_crs(GK).geometry.values]
    union = np.array(union, dtype=object)
    a0 = shapely.area(union).sum()
    a1 = gpd.GeoSeries(shown, crs=4490).to_crs(GK).area.sum()
    # no boundary point moves further than the tolerance plus the grid step (0.0005° of
    # latitude ≈ 55 m, of longitude at 30°N ≈ 48 m)
    step = {"m": 50.0, "deg": 55.0}.get(grid, 0.0)
    assert abs(a1 - a0) <= shapely.length(union).sum() * (tol + step)


def test_rounding_collapsed_ring_is_dropped_not_raised():
    # a feature that is nothing but a 3 mm sliver: rounding to 1e-5° collapses it entirely
    c = (105.3, 30.3)
    sliver = shapely.Polygon([c, (c[0] + 3e-8, c[1]), (c[0] + 3e-8, c[1] + 3e-8)])
    good = shapely.box(105.2, 30.2, 105.21, 30.21)
    both = shapely.MultiPolygon([sliver, good])
    with pytest.raises(shapely.errors.GEOSException, match="LinearRing"):
        # the old code path: round, then remove repeated points
        shapely.remove_repeated_points(shapely.transform(both, lambda xy: np.round(xy, 5)))
    r = simplify_for_display(np.array([sliver, both, good], dtype=object), 2.0)
    assert r.dropped == 1 and shapely.is_empty(r.geoms[0])
    assert shapely.is_valid(r.geoms).all()
    assert abs(shapely.area(r.geoms[1]) - shapely.area(good)) < 1e-9


def test_map_with_self_overlapping_redline_and_parcels(tmp_path):
    layers = [MapLayer("towns", "admin", md.towns()),
              MapLayer("redline", "redline", corridors(40)),
              MapLayer("farmland", "farmland", md.farmland(n=3000), dissolve=False)]
    m = make_map(layers, title="测试")
    stats = {s.name: s for s in m.ecogis.layers}
    assert stats["redline"].repaired + stats["redline"].dropped == 40
    assert any("显示几何修复" in n for n in m.ecogis.notes)
    assert "示意廊道" in render_html(m)


def test_cli_map_on_self_overlapping_redline(tmp_path, run_cli):
    from ecogis.workspace import Workspace

    ws = Workspace.open(tmp_path / "ws.gpkg", create=True)
    ws.write("towns", md.towns(), "admin")
    ws.write("redline", corridors(30), "redline")
    ws.write("farmland", md.farmland(n=6000), "farmland")
    rc, out, err = run_cli("map", tmp_path / "ws.gpkg", "-o", tmp_path / "m.html",
                           "--format", "json")
    assert rc == 0, err
    assert (tmp_path / "m.html").stat().st_size > 10_000


def _grid_parcels(n_side: int) -> gpd.GeoDataFrame:
    """``n_side``² square parcels tiling the 安居区 bbox in the GK plane (a valid coverage)."""
    b = md.region().to_crs(GK).geometry.iloc[0]
    x0, y0, x1, y1 = b.bounds
    xs = np.linspace(x0, x1, n_side + 1)
    ys = np.linspace(y0, y1, n_side + 1)
    gx, gy = np.meshgrid(xs[:-1], ys[:-1])
    dx, dy = xs[1] - xs[0], ys[1] - ys[0]
    boxes = shapely.box(gx.ravel(), gy.ravel(), gx.ravel() + dx, gy.ravel() + dy)
    return gpd.GeoDataFrame({"town": np.repeat(np.arange(n_side) // 40, n_side).astype(str)},
                            geometry=boxes, crs=GK).to_crs(4490)


@pytest.mark.slow
def test_200k_parcels_with_corridors_map():
    parcels = _grid_parcels(448)  # 200 704 parcels
    assert len(parcels) > 200_000
    m = make_map([MapLayer("farmland", "farmland", parcels, dissolve=False),
                  MapLayer("redline", "redline", corridors(60))], title="20万图斑")
    stats = {s.name: s for s in m.ecogis.layers}
    assert stats["farmland"].features_out == len(parcels)
    assert stats["farmland"].dropped == 0
    assert stats["redline"].repaired + stats["redline"].dropped == 60
