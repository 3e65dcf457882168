"""The rulebook and the project categories: shipped data, validation, matching semantics."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from ecogis.data import data_path
from ecogis.errors import DataFileError, InputError
from ecogis.rules import (
    ANY_RANK,
    SEVERITY,
    VERDICTS,
    load_categories,
    load_rule_files,
    load_rulebook,
    most_severe,
)

SEEDS = Path("/work/shared/seeds")
REGIONS = ["anju", "ziyang", "shawan", "yongchuan", "tongnan"]


# ---------------------------------------------------------------- shipped data


def test_shipped_rule_files_load_and_cite():
    files = load_rule_files()
    assert {rf.region for rf in files} == {"national", *REGIONS}
    for rf in files:
        assert rf.rules, rf.path.name
        for r in rf.rules:
            assert r.citation.document and r.citation.clause, r.id
            assert r.verdict in VERDICTS
            if rf.region != "national":  # seed rules cite the seed file and line
                assert re.fullmatch(r"00\d_[0-9a-f]{16}\.txt", r.citation.file), r.id
                assert r.citation.line and r.citation.line > 0, r.id
                assert r.id.startswith(rf.region + "."), r.id


def test_national_baseline_covers_the_issue():
    rb = load_rulebook()
    kinds = {r.kind for r in rb.rules}
    assert {"redline", "protected_area", "farmland", "water_source", "ugb"} <= kinds
    levels = {v for r in rb.rules if r.kind == "water_source" for v in r.where.get("level", ())}
    assert levels == {"一级", "二级", "准保护区"}
    farm = {r.id: r for r in rb.rules if r.kind == "farmland"}
    assert farm["national.farmland.national_major"].compensation_type == "永久基本农田补划"
    assert farm["national.farmland.national_major"].verdict == "conditional"
    assert farm["national.farmland.default"].verdict == "forbidden"


@pytest.mark.skipif(not SEEDS.is_dir(), reason="seed documents not on this machine")
def test_seed_quotes_are_on_the_cited_lines():
    """Every quoted seed rule quotes its seed file's cited line (modulo spaces)."""
    checked = 0
    for rf in load_rule_files():
        for r in rf.rules:
            c = r.citation
            if not (c.file and c.line and c.quote) or not (SEEDS / c.file).exists():
                continue
            lines = (SEEDS / c.file).read_text(encoding="utf-8").split("\n")
            text = re.sub(r"\s", "", lines[c.line - 1])
            for piece in c.quote.split("……"):
                assert re.sub(r"\s", "", piece) in text, (r.id, piece)
            checked += 1
    assert checked >= 15


@pytest.mark.parametrize("region", REGIONS)
def test_param_values_given_by_the_text_appear_in_it(region):
    rb = load_rulebook(region)
    for p in rb.params.values():
        if p.given and p.unit == "m":
            km, m = p.value / 1000, p.value
            assert (f"{km:g}公里" in p.note or f"{m:g}米" in p.note or f"{m:g} m" in p.note
                    or f"{km:g} 公里" in p.note or "一公里" in p.note or "5-10米" in p.note), p


@pytest.mark.parametrize(("name", "region"), [
    ("anju", "anju"), ("安居区", "anju"), ("Anju", "anju"), ("遂宁市安居区", "anju"),
    ("资阳市", "ziyang"), ("安岳县", "ziyang"), ("沙湾", "shawan"), ("永川区", "yongchuan"),
    ("潼南区", "tongnan"),
])
def test_region_names_resolve(name, region):
    rb = load_rulebook(name)
    assert rb.region == region
    assert rb.files[0] == "national.toml" and len(rb.files) == 2
    assert all(r.rulebook in ("national", region) for r in rb.rules)


def test_unknown_region_and_param_are_input_errors():
    with pytest.raises(InputError, match="no regional rulebook for '火星'.*anju"):
        load_rulebook("火星")
    with pytest.raises(InputError, match="unknown rule parameter 'nope'"):
        load_rulebook("anju", params={"nope": 1})


def test_param_override_changes_the_rule():
    base = {r.id: r for r in load_rulebook("anju").rules}
    moved = {r.id: r for r in load_rulebook("anju", params={"anju_setback_outer_m": 12}).rules}
    assert base["anju.river.setback_outer"].band_m == (5.0, 10.0)
    assert moved["anju.river.setback_outer"].band_m == (5.0, 12.0)
    assert moved["anju.river.setback_inner"].band_m == (0.0, 5.0)


# ---------------------------------------------------------------- categories


def test_categories_required_by_the_issue():
    cats = load_categories()
    required = {"industrial", "chemical", "heavy_metal", "urban", "infrastructure_national",
                "infrastructure_linear", "livelihood", "ecological_restoration", "research",
                "tourism", "livestock", "mining", "agriculture"}
    assert required <= set(cats.categories)
    assert cats.ancestry("chemical") == {"chemical": 0, "industrial": 1}
    assert cats.ancestry("chemical_park") == {"chemical_park": 0, "chemical": 1,
                                              "industrial_park": 1, "industrial": 2}


@pytest.mark.parametrize(("name", "cid"), [
    ("化工", "chemical"), ("工业用地", "industrial"), ("INDUSTRIAL", "industrial"),
    (" 国家重大 ", "infrastructure_national"), ("输电线路", "infrastructure_linear"),
    ("民生保障", "livelihood"), ("涉重金属", "heavy_metal"), ("化工园区", "chemical_park"),
])
def test_category_aliases(name, cid):
    assert load_categories().resolve(name).id == cid


def test_unknown_category_names_the_choices():
    with pytest.raises(InputError, match="unknown project category 'spaceport'.*industrial"):
        load_categories().resolve("spaceport")


@pytest.mark.parametrize(("cid", "rule_cats", "rank"), [
    ("chemical", ["chemical"], 0),
    ("chemical", ["industrial"], 1),
    ("chemical", ["industrial", "*"], 1),
    ("chemical", ["*"], ANY_RANK),
    ("chemical_park", ["industrial"], 2),
    ("chemical", ["urban"], -1),
    ("industrial", ["chemical"], -1),  # a rule on a child never binds the parent
])
def test_category_rank(cid, rule_cats, rank):
    assert load_categories().rank(cid, rule_cats) == rank


def test_verdict_severity_order():
    assert [SEVERITY[v] for v in VERDICTS] == [3, 2, 1, 0]
    assert most_severe(["warn", "forbidden", "allowed"]) == "forbidden"
    assert most_severe([]) == "allowed"


# ---------------------------------------------------------------- validation


CATS_OK = """
[categories.industrial]
name_zh = "工业"
[categories.chemical]
name_zh = "化工"
parents = ["industrial"]
"""


@pytest.mark.parametrize(("text", "match"), [
    (CATS_OK + "[categories.urban]\nname_zh='城镇'\ncolour='red'\n", "unknown keys"),
    (CATS_OK + "[categories.urban]\nname_en='urban'\n", "has no name_zh"),
    (CATS_OK + "[categories.urban]\nname_zh='城镇'\nparents=['nope']\n", "unknown parent"),
    (CATS_OK + "[categories.urban]\nname_zh='城镇'\naliases=['化工']\n", "is used by categories"),
    ("[categories.a]\nname_zh='A'\nparents=['b']\n[categories.b]\nname_zh='B'\nparents=['a']\n",
     "cycle"),
    ("[categories.Bad-Id]\nname_zh='x'\n", "lower-case"),
])
def test_category_file_validation(tmp_path, text, match):
    p = tmp_path / "categories.toml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(DataFileError, match=match) as exc:
        load_categories(p)
    assert str(p) in str(exc.value)


GOOD_RULE = """
[[rules]]
id = "test.redline"
kind = "redline"
categories = ["*"]
test = "intersects"
verdict = "forbidden"
citation = { document = "某文件", clause = "第一条" }
"""


def _rules_dir(tmp_path: Path, text: str, region: str = "testland") -> Path:
    d = tmp_path / "rules"
    d.mkdir(exist_ok=True)
    shutil.copy(data_path("rules", "national.toml"), d / "national.toml")
    (d / f"{region}.toml").write_text(
        f'[rulebook]\nregion = "{region}"\nname_zh = "测试区"\n' + text, encoding="utf-8")
    return d


@pytest.mark.parametrize(("text", "match"), [
    (GOOD_RULE.replace('verdict = "forbidden"', 'verdict = "banned"'), "verdict 'banned'"),
    (GOOD_RULE.replace('kind = "redline"', 'kind = "volcano"'), "unknown layer kind"),
    (GOOD_RULE.replace('["*"]', '["spaceport"]'), "unknown project category"),
    (GOOD_RULE.replace('["*"]', '[]'), "lists no categories"),
    (GOOD_RULE.replace('test = "intersects"', 'test = "touches"'), "test 'touches'"),
    (GOOD_RULE.replace('citation = { document = "某文件", clause = "第一条" }', ""),
     "no citation"),
    (GOOD_RULE.replace('clause = "第一条"', 'clause = ""'), "needs a document and a clause"),
    (GOOD_RULE + 'colour = "red"\n', "unknown keys"),
    (GOOD_RULE.replace('test = "intersects"', 'test = "within"'), "needs distance_m"),
    (GOOD_RULE.replace('test = "intersects"', 'test = "band"'), "needs band_m"),
    (GOOD_RULE.replace('test = "intersects"', 'test = "band"\nband_m = [10, 5]'),
     "must be below outer"),
    (GOOD_RULE.replace('test = "intersects"', 'test = "within"\ndistance_m = -3'), ">= 0"),
    (GOOD_RULE.replace('test = "intersects"', 'test = "within"\ndistance_m = "$nope"'),
     "unknown parameter"),
    (GOOD_RULE + 'distance_m = 5\n', "has no meaning for test"),
    (GOOD_RULE.replace('kind = "redline"', 'kind = "water_source"\nwhere = { level = ["三级"] }'),
     "not one of"),
    (GOOD_RULE.replace('kind = "redline"', 'kind = "redline"\nwhere = { colour = ["红"] }'),
     "not a field of kind"),
    (GOOD_RULE.replace('kind = "redline"', 'kind = "protected_area"\ngroups = { zone = ["x"] }'),
     "has no value group"),
    (GOOD_RULE.replace('"test.redline"', '"national.redline.default"'), "used twice"),
    (GOOD_RULE.replace('"test.redline"', '"Test Redline"'), "lower-case"),
    (GOOD_RULE + 'compensation = { type = "补划", ratio = 0 }\n', "ratio > 0"),
    ('[params.x]\nvalue = 5\nunit = "m"\n' + GOOD_RULE, "whether the text gives it"),
    ('[params.anju_setback_inner_m]\nvalue = 5\ngiven = true\n' + GOOD_RULE, "is defined in"),
    ('[params.x]\nvalue = 5\nunit = "m"\ngiven = false\n' + GOOD_RULE, "has no note"),
])
def test_rule_file_validation(tmp_path, text, match):
    d = _rules_dir(tmp_path, text)
    shutil.copy(data_path("rules", "anju.toml"), d / "anju.toml")
    with pytest.raises(DataFileError, match=match) as exc:
        load_rule_files(d)
    assert "testland.toml" in str(exc.value) or "national.toml" in str(exc.value)


def test_rule_file_needs_a_rulebook_table(tmp_path):
    d = tmp_path / "rules"
    d.mkdir()
    (d / "x.toml").write_text(GOOD_RULE, encoding="utf-8")
    with pytest.raises(DataFileError, match=r"missing \[rulebook\]"):
        load_rule_files(d)


def test_a_planner_adds_a_rule_without_python(tmp_path, anju):
    """A new TOML file binds a kind no shipped rule uses (公园绿地) and the engine obeys it."""
    from ecogis.siting import SitingEngine

    d = _rules_dir(tmp_path, """
[params.testland_park_buffer_m]
value = 50
unit = "m"
given = false
note = "test default"

[[rules]]
id = "testland.green_space.buffer"
name_zh = "公园绿地 50 米内不得新建化工项目"
kind = "green_space"
categories = ["chemical"]
test = "within"
distance_m = "$testland_park_buffer_m"
verdict = "forbidden"
procedures = ["调整选址"]
citation = { document = "测试区规划", clause = "第 3 条", file = "test.txt", line = 7 }
""")
    rb = load_rulebook("测试区", directory=d)
    c = shapely.get_point(shapely.maximum_inscribed_circle(
        anju.to_crs(4544).geometry.iloc[0], 10.0), 0)
    park = gpd.GeoDataFrame({"name": ["公园"]}, geometry=[shapely.box(c.x, c.y, c.x + 200,
                                                                      c.y + 200)], crs=4544)
    engine = SitingEngine({"parks": ("green_space", park)}, rb)
    sites = gpd.GeoDataFrame({"category": ["chemical", "chemical", "industrial"]},
                             geometry=[shapely.Point(c.x - 40, c.y), shapely.Point(c.x - 60, c.y),
                                       shapely.Point(c.x - 40, c.y)], crs=4544)
    res = engine.check(sites)
    assert [s.verdict for s in res.sites] == ["forbidden", "allowed", "allowed"]
    h = res.sites[0].hits[0]
    assert h.rule == "testland.green_space.buffer" and h.distance_m == pytest.approx(40.0)
    assert h.citation["text"] == "测试区规划 第 3 条 (test.txt L7)"
    rb2 = load_rulebook("测试区", directory=d, params={"testland_park_buffer_m": 70})
    res2 = SitingEngine({"parks": ("green_space", park)}, rb2).check(sites)
    assert res2.sites[1].verdict == "forbidden"


@pytest.mark.parametrize("region", REGIONS)
def test_river_distances_agree_with_the_plan_files(region):
    """Distances of regional river rules equal the setbacks the plan file (layers/plans) reads
    from the same seed line: two data files, one fact."""
    from ecogis.plans import load_plan

    plan = load_plan(region)
    by_line: dict[int, set[float]] = {}
    for sb in plan.setbacks:
        by_line.setdefault(sb.line, set()).update({sb.min_m, sb.max_m})
    checked = 0
    rb = load_rulebook(region)
    for r in rb.rules:
        if r.rulebook != region or r.kind != "river" or r.test not in ("within", "band"):
            continue
        if not r.params or not all(rb.params[p].given for p in r.params):
            continue  # a literal 0 (in the river) or an ecogis default, not a text distance
        edges = {r.distance_m} if r.test == "within" else set(r.band_m) - {0.0}
        assert r.citation.line in by_line, r.id
        assert edges <= by_line[r.citation.line], (r.id, edges, by_line[r.citation.line])
        checked += 1
    assert checked >= 1
