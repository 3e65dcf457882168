"""Reconcile: declared plan figures beside layers of known geodesic area.

Every test polygon is built to a target area computed independently with pyproj (GRS80, the
CGCS2000 ellipsoid for areas) by bisection; the territory is the real 安居区 / 永川区 boundary.
"""

from __future__ import annotations

import json
import math

import geopandas as gpd
import numpy as np
import pytest
import shapely
from conftest import ref_area_m2
from pyproj import Transformer

from ecogis.reconcile import (
    AREA_DECLARED_TOTAL,
    AREA_TERRITORY,
    LAYER,
    LAYER_DECLARED_TOTAL,
    LAYER_TERRITORY,
    TERRITORY,
    reconcile,
)
from ecogis.workspace import Workspace, load_target

LON0, LAT0 = 105.30, 30.30  # inside 安居区
DECLARED_TOTAL_M2 = 1258.2e6  # 安居区 总面积约1258.2平方公里 (L67)


def box_with_area(lon0: float, lat0: float, target_m2: float) -> shapely.Polygon:
    """A lon/lat rectangle whose geodesic area (pyproj, independent of ecogis) is target_m2."""
    dlat = math.sqrt(target_m2) / 111_000
    lo, hi = 0.0, 5.0
    for _ in range(80):
        mid = (lo + hi) / 2
        if ref_area_m2(shapely.box(lon0, lat0, lon0 + mid, lat0 + dlat)) < target_m2:
            lo = mid
        else:
            hi = mid
    g = shapely.box(lon0, lat0, lon0 + (lo + hi) / 2, lat0 + dlat)
    assert ref_area_m2(g) == pytest.approx(target_m2, rel=1e-10)
    return g


def gdf(geoms, **cols) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(cols, geometry=list(geoms), crs="EPSG:4490")


@pytest.fixture(scope="module")
def shapes(admin_units):
    """Layers for the 安居区 plan: ok, mismatch and missing on purpose."""
    anju = admin_units[admin_units["name"] == "安居区"].geometry.iloc[0]
    red = box_with_area(LON0, LAT0, 2.52e6)
    x0, y0, x1, y1 = red.bounds
    w = x1 - x0
    core = box_with_area(LON0, LAT0 + 0.05, 410e4)
    exp_ = box_with_area(core.bounds[2], LAT0 + 0.05, 130e4)  # touches the core zone
    return {
        "territory_m2": ref_area_m2(anju),
        # two overlapping halves whose union is exactly the 2.52 km² box
        "redline": [shapely.box(x0, y0, x0 + 0.6 * w, y1), shapely.box(x0 + 0.4 * w, y0, x1, y1)],
        "farmland": box_with_area(105.1, 30.25, 498.61e6 * 0.98),     # -2 %: mismatch
        "cultivated": box_with_area(105.1, 30.25, 551.37e6 * 1.03),   # 不低于: ok
        "eco_control": box_with_area(105.5, 30.45, 171.56e6 * 1.004),  # +0.4 %: ok
        "core": core,
        "experimental": exp_,
        "forest": box_with_area(105.1, 30.2, 0.313 * ref_area_m2(anju)),
    }


@pytest.fixture()
def anju_ws(tmp_path, admin_units, shapes) -> Workspace:
    ws = Workspace.open(tmp_path / "anju.gpkg", create=True)
    with ws.transaction():
        ws.write("districts", admin_units, "admin")  # 8 districts: 安居区 is picked by name
        ws.write("redline", gdf(shapes["redline"], name=["a", "b"]), "redline")
        ws.write("farmland", gdf([shapes["farmland"]]), "farmland")
        ws.write("cultivated", gdf([shapes["cultivated"]]), "cultivated")
        ws.write("eco_control", gdf([shapes["eco_control"]]), "eco_control")
        ws.write("reserve", gdf([shapes["core"], shapes["experimental"]],
                                zone=["核心区", "实验区"], name=["琼江翘嘴红鲌"] * 2),
                 "protected_area")
        names = ["高滩坝", "高滩坝", "三仙湖", "三仙湖", "麻子滩", "跑马滩", "新生水库"]
        pts = [box_with_area(105.6 + 0.02 * i, 30.5, 1e5) for i in range(7)]
        ws.write("sources", gdf(pts, name=names, level=["一级", "二级"] * 3 + ["一级"]),
                 "water_source")
        ws.write("forest", gdf([shapes["forest"]]), "forest")
    return ws


def rows_by_key(result):
    return {(r.id, r.basis): r for r in result.rows}


def test_statuses_on_real_geometry(anju_ws, shapes):
    _, layers = load_target(anju_ws.path)
    res = reconcile("anju", layers)
    rows = rows_by_key(res)
    terr = shapes["territory_m2"]

    t = rows[("total_area", TERRITORY)]
    assert t.measured_m2 == pytest.approx(terr, rel=1e-9)
    assert t.relative_difference == pytest.approx(terr / DECLARED_TOTAL_M2 - 1, rel=1e-6)
    assert t.status == "mismatch"  # 1269.568 vs 约1258.2: recorded as a data note
    assert "districts" in res.territory["source"] and "安居区" in res.territory["source"]

    r = rows[("redline_area", LAYER)]
    union = shapely.union_all(shapes["redline"])  # dissolved: the raw sum is 1.2×
    assert r.measured_m2 == pytest.approx(ref_area_m2(union), rel=1e-9)
    assert r.measured == pytest.approx(2.52, rel=1e-8) and r.declared_unit == "平方公里"
    assert (r.status, r.layers) == ("ok", ["redline"])

    f = rows[("farmland_area", LAYER)]
    assert f.status == "mismatch"
    assert f.relative_difference == pytest.approx(-0.02, abs=1e-9)
    assert f.difference == pytest.approx(-0.02 * 498.61, rel=1e-6)

    assert rows[("cultivated_area", LAYER)].status == "ok"  # 不低于: +3 % is fine
    assert rows[("cultivated_area", LAYER)].relative_difference == pytest.approx(0.03, abs=1e-9)
    assert rows[("eco_control_area", LAYER)].status == "ok"
    both = shapely.union_all([shapes["core"], shapes["experimental"]])
    assert rows[("protected_area_area", LAYER)].measured_m2 == pytest.approx(ref_area_m2(both),
                                                                             rel=1e-9)
    assert rows[("protected_area_area", LAYER)].measured == pytest.approx(540, rel=1e-8)
    assert rows[("protected_area_area", LAYER)].status == "ok"
    core = rows[("protected_area_core_area", LAYER)]
    assert (core.measured, core.declared_unit, core.status) == (pytest.approx(410, rel=1e-9),
                                                                "公顷", "ok")
    assert rows[("protected_area_experimental_area", LAYER)].measured == pytest.approx(130)
    w = rows[("water_source_count", LAYER)]
    assert (w.measured, w.status) == (5, "ok")  # 7 zones, 5 named sources

    for fid in ("ugb_area", "hs_farmland_area"):
        nd = rows[(fid, LAYER)]
        assert nd.status == "no data"
        assert nd.measured is None and nd.measured_m2 is None and nd.difference is None
        assert "no layer of kind" in nd.note

    s = rows[("forest_cover_share", LAYER_TERRITORY)]
    assert s.measured_si == pytest.approx(0.313, rel=1e-9) and s.status == "ok"
    assert s.measured == pytest.approx(31.3, rel=1e-9)
    d = rows[("forest_cover_share", LAYER_DECLARED_TOTAL)]
    assert d.measured_si == pytest.approx(0.313 * terr / DECLARED_TOTAL_M2, rel=1e-9)
    assert d.status == "mismatch"
    assert res.failed
    assert res.summary == {"ok": 8, "mismatch": 3, "no data": 2}  # 13 rows


def test_zone_values_that_do_not_match_measure_zero_not_no_data(tmp_path, shapes):
    ws = Workspace.open(tmp_path / "z.gpkg", create=True)
    ws.write("reserve", gdf([shapes["core"]], zone=["核心保护区"]), "protected_area")
    _, layers = load_target(ws.path)
    rows = rows_by_key(reconcile("anju", layers, boundary=tmp_path / "none.gpkg"))
    core = rows[("protected_area_core_area", LAYER)]
    assert (core.measured, core.status) == (0.0, "mismatch")
    assert "核心保护区" in core.note
    assert rows[("protected_area_area", LAYER)].measured == pytest.approx(410, rel=1e-9)


def test_projected_method_uses_the_gauss_kruger_plane(anju_ws, shapes):
    _, layers = load_target(anju_ws.path)
    rows = rows_by_key(reconcile("anju", layers, method="projected"))
    to_gk = Transformer.from_crs("EPSG:4490", "EPSG:4544", always_xy=True)  # CM 105°E
    union = shapely.segmentize(shapely.union_all(shapes["redline"]), 1e-4)  # lon/lat-straight
    planar = shapely.transform(
        union, lambda xy: np.column_stack(to_gk.transform(xy[:, 0], xy[:, 1]))).area
    r = rows[("redline_area", LAYER)]
    assert r.measured_m2 == pytest.approx(planar, rel=1e-9)
    assert r.measured_m2 != pytest.approx(2.52e6, rel=1e-7)  # not the ellipsoidal figure
    assert r.status == "ok"  # a few ppm from the ellipsoidal area near the central meridian


@pytest.fixture()
def yongchuan_boundary(tmp_path, admin_units):
    p = tmp_path / "yongchuan.gpkg"
    admin_units[admin_units["name"] == "永川区"][["name", "geometry"]].to_file(p)
    return p


def test_region_with_only_a_boundary(yongchuan_boundary, admin_units):
    """永川区: 98.48 km² / 1576 km² = 6.24 % as stated, and against the measured boundary."""
    ref = ref_area_m2(admin_units[admin_units["name"] == "永川区"].geometry.iloc[0])
    res = reconcile("yongchuan", [], boundary=yongchuan_boundary)
    rows = rows_by_key(res)
    t = rows[("total_area", TERRITORY)]
    assert t.measured_m2 == pytest.approx(ref, rel=1e-9)
    assert t.measured == pytest.approx(ref / 1e6, rel=1e-9) and t.status == "ok"
    a = rows[("redline_share", AREA_TERRITORY)]
    assert a.measured_si == pytest.approx(98.48e6 / ref, rel=1e-9)
    assert a.relative_difference == pytest.approx(98.48e6 / ref / 0.0624 - 1, rel=1e-6)
    assert a.status == "ok"
    b = rows[("redline_share", AREA_DECLARED_TOTAL)]
    assert b.measured == pytest.approx(98.48 / 1576 * 100, rel=1e-12)
    assert b.status == "ok"
    assert rows[("redline_share", LAYER_TERRITORY)].status == "no data"
    assert rows[("redline_area", LAYER)].status == "no data"
    for r in res.rows:
        if r.status == "no data":
            assert r.measured is None, r.id
    ext = res.territory["extent"]
    assert set(ext["offset_m"]) == {"west", "east", "south", "north"}
    assert max(abs(v) for v in ext["offset_m"].values()) < 500  # L26 matches the boundary


def test_no_territory_is_no_data_never_zero(tmp_path):
    res = reconcile("yongchuan", [], boundary=tmp_path / "missing.gpkg")
    rows = rows_by_key(res)
    assert rows[("total_area", TERRITORY)].status == "no data"
    assert rows[("redline_share", AREA_TERRITORY)].status == "no data"
    assert rows[("redline_share", AREA_DECLARED_TOTAL)].status == "ok"  # needs no geometry
    assert res.territory["m2"] is None and not res.failed


def test_admin_layer_of_towns_is_the_territory(tmp_path, admin_units):
    anju = admin_units[admin_units["name"] == "安居区"].geometry.iloc[0]
    x0, _, x1, _ = anju.bounds
    mid = (x0 + x1) / 2
    halves = [anju.intersection(shapely.box(x0 - 1, 0, mid, 90)),
              anju.intersection(shapely.box(mid, 0, x1 + 1, 90))]
    ws = Workspace.open(tmp_path / "t.gpkg", create=True)
    ws.write("towns", gdf(halves, name=["柔刚街道", "凤凰街道"]), "admin")
    _, layers = load_target(ws.path)
    res = reconcile("anju", layers, boundary=tmp_path / "missing.gpkg")
    assert res.territory["m2"] == pytest.approx(ref_area_m2(anju), rel=1e-6)
    assert "towns" in res.territory["source"]


# ------------------------------------------------------------------------------------- CLI

_REQUIRED_ROW_KEYS = {"id", "layer_kind", "declared", "declared_unit", "declared_m2", "measured",
                      "measured_m2", "difference", "relative_difference", "tolerance", "status",
                      "source", "line"}


def test_cli_json(anju_ws, run_cli):
    code, out, err = run_cli("reconcile", anju_ws.path, "--plan", "anju", "--format", "json")
    assert code == 1, err  # mismatches present
    d = json.loads(out)
    assert {"plan", "region", "method", "unit", "rows", "inconsistencies"} <= set(d)
    assert (d["region"], d["method"], d["unit"]) == ("anju", "ellipsoidal", "m2")
    assert all(set(r) >= _REQUIRED_ROW_KEYS for r in d["rows"])
    red = next(r for r in d["rows"] if r["id"] == "redline_area")
    assert red["declared_m2"] == pytest.approx(2.52e6)
    assert red["source"] == "000_87d8828f2b365ee7.txt" and red["line"] == 1364
    ugb = next(r for r in d["rows"] if r["id"] == "ugb_area")
    assert ugb["status"] == "no data" and ugb["measured"] is None
    assert any(x["id"] == "total_area_vs_boundary" for x in d["inconsistencies"])


def test_cli_table_csv_and_workspace_region(anju_ws, run_cli):
    anju_ws.set_meta(region="anju")
    code, out, _ = run_cli("reconcile", anju_ws.path)  # the plan from the workspace
    assert code == 1
    assert "安居区" in out and "no data" in out and "mismatch" in out
    assert "inconsistencies recorded in the plan" in out
    code, out, _ = run_cli("reconcile", anju_ws.path, "--plan", "anju", "--format", "csv",
                           "--layer", "redline")
    header = out.splitlines()[0].split(",")
    assert {"id", "basis", "declared_m2", "measured_m2", "status", "line"} <= set(header)
    farm = next(line for line in out.splitlines() if line.startswith("farmland_area,"))
    assert "no data" in farm  # --layer redline: the farmland layer is not used


def test_cli_boundary_only_exit_zero(yongchuan_boundary, run_cli):
    code, out, err = run_cli("reconcile", "--plan", "yongchuan", "--boundary",
                             yongchuan_boundary)
    assert code == 0, err
    assert "declared area / measured territory" in out and "6.26" in out


@pytest.mark.parametrize(("argv", "words"), [
    (["reconcile", "--plan", "nowhere"], ["no plan for region 'nowhere'"]),
    (["reconcile", "--plan", "anju", "--method", "planar"], []),
])
def test_cli_bad_input_exits_2(run_cli, argv, words):
    try:
        code, _, err = run_cli(*argv)
    except SystemExit as exc:  # argparse refuses an unknown --method choice
        code, err = exc.code, ""
    assert code == 2
    for w in words:
        assert w in err


def test_cli_not_a_workspace(tmp_path, run_cli, admin_units):
    p = tmp_path / "plain.gpkg"
    admin_units.to_file(p)
    code, _, err = run_cli("reconcile", p, "--plan", "anju")
    assert code == 2 and "not an ecogis workspace" in err
