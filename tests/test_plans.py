"""Plan files: every file loads and validates, cites its seed lines, and keeps every figure.

The 安居区 figures are checked against the extraction report's section 2 (its tables are parsed
here), so a figure dropped from ``layers/plans/anju.toml`` fails a test.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ecogis.errors import DataFileError
from ecogis.plans import (
    list_plans,
    load_plan,
    normalize,
    parse_plan,
    plan_path,
    verify_citations,
)

SHARED = Path("/work/shared")
SEEDS = SHARED / "seeds"
DATA = Path(__file__).parent / "data" / "plans"
REGIONS = ["anju", "shawan", "tongnan", "yongchuan", "ziyang"]
MU = 10_000 / 15  # m² per 亩, closed form


# ------------------------------------------------------------------------- every plan file


def test_list_plans_has_the_five_regions():
    assert list_plans() == REGIONS


@pytest.mark.parametrize("region", REGIONS)
def test_plan_loads_by_id_and_by_path(region):
    p = load_plan(region)
    assert p.region.id == region
    assert p.path == plan_path(region)
    q = load_plan(str(p.path))
    assert q == p
    assert p.figures, "every plan declares at least one spatial figure"
    assert p.indicators, "every plan records its indicator table"
    assert p.region.source.startswith(("000_", "001_", "002_", "003_", "004_"))
    assert p.region.boundary == f"boundaries/{region}.gpkg"
    for f in p.figures:
        assert f.line >= 1 and f.quote and f.tolerance >= 0


@pytest.mark.skipif(not SEEDS.is_dir(), reason="the seed documents (/work/shared/seeds) are "
                    "not on this machine")
@pytest.mark.parametrize("region", REGIONS)
def test_every_citation_is_in_its_seed_line(region):
    """Each quote is on its cited line and holds its value; indicator names and values too."""
    assert verify_citations(load_plan(region), SEEDS) == []


def test_citation_check_finds_a_wrong_line(tmp_path):
    p = load_plan("anju")
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    lines = [f"line {i}" for i in range(1, 2141)]
    lines[1363] = "安居区生态保护红线集中于琼江河道岸线，划定面积2.52平方公里。"
    (seeds / p.region.source).write_text("\n".join(lines), encoding="utf-8")
    problems = verify_citations(p, seeds)
    assert not any("figure redline_area" in x for x in problems)
    assert any("figure farmland_area" in x and "L1366" in x for x in problems)


# --------------------------------------------------------------------- normalisation to SI


@pytest.mark.parametrize(("value", "unit", "si", "si_unit"), [
    (2.52, "平方公里", 2.52e6, "m2"),
    (21.92, "km2", 21.92e6, "m2"),
    (540, "公顷", 540e4, "m2"),
    (29460, "hm2", 29460e4, "m2"),
    (20998, "亩", 20998 * MU, "m2"),
    (4.8967, "万亩", 4.8967e4 * MU, "m2"),
    (31.3, "%", 0.313, "fraction"),
    (5, "公里", 5000.0, "m"),
    (200, "米", 200.0, "m"),
    (25, "个", 25.0, "count"),
])
def test_normalize(value, unit, si, si_unit):
    got, u = normalize(value, unit)
    assert u == si_unit
    assert got == pytest.approx(si, rel=1e-12)


def test_loader_computes_si_not_the_file():
    p = load_plan("shawan")
    assert p.figure("redline_area_delineated").si == pytest.approx(4.8967e4 * MU, rel=1e-12)
    assert p.figure("redline_area").declared_m2 == pytest.approx(21.92e6, rel=1e-12)
    assert p.figure("soil_erosion_share").si == pytest.approx(0.4867, rel=1e-12)
    assert p.figure("soil_erosion_share").declared_m2 is None
    y = load_plan("yongchuan")
    assert y.region.total_area.m2 == pytest.approx(1576e6)
    e = y.region.extent
    assert e.west == pytest.approx(105 + 37 / 60 + 31 / 3600)
    assert e.north == pytest.approx(29 + 34 / 60 + 23 / 3600)
    s = {x.id: x for x in y.setbacks}
    assert s["yangtze_industrial_park_5km"].min_m == 5000.0
    a = {x.id: x for x in load_plan("anju").setbacks}
    assert (a["river_setback"].min_m, a["river_setback"].max_m) == (5.0, 10.0)


# ------------------------------------------------ 安居区 against the extraction's section 2


def _section2() -> str:
    """Section 2 of the 000 extraction: the shared file when present, else the copy."""
    copy = (DATA / "000_section2.md").read_text(encoding="utf-8")
    shared = sorted((SHARED / "plans").glob("000_*.md")) if (SHARED / "plans").is_dir() else []
    if shared:
        text = shared[0].read_text(encoding="utf-8")
        m = re.search(r"^## 2\. .*?(?=^## 3\. )", text, flags=re.S | re.M)
        assert m, "section 2 not found in the extraction report"
        assert m.group(0).strip() == copy.strip(), "tests/data/plans/000_section2.md is stale"
        return m.group(0)
    return copy


def _tables(md: str) -> dict[str, list[list[str]]]:
    """Markdown tables of the section by their ### heading: rows of cells (header dropped)."""
    out: dict[str, list[list[str]]] = {}
    heading = ""
    for line in md.splitlines():
        if line.startswith("### "):
            heading = line[4:].strip()
        elif line.startswith("|") and not re.match(r"^\|[-| ]+\|$", line):
            out.setdefault(heading, []).append([c.strip() for c in line.strip("|").split("|")])
    return {h: rows[1:] for h, rows in out.items()}  # drop each header row


_AREA = re.compile(r"(\d+(?:\.\d+)?)(平方公里|公顷|万亩|亩)")


def test_anju_area_summary_table_is_complete():
    """Every area of table 2.1 (L1362-1371) is a figure with the same value, unit and line."""
    tables = _tables(_section2())
    title = next(t for t in tables if t.startswith("2.1 "))
    rows = tables[title]
    assert len(rows) == 6
    figures = load_plan("anju").figures
    found = 0
    for row in rows:
        line = int(re.search(r"L(\d+)", row[-1]).group(1))
        areas = [(float(v), u) for v, u in _AREA.findall(row[1].replace("**", ""))]
        assert areas, row
        for value, unit in areas:
            match = [f for f in figures if f.value == value and f.unit == unit and f.line == line]
            assert match, f"no figure {value} {unit} L{line} ({row[0]}) in anju.toml"
            found += 1
    assert found == 8  # 2.52, 551.37, 498.61, 37.2213, 171.56, 540, 410, 130


# areas in the other tables of section 2 that are not control-line layers (why, per number)
_NOT_LAYER_FIGURES = {
    (100.0, "平方公里"): "新增水土流失治理面积 by 2025: treatment work, not an existing layer",
    (45.0, "平方公里"): "小流域综合治理项目 treatment area: a project",
    (11.95, "万亩"): "国家储备林二期 construction scale: a project",
}


def test_anju_other_section2_tables_areas_are_figures_or_explained():
    tables = _tables(_section2())
    figures = load_plan("anju").figures
    seen = set()
    for title, rows in tables.items():
        if title.startswith("2.1 "):
            continue
        for row in rows:
            for v, u in _AREA.findall(" ".join(row).replace("**", "")):
                key = (float(v), u)
                seen.add(key)
                if key in _NOT_LAYER_FIGURES:
                    continue
                assert any(f.value == key[0] and f.unit == u for f in figures), \
                    f"{v}{u} in table {title!r} is neither a figure nor explained"
    assert set(_NOT_LAYER_FIGURES) <= seen, "an explained exclusion no longer occurs"


def test_anju_prose_figures_of_section2():
    md = _section2()
    p = load_plan("anju")
    m = re.search(r"高标准农田：建设 \*\*([\d.]+)(万亩)\*\*.*?（L(\d+)）", md)
    f = p.figure("hs_farmland_area")
    assert (f.value, f.unit, f.line) == (float(m.group(1)), m.group(2), int(m.group(3)))
    m = re.search(r"等(\d+)个集中式饮用水源地\*\*.*?（L(\d+)）", md)
    f = p.figure("water_source_count")
    assert (f.value, f.line, f.measure) == (float(m.group(1)), int(m.group(2)), "count")
    m = re.search(r"沿河道两边退(\d+)-(\d+)米.*?（L(\d+)）", md)
    s = {x.id: x for x in p.setbacks}["river_setback"]
    assert (s.min, s.max, s.unit, s.line) == (float(m.group(1)), float(m.group(2)), "米",
                                              int(m.group(3)))
    m = re.search(r"实际划定保护率\*\*([\d.]+)%\*\*.*?L(\d+)", md)
    i = p.indicator("shoreline_protection_rate")
    assert i.baseline.value == float(m.group(1))
    assert i.line <= int(m.group(2)) <= i.line_end


def test_anju_indicators_named_in_the_brief():
    p = load_plan("anju")
    fc = p.indicator("forest_cover")
    assert (fc.baseline.value, fc.baseline.year, fc.unit, fc.gis) == (31.3, 2022, "%", "yes")
    fg = p.indicator("forest_grass_cover")
    t2025 = [t for t in fg.targets if t.year == 2025]
    assert (t2025[0].value, t2025[0].comparator, t2025[0].line) == (32, "ge", 1274)
    assert p.indicator("shoreline_protection_rate").baseline.value == 75.38
    assert p.indicator("redline_area").baseline.value == 2.52
    assert {t.comparator for t in p.indicator("redline_area").targets} == {"no_decrease"}
    assert p.indicator("pm25").direction == "lower"
    assert {i.constraint for i in p.indicators} <= {"约束性", "参考性"}
    # 表2-1: 35 rows, rows 6, 7, 13, 18, 24 split into 2+3+4+3+3 sub-rows -> 45 entries;
    # 表2-2: 35 rows, row 21 split into 3 -> 37 entries
    assert sum(i.table.startswith("表2-1") for i in p.indicators) == 45
    assert sum(i.table.startswith("表2-2") for i in p.indicators) == 37


def test_documents_own_contradictions_are_recorded():
    assert {"redline_units"} <= {x.id for x in load_plan("shawan").inconsistencies}
    x = {x.id: x for x in load_plan("shawan").inconsistencies}["redline_units"]
    assert set(x.lines) == {8, 393} and x.type == "contradiction"
    t = {x.id: x for x in load_plan("tongnan").inconsistencies}["redline_share_values"]
    assert {33, 211} <= set(t.lines)
    tn = load_plan("tongnan")
    assert {tn.figure(f).value for f in t.figures} == {9.56, 5.37, 3.57}
    a = {x.id: x for x in load_plan("anju").inconsistencies}["total_area_vs_boundary"]
    assert a.type == "data_note" and a.figures == ("total_area",)


# --------------------------------------------------------------------------- bad plan files

_GOOD = """
schema = 1
[region]
id = "demo"
name_zh = "示例区"
province = "四川省"
parent = "遂宁市"
level = "district"
plan_title = "示例规划"
period = [2023, 2030]
source = "demo.txt"
boundary = "boundaries/demo.gpkg"

[[figures]]
id = "redline_area"
kind = "redline"
measure = "area"
value = 2.52
unit = "平方公里"
comparator = "eq"
line = 12
quote = "划定面积2.52平方公里"

[[figures]]
id = "core_area"
kind = "protected_area"
filter = { zone = ["核心区"] }
measure = "area"
value = 410
unit = "公顷"
comparator = "eq"
line = 13
quote = "核心区面积410公顷"

[[indicators]]
id = "forest_cover"
name_zh = "森林覆盖率"
unit = "%"
baseline = { value = 31.3, year = 2022 }
targets = [{ year = 2025, value = 32, comparator = "ge" }]
direction = "higher"
line = 20
"""


def _write(tmp_path, text: str) -> Path:
    p = tmp_path / "demo.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_good_minimal_plan_loads(tmp_path):
    p = load_plan(_write(tmp_path, _GOOD))
    assert p.figure("core_area").filter == {"zone": ("核心区",)}
    assert p.figure("core_area").si == pytest.approx(4.1e6)
    assert p.figure("redline_area").tolerance == 0.005


@pytest.mark.parametrize(("old", "new", "words"), [
    ('unit = "平方公里"', 'unit = "平方公里里"', ["figure 'redline_area'", "unknown unit",
                                            "平方公里里"]),
    ("line = 12\n", "", ["figure 'redline_area'", "missing required key 'line'"]),
    ('quote = "划定面积2.52平方公里"', 'quote = "划定面积2.52平方公里"\nareas = 3',
     ["figure 'redline_area'", "unknown key 'areas'"]),
    ('kind = "redline"', 'kind = "redlines"', ["figure 'redline_area'", "unknown layer kind",
                                               "redlines"]),
    ('comparator = "eq"\nline = 12', 'comparator = ">="\nline = 12',
     ["figure 'redline_area'", "unknown comparator"]),
    ('measure = "area"\nvalue = 2.52', 'measure = "share_of_territory"\nvalue = 2.52',
     ["figure 'redline_area'", "area unit", "share unit"]),
    ('zone = ["核心区"]', 'zone = ["核心"]', ["figure 'core_area'", "核心", "核心区"]),
    ('zone = ["核心区"]', 'grade = ["一等"]', ["figure 'core_area'", "grade",
                                              "not a field of kind"]),
    ("line = 12\n", "line = 0\n", ["figure 'redline_area'", "line number"]),
    ("line = 12\n", 'line = "L12"\n', ["figure 'redline_area'", "line number"]),
    ("value = 2.52", 'value = "2.52"', ["figure 'redline_area'", "value must be a number"]),
    ('id = "core_area"', 'id = "redline_area"', ["figure 'redline_area'", "used twice"]),
    ("schema = 1", "schema = 1\n[extra]\nx = 1", ["unknown key 'extra'"]),
    ('level = "district"', 'level = "区县"', ["[region]", "unknown level"]),
    ('value = 32, comparator = "ge"', "value = 32", ["indicator 'forest_cover'",
                                                     "needs a comparator"]),
    ('direction = "higher"', 'direction = "up"', ["indicator 'forest_cover'", "direction"]),
])
def test_bad_plan_files_name_file_key_and_fix(tmp_path, old, new, words):
    assert old in _GOOD
    path = _write(tmp_path, _GOOD.replace(old, new, 1))
    with pytest.raises(DataFileError) as exc:
        load_plan(path)
    msg = str(exc.value)
    assert str(path) in msg
    assert "(fix: " in msg
    for w in words:
        assert w in msg, msg


def test_inconsistency_must_name_known_figures(tmp_path):
    text = _GOOD + """
[[inconsistencies]]
id = "units"
type = "contradiction"
description = "x"
figures = ["redline_areas"]
lines = [12]
"""
    with pytest.raises(DataFileError, match="unknown figure 'redline_areas'"):
        load_plan(_write(tmp_path, text))


def test_share_area_figure_must_be_an_area_of_the_same_kind(tmp_path):
    text = _GOOD + """
[[figures]]
id = "redline_share"
kind = "redline"
measure = "share_of_territory"
value = 6.24
unit = "%"
comparator = "eq"
area_figure = "core_area"
line = 14
quote = "6.24%"
"""
    with pytest.raises(DataFileError, match="area_figure 'core_area'"):
        load_plan(_write(tmp_path, text))
    ok = text.replace('area_figure = "core_area"', 'area_figure = "redline_area"')
    assert load_plan(_write(tmp_path, ok)).figure("redline_share").area_figure == "redline_area"


def test_file_name_must_match_region_id(tmp_path):
    d = tmp_path / "plans"
    d.mkdir()
    (d / "other.toml").write_text(_GOOD, encoding="utf-8")
    with pytest.raises(DataFileError, match="differs from the file name"):
        load_plan(d / "other.toml")


def test_unknown_region_id_lists_the_plans():
    with pytest.raises(DataFileError) as exc:
        plan_path("nowhere")
    assert "anju" in str(exc.value) and "yongchuan" in str(exc.value)


def test_parse_plan_accepts_a_dict(tmp_path):
    from ecogis.data import tomllib

    raw = tomllib.loads(_GOOD)
    assert parse_plan(raw, tmp_path / "demo.toml").region.name_zh == "示例区"


# ------------------------------------------------------------------------------------- CLI


def test_cli_plans_lists_and_validates(run_cli):
    code, out, err = run_cli("plans")
    assert code == 0, err
    for region in REGIONS:
        assert region in out
    code, out, _ = run_cli("plans", "--format", "json")
    counts = {p["region"]: p["figures"] for p in json.loads(out)["plans"]}
    assert counts == {r: len(load_plan(r).figures) for r in REGIONS}


def test_cli_plans_shows_one_region(run_cli):
    code, out, _ = run_cli("plans", "shawan")
    assert code == 0
    assert "4.8967 万亩" in out and "32,644,666.666667" in out  # SI computed by the loader
    assert "redline_units" in out


def test_cli_plans_citation_check_fails_on_wrong_seeds(run_cli, tmp_path):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "002_3b663c8d93eeb9fd.txt").write_text("nothing here\n" * 900, encoding="utf-8")
    code, out, _ = run_cli("plans", "shawan", "--seeds", seeds)
    assert code == 1 and "citation:" in out and "figure redline_area" in out
    code, _, err = run_cli("plans", "nowhere")
    assert code == 2 and "no plan for region" in err
