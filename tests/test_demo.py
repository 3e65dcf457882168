"""The synthetic 安居区 demo workspace and ``ecogis demo``.

The workspace is built once per module. Declared figures are the plan's, copied here as
literals with their lines (shared/plans/000_87d8828f2b365ee7.md §2.1, seed lines L1362-1371);
expected defect areas are computed independently with shapely and pyproj's GRS80 Geod.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from conftest import ref_area_m2

from ecogis.boundaries import load_boundary
from ecogis.demo import DEMO_TIME, build_demo_workspace, load_demo_spec
from ecogis.errors import DataFileError, InputError
from ecogis.kinds import load_kinds
from ecogis.measure import dissolve, intersection_area, layer_area, to_lonlat

SEED = 20231
KM2, HA = 1e6, 1e4

# (layer, zone, declared m², comparator, citation) — 000 §2.1
DECLARED = [
    ("redline", None, 2.52 * KM2, "eq", "000 L1364 生态保护红线 2.52平方公里"),
    ("cultivated", None, 551.37 * KM2, "ge", "000 L1366 耕地保有量不低于551.37平方公里"),
    ("farmland", None, 498.61 * KM2, "eq", "000 L1366 永久基本农田498.61平方公里"),
    ("ugb", None, 37.2213 * KM2, "eq", "000 L1368 城镇开发边界37.2213平方公里"),
    ("eco_control", None, 171.56 * KM2, "eq", "000 L1371 生态控制区171.56平方公里"),
    ("protected_area", None, 540 * HA, "eq", "000 L1370 种质资源保护区总面积540公顷"),
    ("protected_area", "核心区", 410 * HA, "eq", "000 L1370 核心区面积410公顷"),
    ("protected_area", "实验区", 130 * HA, "eq", "000 L1370 实验区面积130公顷"),
    # outside §2.1: 高标准农田 (§2.3) and 森林覆盖率 (表2-1, a share of the territory)
    ("hs_farmland", None, 14.5e4 * 10_000 / 15, "ge", "000 L1390 建设高标准农田14.5万亩"),
    ("forest", None, "31.3%", "eq", "000 L301 森林覆盖率 实际31.3%"),
]
TOWNS = ["柔刚街道", "凤凰街道", "安居镇", "东禅镇", "分水镇", "石洞镇", "拦江镇", "保石镇", "白马镇",
         "中兴镇", "横山镇", "会龙镇", "三家镇", "玉丰镇", "西眉镇", "磨溪镇", "聚贤镇", "常理镇"]  # 000 L67
WATER_SOURCES = ["白安河高滩坝", "三仙湖水库", "麻子滩水库（莲花湖）", "跑马滩水库（禅月湖）", "新生水库"]


def sha(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "anju.gpkg"
    ws = build_demo_workspace(path, region="anju", seed=SEED)
    return ws, path


@pytest.fixture(scope="module")
def ws(built):
    return built[0]


@pytest.fixture(scope="module")
def lonlat(ws):
    """Every layer read with plain geopandas (not through the workspace) in EPSG:4490; layers
    stored in a plane have their (GK-straight) edges densified to 5 m before they are moved."""
    out = {}
    for n in ws.names():
        g = gpd.read_file(ws.path, layer=n)
        if not g.crs.is_geographic:
            g = g.set_geometry(shapely.segmentize(g.geometry.values, 5.0))
        out[n] = g.to_crs(4490)
    return out


def ref_union_area(geoms) -> float:
    return ref_area_m2(shapely.union_all(np.asarray(geoms, dtype=object)))


# ------------------------------------------------------------------- declared figures
@pytest.mark.parametrize("layer,zone,declared,comp,cite", DECLARED,
                         ids=[f"{d[0]}-{d[1] or 'all'}" for d in DECLARED])
def test_measured_areas_reconcile_with_the_plan(ws, layer, zone, declared, comp, cite):
    if isinstance(declared, str):  # a share of the measured territory
        declared = float(declared.rstrip("%")) / 100 * layer_area(ws.read("district")).area_m2
    gdf = ws.read(layer)
    if zone is not None:
        gdf = gdf[gdf["zone"] == zone]
    measured = layer_area(gdf, "ellipsoidal", coverage=ws.kind_of(layer).coverage).area_m2
    rel = measured / declared - 1.0
    assert abs(rel) <= 0.005, f"{cite}: measured {measured / KM2:.4f} km², {rel:+.3%}"
    if comp == "ge":  # 不低于: at or above the floor
        assert measured >= declared, cite
    else:  # calibrated to 0.1 % (the build aims at 0.01 %)
        assert abs(rel) <= 0.001, cite


@pytest.mark.parametrize("layer", ["redline", "ugb", "eco_control", "protected_area"])
def test_dissolved_area_matches_an_independent_union(lonlat, ws, layer):
    independent = ref_union_area(lonlat[layer].geometry.values)
    measured = layer_area(ws.read(layer), coverage=ws.kind_of(layer).coverage).area_m2
    assert measured == pytest.approx(independent, rel=1e-7)


def test_parcel_layers_are_clean_coverages(ws, lonlat):
    farm, cult = ws.read("farmland"), ws.read("cultivated")
    assert farm.crs.to_epsg() == 4523 and cult.crs.to_epsg() == 4523  # bureau-style GK zone 35
    assert 10_000 <= len(farm) <= 40_000 and len(cult) > len(farm)
    assert bool(shapely.coverage_is_valid(farm.geometry.values))
    # every farmland parcel is a cultivated parcel: cultivated land contains farmland
    assert set(shapely.to_wkb(farm.geometry.values)) <= set(shapely.to_wkb(cult.geometry.values))
    # parcels do not overlap, so the independent sum of parcel areas is the dissolved area
    ref_sum = sum(ref_area_m2(g) for g in lonlat["farmland"].geometry.values)
    assert layer_area(farm, coverage=True).area_m2 == pytest.approx(ref_sum, rel=1e-9)
    assert set(farm["town"]) <= set(TOWNS) and "" not in set(farm["town"])
    assert farm["grade"].between(1, 10).all()


def test_hs_farmland_is_farmland_of_the_named_towns(ws):
    hs, farm = ws.read("hs_farmland"), ws.read("farmland")
    assert set(shapely.to_wkb(hs.geometry.values)) <= set(shapely.to_wkb(farm.geometry.values))
    assert set(hs["town"]) == {"三家镇", "东禅镇", "西眉镇", "拦江镇", "分水镇"}  # 000 L1390


def test_metadata_records_targets_with_measured_values(ws):
    t = ws.meta["targets"]
    for layer, zone, declared, _, cite in DECLARED:
        entry = next(v for v in t.values() if v["layer"] == layer and v["zone"] == zone)
        if not isinstance(declared, str):
            assert entry["declared_m2"] == pytest.approx(declared)
        assert entry["cite"].endswith(cite.split()[1])  # the seed line, e.g. L1364
    assert t["cultivated"]["at_least"] is True


# -------------------------------------------------------------------- planted defects
def _overlap_independent(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame) -> float:
    ua = shapely.union_all(a.geometry.values)
    tree = shapely.STRtree(b.geometry.values)
    near = b.geometry.values[tree.query(ua, predicate="intersects")]
    return ref_area_m2(shapely.intersection(ua, shapely.union_all(near)))


@pytest.mark.parametrize("defect,a,b,target_km2", [
    ("ugb_farmland_overlap", "ugb", "farmland", 0.35),
    ("redline_farmland_overlap", "redline", "farmland", 0.12),
])
def test_planted_overlaps(ws, lonlat, defect, a, b, target_km2):
    meta = {d["id"]: d for d in ws.meta["planted_defects"]}[defect]
    found = _overlap_independent(lonlat[a], lonlat[b])
    assert found == pytest.approx(meta["expected_m2"], rel=1e-6)
    assert found == pytest.approx(target_km2 * KM2, rel=1e-3)
    # the whole overlap of the two layers is the planted feature's
    feat = lonlat[a][lonlat[a]["name"].isin(meta["features"])]
    assert _overlap_independent(feat, lonlat[b]) == pytest.approx(found, rel=1e-9)
    assert meta["layers"] == [a, b]
    lon, lat = meta["lonlat"]
    assert feat.geometry.iloc[0].distance(shapely.Point(lon, lat)) < 0.01


def test_planted_redline_self_overlap(ws, lonlat):
    meta = {d["id"]: d for d in ws.meta["planted_defects"]}["redline_self_overlap"]
    red = lonlat["redline"]
    pairs = {}
    for i, j in itertools.combinations(range(len(red)), 2):
        inter = shapely.intersection(red.geometry.iloc[i], red.geometry.iloc[j])
        area = ref_area_m2(inter) if not inter.is_empty else 0.0
        if area > 1.0:
            pairs[(red["name"].iloc[i], red["name"].iloc[j])] = area
    assert list(pairs) == [tuple(meta["features"])]  # exactly the planted pair overlaps
    found = next(iter(pairs.values()))
    assert found == pytest.approx(meta["expected_m2"], rel=1e-6)
    assert found == pytest.approx(0.05 * KM2, rel=1e-3)
    raw = sum(ref_area_m2(g) for g in red.geometry.values)
    assert raw - ref_union_area(red.geometry.values) == pytest.approx(found, rel=1e-5)


@pytest.mark.parametrize("a,b", [
    ("ugb", "redline"), ("ugb", "protected_area"), ("ugb", "eco_control"),
    ("ugb", "water_source"), ("farmland", "eco_control"), ("farmland", "water_source"),
    ("farmland", "protected_area"), ("farmland", "industrial_park"), ("redline", "eco_control"),
    ("cultivated", "eco_control"), ("residential", "green_space"), ("forest", "cultivated"),
    ("forest", "ugb"), ("forest", "water_source"),
])
def test_no_unplanned_conflicts(ws, a, b):
    pa = dissolve(to_lonlat(ws.read(a)), coverage=ws.kind_of(a).coverage)
    pb = dissolve(to_lonlat(ws.read(b)), coverage=ws.kind_of(b).coverage)
    assert intersection_area(pa, pb, 4490) < 1.0  # m²: numerical slivers at most


@pytest.mark.parametrize("layer", ["ugb", "eco_control", "water_source", "protected_area",
                                   "industrial_park", "residential", "green_space", "env_unit",
                                   "towns", "forest", "hs_farmland"])
def test_no_self_overlap_except_the_planted_one(ws, layer):
    assert layer_area(ws.read(layer), coverage=ws.kind_of(layer).coverage).overlap_m2 < 1.0


# ---------------------------------------------------------------- geography, labels
def test_everything_lies_inside_the_real_boundary(ws, lonlat, anju):
    district = lonlat["district"].geometry.iloc[0]
    assert shapely.equals_exact(district, anju.geometry.iloc[0], 0.0)
    grown = district.buffer(1e-7)
    for name, gdf in lonlat.items():
        assert shapely.covered_by(shapely.union_all(gdf.geometry.values), grown), name


def test_towns_partition_the_district(ws, lonlat, anju):
    towns = lonlat["towns"]
    assert sorted(towns["name"]) == sorted(TOWNS)
    assert (towns["level"] == "街道").sum() == 2
    assert ref_union_area(towns.geometry.values) == pytest.approx(
        ref_area_m2(anju.geometry.iloc[0]), rel=1e-9)
    assert layer_area(ws.read("towns"), coverage=True).overlap_m2 < 1.0


def test_ugb_sits_around_the_district_seat(lonlat):
    ugb = lonlat["ugb"]
    seat = shapely.Point(105.46, 30.36)  # 安居城区 (柔刚街道/凤凰街道)
    main = ugb[ugb["name"] == "安居城区城镇开发边界"].geometry.iloc[0]
    assert main.contains(seat)
    assert set(ugb["zone"]) <= {"集中建设区", "弹性发展区", "特别用途区"}


def test_qiong_river_crosses_the_district_nw_to_se(lonlat):
    rivers = lonlat["rivers"].set_index("name")
    assert {"琼江", "坛罐窑河（西眉河）", "蟠龙河"} <= set(rivers.index)
    assert rivers["setback_m"].between(5, 10).all()
    qiong = rivers.loc["琼江", "geometry"]
    coords = shapely.get_coordinates(qiong)
    west, east = coords[coords[:, 0].argmin()], coords[coords[:, 0].argmax()]
    assert west[1] > east[1] and east[0] - west[0] > 0.4  # flows south-eastwards, across
    # it enters from the 乐至/安岳 side and leaves into 潼南 (within 100 m of their borders)
    upstream = shapely.union_all([load_boundary(r).geometry.iloc[0] for r in ("lezhi", "anyue")])
    assert upstream.distance(shapely.Point(west)) < 0.001
    assert load_boundary("tongnan").geometry.iloc[0].distance(shapely.Point(east)) < 0.001
    assert qiong.distance(shapely.Point(105.46, 30.36)) < 0.02  # past the seat (~2 km)
    # the germplasm reserve lies along the river: within ~115 m (0.0012°) of its line
    reserve = shapely.union_all(lonlat["protected_area"].geometry.values)
    assert shapely.covered_by(reserve, qiong.buffer(0.0012))


def test_water_sources_have_both_levels(lonlat):
    ws_ = lonlat["water_source"]
    assert set(ws_["name"]) == set(WATER_SOURCES)
    for name in WATER_SOURCES:
        assert sorted(ws_[ws_["name"] == name]["level"]) == ["一级", "二级"], name
    gtb = ws_[(ws_["name"] == "白安河高滩坝") & (ws_["level"] == "一级")].geometry.iloc[0]
    town = lonlat["towns"].set_index("name").loc["石洞镇", "geometry"]
    assert gtb.intersects(town)  # 白安河高滩坝 is in 石洞镇 (000 L1644)


def test_layers_are_labelled_synthetic(ws):
    meta = ws.meta
    assert meta["synthetic"] is True and meta["region"] == "anju" and meta["seed"] == SEED
    info = {i.name: i for i in ws.layers()}
    assert info["district"].synthetic is False
    assert all(i.synthetic for n, i in info.items() if n != "district")
    assert "琼江" in info["rivers"].extra["note"] and "drawn" in info["rivers"].extra["note"]
    assert all(i.imported_at == DEMO_TIME for i in info.values())
    with closing(sqlite3.connect(ws.path)) as con:
        stamps = {r[0] for r in con.execute("SELECT last_change FROM gpkg_contents")}
    assert stamps == {"2023-11-23T00:00:00.000Z"}
    assert {d["id"] for d in meta["planted_defects"]} == {
        "ugb_farmland_overlap", "redline_farmland_overlap", "redline_self_overlap"}


def test_workspace_opens_in_gdal_with_every_kind(ws):
    layers = {str(n) for n, _ in pyogrio.list_layers(ws.path)}
    kinds = {i.kind for i in ws.layers()}
    assert {"redline", "farmland", "cultivated", "ugb", "eco_control", "protected_area",
            "water_source", "river", "admin", "industrial_park", "env_unit", "site"} <= kinds
    assert {"ecogis_layers", "ecogis_meta"} <= layers
    assert all(load_kinds()[k].id == k for k in kinds)  # every kind is a registered kind


# ------------------------------------------------------------------- reproducibility
def test_other_seed_differs_and_still_calibrates(built, tmp_path):
    other = build_demo_workspace(tmp_path / "anju.gpkg", seed=7)
    assert sha(other.path) != sha(built[1])
    # nothing of the build (temp copies, their lock files) is left beside the workspace
    assert sorted(p.name for p in tmp_path.iterdir()) == ["anju.gpkg"]
    for layer, zone, declared, _, _ in DECLARED:
        if isinstance(declared, str):
            continue
        gdf = other.read(layer)
        gdf = gdf if zone is None else gdf[gdf["zone"] == zone]
        got = layer_area(gdf, coverage=other.kind_of(layer).coverage).area_m2
        assert got == pytest.approx(declared, rel=0.005)


def test_build_refuses_to_overwrite_other_files(tmp_path):
    plain = tmp_path / "anju.gpkg"
    gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.Point(105, 30)], crs=4490).to_file(plain)
    before = sha(plain)
    with pytest.raises(InputError, match="not an ecogis workspace"):
        build_demo_workspace(plain)
    assert sha(plain) == before
    with pytest.raises(InputError, match=".gpkg"):
        build_demo_workspace(tmp_path / "anju.shp")


def test_spec_with_unknown_key_is_refused(tmp_path, monkeypatch):
    from ecogis.data import layers_dir

    src = layers_dir()
    dst = tmp_path / "layers"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.gpkg"))
    spec = dst / "demo" / "anju.toml"
    spec.write_text(spec.read_text(encoding="utf-8").replace(
        "[layout]\n", "[layout]\nforest_blob = 3\n"), encoding="utf-8")
    monkeypatch.setenv("ECOGIS_LAYERS", str(dst))
    with pytest.raises(DataFileError) as exc:
        load_demo_spec("anju")
    assert "forest_blob" in str(exc.value) and "anju.toml" in str(exc.value)


# ------------------------------------------------------------------------------- CLI
def test_cli_demo_rebuilds_identical_bytes_and_reports(built, run_cli, tmp_path):
    out = tmp_path / "out"
    html = tmp_path / "maps" / "anju.html"
    code, stdout, stderr = run_cli("demo", "--out", out, "--map", html, "--format", "json")
    assert code == 0, stderr
    # byte-for-byte reproducible: the CLI's build equals the module's build (same seed)
    assert sha(out / "anju.gpkg") == sha(built[1])
    doc = json.loads(stdout)
    assert doc["synthetic"] is True and doc["seed"] == SEED
    sec = doc["sections"]
    areas = {r["layer"]: r for r in sec["areas"]["data"]}
    assert areas["redline"]["area_km2"] == pytest.approx(2.52, rel=1e-3)
    assert areas["farmland"]["area_mu"] == pytest.approx(areas["farmland"]["area_m2"] * 15 / 1e4)
    assert all(r["found"] for r in sec["planted_defects"]["data"])
    for key in ("reconcile", "overlaps", "siting", "indicators", "map"):
        assert "data" in sec[key], (key, sec[key])
    # every declared layer figure of the plan file is met
    layer_rows = [r for r in sec["reconcile"]["data"]["rows"] if r["basis"] == "layer"]
    assert layer_rows and all(r["status"] == "ok" for r in layer_rows), layer_rows
    text = html.read_text(encoding="utf-8")
    assert "示意数据" in text and "cdn.jsdelivr.net" not in text
    # the 用地预审 report of the sample sites, in Word (and PDF where Chromium is installed)
    reports = sec["siting"]["data"]["reports"]
    assert reports["docx"] == str(out / "anju-review.docx")
    import docx

    body = "\n".join(p.text for p in docx.Document(reports["docx"]).paragraphs)
    for s in sec["siting"]["data"]["sites"]:
        assert f"{s['name']}（{s['id']}）" in body
    if "pdf" in reports:
        assert (out / "anju-review.pdf").read_bytes().startswith(b"%PDF")
    # the synthetic rasters live inside the (identical) GeoPackage, nothing beside it
    assert not (out / "anju.gpkg.rasters").exists()
    with closing(sqlite3.connect(out / "anju.gpkg")) as con:
        kinds = dict(con.execute("SELECT table_name, data_type FROM gpkg_contents"))
    assert kinds["dem"] == kinds["landcover"] == "2d-gridded-coverage"


def test_demo_rasters_measure_the_plan_indicators(ws):
    from ecogis.indicators import Inputs, indicators_report
    from ecogis.plans import load_plan
    from ecogis.raster import list_rasters

    assert {r.kind for r in list_rasters(ws)} == {"dem", "landcover"}
    assert all(r.synthetic for r in list_rasters(ws))
    rows = {r.id: r for r in indicators_report(Inputs.from_workspace(ws), load_plan("anju"))}
    assert rows["forest_cover"].value == pytest.approx(31.3, abs=0.05)
    assert rows["forest_cover"].status == "met"
    assert rows["forest_grass_cover"].status in ("met", "not met")
    assert rows["shoreline_protection_rate"].value is not None
    assert rows["steep_cultivated_area"].value is not None


def test_cli_demo_unknown_region_is_bad_input(run_cli):
    code, _, err = run_cli("demo", "--region", "nowhere")
    assert code == 2 and "nowhere" in err and len(err.strip().splitlines()) == 1


# ------------------------------------------------------------- 三调 landuse extract
TDT1057 = ["BSM", "YSDM", "TBYBH", "TBBH", "DLBM", "DLMC", "QSXZ", "QSDWDM", "QSDWMC", "ZLDWDM",
           "ZLDWMC", "TBMJ", "KCDLBM", "KCXS", "KCMJ", "TBDLMJ", "GDLX", "GDPDJB", "XZDWKD",
           "TBXHDM", "ZZSXDM", "GDDB", "FRDBS", "CZCSXM", "SJNF", "MSSM", "HDMC", "BZ"]


def test_landuse_extract_is_a_tdt1057_coverage(ws, lonlat, anju):
    lu = lonlat["landuse"]
    assert [c for c in lu.columns if c != "geometry"][: len(TDT1057)] == TDT1057
    assert ws.info("landuse").field_map["land_code"] == "DLBM"
    assert bool(shapely.coverage_is_valid(gpd.read_file(ws.path, layer="landuse").geometry.values))
    assert shapely.covered_by(shapely.union_all(lu.geometry.values),
                              anju.geometry.iloc[0].buffer(1e-7))
    assert {"水田", "旱地", "果园", "乔木林地", "农村宅基地", "河流水面", "坑塘水面", "田坎"} <= set(
        lu["DLMC"])
    for col in ("DLMC", "QSDWMC", "ZLDWMC"):  # GBK-style text: every value encodes in GBK
        assert all(isinstance(v, str) and v.encode("gbk") for v in lu[col])
    dry = lu[lu["DLBM"] == "0103"]
    assert (dry["KCXS"] > 0).mean() > 0.9 and (lu.loc[lu["DLBM"] != "0103", "KCXS"] == 0).all()
    assert (dry["KCDLBM"] == "1203").all()
    assert np.allclose(lu["KCMJ"], np.round(lu["TBMJ"] * lu["KCXS"], 2))
    # the 耕地 parcels of the extract are parcels of the cultivated layer, same 地类
    cult = lonlat["cultivated"]
    key = {w: c for w, c in zip(shapely.to_wkb(gpd.read_file(ws.path, layer="cultivated")
                                                .geometry.values), cult["land_code"],
                                strict=True)}
    raw = gpd.read_file(ws.path, layer="landuse")
    farm = raw[raw["DLBM"].isin(["0101", "0103"])]
    same = [key.get(w) for w in shapely.to_wkb(farm.geometry.values)]
    assert np.mean([s == c for s, c in zip(same, farm["DLBM"], strict=True)]) > 0.9


def test_landuse_tbmj_mismatches_are_the_planted_ones(ws):
    from ecogis.landuse import check_parcels

    planted = ws.info("landuse").extra["planted_tbmj_mismatches"]
    g = ws.read("landuse")
    res = check_parcels(g, layer="landuse")
    assert {m["bsm"] for m in res.mismatches} == {p["bsm"] for p in planted}
    for m in res.mismatches:
        off = next(p["offset_m2"] for p in planted if p["bsm"] == m["bsm"])
        assert m["declared"] - m["measured"] == pytest.approx(off, abs=0.006)
    # measured independently: GK zone 35 with prefix, densified, pyproj GRS80
    i = int(np.flatnonzero(g["BSM"] == planted[0]["bsm"])[0])
    ll = gpd.GeoSeries([shapely.segmentize(g.geometry.iloc[i], 1.0)], crs=g.crs).to_crs(4490)
    assert res.mismatches[0]["measured"] == pytest.approx(ref_area_m2(ll.iloc[0]), abs=0.01)


@pytest.mark.slow
def test_cli_demo_shows_landuse_statistics(built, run_cli, tmp_path):
    code, out, err = run_cli("demo", "--out", tmp_path / "o", "--no-map", "--format", "json")
    assert code == 0, err
    sec = json.loads(out)["sections"]
    rows = {r["dlbm"]: r for r in sec["landuse"]["data"]["rows"]}
    dry, tk = rows["0103"], rows["1203"]
    assert dry["area_m2"] == pytest.approx(dry["gross_m2"] - dry["deducted_m2"])
    assert tk["added_m2"] == pytest.approx(sum(r["deducted_m2"] for r in rows.values()))
    assert len(sec["landuse_reconcile"]["data"]["layers"][0]["mismatches"]) == 3
    sites = {s["id"]: s for s in sec["siting"]["data"]["sites"]}
    assert {r["dlbm"] for r in sites["S2"]["landuse"]} <= {"0101", "0102", "0103", "1203",
                                                           "0201", "0301", "0702", "1104"}
    assert sites["S2"]["landuse_layer"] == "landuse"
    assert sum(r["area_m2"] for r in sites["S2"]["landuse"]) == pytest.approx(
        sites["S2"]["area_m2"], rel=1e-6)
    assert sites["S3"]["landuse"] and not sites["S1"]["landuse"]


def test_sample_sites_show_the_issue_12_verdicts(built):
    """S6 (重大民生保障 in the redline) is conditional under 安居's own L1364; S7 (an intake
    in a level-1 zone) is not forbidden; the units carry their admission lists."""
    from ecogis.rules import load_rulebook
    from ecogis.siting import SitingEngine

    ws, _ = built
    rb = load_rulebook("anju")
    kinds = set(rb.kinds_used) | {"farmland"}
    layers = {i.name: (i.kind, ws.read(i.name)) for i in ws.layers() if i.kind in kinds}
    sites = ws.read("sample_sites")
    res = {s.id: s for s in SitingEngine(layers, rb).check(sites).sites}
    s6, s7 = res["S6"], res["S7"]
    assert s6.category == "livelihood_major" and s6.verdict == "conditional"
    h = next(h for h in s6.hits if h.rule == "anju.redline.unavoidable")
    assert h.kind == "redline" and h.citation["line"] == 1364 and h.overlap_m2 > 0
    assert "national.redline.default" in {x.rule for x in s6.overridden}
    assert s7.category == "water_supply" and s7.verdict != "forbidden"
    assert any(h.kind == "water_source" and h.zone == "一级" for h in s7.hits)
    units = ws.read("env_unit")
    assert {"forbidden", "restricted"} <= set(units.columns)
    assert all(str(c).startswith("ZH") for c in units["code"])
    # the illustrative 污染地块's 负面清单 refuses housing, not a remediation project
    cs = ws.read("contaminated_site")
    p = cs.geometry.iloc[0].representative_point()
    probe = gpd.GeoDataFrame({"id": ["P1", "P2"], "category": ["住宅", "生态修复"]},
                             geometry=[p.buffer(1e-4), p.buffer(1e-4)], crs=cs.crs)
    res = SitingEngine(layers, rb).check(probe).sites
    assert "anju.contaminated_site.negative_list" in {h.rule for h in res[0].hits}
    assert res[0].verdict == "forbidden"
    assert "anju.contaminated_site.negative_list" not in {h.rule for h in res[1].hits}
