"""Import of real planning data: CRS inference, GBK detection, repairs, errors, CLI contract."""

from __future__ import annotations

import json
import os
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import shapely
from conftest import ref_area_m2, ref_area_plane_m2

from ecogis.errors import CRSError, EncodingError, GeometryError, InputError
from ecogis.io import read_vector
from ecogis.workspace import Workspace

GBK_NAME = "安居区"


def write_shapefile(gdf: gpd.GeoDataFrame, path: Path, *, encoding: str, prj: bool, cpg: bool):
    gdf.to_file(path, encoding=encoding)
    if not prj:
        path.with_suffix(".prj").unlink(missing_ok=True)
    if not cpg:
        path.with_suffix(".cpg").unlink(missing_ok=True)
    return path


@pytest.fixture()
def anju_gbk_4523(anju, tmp_path) -> Path:
    """安居区 in EPSG:4523 as a Shapefile without .prj, GBK attributes and no .cpg."""
    gdf = anju[["name", "geometry"]].copy()
    gdf["town"] = "柔刚街道"
    return write_shapefile(gdf.to_crs(4523), tmp_path / "anju.shp", encoding="gbk",
                           prj=False, cpg=False)


def test_gbk_without_cpg_is_mojibake_in_plain_pyogrio(anju_gbk_4523):
    """The trap ecogis guards against: the library decodes silently and wrongly."""
    assert pyogrio.read_dataframe(anju_gbk_4523)["name"][0] != GBK_NAME


def test_import_detects_zone_and_encoding_and_area_matches(anju, anju_gbk_4523, run_cli):
    code, out, err = run_cli("import", "ws.gpkg", "admin", anju_gbk_4523, "--format", "json")
    assert code == 0, err
    d = json.loads(out)
    assert d["crs"] == "EPSG:4523" and d["crs_source"].startswith("inferred")
    assert d["encoding"] == "gbk" and "GBK" in d["encoding_source"]
    ws = Workspace.open("ws.gpkg")
    layer = ws.read("admin")
    assert layer["name"].iloc[0] == GBK_NAME and layer["town"].iloc[0] == "柔刚街道"
    code, out, _ = run_cli("areas", "ws.gpkg", "--format", "json", "--unit", "km2")
    row = json.loads(out)["layers"][0]
    # the file holds the boundary's vertices in zone 35: its edges are straight in that plane
    expected_km2 = ref_area_plane_m2(anju.to_crs(4523).geometry.iloc[0], 4523) / 1e6
    assert row["area"] == pytest.approx(expected_km2, rel=1e-8)
    assert row["area"] == pytest.approx(1269.568, abs=5e-4)
    assert row["method"] == "ellipsoidal" and row["unit"] == "km2"


def test_no_prefix_fails_with_candidates_then_succeeds_with_crs(anju, tmp_path, run_cli):
    shp = write_shapefile(anju[["name", "geometry"]].to_crs(4544), tmp_path / "np.shp",
                          encoding="utf-8", prj=False, cpg=True)
    code, out, err = run_cli("import", "ws.gpkg", "admin", shp)
    assert code == 2
    assert "EPSG:4544" in err and "--crs" in err and "np.shp" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not Path("ws.gpkg").exists() or "admin" not in Workspace.open("ws.gpkg").names()
    code, out, err = run_cli("import", "ws.gpkg", "admin", shp, "--crs", "EPSG:4544",
                             "--format", "json")
    assert code == 0, err
    assert json.loads(out)["crs"] == "EPSG:4544"
    code, out, _ = run_cli("areas", "ws.gpkg", "--format", "json")
    assert json.loads(out)["layers"][0]["area"] == pytest.approx(
        ref_area_plane_m2(anju.to_crs(4544).geometry.iloc[0], 4544) / 1e6, rel=1e-8)


def test_wrong_crs_flag_is_refused(anju, tmp_path):
    shp = write_shapefile(anju[["name", "geometry"]].to_crs(4544), tmp_path / "np.shp",
                          encoding="utf-8", prj=False, cpg=True)
    with pytest.raises(CRSError, match="EPSG:4544"):  # 4523 expects prefixed eastings
        read_vector(shp, crs="EPSG:4523")


def test_bow_tie_is_repaired_and_reported(tmp_path, run_cli):
    x, y = 105.3, 30.3
    bow = shapely.Polygon([(x, y), (x + 0.01, y + 0.01), (x + 0.01, y), (x, y + 0.01), (x, y)])
    ok = shapely.box(x + 0.02, y, x + 0.03, y + 0.01)
    gpd.GeoDataFrame({"name": ["bow", "ok"]}, geometry=[bow, ok], crs=4490).to_file(
        tmp_path / "r.geojson")
    code, out, err = run_cli("import", "ws.gpkg", "redline", tmp_path / "r.geojson",
                             "--format", "json")
    assert code == 0, err
    rep = json.loads(out)["repairs"]
    assert rep["invalid_repaired"] == 1 and rep["invalid_features"] == [0]
    assert "Self-intersection" in rep["invalid_reasons"][0]
    assert "repaired" in rep["summary"]
    assert any("repaired" in w for w in json.loads(out)["warnings"])
    layer = Workspace.open("ws.gpkg").read("redline")
    assert layer.geometry.is_valid.all()
    # the bow-tie becomes its two triangles: the same area as the two triangles measured alone
    tri = [shapely.Polygon([(x, y), (x + 0.005, y + 0.005), (x, y + 0.01)]),
           shapely.Polygon([(x + 0.01, y), (x + 0.005, y + 0.005), (x + 0.01, y + 0.01)])]
    repaired = layer[layer["name"] == "bow"].geometry.iloc[0]
    assert ref_area_m2(repaired) == pytest.approx(sum(ref_area_m2(t) for t in tri), rel=1e-9)
    info = Workspace.open("ws.gpkg").info("redline")
    assert info.repairs["invalid_repaired"] == 1


def test_overlapping_polygons_area_below_raw_sum(tmp_path, run_cli):
    a = shapely.box(105.30, 30.30, 105.32, 30.32)
    b = shapely.box(105.31, 30.31, 105.33, 30.33)
    gpd.GeoDataFrame({"name": ["a", "b"]}, geometry=[a, b], crs=4490).to_file(tmp_path / "o.gpkg")
    code, out, err = run_cli("areas", tmp_path / "o.gpkg", "--format", "json", "--unit", "m2")
    assert code == 0, err
    row = json.loads(out)["layers"][0]
    assert row["area"] < row["area_raw_sum"]
    assert row["area"] == pytest.approx(ref_area_m2(a.union(b)), rel=1e-9)
    assert row["area_raw_sum"] == pytest.approx(ref_area_m2(a) + ref_area_m2(b), rel=1e-10)


def test_cpg_contradicting_text_is_an_error(anju, tmp_path):
    shp = write_shapefile(anju[["name", "geometry"]], tmp_path / "c.shp", encoding="gbk",
                          prj=True, cpg=False)
    shp.with_suffix(".cpg").write_text("UTF-8")
    with pytest.raises(EncodingError, match="--encoding gbk"):
        read_vector(shp)
    gdf, rep = read_vector(shp, encoding="gbk")
    assert gdf["name"].iloc[0] == GBK_NAME and rep.encoding_source == "--encoding"


def test_utf8_shapefile_without_cpg(anju, tmp_path):
    shp = write_shapefile(anju[["name", "geometry"]], tmp_path / "u.shp", encoding="utf-8",
                          prj=True, cpg=False)
    gdf, rep = read_vector(shp)
    assert gdf["name"].iloc[0] == GBK_NAME and rep.encoding == "utf-8"


def test_gbk_geojson_is_detected(tmp_path):
    gj = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {
        "name": "琼江生态保护红线"}, "geometry": shapely.geometry.mapping(
        shapely.box(105.3, 30.3, 105.31, 30.31))}]}
    p = tmp_path / "g.geojson"
    p.write_bytes(json.dumps(gj, ensure_ascii=False).encode("gbk"))
    gdf, rep = read_vector(p, kind="redline")
    assert gdf["name"].iloc[0] == "琼江生态保护红线" and rep.encoding == "gb18030"


@pytest.mark.parametrize("driver,suffix", [("FlatGeobuf", ".fgb"), ("GPKG", ".gpkg"),
                                           ("GeoJSON", ".geojson")])
def test_formats(anju, tmp_path, driver, suffix):
    p = tmp_path / f"a{suffix}"
    anju[["name", "geometry"]].to_crs(4523).to_file(p, driver=driver)
    gdf, rep = read_vector(p, kind="admin")
    assert rep.crs in ("EPSG:4523",) and gdf["name"].iloc[0] == GBK_NAME


def test_z_is_dropped_and_reported(tmp_path):
    z = shapely.Polygon([(105.3, 30.3, 300), (105.31, 30.3, 301), (105.31, 30.31, 302),
                         (105.3, 30.3, 300)])
    gpd.GeoDataFrame({"name": ["z"]}, geometry=[z], crs=4490).to_file(tmp_path / "z.gpkg")
    with pytest.warns(UserWarning, match="Z dropped"):
        gdf, rep = read_vector(tmp_path / "z.gpkg", kind="redline")
    assert rep.repairs.z_dropped == 1 and not gdf.geometry.has_z.any()


def test_empty_and_null_are_dropped_and_reported(tmp_path):
    geoms = [shapely.box(105.3, 30.3, 105.31, 30.31), shapely.Polygon(), None]
    gpd.GeoDataFrame({"name": ["a", "b", "c"]}, geometry=geoms, crs=4490).to_file(
        tmp_path / "e.gpkg")
    with pytest.warns(UserWarning, match="dropped"):
        gdf, rep = read_vector(tmp_path / "e.gpkg", kind="redline")
    assert len(gdf) == 1
    assert rep.repairs.dropped_null + rep.repairs.dropped_empty == 2


def test_points_for_a_polygon_kind_is_an_error(tmp_path, run_cli):
    gpd.GeoDataFrame({"name": ["p"]}, geometry=[shapely.Point(105.3, 30.3)], crs=4490).to_file(
        tmp_path / "p.gpkg")
    with pytest.raises(GeometryError, match="needs polygon"):
        read_vector(tmp_path / "p.gpkg", kind="farmland")
    code, _, err = run_cli("import", "ws.gpkg", "farmland", tmp_path / "p.gpkg")
    assert code == 2 and "p.gpkg" in err and "fix:" in err


def test_mixed_geometries_in_line_or_polygon_kind(tmp_path):
    geoms = [shapely.LineString([(105.3, 30.3), (105.4, 30.4)]), shapely.box(105.3, 30.3, 105.31,
                                                                              30.31)]
    gpd.GeoDataFrame({"name": ["l", "p"]}, geometry=geoms, crs=4490).to_file(tmp_path / "m.gpkg")
    with pytest.raises(GeometryError, match="mixed"):
        read_vector(tmp_path / "m.gpkg", kind="river")


def test_unknown_zone_value_names_feature_and_fix(tmp_path):
    gpd.GeoDataFrame({"zone": ["核心保护区", "核心"]},
                     geometry=[shapely.box(105.3, 30.3, 105.31, 30.31),
                               shapely.box(105.32, 30.3, 105.33, 30.31)], crs=4490).to_file(
        tmp_path / "pa.gpkg")
    with pytest.raises(InputError, match="'核心'.*fix: correct the attribute") as exc:
        read_vector(tmp_path / "pa.gpkg", kind="protected_area")
    assert "feature 2" in str(exc.value)


def test_missing_required_field(tmp_path):
    gpd.GeoDataFrame({"name": ["x"]}, geometry=[shapely.box(105.3, 30.3, 105.31, 30.31)],
                     crs=4490).to_file(tmp_path / "w.gpkg")
    with pytest.raises(InputError, match="requires field"):
        read_vector(tmp_path / "w.gpkg", kind="water_source")


def test_field_aliases_are_renamed(tmp_path):
    gpd.GeoDataFrame({"JB": ["一级"], "MC": ["三仙湖水库"]},
                     geometry=[shapely.box(105.3, 30.3, 105.31, 30.31)], crs=4490).to_file(
        tmp_path / "w.gpkg")
    gdf, rep = read_vector(tmp_path / "w.gpkg", kind="water_source")
    assert gdf["level"].iloc[0] == "一级" and rep.renamed_fields == {"JB": "level", "MC": "name"}


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["import", "ws.gpkg", "redline", "missing.shp"], "file not found"),
        (["import", "ws.gpkg", "nosuchkind", "x.geojson"], "unknown layer kind"),
        (["areas", "ws.gpkg", "--unit", "acre"], "unknown area unit"),
        (["layers", "nope.gpkg"], "workspace not found"),
    ],
)
def test_bad_input_is_one_line_exit_2(argv, needle, run_cli, tmp_path):
    Path("x.geojson").write_text("{}")
    if argv[0] == "areas":
        gpd.GeoDataFrame(geometry=[shapely.box(105.3, 30.3, 105.31, 30.31)], crs=4490).to_file(
            "ws.gpkg")
    code, out, err = run_cli(*argv)
    assert code == 2
    assert needle in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_multi_layer_gpkg_needs_a_layer(tmp_path):
    p = tmp_path / "two.gpkg"
    for n in ("a", "b"):
        gpd.GeoDataFrame(geometry=[shapely.box(105.3, 30.3, 105.31, 30.31)], crs=4490).to_file(
            p, layer=n)
    with pytest.raises(InputError, match="two.gpkg:LAYER"):
        read_vector(p)
    gdf, rep = read_vector(f"{p}:b")
    assert rep.layer == "b"
    assert os.path.exists(p)
