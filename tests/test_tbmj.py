"""The official area method ``tbmj`` (图斑椭球面积, 国土调查办发〔2008〕32号) against an
independent implementation: the closed-form zone area of the ellipsoid (authalic function with
its logarithm, no series) and Gauss-Legendre integration of the area element."""

from __future__ import annotations

import json
import math

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import CRS, Transformer

from ecogis.measure import area, layer_area, tbmj_area

CGCS = (6378137.0, 298.257222101)
XIAN80 = (6378140.0, 298.257)


def _b_e(a: float, rf: float) -> tuple[float, float]:
    f = 1 / rf
    b = a * (1 - f)
    return b, math.sqrt(1 - (b / a) ** 2)


def zone_z(phi: np.ndarray, a: float, rf: float) -> np.ndarray:
    """Closed form ∫₀^φ b² cos B / (1 − e² sin² B)² dB (area per radian of longitude)."""
    b, e = _b_e(a, rf)
    s = np.sin(phi)
    return b * b * (s / (2 * (1 - e * e * s * s)) + np.log((1 + e * s) / (1 - e * s)) / (4 * e))


def quad_area_gl(lon0, lat0, lon1, lat1, a, rf, n=40) -> float:
    """Area of a lon/lat quadrangle by Gauss-Legendre integration of the area element."""
    b, e = _b_e(a, rf)
    x, w = np.polynomial.legendre.leggauss(n)
    p0, p1 = math.radians(lat0), math.radians(lat1)
    phi = (p1 - p0) / 2 * x + (p1 + p0) / 2
    f = b * b * np.cos(phi) / (1 - e * e * np.sin(phi) ** 2) ** 2
    return math.radians(lon1 - lon0) * (p1 - p0) / 2 * float(np.sum(w * f))


def ref_tbmj(geom, crs) -> float:
    """Independent TBMJ: vertices to (B, L) on the CRS's ellipsoid, then Σ L̄·ΔZ over the edges
    with the closed-form Z (edges straight in the equal-area cylindrical projection)."""
    c = CRS.from_user_input(crs)
    a, rf = c.ellipsoid.semi_major_metre, c.ellipsoid.inverse_flattening
    tr = Transformer.from_crs(c, c.geodetic_crs, always_xy=True)
    total = 0.0
    for poly in getattr(geom, "geoms", [geom]):
        for k, ring in enumerate([poly.exterior, *poly.interiors]):
            x, y = np.asarray(ring.coords).T
            lon, lat = tr.transform(x, y) if not c.is_geographic else (x, y)
            lam, z = np.radians(lon), zone_z(np.radians(lat), a, rf)
            s = abs(float(np.sum((lam[:-1] + lam[1:]) / 2 * np.diff(z))))
            total += s if k == 0 else -s
    return total


@pytest.mark.parametrize(("lon", "lat", "dlon", "dlat"), [
    (105.0, 30.0, 1.0, 1.0), (105.2, 30.3, 0.01, 0.008), (120.0, 45.0, 0.5, 0.25),
    (88.0, 3.0, 2.0, 1.5), (75.5, 39.0, 0.001, 0.001)])
def test_lonlat_quadrangle_matches_closed_form_and_integral(lon, lat, dlon, dlat):
    q = shapely.box(lon, lat, lon + dlon, lat + dlat)
    got = tbmj_area([q], 4490)[0]
    closed = math.radians(dlon) * float(zone_z(np.radians(lat + dlat), *CGCS)
                                        - zone_z(np.radians(lat), *CGCS))
    # the published series stops at e⁸ (the next term is ~e¹⁰ ≈ 1.4e-11 relative); the closed
    # form subtracts two values of ~2e13 m², so it is good to ~5e-3 m² absolute
    assert got == pytest.approx(closed, rel=1e-11, abs=5e-3)
    assert got == pytest.approx(quad_area_gl(lon, lat, lon + dlon, lat + dlat, *CGCS), rel=1e-11,
                                abs=1e-6)


def test_xian80_layer_uses_its_own_ellipsoid():
    """A Xian 1980 GK layer (EPSG:2383, 3° CM 105°E) is measured on the Xian 1980 ellipsoid."""
    tr = Transformer.from_crs(4610, 2383, always_xy=True)
    lon, lat, d = 105.2, 30.3, 0.02
    corners = [(lon, lat), (lon + d, lat), (lon + d, lat + d), (lon, lat + d)]
    # a quadrangle: many vertices along the parallels, so the GK polygon follows them
    ring = ([(lon + d * t, lat) for t in np.linspace(0, 1, 200)]
            + [(lon + d, lat + d * t) for t in np.linspace(0, 1, 50)[1:]]
            + [(lon + d - d * t, lat + d) for t in np.linspace(0, 1, 200)[1:]]
            + [(lon, lat + d - d * t) for t in np.linspace(0, 1, 50)[1:]])
    gk = shapely.Polygon(np.column_stack(tr.transform(*np.array(ring).T)))
    got = tbmj_area([gk], 2383)[0]
    assert got == pytest.approx(quad_area_gl(*corners[0], *corners[2], *XIAN80), rel=1e-9)
    assert got != pytest.approx(quad_area_gl(*corners[0], *corners[2], *CGCS), rel=1e-7)


@pytest.fixture(scope="module")
def parcels():
    """Irregular parcels in GK zone 35 (EPSG:4523), some with holes, 0.01 to 10 ha."""
    rng = np.random.default_rng(5)
    out = []
    for _ in range(60):
        cx, cy = 35_540_000 + rng.uniform(-20_000, 20_000), 3_360_000 + rng.uniform(-20_000, 20_000)
        r = rng.uniform(10, 180)
        k = rng.integers(5, 40)
        t = np.sort(rng.uniform(0, 2 * np.pi, k))
        rr = r * rng.uniform(0.6, 1.0, k)
        p = shapely.Polygon(np.column_stack([cx + rr * np.cos(t), cy + rr * np.sin(t)]))
        if rng.uniform() < 0.3:
            p = p.difference(shapely.Point(cx, cy).buffer(r * 0.2))
        out.append(shapely.make_valid(p))
    return gpd.GeoDataFrame(geometry=out, crs=4523)


def test_reproduces_an_independent_tbmj_to_a_hundredth_of_a_square_metre(parcels):
    ref = np.array([ref_tbmj(g, 4523) for g in parcels.geometry])
    tbmj = np.round(ref, 2)  # the TBMJ field of a 三调 layer: kept to 0.01 m²
    got = area(parcels, "tbmj")
    assert np.abs(np.round(got, 2) - tbmj).max() <= 0.01
    assert np.abs(got - ref).max() < 1e-4


def test_prefix_and_zone_do_not_change_tbmj(parcels):
    base = tbmj_area(parcels)
    for epsg in (4544, 4490):
        moved = parcels.to_crs(epsg)
        assert np.allclose(tbmj_area(moved), base, rtol=1e-8, atol=1e-3)


def test_tbmj_and_geodesic_differ_by_about_a_square_metre_on_large_parcels():
    """1 km² and 25 km² squares in the GK plane: the two methods draw the edges differently
    (geodesic vs straight in the equal-area cylinder), by at most ~1 m²."""
    for side in (1000.0, 5000.0):
        sq = gpd.GeoDataFrame(geometry=[shapely.box(35_560_000, 3_350_000, 35_560_000 + side,
                                                    3_350_000 + side)], crs=4523)
        t, g = area(sq, "tbmj")[0], area(sq, "ellipsoidal")[0]
        assert abs(t - g) <= 1.0 + 1e-8 * side * side, (side, t - g)
        assert abs(t - g) / g < 1e-6


def test_layer_area_and_cli(tmp_path, parcels, run_cli):
    s = layer_area(parcels, "tbmj")
    assert s.method == "tbmj" and "32号" in s.method_label
    assert s.area_raw_sum_m2 == pytest.approx(sum(ref_tbmj(g, 4523) for g in parcels.geometry),
                                              rel=1e-9)
    f = tmp_path / "dltb.gpkg"
    parcels.assign(name=[f"图斑{i}" for i in range(len(parcels))]).to_file(f, driver="GPKG")
    code, out, err = run_cli("areas", f, "--method", "tbmj", "--unit", "m2", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["method"] == "tbmj"
    assert doc["layers"][0]["area_raw_sum"] == pytest.approx(s.area_raw_sum_m2, rel=1e-9)
    code, out, err = run_cli("overlaps", f, "--method", "tbmj", "--format", "json")
    assert code == 0, err


def test_check_method_tbmj_measures_the_site_and_its_overlap(tmp_path, run_cli):
    """`check --method tbmj`: the site's area and its overlap with a redline are TBMJ figures."""
    from ecogis.workspace import Workspace

    red = shapely.box(35_540_000, 3_360_000, 35_541_000, 3_360_800)
    site = shapely.box(35_540_600, 3_360_500, 35_541_400, 3_361_000)
    ws = Workspace.open(tmp_path / "ws.gpkg", create=True)
    ws.write("redline", gpd.GeoDataFrame({"name": ["红线"]}, geometry=[red], crs=4523), "redline")
    code, out, err = run_cli("check", ws.path, "--wkt", site.wkt, "--crs", "EPSG:4523",
                             "--category", "industrial", "--method", "tbmj", "--format", "json")
    assert code in (0, 1), err
    doc = json.loads(out)
    s = doc["sites"][0]
    assert s["area_m2"] == pytest.approx(ref_tbmj(site, 4523), abs=1e-4)
    hits = [h for h in s["hits"] if h.get("overlap_m2")]
    assert hits and hits[0]["overlap_m2"] == pytest.approx(ref_tbmj(red.intersection(site), 4523),
                                                            abs=1e-4)
