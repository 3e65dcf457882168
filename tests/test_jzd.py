"""The 国土 TXT 界址点 exchange format: axes, zones, encodings, rings, declared areas.

Files are written here by hand (string formatting, not ecogis's writer) around the centre of
the real 安居区's largest inscribed circle; expected areas are closed forms in the plane and
pyproj's Geod on the lon/lat geometry.
"""

from __future__ import annotations

import json
import warnings

import geopandas as gpd
import pytest
import shapely
from conftest import ref_area_m2

from ecogis.errors import CRSError, InputError
from ecogis.jzd import AreaMismatchWarning, AxisSwapWarning, read_jzd, write_jzd

HEADER = """[属性描述]
格式版本号=1.01
数据产生单位=测试
坐标系={cs}
几度分带={width}
投影类型=高斯克吕格
计量单位=米
带号={zone}
精度=0.001
转换参数=0,0,0,0,0,0,0
[地块坐标]
"""


@pytest.fixture(scope="module")
def centre(anju):
    c = shapely.get_point(shapely.maximum_inscribed_circle(
        anju.to_crs(4544).geometry.iloc[0], 10.0), 0)
    return round(c.x, -2), round(c.y, -2)  # easting, northing in CM 105°E (no prefix)


def _ring(x0, y0, w, h):
    return [(x0, y0), (x0 + w, y0), (x0 + w, y0 + h), (x0, y0 + h), (x0, y0)]


def _block(rings, *, area_ha, bid="1", name="测试地块", use="", prefix=35_000_000, flip=False):
    """One block: rings = [[(east, north), ...], ...]; X = north, Y = east unless flip."""
    n = sum(len(r) for r in rings)
    lines = [f"{n},{area_ha:.4f},{bid},{name},面,,{use},,@"]
    k = 1
    for ring_no, ring in enumerate(rings, start=1):
        for e, nn in ring:
            x, y = (e + prefix, nn) if flip else (nn, e + prefix)
            lines.append(f"J{k},{ring_no},{x:.3f},{y:.3f}")
            k += 1
    return "\n".join(lines) + "\n"


def _write(tmp_path, text, name="parcel.txt", encoding="utf-8"):
    p = tmp_path / name
    p.write_bytes(text.replace("\n", "\r\n").encode(encoding))
    return p


def _header(cs="2000国家大地坐标系", width=3, zone=35):
    return HEADER.format(cs=cs, width=width, zone=zone)


def _geod(geom, crs):
    """Reference area of a GK geometry: its GK-straight edges densified to 1 m, to lon/lat."""
    dense = shapely.segmentize(geom, 1.0)
    return ref_area_m2(gpd.GeoSeries([dense], crs=crs).to_crs(4490).iloc[0])


def test_square_prefixed_eastings(tmp_path, centre):
    e0, n0 = centre
    p = _write(tmp_path, _header() + _block([_ring(e0, n0, 100, 100)], area_ha=1.0))
    gdf, rep = read_jzd(p)
    assert gdf.crs.to_epsg() == 4523  # CGCS2000 3° zone 35, prefixed
    g = gdf.geometry.iloc[0]
    assert g.bounds == pytest.approx((e0 + 35e6, n0, e0 + 35e6 + 100, n0 + 100))
    assert gdf["projected_area_m2"].iloc[0] == pytest.approx(10_000.0, rel=1e-12)
    assert gdf["area_m2"].iloc[0] == pytest.approx(_geod(g, 4523), rel=1e-9)
    assert gdf["declared_area_m2"].iloc[0] == 10_000.0
    assert bool(gdf["area_ok"].iloc[0])
    assert (gdf["id"].iloc[0], gdf["name"].iloc[0], gdf["n_points"].iloc[0]) == ("1", "测试地块", 5)
    assert rep.crs == "EPSG:4523" and "带号=35" in rep.crs_source
    assert rep.encoding == "utf-8" and rep.driver == "国土TXT界址点"


def test_unprefixed_eastings_take_the_zone_from_the_header(tmp_path, centre):
    e0, n0 = centre
    p = _write(tmp_path, _header() + _block([_ring(e0, n0, 100, 50)], area_ha=0.5, prefix=0))
    gdf, _ = read_jzd(p)
    assert gdf.crs.to_epsg() == 4544
    assert gdf.geometry.iloc[0].bounds == pytest.approx((e0, n0, e0 + 100, n0 + 50))


def test_gbk_file_is_decoded(tmp_path, centre):
    e0, n0 = centre
    text = _header() + _block([_ring(e0, n0, 80, 80)], area_ha=0.64, name="安居工业地块",
                              use="工业用地")
    p = _write(tmp_path, text, encoding="gbk")
    with pytest.raises(UnicodeDecodeError):
        p.read_bytes().decode("utf-8")
    gdf, rep = read_jzd(p)
    assert gdf["name"].iloc[0] == "安居工业地块" and gdf["use"].iloc[0] == "工业用地"
    assert rep.encoding == "gbk"


def test_rings_holes_parts_and_islands(tmp_path, centre):
    e0, n0 = centre
    rings = [_ring(e0, n0, 300, 300),              # 圈 1: outer
             _ring(e0 + 100, n0 + 100, 100, 100),  # 圈 2: hole in 1
             _ring(e0 + 500, n0, 50, 50),          # 圈 3: a second part
             _ring(e0 + 140, n0 + 140, 20, 20)]    # 圈 4: island inside the hole
    expected = 300 * 300 - 100 * 100 + 50 * 50 + 20 * 20
    p = _write(tmp_path, _header() + _block(rings, area_ha=expected / 1e4))
    gdf, _ = read_jzd(p)
    g = gdf.geometry.iloc[0]
    assert g.geom_type == "MultiPolygon" and len(g.geoms) == 3
    assert g.area == pytest.approx(expected, rel=1e-12)
    assert sum(len(part.interiors) for part in g.geoms) == 1
    assert bool(gdf["area_ok"].iloc[0])


def test_unclosed_rings_are_closed(tmp_path, centre):
    e0, n0 = centre
    ring = _ring(e0, n0, 60, 40)[:-1]
    p = _write(tmp_path, _header() + _block([ring], area_ha=0.24))
    gdf, _ = read_jzd(p)
    assert gdf.geometry.iloc[0].area == pytest.approx(2400.0)


def test_flipped_columns_are_detected(tmp_path, centre):
    e0, n0 = centre
    ring = _ring(e0, n0, 100, 100)
    normal, _ = read_jzd(_write(tmp_path, _header() + _block([ring], area_ha=1.0), "a.txt"))
    with pytest.warns(AxisSwapWarning):
        flipped, _ = read_jzd(_write(tmp_path, _header() + _block([ring], area_ha=1.0,
                                                                  flip=True), "b.txt"))
    assert flipped.geometry.iloc[0].equals(normal.geometry.iloc[0])


def test_declared_area_mismatch_is_reported(tmp_path, centre):
    e0, n0 = centre
    p = _write(tmp_path, _header() + _block([_ring(e0, n0, 100, 100)], area_ha=1.05))
    with pytest.warns(AreaMismatchWarning, match="declared"):
        gdf, _ = read_jzd(p)
    assert not bool(gdf["area_ok"].iloc[0])
    assert gdf["area_diff_m2"].iloc[0] == pytest.approx(-500.0, abs=0.5)
    assert gdf["area_diff_ratio"].iloc[0] == pytest.approx(-500 / 10_500, rel=1e-3)


@pytest.mark.parametrize(("header", "prefix", "match"), [
    (_header(zone=""), 0, "central meridian is unknown"),
    (_header(cs="1980西安坐标系"), 35_000_000, "CGCS2000"),
    (_header(zone=36), 35_000_000, "带号=36 but the eastings carry prefix 35"),
    (_header(width=4), 35_000_000, "only 3° and 6°"),
    (_header().replace("计量单位=米", "计量单位=度"), 35_000_000, "metres"),
])
def test_crs_errors(tmp_path, centre, header, prefix, match):
    e0, n0 = centre
    p = _write(tmp_path, header + _block([_ring(e0, n0, 10, 10)], area_ha=0.01, prefix=prefix))
    with pytest.raises(CRSError, match=match):
        read_jzd(p)


def test_missing_zone_is_fine_with_crs_or_prefix(tmp_path, centre):
    e0, n0 = centre
    body = _block([_ring(e0, n0, 10, 10)], area_ha=0.01, prefix=0)
    gdf, rep = read_jzd(_write(tmp_path, _header(zone="") + body), crs="EPSG:4544")
    assert gdf.crs.to_epsg() == 4544 and rep.crs_source == "--crs"
    body = _block([_ring(e0, n0, 10, 10)], area_ha=0.01)
    gdf, _ = read_jzd(_write(tmp_path, _header(zone="") + body, "b.txt"))
    assert gdf.crs.to_epsg() == 4523


@pytest.mark.parametrize(("line", "match"), [
    ("J1,1,abc,35500000.000", "line 13: X 'abc' is not a number"),
    ("J1,1,3364000.000", "neither a block line"),
])
def test_malformed_lines(tmp_path, line, match):
    text = _header() + "4,0.0100,1,x,面,,,,@\n" + line + "\n"
    with pytest.raises(InputError, match=match):
        read_jzd(_write(tmp_path, text))


def test_real_boundary_piece_in_a_6_degree_zone(tmp_path, anju, centre):
    """A piece of the real 安居区 boundary, written in 6° zone 18 (CM 105°E), prefixed."""
    from ecogis.crs import gk_zone

    epsg = gk_zone(105, width=6, prefixed=True).epsg  # CGCS2000 6° zone 18, prefixed
    assert epsg == 4496
    a = anju.to_crs(epsg).geometry.iloc[0]
    b = a.boundary
    # the box around the boundary point nearest the inscribed-circle centre's west
    pt = b.interpolate(b.project(shapely.Point(a.bounds[0], (a.bounds[1] + a.bounds[3]) / 2)))
    x, y = round(pt.x), round(pt.y)  # box edges on whole metres: the file keeps millimetres
    piece = a.intersection(shapely.box(x - 1500, y - 1500, x + 1500, y + 1500))
    piece = max(shapely.get_parts(piece), key=lambda g: g.area)
    coords = [(x - 18_000_000, y) for x, y in piece.exterior.coords]
    holes = [[(x - 18_000_000, y) for x, y in h.coords] for h in piece.interiors]
    text = _header(width=6, zone=18) + _block([coords, *holes], area_ha=piece.area / 1e4,
                                              prefix=18_000_000)
    gdf, rep = read_jzd(_write(tmp_path, text))
    assert gdf.crs.to_epsg() == epsg and len(coords) > 20
    g = gdf.geometry.iloc[0]
    expected = _geod(piece, epsg)
    assert gdf["area_m2"].iloc[0] == pytest.approx(expected, rel=1e-7)  # mm rounding only
    assert g.symmetric_difference(piece).area < piece.length * 0.0005  # ≤ 0.5 mm rounding
    assert bool(gdf["area_ok"].iloc[0])


def test_read_vector_dispatches_txt(tmp_path, centre):
    from ecogis.io import read_vector

    e0, n0 = centre
    p = _write(tmp_path, _header() + _block([_ring(e0, n0, 100, 100)], area_ha=1.0))
    gdf, rep = read_vector(p, kind="site")
    assert len(gdf) == 1 and rep.crs == "EPSG:4523"


def test_write_then_read_roundtrip(tmp_path, centre):
    e0, n0 = centre
    poly = shapely.Polygon(_ring(e0, n0, 200, 120), [_ring(e0 + 50, n0 + 30, 20, 20)[::-1]])
    gdf = gpd.GeoDataFrame({"id": ["A7"], "name": ["地块"]}, geometry=[poly], crs=4544)
    p = write_jzd(gdf, tmp_path / "out.txt", encoding="gbk")
    back, rep = read_jzd(p)
    assert rep.encoding == "gbk" and back.crs.to_epsg() == 4523
    assert back.to_crs(4544).geometry.iloc[0].symmetric_difference(poly).area < 1e-3
    assert back["id"].iloc[0] == "A7" and bool(back["area_ok"].iloc[0])


def test_cli_checks_a_jzd_file(tmp_path, centre, run_cli):
    """A bureau TXT checked end to end: id from 地块编号, category from 用途, area check."""
    from ecogis.workspace import Workspace

    e0, n0 = centre
    ws = Workspace.open(tmp_path / "ws.gpkg", create=True)
    red = gpd.GeoDataFrame({"name": ["红线"]}, geometry=[shapely.box(e0, n0, e0 + 500,
                                                                    n0 + 500)], crs=4544)
    ws.write("redline", red, "redline")
    text = _header() + _block([_ring(e0 + 400, n0 + 400, 200, 200)], area_ha=4.0, bid="JZ-7",
                              use="工业用地") \
        + _block([_ring(e0 + 2000, n0, 100, 100)], area_ha=1.2, bid="JZ-8", use="温室")
    p = _write(tmp_path, text, encoding="gbk")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code, out, err = run_cli("check", tmp_path / "ws.gpkg", p, "--category", "agriculture",
                                 "--format", "json")
    assert code == 0, err
    d = json.loads(out)
    a, b = d["sites"]
    assert (a["id"], a["category"], a["verdict"]) == ("JZ-7", "industrial", "forbidden")
    assert a["hits"][0]["overlap_ratio"] == pytest.approx(0.25, rel=1e-6)
    assert a["declared_area"]["ok"] is True
    assert (b["id"], b["category"], b["verdict"]) == ("JZ-8", "agriculture", "allowed")
    assert b["declared_area"]["ok"] is False
    assert any("declared" in w for w in d["warnings"])

