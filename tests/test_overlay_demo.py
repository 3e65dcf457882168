"""The demo workspace's planted conflicts, found by ``ecogis.overlay`` and ``ecogis.topology``.

The demo (ecogis.demo) records each planted defect with its area, measured on intersections
computed in lon/lat; ecogis intersects in the Gauss-Krüger plane, where a crossing point of
two edges lies a few micrometres away, so those figures agree to 1e-6. The independent
reference here intersects in the same plane (plain pyproj + shapely + GRS80 Geod) and agrees
to 1e-9.
"""

from __future__ import annotations

import numpy as np
import pyogrio
import pytest
import shapely
from conftest import ref_area_plane_m2
from pyproj import Transformer

from ecogis.demo import build_demo_workspace
from ecogis.overlay import OverlapAnalysis
from ecogis.topology import topology_check
from ecogis.workspace import load_target

SEED = 20231
GK = "EPSG:4544"
LINES = ["farmland", "redline", "ugb", "protected_area", "water_source", "industrial_park"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo_overlay") / "anju.gpkg"
    ws = build_demo_workspace(path, region="anju", seed=SEED)
    _, layers = load_target(path, names=LINES)
    defects = {d["id"]: d for d in ws.meta["planted_defects"]}
    return path, {lyr.name: lyr for lyr in layers}, defects


@pytest.fixture(scope="module")
def found(demo):
    _, layers, _ = demo
    an = OverlapAnalysis(list(layers.values()), "ellipsoidal")
    summary, polys = an.conflicts(unit="m2")
    return an, {r.rule: r for r in summary}, polys


def stored_gk(path, name):
    """A stored layer read with plain pyogrio, reprojected to EPSG:4544 with pyproj."""
    df = pyogrio.read_dataframe(path, layer=name)
    t = Transformer.from_crs(df.crs, GK, always_xy=True)
    geoms = np.asarray(df.geometry.values, dtype=object)
    if df.crs.is_geographic:  # edges straight in lon/lat: densify them before the move
        geoms = shapely.segmentize(geoms, 1e-5)
    return shapely.transform(geoms,
                             lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1]))), df


def ref_geodesic(geom_gk) -> float:
    return ref_area_plane_m2(geom_gk, GK)  # GK-straight edges densified, then measured


@pytest.mark.parametrize(("rule", "defect", "side", "layer"), [
    ("farmland_ugb", "ugb_farmland_overlap", "b", "ugb"),
    ("redline_farmland", "redline_farmland_overlap", "a", "redline"),
])
def test_planted_conflicts_are_found_with_their_areas(demo, found, rule, defect, side, layer):
    path, _, defects = demo
    _, summary, polys = found
    d = defects[defect]
    sel = polys[polys.rule == rule]
    assert len(sel) > 0
    # every conflict polygon of the rule belongs to the planted feature
    assert set(sel[f"{side}_name"]) == set(d["features"])
    assert sel.area_m2.sum() == pytest.approx(d["expected_m2"], rel=1e-6)
    assert summary[rule].area_m2 == pytest.approx(d["expected_m2"], rel=1e-6)
    # independent: union of each layer in the plane, intersected, geodesic area
    a, _ = stored_gk(path, layer)
    f, _ = stored_gk(path, "farmland")
    expected = ref_geodesic(shapely.intersection(shapely.union_all(a), shapely.union_all(f)))
    # 1e-9, or 5e-3 m²: lon/lat layers are densified (ecogis to 0.0005°, the reference to
    # 0.00001°) and pyproj's geodesic area moves ~1e-4 m² with the vertex count (measured)
    assert summary[rule].area_m2 == pytest.approx(expected, rel=1e-9, abs=5e-3)


def test_nothing_else_conflicts(found):
    _, summary, polys = found
    for rule, row in summary.items():
        if rule in ("farmland_ugb", "redline_farmland"):
            continue
        assert row.area_m2 < 1.0, rule  # m²: numerical slivers of touching lines at most
        assert polys[polys.rule == rule].area_m2.sum() < 1.0


def test_planted_redline_self_overlap_is_reported(demo):
    path, layers, defects = demo
    d = defects["redline_self_overlap"]
    issues = topology_check(layers["redline"])
    over = [i for i in issues if i.type == "self_overlap"]
    assert len(over) == 1
    assert {over[0].name_a, over[0].name_b} == set(d["features"])
    assert over[0].area_m2 == pytest.approx(d["expected_m2"], rel=1e-6)
    geoms, df = stored_gk(path, "redline")
    names = list(df["name"])
    ia, ib = names.index(over[0].name_a), names.index(over[0].name_b)
    assert over[0].area_m2 == pytest.approx(
        ref_geodesic(shapely.intersection(geoms[ia], geoms[ib])), rel=1e-9, abs=5e-3)
    lon, lat = d["lonlat"]
    assert abs(over[0].lon - lon) < 0.02 and abs(over[0].lat - lat) < 0.02
