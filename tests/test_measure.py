"""Areas: ellipsoidal against closed forms and independent pyproj, projected, dissolved."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest
import shapely
from conftest import ref_area_m2
from pyproj import Transformer

from ecogis.measure import area, dissolve, geodesic_area, layer_area, planar_area
from ecogis.units import area_unit, from_m2

A = 6378137.0
F = 1 / 298.257222101  # CGCS2000


def cell_area_closed_form(lon0, lat0, lon1, lat1) -> float:
    """Area (m²) of a lon/lat quadrangle on the CGCS2000 ellipsoid, in closed form."""
    e2 = F * (2 - F)
    e = math.sqrt(e2)
    b = A * (1 - F)

    def q(phi):
        s = math.sin(math.radians(phi))
        return s / (1 - e2 * s * s) + math.log((1 + e * s) / (1 - e * s)) / (2 * e)

    return b * b * math.radians(lon1 - lon0) / 2 * (q(lat1) - q(lat0))


def densified_cell(lon0, lat0, lon1, lat1, n=2000):
    """The cell with edges along parallels and meridians, densified to n points per edge."""
    t = np.linspace(0, 1, n, endpoint=False)
    xs = np.concatenate([lon0 + (lon1 - lon0) * t, np.full(n, lon1), lon1 - (lon1 - lon0) * t,
                         np.full(n, lon0)])
    ys = np.concatenate([np.full(n, lat0), lat0 + (lat1 - lat0) * t, np.full(n, lat1),
                         lat1 - (lat1 - lat0) * t])
    return shapely.Polygon(np.column_stack([xs, ys]))


@pytest.mark.parametrize(("lon", "lat"), [(105, 30), (103, 29), (120, 45), (88, 3), (105, -40)])
def test_one_degree_cell_matches_closed_form(lon, lat):
    expected = cell_area_closed_form(lon, lat, lon + 1, lat + 1)
    got = geodesic_area([densified_cell(lon, lat, lon + 1, lat + 1)], crs=4490)[0]
    assert got == pytest.approx(expected, rel=1e-8)


def test_clockwise_rings_give_positive_area():
    cell = densified_cell(105, 30, 106, 31, n=50)
    cw = shapely.Polygon(list(cell.exterior.coords)[::-1])
    assert not cw.exterior.is_ccw or cell.exterior.is_ccw != cw.exterior.is_ccw
    a_ccw, a_cw = geodesic_area([cell, cw], crs=4490)
    assert a_cw > 0 and a_cw == pytest.approx(a_ccw, rel=1e-12)


def test_hole_is_subtracted():
    outer = shapely.box(105, 30, 105.1, 30.1)
    hole = shapely.box(105.02, 30.02, 105.05, 30.05)
    poly = shapely.Polygon(outer.exterior.coords, [hole.exterior.coords])
    got = geodesic_area([poly], crs=4490)[0]
    # lon/lat edges are straight in lon/lat: the closed form of each cell, not a geodesic box
    expected = (cell_area_closed_form(105, 30, 105.1, 30.1)
                - cell_area_closed_form(105.02, 30.02, 105.05, 30.05))
    assert got == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("name", ["安居区", "沙湾区", "永川区", "潼南区", "资阳市"])
def test_real_districts_match_reference_csv(admin_units, name):
    import pandas as pd
    from conftest import DATA

    ref = pd.read_csv(DATA / "admin_units_areas.csv").set_index("name")
    row = admin_units[admin_units["name"] == name]
    s = layer_area(row)
    assert from_m2(s.area_m2, "km2") == pytest.approx(ref.loc[name, "area_km2_cgcs2000"], abs=5e-4)
    # edges are straight in lon/lat (the layer's CRS): the reference densifies them finely
    assert s.area_m2 == pytest.approx(ref_area_m2(shapely.segmentize(row.geometry.iloc[0], 1e-4)),
                                      rel=1e-9)


@pytest.mark.parametrize("epsg", [4523, 4544, 4496, 4507])
def test_ellipsoidal_area_is_independent_of_storage_crs(anju, epsg):
    # the same polygon stored in a GK plane: its lon/lat-straight edges densified, then moved
    dense = anju.set_geometry(shapely.segmentize(anju.geometry.values, 1e-4))
    expected = ref_area_m2(dense.geometry.iloc[0])
    assert geodesic_area(anju)[0] == pytest.approx(expected, rel=1e-9)
    assert geodesic_area(dense.to_crs(epsg))[0] == pytest.approx(expected, rel=1e-9)


def test_projected_area_is_planar_area_in_the_layers_own_plane(anju):
    g4523 = anju.to_crs(4523)
    assert planar_area(g4523)[0] == pytest.approx(shapely.area(g4523.geometry.iloc[0]), rel=1e-12)
    # lon/lat data: the 3° zone of its centre (CM 105°E, EPSG:4544)
    # (lon/lat-straight edges densified before they go to the plane)
    tr = Transformer.from_crs(4490, 4544, always_xy=True)
    dense = shapely.segmentize(anju.geometry.iloc[0], 1e-4)
    expected = shapely.area(shapely.transform(dense, lambda c: np.column_stack(
        tr.transform(c[:, 0], c[:, 1]))))
    assert area(anju, "projected")[0] == pytest.approx(expected, rel=1e-9)
    # the GK plane overstates area a little away from the central meridian (field notes §2.2)
    ratio = area(anju, "projected")[0] / area(anju, "ellipsoidal")[0]
    assert 1 < ratio < 1.0005


def test_dissolve_counts_overlaps_once():
    a = shapely.box(105.00, 30.00, 105.02, 30.02)
    b = shapely.box(105.01, 30.01, 105.03, 30.03)
    c = shapely.box(105.10, 30.10, 105.11, 30.11)
    gdf = gpd.GeoDataFrame(geometry=[a, b, c], crs=4490)
    s = layer_area(gdf)
    assert s.area_m2 < s.area_raw_sum_m2
    dense = [shapely.segmentize(g, 1e-4) for g in (a, b, c)]  # lon/lat-straight edges
    assert s.area_raw_sum_m2 == pytest.approx(sum(ref_area_m2(g) for g in dense), rel=1e-9)
    assert s.area_m2 == pytest.approx(ref_area_m2(shapely.union_all(dense)), rel=1e-9)
    assert s.overlap_m2 == pytest.approx(ref_area_m2(a.intersection(b)), rel=1e-6)
    parts = dissolve(gdf)
    assert len(parts) == 2 and set(shapely.get_type_id(parts)) == {3}


def test_coverage_union_equals_plain_union(anju):
    geom = anju.to_crs(4544).geometry.iloc[0]
    pts = shapely.points(np.random.default_rng(3).uniform(
        geom.bounds[:2], geom.bounds[2:], size=(300, 2)))
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=geom))
    cells = shapely.intersection(cells, geom)
    cells = cells[~shapely.is_empty(cells)]
    gdf = gpd.GeoDataFrame(geometry=cells, crs=4544)
    cov = layer_area(gdf, coverage=True)
    plain = layer_area(gdf, coverage=False)
    assert cov.area_m2 == pytest.approx(plain.area_m2, rel=1e-9)
    assert cov.area_m2 == pytest.approx(ref_area_m2(anju.geometry.iloc[0]), rel=1e-6)


@pytest.mark.parametrize(("unit", "m2"), [("mu", 2000 / 3), ("亩", 2000 / 3), ("ha", 1e4),
                                          ("公顷", 1e4), ("km2", 1e6), ("万亩", 2e7 / 3)])
def test_units(unit, m2):
    assert area_unit(unit).m2 == pytest.approx(m2, rel=1e-15)
    assert from_m2(1e6, "mu") == pytest.approx(1500)
