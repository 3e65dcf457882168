"""三调 地类图斑: import with TD/T 1057 fields, areas by 地类 net of 田坎, per-parcel TBMJ
reconciliation and 压占 by 地类 in `check` — on a GBK shapefile (pinyin codes) and a GeoPackage
with Chinese field names; expected figures from shapely + pyproj in the test."""

from __future__ import annotations

import json

import geopandas as gpd
import landuse_fixture as lf
import numpy as np
import pyogrio
import pytest
import shapely
from conftest import ref_area_m2
from pyproj import Transformer


def _ref_areas(gdf: gpd.GeoDataFrame) -> np.ndarray:
    """Independent ellipsoidal area per parcel: densified in the plane, pyproj on lon/lat."""
    dense = gpd.GeoSeries(shapely.segmentize(gdf.geometry.values, 1.0), crs=gdf.crs)
    return np.array([ref_area_m2(g) for g in dense.to_crs(4490)])


@pytest.fixture(params=["shp", "gpkg"])
def dltb(request, tmp_path):
    """(workspace, layer name, source parcels with pinyin names) for each real file format."""
    src = lf.write_shapefile(tmp_path) if request.param == "shp" else lf.write_gpkg(tmp_path)
    ws = tmp_path / "ws.gpkg"
    return ws, src, lf.parcels()


def _import(run_cli, ws, src):
    code, out, err = run_cli("import", ws, "landuse", src, "--format", "json")
    assert code == 0, err
    return json.loads(out)


def test_import_keeps_source_fields_and_records_the_mapping(run_cli, dltb):
    ws, src, _ = dltb
    d = _import(run_cli, ws, src)
    fmap = d["field_map"]
    pinyin = src.suffix == ".shp"
    expect = {"bsm": "BSM", "land_code": "DLBM", "land_name": "DLMC", "declared_area": "TBMJ",
              "deduct_coef": "KCXS", "deduct_area": "KCMJ", "net_area": "TBDLMJ",
              "town": "ZLDWMC", "slope_grade": "GDPDJB"}
    for role, code in expect.items():
        assert fmap[role] == (code if pinyin else lf.ZH[code])
    # the workspace table keeps the source names, not the roles
    stored = set(pyogrio.read_info(ws, layer="landuse")["fields"])
    assert {"DLBM", "TBMJ", "KCXS"} <= stored if pinyin else {"地类编码", "图斑面积"} <= stored
    assert not stored & {"land_code", "declared_area", "bsm"}
    # GBK text decoded right, and `layers` shows the mapping (table and JSON)
    code, out, _ = run_cli("layers", ws, "--format", "json")
    lay = json.loads(out)["layers"][0]
    assert lay["field_map"] == fmap
    assert {"role": "land_code", "label": "地类编码", "source": fmap["land_code"]} in lay["fields"]
    code, out, _ = run_cli("layers", ws)
    assert f"land_code←{fmap['land_code']}" in out
    from ecogis.workspace import Workspace

    g = Workspace.open(ws).read("landuse")
    assert set(g["land_name"]) >= {"旱地", "水田", "田坎", "坑塘水面"}
    assert (g["town"] == "安居镇安居村").all()


def test_areas_by_dlmc_net_of_tiankan(run_cli, dltb):
    ws, src, parcels = dltb
    _import(run_cli, ws, src)
    code, out, err = run_cli("areas", ws, "--layer", "landuse", "--by", "DLMC", "--unit", "m2",
                             "--format", "json")
    assert code == 0, err
    rows = {r["dlbm"]: r for r in json.loads(out)["by"]}
    a = _ref_areas(parcels)
    kc = a * parcels["KCXS"].to_numpy()
    for code_, grp in parcels.groupby("DLBM"):
        m = (parcels["DLBM"] == code_).to_numpy()
        r = rows[code_]
        assert r["parcels"] == int(m.sum())
        assert r["gross_m2"] == pytest.approx(a[m].sum(), abs=0.01)
        assert r["deducted_m2"] == pytest.approx(kc[m].sum(), abs=0.01)
        if code_ != "1203":
            assert r["area_m2"] == pytest.approx(a[m].sum() - kc[m].sum(), abs=0.01)
        assert r["zone"] == grp["DLMC"].iloc[0]
    tk = rows["1203"]
    is_tk = (parcels["DLBM"] == "1203").to_numpy()
    # 田坎 = 田坎 parcels + ΣKCMJ of every other parcel
    assert tk["area_m2"] == pytest.approx(a[is_tk].sum() + kc.sum(), abs=0.01)
    assert tk["added_m2"] == pytest.approx(kc.sum(), abs=0.01)
    assert kc.sum() > 1000  # the fixture's 旱地/水田 carry real deductions
    # the 地类 areas add up to the layer, and 旱地 is reported net, not gross
    assert sum(r["area_m2"] for r in rows.values()) == pytest.approx(a.sum(), abs=0.05)
    dry = rows["0103"]
    assert dry["area_m2"] < dry["gross_m2"] * 0.9
    # declared sums from the layer's own TBDLMJ, 田坎 row with the declared KCMJ credited
    assert tk["declared_tbdlmj_m2"] == pytest.approx(
        parcels.loc[is_tk, "TBDLMJ"].sum() + parcels["KCMJ"].sum(), abs=1e-6)


def test_areas_by_dlbm_in_mu_labels_by_code(run_cli, dltb):
    ws, src, parcels = dltb
    _import(run_cli, ws, src)
    code, out, _ = run_cli("areas", ws, "--by", "DLBM", "--unit", "mu", "--format", "json")
    assert code == 0
    rows = json.loads(out)["by"]
    assert [r["zone"] for r in rows] == sorted(parcels["DLBM"].unique())
    for r in rows:
        assert r["area"] == pytest.approx(r["area_m2"] * 15 / 10_000, rel=1e-12)
    code, out, _ = run_cli("areas", ws, "--by", "DLMC")
    assert "田坎" in out and "地类面积" in out


def test_reconcile_layer_finds_the_planted_parcels(run_cli, dltb):
    ws, src, parcels = dltb
    _import(run_cli, ws, src)
    code, out, err = run_cli("reconcile", ws, "--layer", "landuse", "--format", "json")
    assert code == 1, err
    d = json.loads(out)
    a = _ref_areas(parcels)
    diff = a - parcels["TBMJ"].to_numpy()
    want = set(parcels["BSM"][np.abs(diff) > 0.1])
    assert len(want) == len(lf.PLANTED)
    got = {m["bsm"]: m for m in d["mismatches"]}
    assert set(got) == want
    for b, m in got.items():
        i = int(np.flatnonzero(parcels["BSM"] == b)[0])
        assert m["status"] == "mismatch"
        assert m["declared"] == pytest.approx(parcels["TBMJ"].iloc[i], abs=1e-9)
        assert m["measured"] == pytest.approx(a[i], abs=0.01)
        assert m["difference"] == pytest.approx(m["measured"] - m["declared"], abs=1e-9)
    assert d["layers"][0]["area_field"] == ("TBMJ" if src.suffix == ".shp" else "图斑面积")
    # a wider tolerance lets the 0.4 m² parcel pass; all pass above the largest offset
    code, out, _ = run_cli("reconcile", ws, "--layer", "landuse", "--tolerance-m2", "1",
                           "--format", "json")
    assert code == 1 and len(json.loads(out)["mismatches"]) == len(want) - 1
    code, out, _ = run_cli("reconcile", ws, "--layer", "landuse", "--tolerance-m2", "20")
    assert code == 0 and "0 mismatch" in out


def test_reconcile_area_field_and_bad_field(run_cli, dltb):
    ws, src, parcels = dltb
    _import(run_cli, ws, src)
    field = "TBDLMJ" if src.suffix == ".shp" else "图斑地类面积"
    code, out, _ = run_cli("reconcile", ws, "--layer", "landuse", "--area-field", field,
                           "--format", "json")
    # TBDLMJ is net of 田坎: every parcel with KCXS > 0 differs by its KCMJ
    n_kc = int((parcels["KCMJ"] > 0.1).sum()) + len(lf.PLANTED)
    assert code == 1 and len(json.loads(out)["mismatches"]) >= n_kc - 1
    code, _, err = run_cli("reconcile", ws, "--layer", "landuse", "--area-field", "NOPE")
    assert code == 2 and "NOPE" in err and err.count("\n") == 1


def test_check_lists_land_occupied_by_dilei(run_cli, dltb, tmp_path):
    ws, src, parcels = dltb
    _import(run_cli, ws, src)
    # a site over 3 × 2 parcels, cut through the middle of each edge parcel
    site_gk = shapely.box(lf.X0 + 50, lf.Y0 + 40, lf.X0 + 350, lf.Y0 + 200)
    tr = Transformer.from_crs(lf.CRS, "EPSG:4490", always_xy=True)
    site_ll = shapely.transform(shapely.segmentize(site_gk, 1.0),
                                lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))
    code, out, err = run_cli("check", ws, "--wkt", site_ll.wkt, "--category", "urban",
                             "--format", "json")
    assert code == 0, err
    s = json.loads(out)["sites"][0]
    assert s["landuse_layer"] == "landuse"
    rows = s["landuse"]
    assert [r["dlbm"] for r in rows] == sorted(r["dlbm"] for r in rows)
    # independent: each parcel ∩ site in the GK plane, densified, measured with pyproj
    exp: dict[str, list[float]] = {}
    for _, p in parcels.iterrows():
        piece = shapely.intersection(p.geometry, site_gk)
        if piece.area <= 0:
            continue
        g = gpd.GeoSeries([shapely.segmentize(piece, 1.0)], crs=lf.CRS).to_crs(4490).iloc[0]
        a = ref_area_m2(g)
        e = exp.setdefault(p["DLBM"], [0.0, 0.0])
        e[0] += a
        e[1] += a * p["KCXS"]
    assert {r["dlbm"] for r in rows} == set(exp)
    for r in rows:
        gross, tk = exp[r["dlbm"]]
        assert r["area_m2"] == pytest.approx(gross, rel=1e-6)
        assert r["tiankan_m2"] == pytest.approx(tk, rel=1e-6, abs=1e-6)
        assert r["net_m2"] == pytest.approx(gross - tk, rel=1e-6)
        assert r["area_ha"] == pytest.approx(r["area_m2"] / 1e4)
        assert r["area_mu"] == pytest.approx(r["area_m2"] * 15 / 1e4)
        assert r["dlmc"]
    assert sum(r["area_m2"] for r in rows) == pytest.approx(s["area_m2"], rel=1e-6)
    assert any(r["tiankan_m2"] > 0 for r in rows)
    # table and HTML carry the same rows
    code, out, _ = run_cli("check", ws, "--wkt", site_ll.wkt, "--category", "urban")
    assert "压占 by 地类" in out and "旱地" in out
    code, out, _ = run_cli("check", ws, "--wkt", site_ll.wkt, "--category", "urban",
                           "--format", "html")
    # the HTML review document (ecogis.reports) shows each 地类 row in 公顷 and 亩
    from ecogis.reports.review import fmt_area

    assert "按地类" in out and rows[0]["dlmc"] in out
    assert fmt_area(rows[0]["area_m2"], "ha") in out and fmt_area(rows[0]["net_m2"], "mu") in out


def test_check_without_landuse_layer_has_no_key(run_cli, tmp_path):
    red = gpd.GeoDataFrame({"名称": ["涪江红线"]}, geometry=[shapely.box(105.4, 30.3, 105.5, 30.4)],
                           crs=4490)
    red.to_file(tmp_path / "red.gpkg")
    run_cli("import", tmp_path / "ws.gpkg", "redline", tmp_path / "red.gpkg")
    code, out, _ = run_cli("check", tmp_path / "ws.gpkg", "--lonlat", "105.45,30.35",
                           "--radius", "50", "--category", "urban", "--format", "json")
    s = json.loads(out)["sites"][0]
    assert "landuse" not in s and "landuse_layer" not in s
    assert s["hits"][0]["name"] == "涪江红线" and s["hits"][0]["names"] == ["涪江红线"]


def test_kcxs_as_percent_is_refused(run_cli, tmp_path):
    g = lf.parcels()
    g["KCXS"] = g["KCXS"] * 100
    g.to_file(tmp_path / "pct.gpkg", layer="DLTB")
    run_cli("import", tmp_path / "ws.gpkg", "landuse", tmp_path / "pct.gpkg")
    code, _, err = run_cli("areas", tmp_path / "ws.gpkg", "--by", "DLMC")
    assert code == 2 and "KCXS" in err and "fraction" in err and err.count("\n") == 1
