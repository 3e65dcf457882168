"""Topology checks: self-overlaps, gaps in coverages, slivers, on parcels inside 安居区.

Geometry is laid out in EPSG:4544 (tests/overlay_workspace.py); expected areas are closed
forms in the plane, or plain shapely intersections measured with pyproj's Geod on lon/lat.
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from conftest import ref_area_plane_m2
from overlay_workspace import (
    GK,
    R1_BOX,
    R2_BOX,
    X0,
    Y0,
    build_workspace,
    gk_box,
    layers_gk,
    to_crs,
    voronoi_parcels,
)

from ecogis.topology import issues_frame, topology_check

METHODS = ("ellipsoidal", "projected")


def ref_measure(geom_gk, method):
    if method == "projected":
        return float(geom_gk.area)
    return ref_area_plane_m2(geom_gk, GK)


@pytest.fixture(scope="module")
def gk(anju):
    return layers_gk(anju)


@pytest.fixture(scope="module")
def full_coverage():
    """Every Voronoi cell of the window: a gap-free valid coverage."""
    return voronoi_parcels(np.random.default_rng(11), n=400, keep=1.0)


def _cells(geoms, **cols):
    return gpd.GeoDataFrame(cols or None, geometry=list(geoms), crs=GK)


@pytest.mark.parametrize("method", METHODS)
def test_redline_overlapping_itself_is_reported(gk, method):
    red = gk["redline"][0]
    issues = topology_check(("redline", red, "redline"), method=method)
    over = [i for i in issues if i.type == "self_overlap"]
    names = {(i.name_a, i.name_b) for i in over}
    assert ("红线R1", "红线R2") in names
    r12 = next(i for i in over if (i.name_a, i.name_b) == ("红线R1", "红线R2"))
    expected = gk_box(R1_BOX).intersection(gk_box(R2_BOX))
    assert expected.area == pytest.approx(50 * 300)
    assert r12.area_m2 == pytest.approx(ref_measure(expected, method), rel=1e-9)
    assert (r12.fid_a, r12.fid_b) == (len(red) - 2, len(red) - 1)
    pt = to_crs([shapely.Point(r12.lon, r12.lat)], "EPSG:4490", GK)[0]
    assert expected.contains(pt)
    # every overlapping pair of features is found, each once, with its area
    geoms = red.geometry.values
    want = {(i, j) for i in range(len(red)) for j in range(i + 1, len(red))
            if geoms[i].intersection(geoms[j]).area >= 0.01}
    assert {(i.fid_a, i.fid_b) for i in over} == want
    for i in over:
        ref = ref_measure(geoms[i.fid_a].intersection(geoms[i.fid_b]), method)
        assert i.area_m2 == pytest.approx(ref, rel=1e-9)


def test_clean_coverage_has_no_issues(full_coverage):
    issues = topology_check(("farm", _cells(full_coverage), "farmland"))
    assert issues == []


@pytest.mark.parametrize("method", METHODS)
def test_hole_in_a_coverage_is_a_gap(full_coverage, method):
    centre = shapely.Point(X0 + 1500, Y0 + 1000)
    k = int(np.argmin(shapely.distance(full_coverage, centre)))
    hole = full_coverage[k]
    cells = np.delete(full_coverage, k)
    farm = ("farm", _cells(cells), "farmland")
    small = topology_check(farm, gap_m2=hole.area / 2, method=method)
    assert [i for i in small if i.type == "gap"] == []
    issues = topology_check(farm, gap_m2=hole.area * 2, method=method)
    gaps = [i for i in issues if i.type == "gap"]
    assert len(gaps) == 1
    # 1e-9, or 1e-3 m²: pyproj's geodesic area of one region moves by ~3e-4 m² with the number
    # of vertices along its edges (a 2 945 m² cell split to 1e9 .. 0.2 m, measured)
    assert gaps[0].area_m2 == pytest.approx(ref_measure(hole, method), rel=1e-9, abs=1e-3)
    pt = to_crs([shapely.Point(gaps[0].lon, gaps[0].lat)], "EPSG:4490", GK)[0]
    assert hole.contains(pt)
    # the parcels on its rim are named
    rim = {i for i, c in enumerate(cells) if c.touches(hole)}
    assert {gaps[0].fid_a, gaps[0].fid_b} <= rim
    # a hole that is also a hole of the territory (an enclave) is no gap of the layer
    window = shapely.box(X0 - 10, Y0 - 10, X0 + 3010, Y0 + 2010)
    for terr_geom, n in ((window, 1), (window.difference(hole), 0)):
        terr = gpd.GeoDataFrame(geometry=[terr_geom], crs=GK)
        found = [i for i in topology_check(farm, gap_m2=hole.area * 2, territory=terr,
                                           method=method) if i.type == "gap"]
        assert len(found) == n
        if n:
            assert found[0].area_m2 == pytest.approx(gaps[0].area_m2, rel=1e-12)


def test_island_inside_a_hole_is_not_counted_as_gap(full_coverage):
    centre = shapely.Point(X0 + 1500, Y0 + 1000)
    k = int(np.argmin(shapely.distance(full_coverage, centre)))
    shrunk = full_coverage[k].buffer(-5, join_style="mitre")
    cells = full_coverage.copy()
    cells[k] = shrunk
    issues = topology_check(("farm", _cells(cells), "farmland"), gap_m2=1e6,
                            method="projected")
    gaps = [i for i in issues if i.type == "gap"]
    assert len(gaps) == 1
    assert gaps[0].area_m2 == pytest.approx(full_coverage[k].area - shrunk.area, rel=1e-9)


def test_overlapping_parcels_in_a_coverage(full_coverage):
    centre = shapely.Point(X0 + 800, Y0 + 600)
    k = int(np.argmin(shapely.distance(full_coverage, centre)))
    cells = full_coverage.copy()
    cells[k] = full_coverage[k].buffer(6, join_style="mitre")
    issues = topology_check(("farm", _cells(cells), "farmland"), method="projected")
    over = {(i.fid_a, i.fid_b): i.area_m2 for i in issues if i.type == "self_overlap"}
    want = {}
    for j, c in enumerate(cells):
        if j != k:
            a = cells[k].intersection(c).area
            if a >= 0.01:
                want[(min(j, k), max(j, k))] = a
    assert len(want) >= 4
    assert set(over) == set(want)
    for key, a in want.items():
        assert over[key] == pytest.approx(a, rel=1e-9)


def test_slivers_by_area_and_width(gk):
    red = gk["redline"][0]
    strip = shapely.box(X0 + 100, Y0 + 3000, X0 + 150, Y0 + 3000.2)   # 50 m × 0.2 m = 10 m²
    speck = shapely.box(X0 + 400, Y0 + 3000, X0 + 400.5, Y0 + 3001)   # 0.5 m²
    extra = gpd.GeoDataFrame({"name": ["缝隙", "碎片"]}, geometry=[strip, speck], crs=GK)
    lyr = gpd.GeoDataFrame(pd_concat([red, extra]), crs=GK)
    issues = [i for i in topology_check(("redline", lyr, "redline"), method="projected")
              if i.type == "sliver"]
    assert {i.name_a for i in issues} == {"缝隙", "碎片"}
    by = {i.name_a: i for i in issues}
    assert by["缝隙"].area_m2 == pytest.approx(10.0, rel=1e-9)
    assert by["碎片"].area_m2 == pytest.approx(0.5, rel=1e-9)
    none = topology_check(("redline", lyr, "redline"), sliver_m2=0.1, sliver_width_m=0.1)
    assert not [i for i in none if i.type == "sliver"]


def pd_concat(frames):
    import pandas as pd

    return pd.concat(frames, ignore_index=True)


def test_narrow_crack_opening_outside_is_a_gap(full_coverage):
    # a parcel on the window's edge shrunk by 0.3 m leaves a crack to its neighbours that
    # opens to the outside: no hole, found from the edges coverage_invalid_edges flags
    b = shapely.bounds(full_coverage)
    k = int(np.argmin(b[:, 1]))  # touches the bottom of the window
    cells = full_coverage.copy()
    cells[k] = full_coverage[k].buffer(-0.3, join_style="mitre")
    lost = full_coverage[k].area - cells[k].area
    issues = topology_check(("farm", _cells(cells), "farmland"), gap_width_m=1.0,
                            method="projected")
    gaps = [i for i in issues if i.type == "gap"]
    assert gaps
    assert 0 < sum(i.area_m2 for i in gaps) < lost
    for g in gaps:
        pt = to_crs([shapely.Point(g.lon, g.lat)], "EPSG:4490", GK)[0]
        assert full_coverage[k].buffer(0.01).contains(pt)
    off = topology_check(("farm", _cells(cells), "farmland"), gap_width_m=0)
    assert not [i for i in off if i.type == "gap"]


def test_issues_frame_is_lonlat(gk):
    issues = topology_check(("redline", gk["redline"][0], "redline"))
    gdf = issues_frame(issues)
    assert len(gdf) == len(issues) and gdf.crs.to_epsg() == 4490
    assert {"layer", "type", "fid_a", "fid_b", "area", "unit", "lon", "lat"} <= set(gdf.columns)


# ------------------------------------------------------------------------------------- CLI
@pytest.fixture(scope="module")
def ws_path(tmp_path_factory, anju):
    path = tmp_path_factory.mktemp("topology") / "anju_topology.gpkg"
    build_workspace(path, anju)
    return path


def test_cli_topology_reports_redline_and_exits_1(run_cli, ws_path, tmp_path):
    out = tmp_path / "issues.gpkg"
    code, stdout, _ = run_cli("topology", ws_path, "--format", "json", "--out", out)
    assert code == 1
    doc = json.loads(stdout)
    types = {(i["layer"], i["type"]) for i in doc["issues"]}
    assert ("redline", "self_overlap") in types
    for i in doc["issues"]:
        assert {"area", "unit", "lon", "lat", "fid_a"} <= set(i)
        assert 105.0 < i["lon"] < 105.8 and 30.1 < i["lat"] < 30.6
    written = pyogrio.read_dataframe(out, layer="topology_issues")
    assert len(written) == len(doc["issues"])
    layers = {d["layer"]: d for d in doc["layers"]}
    assert layers["farmland"]["coverage"] is True and layers["redline"]["self_overlap"] > 0
    assert doc["territory"] == "towns"  # the only admin layer


def test_cli_topology_clean_layer_exits_0(run_cli, ws_path):
    code, out, _ = run_cli("topology", ws_path, "--layer", "industrial")
    assert code == 0
    assert "industrial" in out
    code, _, err = run_cli("topology", ws_path, "--sliver-m2", "-1")
    assert code == 2 and "sliver" in err


def test_invalid_geometry_is_named(gk):
    from ecogis.errors import GeometryError

    red = gk["redline"][0].copy()
    bow = shapely.Polygon([(X0, Y0), (X0 + 50, Y0 + 50), (X0 + 50, Y0), (X0, Y0 + 50)])
    red.loc[red.index[-1], "geometry"] = bow
    red.loc[red.index[-2], "geometry"] = shapely.box(X0 + 10, Y0 - 10, X0 + 60, Y0 + 20)
    with pytest.raises(GeometryError, match="Self-intersection"):
        topology_check(("redline", red, "redline"))


def test_sliver_overlaps_below_the_threshold_are_not_reported():
    # two parcels sharing an edge digitised twice: 1 mm apart over 10 m (0.005 m²)
    a = shapely.box(X0, Y0, X0 + 10, Y0 + 10)
    b = shapely.Polygon([(X0 + 9.999, Y0), (X0 + 20, Y0), (X0 + 20, Y0 + 10),
                         (X0 + 10, Y0 + 10)])
    assert 0.004 < a.intersection(b).area < 0.006
    lyr = ("parcels", gpd.GeoDataFrame(geometry=[a, b], crs=GK), "farmland")
    assert not [i for i in topology_check(lyr) if i.type == "self_overlap"]
    over = [i for i in topology_check(lyr, min_overlap_m2=0.001, method="projected")
            if i.type == "self_overlap"]
    assert len(over) == 1 and over[0].area_m2 == pytest.approx(a.intersection(b).area, rel=1e-9)
