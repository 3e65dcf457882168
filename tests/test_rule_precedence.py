"""Issue 12: rule precedence, the corrected verdicts, site attributes and the new tests."""

from __future__ import annotations

import json
import math

import geopandas as gpd
import pytest
import shapely
import shapely.affinity
from pyproj import CRS as CRS_

from ecogis.cli import main
from ecogis.errors import DataFileError, InputError
from ecogis.rules import load_categories, load_rule_files, load_rulebook
from ecogis.siting import SitingEngine

CRS = CRS_.from_epsg(4544)  # CGCS2000 / 3-degree GK CM 105E (安居区)
X0, Y0 = 500000.0, 3360000.0


def _gdf(rows, geoms, crs=CRS):
    cols = {k: [r.get(k) for r in rows] for k in {k for r in rows for k in r}}
    return gpd.GeoDataFrame(cols, geometry=geoms, crs=crs)


def _sq(x, y, half=5.0):
    return shapely.box(x - half, y - half, x + half, y + half)


@pytest.fixture(scope="module")
def redline_and_water():
    red = _gdf([{"name": "琼江红线"}], [shapely.box(X0, Y0, X0 + 1000, Y0 + 1000)])
    ws = _gdf([{"level": "一级", "name": "麻子滩水库"}, {"level": "二级", "name": "麻子滩水库"}],
              [shapely.box(X0 + 3000, Y0, X0 + 3500, Y0 + 500),
               shapely.box(X0 + 3500, Y0, X0 + 4500, Y0 + 500)])
    return {"redline": ("redline", red), "water": ("water_source", ws)}


@pytest.mark.parametrize(("category", "construction", "verdict", "rule"), [
    ("重大民生保障", "new", "conditional", "anju.redline.unavoidable"),
    ("科研考察", "new", "conditional", "anju.redline.unavoidable"),
    ("国家重大项目", "new", "conditional", "anju.redline.unavoidable"),
    ("民生", "new", "forbidden", "anju.redline.default"),
    ("工业", "new", "forbidden", "anju.redline.default"),
    ("生态修复", "new", "allowed", "anju.redline.protection"),
    ("重大民生保障", "expansion", "forbidden", "anju.redline.existing_expansion"),
    ("生态修复", "rebuild", "forbidden", "anju.redline.existing_expansion"),
])
def test_anju_redline_verdicts_cite_000_l1364(redline_and_water, category, construction,
                                              verdict, rule):
    rb = load_rulebook("anju")
    sites = _gdf([{"category": category, "construction": construction}],
                 [_sq(X0 + 500, Y0 + 500)])
    s = SitingEngine(redline_and_water, rb, crs=CRS).check(sites).sites[0]
    assert s.verdict == verdict
    deciding = [h for h in s.hits if h.verdict == verdict]
    assert rule in {h.rule for h in deciding}
    h = next(h for h in deciding if h.rule == rule)
    assert (h.citation["file"], h.citation["line"]) == ("000_87d8828f2b365ee7.txt", 1364)
    # the national default never decides in 安居: it is displaced, and the report says why
    assert "national.redline.default" not in {h.rule for h in s.hits}
    d = s.as_dict()
    if any(x.rule == "national.redline.default" for x in s.overridden):
        od = next(x for x in d["overridden"] if x["rule"] == "national.redline.default")
        assert od["overridden_by"].startswith("anju.redline.")
        assert "000_87d8828f2b365ee7.txt L1364" in od["precedence"]
    if rule == "anju.redline.unavoidable":
        assert "不可避让论证方案" in d["procedures"]
        assert h.approval == "自然资源部门"
        winner = next(r for r in load_rulebook("anju").rules if r.id == rule)
        assert h.overrides and set(h.overrides) <= set(winner.overrides)
        assert {x.rule for x in s.overridden} == set(h.overrides)


@pytest.mark.parametrize(("category", "verdict"), [
    ("供水工程", "warn"), ("饮用水供水设施", "warn"), ("取水口", "warn"),
    ("水源保护工程", "allowed"), ("生态隔离栏", "allowed"),
    ("工业", "forbidden"), ("民生", "forbidden"),
])
def test_level1_water_zone_admits_supply_and_protection(redline_and_water, category, verdict):
    sites = _gdf([{"category": category}], [_sq(X0 + 3200, Y0 + 200)])
    s = SitingEngine(redline_and_water, load_rulebook("anju"), crs=CRS).check(sites).sites[0]
    level1 = [h for h in s.hits if h.zone == "一级"]
    assert s.verdict == verdict, [(h.rule, h.verdict) for h in s.hits]
    assert level1


def test_national_only_level1_supply_is_not_forbidden(redline_and_water):
    sites = _gdf([{"category": "供水工程"}, {"category": "化工"}],
                 [_sq(X0 + 3200, Y0 + 200), _sq(X0 + 3200, Y0 + 200)])
    res = SitingEngine(redline_and_water, load_rulebook(None), crs=CRS).check(sites)
    assert [s.verdict for s in res.sites] == ["warn", "forbidden"]
    h = res.sites[0].hits[0]
    assert h.rule == "national.water_source.level1_related"
    assert h.citation["clause"] == "第六十五条"


def test_each_region_cites_its_own_document():
    red = _gdf([{}], [shapely.box(X0, Y0, X0 + 1000, Y0 + 1000)])
    files = {"anju": "000", "ziyang": "001", "shawan": "002", "yongchuan": "003",
             "tongnan": "004"}
    for region, prefix in files.items():
        sites = _gdf([{"category": "工业"}], [_sq(X0 + 500, Y0 + 500)])
        s = SitingEngine({"r": ("redline", red)}, load_rulebook(region), crs=CRS
                         ).check(sites).sites[0]
        forb = [h for h in s.hits if h.verdict == "forbidden"]
        assert forb and all(h.citation.get("file", "").startswith(prefix) for h in forb), \
            (region, [(h.rule, h.citation.get("file")) for h in forb])


def test_unknown_category_is_an_error_per_site(tmp_path, redline_and_water):
    rb = load_rulebook("anju")
    sites = _gdf([{"id": "a", "category": "工业"}, {"id": "b", "category": "火星基地"},
                  {"id": "c", "category": "供水工程"}],
                 [_sq(X0 + 500, Y0 + 500), _sq(X0 + 500, Y0 + 500), _sq(X0 + 3200, Y0 + 200)])
    res = SitingEngine(redline_and_water, rb, crs=CRS).check(sites, file="sites.gpkg")
    assert [s.id for s in res.sites] == ["a", "c"]
    assert [s.verdict for s in res.sites] == ["forbidden", "warn"]
    assert len(res.errors) == 1 and res.errors[0]["id"] == "b"
    assert "火星基地" in res.errors[0]["error"] and "fix:" in res.errors[0]["error"]
    assert res.as_dict()["errors"] == res.errors
    with pytest.raises(InputError, match="火星基地"):
        SitingEngine(redline_and_water, rb, crs=CRS).check(sites.iloc[[1]])


def test_cli_checks_the_rest_of_the_batch_then_exits_2(tmp_path, capsys):
    from ecogis.workspace import Workspace

    ws = Workspace.open(tmp_path / "ws.gpkg", create=True)
    ws.write("redline", gpd.GeoDataFrame({"name": ["红线"]}, geometry=[
        shapely.box(X0, Y0, X0 + 1000, Y0 + 1000)], crs=CRS), "redline")
    ll = gpd.GeoSeries([shapely.Point(X0 + 500, Y0 + 500)], crs=CRS).to_crs(4490).iloc[0]
    csv = tmp_path / "sites.csv"
    csv.write_text(f"id,category,lon,lat\n1,工业,{ll.x},{ll.y}\n2,星际港口,{ll.x},{ll.y}\n"
                   f"3,重大民生保障,{ll.x},{ll.y}\n", encoding="utf-8")
    code = main(["check", str(tmp_path / "ws.gpkg"), str(csv), "--region", "anju",
                 "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 2
    d = json.loads(out)
    assert [s["verdict"] for s in d["sites"]] == ["forbidden", "conditional"]
    assert str(d["errors"][0]["id"]) == "2"
    assert err.count("\n") == 1 and "星际港口" in err


def test_capacity_thresholds_on_site_attributes():
    built = _gdf([{"name": "建成区"}], [shapely.box(X0, Y0, X0 + 1000, Y0 + 1000)])
    rb = load_rulebook("ziyang")
    sites = _gdf([{"category": "燃煤锅炉", "capacity": c} for c in (5, 20, 40, None)],
                 [_sq(X0 + 500, Y0 + 500)] * 4)
    res = SitingEngine({"b": ("builtup", built)}, rb, crs=CRS).check(sites)
    rules = [{h.rule for h in s.hits} for s in res.sites]
    assert "builtup.coal_boiler" in str(rules[0]) and "builtup.coal_boiler" in str(rules[1])
    assert rules[2] == set() and rules[3] == set()
    assert res.sites[0].hits[0].site_filter == "规模 < 35 蒸吨/小时"


def test_in_catchment_takes_the_unit_holding_the_site():
    units = _gdf([{"name": "阳化河", "status": "不能稳定达标"}, {"name": "九曲河"}],
                 [shapely.box(X0, Y0, X0 + 1000, Y0 + 1000),
                  shapely.box(X0 + 1000, Y0, X0 + 2000, Y0 + 1000)])
    # 70 % in 阳化河's unit, 30 % in 九曲河's: it drains to one catchment, not two
    site = shapely.box(X0 + 860, Y0 + 400, X0 + 1060, Y0 + 600)
    rb = load_rulebook("ziyang")
    s = SitingEngine({"u": ("water_unit", units)}, rb, crs=CRS).check(
        _gdf([{"category": "工业"}], [site])).sites[0]
    load = [h for h in s.hits if h.rule == "ziyang.water_unit.load_control"]
    assert [h.name for h in load] == ["阳化河"] and load[0].features == [0]
    assert shapely.point_on_surface(site).within(units.geometry.iloc[0])


def _network():
    # main river west -> east along y = Y0; a tributary from the north joins at x = X0 + 4000
    main = shapely.LineString([(X0, Y0), (X0 + 10000, Y0)])
    trib = shapely.LineString([(X0 + 4000, Y0 + 6000), (X0 + 4000, Y0 + 3000),
                               (X0 + 4000, Y0)])
    rivers = _gdf([{"name": "琼江"}, {"name": "支流"}], [main, trib])
    ws = _gdf([{"level": "一级", "name": "取水口"}], [shapely.box(X0 + 7000, Y0 - 300,
                                                               X0 + 7600, Y0 + 300)])
    return {"rivers": ("river", rivers), "ws": ("water_source", ws)}


@pytest.mark.parametrize(("x", "y", "along"), [
    (X0 + 4000 + 100, Y0 + 5000, 5000 + 3000),  # on the tributary, 5 km above the junction
    (X0 + 1000, Y0 + 200, 6000),  # on the main river, upstream
    (X0 + 6500, Y0 - 150, 500),  # just above the intake
    (X0 + 9000, Y0 + 100, None),  # downstream of the intake
    (X0 + 4000 + 100, Y0 + 5950, None),  # 5.95 + 3 km = 8.95 km: beyond the 8.5 km reach
])
def test_upstream_walks_the_network_along_line_direction(x, y, along):
    rb = load_rulebook("anju", params={"anju_upstream_m": 8500})
    s = SitingEngine(_network(), rb, crs=CRS).check(
        _gdf([{"category": "工业"}], [shapely.Point(x, y)])).sites[0]
    hits = [h for h in s.hits if h.rule == "anju.water_source.upstream_polluting"]
    if along is None:
        assert not hits
        return
    # independent: along-river length from the site's nearest river point to the intake edge
    assert hits and hits[0].distance_m == pytest.approx(along, abs=1e-6)


def test_upstream_ignores_a_river_digitised_against_the_flow():
    net = _network()
    rivers = net["rivers"][1].copy()
    rivers.geometry = [shapely.reverse(g) for g in rivers.geometry]
    net["rivers"] = ("river", rivers)
    s = SitingEngine(net, load_rulebook("anju"), crs=CRS).check(
        _gdf([{"category": "工业"}], [_sq(X0 + 1000, Y0 + 200)])).sites[0]
    assert not [h for h in s.hits if h.rule == "anju.water_source.upstream_polluting"]


def test_admission_lists_are_data_on_the_unit():
    units = _gdf([{"category": "重点管控", "code": "ZH51090420001",
                   "forbidden": "化工；造纸", "restricted": "印染、两高"}],
                 [shapely.box(X0, Y0, X0 + 1000, Y0 + 1000)])
    rb = load_rulebook("anju")
    cats = ["石化", "制浆造纸", "印染", "供水工程"]
    res = SitingEngine({"u": ("env_unit", units)}, rb, crs=CRS).check(
        _gdf([{"category": c} for c in cats], [_sq(X0 + 500, Y0 + 500)] * 4))
    v = [s.verdict for s in res.sites]
    assert v[0] == "forbidden" and v[1] == "forbidden"  # 石化 ⊂ 化工 listed; 造纸 listed
    assert v[2] == "warn" and v[3] == "allowed"
    bad = units.assign(forbidden="化工；月球采矿")
    with pytest.raises(InputError, match="layer 'u', feature 0: forbidden lists unknown.*月球采矿"):
        SitingEngine({"u": ("env_unit", bad)}, rb, crs=CRS).check(
            _gdf([{"category": "化工"}], [_sq(X0 + 500, Y0 + 500)]))


def test_shoreline_zones_have_their_own_widths():
    rb = load_rulebook("ziyang")
    line = shapely.LineString([(X0, Y0), (X0 + 3000, Y0)])
    shore = _gdf([{"function": f} for f in ("生态保护岸线", "城镇公园岸线", "农田景观岸线")],
                 [line, shapely.affinity.translate(line, 0, 5000),
                  shapely.affinity.translate(line, 0, 10000)])
    want = {  # (zone offset, distance from the line) -> verdict
        (0, 150): "forbidden", (0, 250): "allowed",
        (5000, 40): "forbidden", (5000, 80): "warn", (5000, 120): "allowed",
        (10000, 25): "forbidden", (10000, 40): "allowed",
    }
    sites = _gdf([{"category": "城镇建设"}] * len(want),
                 [_sq(X0 + 1500, Y0 + off + d + 5) for off, d in want])
    res = SitingEngine({"s": ("shoreline", shore)}, rb, crs=CRS).check(sites)
    assert [s.verdict for s in res.sites] == list(want.values())


@pytest.mark.parametrize(("text", "match"), [
    ('overrides = ["national.nope"]', "overrides unknown rule 'national.nope'"),
    ('overrides = ["national.farmland.default"]', "kind redline.*of kind farmland"),
    ('construction = ["demolish"]', "construction 'demolish' is not one of"),
])
def test_rule_file_validation_of_the_new_keys(tmp_path, text, match):
    import shutil

    from ecogis.data import data_path

    d = tmp_path / "rules"
    d.mkdir()
    shutil.copy(data_path("rules") / "national.toml", d / "national.toml")
    (d / "x.toml").write_text(f"""
[rulebook]
region = "testland"
name_zh = "测试区"

[[rules]]
id = "testland.redline.x"
kind = "redline"
categories = ["*"]
verdict = "forbidden"
{text}
citation = {{ document = "测试区规划", clause = "第 1 条", file = "t.txt", line = 1 }}
""", encoding="utf-8")
    with pytest.raises(DataFileError, match=match):
        load_rule_files(d)


def test_upstream_needs_both_distances(tmp_path):
    import shutil

    from ecogis.data import data_path

    d = tmp_path / "rules"
    d.mkdir()
    shutil.copy(data_path("rules") / "national.toml", d / "national.toml")
    (d / "x.toml").write_text("""
[rulebook]
region = "testland"

[[rules]]
id = "testland.ws.up"
kind = "water_source"
categories = ["industrial"]
test = "upstream"
distance_m = 1000
verdict = "warn"
citation = { document = "测试区规划", clause = "第 1 条" }
""", encoding="utf-8")
    with pytest.raises(DataFileError, match="upstream test needs distance_m.*near_m"):
        load_rule_files(d)


def test_new_categories_and_aliases():
    cats = load_categories()
    for name, cid in [("供水工程", "water_supply"), ("水源保护工程", "source_protection"),
                      ("饮用水供水设施", "water_supply"), ("重大民生保障", "livelihood_major"),
                      ("造纸", "paper"), ("纺织", "textile"), ("冶炼", "smelting"),
                      ("印染", "dyeing"), ("制革", "tanning"), ("危险化学品", "hazardous_chemicals"),
                      ("采砂", "sand_mining"), ("民生", "livelihood")]:
        assert cats.resolve(name).id == cid
    assert "livelihood" in cats.ancestry("livelihood_major")
    assert "heavy_metal" in cats.ancestry("smelting")
    assert "chemical" in cats.ancestry("hazardous_chemicals")
    assert "mining" in cats.ancestry("sand_mining")
    assert math.isfinite(len(cats.categories))


def test_unknown_construction_is_an_error_of_that_site_only():
    red = _gdf([{}], [shapely.box(X0, Y0, X0 + 1000, Y0 + 1000)])
    sites = _gdf([{"id": 1, "category": "工业", "construction": "扩建"},
                  {"id": 2, "category": "工业", "construction": "拆除"},
                  {"id": 3, "category": "生态修复", "construction": "改建"}],
                 [_sq(X0 + 500, Y0 + 500)] * 3)
    res = SitingEngine({"r": ("redline", red)}, load_rulebook("anju"), crs=CRS).check(sites)
    assert [s.id for s in res.sites] == [1, 3]
    assert [s.construction for s in res.sites] == ["expansion", "rebuild"]
    assert res.sites[1].verdict == "forbidden"  # 原有建设用地不得改扩建 binds restoration too
    assert res.errors[0]["id"] == 2 and "拆除" in res.errors[0]["error"]


def test_report_says_which_rule_won_and_why(redline_and_water):
    from ecogis.siting_report import render_html, render_markdown

    sites = _gdf([{"id": "P1", "category": "重大民生保障"}], [_sq(X0 + 500, Y0 + 500)])
    res = SitingEngine(redline_and_water, load_rulebook("anju"), crs=CRS).check(sites)
    md = render_markdown(res)
    assert "规则优先" in md and "national.redline.default" in md
    assert "anju.redline.unavoidable" in md and "000_87d8828f2b365ee7.txt L1364" in md
    assert "规则优先" in render_html(res)


def test_shoreline_widths_are_the_plan_files_setbacks():
    """资阳's shoreline rules and layers/plans/ziyang.toml read the same L350: one fact."""
    from ecogis.plans import load_plan

    plan = {sb.min_m for sb in load_plan("ziyang").setbacks if sb.line == 350}
    rb = load_rulebook("ziyang")
    widths = set()
    for r in rb.rules:
        if r.kind == "shoreline" and r.rulebook == "ziyang":
            assert r.citation.line == 350
            widths |= {r.distance_m} if r.test == "within" else set(r.band_m)
    assert widths == plan == {200.0, 100.0, 50.0, 30.0}
