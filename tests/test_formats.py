"""Every format a bureau receives, on real files written here: FileGDB, zip, xlsx, TAB, DXF, KML.

Expected areas are computed independently with pyproj.Geod on GRS80 (conftest.ref_area_m2).
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pyogrio
import pytest
import shapely
from conftest import ref_area_m2

from ecogis.errors import CRSError, InputError
from ecogis.io import read_vector
from ecogis.workspace import Workspace

pytestmark = pytest.mark.filterwarnings("ignore::ecogis.errors.EcogisWarning")

#: two parcels near 安居区 (lon/lat), with 三调-style GBK attributes
PARCELS_LL = [shapely.box(105.40, 30.30, 105.42, 30.32), shapely.box(105.43, 30.30, 105.44, 30.31)]


def parcels(crs=4523) -> gpd.GeoDataFrame:
    g = gpd.GeoDataFrame({"BSM": ["5101000001", "5101000002"], "DLMC": ["旱地", "水田"],
                          "ZLDWMC": ["安居镇", "柔刚街道"]}, geometry=PARCELS_LL, crs=4490)
    return g.to_crs(crs)


def ref_total() -> float:
    return sum(ref_area_m2(g) for g in PARCELS_LL)


def gbk_shapefile(folder: Path, name: str = "dltb") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shp = folder / f"{name}.shp"
    parcels().to_file(shp, encoding="gbk")
    shp.with_suffix(".cpg").unlink(missing_ok=True)
    return shp


def zip_files(zpath: Path, files: list[Path], root: Path) -> Path:
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as z:
        for f in files:
            if f.is_dir():
                for g in sorted(f.rglob("*")):
                    z.write(g, g.relative_to(root))
            else:
                z.write(f, f.relative_to(root))
    return zpath


def assert_parcels(gdf, rep, *, crs="EPSG:4523"):
    assert len(gdf) == 2
    assert sorted(gdf["DLMC"]) == sorted(["旱地", "水田"])
    assert set(gdf["ZLDWMC"]) == {"安居镇", "柔刚街道"}
    assert rep.crs == crs
    from ecogis.measure import geodesic_area

    assert geodesic_area(gdf.geometry, gdf.crs).sum() == pytest.approx(ref_total(), rel=1e-7)


# --- File Geodatabase --------------------------------------------------------------------

@pytest.fixture()
def gdb(tmp_path) -> Path:
    p = tmp_path / "sandiao.gdb"
    pyogrio.write_dataframe(parcels(), p, layer="DLTB", driver="OpenFileGDB")
    pyogrio.write_dataframe(parcels().iloc[:1], p, layer="XZQ", driver="OpenFileGDB")
    return p


def test_filegdb_with_layer_flag_imports(gdb, run_cli):
    code, out, err = run_cli("import", "ws.gpkg", "generic", gdb, "--layer", "DLTB",
                             "--name", "dltb", "--format", "json")
    assert code == 0, err
    d = json.loads(out)
    assert d["layer"] == "DLTB" and d["driver"] == "OpenFileGDB" and len(d["sha256"]) == 64
    gdf = Workspace.open("ws.gpkg").read("dltb")
    assert sorted(gdf["DLMC"]) == ["旱地", "水田"]


def test_filegdb_colon_layer_reads(gdb):
    gdf, rep = read_vector(f"{gdb}:DLTB")
    assert_parcels(gdf, rep)


def test_filegdb_without_layer_lists_layers(gdb, run_cli):
    code, _out, err = run_cli("import", "ws.gpkg", "generic", gdb)
    assert code == 2 and "DLTB" in err and "XZQ" in err and "--layer" in err
    assert len(err.strip().splitlines()) == 1


def test_filegdb_non_spatial_table_refused(tmp_path):
    p = tmp_path / "t.gdb"
    pyogrio.write_dataframe(parcels(), p, layer="DLTB", driver="OpenFileGDB")
    import pandas as pd

    pyogrio.write_dataframe(pd.DataFrame({"code": ["0101"], "name": ["水田"]}), p, layer="DM",
                            driver="OpenFileGDB")
    with pytest.raises(InputError, match="table without geometry.*DLTB"):
        read_vector(f"{p}:DM")


# --- zip ---------------------------------------------------------------------------------

def test_zipped_gbk_shapefile_without_cpg_detected(tmp_path):
    shp = gbk_shapefile(tmp_path / "src")
    z = zip_files(tmp_path / "dltb.zip", sorted(shp.parent.iterdir()), shp.parent)
    gdf, rep = read_vector(z)
    assert_parcels(gdf, rep)
    assert rep.encoding == "gbk" and "GBK" in rep.encoding_source
    assert rep.sha256 and "zip" in rep.driver


def test_zipped_filegdb(tmp_path, gdb):
    z = zip_files(tmp_path / "g.zip", [gdb], gdb.parent)
    gdf, rep = read_vector(z, layer="DLTB")
    assert_parcels(gdf, rep)


def test_zip_with_two_shapefiles_needs_layer(tmp_path):
    a = gbk_shapefile(tmp_path / "src", "a")
    gbk_shapefile(tmp_path / "src", "b")
    z = zip_files(tmp_path / "two.zip", sorted(a.parent.iterdir()), a.parent)
    with pytest.raises(InputError, match="2 datasets.*--layer"):
        read_vector(z)
    gdf, rep = read_vector(z, layer="b")
    assert_parcels(gdf, rep)


# --- coordinate lists ----------------------------------------------------------------------

def jzd_rows(crs=4523, parcel_ids=("D1", "D2")):
    """Rows 地块编号, 地块名称, 圈号, 点号, X(northing), Y(easting) of the two parcels."""
    g = parcels(crs)
    rows = []
    for pid, name, geom in zip(parcel_ids, ["一号地块", "二号地块"], g.geometry, strict=True):
        for i, (e, n) in enumerate(list(geom.exterior.coords)[:-1], start=1):
            rows.append([pid, name, 1, f"J{i}", round(n, 3), round(e, 3)])
    return rows


def write_xlsx(path: Path, header: list[str], rows: list[list], title: str | None = "界址点坐标表"):
    wb = openpyxl.Workbook()
    ws = wb.active
    if title:
        ws.append([title])
    ws.append(header)
    for r in rows:
        ws.append(r)
    wb.save(path)
    return path


@pytest.mark.parametrize("header", [
    ["地块编号", "地块名称", "圈号", "点号", "X", "Y"],
    ["DKBH", "DKMC", "QH", "JZDH", "X坐标", "Y坐标"],
    ["地块编号", "地块名称", "圈号", "点号", "X(北)", "Y(东)"],
])
def test_xlsx_jzd_list_imports_with_area(tmp_path, header, run_cli):
    p = write_xlsx(tmp_path / "jzd.xlsx", header, jzd_rows())
    code, out, err = run_cli("import", "ws.gpkg", "site", p, "--format", "json")
    assert code == 0, err
    d = json.loads(out)
    assert d["crs"] == "EPSG:4523" and d["features"] == 2
    assert "not closed" in d["repairs"]["summary"]  # 界址点 lists do not repeat J1
    gdf = Workspace.open("ws.gpkg").read("site")
    from ecogis.measure import geodesic_area

    assert geodesic_area(gdf.geometry, gdf.crs).sum() == pytest.approx(ref_total(), rel=1e-6)


def test_csv_gbk_jzd_list_reads(tmp_path):
    lines = ["地块编号,地块名称,圈号,点号,X,Y"] + [",".join(map(str, r)) for r in jzd_rows()]
    p = tmp_path / "jzd.csv"
    p.write_bytes("\r\n".join(lines).encode("gbk"))
    gdf, rep = read_vector(p, kind="site")
    assert rep.encoding == "gbk" and list(gdf["name"]) == ["一号地块", "二号地块"]


def test_csv_lonlat_points_as_sites_check(tmp_path, run_cli, anju):
    p = tmp_path / "sites.csv"
    p.write_text("id,lon,lat,category,radius_m\nA,105.41,30.31,industrial,50米\n", encoding="utf-8")
    from ecogis.siting import read_sites

    s = read_sites(p)
    assert s.crs.to_epsg() == 4490 and s.geometry.iloc[0].x == pytest.approx(105.41)


def test_xlsx_with_crs_needed_for_six_digit_eastings(tmp_path):
    p = write_xlsx(tmp_path / "np.xlsx", ["地块编号", "圈号", "点号", "X", "Y"],
                   [[r[0], r[2], r[3], r[4], r[5]] for r in jzd_rows(4544)])
    with pytest.raises(CRSError, match="EPSG:4544"):
        read_vector(p)
    gdf, rep = read_vector(p, crs="EPSG:4544")
    from ecogis.measure import geodesic_area

    assert geodesic_area(gdf.geometry, gdf.crs).sum() == pytest.approx(ref_total(), rel=1e-6)


# --- MapInfo, DXF, KML ----------------------------------------------------------------------

#: MapInfo stores integer coordinates within BOUNDS: tight bounds keep millimetres
TAB_OPTS = {"ENCODING": "CP936", "BOUNDS": "35000000,3000000,36000000,4000000"}


def test_mapinfo_tab_gbk(tmp_path):
    p = tmp_path / "m.tab"
    pyogrio.write_dataframe(parcels(), p, driver="MapInfo File", layer_options=TAB_OPTS)
    gdf, rep = read_vector(p)
    assert_parcels(gdf, rep)
    assert rep.encoding == "gbk"


def test_mapinfo_tab_neutral_charset_gbk_bytes_detected(tmp_path):
    p = tmp_path / "n.tab"
    pyogrio.write_dataframe(parcels(), p, driver="MapInfo File", layer_options=TAB_OPTS)
    text = p.read_bytes().replace(b"WindowsSimpChinese", b"Neutral")
    p.write_bytes(text)
    gdf, rep = read_vector(p)
    assert_parcels(gdf, rep)


def write_dxf(path: Path, polys_by_layer: dict[str, list], *, hatch: bool = False) -> Path:
    """A minimal R12-style DXF with closed LWPOLYLINEs (or HATCH boundaries) per CAD layer."""
    out = ["0", "SECTION", "2", "HEADER", "9", "$ACADVER", "1", "AC1015", "9", "$DWGCODEPAGE",
           "3", "ANSI_936", "0", "ENDSEC", "0", "SECTION", "2", "ENTITIES"]
    for layer, polys in polys_by_layer.items():
        for poly in polys:
            pts = list(poly.exterior.coords)[:-1]
            if hatch:
                out += ["0", "HATCH", "8", layer, "100", "AcDbEntity", "100", "AcDbHatch",
                        "10", "0", "20", "0", "30", "0", "210", "0", "220", "0", "230", "1",
                        "2", "SOLID", "70", "1", "71", "0", "91", "1", "92", "2", "72", "1",
                        "73", "1", "93", str(len(pts))]
                for x, y in pts:
                    out += ["10", f"{x:.4f}", "20", f"{y:.4f}"]
                out += ["97", "0", "75", "0", "76", "1", "98", "0"]
            else:
                out += ["0", "LWPOLYLINE", "8", layer, "100", "AcDbEntity", "100",
                        "AcDbPolyline", "90", str(len(pts)), "70", "1"]
                for x, y in pts:
                    out += ["10", f"{x:.4f}", "20", f"{y:.4f}"]
        out += ["0", "LINE", "8", layer, "10", "0", "20", "0", "11", "1", "21", "1"]
    out += ["0", "ENDSEC", "0", "EOF"]
    path.write_bytes(("\n".join(out) + "\n").encode("gbk"))  # AutoCAD China: ANSI_936
    return path


@pytest.mark.parametrize("hatch", [False, True])
def test_dxf_closed_polylines_and_hatches_as_polygons(tmp_path, hatch):
    g = parcels(4523).geometry
    p = write_dxf(tmp_path / "d.dxf", {"红线": list(g), "注记": [g.iloc[0].buffer(-100)]},
                  hatch=hatch)
    with pytest.raises(InputError, match="CAD layers"):
        read_vector(p)
    with pytest.raises(CRSError, match="--crs"):
        read_vector(p, layer="红线")
    gdf, rep = read_vector(p, layer="红线", crs="EPSG:4523")
    assert len(gdf) == 2 and (gdf.geom_type == "Polygon").all()
    from ecogis.measure import geodesic_area

    assert geodesic_area(gdf.geometry, gdf.crs).sum() == pytest.approx(ref_total(), rel=1e-6)
    assert "left out" in rep.repairs.summary()


def test_kml_and_kmz(tmp_path):
    p = tmp_path / "k.kml"
    parcels(4326).to_file(p, driver="KML")
    gdf, rep = read_vector(p)
    assert rep.crs == "EPSG:4490" and len(gdf) == 2
    from ecogis.measure import geodesic_area

    assert geodesic_area(gdf.geometry, gdf.crs).sum() == pytest.approx(ref_total(), rel=1e-6)
    kmz = tmp_path / "k.kmz"
    with zipfile.ZipFile(kmz, "w") as z:
        z.write(p, "doc.kml")
    gdf2, _ = read_vector(kmz)
    assert len(gdf2) == 2


# --- refusals ----------------------------------------------------------------------------

def test_lone_dbf_dwg_and_folder_refused(tmp_path, run_cli):
    shp = gbk_shapefile(tmp_path / "src")
    lone = tmp_path / "lone.dbf"
    shutil.copy(shp.with_suffix(".dbf"), lone)
    dwg = tmp_path / "a.dwg"
    dwg.write_bytes(b"AC1027" + bytes(200))
    for f, what in ((lone, ".shp"), (dwg, "DXF"), (shp.parent, "folder")):
        code, _out, err = run_cli("import", "ws.gpkg", "generic", f)
        assert code == 2 and what in err and "fix:" in err, err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_non_spatial_gpkg_table_refused_or_built_from_coordinates(tmp_path):
    import pandas as pd

    p = tmp_path / "t.gpkg"
    pyogrio.write_dataframe(pd.DataFrame({"a": [1, 2]}), p, layer="plain")
    with pytest.raises(InputError, match="table without geometry"):
        read_vector(p)
    q = tmp_path / "xy.gpkg"
    pyogrio.write_dataframe(pd.DataFrame({"lon": [105.41], "lat": [30.31], "name": ["甲"]}), q,
                            layer="pts")
    gdf, rep = read_vector(q, kind="site")
    assert gdf.geometry.iloc[0].x == pytest.approx(105.41)
    assert "built from its coordinate columns" in rep.repairs.summary()


def test_outline_refuses_sumatra_and_accepts_coast(tmp_path):
    from ecogis.formats.coords import china_outline

    g = china_outline()
    lon = np.array([100.5, 105.45, 120.5, 109.8, 121.5, 127.0, 105.8])
    lat = np.array([0.5, 30.35, 38.8, 19.2, 25.0, 37.5, 21.0])
    got = shapely.contains_xy(g, lon, lat)
    # Sumatra, 安居区, 渤海, 海南, 台北, Seoul, Hanoi
    assert got.tolist() == [False, True, True, True, True, False, False]
    p = tmp_path / "sumatra.geojson"
    gpd.GeoDataFrame(geometry=[shapely.box(100.2, 0.2, 100.8, 0.8)], crs=4490).to_file(p)
    with pytest.raises(CRSError, match="outside China"):
        read_vector(p)


def test_mapinfo_mif_gbk(tmp_path):
    p = tmp_path / "m.mif"
    pyogrio.write_dataframe(parcels(), p, driver="MapInfo File", layer_options=TAB_OPTS)
    gdf, rep = read_vector(p)
    assert sorted(gdf["DLMC"]) == ["旱地", "水田"] and rep.encoding == "gbk"
    from ecogis.measure import geodesic_area

    assert geodesic_area(gdf.geometry, gdf.crs).sum() == pytest.approx(ref_total(), rel=1e-6)


def test_check_sites_from_xlsx_jzd_list(tmp_path, run_cli):
    """A 界址点 xlsx list as the sites of `ecogis check`: each 地块编号 one polygon site."""
    red = tmp_path / "red.geojson"
    gpd.GeoDataFrame({"name": ["红线一号"], "type": ["核心区"]},
                     geometry=[PARCELS_LL[0].buffer(0.001, join_style=2)], crs=4490).to_file(red)
    assert run_cli("import", "ws.gpkg", "redline", red)[0] == 0
    rows = [r + ["industrial"] for r in jzd_rows()]
    p = write_xlsx(tmp_path / "sites.xlsx", ["地块编号", "地块名称", "圈号", "点号", "X", "Y",
                                              "category"], rows)
    code, out, err = run_cli("check", "ws.gpkg", p, "--format", "json")
    assert code in (0, 1), err
    sites = {s["id"]: s for s in json.loads(out)["sites"]}
    assert set(sites) == {"D1", "D2"}
    assert sites["D1"]["area_m2"] == pytest.approx(ref_area_m2(PARCELS_LL[0]), rel=1e-6)
    assert sites["D1"]["hits"] and not sites["D2"]["hits"]
