"""Indicators: shares, shoreline protection, service coverage, slope land, status, plans, CLI.

Expected values come from hand-made geometry measured with plain pyproj (Geod on vertex
lists written out by hand), closed forms (a 300 m strip of a 1 km square), and the real
安居区 boundary cut with shapely.
"""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from affine import Affine
from conftest import ref_area_m2
from pyproj import CRS, Geod

from ecogis import indicators as I
from ecogis.errors import DataFileError, InputError
from ecogis.workspace import Workspace

GEOD = Geod(ellps="GRS80")
LL = CRS.from_epsg(4490)
GK105 = CRS.from_epsg(4544)


def ring_area(coords) -> float:
    """Geodesic area of a lon/lat ring whose edges are straight in lon/lat (densified)."""
    ring = shapely.segmentize(shapely.Polygon(coords), 1e-4).exterior
    lon, lat = np.asarray(ring.coords).T
    return abs(GEOD.polygon_area_perimeter(lon, lat)[0])


def line_length(coords) -> float:
    lon, lat = zip(*coords, strict=True)
    return GEOD.line_length(lon, lat)


def gdf(geoms, crs=LL, **cols) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(cols or None, geometry=list(geoms), crs=crs)


def one(inputs: I.Inputs, iid: str) -> I.IndicatorValue:
    return I.compute_indicator(I.load_indicators()[iid], inputs)


TERRITORY = shapely.box(105.0, 30.0, 105.2, 30.2)


# ---------------------------------------------------------------------------- definitions


def test_definitions_load_with_the_plan_ids():
    defs = I.load_indicators()
    for iid in ("forest_cover", "forest_grass_cover", "shoreline_protection_rate",
                "redline_share"):
        assert iid in defs
    assert defs["forest_cover"].params["classes"] == ["forest"]
    assert defs["steep_cultivated_area"].direction == "lower"
    assert {d.unit for d in defs.values()} <= {"%", "km2", "ha"}


@pytest.mark.parametrize(("body", "match"), [
    ('id = "x"\nname_zh = "x"\nunit = "%"\ndirection = "higher"\nformula = "layer_share"\n'
     'kinds = ["redline"]\ncolour = "red"', "unknown keys"),
    ('id = "x"\nname_zh = "x"\nunit = "km2"\ndirection = "higher"\nformula = "layer_share"\n'
     'kinds = ["redline"]', "must be"),
    ('id = "x"\nname_zh = "x"\nunit = "%"\ndirection = "up"\nformula = "layer_share"\n'
     'kinds = ["redline"]', "direction"),
    ('id = "x"\nname_zh = "x"\nunit = "%"\ndirection = "higher"\nformula = "layer_share"\n'
     'kinds = ["red_line"]', "unknown layer kind"),
    ('id = "x"\nname_zh = "x"\nunit = "%"\ndirection = "higher"\n'
     'formula = "raster_class_share"\nraster = "landcover"\nclasses = ["woods"]',
     "unknown land-cover class"),
    ('id = "x"\nname_zh = "x"\nunit = "mu2"\ndirection = "higher"\nformula = "layer_area"\n'
     'kinds = ["redline"]', "not an area unit"),
    ('id = "x"\nname_zh = "x"\nunit = "%"\ndirection = "higher"\nformula = "magic"',
     "formula"),
])
def test_definition_errors_name_the_file(tmp_path, body, match):
    p = tmp_path / "indicators.toml"
    p.write_text("[[indicators]]\n" + body + "\n", encoding="utf-8")
    with pytest.raises(DataFileError, match=match) as info:
        I.load_indicators(p)
    assert str(p) in str(info.value)


# ---------------------------------------------------------------------------- shares


def test_redline_share_on_known_geometry():
    a = shapely.box(105.1, 30.05, 105.3, 30.1)  # sticks out of the territory to the east
    b = shapely.box(105.15, 30.0, 105.18, 30.15)  # overlaps a: counted once
    inp = I.Inputs(layers={"admin": gdf([TERRITORY]), "redline": gdf([a, b])})
    v = one(inp, "redline_share")
    union_ring = [(105.15, 30.0), (105.18, 30.0), (105.18, 30.05), (105.2, 30.05),
                  (105.2, 30.1), (105.18, 30.1), (105.18, 30.15), (105.15, 30.15),
                  (105.15, 30.1), (105.1, 30.1), (105.1, 30.05), (105.15, 30.05)]
    terr_ring = [(105.0, 30.0), (105.2, 30.0), (105.2, 30.2), (105.0, 30.2)]
    expected = 100 * ring_area(union_ring) / ring_area(terr_ring)
    assert v.value == pytest.approx(expected, rel=1e-9)
    assert v.numerator == pytest.approx(ring_area(union_ring), rel=1e-9)
    # the naive sum of feature areas would overcount the overlap
    assert v.value < 100 * (ring_area([(105.1, 30.05), (105.2, 30.05), (105.2, 30.1),
                                       (105.1, 30.1)]) + ring_area(
        [(105.15, 30.0), (105.18, 30.0), (105.18, 30.15), (105.15, 30.15)])) / ring_area(
        terr_ring)
    area_v = one(inp, "redline_area")
    assert area_v.value == pytest.approx(ring_area(union_ring) / 1e6, rel=1e-9)
    assert area_v.unit == "km2"


@pytest.mark.parametrize("cut_lon", [105.25, 105.4, 105.6])
def test_redline_share_on_the_real_boundary(anju, cut_lon):
    terr = anju.geometry.values[0]
    west = shapely.clip_by_rect(terr, 104.0, 29.0, cut_lon, 31.0)
    # the layer arrives in a Gauss-Krüger plane, as bureaus deliver it
    # (densified first, so its lon/lat-straight edges survive the move to the plane)
    red = gdf([shapely.segmentize(west, 1e-4)]).to_crs(GK105)
    inp = I.Inputs(layers={"admin": anju, "redline": red})
    v = one(inp, "redline_share")
    dense = shapely.segmentize(terr, 1e-4)
    expected = 100 * ref_area_m2(shapely.intersection(shapely.segmentize(west, 1e-4), dense)
                                 ) / ref_area_m2(dense)
    assert v.value == pytest.approx(expected, rel=1e-7)
    assert v.denominator / 1e6 == pytest.approx(1269.568, abs=0.001)


def test_ecological_space_counts_overlaps_once_and_notes_missing_kinds():
    red = shapely.box(105.0, 30.0, 105.1, 30.1)
    eco = shapely.box(105.05, 30.0, 105.15, 30.1)
    inp = I.Inputs(layers={"admin": gdf([TERRITORY]), "redline": gdf([red]),
                           "eco_control": gdf([eco])})
    v = one(inp, "ecological_space_share")
    ring = [(105.0, 30.0), (105.15, 30.0), (105.15, 30.1), (105.0, 30.1)]
    terr_ring = [(105.0, 30.0), (105.2, 30.0), (105.2, 30.2), (105.0, 30.2)]
    assert v.value == pytest.approx(100 * ring_area(ring) / ring_area(terr_ring), rel=1e-6)
    assert "protected_area" in v.note


# ---------------------------------------------------------------------------- missing data


PLAN = {"indicators": [
    {"id": "redline_share", "unit": "%", "baseline": {"value": 0.2, "year": 2022},
     "targets": [{"year": 2030, "value": 0.2, "comparator": ">="}]},
    {"id": "forest_cover", "unit": "%", "baseline": {"value": 31.3, "year": 2022},
     "targets": [{"year": 2025, "value": 31.0, "comparator": ">="}]},
    {"id": "green_300m_coverage", "unit": "%",
     "targets": [{"year": 2035, "value": 90.0, "comparator": ">="}]},
    {"id": "steep_cultivated_area", "unit": "ha", "baseline": {"value": 10.0, "year": 2022},
     "targets": [{"year": 2030, "value": 0.0, "comparator": "<="}]},
]}


def test_missing_layers_and_rasters_give_no_data_not_zero(anju):
    inp = I.Inputs(layers={"admin": anju})
    rows = {r.id: r for r in I.indicators_report(inp, PLAN)}
    for iid in ("redline_share", "forest_cover", "green_300m_coverage",
                "steep_cultivated_area", "shoreline_protection_rate", "farmland_area"):
        assert rows[iid].value is None
        assert rows[iid].status == I.NO_DATA
        assert rows[iid].note
    assert rows["redline_share"].target == 0.2  # the plan side is still shown


def test_a_present_layer_outside_the_territory_is_a_real_zero(anju):
    far = gdf([shapely.box(110.0, 25.0, 110.1, 25.1)])
    rows = {r.id: r for r in I.indicators_report(
        I.Inputs(layers={"admin": anju, "redline": far}), PLAN, ids=["redline_share"])}
    assert rows["redline_share"].value == 0.0
    assert rows["redline_share"].status == I.NOT_MET


def test_no_territory_gives_no_data_for_shares_but_areas_measure_the_layer():
    red = gdf([shapely.box(105.0, 30.0, 105.01, 30.01)])
    inp = I.Inputs(layers={"redline": red})
    assert one(inp, "redline_share").value is None
    v = one(inp, "redline_area")
    assert v.value == pytest.approx(
        ring_area([(105.0, 30.0), (105.01, 30.0), (105.01, 30.01), (105.0, 30.01)]) / 1e6,
        rel=1e-9)
    assert "whole layer" in v.note


# ---------------------------------------------------------------------------- status


@pytest.mark.parametrize(("value", "target", "comp", "direction", "baseline", "expected"), [
    (32.5, 32.0, ">=", "higher", None, "met"),
    (31.9, 32.0, ">=", "higher", None, "not met"),
    (32.0, 32.0, ">=", "higher", None, "met"),
    (32.0, 32.0, ">", "higher", None, "not met"),
    (31.9, 32.0, None, "higher", None, "not met"),  # comparator from direction
    (4.0, 5.0, None, "lower", None, "met"),
    (6.0, 5.0, None, "lower", None, "not met"),
    (6.0, 5.0, "<=", "lower", None, "not met"),
    (5.0, 5.0, "≤", "lower", None, "met"),
    (31.29999, 31.3, ">=", "higher", None, "met"),  # compared at the plan's precision
    (31.294, 31.3, ">=", "higher", None, "not met"),
    (75.0, None, "no_decrease", "higher", 75.38, "not met"),
    (75.4, None, "no_decrease", "higher", 75.38, "met"),
    (31.4, None, "持续提高", "higher", 31.3, "met"),
    (120.0, None, "no_increase", "lower", 100.0, "not met"),
    (None, 32.0, ">=", "higher", None, "no data"),
    (float("nan"), 32.0, ">=", "higher", None, "no data"),
    (31.0, None, "increase", "higher", None, "no target"),
])
def test_status(value, target, comp, direction, baseline, expected):
    assert I.status(value, target, comp, direction=direction, baseline=baseline) == expected


def test_unknown_comparator_is_an_input_error():
    with pytest.raises(InputError, match="comparator"):
        I.status(1.0, 2.0, "approximately")


def test_evaluate_picks_the_target_of_the_year_and_falls_back_to_the_baseline():
    plan = {"indicators": [
        {"id": "forest_grass_cover", "unit": "%", "direction": "higher",
         "baseline": {"value": 31.3, "year": 2022},
         "targets": [{"year": 2030, "comparator": "increase"},
                     {"year": 2025, "value": 32.0, "comparator": ">="}]},
        {"id": "shoreline_protection_rate", "unit": "%", "baseline": {"value": 75.38,
                                                                       "year": 2022}},
        {"id": "redline_area", "unit": "公顷", "baseline": {"value": 252.0, "year": 2022},
         "targets": [{"year": 2030, "comparator": "no_decrease"}]},
        {"id": "ugb_area", "unit": "km2", "baseline": 37.2213, "targets": [40.0]},
    ]}
    values = [I.IndicatorValue("forest_grass_cover", "林草覆盖率", "%", 31.9),
              I.IndicatorValue("shoreline_protection_rate", "河湖岸线保护率", "%", 76.0),
              I.IndicatorValue("redline_area", "生态保护红线面积", "km2", 2.51),
              I.IndicatorValue("ugb_area", "城镇开发边界面积", "km2", 38.0)]
    by = {r.id: r for r in I.evaluate(values, plan)}
    fg = by["forest_grass_cover"]
    assert (fg.target, fg.target_year, fg.comparator, fg.status) == (32.0, 2025, ">=", "not met")
    fg30 = {r.id: r for r in I.evaluate(values, plan, year=2030)}["forest_grass_cover"]
    assert (fg30.basis, fg30.comparator, fg30.target, fg30.status) == (
        "baseline", ">", 31.3, "met")
    fg27 = {r.id: r for r in I.evaluate(values, plan, year=2027)}["forest_grass_cover"]
    assert fg27.target_year == 2030  # the next later target
    sh = by["shoreline_protection_rate"]
    assert (sh.basis, sh.target, sh.status) == ("baseline", 75.38, "met")
    rl = by["redline_area"]
    assert rl.baseline == pytest.approx(2.52)  # 252 公顷 in km²
    assert rl.status == "not met"
    ugb = by["ugb_area"]  # lower is better, an undated target
    assert (ugb.comparator, ugb.target, ugb.status) == ("<=", 40.0, "met")


def test_plan_adapter_reads_objects_like_the_plan_module():
    entry = SimpleNamespace(
        id="forest_cover", name_zh="森林覆盖率", unit="%", direction="higher",
        baseline=SimpleNamespace(value=31.3, year=2022),
        targets=[SimpleNamespace(year=2025, value=31.0, comparator=">=")],
        source="000 L301")
    plan = SimpleNamespace(indicators=[entry])
    e = I.plan_entries(plan)["forest_cover"]
    assert (e.baseline, e.baseline_year, e.source) == (31.3, 2022, "000 L301")
    assert e.targets[0] == I.Target(2025, 31.0, ">=")
    rows = I.evaluate([I.IndicatorValue("forest_cover", "森林覆盖率", "%", 30.2)], plan)
    assert rows[0].status == "not met"



#: the header a plan file needs (ecogis.plans validates plan files strictly)
_PLAN_HEAD = (
    'schema = 1\n[region]\nid = "r"\nname_zh = "安居区"\nprovince = "四川省"\n'
    'parent = "遂宁市"\nlevel = "district"\nplan_title = "test"\nperiod = [2023, 2030]\n'
    'source = "000_87d8828f2b365ee7.txt"\nboundary = "boundaries/anju.gpkg"\n'
)


def test_plan_from_a_toml_path(tmp_path):
    p = tmp_path / "r.toml"
    p.write_text(_PLAN_HEAD + '[[indicators]]\nid = "redline_share"\nname_zh = "x"\n'
                 'unit = "%"\ndirection = "higher"\nline = 1\n'
                 'baseline = { value = 0.2, year = 2022 }\n'
                 'targets = [{ year = 2030, value = 0.2, comparator = "ge" }]\n',
                 encoding="utf-8")
    e = I.plan_entries(str(p))["redline_share"]
    assert (e.baseline, e.targets[0].year) == (0.2, 2030)


def test_incompatible_plan_unit_is_refused():
    plan = {"indicators": [{"id": "forest_cover", "unit": "km2", "baseline": 400.0}]}
    with pytest.raises(InputError, match="cannot be converted"):
        I.evaluate([I.IndicatorValue("forest_cover", "森林覆盖率", "%", 31.3)], plan)


# ---------------------------------------------------------------------------- shoreline


RIVER_POLY = shapely.box(105.0, 30.0, 105.1, 30.01)
RIVER_LINE = shapely.LineString([(105.12, 30.05), (105.18, 30.05)])


@pytest.mark.parametrize("with_centreline", [False, True])
def test_shoreline_protection_rate(with_centreline):
    protect = gdf([shapely.box(104.99, 29.99, 105.05, 30.02),  # west half of the polygon river
                   shapely.box(105.15, 30.04, 105.19, 30.06)])  # east half of the line river
    rivers = [RIVER_POLY, RIVER_LINE]
    if with_centreline:  # a centre line inside the river polygon is not a bank
        rivers.append(shapely.LineString([(105.0, 30.005), (105.1, 30.005)]))
    inp = I.Inputs(layers={"admin": gdf([TERRITORY]), "river": gdf(rivers),
                           "redline": protect})
    v = one(inp, "shoreline_protection_rate")
    poly_bank = (line_length([(105.0, 30.0), (105.1, 30.0)])
                 + line_length([(105.1, 30.0), (105.1, 30.01)])
                 + line_length([(105.1, 30.01), (105.0, 30.01)])
                 + line_length([(105.0, 30.01), (105.0, 30.0)]))
    poly_prot = (line_length([(105.0, 30.0), (105.05, 30.0)])
                 + line_length([(105.05, 30.01), (105.0, 30.01)])
                 + line_length([(105.0, 30.01), (105.0, 30.0)]))
    line_total = line_length([(105.12, 30.05), (105.18, 30.05)])
    line_prot = line_length([(105.15, 30.05), (105.18, 30.05)])
    expected = 100 * (poly_prot + 2 * line_prot) / (poly_bank + 2 * line_total)
    assert v.value == pytest.approx(expected, rel=1e-7)
    assert v.denominator == pytest.approx(poly_bank + 2 * line_total, rel=1e-7)
    assert v.basis_unit == "m"


def test_shoreline_clipped_to_the_territory():
    terr = shapely.box(105.0, 29.9, 105.06, 30.1)  # only the west 0.06° of the river polygon
    inp = I.Inputs(layers={"admin": gdf([terr]), "river": gdf([RIVER_POLY]),
                           "eco_control": gdf([shapely.box(104.9, 29.9, 105.03, 30.1)])})
    v = one(inp, "shoreline_protection_rate")
    west = line_length([(105.0, 30.0), (105.0, 30.01)])
    total = (line_length([(105.0, 30.0), (105.06, 30.0)])
             + line_length([(105.0, 30.01), (105.06, 30.01)]) + west)
    prot = (line_length([(105.0, 30.0), (105.03, 30.0)])
            + line_length([(105.0, 30.01), (105.03, 30.01)]) + west)
    assert v.value == pytest.approx(100 * prot / total, rel=1e-7)


def test_shoreline_without_rivers_or_protection_layers_is_no_data():
    assert one(I.Inputs(layers={"admin": gdf([TERRITORY]), "redline": gdf([TERRITORY])}),
               "shoreline_protection_rate").value is None
    assert one(I.Inputs(layers={"admin": gdf([TERRITORY]), "river": gdf([RIVER_POLY])}),
               "shoreline_protection_rate").value is None


# ---------------------------------------------------------------------------- service coverage


def service_inputs(types=("街头绿地", "公园")):
    # on the central meridian of EPSG:4544: a 1 km square residential block; a green strip
    # touching its west side; a park 200 m east of it, both as tall as the block
    res = shapely.box(500_000, 3_360_000, 501_000, 3_361_000)
    green = shapely.box(499_900, 3_360_000, 500_000, 3_361_000)
    park = shapely.box(501_200, 3_360_000, 501_300, 3_361_000)
    gs = gdf([green, park], crs=GK105, **({"type": list(types)} if types else {}))
    admin = gdf([shapely.box(499_000, 3_359_000, 502_000, 3_362_000)], crs=GK105)
    return I.Inputs(layers={"admin": admin, "residential": gdf([res], crs=GK105),
                            "green_space": gs})


def test_300m_green_and_500m_park_coverage():
    inp = service_inputs()
    g300 = one(inp, "green_300m_coverage")
    p500 = one(inp, "park_500m_coverage")
    # strips: x 0-300 m from the green strip + x 900-1000 m from the park (300 m reach)
    assert g300.value == pytest.approx(40.0, abs=1e-4)
    # only the park counts as a park: x 700-1000 m
    assert p500.value == pytest.approx(30.0, abs=1e-4)
    assert g300.denominator == pytest.approx(ref_area_m2(
        gdf([shapely.box(500_000, 3_360_000, 501_000, 3_361_000)], crs=GK105)
        .to_crs(LL).geometry.values[0]), rel=1e-6)


def test_park_coverage_without_a_type_field_counts_every_green_space():
    v = one(service_inputs(types=None), "park_500m_coverage")
    assert v.value == pytest.approx(80.0, abs=1e-4)  # 0-500 from the strip, 700-1000 park
    assert "type" in v.note


def test_no_park_among_the_green_spaces_is_a_real_zero():
    v = one(service_inputs(types=("街头绿地", "广场")), "park_500m_coverage")
    assert v.value == 0.0


# ---------------------------------------------------------------------------- rasters


def write_tif(path, data, transform, crs, nodata=None):
    with rasterio.open(path, "w", driver="GTiff", height=data.shape[0], width=data.shape[1],
                       count=1, dtype=data.dtype.name, transform=transform, crs=crs,
                       nodata=nodata) as ds:
        ds.write(data, 1)
    return path


def landcover_case(tmp_path, *, shift=0.0):
    t = Affine(50, 0, 500_000 + shift, 0, -50, 3_361_000)
    lc = np.full((20, 20), 3, dtype=np.uint8)
    lc[:7, :] = 1  # forest: 7 of 20 rows
    lc[7:9, :10] = 2  # grassland: 20 pixels
    path = write_tif(tmp_path / "lc.tif", lc, t, "EPSG:4544", nodata=0)
    admin = gdf([shapely.box(500_000, 3_360_000, 501_000, 3_361_000)], crs=GK105)
    return I.Inputs(layers={"admin": admin}, rasters={"landcover": path})


def test_forest_and_forest_grass_cover_from_land_cover(tmp_path):
    inp = landcover_case(tmp_path)
    # pixel areas vary by < 1e-7 across this 1 km square on the central meridian
    assert one(inp, "forest_cover").value == pytest.approx(100 * 140 / 400, abs=1e-5)
    assert one(inp, "forest_grass_cover").value == pytest.approx(100 * 160 / 400, abs=1e-5)
    fa = one(inp, "forest_area")
    assert fa.value == pytest.approx(0.35 * ref_area_m2(
        inp.layers_of("admin")[0].to_crs(LL).geometry.values[0]) / 1e6, rel=1e-6)


def test_land_cover_not_covering_the_territory_is_no_data(tmp_path):
    inp = landcover_case(tmp_path, shift=200.0)  # misses a 200 m strip of the territory
    v = one(inp, "forest_cover")
    assert v.value is None and "covers only 80.0 %" in v.note


def tilted_dem(tmp_path, theta_deg):
    t = Affine(20, 0, 499_000, 0, -20, 3_362_000)
    cols = np.arange(200)[None, :] + 0.5
    z = (300 + math.tan(math.radians(theta_deg)) * 20 * cols) * np.ones((200, 1))
    return write_tif(tmp_path / f"dem{theta_deg}.tif", z.astype(np.float64), t, "EPSG:4544")


@pytest.mark.parametrize(("theta", "steep"), [(30.0, True), (12.0, False)])
def test_steep_cultivated_land_from_a_layer(tmp_path, theta, steep):
    field = shapely.box(499_500, 3_359_500, 500_300, 3_360_700)
    inp = I.Inputs(layers={"admin": gdf([shapely.box(499_000, 3_358_000, 503_000, 3_362_000)],
                                        crs=GK105),
                           "cultivated": gdf([field], crs=GK105)},
                   rasters={"dem": tilted_dem(tmp_path, theta)})
    area = one(inp, "steep_cultivated_area")
    share = one(inp, "steep_cultivated_share")
    field_m2 = ref_area_m2(gdf([field], crs=GK105).to_crs(LL).geometry.values[0])
    assert area.value == pytest.approx(field_m2 / 1e4 if steep else 0.0, rel=1e-6)
    assert share.value == pytest.approx(100.0 if steep else 0.0, abs=1e-9)
    assert [d["slope_class"] for d in area.detail] == ["≤2°", "2–6°", "6–15°", "15–25°", ">25°"]
    assert sum(d["area_m2"] for d in area.detail) == pytest.approx(field_m2, rel=1e-6)


def test_steep_cropland_from_land_cover_when_no_layer(tmp_path):
    t = Affine(20, 0, 499_000, 0, -20, 3_362_000)
    lc = np.full((200, 200), 1, dtype=np.uint8)
    lc[:, :50] = 3  # cropland on the west quarter
    inp = I.Inputs(layers={"admin": gdf([shapely.box(499_000, 3_358_000, 503_000, 3_362_000)],
                                        crs=GK105)},
                   rasters={"dem": tilted_dem(tmp_path, 30.0),
                            "landcover": write_tif(tmp_path / "lc.tif", lc, t, "EPSG:4544", 0)})
    v = one(inp, "steep_cultivated_share")
    assert v.value == pytest.approx(100.0)
    a = one(inp, "steep_cultivated_area")
    assert a.value == pytest.approx(0.25 * 16e6 / 1e4, rel=1e-3)
    assert "land-cover" in a.note


# ---------------------------------------------------------------------------- CLI


@pytest.fixture()
def workspace(tmp_path, anju):
    ws = Workspace.open(tmp_path / "anju.gpkg", create=True)
    terr = anju.geometry.values[0]
    ws.write("admin", anju[["name", "geometry"]], "admin")
    west = shapely.clip_by_rect(terr, 104.0, 29.0, 105.2, 31.0)
    ws.write("redline", gdf([west]), "redline")
    plan = tmp_path / "anju_plan.toml"
    plan.write_text(
        _PLAN_HEAD + '[[indicators]]\nid = "redline_share"\nname_zh = "x"\nunit = "%"\n'
        'direction = "higher"\nline = 1\nbaseline = { value = 0.2, year = 2022 }\n'
        'targets = [{ year = 2030, value = 50.0, comparator = "ge" }]\n'
        '[[indicators]]\nid = "forest_cover"\nname_zh = "x"\nunit = "%"\n'
        'direction = "higher"\nline = 1\nbaseline = { value = 31.3, year = 2022 }\n'
        'targets = [{ year = 2025, value = 31.0, comparator = "ge" }]\n', encoding="utf-8")
    dense = shapely.segmentize(terr, 1e-4)  # lon/lat layers: edges straight in lon/lat
    return ws, plan, 100 * ref_area_m2(shapely.intersection(shapely.segmentize(west, 1e-4),
                                                            dense)) / ref_area_m2(dense)


def test_cli_indicators_json(workspace, run_cli):
    ws, plan, expected = workspace
    code, out, err = run_cli("indicators", ws.path, "--plan", plan, "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    rows = {r["id"]: r for r in doc["indicators"]}
    assert rows["redline_share"]["value"] == pytest.approx(expected, rel=1e-7)
    assert rows["redline_share"]["status"] == "not met"
    assert rows["forest_cover"]["value"] is None
    assert rows["forest_cover"]["status"] == "no data"
    assert rows["forest_cover"]["target"] == 31.0


def test_cli_indicators_table_check_and_bad_plan(workspace, run_cli, tmp_path):
    ws, plan, _ = workspace
    code, out, _ = run_cli("indicators", ws.path, "--plan", plan)
    assert code == 0
    assert "生态保护红线面积占比" in out and "not met" in out and "no data" in out
    code, _, _ = run_cli("indicators", ws.path, "--plan", plan, "--check")
    assert code == 1
    code, _, err = run_cli("indicators", ws.path, "--plan", tmp_path / "nope.toml")
    assert code == 2 and "nope.toml" in err
    code, _, err = run_cli("indicators", ws.path, "--id", "forest_cover_rate")
    assert code == 2 and "unknown indicator" in err


def test_cli_import_rasters_then_forest_cover(workspace, run_cli, tmp_path, anju):
    from ecogis.raster import make_demo_rasters

    ws, plan, _ = workspace
    paths = make_demo_rasters(anju, tmp_path / "src", seed=5)
    for kind in ("dem", "landcover"):
        code, out, err = run_cli("import", ws.path, kind, paths[kind])
        assert code == 0, err
        assert f"GPKG:{ws.path.resolve()}:" in out  # stored inside the workspace
    code, out, err = run_cli("indicators", ws.path, "--plan", plan, "--format", "json",
                             "--id", "forest_cover", "--id", "forest_grass_cover")
    assert code == 0, err
    rows = {r["id"]: r for r in json.loads(out)["indicators"]}
    assert rows["forest_cover"]["value"] == pytest.approx(31.3, abs=0.005)
    assert rows["forest_cover"]["status"] == "met"
    assert rows["forest_grass_cover"]["value"] == pytest.approx(31.9, abs=0.005)
    code, _, err = run_cli("import", ws.path, "landcover", paths["dem"])
    assert code == 2 and "integer" in err


def test_cli_admin_picks_the_territory_layer(workspace, run_cli, admin_units):
    ws, plan, expected = workspace
    other = admin_units[admin_units["name"] == "沙湾区"][["name", "geometry"]]
    ws.write("neighbour", other, "admin")
    code, out, err = run_cli("indicators", ws.path, "--format", "json", "--id", "redline_share")
    assert code == 0, err
    both = json.loads(out)["indicators"][0]["value"]
    code, out, err = run_cli("indicators", ws.path, "--format", "json", "--id", "redline_share",
                             "--admin", "admin")
    assert code == 0, err
    assert json.loads(out)["indicators"][0]["value"] == pytest.approx(expected, rel=1e-7)
    # the union of both districts is the territory without --admin
    assert both == pytest.approx(expected * 1269.568 / (1269.568 + 603.504), rel=1e-4)
    code, _, err = run_cli("indicators", ws.path, "--admin", "nope")
    assert code == 2 and "nope" in err


def test_cli_lists_plan_indicators_it_cannot_measure(workspace, run_cli, tmp_path):
    ws, plan, _ = workspace
    p = tmp_path / "more.toml"
    p.write_text(plan.read_text(encoding="utf-8") + '[[indicators]]\nid = "energy_intensity"\n'
                 'name_zh = "x"\nunit = "吨标准煤/万元"\ndirection = "lower"\nline = 1\n',
                 encoding="utf-8")
    code, out, _ = run_cli("indicators", ws.path, "--plan", p, "--format", "json")
    assert code == 0
    assert json.loads(out)["plan_ids_not_measured"] == ["energy_intensity"]


def test_slope_on_landcover_classes_needs_the_dem_to_cover_them(anju, tmp_path):
    """Regression: a DEM covering half the cropland gives no data, not a half-land figure."""
    import rasterio
    from rasterio.windows import Window

    from ecogis.indicators import Inputs, compute_indicator, load_indicators
    from ecogis.raster import make_demo_rasters

    paths = make_demo_rasters(anju, tmp_path, seed=3)
    with rasterio.open(paths["dem"]) as src:
        w = Window(0, 0, src.width // 2, src.height)
        data, prof = src.read(1, window=w), src.profile
        prof.update(width=data.shape[1], height=data.shape[0], transform=src.window_transform(w))
    for k in ("blockxsize", "blockysize", "tiled", "compress", "interleave"):
        prof.pop(k, None)
    half = tmp_path / "dem_half.tif"
    with rasterio.open(half, "w", **prof) as dst:
        dst.write(data, 1)
    d = load_indicators()["steep_cultivated_share"]
    full = compute_indicator(d, Inputs(layers={"admin": anju},
                                       rasters={"dem": paths["dem"], "landcover": paths["landcover"]}))
    cut = compute_indicator(d, Inputs(layers={"admin": anju},
                                      rasters={"dem": half, "landcover": paths["landcover"]}))
    assert full.value is not None
    assert cut.value is None and "covers only" in cut.note
