"""Overlap matrix, conflicts and per-town splits against independent shapely + pyproj sums.

The workspace (tests/overlay_workspace.py) lies inside the real 安居区 boundary, with planted
overlaps whose areas are known in closed form in the Gauss-Krüger plane. Independent reference
values: reproject with plain pyproj, ``shapely.union_all`` each layer, intersect, then measure
with pyproj's GRS80 Geod on oriented rings (conftest.ref_area_m2) or planar area.
"""

from __future__ import annotations

import json
import os
from itertools import combinations

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
import shapely.affinity
from conftest import ref_area_m2
from overlay_workspace import (
    GK,
    I_BOX,
    I_W1_M2,
    P_BOX,
    R1_BOX,
    R2_BOX,
    R_P_DISSOLVED_M2,
    R_P_RAW_M2,
    U_BOX,
    U_P_M2,
    W1_BOX,
    W2_BOX,
    build_workspace,
    gk_box,
    layers_gk,
    to_crs,
)

from ecogis.conflicts import load_conflict_rules, parse_rules
from ecogis.errors import DataFileError, InputError
from ecogis.overlay import (
    OverlapAnalysis,
    coverage_union_tiles,
    dissolve_parts,
    explode,
    find_conflicts,
    intersect_parts,
    overlap_matrix,
    subdivide,
    tile_grid,
    tile_split,
    write_gpkg,
)
from ecogis.workspace import load_target

METHODS = ("ellipsoidal", "projected")


@pytest.fixture(scope="module")
def gk_layers(anju):
    return layers_gk(anju)


@pytest.fixture(scope="module")
def ws_path(tmp_path_factory, anju):
    path = tmp_path_factory.mktemp("overlay") / "anju_overlay.gpkg"
    build_workspace(path, anju)
    return path


@pytest.fixture(scope="module")
def loaded(ws_path):
    _, layers = load_target(ws_path)
    return {lyr.name: lyr for lyr in layers}


@pytest.fixture(scope="module")
def lines(loaded):
    """The control-line layers (everything but the admin towns)."""
    return [lyr for name, lyr in loaded.items() if name != "towns"]


def ref_measure(geom_gk, method: str) -> float:
    """Independent area (m²) of a geometry in EPSG:4544: planar, or geodesic of its lon/lat
    with the GK-straight edges densified to 5 m first (so they stay straight in the plane)."""
    if method == "projected":
        return float(geom_gk.area)
    return ref_area_m2(to_crs([shapely.segmentize(geom_gk, 5.0)], GK, "EPSG:4490")[0])


def ref_union(layers: dict, name: str, mask=None):
    gdf = layers[name][0]
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    return shapely.union_all(geoms if mask is None else geoms[mask])


@pytest.fixture(scope="module")
def stored_gk(ws_path):
    """The stored layers read with plain pyogrio and reprojected to EPSG:4544 with pyproj, so
    the reference starts from exactly the coordinates ecogis reads."""
    out = {}
    for name, gtype in pyogrio.list_layers(ws_path):
        if gtype is None:  # ecogis_layers, ecogis_meta, layer_styles: attribute tables
            continue
        df = pyogrio.read_dataframe(ws_path, layer=name)
        gdf = gpd.GeoDataFrame(df.drop(columns="geometry"), crs=GK, geometry=to_crs(
            df.geometry.values, df.crs.to_string(), GK))
        out[name] = (gdf,)
    return out


def approx(expected: float, rel: float = 1e-9, floor: float = 1e-3):
    """1e-9 relative, or 1e-3 m²: pyproj's geodesic area of the same region, given with more or
    fewer vertices along its edges, moves by ~1e-4 m² (measured on the redline × farmland
    pieces: 277 958.74886 .. .74948 m² for edges split to 1e9 .. 1 m)."""
    return pytest.approx(expected, rel=rel, abs=floor)


# ------------------------------------------------------------------------------- the matrix
@pytest.mark.parametrize("method", METHODS)
def test_matrix_is_symmetric_and_no_overlap_exceeds_a_side(lines, method):
    rows = overlap_matrix(lines, method, "m2")
    names = [lyr.name for lyr in lines]
    assert len(rows) == len(names) ** 2
    cell = {(r.a, r.b): r for r in rows}
    positive = 0
    for a, b in combinations(names, 2):
        ab, ba = cell[(a, b)], cell[(b, a)]
        assert ab.area_m2 == ba.area_m2
        assert (ab.share_a, ab.share_b) == (ba.share_b, ba.share_a)
        assert ab.area_m2 <= cell[(a, a)].area_m2 * (1 + 1e-12)
        assert ab.area_m2 <= cell[(b, b)].area_m2 * (1 + 1e-12)
        assert 0 <= ab.share_a <= 1 and 0 <= ab.share_b <= 1
        positive += ab.area_m2 > 0
    assert positive >= 8
    # the computation itself is symmetric: swapping the layer order gives the same areas
    swapped = {(r.a, r.b): r.area_m2 for r in overlap_matrix(lines[::-1], method, "m2")}
    for key, r in cell.items():
        assert swapped[key] == approx(r.area_m2)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("tile_vertices", [4000, 150])
def test_dissolved_overlaps_match_union_then_intersect(lines, stored_gk, method,
                                                       tile_vertices):
    """Every dissolved figure equals union-then-intersect to 1e-9 relative.

    With tiny tiles (150 vertices: dozens of cuts) the ellipsoidal figures are held to 1e-8:
    a tile cut puts a vertex on an edge that is straight in the Gauss-Krüger plane, and the
    geodesic-edge area of the two halves differs from the uncut edge's by ~1e-5 m² (measured).
    """
    an = OverlapAnalysis(lines, method, tile_vertices=tile_vertices)
    rows = {(r.a, r.b): r.area_m2 for r in an.matrix("m2")}
    unions = {lyr.name: ref_union(stored_gk, lyr.name) for lyr in lines}
    rel = 1e-8 if (tile_vertices < 1000 and method == "ellipsoidal") else 1e-9
    for lyr in lines:
        expected = ref_measure(unions[lyr.name], method)
        assert rows[(lyr.name, lyr.name)] == approx(expected, rel=rel)
    assert len(np.unique(an.grid[2])) == 1 and (tile_vertices > 1000 or an.grid[3] >= 3)
    for a, b in combinations(unions, 2):
        expected = ref_measure(shapely.intersection(unions[a], unions[b]), method)
        assert rows[(a, b)] == approx(expected, rel=rel), (a, b)


def test_dissolve_counts_a_layers_own_overlap_once(gk_layers):
    red = gk_layers["redline"][0]
    two = red[red["name"].isin(["红线R1", "红线R2"])]
    parcel = gpd.GeoDataFrame({"name": ["P"]}, geometry=[gk_box(P_BOX)], crs=GK)
    rows = overlap_matrix([("p", parcel, "farmland"), ("r", two, "redline")], "projected", "m2",
                          raw=True)
    pr = next(r for r in rows if (r.a, r.b) == ("p", "r"))
    assert pr.area_m2 == approx(R_P_DISSOLVED_M2)
    assert pr.area_raw_sum_m2 == approx(R_P_RAW_M2)
    assert pr.share_a == approx(R_P_DISSOLVED_M2 / 200_000.0)


def test_units_and_shares(lines):
    km2 = {(r.a, r.b): r for r in overlap_matrix(lines, "ellipsoidal", "km2")}
    mu = {(r.a, r.b): r for r in overlap_matrix(lines, "ellipsoidal", "亩")}
    r = km2[("farmland", "ugb")]
    assert r.unit == "km2" and mu[("farmland", "ugb")].unit == "mu"
    assert r.area == approx(r.area_m2 / 1e6)
    assert mu[("farmland", "ugb")].area == approx(r.area_m2 * 15 / 10_000)
    assert r.share_a == approx(r.area_m2 / km2[("farmland", "farmland")].area_m2)


def test_invalid_coverage_is_dissolved_not_summed(gk_layers):
    farm = gk_layers["farmland"][0].copy()
    farm.loc[farm.index[0], "geometry"] = farm.geometry.iloc[0].buffer(25)  # overlaps neighbours
    ugb = gk_layers["ugb"][0]
    rows = {(r.a, r.b): r.area_m2 for r in overlap_matrix(
        [("farm", farm, "farmland"), ("ugb", ugb, "ugb")], "projected", "m2")}
    union = shapely.union_all(farm.geometry.values)
    assert rows[("farm", "farm")] == approx(union.area)
    assert rows[("farm", "farm")] < farm.area.sum() - 100
    assert rows[("farm", "ugb")] == approx(union.intersection(
        shapely.union_all(ugb.geometry.values)).area)


# ------------------------------------------------------------------------------- conflicts
@pytest.fixture(scope="module", params=METHODS)
def conflicts(request, lines):
    an = OverlapAnalysis(lines, request.param)
    summary, polys = an.conflicts(unit="m2")
    return request.param, {r.rule: r for r in summary}, polys


def _row(polys, rule, a_name, b_name):
    sel = polys[(polys.rule == rule) & (polys.a_name == a_name) & (polys.b_name == b_name)]
    assert len(sel) == 1, (rule, a_name, b_name, len(sel))
    return sel.iloc[0]


def test_planted_farmland_ugb_conflict(conflicts, loaded):
    method, summary, polys = conflicts
    row = _row(polys, "farmland_ugb", "试点图斑", "城镇开发边界-东")
    expected = U_P_M2 if method == "projected" else ref_measure(
        gk_box(P_BOX).intersection(gk_box(U_BOX)), method)
    assert row.area_m2 == approx(expected)
    farm = loaded["farmland"].gdf
    assert row.a_fid == farm.index[farm["name"] == "试点图斑"][0]
    ugb = loaded["ugb"].gdf
    assert row.b_fid == ugb.index[ugb["name"] == "城镇开发边界-东"][0]
    assert row.a_layer == "farmland" and row.b_layer == "ugb"
    assert row.severity == "high" and row.unit == "m2" and row.method == method
    # the representative point lies in the overlap
    pt = to_crs([shapely.Point(row.lon, row.lat)], "EPSG:4490", GK)[0]
    assert gk_box(P_BOX).intersection(gk_box(U_BOX)).buffer(0.01).contains(pt)


def test_planted_redline_farmland_conflicts(conflicts, stored_gk):
    method, summary, polys = conflicts
    for red, box in (("红线R1", R1_BOX), ("红线R2", R2_BOX)):
        row = _row(polys, "redline_farmland", red, "试点图斑")
        assert row.area_m2 == approx(ref_measure(gk_box(box).intersection(gk_box(P_BOX)),
                                                 method))
    if method == "projected":
        assert _row(polys, "redline_farmland", "红线R1", "试点图斑").area_m2 == approx(20_000)
        assert _row(polys, "redline_farmland", "红线R2", "试点图斑").area_m2 == approx(10_000)
    # the rule total is dissolved; the polygons' sum counts the corridors' own overlaps twice
    rule = summary["redline_farmland"]
    expected = ref_measure(ref_union(stored_gk, "redline").intersection(
        ref_union(stored_gk, "farmland")), method)
    assert rule.area_m2 == approx(expected)
    assert rule.area_raw_sum == approx(polys[polys.rule == "redline_farmland"].area_m2.sum())
    assert rule.area_raw_sum > rule.area_m2 + 4_000


def test_filtered_sides_water_and_protected(conflicts, loaded, stored_gk):
    method, summary, polys = conflicts
    row = _row(polys, "water_first_industrial_park", "琼江水源地", "安居工业园")
    assert row.area_m2 == approx(I_W1_M2 if method == "projected" else ref_measure(
        gk_box(W1_BOX).intersection(gk_box(I_BOX)), method))
    water = loaded["water"].gdf
    assert row.a_fid == water.index[water["level"] == "一级"][0]
    # the 二级 zone overlaps the ugb, the 一级 zone does not: no water_first_ugb conflict
    assert gk_box(W2_BOX).difference(gk_box(W1_BOX)).intersection(gk_box(U_BOX)).area > 10_000
    assert summary["water_first_ugb"].applicable
    assert summary["water_first_ugb"].conflicts == 0
    assert summary["water_first_ugb"].area_m2 == 0
    # only the core zone of the protected area conflicts with the ugb
    prot = loaded["protected"].gdf
    core_fid = prot.index[prot["zone"] == "核心保护区"][0]
    sel = polys[polys.rule == "protected_core_ugb"]
    assert len(sel) == 1 and sel.iloc[0].a_fid == core_fid
    core = stored_gk["protected"][0].geometry.iloc[0]
    expected = ref_measure(core.intersection(ref_union(stored_gk, "ugb")), method)
    assert sel.iloc[0].area_m2 == approx(expected)
    assert summary["protected_core_ugb"].area_m2 == approx(expected)


def test_rule_without_layers_is_reported_not_applicable(lines):
    no_ip = [lyr for lyr in lines if lyr.kind.id != "industrial_park"]
    summary, _ = OverlapAnalysis(no_ip, "projected").conflicts(unit="m2")
    rows = {r.rule: r for r in summary}
    assert not rows["water_first_industrial_park"].applicable
    assert rows["water_first_industrial_park"].a_layer is None
    assert rows["farmland_ugb"].applicable


def test_find_conflicts_returns_lonlat_polygons(lines):
    gdf = find_conflicts(lines, method="projected", unit="ha")
    assert gdf.crs.to_epsg() == 4490
    assert set(gdf.geom_type) <= {"Polygon", "MultiPolygon"}
    assert (gdf["unit"] == "ha").all()
    assert np.allclose(gdf["area"], gdf["area_m2"] / 10_000)
    b = gdf.total_bounds
    assert 105.0 < b[0] < b[2] < 105.8 and 30.1 < b[1] < b[3] < 30.6


# ---------------------------------------------------------------------------------- by town
@pytest.mark.parametrize("method", METHODS)
def test_by_town_adds_up_and_matches_independent(lines, loaded, stored_gk, method):
    an = OverlapAnalysis(lines, method)
    an.set_zones(loaded["towns"])
    whole = {(r.a, r.b): r.area_m2 for r in an.matrix("m2")}
    by = an.matrix_by_zone("m2")
    assert {r.zone for r in by} == {"西片", "中片", "东片"}
    for (a, b), m2 in whole.items():
        parts = [r.area_m2 for r in by if {r.a, r.b} == {a, b}]
        if parts:
            assert sum(parts) == approx(m2), (a, b)
    towns = stored_gk["towns"][0].set_index("name").geometry
    fu = ref_union(stored_gk, "farmland").intersection(ref_union(stored_gk, "ugb"))
    for r in by:
        if {r.a, r.b} == {"farmland", "ugb"}:
            assert r.area_m2 == approx(ref_measure(fu.intersection(towns[r.zone]), method))
    summary, _ = an.conflicts(unit="m2")
    rules = an.conflicts_by_zone(summary, "m2")
    ip = {r.zone: r.area_m2 for r in rules if r.rule == "water_first_industrial_park"}
    if method == "projected":
        assert ip["东片"] == approx(I_W1_M2)
    assert ip["西片"] == 0 and ip["中片"] == 0


# ------------------------------------------------------------------------------------- CLI
def test_cli_json_matrix_conflicts_and_gpkg(run_cli, ws_path, tmp_path):
    out = tmp_path / "conflicts.gpkg"
    code, stdout, _ = run_cli("overlaps", ws_path, "--format", "json", "--unit", "m2",
                              "--by", "admin", "--out", out, "--conflicts")
    assert code == 0
    doc = json.loads(stdout)
    names = {d["name"] for d in doc["layers"]}
    assert "towns" not in names and {"farmland", "redline", "ugb"} <= names
    for e in doc["matrix"]:
        assert {"a", "b", "area", "unit", "share_a", "share_b", "method"} <= set(e)
        assert e["unit"] == "m2"
    keys = {"rule", "severity", "a_layer", "a_fid", "a_name", "b_layer", "b_fid", "b_name",
            "area", "unit", "zone"}
    assert doc["conflicts"] and all(keys <= set(c) for c in doc["conflicts"])
    planted = [c for c in doc["conflicts"] if c["a_name"] == "试点图斑" and c["rule"] ==
               "farmland_ugb"]
    assert len(planted) == 1 and planted[0]["zone"] == "中片"
    assert doc["by"]["layer"] == "towns"
    written = pyogrio.read_dataframe(out, layer="conflicts")
    assert len(written) == len(doc["conflicts"])
    assert written.crs.to_epsg() == 4490
    assert written["area_m2"].sum() == approx(sum(c["area_m2"] for c in doc["conflicts"]))
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp.gpkg")]


def test_cli_table_and_csv(run_cli, ws_path):
    code, out, _ = run_cli("overlaps", ws_path, "--layers", "farmland", "ugb", "redline",
                           "--raw", "--unit", "ha")
    assert code == 0
    assert "farmland_ugb" in out and "永久基本农田与城镇开发边界重叠" in out
    assert "no layer of kind" in out  # e.g. the industrial-park rules
    code, out, _ = run_cli("overlaps", ws_path, "--format", "csv", "--method", "projected")
    assert code == 0
    assert out.splitlines()[0].startswith("a,b,area")


def test_cli_fail_on_and_bad_input(run_cli, ws_path, tmp_path):
    assert run_cli("overlaps", ws_path, "--fail-on", "high", "--format", "json")[0] == 1
    code, _, err = run_cli("overlaps", ws_path, "--layers", "farmland", "nosuch")
    assert code == 2 and "nosuch" in err
    code, _, err = run_cli("overlaps", ws_path, "--out", ws_path)
    assert code == 2 and "overwrite" in err
    bad = tmp_path / "bad.toml"
    bad.write_text('[severities.high]\nname_zh = "严重"\nrank = 3\n[[conflicts]]\nid = "x"\n'
                   'name_zh = "x"\nseverity = "high"\na = { kind = "redline" }\n'
                   'b = { kind = "nosuchkind" }\nsource = "s"\n', encoding="utf-8")
    code, _, err = run_cli("overlaps", ws_path, "--rules", bad)
    assert code == 2 and "bad.toml" in err and "nosuchkind" in err


# ---------------------------------------------------------------------------- rules as data
def test_shipped_rules_cover_the_required_pairs():
    rules = {r.id: r for r in load_conflict_rules()}
    pairs = {(r.a.label, r.b.label) for r in rules.values()}
    for pair in [("redline", "farmland"), ("redline", "ugb"), ("farmland", "ugb"),
                 ("protected_area[zone∈core]", "ugb"), ("water_source[level=一级]", "ugb"),
                 ("water_source[level=一级]", "industrial_park")]:
        assert pair in pairs
    assert all(r.source for r in rules.values())
    assert rules["protected_core_ugb"].a.values == ("核心保护区", "核心区")


GOOD = {"id": "r", "name_zh": "甲乙重叠", "severity": "high", "a": {"kind": "redline"},
        "b": {"kind": "ugb"}, "source": "文件"}
SEV = {"high": {"name_zh": "严重", "rank": 3}}


@pytest.mark.parametrize(("change", "needle"), [
    ({"colour": "red"}, "unknown keys"),
    ({"a": {"kind": "nosuch"}}, "nosuch"),
    ({"a": {"kind": "water_source", "field": "grade", "values": ["一级"]}}, "grade"),
    ({"a": {"kind": "water_source", "field": "level", "values": ["三级"]}}, "三级"),
    ({"a": {"kind": "protected_area", "field": "zone", "group": "strict"}}, "strict"),
    ({"a": {"kind": "water_source", "field": "level"}}, "exactly one of values or group"),
    ({"a": {"kind": "redline", "values": ["x"]}}, "no field"),
    ({"source": ""}, "no source"),
    ({"severity": "extreme"}, "extreme"),
])
def test_rule_validation_names_file_and_key(change, needle):
    with pytest.raises(DataFileError) as exc:
        parse_rules({"severities": SEV, "conflicts": [{**GOOD, **change}]}, "my_rules.toml")
    assert "my_rules.toml" in str(exc.value) and needle in str(exc.value)


def test_rule_side_on_a_layer_without_the_field(gk_layers):
    water = gk_layers["water"][0].drop(columns="level")
    ip = gk_layers["industrial"][0]
    with pytest.raises(InputError, match="level"):
        find_conflicts([("w", water, "generic"), ("i", ip, "industrial_park")],
                       rules=[_rule_like("water_first_industrial_park", a_kind="generic")])


def _rule_like(rule_id, a_kind):
    from dataclasses import replace

    r = next(x for x in load_conflict_rules() if x.id == rule_id)
    return replace(r, a=replace(r.a, kind=a_kind))


# --------------------------------------------------------------------------- geometry parts
def test_tiles_and_subdivision_keep_area(gk_layers):
    red = np.asarray(gk_layers["redline"][0].geometry.values, dtype=object)
    parts, _ = explode(red)
    grid = tile_grid(parts, 200)
    pieces, src, tile = tile_split(parts, grid=grid)
    assert len(np.unique(tile)) > 4
    assert np.bincount(src, weights=shapely.area(pieces)) == pytest.approx(shapely.area(parts),
                                                                          rel=1e-12)
    x0, y0, size, nx = grid
    cx = shapely.get_x(shapely.point_on_surface(pieces))
    assert np.all(np.floor((cx - x0) / size).astype(int) == tile % nx)
    sub, idx = subdivide(parts, max_vertices=20)
    assert shapely.get_num_coordinates(sub).max() <= 20
    assert np.bincount(idx, weights=shapely.area(sub)) == pytest.approx(shapely.area(parts),
                                                                       rel=1e-12)
    union, _ = dissolve_parts(parts, grid=grid)
    assert shapely.area(union).sum() == approx(shapely.union_all(parts).area)


def test_intersect_parts_takes_covered_parts_whole():
    big = shapely.box(0, 0, 100, 100)
    small = [shapely.box(10, 10, 20, 20), shapely.box(90, 90, 110, 110), shapely.box(200, 0,
                                                                                        210, 10)]
    ia, ib, pieces = intersect_parts([big], small)
    assert list(ib) == [0, 1] and list(ia) == [0, 0]
    assert pieces[0] is small[0] or pieces[0].equals(small[0])
    assert shapely.area(pieces[1]) == approx(100.0)


def test_write_gpkg_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "out.gpkg"
    g = gpd.GeoDataFrame({"v": [1]}, geometry=[shapely.box(105, 30, 105.1, 30.1)],
                         crs="EPSG:4490")
    write_gpkg(path, {"first": g})
    before = path.read_bytes()
    real = pyogrio.write_dataframe
    calls = []

    def failing(df, p, layer, **kw):
        calls.append(layer)
        if layer == "second":
            raise OSError("disk full")
        return real(df, p, layer=layer, **kw)

    monkeypatch.setattr(pyogrio, "write_dataframe", failing)
    with pytest.raises(OSError):
        write_gpkg(path, {"first": g, "second": g})
    assert calls == ["first", "second"]
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["out.gpkg"]


def test_invalid_geometry_is_named_not_a_traceback(gk_layers):
    from ecogis.errors import GeometryError

    red = gk_layers["redline"][0].copy()
    x, y = 535_500.0, 3_361_500.0
    bow = shapely.Polygon([(x, y), (x + 100, y + 100), (x + 100, y), (x, y + 100)])
    red.loc[red.index[3], "geometry"] = bow
    farm = gk_layers["farmland"][0]
    with pytest.raises(GeometryError) as exc:
        overlap_matrix([("farm", farm, "farmland"), ("red", red, "redline")], "projected")
    msg = str(exc.value)
    assert "layer 'red'" in msg and "feature 3" in msg and "Self-intersection" in msg


def test_empty_and_line_layers(gk_layers):
    farm = gk_layers["farmland"][0]
    empty = farm.iloc[:0]
    line = gpd.GeoDataFrame(geometry=[shapely.LineString([(535_000, 3_361_000),
                                                          (536_000, 3_362_000)])], crs=GK)
    an = OverlapAnalysis([("farm", farm, "farmland"), ("none", empty, "ugb"),
                          ("river", line, "river")], "projected")
    assert an.skipped == ["none", "river"]
    rows = an.matrix("m2")
    assert all(r.area_m2 >= 0 for r in rows)
    assert next(r for r in rows if (r.a, r.b) == ("farm", "farm")).area_m2 == approx(
        shapely.union_all(farm.geometry.values).area)


# ------------------------------------------------------- the coverage certificate is strict
def _cov_cases():
    rng = np.random.default_rng(3)
    from overlay_workspace import voronoi_parcels

    cells = list(voronoi_parcels(rng, n=300, keep=1.0))
    c0 = cells[0]
    box = shapely.box
    x, y = X0_, Y0_
    k = int(np.argmin([c.centroid.distance(shapely.Point(x + 1500, y + 1000)) for c in cells]))
    return {
        "crossing boxes": [box(x, y, x + 20, y + 10), box(x + 10, y + 5, x + 30, y + 15)],
        "nested box": [box(x, y, x + 20, y + 20), box(x + 5, y + 5, x + 10, y + 10)],
        "duplicate": [box(x, y, x + 10, y + 10), box(x, y, x + 10, y + 10)],
        "duplicate in coverage": cells + [c0],
        "collinear overlap": [box(x, y, x + 2, y + 1), box(x + 1, y, x + 3, y + 1)],
        "buffered cell": cells[:k] + [cells[k].buffer(1.0, join_style="mitre")] + cells[k + 1:],
        "shifted copy": [box(x, y, x + 10, y + 10), box(x + 1e-3, y, x + 10 + 1e-3, y + 10)],
        "across tiles": cells + [shapely.affinity.translate(c0, 3.0, 2.0)],
        "reversed duplicate": [box(x, y, x + 10, y + 10),
                               shapely.Polygon(list(box(x, y, x + 10, y + 10).exterior.coords)
                                               [::-1]), box(x + 10, y, x + 20, y + 10)],
    }


X0_, Y0_ = 535_000.0, 3_361_000.0


@pytest.mark.parametrize("case", list(_cov_cases()))
@pytest.mark.parametrize("tile_vertices", [40, 100_000])
def test_overlapping_coverage_is_never_certified(case, tile_vertices):
    geoms = np.array(_cov_cases()[case], dtype=object)
    grid = tile_grid(geoms, tile_vertices)
    assert coverage_union_tiles(geoms, grid, workers=2) is None
    union, used_coverage = dissolve_parts(geoms, coverage=True, grid=grid, workers=2)
    assert not used_coverage
    assert shapely.area(union).sum() == approx(shapely.union_all(geoms).area)


@pytest.mark.parametrize("tile_vertices", [40, 400, 100_000])
def test_valid_coverage_is_certified(tile_vertices):
    from overlay_workspace import voronoi_parcels

    cells = voronoi_parcels(np.random.default_rng(5), n=500, keep=0.6)
    grid = tile_grid(cells, tile_vertices)
    union = coverage_union_tiles(cells, grid, workers=2)
    assert union is not None
    assert shapely.area(union).sum() == approx(shapely.union_all(cells).area)
    assert bool(shapely.coverage_is_valid(cells))


def test_ring_wise_geodesic_area_equals_measure_area(loaded, anju):
    """OverlapAnalysis measures ellipsoidal areas ring by ring: the same numbers as
    ecogis.measure.area on polygons with holes, multipolygons, real district boundaries."""
    from ecogis.measure import area
    from ecogis.overlay import geodesic_area_rings

    an = OverlapAnalysis(list(loaded.values()), "ellipsoidal")
    geoms = np.concatenate([an.dissolved(n).parts for n in ("farmland", "redline", "ugb")])
    geoms = np.concatenate([geoms, [shapely.multipolygons(geoms[:5])], [shapely.Polygon()],
                            to_crs(anju.geometry.values, "EPSG:4490", GK)])
    assert shapely.get_num_interior_rings(geoms).sum() > 10
    expected = area(geoms, "ellipsoidal", GK)
    for workers in (1, 2):
        got = geodesic_area_rings(geoms, GK, workers=workers)
        assert got == pytest.approx(expected, rel=1e-12, abs=1e-9)
    assert an.measure(geoms) == pytest.approx(expected, rel=1e-12, abs=1e-9)


def test_intersections_that_are_collections_keep_their_polygons():
    # a box touching a triangle along a line, and two boxes meeting in an L: collections
    a = [shapely.box(0, 0, 10, 10), shapely.box(0, 0, 10, 10),
         shapely.union_all([shapely.box(20, 0, 30, 10), shapely.box(30, 0, 40, 1)])]
    b = [shapely.box(10, 0, 20, 10),
         shapely.Polygon([(5, 5), (15, 5), (15, 15), (10, 15), (10, 20), (5, 20)]),
         shapely.Polygon([(25, 5), (35, 0.5), (35, 10), (25, 10)])]
    pieces = [shapely.intersection(x, y) for x, y in zip(a, b, strict=True)]
    assert {p.geom_type for p in pieces} >= {"LineString", "Polygon"}
    got = {}
    for i in range(3):
        ia, ib, out = intersect_parts([a[i]], [b[i]], workers=1)
        got[i] = shapely.area(out).sum()
    assert got[0] == 0
    assert got[1] == approx(25.0)
    assert got[2] == approx(shapely.intersection(a[2], b[2]).area)
    from ecogis.overlay import _polygonal_pieces

    mixed = np.array([shapely.GeometryCollection([shapely.LineString([(0, 0), (1, 1)])]),
                      shapely.GeometryCollection([shapely.box(0, 0, 1, 1),
                                                  shapely.LineString([(2, 2), (3, 3)]),
                                                  shapely.box(5, 5, 6, 6)])], dtype=object)
    out = _polygonal_pieces(mixed)
    assert out[0].is_empty and out[1].geom_type == "MultiPolygon" and out[1].area == 2.0
