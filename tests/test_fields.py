"""Field roles from layers/kinds.toml: standard Chinese and pinyin field names are understood on
import, kept in the workspace, recorded, and name the features in `check` hits."""

from __future__ import annotations

import json

import geopandas as gpd
import pyogrio
import pytest
import shapely

from ecogis.errors import DataFileError
from ecogis.fields import feature_labels, resolve_field_map
from ecogis.kinds import load_kinds

BOX = shapely.box(105.44, 30.33, 105.46, 30.35)


def _write(tmp_path, cols: dict, kind_file: str, geoms=None) -> str:
    g = gpd.GeoDataFrame(cols, geometry=geoms or [BOX] * len(next(iter(cols.values()))),
                         crs=4490)
    p = tmp_path / kind_file
    if p.suffix == ".shp":
        g.to_file(p, encoding="gbk")
        p.with_suffix(".cpg").unlink(missing_ok=True)
    else:
        g.to_file(p)
    return str(p)


@pytest.mark.parametrize("kind,cols,role,expect", [
    ("redline", {"名称": ["涪江红线"]}, "name", "涪江红线"),
    ("redline", {"HXMC": ["琼江红线"], "HXBH": ["HX-01"]}, "code", "HX-01"),
    ("water_source", {"级别": ["一级"], "保护区名称": ["安居水厂"]}, "level", "一级"),
    ("water_source", {"BHJB": ["二级"], "SYDMC": ["琼江水源"]}, "name", "琼江水源"),
    ("protected_area", {"功能分区": ["核心保护区"], "BHQMC": ["白鹤自然保护区"], "JB": ["省级"]},
     "zone", "核心保护区"),
    ("ugb", {"分区类型": ["集中建设区"]}, "zone", "集中建设区"),
    ("admin", {"XZQMC": ["安居镇"], "XZQDM": ["510903101"]}, "code", "510903101"),
    ("env_unit", {"管控类别": ["优先保护"], "HJGKDYBM": ["ZH51090310001"]}, "category", "优先保护"),
    ("farmland", {"ZLDWMC": ["安居镇"], "ZLDJ": [7], "BSM": [42]}, "town", "安居镇"),
])
@pytest.mark.parametrize("fmt", ["gpkg", "shp"])
def test_standard_field_names_fill_roles(run_cli, tmp_path, kind, cols, role, expect, fmt):
    if fmt == "shp" and any(len(c.encode("gbk")) > 10 for c in cols):
        pytest.skip("dBase field names hold at most 10 bytes")
    src = _write(tmp_path, cols, f"in.{fmt}")
    code, out, err = run_cli("import", tmp_path / "ws.gpkg", kind, src, "--format", "json")
    assert code == 0, err
    d = json.loads(out)
    assert d["field_map"][role] in cols
    stored = set(pyogrio.read_info(tmp_path / "ws.gpkg", layer=kind)["fields"])
    assert set(cols) <= stored and role not in stored  # source names kept, no role column
    from ecogis.workspace import Workspace

    g = Workspace.open(tmp_path / "ws.gpkg").read(kind)
    assert str(g[role].iloc[0]) == expect


def test_level_on_water_source_via_field_option(run_cli, tmp_path):
    src = _write(tmp_path, {"保护等级": ["一级"], "水源名": ["安居水厂"]}, "ws.gpkg")
    code, _, err = run_cli("import", tmp_path / "w.gpkg", "water_source", src)
    assert code == 2 and "level" in err and "--field" in err and err.count("\n") == 1
    code, out, err = run_cli("import", tmp_path / "w.gpkg", "water_source", src,
                             "--field", "保护等级=level", "--field", "水源名=name",
                             "--format", "json")
    assert code == 0, err
    assert json.loads(out)["field_map"] == {"level": "保护等级", "name": "水源名"}
    code, out, _ = run_cli("layers", tmp_path / "w.gpkg")
    assert "level←保护等级" in out and "name←水源名" in out


@pytest.mark.parametrize("opt,needle", [
    ("保护等级=grade", "no role 'grade'"),
    ("NOPE=level", "no field 'NOPE'"),
    ("保护等级", "SRC=ROLE"),
])
def test_bad_field_option_is_one_line(run_cli, tmp_path, opt, needle):
    src = _write(tmp_path, {"保护等级": ["一级"]}, "ws.gpkg")
    code, _, err = run_cli("import", tmp_path / "w.gpkg", "water_source", src, "--field", opt)
    assert code == 2 and needle in err and err.count("\n") == 1


def test_enumerated_values_checked_on_the_mapped_field(run_cli, tmp_path):
    src = _write(tmp_path, {"级别": ["三级"]}, "ws.gpkg")
    code, _, err = run_cli("import", tmp_path / "w.gpkg", "water_source", src)
    assert code == 2 and "三级" in err and "一级" in err


def test_resolution_order():
    k = load_kinds()["redline"]
    # a field named like the role wins over aliases; then the kind's list order
    assert resolve_field_map(["名称", "name"], k)["name"] == "name"
    assert resolve_field_map(["HXMC", "名称"], k)["name"] == "名称"
    assert resolve_field_map(["hxmc"], k) == {"name": "hxmc"}
    # one source field fills one role; --field overrides
    assert resolve_field_map(["名称"], k, explicit={"名称": "type"}) == {"type": "名称"}
    # landuse: HDMC is 海岛名称, never a name
    lu = load_kinds()["landuse"]
    fm = resolve_field_map(["DLBM", "HDMC", "BSM"], lu)
    assert fm == {"land_code": "DLBM", "bsm": "BSM", "island_name": "HDMC"}


def test_feature_labels_prefer_name_then_bsm():
    df = gpd.GeoDataFrame({"name": ["甲", None, None], "bsm": [1.0, 2.0, None],
                           "parcel_no": ["x", "y", "12"]}, geometry=[BOX] * 3)
    assert list(feature_labels(df)) == ["甲", "2", "12"]


def test_alias_role_must_be_a_role_of_the_kind(tmp_path):
    p = tmp_path / "kinds.toml"
    p.write_text('[kinds.x]\nname_zh = "x"\noptional = ["name"]\n[kinds.x.aliases]\n'
                 'level = ["级别"]\n', encoding="utf-8")
    with pytest.raises(DataFileError, match="level"):
        load_kinds(p)


def test_every_kind_alias_list_is_well_formed():
    reg = load_kinds()
    for k in reg:
        for role, names in k.aliases.items():
            assert role in k.fields
            assert role in reg.roles, f"{k.id}.{role} has no label in [roles]"
            assert len(set(n.casefold() for n in names)) == len(names)


def test_check_hits_named_by_name_or_bsm(run_cli, tmp_path):
    """A redline's 名称 names the hit; a farmland parcel without a name is named by its BSM."""
    red = tmp_path / "red.gpkg"
    gpd.GeoDataFrame({"名称": ["涪江红线", "琼江红线"], "标识码": [11, 12]},
                     geometry=[shapely.box(105.44, 30.33, 105.45, 30.35),
                               shapely.box(105.45, 30.33, 105.46, 30.35)], crs=4490).to_file(red)
    farm = tmp_path / "farm.shp"
    _write(tmp_path, {"BSM": [5109030001, 5109030002], "ZLDWMC": ["安居镇", "安居镇"]},
           "farm.shp", geoms=[shapely.box(105.44, 30.33, 105.45, 30.35),
                              shapely.box(105.45, 30.33, 105.46, 30.35)])
    ws = tmp_path / "ws.gpkg"
    assert run_cli("import", ws, "redline", red)[0] == 0
    assert run_cli("import", ws, "farmland", farm)[0] == 0
    site = "POLYGON((105.448 30.34, 105.452 30.34, 105.452 30.342, 105.448 30.342, 105.448 30.34))"
    code, out, err = run_cli("check", ws, "--wkt", site, "--category", "urban", "--format", "json")
    assert code == 0, err
    hits = {h["kind"]: h for h in json.loads(out)["sites"][0]["hits"]}
    assert sorted(hits["redline"]["names"]) == ["涪江红线", "琼江红线"]
    assert hits["redline"]["name"] in ("涪江红线", "琼江红线")
    assert sorted(hits["farmland"]["names"]) == ["5109030001", "5109030002"]
    code, out, _ = run_cli("check", ws, "--wkt", site, "--category", "urban")
    assert "涪江红线" in out and "5109030001" in out


def _two_layers(tmp_path):
    """A redline named by 名称 and a farmland layer named only by BSM (GBK shapefile)."""
    red = tmp_path / "red.gpkg"
    gpd.GeoDataFrame({"红线名称": ["涪江红线"], "BSM": [7]},
                     geometry=[shapely.box(105.44, 30.33, 105.45, 30.35)], crs=4490).to_file(red)
    _write(tmp_path, {"BSM": [5109030001, 5109030002], "ZLDWMC": ["安居镇", "安居镇"]},
           "farm.shp", geoms=[shapely.box(105.445, 30.33, 105.455, 30.34),
                              shapely.box(105.445, 30.34, 105.455, 30.35)])
    ws = tmp_path / "ws.gpkg"
    assert run_import(ws, "redline", red) and run_import(ws, "farmland", tmp_path / "farm.shp")
    return ws


def run_import(ws, kind, src) -> bool:
    from ecogis.workspace import Workspace

    Workspace.open(ws, create=True).import_file(kind, src)
    return True


def test_overlaps_out_names_both_sides(run_cli, tmp_path):
    ws = _two_layers(tmp_path)
    code, out, err = run_cli("overlaps", ws, "--out", tmp_path / "c.gpkg", "--format", "json")
    assert code == 0, err
    rows = [c for c in json.loads(out)["conflicts"] if {c["a_layer"], c["b_layer"]} ==
            {"redline", "farmland"}]
    assert len(rows) == 2
    polys = gpd.read_file(tmp_path / "c.gpkg", layer="conflicts")
    for df in (polys, gpd.GeoDataFrame(rows)):
        names = set(df["a_name"]) | set(df["b_name"])
        assert "涪江红线" in names and {"5109030001", "5109030002"} <= names
        bsm = set(df["a_bsm"].astype(str)) | set(df["b_bsm"].astype(str))
        assert {"7", "5109030001"} <= bsm


def test_diff_out_names_lost_and_gained(run_cli, tmp_path):
    before = tmp_path / "before.gpkg"
    after = tmp_path / "after.gpkg"
    gpd.GeoDataFrame({"标识码": [101, 102], "保护图斑编号": ["T1", "T2"]},
                     geometry=[shapely.box(105.44, 30.33, 105.45, 30.34),
                               shapely.box(105.45, 30.33, 105.46, 30.34)],
                     crs=4490).to_file(before)
    gpd.GeoDataFrame({"标识码": [101, 203], "保护图斑编号": ["T1", "T3"]},
                     geometry=[shapely.box(105.44, 30.33, 105.45, 30.34),
                               shapely.box(105.44, 30.34, 105.45, 30.345)],
                     crs=4490).to_file(after)
    ws1, ws2 = tmp_path / "b.gpkg", tmp_path / "a.gpkg"
    run_import(ws1, "farmland", before)
    run_import(ws2, "farmland", after)
    code, out, err = run_cli("diff", f"{ws1}:farmland", f"{ws2}:farmland", "--out",
                             tmp_path / "d.gpkg", "--format", "json")
    assert code in (0, 1), err
    lost = gpd.read_file(tmp_path / "d.gpkg", layer="lost")
    gained = gpd.read_file(tmp_path / "d.gpkg", layer="gained")
    assert list(lost["bsm"]) == ["102"] and list(lost["names"]) == ["102"]
    assert list(gained["bsm"]) == ["203"]
