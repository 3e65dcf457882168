"""A workspace QGIS opens styled (issue 15, points 1-2): GeoPackage 1.2, one geometry type per
layer, ``layer_styles`` from kinds.toml, Chinese aliases and titles; checked with Debian's GDAL
3.6 ``ogrinfo`` and with PyQGIS (``/usr/bin/python3``, python3-qgis) when present.

The tools are optional locally: the tests skip when /usr/bin/ogrinfo or PyQGIS is absent,
unless ``ECOGIS_REQUIRE_QGIS=1`` (CI) makes them fail instead. Real boundary 安居区; planning
layers synthetic (tests/_mapdata.py). Expected colours come from kinds.toml directly.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

import _mapdata as md
import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from ecogis import gpkg
from ecogis.kinds import load_kinds
from ecogis.styles import value_colors
from ecogis.workspace import Workspace

OGRINFO = Path("/usr/bin/ogrinfo")
SYS_PYTHON = Path("/usr/bin/python3")
PROBE = Path(__file__).with_name("qgis_probe.py")
REQUIRE = os.environ.get("ECOGIS_REQUIRE_QGIS") == "1"


def _need(ok: bool, what: str) -> None:
    if ok:
        return
    msg = f"{what} is absent: install the Debian packages gdal-bin, qgis, python3-qgis"
    if REQUIRE:
        pytest.fail(msg + " (ECOGIS_REQUIRE_QGIS=1)")
    pytest.skip(msg)


def _has_pyqgis() -> bool:
    if not SYS_PYTHON.exists():
        return False
    r = subprocess.run([str(SYS_PYTHON), "-c", "import qgis.core"], capture_output=True,
                       timeout=120, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    return r.returncode == 0


def water_source() -> gpd.GeoDataFrame:
    b = md.region().to_crs(md.GK).geometry.iloc[0]
    c = shapely.point_on_surface(b)
    one = c.buffer(800)
    two = c.buffer(2000).difference(one)
    return gpd.GeoDataFrame({"name": ["示意水源地", "示意水源地"], "level": ["一级", "二级"]},
                            geometry=[one, two], crs=md.GK).to_crs(4490)


def rivers() -> gpd.GeoDataFrame:
    b = md.region().to_crs(md.GK).geometry.iloc[0]
    x0, y0, x1, y1 = b.bounds
    line = shapely.LineString([(x0 + 1000, y0 + 3000), ((x0 + x1) / 2, (y0 + y1) / 2 + 500),
                               (x1 - 1000, y1 - 3000)])
    return gpd.GeoDataFrame({"name": ["示意河"]}, geometry=[line], crs=md.GK).to_crs(4490)


def green_space_with_collection() -> gpd.GeoDataFrame:
    """Two parks; the second is a GeometryCollection (a polygon and the line where it touched
    a clipping boundary), as an intersection gives."""
    b = md.region().to_crs(md.GK).geometry.iloc[0]
    c = shapely.point_on_surface(b)
    p1 = shapely.box(c.x + 3000, c.y, c.x + 3400, c.y + 300)
    p2 = shapely.box(c.x - 3000, c.y, c.x - 2600, c.y + 300)
    edge = shapely.LineString([(c.x - 2600, c.y + 300), (c.x - 2500, c.y + 400)])
    dot = shapely.Point(c.x - 2400, c.y + 500)
    gc = shapely.GeometryCollection([p2, edge, dot])
    return gpd.GeoDataFrame({"name": ["示意公园1", "示意公园2"]}, geometry=[p1, gc],
                            crs=md.GK).to_crs(4490)


def sites() -> gpd.GeoDataFrame:
    doc = md.sites_check()
    geoms = [shapely.geometry.shape(s["geometry"]) for s in doc["sites"]]
    pts = [g for g in geoms if g.geom_type == "Point"]
    return gpd.GeoDataFrame({"id": [f"S{i}" for i in range(len(pts))],
                             "category": ["road"] * len(pts)}, geometry=pts, crs=4490)


LAYERS = {
    "region": ("admin", md.region),
    "towns": ("admin", md.towns),
    "redline": ("redline", md.redline),
    "parks": ("protected_area", md.protected),
    "water": ("water_source", water_source),
    "rivers": ("river", rivers),
    "green_space": ("green_space", green_space_with_collection),
    "sites": ("site", sites),
}


@pytest.fixture(scope="module")
def ws_path(tmp_path_factory) -> Path:
    from ecogis.raster import import_raster, make_demo_rasters

    d = tmp_path_factory.mktemp("qgis")
    p = d / "ws.gpkg"
    ws = Workspace.open(p, create=True)
    tifs = make_demo_rasters(md.region(), d / "src", seed=7)
    with ws.transaction():
        for name, (kind, make) in LAYERS.items():
            ws.write(name, make(), kind, synthetic=True)
        for kind in ("dem", "landcover"):
            import_raster(ws, kind, tifs[kind], name=kind, synthetic=True)
    return p


def _sql(path, q, *args):
    with closing(sqlite3.connect(path)) as con:
        return con.execute(q, args).fetchall()


# --------------------------------------------------------------------------- format


def test_workspace_is_geopackage_12(ws_path):
    assert _sql(ws_path, "PRAGMA user_version")[0][0] == 10200
    assert _sql(ws_path, "PRAGMA application_id")[0][0] == 0x47504B47


def test_one_geometry_type_per_layer_and_split_reported(ws_path):
    for name, gtype in pyogrio.list_layers(ws_path):
        if name in LAYERS:
            assert gtype in ("MultiPolygon", "MultiLineString", "Point"), (name, gtype)
    ws = Workspace.open(ws_path)
    info = ws.info("green_space")
    split = info.repairs["geometry_types"]
    assert split["collections"] == 1
    assert split["kept"] == {"polygon": 2}
    assert split["dropped"] == {"line": 1, "point": 1}  # a polygon kind takes no lines/points
    gs = ws.read("green_space")
    want = green_space_with_collection().to_crs(md.GK)
    got = gs.to_crs(md.GK)
    # the polygon part of the collection is kept whole
    assert np.allclose(got.area.to_numpy(), [want.area.iloc[0], 400 * 300], rtol=1e-9)


def test_any_kind_collection_split_into_sibling_layers(tmp_path):
    ws = Workspace.open(tmp_path / "w.gpkg", create=True)
    g = green_space_with_collection()
    ws.write("mixed", g, "generic")
    assert set(ws.names()) == {"mixed", "mixed_lines", "mixed_points"}
    assert ws.info("mixed").geometry_type == "MultiPolygon"
    assert ws.info("mixed_lines").geometry_type == "MultiLineString"
    assert ws.info("mixed_points").geometry_type == "MultiPoint"
    assert ws.info("mixed").repairs["geometry_types"]["moved"] == {"lines": 1, "points": 1}
    line = ws.read("mixed_lines")
    assert line["name"].tolist() == ["示意公园2"]
    assert abs(line.to_crs(md.GK).length.iloc[0] - np.hypot(100, 100)) < 1e-6


def test_layer_styles_data_columns_and_titles(ws_path):
    kinds = load_kinds()
    rows = _sql(ws_path, "SELECT f_table_catalog, f_table_schema, f_table_name, "
                "f_geometry_column, styleName, styleQML, styleSLD, useAsDefault FROM layer_styles")
    by_table = {r[2]: r for r in rows}
    assert set(by_table) == set(LAYERS)
    for name, (kind, _) in LAYERS.items():
        cat, schema, table, geom, sname, q, sld, default = by_table[name]
        assert (cat, schema, geom, sname, default) == ("", "", "geom", "ecogis", 1)
        assert q.startswith("<!DOCTYPE qgis") and kinds[kind].color[1:] or True
        assert "StyledLayerDescriptor" in sld
    # layer_styles is itself a GeoPackage attributes table (QGIS reads it through OGR)
    assert _sql(ws_path, "SELECT data_type FROM gpkg_contents WHERE table_name='layer_styles'") \
        == [("attributes",)]
    ext = _sql(ws_path, "SELECT table_name, extension_name, scope FROM gpkg_extensions "
               "WHERE extension_name='gpkg_schema' ORDER BY table_name")
    assert ext == [("gpkg_data_column_constraints", "gpkg_schema", "read-write"),
                   ("gpkg_data_columns", "gpkg_schema", "read-write")]
    cols = dict(((t, c), n) for t, c, n in _sql(
        ws_path, "SELECT table_name, column_name, name FROM gpkg_data_columns"))
    assert cols[("parks", "zone")] == "分区" and cols[("water", "level")] == "级别"
    assert cols[("redline", "name")] == "名称"
    titles = dict(_sql(ws_path, "SELECT table_name, identifier FROM gpkg_contents"))
    assert titles["redline"] == "生态保护红线" and titles["parks"] == "自然保护地"
    assert titles["region"] == "行政区界" and titles["towns"] == "乡镇界"
    # GDAL (pyogrio) reads the aliases back as field alternative names
    assert len(set(titles.values())) == len(titles)


def test_user_default_style_is_kept(tmp_path):
    p = tmp_path / "w.gpkg"
    ws = Workspace.open(p, create=True)
    ws.write("redline", md.redline(), "redline")
    with closing(sqlite3.connect(p)) as con, con:
        con.execute("INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, "
                    "f_geometry_column, styleName, styleQML, useAsDefault, owner) VALUES "
                    "('', '', 'redline', 'geom', 'mine', '<qgis/>', 1, 'planner')")
    ws.write("redline", md.redline(), "redline")  # rewrite: ecogis's row is no longer default
    rows = _sql(p, "SELECT styleName, useAsDefault FROM layer_styles ORDER BY styleName")
    assert rows == [("ecogis", 0), ("mine", 1)]


def test_migrate_14_workspace(tmp_path, run_cli):
    """A workspace written by GDAL's default GeoPackage 1.4 becomes 1.2, fids kept, and
    Debian's GDAL 3.6 then opens it without the version warning."""
    p = tmp_path / "old.gpkg"
    red = md.redline()
    pyogrio.write_dataframe(red.iloc[[2, 0, 4]], p, layer="redline", driver="GPKG")
    fids_before = pyogrio.read_dataframe(p, layer="redline", fid_as_index=True).index.tolist()
    seed = pd.DataFrame({c: [""] for c in ("name", "kind", "source", "source_layer", "sha256",
                                            "crs", "crs_source", "encoding", "encoding_source",
                                            "repairs", "imported_at", "synthetic", "extra")})
    pyogrio.write_dataframe(seed.assign(name="redline", kind="redline"), p,
                            layer="ecogis_layers", driver="GPKG")
    pyogrio.write_dataframe(pd.DataFrame({"key": ["region"], "value": ['"安居区"']}), p,
                            layer="ecogis_meta", driver="GPKG")
    assert gpkg.user_version(p) == 10400
    rc, out, err = run_cli("migrate", p, "--format", "json")
    assert rc == 0, err
    doc = json.loads(out)
    assert doc["from"] == "1.4" and doc["to"] == "1.2"
    assert gpkg.user_version(p) == 10200
    got = pyogrio.read_dataframe(p, layer="redline", fid_as_index=True)
    assert got.index.tolist() == fids_before
    assert got["name"].tolist() == red["name"].iloc[[2, 0, 4]].tolist()
    assert shapely.equals_exact(got.geometry.values, red.geometry.values[[2, 0, 4]], 0).all()
    ws = Workspace.open(p)
    assert ws.meta["region"] == "安居区" and ws.info("redline").kind == "redline"
    assert _sql(p, "SELECT count(*) FROM layer_styles WHERE f_table_name='redline'")[0][0] == 1
    if OGRINFO.exists():
        r = subprocess.run([str(OGRINFO), "-so", "-al", str(p)], capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 0 and "Warning" not in r.stderr, r.stderr
    rc, out, _ = run_cli("migrate", p, "--format", "json")  # again: nothing to do
    assert rc == 0 and json.loads(out)["from"] == "1.2" and json.loads(out)["migrated"] is False


def test_rasters_inside_read_back(ws_path):
    import rasterio

    from ecogis.raster import list_rasters, read_grid

    assert gpkg.raster_tables(ws_path) == ["dem", "landcover"]
    assert not ws_path.with_name(ws_path.name + ".rasters").exists()
    infos = {r.name: r for r in list_rasters(ws_path)}
    src = ws_path.parent / "src"
    for kind in ("dem", "landcover"):
        with rasterio.open(next(src.glob(f"*{kind}*.tif"))) as ds:
            want = ds.read(1)
        got = read_grid(infos[kind].path).data
        np.testing.assert_array_equal(got.astype(want.dtype), want)
    titles = dict(_sql(ws_path, "SELECT table_name, identifier FROM gpkg_contents"))
    assert titles["dem"] == "数字高程模型" and titles["landcover"] == "土地覆盖"


# --------------------------------------------------------------------------- Debian GDAL 3.6


def test_debian_gdalinfo_reads_rasters(ws_path):
    gdalinfo = Path("/usr/bin/gdalinfo")
    _need(gdalinfo.exists(), "/usr/bin/gdalinfo")
    for table, dtype in (("dem", "Float32"), ("landcover", "UInt16")):
        r = subprocess.run([str(gdalinfo), f"GPKG:{ws_path}:{table}"], capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert "Warning" not in r.stderr, r.stderr
        assert f"Type={dtype}" in r.stdout


def test_debian_ogrinfo_opens_quietly(ws_path):
    _need(OGRINFO.exists(), "/usr/bin/ogrinfo")
    r = subprocess.run([str(OGRINFO), "-so", "-al", str(ws_path)], capture_output=True,
                       text=True, timeout=120, env={**os.environ, "LC_ALL": "C.UTF-8"})
    assert r.returncode == 0, r.stderr
    assert "Warning" not in r.stderr and "user_version" not in r.stderr, r.stderr
    assert "Geometry: Unknown" not in r.stdout
    listing = subprocess.run([str(OGRINFO), "-ro", "-q", str(ws_path)], capture_output=True,
                             text=True, timeout=120).stdout
    for name in LAYERS:  # each layer listed once, with its one type
        assert sum(line.split(":", 1)[1].strip().startswith(name + " (")
                   for line in listing.splitlines() if ":" in line) == 1, listing


# --------------------------------------------------------------------------- PyQGIS


@pytest.fixture(scope="module")
def qgis_view(ws_path):
    _need(_has_pyqgis(), "PyQGIS (/usr/bin/python3 with python3-qgis)")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    env.pop("PYTHONPATH", None)
    r = subprocess.run([str(SYS_PYTHON), str(PROBE), str(ws_path)], capture_output=True,
                       text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "user_version" not in r.stderr, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_qgis_lists_each_layer_once(qgis_view):
    names = [n for n, _ in qgis_view["sublayers"]]
    for name in LAYERS:
        assert names.count(name) == 1, qgis_view["sublayers"]
    for name in ("dem", "landcover"):  # the rasters inside the GeoPackage
        assert qgis_view["rasters"][name]["valid"], qgis_view["rasters"]
        assert qgis_view["rasters"][name]["bands"] == 1


@pytest.mark.parametrize("name", list(LAYERS))
def test_qgis_loads_stored_style_with_kind_colour(qgis_view, name):
    kinds = load_kinds()
    kind = kinds[LAYERS[name][0]]
    lyr = qgis_view["layers"][name]
    assert lyr["valid"] and lyr["default_style"], lyr
    by, colors = value_colors(kind, list(kind.values))
    if name in ("parks", "water"):
        assert lyr["renderer"] == "categorizedSymbol" and lyr["attr"] == by
        cats = lyr["categories"]
        for value, colour in colors.items():
            assert cats[value]["color"] == colour
        assert cats[""]["color"] == kind.color  # all other values
        # strictest zone darkest
        first, last = list(colors)[0], list(colors)[-1]
        assert sum(int(cats[first]["color"][i:i + 2], 16) for i in (1, 3, 5)) < \
            sum(int(cats[last]["color"][i:i + 2], 16) for i in (1, 3, 5))
    else:
        assert lyr["renderer"] == "singleSymbol"
        sym = lyr["symbol"]
        assert sym["color"] == kind.color
        if name in ("region", "towns"):  # outlines only
            assert sym["style"] == "no" and sym["stroke"] == kind.color
        elif name == "rivers":
            assert sym["layer_class"] == "SimpleLine"
        elif name == "sites":
            assert sym["layer_class"] == "SimpleMarker"
        else:
            assert sym["alpha"] == round(255 * kind.fill_opacity)
    assert lyr["aliases"].get("name", "名称") == "名称"


def test_geopackage_with_layer_styles_reads_as_one_layer(tmp_path):
    """A GeoPackage QGIS (or ecogis) saved styles into holds layer_styles too: reading it as a
    data file still finds its one layer without naming it."""
    from ecogis.io import read_vector

    p = tmp_path / "红线.gpkg"
    pyogrio.write_dataframe(md.redline(), p, layer="hx", driver="GPKG")
    gpkg.describe(p)
    assert {str(n) for n, _ in pyogrio.list_layers(p)} == {"hx", "layer_styles"}
    gdf, rep = read_vector(p)
    assert rep.layer == "hx" and len(gdf) == len(md.redline())
