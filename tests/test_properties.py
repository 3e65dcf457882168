"""Property-based tests (hypothesis): random valid and invalid polygons stored in random
CGCS2000 CRSs keep the area invariants, and the CLI never ends in an internal error.

Shapes are drawn in the GK plane of CM 105°E (EPSG:4544) around a point in 安居区, then stored
in one of five CRSs with plain pyproj (edges densified to 5 m first when the move is a real
reprojection, so the stored polygon is the drawn one)."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import Transformer

from ecogis.change import diff_layers
from ecogis.errors import EcogisError
from ecogis.measure import area, layer_area, reproject
from ecogis.overlay import OverlapAnalysis

GK = "EPSG:4544"
X0, Y0 = 540_000.0, 3_360_000.0
CRSS = ["EPSG:4490", "EPSG:4523", "EPSG:4544", "EPSG:4507", "EPSG:4545"]
SETTINGS = settings(max_examples=12, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def stored(geoms, crs: str) -> gpd.GeoDataFrame:
    geoms = np.asarray(geoms, dtype=object)
    if crs != GK:
        t = Transformer.from_crs(GK, crs, always_xy=True)
        geoms = shapely.transform(shapely.segmentize(geoms, 5.0), lambda xy: np.column_stack(
            t.transform(xy[:, 0], xy[:, 1])))
    return gpd.GeoDataFrame({"name": [f"f{i}" for i in range(len(geoms))]},
                            geometry=list(geoms), crs=crs)


@st.composite
def polygon(draw, valid: bool = True):
    """A random star-shaped polygon (valid), or a bow-tie / spike (invalid) when not ``valid``."""
    cx = X0 + draw(st.floats(-3000, 3000))
    cy = Y0 + draw(st.floats(-3000, 3000))
    n = draw(st.integers(3, 12))
    r = draw(st.lists(st.floats(20, 600), min_size=n, max_size=n))
    t = np.sort(np.array(draw(st.lists(st.floats(0, 2 * np.pi), min_size=n, max_size=n,
                                        unique=True))))
    pts = np.column_stack([cx + np.array(r) * np.cos(t), cy + np.array(r) * np.sin(t)])
    if not valid and draw(st.booleans()):
        pts[[0, 1]] = pts[[1, 0]]  # swap two vertices: usually a bow-tie
    return shapely.Polygon(pts)




@SETTINGS
@given(st.lists(polygon(), min_size=1, max_size=6), st.sampled_from(CRSS))
def test_dissolved_area_never_exceeds_the_raw_sum(polys, crs):
    polys = [shapely.make_valid(p) for p in polys]
    gdf = stored(polys, crs)
    for method in ("ellipsoidal", "tbmj"):
        s = layer_area(gdf, method)
        assert s.area_m2 <= s.area_raw_sum_m2 * (1 + 1e-9) + 1e-3
        assert s.area_m2 > 0


@SETTINGS
@given(st.lists(polygon(), min_size=1, max_size=5), st.lists(polygon(), min_size=1, max_size=5),
       st.sampled_from(CRSS), st.sampled_from(CRSS))
def test_overlap_never_exceeds_either_layer(pa, pb, ca, cb):
    a = stored([shapely.make_valid(p) for p in pa], ca)
    b = stored([shapely.make_valid(p) for p in pb], cb)
    rows = {(r.a, r.b): r for r in OverlapAnalysis([("a", a, "redline"), ("b", b, "farmland")],
                                                    workers=1).matrix("m2")}
    ab = rows[("a", "b")]
    assert ab.area_m2 <= rows[("a", "a")].area_m2 and ab.area_m2 <= rows[("b", "b")].area_m2
    assert 0 <= ab.share_a <= 1 and 0 <= ab.share_b <= 1
    # and it is the overlap of the drawn shapes (independent: shapely in the plane)
    ua = shapely.union_all([shapely.make_valid(p) for p in pa])
    ub = shapely.union_all([shapely.make_valid(p) for p in pb])
    planar = shapely.area(shapely.intersection(ua, ub))
    assert ab.area_m2 == pytest.approx(planar, rel=2e-3, abs=1e-2)  # GK vs ellipsoid: < 0.1 %


@SETTINGS
@given(st.lists(polygon(), min_size=1, max_size=4), st.sampled_from(CRSS), st.sampled_from(CRSS))
def test_reprojection_round_trip_keeps_area(polys, c1, c2):
    gdf = stored([shapely.make_valid(p) for p in polys], c1)
    there = reproject(gdf, c2)
    back = reproject(there, c1)
    a0 = area(gdf)
    assert np.allclose(area(there), a0, rtol=1e-8, atol=1e-3)
    assert np.allclose(area(back), a0, rtol=1e-8, atol=1e-3)


@SETTINGS
@given(st.lists(polygon(), min_size=1, max_size=4), st.lists(polygon(), min_size=1, max_size=4),
       st.sampled_from(CRSS), st.sampled_from(CRSS))
def test_diff_pieces_rebuild_the_after_layer(pb, pa, cb, ca):
    before = stored([shapely.make_valid(p) for p in pb], cb)
    after = stored([shapely.make_valid(p) for p in pa], ca)
    res = diff_layers(before, after, kind="redline", tolerance_m=0.0, method="projected")
    # after = before − lost + gained, as areas of the dissolved layers
    assert res.after_m2 == pytest.approx(res.before_m2 - res.lost_m2 + res.gained_m2,
                                         rel=1e-9, abs=1e-2)
    ub = shapely.union_all([shapely.make_valid(p) for p in pb])
    ua = shapely.union_all([shapely.make_valid(p) for p in pa])
    assert res.lost_m2 == pytest.approx(shapely.area(ub.difference(ua)), rel=2e-3, abs=1e-2)
    assert res.gained_m2 == pytest.approx(shapely.area(ua.difference(ub)), rel=2e-3, abs=1e-2)


@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(polygon(valid=False), min_size=1, max_size=4), st.sampled_from(CRSS),
       st.sampled_from(["areas", "topology", "overlaps"]), st.booleans())
def test_cli_errors_are_ecogis_errors_with_a_fix(tmp_path_factory, run_cli, polys, crs, command,
                                                 drop_crs):
    """Random (often invalid) polygons, with or without a declared CRS: the CLI answers or
    refuses in one line with a fix, never with an internal error."""
    folder = tmp_path_factory.mktemp("prop")
    gdf = stored(polys, crs)
    path = folder / "in.geojson"
    doc = json.loads(gdf.to_json())
    if drop_crs:
        doc.pop("crs", None)
    path.write_text(json.dumps(doc), encoding="utf-8")
    code, out, err = run_cli(command, path, "--format", "json")
    assert code in (0, 1, 2), err
    if code == 2:
        assert err.count("ecogis: error") == 1 and "fix" in err, err
    assert "internal error" not in err


def test_ecogis_errors_subclass_builtins():
    from ecogis import errors

    for name in dir(errors):
        cls = getattr(errors, name)
        if isinstance(cls, type) and issubclass(cls, EcogisError) and cls is not EcogisError:
            assert any(issubclass(cls, b) for b in (ValueError, OSError, KeyError,
                                                    UnicodeError, TimeoutError)), name
