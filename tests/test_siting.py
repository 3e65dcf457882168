"""Siting checks on synthetic control lines laid inside the real 安居区 boundary.

Every layer is built in EPSG:4544 (CGCS2000 3° GK, CM 105°E, the zone of 安居区) around the
centre of the district's largest inscribed circle, and the test asserts the whole world lies
inside the real boundary. Expected areas are computed independently: closed forms in the
plane (method="projected") and pyproj's Geod on the expected pieces (method="ellipsoidal").
"""

from __future__ import annotations

import html
import json
import math
import re

import geopandas as gpd
import numpy as np
import pytest
import shapely
from conftest import ref_area_m2

from ecogis.errors import InputError
from ecogis.rules import load_rulebook
from ecogis.siting import CIRCLE_QUAD_SEGS, SitingEngine

GK = 4544


@pytest.fixture(scope="module")
def origin():
    import pathlib

    g = gpd.read_file(pathlib.Path(__file__).parent / "data" / "admin_units.gpkg")
    anju = g[g["name"] == "安居区"].to_crs(GK).geometry.iloc[0]
    c = shapely.get_point(shapely.maximum_inscribed_circle(anju, 10.0), 0)
    return round(c.x, -2), round(c.y, -2), anju


def _box(o, x0, y0, x1, y1):
    return shapely.box(o[0] + x0, o[1] + y0, o[0] + x1, o[1] + y1)


def _line(o, *pts):
    return shapely.LineString([(o[0] + x, o[1] + y) for x, y in pts])


def _gdf(geoms, crs=GK, **cols):
    return gpd.GeoDataFrame(cols, geometry=list(geoms), crs=crs)


@pytest.fixture(scope="module")
def world(origin):
    """Control lines (name -> (kind, GeoDataFrame)) inside 安居区."""
    o = origin
    b = lambda *a: _box(o, *a)  # noqa: E731
    ws1 = b(-3000, 0, -2000, 1000)
    ws2 = b(-3500, -500, -1500, 1500).difference(ws1)
    ws3 = b(-4500, -1500, -500, 2500).difference(b(-3500, -500, -1500, 1500))
    layers = {
        "redline": ("redline", _gdf([b(0, 0, 1000, 1000), b(0, -3000, 600, -2400),
                                     b(300, -3000, 900, -2400)],
                                    name=["琼江红线", "红线A", "红线B"])),
        "farmland": ("farmland", _gdf([b(2000, 0, 3000, 1000), b(3000, 0, 4000, 1000),
                                       b(4000, 0, 5000, 1000), b(2000, -3000, 5000, -2000)],
                                      grade=[2, 3, 4, 5])),
        "ugb": ("ugb", _gdf([b(-2000, -6000, 0, -4000)], zone=["集中建设区"])),
        "water": ("water_source", _gdf([ws1, ws2, ws3], level=["一级", "二级", "准保护区"])),
        "pa": ("protected_area", _gdf([b(0, 2500, 1000, 3500), b(1000, 2500, 2000, 3500)],
                                      zone=["核心保护区", "实验区"], name=["保护地", "保护地"])),
        "rivers": ("river", _gdf([_line(o, (-6000, 5000), (6000, 5000)),
                                  _line(o, (-5000, 7000), (5000, 7000))],
                                 name=["坛罐窑河", "琼江"], setback_m=[None, 30.0])),
        "eco": ("eco_control", _gdf([b(-6000, -1000, -5000, 0)])),
        "homes": ("residential", _gdf([b(5500, -1000, 6500, 0)])),
        "parks": ("industrial_park", _gdf([b(2000, -6000, 4000, -4000)])),
    }
    return layers


@pytest.fixture(scope="module")
def engines(world):
    """One engine per rulebook, built once for the module."""
    return {r: SitingEngine(world, load_rulebook(r)) for r in (None, "anju", "tongnan")}


def _sites(geoms, categories, **cols):
    return gpd.GeoDataFrame({"id": list(range(1, len(geoms) + 1)), "category": categories,
                             **cols}, geometry=list(geoms), crs=GK)


def _one(engine, geom, category, **kw):
    return engine.check(_sites([geom], [category]), **kw).sites[0]


def _rules(site):
    return {h.rule: h for h in site.hits}


def test_world_lies_inside_anju(origin, world):
    anju = origin[2]
    for name, (_kind, gdf) in world.items():
        assert anju.contains(shapely.union_all(gdf.geometry.values)), name


# ---------------------------------------------------------------- the acceptance cases


def test_industrial_site_inside_redline_is_forbidden(origin, engines):
    site = _box(origin, 100, 100, 300, 300)
    s = _one(engines[None], site, "industrial")
    assert s.verdict == "forbidden"
    h = _rules(s)["national.redline.default"]
    assert (h.layer, h.kind, h.feature, h.name) == ("redline", "redline", 0, "琼江红线")
    lonlat = gpd.GeoSeries([site], crs=GK).to_crs(4490).iloc[0]
    assert h.overlap_m2 == pytest.approx(ref_area_m2(lonlat), rel=1e-7)
    assert h.overlap_ratio == pytest.approx(1.0, abs=1e-9)
    assert h.distance_m == 0.0
    assert h.citation["document"] and h.citation["clause"]


@pytest.mark.parametrize("category", ["infrastructure_national", "infrastructure_national_linear"])
def test_national_major_linear_crossing_farmland_is_conditional_with_buchua(origin, engines,
                                                                            category):
    # a 20 m corridor crossing parcels F1..F3 (x 2000..5000) along y = 500
    line = _line(origin, (1500, 500), (5500, 500))
    res = engines[None].check(_sites([line], [category], width_m=[20.0]), method="projected")
    s = res.sites[0]
    assert s.verdict == "conditional"
    h = _rules(s)["national.farmland.national_major"]
    assert sorted(h.features) == [0, 1, 2]
    assert h.overlap_m2 == pytest.approx(20.0 * 3000.0, rel=1e-9)  # width × length inside
    assert any("补划" in p for p in h.procedures)
    assert h.approval == "国务院"
    assert s.farmland_m2 == pytest.approx(60_000.0, rel=1e-9)
    assert s.compensation_m2 == pytest.approx(60_000.0, rel=1e-9)
    assert s.compensation == {"永久基本农田补划": pytest.approx(60_000.0, rel=1e-9)}


def test_urban_project_on_farmland_is_forbidden_without_buchua(origin, engines):
    s = _one(engines[None], _box(origin, 2100, 100, 2300, 300), "urban", method="projected")
    assert s.verdict == "forbidden"
    rules = _rules(s)
    assert rules["national.farmland.default"].verdict == "forbidden"
    assert "national.farmland.national_major" not in rules
    assert s.farmland_m2 == pytest.approx(40_000.0)
    assert s.compensation_m2 == 0.0
    # an urban project also belongs inside the UGB: the site corner (2100, 100) is nearest
    ugb = rules["national.ugb.urban_outside"]
    assert ugb.overlap_m2 == pytest.approx(40_000.0)
    assert ugb.distance_m == pytest.approx(math.hypot(2100, 4100), rel=1e-9)  # UGB corner (0, -4000)


@pytest.mark.parametrize("category", ["industrial", "tourism", "research", "agriculture"])
def test_site_inside_water_source_level1_is_forbidden(origin, engines, category):
    s = _one(engines[None], shapely.Point(origin[0] - 2500, origin[1] + 500), category)
    assert s.verdict == "forbidden"
    h = _rules(s)["national.water_source.level1"]
    assert (h.zone, h.overlap_m2, h.overlap_ratio) == ("一级", 0.0, None)
    assert "第六十五条" in h.citation["clause"]


@pytest.mark.parametrize(("distance", "verdict", "rule"), [
    (3.0, "forbidden", "anju.river.setback_inner"),
    (7.0, "warn", "anju.river.setback_outer"),
    (9.99, "warn", "anju.river.setback_outer"),
    (10.0, "allowed", None),
    (25.0, "allowed", None),
])
def test_site_near_river_gets_the_setback_band_verdict(origin, engines, distance, verdict, rule):
    # a 50 m × 50 m building whose southern edge is `distance` m north of 坛罐窑河 (y = 5000)
    site = _box(origin, 0, 5000 + distance, 50, 5050 + distance)
    s = _one(engines["anju"], site, "industrial")
    assert s.verdict == verdict
    if rule is None:
        assert s.hits == []
    else:
        h = _rules(s)[rule]
        assert h.distance_m == pytest.approx(distance, abs=1e-6)
        assert h.name == "坛罐窑河"
        assert h.citation["file"] == "000_87d8828f2b365ee7.txt" and h.citation["line"] == 1335


def test_setback_band_without_the_regional_rulebook_is_silent(origin, engines):
    s = _one(engines[None], _box(origin, 0, 5007, 50, 5057), "industrial")
    assert s.verdict == "allowed" and s.hits == []


@pytest.mark.parametrize("category", ["industrial", "urban", "chemical", "livestock"])
def test_site_far_from_everything_is_allowed(origin, engines, category):
    site = shapely.Point(origin[0] - 6000, origin[1] + 3000).buffer(100)
    for rb in (None, "anju"):
        s = _one(engines[rb], site, "industrial" if category == "urban" else category)
        assert s.verdict == "allowed"
        assert s.hits == [] and s.farmland_m2 == 0.0


# ---------------------------------------------------------------- areas of points and lines


def _segment_area(r: float, a: float) -> float:
    """Area of the part of a disc of radius r beyond a chord at distance a from its centre."""
    return r * r * math.acos(a / r) - a * math.sqrt(r * r - a * a)


def _ngon_factor() -> float:
    """Area of the 4·quad_segs-gon inscribed in the unit circle, over π."""
    n = 4 * CIRCLE_QUAD_SEGS
    return n / 2 * math.sin(2 * math.pi / n) / math.pi


@pytest.mark.parametrize(("radius", "offset"), [(200.0, 0.0), (200.0, 100.0), (300.0, -150.0),
                                                (80.0, 500.0)])
def test_point_with_radius_overlap_area(origin, engines, radius, offset):
    # farmland F4 spans y -3000..-2000; the point sits `offset` m south of its north edge
    cx, cy = origin[0] + 3500, origin[1] - 2000 - offset
    res = engines[None].check(_sites([shapely.Point(cx, cy)], ["agriculture"]),
                              radius_m=radius, method="projected")
    s = res.sites[0]
    # inside share of the disc: the segment beyond the chord y = -2000 lies outside
    a = abs(offset)
    outside = _segment_area(radius, a) if a < radius else 0.0
    inside = math.pi * radius ** 2 - outside if offset >= 0 else outside
    assert s.radius_m == radius
    assert s.area_m2 == pytest.approx(math.pi * radius ** 2, rel=1e-3)
    assert s.area_m2 == pytest.approx(math.pi * radius ** 2 * _ngon_factor(), rel=1e-9)
    assert s.farmland_m2 == pytest.approx(inside, rel=2e-3)
    assert s.verdict == "allowed"  # agriculture on farmland


@pytest.mark.parametrize(("width", "angle_deg"), [(10.0, 0.0), (30.0, 15.0), (60.0, 10.0)])
def test_line_with_width_overlap_area(origin, engines, width, angle_deg):
    # a straight corridor through F4 (x 2000..5000, y -3000..-2000) crossing its west and east
    # edges: the part inside is a parallelogram of area width × 3000 / cos(angle)
    t = math.tan(math.radians(angle_deg))
    line = _line(origin, (1000, -2500 - 2500 * t), (6000, -2500 + 2500 * t))
    res = engines[None].check(_sites([line], ["infrastructure_national"], width_m=[width]),
                              method="projected")
    s = res.sites[0]
    expected = width * 3000.0 / math.cos(math.radians(angle_deg))
    assert s.width_m == width
    assert s.farmland_m2 == pytest.approx(expected, rel=1e-9)
    assert s.compensation_m2 == pytest.approx(expected, rel=1e-9)
    assert s.area_m2 == pytest.approx(width * line.length, rel=1e-9)


def test_line_without_width_has_position_but_no_area(origin, engines):
    line = _line(origin, (1500, 500), (5500, 500))
    s = _one(engines[None], line, "infrastructure_linear")
    assert s.area_m2 == 0.0 and s.farmland_m2 == 0.0
    h = _rules(s)["national.farmland.default"]  # local linear projects may not use farmland
    assert h.verdict == "forbidden" and h.overlap_ratio is None


def test_ellipsoidal_overlap_matches_geod_on_the_piece(origin, engines):
    # a 1.6 km × 1.6 km site over the corner of the 1 km redline square: the piece is
    # 800 m × 900 m; the ellipsoidal area of the piece by pyproj Geod is independent
    site = _box(origin, 200, 100, 1800, 1700)
    s = _one(engines[None], site, "industrial", method="ellipsoidal")
    piece = _box(origin, 200, 100, 1000, 1000)
    expected = ref_area_m2(gpd.GeoSeries([piece], crs=GK).to_crs(4490).iloc[0])
    h = _rules(s)["national.redline.default"]
    assert h.overlap_m2 == pytest.approx(expected, rel=1e-8)
    assert s.area_m2 == pytest.approx(
        ref_area_m2(gpd.GeoSeries([site], crs=GK).to_crs(4490).iloc[0]), rel=1e-8)
    planar = _one(engines[None], site, "industrial", method="projected")
    assert _rules(planar)["national.redline.default"].overlap_m2 == pytest.approx(720_000.0)


def test_self_overlapping_layer_counts_overlap_once(origin, engines):
    # redline A (0..600) and B (300..900) overlap by 300 m; a site over both covers 900 × 600
    site = _box(origin, -100, -3100, 1000, -2300)
    s = _one(engines[None], site, "industrial", method="projected")
    h = _rules(s)["national.redline.default"]
    assert sorted(h.features) == [1, 2]
    assert h.overlap_m2 == pytest.approx(900.0 * 600.0, rel=1e-9)  # not 2 × 600 × 600


# ---------------------------------------------------------------- rule semantics


@pytest.mark.parametrize(("category", "verdict", "rules"), [
    ("chemical", "forbidden", {"national.redline.default"}),
    ("infrastructure_national", "conditional", {"national.redline.national_major"}),
    ("infrastructure_national_linear", "conditional",
     {"national.redline.national_major", "national.redline.linear"}),
    ("research", "warn", {"national.redline.research"}),
    ("ecological_restoration", "allowed", {"national.redline.restoration"}),
    ("livelihood", "forbidden", {"national.redline.default"}),
])
def test_redline_most_specific_category_wins(origin, engines, category, verdict, rules):
    s = _one(engines[None], _box(origin, 400, 400, 500, 500), category)
    assert s.verdict == verdict
    assert set(_rules(s)) == rules


@pytest.mark.parametrize(("x", "category", "verdict", "rule"), [
    (500, "research", "forbidden", "national.protected_area.core"),
    (500, "ecological_restoration", "forbidden", "national.protected_area.core"),
    (1500, "research", "warn", "national.protected_area.general_restoration"),
    (1500, "industrial", "forbidden", "national.protected_area.general_construction"),
    (1500, "tourism", "conditional", "national.protected_area.general"),
])
def test_protected_area_zones_use_the_kind_groups(origin, engines, x, category, verdict, rule):
    s = _one(engines[None], shapely.Point(origin[0] + x, origin[1] + 3000), category)
    assert s.verdict == verdict
    assert rule in _rules(s)


@pytest.mark.parametrize(("x", "y", "category", "verdict"), [
    (-1600, 500, "industrial", "forbidden"),       # 二级: polluting project
    (-1700, 500, "tourism", "conditional"),        # 二级: other project
    (-700, 500, "chemical", "forbidden"),          # 准保护区: serious polluter
    (-700, 500, "industrial", "conditional"),      # 准保护区
    (-700, 500, "tourism", "allowed"),             # 准保护区: no rule for tourism
])
def test_water_source_levels(origin, engines, x, y, category, verdict):
    s = _one(engines[None], shapely.Point(origin[0] + x + 0.5, origin[1] + y), category)
    assert s.verdict == verdict


def test_ugb_outside_rule(origin, engines):
    inside = _box(origin, -1500, -5500, -1000, -5000)
    straddle = _box(origin, -500, -5000, 500, -4500)  # half outside (x > 0)
    point_out = shapely.Point(origin[0] + 100, origin[1] - 5000)
    res = engines[None].check(_sites([inside, straddle, point_out], ["urban"] * 3),
                              method="projected")
    a, b, c = res.sites
    assert a.verdict == "allowed"
    hb = _rules(b)["national.ugb.urban_outside"]
    assert b.verdict == "forbidden"
    assert hb.overlap_m2 == pytest.approx(500.0 * 500.0) and hb.overlap_ratio == pytest.approx(0.5)
    assert hb.distance_m == 0.0
    hc = _rules(c)["national.ugb.urban_outside"]
    assert c.verdict == "forbidden" and hc.distance_m == pytest.approx(100.0)


def test_declared_setback_field_binds_only_features_that_carry_it(origin, engines):
    # 琼江 (y = 7000) carries setback_m = 30; 坛罐窑河 (y = 5000) carries none
    near_qiong = _box(origin, 0, 7020, 50, 7070)
    near_tan = _box(origin, 0, 5020, 50, 5070)
    res = engines[None].check(_sites([near_qiong, near_tan], ["industrial"] * 2))
    q, t = res.sites
    assert q.verdict == "forbidden"
    h = _rules(q)["national.river.declared_setback"]
    assert h.name == "琼江" and h.distance_m == pytest.approx(20.0)
    assert t.verdict == "allowed"
    bridge = _one(engines[None], _line(origin, (0, 6900), (0, 7100)), "infrastructure_linear",
                  width_m=12.0)
    assert bridge.verdict == "conditional"
    assert set(_rules(bridge)) == {"national.river.declared_crossing"}


@pytest.mark.parametrize(("category", "distance", "verdict"), [
    ("chemical", 800.0, "forbidden"),
    ("chemical_park", 999.0, "forbidden"),
    ("chemical", 1200.0, "warn"),   # beyond 1 km: only the out-of-park hint
    ("industrial", 800.0, "warn"),  # not chemical: only the out-of-park hint
])
def test_tongnan_one_km_chemical_ban(origin, engines, category, distance, verdict):
    s = _one(engines["tongnan"], shapely.Point(origin[0] - 3000, origin[1] + 5000 - distance),
             category)
    assert s.verdict == verdict
    assert ("tongnan.river.chemical" in _rules(s)) == (verdict == "forbidden")
    if verdict == "forbidden":
        h = _rules(s)["tongnan.river.chemical"]
        assert h.distance_m == pytest.approx(distance)
        assert h.citation["line"] == 427


def test_parent_rules_bind_children(origin, engines):
    # anju: 生态控制区 restricts industrial development -> chemical (⊂ industrial) too
    p = shapely.Point(origin[0] - 5500, origin[1] - 500)
    for cat in ("industrial", "chemical", "heavy_metal"):
        s = _one(engines["anju"], p, cat)
        assert "anju.eco_control.development" in _rules(s), cat
    assert "anju.eco_control.development" not in _rules(_one(engines["anju"], p, "research"))


def test_heavy_metal_outside_park_and_tongnan_sensitive_zones(origin, engines):
    in_park = shapely.Point(origin[0] + 3000, origin[1] - 5000)
    near_homes = shapely.Point(origin[0] + 6000, origin[1] - 500)
    res = engines["anju"].check(_sites([in_park, near_homes], ["heavy_metal"] * 2))
    assert res.sites[0].verdict == "allowed"
    assert "anju.heavy_metal.outside_park" in _rules(res.sites[1])
    t = engines["tongnan"].check(_sites([near_homes], ["heavy_metal"])).sites[0]
    assert _rules(t)["tongnan.residential.heavy_metal"].verdict == "forbidden"


def test_batch_ids_categories_and_not_evaluated(origin, world):
    layers = {k: v for k, v in world.items() if k in ("redline", "farmland")}
    engine = SitingEngine(layers, load_rulebook(None))
    sites = gpd.GeoDataFrame(
        {"id": ["a", "b", "c"], "category": ["化工", None, "urban"]},
        geometry=[_box(origin, 10, 10, 20, 20), _box(origin, 2010, 10, 2020, 20),
                  shapely.Point(origin[0] - 5000, origin[1])], crs=GK)
    res = engine.check(sites, category="agriculture")
    assert [s.id for s in res.sites] == ["a", "b", "c"]
    assert [s.category for s in res.sites] == ["chemical", "agriculture", "urban"]
    assert [s.verdict for s in res.sites] == ["forbidden", "allowed", "allowed"]
    kinds = {n["kind"] for n in res.not_evaluated}
    assert {"ugb", "water_source"} <= kinds and "redline" not in kinds
    assert res.counts() == {"forbidden": 1, "conditional": 0, "warn": 0, "allowed": 2}


def test_sites_in_lonlat_are_projected(origin, engines):
    site = gpd.GeoSeries([_box(origin, 100, 100, 300, 300)], crs=GK).to_crs(4490)
    gdf = gpd.GeoDataFrame({"category": ["industrial"]}, geometry=site.values, crs=4490)
    s = engines[None].check(gdf, method="projected").sites[0]
    assert s.verdict == "forbidden" and s.area_m2 == pytest.approx(40_000.0, rel=1e-7)


@pytest.mark.parametrize(("geom", "category", "match"), [
    (shapely.Point(105.4, 30.4), "飞行器", "unknown project category"),
    (shapely.Point(105.4, 30.4), None, "has no category"),
    (shapely.Point(30.4, 105.4), "urban", "outside China"),
    (shapely.Polygon(), "urban", "no geometry"),
])
def test_bad_sites_raise_input_errors(engines, geom, category, match):
    gdf = gpd.GeoDataFrame({"category": [category]}, geometry=[geom], crs=4490)
    with pytest.raises(InputError, match=match):
        engines[None].check(gdf)


def test_negative_radius_is_refused(engines):
    gdf = gpd.GeoDataFrame({"category": ["urban"], "radius_m": [-5.0]},
                           geometry=[shapely.Point(105.4, 30.4)], crs=4490)
    with pytest.raises(InputError, match="radius_m"):
        engines[None].check(gdf)


# ---------------------------------------------------------------- CLI


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, world):
    from ecogis.workspace import Workspace

    path = tmp_path_factory.mktemp("siting") / "ws.gpkg"
    ws = Workspace.open(path, create=True)
    with ws.transaction():
        for name, (kind, gdf) in world.items():
            g = gdf.to_crs(4490) if name == "water" else gdf  # one layer stored in lon/lat
            ws.write(name, g, kind)
        ws.set_meta(region="anju")
    return path


def _lonlat(origin, dx, dy):
    p = gpd.GeoSeries([shapely.Point(origin[0] + dx, origin[1] + dy)], crs=GK).to_crs(4490)
    return f"{p.iloc[0].x:.9f},{p.iloc[0].y:.9f}"


def test_cli_batch_json(tmp_path, origin, workspace, run_cli):
    sites = _sites([_box(origin, 100, 100, 300, 300), _line(origin, (1500, 500), (5500, 500)),
                    _box(origin, 2100, 100, 2300, 300), shapely.Point(origin[0] - 2500,
                                                                      origin[1] + 500),
                    _box(origin, 0, 5007, 50, 5057), shapely.Point(origin[0] - 6000,
                                                                   origin[1] + 3000)],
                   ["industrial", "infrastructure_national", "urban", "tourism", "industrial",
                    "industrial"], width_m=[None, 20.0, None, None, None, None])
    sites["id"] = ["redline", "corridor", "urban", "water", "river7", "far"]
    path = tmp_path / "sites.geojson"
    sites.to_crs(4490).to_file(path)
    code, out, err = run_cli("check", workspace, path, "--format", "json", "--geometry")
    assert code == 0, err
    d = json.loads(out)
    v = {s["id"]: s for s in d["sites"]}
    assert {k: s["verdict"] for k, s in v.items()} == {
        "redline": "forbidden", "corridor": "conditional", "urban": "forbidden",
        "water": "forbidden", "river7": "warn", "far": "allowed"}
    assert d["rulebook"]["region"] == "anju"  # from the workspace's metadata
    assert d["unit"] == "m2" and d["method"] == "ellipsoidal"
    assert d["distance_crs"] == "EPSG:4544" and d["crs"] == "EPSG:4490"
    assert d["sites_file"] == str(path)
    g = shapely.from_geojson(json.dumps(v["redline"]["geometry"]))
    expected = gpd.GeoSeries([_box(origin, 100, 100, 300, 300)], crs=GK).to_crs(4490).iloc[0]
    assert g.symmetric_difference(expected).area < expected.length * 1e-8  # 1e-8° rounding
    hit = v["river7"]["hits"][0]
    for key in ("layer", "kind", "feature", "zone", "overlap_m2", "overlap_ratio", "distance_m",
                "rule", "verdict", "procedures", "citation"):
        assert key in hit
    assert hit["distance_m"] == pytest.approx(7.0, abs=1e-3)
    assert v["corridor"]["farmland_m2"] == pytest.approx(60_000.0, rel=1e-4)
    assert v["corridor"]["compensation_m2"] == v["corridor"]["farmland_m2"]
    assert v["far"]["hits"] == [] and v["far"]["farmland_m2"] == 0
    code, _, _ = run_cli("check", workspace, path, "--fail-on", "forbidden")
    assert code == 1
    # the JSON feeds `ecogis map --sites` (sites drawn by verdict, hits in the popup)
    (tmp_path / "check.json").write_text(out, encoding="utf-8")
    code, _, err = run_cli("map", workspace, "-o", tmp_path / "sites.html", "--sites",
                           tmp_path / "check.json")
    assert code == 0, err
    page = (tmp_path / "sites.html").read_text(encoding="utf-8")
    assert "national.redline.default" in page and "river7" in page
    code, _, _ = run_cli("check", workspace, "--lonlat", _lonlat(origin, -6000, 3000),
                         "--category", "industrial", "--fail-on", "conditional")
    assert code == 0


def test_cli_single_site_table_md_html_map(tmp_path, origin, workspace, run_cli):
    ll = _lonlat(origin, 2500, 500)
    code, out, err = run_cli("check", workspace, "--lonlat", ll, "--radius", "100",
                             "--category", "国家重大项目", "--region", "national_only_missing")
    assert code == 2 and "no regional rulebook" in err
    code, out, err = run_cli("check", workspace, "--lonlat", ll, "--radius", "100",
                             "--category", "国家重大项目", "--map", tmp_path / "m.html")
    assert code == 0, err
    assert "conditional" in out and "national.farmland.national_major" in out
    page = (tmp_path / "m.html").read_text(encoding="utf-8")
    assert "national.farmland.national_major" in page and "永久基本农田" in page
    assert not re.search(r"<(script|link)[^>]+(src|href)=[\"']https?://", page)  # offline
    code, md, _ = run_cli("check", workspace, "--lonlat", ll, "--radius", "100",
                          "--category", "infrastructure_national", "--format", "md")
    assert code == 0 and md.startswith("# 建设项目选址合规性审查报告")
    assert "土地管理法" in md and "补划" in md
    code, _, _ = run_cli("check", workspace, "--lonlat", ll, "--category", "urban",
                         "--format", "html", "-o", tmp_path / "r.html")
    report = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert code == 0 and "禁止" in report and "<svg" in report and "<iframe" in report
    inner = html.unescape(re.search(r'srcdoc="([^"]*)"', report).group(1))
    assert "L.map" in inner or "leaflet" in inner.lower()
    assert not re.search(r"<(script|link)[^>]+(src|href)=[\"']https?://", report + inner)


@pytest.mark.parametrize(("args", "match"), [
    (["--wkt", "POLYGON ((105.4 30.4, 105.41 30.4"], "cannot parse WKT"),
    (["--wkt", "POINT (105.4 30.4)", "--category", "spaceport"], "unknown project category"),
    (["--lonlat", "205.4,30.4", "--category", "urban"], "longitude must be within"),
    (["--lonlat", "30.4,105.4", "--category", "urban"], "swap them"),
    (["--lonlat", "105.4", "--category", "urban"], "is not LON,LAT"),
    (["--lonlat", "105.4,30.4"], "has no category"),
    (["--lonlat", "105.4,30.4", "--category", "urban", "--param", "nope=3"],
     "unknown rule parameter"),
    ([], "exactly one of"),
])
def test_cli_malformed_sites_exit_2(workspace, run_cli, args, match):
    code, out, err = run_cli("check", workspace, *args)
    assert code == 2
    assert match in err and "Traceback" not in err
    assert err.count("\n") == 1


def test_cli_param_override_moves_the_band(origin, workspace, run_cli):
    wkt = gpd.GeoSeries([_box(origin, 0, 5011, 50, 5061)], crs=GK).to_crs(4490).iloc[0].wkt
    code, out, _ = run_cli("check", workspace, "--wkt", wkt, "--category", "industrial",
                           "--format", "json")
    assert json.loads(out)["sites"][0]["verdict"] == "allowed"
    code, out, _ = run_cli("check", workspace, "--wkt", wkt, "--category", "industrial",
                           "--format", "json", "--param", "anju_setback_outer_m=12")
    d = json.loads(out)
    assert d["sites"][0]["verdict"] == "warn"
    assert d["rulebook"]["params"]["anju_setback_outer_m"]["value"] == 12


def test_overlap_ratio_and_counts_are_plain_json(origin, engines):
    res = engines[None].check(_sites([_box(origin, 900, 100, 1100, 300)], ["industrial"]),
                              method="projected")
    d = json.loads(json.dumps(res.as_dict(), default=float))
    h = d["sites"][0]["hits"][0]
    assert h["overlap_ratio"] == pytest.approx(0.5)
    assert np.isclose(h["overlap_m2"], 20_000.0)


def test_cli_lists_categories(run_cli):
    code, out, _ = run_cli("check", "--list-categories")
    assert code == 0
    assert "infrastructure_national_linear" in out and "化工园区" in out


def test_corridor_mitre_spike_is_seen(origin, engines):
    # a sharp V whose mitred outer corner pokes past its segments' half-width: the spike
    # (not the segments) reaches the 1 km redline square, so the candidate envelopes must
    # cover the whole mitre (GEOS's buffer is the reference)
    from ecogis.siting import MITRE_LIMIT

    w = 40.0
    apex = (-40.0, 500.0)  # 40 m west of the redline west edge (x = 0); the mitre is 57.7 m
    line = _line(origin, (-600, 300), apex, (-600, 700))
    corridor = line.buffer(w / 2, cap_style="flat", join_style="mitre", mitre_limit=MITRE_LIMIT)
    red = _box(origin, 0, 0, 1000, 1000)
    expected = corridor.intersection(red).area
    assert expected > 0 and line.distance(red) > w / 2  # only the spike reaches
    s = _one(engines[None], line, "industrial", width_m=w, method="projected")
    h = _rules(s)["national.redline.default"]
    assert h.overlap_m2 == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(("site_w", "vertices", "x0"), [(40_000, 4, 500_000.0),
                                                         (40_000, 2000, 500_000.0),
                                                         (60_000, 2000, 650_000.0)])
def test_large_site_inside_a_densely_digitised_ugb_is_not_outside(site_w, vertices, x0):
    """Regression: site and pieces must be measured alike (geodesic), or a big site entirely
    inside one UGB polygon (cut into parts) looked partly outside and became forbidden."""
    from pyproj import CRS as _CRS

    from ecogis.measure import geodesic_area

    gk = _CRS.from_epsg(4544)
    xs = np.linspace(x0 - 40_000, x0 + 40_000, vertices)
    ring = [(x, 3_350_000.0) for x in xs] + [(x, 3_370_000.0) for x in xs[::-1]]
    ugb = gpd.GeoDataFrame({"zone": ["集中建设区"]}, geometry=[shapely.Polygon(ring)], crs=gk)
    site = gpd.GeoDataFrame({"id": [1], "category": ["urban"]}, crs=gk, geometry=[
        shapely.box(x0 - site_w / 2, 3_355_000, x0 + site_w / 2, 3_365_000)])
    res = SitingEngine({"ugb": ("ugb", ugb)}, load_rulebook(None)).check(site).sites[0]
    assert res.verdict == "allowed" and res.hits == []
    assert res.area_m2 == pytest.approx(geodesic_area(site)[0], rel=1e-12)


def test_overlapping_farmland_layers_count_once():
    """Regression: two farmland layers overlapping each other: the site's farmland is their
    union inside the site, never more than the site."""
    from pyproj import CRS as _CRS

    from ecogis.measure import geodesic_area

    gk = _CRS.from_epsg(4544)
    f1 = gpd.GeoDataFrame({"grade": [5]}, crs=gk,
                          geometry=[shapely.box(500_000, 3_350_000, 501_000, 3_351_000)])
    f2 = gpd.GeoDataFrame({"grade": [5]}, crs=gk,
                          geometry=[shapely.box(500_500, 3_350_000, 501_500, 3_351_000)])
    site = gpd.GeoDataFrame({"id": [1], "category": ["urban"]}, crs=gk,
                            geometry=[shapely.box(500_000, 3_350_000, 501_500, 3_351_000)])
    res = SitingEngine({"a": ("farmland", f1), "b": ("farmland", f2)},
                       load_rulebook(None)).check(site).sites[0]
    union = gpd.GeoSeries([shapely.union(f1.geometry[0], f2.geometry[0])], crs=gk)
    assert res.farmland_m2 == pytest.approx(geodesic_area(union)[0], rel=1e-7)  # documented bound
    assert res.farmland_m2 <= res.area_m2 * (1 + 1e-12)
    assert res.compensation_m2 <= res.farmland_m2
