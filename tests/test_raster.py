"""Rasters: slope on tilted planes, ellipsoidal pixel areas, exact zonal statistics, import.

Expected values are computed independently: slopes from closed forms (a plane tilted by θ in a
Gauss-Krüger plane; on a geographic grid, planes laid out in a pyproj azimuthal-equidistant
plane or along the meridian arc integrated numerically from the ellipsoid's a and f), areas
from pyproj.Geod on densified rings, coverage from shapely intersections of every pixel box.
"""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
from contextlib import closing
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from affine import Affine
from pyproj import CRS, Geod, Transformer

from ecogis import gpkg
from ecogis import raster as R
from ecogis.errors import CRSError, InputError
from ecogis.workspace import Workspace

CGCS = CRS.from_epsg(4490)
GK105 = CRS.from_epsg(4544)  # CGCS2000 3° GK CM 105°E, no prefix
GEOD = Geod(a=6378137.0, rf=298.257222101)


# ---------------------------------------------------------------------------- slope


@pytest.mark.parametrize("theta", [1.0, 7.5, 17.0, 26.0, 44.0])
@pytest.mark.parametrize("azimuth", [0.0, 90.0, 33.0, 212.0])
def test_slope_of_projected_tilted_plane(theta, azimuth):
    # non-square pixels catch a dx/dy swap
    t = Affine(30.0, 0, 480_000.0, 0, -25.0, 3_370_000.0)
    h, w = 40, 50
    cols, rows = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    x = t.c + t.a * cols
    y = t.f + t.e * rows
    az = math.radians(azimuth)
    z = math.tan(math.radians(theta)) * (x * math.sin(az) + y * math.cos(az)) / 1.0
    z -= z.min() - 300.0
    s = R.slope_degrees(R.Grid(z, t, GK105))
    np.testing.assert_allclose(s, theta, atol=1e-9)


def meridian_arc(lat0: float, lat: np.ndarray) -> np.ndarray:
    """Meridian arc length (m) from lat0 to lat by Simpson integration of M(φ) (a, f only)."""
    a, f = 6378137.0, 1 / 298.257222101
    e2 = f * (2 - f)
    out = []
    for phi in np.radians(np.atleast_1d(lat)):
        xs = np.linspace(math.radians(lat0), phi, 2001)
        m = a * (1 - e2) / (1 - e2 * np.sin(xs) ** 2) ** 1.5
        hstep = (phi - math.radians(lat0)) / 2000
        out.append(hstep / 3 * (m[0] + m[-1] + 4 * m[1:-1:2].sum() + 2 * m[2:-1:2].sum()))
    return np.array(out)


@pytest.mark.parametrize("lat0", [22.5, 30.4, 45.0])
@pytest.mark.parametrize("theta", [3.0, 25.0])
def test_slope_of_geographic_meridional_plane(lat0, theta):
    res = 1 / 1200
    h, w = 30, 20
    t = Affine(res, 0, 105.0, 0, -res, lat0)
    lats = lat0 - (np.arange(h) + 0.5) * res
    s_m = meridian_arc(lat0, lats)  # negative going south
    z = 400.0 + math.tan(math.radians(theta)) * s_m[:, None] * np.ones((1, w))
    s = R.slope_degrees(R.Grid(z, t, CGCS))
    np.testing.assert_allclose(s, theta, atol=1e-7)


@pytest.mark.parametrize("lat0", [30.4, 45.0])
@pytest.mark.parametrize(("theta", "azimuth"), [(10.0, 90.0), (20.0, 45.0), (35.0, 200.0)])
def test_slope_of_geographic_plane_in_local_plane(lat0, theta, azimuth):
    res = 1 / 1200
    h = w = 41
    lon_c, lat_c = 105.0, lat0
    t = Affine(res, 0, lon_c - w / 2 * res, 0, -res, lat_c + h / 2 * res)
    cols, rows = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    lon = t.c + t.a * cols
    lat = t.f + t.e * rows
    aeqd = CRS.from_proj4(f"+proj=aeqd +lat_0={lat_c} +lon_0={lon_c} +a=6378137 "
                          f"+rf=298.257222101 +units=m")
    east, north = Transformer.from_crs(CGCS, aeqd, always_xy=True).transform(lon, lat)
    az = math.radians(azimuth)
    z = 350.0 + math.tan(math.radians(theta)) * (east * math.sin(az) + north * math.cos(az))
    s = R.slope_degrees(R.Grid(z, t, CGCS))
    # a spherical or a-only pixel size errs by 0.03-0.2° here
    np.testing.assert_allclose(s[1:-1, 1:-1], theta, atol=2e-4)


def test_slope_nodata_is_nan_and_small_dem_refused():
    t = Affine(30, 0, 500_000, 0, -30, 3_400_000)
    z = np.full((5, 5), 100.0, dtype=np.float32)
    z[2, 2] = -9999
    s = R.slope_degrees(R.Grid(z, t, GK105, nodata=-9999))
    assert np.isnan(s[2, 2]) and s[0, 0] == 0.0
    with pytest.raises(InputError, match="too small"):
        R.slope_degrees(R.Grid(np.zeros((1, 5)), t, GK105))


def test_slope_classes_follow_the_survey_bounds():
    s = np.array([0.0, 2.0, 2.01, 6.0, 14.9, 15.0, 25.0, 25.01, 60.0, np.nan])
    np.testing.assert_array_equal(R.slope_class_index(s), [0, 0, 1, 1, 2, 2, 3, 4, 4, -1])


# ---------------------------------------------------------------------------- pixel areas


def densified_quadrangle_area(lon0, lat0, lon1, lat1, n=4000) -> float:
    lons = np.linspace(lon0, lon1, n)
    ring_lon = np.concatenate([lons, [lon1], lons[::-1], [lon0]])
    ring_lat = np.concatenate([np.full(n, lat0), [lat1], np.full(n, lat1), [lat1]])
    area, _ = GEOD.polygon_area_perimeter(ring_lon, ring_lat)
    return abs(area)


@pytest.mark.parametrize(("lat_top", "res"), [(30.6, 1 / 1200), (45.0, 0.01), (18.3, 0.005)])
def test_geographic_pixel_areas_sum_to_the_quadrangle(lat_top, res):
    h, w = 120, 80
    t = Affine(res, 0, 104.0, 0, -res, lat_top)
    a = R.pixel_areas(t, (h, w), CGCS)
    assert np.all(a[0] == a[0, 0])  # one area per row
    expected = densified_quadrangle_area(104.0, lat_top - h * res, 104.0 + w * res, lat_top)
    assert a.sum() == pytest.approx(expected, rel=1e-7)


@pytest.mark.parametrize("x0", [500_000.0, 380_000.0])  # on the CM and 1.25° off it
def test_projected_pixel_areas_are_ellipsoidal(x0):
    t = Affine(30, 0, x0, 0, -30, 3_370_000)
    h = w = 100
    a = R.pixel_areas(t, (h, w), GK105)
    x = np.concatenate([np.linspace(x0, x0 + 3000, 500), np.full(500, x0 + 3000),
                        np.linspace(x0 + 3000, x0, 500), np.full(500, x0)])
    y = np.concatenate([np.full(500, 3_370_000), np.linspace(3_370_000, 3_367_000, 500),
                        np.full(500, 3_367_000), np.linspace(3_367_000, 3_370_000, 500)])
    lon, lat = Transformer.from_crs(GK105, CGCS, always_xy=True).transform(x, y)
    expected = abs(GEOD.polygon_area_perimeter(lon, lat)[0])
    assert a.sum() == pytest.approx(expected, rel=2e-8)
    if x0 != 500_000.0:  # off the central meridian the planar area is larger
        assert 9e6 / a.sum() - 1 > 1e-4


# ---------------------------------------------------------------------------- zonal stats


def brute_force_classes(values, transform, geom, classes):
    """Fractional pixel counts per class: shapely area of every pixel box ∩ geom."""
    h, w = values.shape
    out = dict.fromkeys(classes, 0.0)
    a, e = transform.a, transform.e
    for r in range(h):
        for c in range(w):
            x0 = transform.c + a * c
            y1 = transform.f + e * r
            box = shapely.box(x0, y1 + e, x0 + a, y1)
            frac = shapely.intersection(box, geom).area / box.area
            if frac and values[r, c] in out:
                out[values[r, c]] += frac
    return out


def odd_polygon_gk() -> shapely.Geometry:
    """A rotated star with a hole and a separate island, in GK metres near 105°E, 30.4°N."""
    ang = np.linspace(0, 2 * np.pi, 23, endpoint=False) + 0.13
    rad = np.where(np.arange(23) % 2 == 0, 520.0, 260.0)
    star = shapely.Polygon(np.column_stack([500_610 + rad * np.cos(ang),
                                            3_369_500 + rad * np.sin(ang)]))
    star = star.difference(shapely.Point(500_650, 3_369_480).buffer(90, quad_segs=5))
    island = shapely.Polygon([(501_050, 3_369_020), (501_133.3, 3_369_020),
                              (501_170, 3_369_111.7), (501_050, 3_369_090)])
    return shapely.union(star, island)


def test_zonal_classes_projected_exact_against_pixel_boxes():
    rng = np.random.default_rng(3)
    t = Affine(37.0, 0, 499_991.0, 0, -29.0, 3_370_101.0)
    h, w = 45, 40
    values = rng.integers(1, 7, size=(h, w)).astype(np.uint8)
    geom = odd_polygon_gk()
    z = R.zonal_classes(R.Grid(values, t, GK105, 0), np.array([geom], dtype=object))
    expected = brute_force_classes(values, t, geom, z.classes)
    np.testing.assert_allclose(z.pixels[0], [expected[c] for c in z.classes], rtol=1e-10)
    # fractional: some pixels are cut by the edge
    assert any(not float(v).is_integer() for v in z.pixels[0])
    # areas: fractional pixel counts × ellipsoidal pixel areas sum to the polygon's
    # ellipsoidal area (the raster covers it entirely)
    lonlat = gpd.GeoSeries([geom], crs=GK105).to_crs(CGCS).values[0]
    lonlat = shapely.segmentize(lonlat, 1e-4)
    expected_m2 = sum(abs(GEOD.geometry_area_perimeter(p)[0]) for p in shapely.get_parts(lonlat))
    assert z.areas.sum() == pytest.approx(expected_m2, rel=1e-6)


def test_zonal_classes_real_boundary_geographic_grid(anju):
    b = anju
    geom = b.geometry.values[0]
    res = 0.01
    xmin, ymin, xmax, ymax = geom.bounds
    t = Affine(res, 0, math.floor(xmin / res) * res, 0, -res, math.ceil(ymax / res) * res)
    w = int(math.ceil((xmax - t.c) / res)) + 1
    h = int(math.ceil((t.f - ymin) / res)) + 1
    rng = np.random.default_rng(11)
    values = rng.integers(1, 4, size=(h, w)).astype(np.int16)
    z = R.zonal_classes(R.Grid(values, t, CGCS, -1), b)
    expected = brute_force_classes(values, t, geom, z.classes)
    np.testing.assert_allclose(z.pixels[0], [expected[c] for c in z.classes], rtol=1e-9)
    # total ellipsoidal area equals the boundary's geodesic area (1269.568 km², cnmaps csv)
    assert z.areas.sum() / 1e6 == pytest.approx(1269.568, abs=0.05)


def test_zonal_classes_two_polygons_and_nodata():
    t = Affine(10, 0, 500_000, 0, -10, 3_370_100)
    values = np.array([[1, 1, 2, 2], [1, 0, 2, 2], [3, 3, 3, 0]], dtype=np.uint8)
    polys = gpd.GeoDataFrame(
        {"name": ["a", "b"]},
        geometry=[shapely.box(500_005, 3_370_070, 500_025, 3_370_100),  # 2×3 px, halves at x
                  shapely.box(500_000, 3_370_070, 500_040, 3_370_080)],  # bottom row
        crs=GK105, index=["a", "b"])
    z = R.zonal_classes(R.Grid(values, t, GK105, 0), polys)
    frame = z.to_frame()
    # polygon a: cols 0.5..2.5, rows 0..3 -> row0: 0.5 of 1, 1 of 1, 0.5 of 2; row1: 0.5 of 1,
    # 1 of nodata, 0.5 of 2; row2: 0.5+1+0.5 of 3
    assert z.pixels[0].tolist() == pytest.approx([2.0, 1.0, 2.0])
    assert frame.loc["b"].tolist() == pytest.approx(list(z.areas[1]))
    assert z.pixels[1].tolist() == pytest.approx([0.0, 0.0, 3.0])
    assert z.nodata_m2[0] > 0 and z.nodata_m2[1] > 0


def test_zonal_stats_mean_weights_by_covered_area():
    t = Affine(10, 0, 500_000, 0, -10, 3_370_020)
    dem = np.array([[100.0, 200.0], [300.0, 400.0]])
    poly = shapely.box(500_000, 3_370_010, 500_015, 3_370_020)  # all of px(0,0), half of (0,1)
    st = R.zonal_stats(R.Grid(dem, t, GK105), np.array([poly], dtype=object))[0]
    assert st["mean"] == pytest.approx((100 * 1.0 + 200 * 0.5) / 1.5, rel=1e-6)
    assert (st["min"], st["max"]) == (100.0, 200.0)


# ---------------------------------------------------------------------------- slope classes


@pytest.mark.parametrize(("theta", "cls"), [(1.0, 0), (4.0, 1), (10.0, 2), (20.0, 3), (31.0, 4)])
def test_area_by_slope_class_on_planes(theta, cls):
    t = Affine(20, 0, 499_000, 0, -20, 3_371_000)
    h = w = 80
    cols, rows = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    z = 300 + math.tan(math.radians(theta)) * (t.c + t.a * cols - 499_000)
    field = gpd.GeoDataFrame(geometry=[shapely.box(499_210.5, 3_369_700.3, 500_111, 3_370_633)],
                             crs=GK105)
    sc = R.area_by_slope_class(R.Grid(z, t, GK105), field)
    expected = abs(GEOD.geometry_area_perimeter(shapely.segmentize(
        field.to_crs(CGCS).geometry.values[0], 1e-4))[0])
    assert sc.areas_m2[cls] == pytest.approx(expected, rel=1e-6)
    assert sum(sc.areas_m2) == pytest.approx(expected, rel=1e-6)
    assert sc.above(25.0) == (pytest.approx(expected, rel=1e-6) if cls == 4 else 0.0)


def test_area_by_slope_class_with_landcover_mask():
    t = Affine(20, 0, 499_000, 0, -20, 3_371_000)
    h, w = 10, 10
    cols = np.arange(w)[None, :] * np.ones((h, 1))
    z = 300 + np.where(cols < 5, 0.0, math.tan(math.radians(30)) * 20 * (cols - 5))
    lc = np.full((h, w), 3, dtype=np.uint8)
    lc[:, 7:] = 1
    sc = R.area_by_slope_class(R.Grid(z, t, GK105), mask=(R.Grid(lc, t, GK105, 0), [3]))
    pa = R.pixel_areas(t, (h, w), GK105)
    slope = R.slope_degrees(R.Grid(z, t, GK105))
    exp_steep = pa[(lc == 3) & (slope > 25)].sum()
    assert sc.above(25.0) == pytest.approx(exp_steep, rel=1e-12)
    assert sc.total_m2 == pytest.approx(pa[lc == 3].sum(), rel=1e-12)


# ---------------------------------------------------------------------------- import


def write_tif(path, data, transform, crs, nodata=None):
    with rasterio.open(path, "w", driver="GTiff", height=data.shape[0], width=data.shape[1],
                       count=1, dtype=data.dtype.name, transform=transform, crs=crs,
                       nodata=nodata) as ds:
        ds.write(data, 1)


def test_import_raster_stores_coverage_inside_workspace(tmp_path):
    ws = tmp_path / "anju.gpkg"
    src = tmp_path / "lc.tif"
    data = np.tile(np.array([1, 2, 3, 4, 5, 6, 0], dtype=np.uint8), (300, 50))[:, :300]
    t = Affine(1 / 1200, 0, 105.1, 0, -1 / 1200, 30.5)
    write_tif(src, data, t, "EPSG:4490", nodata=0)
    info = R.import_raster(ws, "landcover", src, name="lc2022")
    assert Workspace.open(ws).meta["rasters"][0]["path"] == "gpkg:lc2022"
    assert info.path == f"GPKG:{ws.resolve()}:lc2022"
    assert not (tmp_path / "anju.gpkg.rasters").exists()  # nothing beside the file
    with closing(sqlite3.connect(ws)) as con:
        assert con.execute("SELECT data_type, identifier FROM gpkg_contents WHERE "
                           "table_name='lc2022'").fetchone() == ("2d-gridded-coverage",
                                                                 "土地覆盖（lc2022）")
        assert con.execute("PRAGMA user_version").fetchone()[0] == 10200
    with rasterio.open(info.path) as ds:
        np.testing.assert_array_equal(ds.read(1), data)  # lossless (UInt16 PNG tiles)
        assert ds.crs.to_epsg() == 4490 and ds.nodata == 0
        assert ds.shape == data.shape
        assert np.allclose(tuple(ds.transform)[:6], tuple(t)[:6], rtol=0, atol=1e-12)
    assert info.values == [1, 2, 3, 4, 5, 6] and info.crs == "EPSG:4490"
    assert info.sha256 == hashlib.sha256(src.read_bytes()).hexdigest()
    listed = R.list_rasters(ws)
    assert [r.name for r in listed] == ["lc2022"] and listed[0].path == info.path
    # re-import under the same name replaces, a DEM adds (float32 coverage, TIFF tiles)
    dem = (300 + np.arange(300 * 300, dtype=np.float32).reshape(300, 300) / 1000)
    write_tif(tmp_path / "dem.tif", dem, t, "EPSG:4490")
    R.import_raster(ws, "dem", tmp_path / "dem.tif")
    R.import_raster(ws, "landcover", src, name="lc2022")
    assert sorted((r.name, r.kind) for r in R.list_rasters(ws)) == [
        ("dem", "dem"), ("lc2022", "landcover")]
    assert R.raster_of_kind(ws, "dem").name == "dem"
    g = R.read_grid(R.raster_of_kind(ws, "dem").path)
    np.testing.assert_array_equal(g.data, dem)
    with closing(sqlite3.connect(ws)) as con:
        assert con.execute("SELECT count(*) FROM gpkg_contents WHERE "
                           "table_name='lc2022'").fetchone()[0] == 1


def test_side_folder_rasters_move_into_the_workspace(tmp_path, run_cli):
    """An older workspace kept rasters in ``WS.gpkg.rasters/``: ``ecogis migrate`` (or any
    write) moves them into the GeoPackage and removes the folder."""
    ws_path = tmp_path / "old.gpkg"
    Workspace.open(ws_path, create=True)
    side = tmp_path / "old.gpkg.rasters"
    side.mkdir()
    data = np.tile(np.array([1, 2, 3, 0], dtype=np.uint8), (200, 50))
    t = Affine(1 / 1200, 0, 105.1, 0, -1 / 1200, 30.5)
    write_tif(side / "landcover.tif", data, t, "EPSG:4490", nodata=0)
    dem = 300 + np.arange(200 * 200, dtype=np.float32).reshape(200, 200) / 100
    write_tif(side / "dem.tif", dem, t, "EPSG:4490")
    rows = []
    for kind, arr in (("landcover", data), ("dem", dem)):
        rows.append({"name": kind, "kind": kind, "path": f"{kind}.tif", "crs": "EPSG:4490",
                     "width": 200, "height": 200, "res": [1 / 1200, 1 / 1200],
                     "bounds": [105.1, 30.5 - 200 / 1200, 105.1 + 200 / 1200, 30.5],
                     "lonlat_bounds": [105.1, 30.5 - 200 / 1200, 105.1 + 200 / 1200, 30.5],
                     "dtype": arr.dtype.name, "nodata": 0 if kind == "landcover" else None,
                     "source": f"{kind}.tif", "sha256": "", "imported_at": "", "values": []})
    with closing(sqlite3.connect(ws_path)) as con, con:  # the old registry, written directly
        con.execute("INSERT INTO ecogis_meta (key, value) VALUES ('rasters', ?)",
                    (json.dumps(rows),))
    assert Path(R.list_rasters(ws_path)[0].path) == side / "landcover.tif"
    rc, out, err = run_cli("migrate", ws_path, "--format", "json")
    assert rc == 0, err
    doc = json.loads(out)
    assert sorted(doc["rasters_moved"]) == ["dem", "landcover"]
    assert not side.exists()
    got = {r.name: r for r in R.list_rasters(ws_path)}
    assert got["landcover"].path.startswith("GPKG:")
    np.testing.assert_array_equal(R.read_grid(got["landcover"].path).data, data)
    np.testing.assert_array_equal(R.read_grid(got["dem"].path).data, dem)
    assert R.read_grid(got["landcover"].path).nodata == 0


@pytest.mark.parametrize(("kind", "data", "crs", "err", "match"), [
    ("landcover", np.full((20, 20), 9, np.uint8), "EPSG:4490", InputError, "not classes"),
    ("landcover", np.full((20, 20), 1.5, np.float32), "EPSG:4490", InputError, "integer"),
    ("dem", np.full((20, 20), 12000, np.float32), "EPSG:4490", InputError, "outside"),
    ("dem", np.full((20, 20), 300, np.float32), None, CRSError, "no CRS"),
    ("dem", np.full((20, 20), 300, np.float32), "EPSG:4544", CRSError, "lon/lat"),
    ("slope", np.full((20, 20), 300, np.float32), "EPSG:4490", InputError, "unknown raster kind"),
])
def test_import_raster_refuses_bad_rasters(tmp_path, kind, data, crs, err, match):
    _check_refused(tmp_path, kind, data, crs, err, match,
                   Affine(0.001, 0, 105.1, 0, -0.001, 30.5))


def test_dem_in_web_mercator_is_refused(tmp_path):
    """Slope needs ground pixel sizes: a Web Mercator DEM (cos φ off) is refused with the fix."""
    from pyproj import Transformer

    x, y = Transformer.from_crs(4490, 3857, always_xy=True).transform(105.1, 30.5)
    _check_refused(tmp_path, "dem", np.full((20, 20), 300, np.float32), "EPSG:3857", CRSError,
                   "distort slopes.*gdalwarp", Affine(90, 0, x, 0, -90, y))


def _check_refused(tmp_path, kind, data, crs, err, match, transform):
    src = tmp_path / "bad.tif"
    write_tif(src, data, transform, crs)
    ws = Workspace.open(tmp_path / "ws.gpkg", create=True)
    with pytest.raises(err, match=match) as info:
        R.import_raster(ws, kind, src)
    assert str(src) in str(info.value)
    assert R.list_rasters(ws) == []
    assert gpkg.raster_tables(ws.path) == []


# ---------------------------------------------------------------------------- demo rasters


def test_demo_rasters_are_deterministic_and_tuned(tmp_path, anju):
    b = anju
    p1 = R.make_demo_rasters(b, tmp_path / "a", seed=42)
    p2 = R.make_demo_rasters(b, tmp_path / "b", seed=42)
    p3 = R.make_demo_rasters(b, tmp_path / "c", seed=43)
    for k in ("dem", "landcover"):
        assert p1[k].read_bytes() == p2[k].read_bytes()
        assert p1[k].read_bytes() != p3[k].read_bytes()
    dem = R.read_grid(p1["dem"])
    assert dem.crs.to_epsg() == 4490
    assert float(dem.data.min()) >= 250.0 and float(dem.data.max()) <= 550.0
    z = R.zonal_classes(p1["landcover"], b)
    shares = dict(zip(z.classes, 100 * z.areas[0] / z.areas[0].sum(), strict=True))
    assert shares[1] == pytest.approx(31.3, abs=0.005)  # forest
    assert set(shares) == {1, 2, 3, 4, 5, 6}
    assert z.areas.sum() / 1e6 == pytest.approx(1269.568, abs=0.05)


def test_landcover_table_and_its_validation(tmp_path):
    table = R.load_landcover()
    assert {c.id: c.value for c in table.values()} == {
        "forest": 1, "grassland": 2, "cropland": 3, "water": 4, "built": 5, "other": 6}
    assert R.class_values(["forest", "grassland"]) == [1, 2]
    for n, (body, match) in enumerate([
        ('[classes.a]\nvalue = 1\nname_zh = "甲"\n[classes.b]\nvalue = 1\nname_zh = "乙"\n',
         "share value"),
        ('[classes.a]\nvalue = 0\nname_zh = "甲"\n', "1-254"),
        ('[classes.a]\nvalue = 3\nname_zh = "甲"\nshade = "x"\n', "unknown keys"),
        ('[classes.a]\nvalue = 3\n', "name_zh"),
    ]):
        bad = tmp_path / f"lc{n}.toml"  # a new file each time: the loader caches by mtime
        bad.write_text(body, encoding="utf-8")
        with pytest.raises(InputError, match=match) as info:
            R.load_landcover(bad)
        assert str(bad) in str(info.value)
