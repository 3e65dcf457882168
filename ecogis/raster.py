"""Rasters of a workspace: land cover and DEMs, exact zonal statistics, slope, demo rasters.

Areas are square metres on the CGCS2000 ellipsoid. A pixel's area is computed, not assumed:

* geographic raster (lon/lat degrees): the exact area of the ellipsoidal quadrangle bounded by
  the pixel's two meridians and two parallels,
  ``a²(1−e²)·Δλ·[F(φ₂) − F(φ₁)]`` with
  ``F(φ) = sinφ / (2(1 − e²sin²φ)) + ln((1 + e·sinφ)/(1 − e·sinφ)) / (4e)``;
* projected raster (e.g. a Gauss-Krüger zone): the nominal pixel area divided by the
  projection's areal scale at the pixel centre (``pyproj.Proj.get_factors``).

Zonal statistics use exact fractional coverage: pixels whose box the polygon boundary crosses
get ``area(pixel box ∩ polygon) / area(pixel box)`` (shapely, tile by tile), the other pixels are
fully inside or fully outside and are decided by their centre (``rasterio.features.rasterize``).

Slope is in degrees (Zevenbergen-Thorne central differences, ``numpy.gradient``; one-sided at
the raster edge). On a geographic DEM the east-west pixel size of a row is ``N(φ)·cosφ·Δλ`` and
the north-south spacing is the meridian arc between row centres (pyproj.Geod on CGCS2000), where
``N`` is the prime-vertical radius of curvature; on a projected DEM the pixel size comes from the
transform.

Rasters imported into a workspace ``W.gpkg`` are stored INSIDE it as GeoPackage 2D gridded
coverages (table ``<name>``: DEM float32 in TIFF tiles, land cover UInt16 in PNG tiles; see
:func:`ecogis.gpkg.write_raster`), read back by GDAL/rasterio as ``GPKG:W.gpkg:<name>`` and
listed by QGIS, and registered in the workspace metadata (key ``rasters``, one record per
raster, ``path`` = ``gpkg:<name>``), all in one atomic workspace write. Older workspaces kept
them beside the file in ``W.gpkg.rasters/<name>.tif``; those are moved in on the next write
(or ``ecogis migrate``) and the folder removed.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import math
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import rasterio.features
import rasterio.shutil
import rasterio.windows
import shapely
from affine import Affine
from pyproj import CRS, Proj, Transformer
from rasterio.io import MemoryFile

from ecogis import gpkg
from ecogis.crs import CGCS2000, CGCS2000_ELLIPSOID, check_crs, crs_label, gk_zone_of, to_crs
from ecogis.data import check_keys, data_path, read_toml_cached
from ecogis.errors import CRSError, DataFileError, InputError
from ecogis.measure import GEOD as MEASURE_GEOD

#: raster kinds a workspace accepts
RASTER_KINDS = ("landcover", "dem")

A = CGCS2000_ELLIPSOID["a"]
F = 1.0 / CGCS2000_ELLIPSOID["rf"]
E2 = F * (2.0 - F)
E = math.sqrt(E2)
GEOD = MEASURE_GEOD  # the one CGCS2000 Geod of ecogis.measure

#: 坡度分级 of 第三次全国国土调查 (TD/T 1055-2019): upper bounds in degrees, inclusive
SLOPE_BREAKS = (2.0, 6.0, 15.0, 25.0)
SLOPE_CLASS_LABELS = ("≤2°", "2–6°", "6–15°", "15–25°", ">25°")

#: plausible elevations of a DEM in metres (China: Turpan −154 m to Everest 8849 m)
DEM_RANGE = (-500.0, 9000.0)


class RasterError(InputError):
    """A raster that cannot be imported or used (wrong kind, CRS, values or grid)."""


# --------------------------------------------------------------------------------------------
# land-cover class table


@dataclass(frozen=True)
class LandcoverClass:
    """One land-cover class: its id, pixel value, names and colour."""

    id: str
    value: int
    name_zh: str
    name_en: str = ""
    color: str = "#999999"
    note: str = ""


_LC_KEYS = {"value", "name_zh", "name_en", "color", "note"}


def load_landcover(path: str | os.PathLike | None = None) -> dict[str, LandcoverClass]:
    """Load the land-cover class table (default ``layers/landcover.toml``), keyed by class id."""
    p = Path(path) if path is not None else data_path("landcover.toml")
    raw = read_toml_cached(p)
    unknown_top = set(raw) - {"classes"}
    if unknown_top:
        raise DataFileError(f"unknown top-level keys {sorted(unknown_top)}", file=str(p),
                            fix="only [classes.ID] tables are allowed")
    out: dict[str, LandcoverClass] = {}
    seen: dict[int, str] = {}
    for cid, spec in raw.get("classes", {}).items():
        check_keys(spec, _LC_KEYS, f"class {cid!r}", p)
        value = spec.get("value")
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 254:
            raise DataFileError(f"class {cid!r}: value {value!r} is not an integer 1-254",
                                file=str(p), fix="give each class a pixel value 1-254")
        if value in seen:
            raise DataFileError(f"classes {seen[value]!r} and {cid!r} share value {value}",
                                file=str(p), fix="give each class its own value")
        if "name_zh" not in spec:
            raise DataFileError(f"class {cid!r} has no name_zh", file=str(p), fix="add name_zh")
        seen[value] = cid
        out[cid] = LandcoverClass(id=cid, value=value, name_zh=spec["name_zh"],
                                  name_en=spec.get("name_en", ""),
                                  color=spec.get("color", "#999999"), note=spec.get("note", ""))
    return out


def class_values(ids: Iterable[str], table: dict[str, LandcoverClass] | None = None) -> list[int]:
    """Return the pixel values of the land-cover classes ``ids`` (ids of landcover.toml)."""
    table = table if table is not None else load_landcover()
    out = []
    for cid in ids:
        if cid not in table:
            raise DataFileError(f"unknown land-cover class {cid!r}",
                                file=str(data_path("landcover.toml")),
                                fix=f"use one of {', '.join(table)}")
        out.append(table[cid].value)
    return out


# --------------------------------------------------------------------------------------------
# grids, pixel sizes and pixel areas


@dataclass
class Grid:
    """A single raster band in memory: values, affine transform, CRS and nodata value."""

    data: np.ndarray
    transform: Affine
    crs: CRS
    nodata: float | int | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return self.data.shape  # type: ignore[return-value]

    def valid(self) -> np.ndarray:
        """Boolean mask of pixels holding data (not nodata, not NaN)."""
        d = self.data
        mask = np.ones(d.shape, bool)
        if self.nodata is not None and not (isinstance(self.nodata, float)
                                            and math.isnan(self.nodata)):
            mask &= d != self.nodata
        if np.issubdtype(d.dtype, np.floating):
            mask &= ~np.isnan(d)
        return mask


def read_grid(path: str | os.PathLike, band: int = 1,
              window: rasterio.windows.Window | None = None) -> Grid:
    """Read one band of a raster file (optionally a window) as a :class:`Grid`."""
    try:
        with rasterio.open(path) as src:
            if src.crs is None:
                raise CRSError("the raster has no CRS", file=str(path),
                               fix="assign one with gdal_edit.py -a_srs EPSG:4490 (or EPSG:45xx)")
            data = src.read(band, window=window)
            transform = src.window_transform(window) if window is not None else src.transform
            return Grid(data, transform, CRS.from_user_input(src.crs), src.nodata)
    except rasterio.errors.RasterioIOError as exc:
        raise RasterError(f"cannot read raster: {exc}", file=str(path),
                          fix="pass a GeoTIFF file") from None


def as_grid(source: Grid | str | os.PathLike) -> Grid:
    """Return ``source`` as a :class:`Grid` (reads a path)."""
    return source if isinstance(source, Grid) else read_grid(source)


def _check_north_up(transform: Affine) -> None:
    if transform.b != 0 or transform.d != 0 or transform.a <= 0 or transform.e >= 0:
        raise RasterError(
            f"the raster grid is rotated or flipped (transform {tuple(transform)[:6]})",
            fix="warp it to a north-up grid first (gdalwarp)")


def radii_of_curvature(lat_deg) -> tuple[np.ndarray, np.ndarray]:
    """Return the meridional and prime-vertical radii of curvature ``(M, N)`` in metres.

    ``M = a(1−e²)/(1−e²sin²φ)^{3/2}``, ``N = a/√(1−e²sin²φ)`` on the CGCS2000 ellipsoid.
    """
    s = np.sin(np.radians(np.asarray(lat_deg, dtype=float)))
    w = 1.0 - E2 * s * s
    return A * (1.0 - E2) / w**1.5, A / np.sqrt(w)


def _authalic_f(lat_deg) -> np.ndarray:
    s = np.sin(np.radians(np.asarray(lat_deg, dtype=float)))
    return s / (2.0 * (1.0 - E2 * s * s)) + np.log((1.0 + E * s) / (1.0 - E * s)) / (4.0 * E)


def quadrangle_area(lon0: float, lat0, lon1: float, lat1) -> np.ndarray:
    """Return the area in m² of the ellipsoidal quadrangle between two meridians and parallels."""
    dlam = abs(math.radians(lon1 - lon0))
    return A * A * (1.0 - E2) * dlam * np.abs(_authalic_f(lat1) - _authalic_f(lat0))


def _row_lats(transform: Affine, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Latitudes of the top edges and centres of each row (degrees)."""
    rows = np.arange(height, dtype=float)
    top = transform.f + transform.e * rows
    return top, top + transform.e / 2.0


def pixel_areas(transform: Affine, shape: tuple[int, int], crs: CRS) -> np.ndarray:
    """Return each pixel's area in m² on the CGCS2000 ellipsoid (array of ``shape``).

    Geographic grids use the exact quadrangle area per row; projected grids divide the nominal
    pixel area by the areal scale factor of the projection at each pixel centre.
    """
    _check_north_up(transform)
    h, w = shape
    crs = to_crs(crs)
    if crs.is_geographic:
        top, _ = _row_lats(transform, h)
        row_area = quadrangle_area(0.0, top, transform.a, top + transform.e)
        return np.broadcast_to(row_area[:, None], (h, w)).copy()
    nominal = abs(transform.a * transform.e)
    cols = np.arange(w, dtype=float) + 0.5
    out = np.empty((h, w), dtype=float)
    to_ll = Transformer.from_crs(crs, CGCS2000, always_xy=True)
    proj = Proj(crs)
    step = max(1, 200_000 // max(w, 1))
    for r0 in range(0, h, step):
        rr = np.arange(r0, min(h, r0 + step), dtype=float) + 0.5
        cc, rg = np.meshgrid(cols, rr)
        x = transform.c + transform.a * cc
        y = transform.f + transform.e * rg
        lon, lat = to_ll.transform(x, y)
        factors = proj.get_factors(lon, lat, radians=False)
        out[r0:r0 + len(rr)] = nominal / np.asarray(factors.areal_scale)
    return out


def pixel_sizes(transform: Affine, height: int, crs: CRS) -> tuple[np.ndarray, np.ndarray]:
    """Return per-row east-west pixel size and north-south row-centre coordinates, in metres.

    For a geographic grid ``dx[r] = N(φ_r)·cosφ_r·Δλ`` (CGCS2000 prime-vertical radius at the
    row-centre latitude) and ``y[r]`` is the meridian arc length from the first row centre; for
    a projected grid ``dx`` is the transform's pixel width and ``y`` the row-centre northing.
    """
    _check_north_up(transform)
    crs = to_crs(crs)
    _, lat_c = _row_lats(transform, height)
    if crs.is_geographic:
        _, n = radii_of_curvature(lat_c)
        dx = n * np.cos(np.radians(lat_c)) * math.radians(transform.a)
        lon = np.zeros_like(lat_c)
        _, _, dist = GEOD.inv(lon, np.full_like(lat_c, lat_c[0]), lon, lat_c)
        y = -np.asarray(dist, dtype=float)  # rows go south
        return dx, y
    return np.full(height, float(transform.a)), lat_c.astype(float)


# --------------------------------------------------------------------------------------------
# slope


def slope_degrees(dem: Grid | str | os.PathLike) -> np.ndarray:
    """Return the slope of a DEM in degrees (NaN where the DEM has no data).

    Central differences (Zevenbergen-Thorne) via ``numpy.gradient``, one-sided at the raster
    edge; elevations in metres. Geographic DEMs use ellipsoid-correct pixel sizes per row
    (:func:`pixel_sizes`), projected DEMs the transform's pixel size.
    """
    g = as_grid(dem)
    z = g.data.astype(float)
    valid = g.valid()
    z[~valid] = np.nan
    h, w = z.shape
    if h < 2 or w < 2:
        raise RasterError(f"a DEM of {h}×{w} pixels is too small for a slope",
                          fix="use a DEM of at least 2×2 pixels")
    dx, y = pixel_sizes(g.transform, h, g.crs)
    gx = np.gradient(z, axis=1) / dx[:, None]
    gy = np.gradient(z, y, axis=0)
    out = np.degrees(np.arctan(np.hypot(gx, gy)))
    out[~valid] = np.nan
    return out


def slope_class_index(slope_deg: np.ndarray, breaks: Sequence[float] = SLOPE_BREAKS) -> np.ndarray:
    """Return the 0-based slope class of each pixel (-1 where the slope is NaN).

    Class ``i`` holds slopes in ``(breaks[i-1], breaks[i]]``: ≤2°, 2-6°, 6-15°, 15-25°, >25°.
    """
    idx = np.digitize(slope_deg, np.asarray(breaks, dtype=float), right=True)
    return np.where(np.isnan(slope_deg), -1, idx)


# --------------------------------------------------------------------------------------------
# exact fractional coverage


def _polygonal(geoms) -> shapely.Geometry | None:
    arr = np.atleast_1d(np.asarray(geoms, dtype=object))
    arr = arr[~shapely.is_missing(arr)]
    if len(arr) == 0:
        return None
    parts = shapely.get_parts(arr)
    parts = parts[np.isin(shapely.get_type_id(parts), (3, 6))]  # Polygon, MultiPolygon
    parts = parts[~shapely.is_empty(parts)]
    if len(parts) == 0:
        return None
    u = shapely.union_all(parts)
    return None if u.is_empty else u


def _dilate(mask: np.ndarray) -> np.ndarray:
    out = mask.copy()
    out[1:, :] |= mask[:-1, :]
    out[:-1, :] |= mask[1:, :]
    tmp = out.copy()
    out[:, 1:] |= tmp[:, :-1]
    out[:, :-1] |= tmp[:, 1:]
    return out


def coverage_fraction(geoms, transform: Affine, shape: tuple[int, int], *,
                      tile: int = 64) -> np.ndarray:
    """Return the fraction (0-1) of each pixel's box covered by the union of ``geoms``.

    ``geoms`` (a geometry, an array of them, or a GeoSeries) must be in the raster's CRS; only
    their polygonal parts count and overlaps count once. Pixels crossed by the boundary get the
    exact ``area(box ∩ union) / area(box)``; the others are decided by their centre.
    """
    _check_north_up(transform)
    h, w = shape
    out = np.zeros((h, w), dtype=float)
    geom = _polygonal(getattr(geoms, "values", geoms))
    if geom is None or h == 0 or w == 0:
        return out
    inside = rasterio.features.rasterize([(geom, 1)], out_shape=(h, w), transform=transform,
                                         fill=0, all_touched=False, dtype="uint8")
    out[inside == 1] = 1.0
    touched = rasterio.features.rasterize([(shapely.boundary(geom), 1)], out_shape=(h, w),
                                          transform=transform, fill=0, all_touched=True,
                                          dtype="uint8")
    cand = _dilate(touched.astype(bool))
    rows, cols = np.nonzero(cand)
    if len(rows) == 0:
        return out
    a, e, c0, f0 = transform.a, transform.e, transform.c, transform.f
    xmin = c0 + a * cols
    ymax = f0 + e * rows
    boxes = shapely.box(xmin, ymax + e, xmin + a, ymax)
    pix_area = abs(a * e)
    parts = shapely.get_parts(geom)
    tree = shapely.STRtree(parts)
    ntx = (w + tile - 1) // tile
    tid = (rows // tile) * ntx + cols // tile
    order = np.argsort(tid, kind="stable")
    tid_sorted = tid[order]
    starts = np.flatnonzero(np.r_[True, tid_sorted[1:] != tid_sorted[:-1]])
    ends = np.r_[starts[1:], len(order)]
    frac = np.zeros(len(rows), dtype=float)
    for s, t in zip(starts, ends, strict=True):
        sel = order[s:t]
        tr, tc = divmod(int(tid_sorted[s]), ntx)
        r0, r1 = tr * tile, min(h, (tr + 1) * tile)
        q0, q1 = tc * tile, min(w, (tc + 1) * tile)
        tbox = shapely.box(c0 + a * q0, f0 + e * r1, c0 + a * q1, f0 + e * r0)
        hit = tree.query(tbox, predicate="intersects")
        if len(hit) == 0:
            continue
        piece = shapely.intersection(
            parts[hit[0]] if len(hit) == 1 else shapely.multipolygons(parts[hit]), tbox)
        if piece.is_empty:
            continue
        frac[sel] = shapely.area(shapely.intersection(boxes[sel], piece)) / pix_area
    out[rows, cols] = np.clip(frac, 0.0, 1.0)
    return out


def _shift(transform: Affine, c0: int, r0: int) -> Affine:
    """The transform of the window whose top-left pixel is (row ``r0``, column ``c0``)."""
    return Affine(transform.a, transform.b, transform.c + transform.a * c0 + transform.b * r0,
                  transform.d, transform.e, transform.f + transform.d * c0 + transform.e * r0)


def _window_of(bounds, transform: Affine, shape: tuple[int, int]):
    """Integer pixel window ``(r0, r1, c0, c1)`` covering ``bounds``, clipped to the grid."""
    h, w = shape
    xmin, ymin, xmax, ymax = bounds
    c0 = math.floor((xmin - transform.c) / transform.a) - 1
    c1 = math.ceil((xmax - transform.c) / transform.a) + 1
    r0 = math.floor((ymax - transform.f) / transform.e) - 1
    r1 = math.ceil((ymin - transform.f) / transform.e) + 1
    return max(0, r0), min(h, r1), max(0, c0), min(w, c1)


def _to_raster_crs(geoms, crs: CRS) -> np.ndarray:
    """Geometries of a GeoDataFrame/GeoSeries reprojected to ``crs`` (an array)."""
    if hasattr(geoms, "to_crs"):
        if geoms.crs is None:
            raise CRSError("the polygon layer has no CRS", fix="import it into the workspace first")
        gs = geoms.geometry if hasattr(geoms, "geometry") else geoms
        return np.asarray(gs.to_crs(crs).values, dtype=object)
    return np.atleast_1d(np.asarray(geoms, dtype=object))


def weights_in(geoms, grid: Grid) -> np.ndarray:
    """Return the ellipsoidal area in m² of each pixel of ``grid`` inside ``geoms``.

    ``geoms`` is a GeoDataFrame/GeoSeries (reprojected to the raster CRS) or geometries already
    in the raster CRS; their union counts (overlaps once).
    """
    g = _to_raster_crs(geoms, grid.crs)
    u = _polygonal(g)
    out = np.zeros(grid.shape, dtype=float)
    if u is None:
        return out
    r0, r1, c0, c1 = _window_of(u.bounds, grid.transform, grid.shape)
    if r1 <= r0 or c1 <= c0:
        return out
    t = _shift(grid.transform, c0, r0)
    frac = coverage_fraction(u, t, (r1 - r0, c1 - c0))
    out[r0:r1, c0:c1] = frac * pixel_areas(t, (r1 - r0, c1 - c0), grid.crs)
    return out


# --------------------------------------------------------------------------------------------
# zonal statistics


@dataclass
class ZonalClasses:
    """Area per raster class inside each polygon, m² on the ellipsoid.

    ``areas[i, j]`` is the area of class ``classes[j]`` inside polygon ``i``; ``pixels`` holds the
    same as fractional pixel counts; ``nodata_m2[i]`` the area of nodata pixels inside polygon ``i``.
    """

    index: list
    classes: list[int]
    areas: np.ndarray
    pixels: np.ndarray
    nodata_m2: np.ndarray
    unit: str = "m2"
    method: str = "ellipsoidal"

    def to_frame(self):
        """Return the areas as a pandas DataFrame (rows = polygons, columns = class values)."""
        import pandas as pd

        return pd.DataFrame(self.areas, index=self.index, columns=self.classes)


def zonal_classes(raster: Grid | str | os.PathLike, polygons,
                  classes: Sequence[int] | None = None) -> ZonalClasses:
    """Return the ellipsoidal area in m² of each raster class inside each polygon.

    Exact fractional pixel coverage (see :func:`coverage_fraction`); each polygon on its own
    (overlapping polygons each get their full area). ``classes`` defaults to every value found.
    """
    g = as_grid(raster)
    geoms = _to_raster_crs(polygons, g.crs)
    index = list(polygons.index) if hasattr(polygons, "index") else list(range(len(geoms)))
    valid = g.valid()
    vals = g.data
    found = np.unique(vals[valid]).tolist() if classes is None else list(classes)
    lookup = {v: j for j, v in enumerate(found)}
    areas = np.zeros((len(geoms), len(found)))
    pixels = np.zeros_like(areas)
    nodata = np.zeros(len(geoms))
    for i, geom in enumerate(geoms):
        u = _polygonal(geom)
        if u is None:
            continue
        r0, r1, c0, c1 = _window_of(u.bounds, g.transform, g.shape)
        if r1 <= r0 or c1 <= c0:
            continue
        t = _shift(g.transform, c0, r0)
        frac = coverage_fraction(u, t, (r1 - r0, c1 - c0))
        parea = pixel_areas(t, frac.shape, g.crs)
        v = vals[r0:r1, c0:c1]
        ok = valid[r0:r1, c0:c1]
        nodata[i] = float(np.sum(frac[~ok] * parea[~ok]))
        for val, j in lookup.items():
            m = ok & (v == val)
            areas[i, j] = float(np.sum(frac[m] * parea[m]))
            pixels[i, j] = float(np.sum(frac[m]))
    return ZonalClasses(index=index, classes=[_plain_number(v) for v in found], areas=areas,
                        pixels=pixels, nodata_m2=nodata)


def _plain_number(v):
    return int(v) if float(v).is_integer() else float(v)


def zonal_stats(raster: Grid | str | os.PathLike, polygons) -> list[dict[str, float | None]]:
    """Return area-weighted mean, min, max (raster units) and covered area (m²) per polygon.

    The mean weights each pixel by its covered ellipsoidal area; min and max take the pixels
    that the polygon covers at all.
    """
    g = as_grid(raster)
    geoms = _to_raster_crs(polygons, g.crs)
    valid = g.valid()
    out = []
    for geom in geoms:
        row: dict[str, float | None] = {"mean": None, "min": None, "max": None, "area_m2": 0.0}
        u = _polygonal(geom)
        if u is not None:
            r0, r1, c0, c1 = _window_of(u.bounds, g.transform, g.shape)
            if r1 > r0 and c1 > c0:
                t = _shift(g.transform, c0, r0)
                wgt = coverage_fraction(u, t, (r1 - r0, c1 - c0)) * pixel_areas(
                    t, (r1 - r0, c1 - c0), g.crs)
                ok = valid[r0:r1, c0:c1] & (wgt > 0)
                if ok.any():
                    v = g.data[r0:r1, c0:c1][ok].astype(float)
                    ww = wgt[ok]
                    row = {"mean": float(np.sum(v * ww) / np.sum(ww)), "min": float(v.min()),
                           "max": float(v.max()), "area_m2": float(np.sum(ww))}
        out.append(row)
    return out


# --------------------------------------------------------------------------------------------
# land by slope class


@dataclass
class SlopeClasses:
    """Area of a polygon layer per slope class, m² on the ellipsoid (``nodata_m2``: no DEM)."""

    labels: tuple[str, ...]
    breaks: tuple[float, ...]
    areas_m2: list[float]
    nodata_m2: float
    total_m2: float
    unit: str = "m2"
    method: str = "ellipsoidal"

    def rows(self) -> list[dict[str, Any]]:
        """One row per class: label, lower and upper bound (degrees), area m², share (%)."""
        lows = (0.0, *self.breaks)
        highs = (*self.breaks, 90.0)
        covered = self.total_m2 - self.nodata_m2
        return [{"slope_class": lab, "from_deg": lo, "to_deg": hi, "area_m2": a,
                 "share_pct": (100.0 * a / covered) if covered > 0 else None}
                for lab, lo, hi, a in zip(self.labels, lows, highs, self.areas_m2, strict=True)]

    def above(self, threshold_deg: float) -> float:
        """Area in m² of the classes whose lower bound is at least ``threshold_deg``."""
        lows = (0.0, *self.breaks)
        return float(sum(a for lo, a in zip(lows, self.areas_m2, strict=True) if lo >= threshold_deg))


def _match_grid(src: Grid, like: Grid) -> Grid:
    """``src`` on the grid of ``like`` (nearest neighbour; a no-op when the grids agree)."""
    same = (src.shape == like.shape and src.crs == like.crs
            and np.allclose(tuple(src.transform)[:6], tuple(like.transform)[:6], rtol=0,
                            atol=1e-12 * max(1.0, abs(like.transform.c))))
    if same:
        return src
    from rasterio.warp import Resampling, reproject

    nod = src.nodata if src.nodata is not None else 0
    dst = np.full(like.shape, nod, dtype=src.data.dtype)
    reproject(src.data, dst, src_transform=src.transform, src_crs=src.crs, src_nodata=nod,
              dst_transform=like.transform, dst_crs=like.crs, dst_nodata=nod,
              resampling=Resampling.nearest)
    return Grid(dst, like.transform, like.crs, nod)


def area_by_slope_class(dem: Grid | str | os.PathLike, polygons=None, *,
                        mask: tuple[Grid | str | os.PathLike, Sequence[int]] | None = None,
                        breaks: Sequence[float] = SLOPE_BREAKS,
                        labels: Sequence[str] = SLOPE_CLASS_LABELS) -> SlopeClasses:
    """Return the ellipsoidal area in m² of land per slope class (≤2, 2-6, 6-15, 15-25, >25°).

    The land is the union of ``polygons`` (any CRS; dissolved, exact fractional coverage of
    DEM pixels), or, when ``mask`` = ``(landcover raster, class values)`` is given, the pixels
    of those classes (resampled nearest-neighbour onto the DEM grid), restricted to
    ``polygons`` when both are given.
    """
    g = as_grid(dem)
    if polygons is None and mask is None:
        raise InputError("area_by_slope_class needs polygons or a land-cover mask",
                         fix="pass the cultivated-land layer or (landcover, classes)")
    if polygons is not None:
        wgt = weights_in(polygons, g)
    else:
        wgt = pixel_areas(g.transform, g.shape, g.crs)
    if mask is not None:
        lc = _match_grid(as_grid(mask[0]), g)
        wgt = wgt * (lc.valid() & np.isin(lc.data, np.asarray(list(mask[1]))))
    cls = slope_class_index(slope_degrees(g), breaks)
    n = len(breaks) + 1
    areas = [float(np.sum(wgt[cls == i])) for i in range(n)]
    nod = float(np.sum(wgt[cls < 0]))
    return SlopeClasses(labels=tuple(labels), breaks=tuple(float(b) for b in breaks),
                        areas_m2=areas, nodata_m2=nod, total_m2=float(np.sum(wgt)))


# --------------------------------------------------------------------------------------------
# workspace rasters


@dataclass
class RasterInfo:
    """A raster registered in a workspace: where it is stored and what it holds."""

    name: str
    kind: str
    path: str
    crs: str
    width: int
    height: int
    res: tuple[float, float]
    bounds: tuple[float, float, float, float]
    lonlat_bounds: tuple[float, float, float, float]
    dtype: str
    nodata: float | int | None
    source: str
    sha256: str
    imported_at: str
    synthetic: bool = False
    values: list[int] = field(default_factory=list)


def _workspace(ws, *, create: bool = False):
    """``ws`` as a :class:`ecogis.workspace.Workspace` (opens a path)."""
    from ecogis.workspace import Workspace

    if isinstance(ws, Workspace):
        return ws
    return Workspace.open(ws, create=create)


def rasters_dir(ws) -> Path:
    """Return the side folder older workspaces kept rasters in: ``<workspace>.rasters``."""
    p = Path(getattr(ws, "path", ws))
    return p.with_name(p.name + ".rasters")


def _info_from_meta(ws, d: dict) -> RasterInfo:
    d = dict(d)
    for k in ("res", "bounds", "lonlat_bounds"):
        d[k] = tuple(d[k])
    if str(d["path"]).startswith(_IN_GPKG):
        d["path"] = gpkg.raster_uri(getattr(ws, "path", ws), str(d["path"])[len(_IN_GPKG):])
    elif str(d["path"]).startswith("GPKG:"):  # in another GeoPackage (a PostGIS workspace's)
        pass
    else:
        p = Path(d["path"])
        d["path"] = str(p if p.is_absolute() else rasters_dir(ws) / p)
    known = set(RasterInfo.__dataclass_fields__)
    return RasterInfo(**{k: v for k, v in d.items() if k in known})


def list_rasters(ws) -> list[RasterInfo]:
    """Return the rasters registered in workspace ``ws`` (a Workspace or its path).

    The registry is the workspace metadata key ``rasters``: a list of :class:`RasterInfo`
    records whose ``path`` is ``gpkg:<table>`` (returned as the GDAL name
    ``GPKG:<workspace>:<table>``), or, in older workspaces, a file of ``<workspace>.rasters/``.
    """
    w = _workspace(ws)
    rows = w.meta.get("rasters") or []
    if not isinstance(rows, list):
        raise RasterError("the workspace's raster registry is malformed", file=str(w.path),
                          fix="re-import the rasters with `ecogis import`")
    return [_info_from_meta(w, d) for d in rows if isinstance(d, dict)]


def raster_of_kind(ws, kind: str) -> RasterInfo | None:
    """Return the most recently imported raster of ``kind`` in ``ws``, or None."""
    found = [r for r in list_rasters(ws) if r.kind == kind]
    return found[-1] if found else None


def _register(ws, info: RasterInfo) -> None:
    w = _workspace(ws, create=True)
    infos = [r for r in list_rasters(w) if r.name != info.name] + [info]
    base = rasters_dir(w)
    rows = []
    for r in infos:
        d = asdict(r)
        if str(r.path).startswith("GPKG:"):
            d["path"] = _IN_GPKG + r.name
        else:
            d["path"] = Path(r.path).name if Path(r.path).parent == base else r.path
        rows.append(d)
    w.set_meta(rasters=rows)


#: registry ``path`` prefix of a raster stored inside the workspace GeoPackage
_IN_GPKG = "gpkg:"


def _title(kind: str, name: str) -> str:
    zh = gpkg.RASTER_TITLES.get(kind, kind)
    return zh if name == kind else f"{zh}（{name}）"


def move_side_rasters(ws, side: Path) -> tuple[list[str], list[str]]:
    """Move the rasters an older workspace kept in ``side`` (``<ws>.rasters/``) into its
    GeoPackage; return (moved, left) raster names. Runs inside a workspace transaction."""
    moved, left = [], []
    infos = list_rasters(ws)
    for info in infos:
        if str(info.path).startswith("GPKG:"):
            continue
        p = Path(info.path)
        if not p.is_file():
            left.append(info.name)
            continue
        g = read_grid(p)
        ws.write_raster(info.name, g.data, g.transform, g.crs, g.nodata, kind=info.kind,
                        title=_title(info.kind, info.name))
        info.path = gpkg.raster_uri(ws.path, info.name)
        moved.append(info.name)
    if moved:
        _register_all(ws, infos)
    registered = {Path(r.path).name for r in infos if not str(r.path).startswith("GPKG:")}
    left += [f.name for f in side.iterdir() if f.name in registered and f.name not in left]
    return moved, left


def _register_all(ws, infos: list[RasterInfo]) -> None:
    rows = []
    for r in infos:
        d = asdict(r)
        d["path"] = (_IN_GPKG + r.name) if str(r.path).startswith("GPKG:") else r.path
        rows.append(d)
    ws.set_meta(rasters=rows)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_cog(path: str | os.PathLike, grid: Grid) -> Path:
    """Write ``grid`` as a DEFLATE-compressed Cloud-optimised GeoTIFF, atomically.

    The file is written beside ``path`` under a temporary name and renamed into place.
    """
    dst = Path(path)
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".tif", dir=dst.parent)
    os.close(fd)
    h, w = grid.shape
    profile = {"driver": "GTiff", "height": h, "width": w, "count": 1,
               "dtype": grid.data.dtype.name, "crs": grid.crs, "transform": grid.transform,
               "nodata": grid.nodata}
    try:
        with MemoryFile() as mem:
            with mem.open(**profile) as ds:
                ds.write(grid.data, 1)
            with mem.open() as ds:
                rasterio.shutil.copy(ds, tmp, driver="COG", COMPRESS="DEFLATE",
                                     OVERVIEWS="NONE", BLOCKSIZE=256)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dst)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return dst


def _check_values(kind: str, grid: Grid, file: str) -> list[int]:
    valid = grid.valid()
    if kind == "landcover":
        if not np.issubdtype(grid.data.dtype, np.integer):
            raise RasterError(f"a land-cover raster must hold integer classes, not {grid.data.dtype}",
                              file=file, fix="reclassify to the values of layers/landcover.toml")
        found = np.unique(grid.data[valid]).tolist()
        table = {c.value for c in load_landcover().values()}
        bad = sorted(set(found) - table)
        if bad:
            raise RasterError(
                f"land-cover values {bad[:10]} are not classes of layers/landcover.toml",
                file=file, fix=f"reclassify to {sorted(table)} or set them to the nodata value")
        return [int(v) for v in found]
    if kind == "dem":
        if not np.issubdtype(grid.data.dtype, np.number):
            raise RasterError("a DEM must be numeric", file=file, fix="pass elevations in metres")
        if valid.any():
            lo, hi = float(grid.data[valid].min()), float(grid.data[valid].max())
            if lo < DEM_RANGE[0] or hi > DEM_RANGE[1]:
                raise RasterError(
                    f"elevations {lo:g}..{hi:g} are outside {DEM_RANGE[0]:g}..{DEM_RANGE[1]:g} m",
                    file=file, fix="pass a DEM in metres, or set its nodata value")
        return []
    raise RasterError(f"unknown raster kind {kind!r}", file=file,
                      fix=f"use one of {', '.join(RASTER_KINDS)}")


def _safe_name(name: str) -> str:
    bad = set('/\\:*?"<>|') | {"\0"}
    if not name or name.startswith(".") or any(ch in bad for ch in name):
        raise RasterError(f"raster name {name!r} is not a plain file name",
                          fix="use letters, digits, '_' or '-'")
    return name


def import_raster(ws, kind: str, path: str | os.PathLike, name: str | None = None, *,
                  crs: CRS | int | str | None = None, synthetic: bool = False) -> RasterInfo:
    """Import a GeoTIFF land-cover or DEM raster into workspace ``ws``; return its record.

    The first band is checked (land-cover values against layers/landcover.toml, DEM elevations
    plausible in metres, CRS present and consistent with China) and stored inside the
    workspace as the 2D gridded coverage table ``<name>`` (atomic), registered in the
    workspace metadata.
    ``ws`` is a Workspace or the path of one (created when missing).
    ``crs`` overrides or supplies the raster's CRS.
    """
    if kind not in RASTER_KINDS:
        raise RasterError(f"unknown raster kind {kind!r}", file=str(path),
                          fix=f"use one of {', '.join(RASTER_KINDS)}")
    ws = _workspace(ws, create=True)
    src_path = Path(path)
    if not src_path.is_file():
        raise RasterError("file not found", file=str(path), fix="check the path")
    try:
        with rasterio.open(src_path) as src:
            data = src.read(1)
            src_crs = src.crs
            transform = src.transform
            nodata = src.nodata
    except rasterio.errors.RasterioIOError as exc:
        raise RasterError(f"cannot read raster: {exc}", file=str(path),
                          fix="pass a GeoTIFF") from None
    if crs is not None:
        rcrs = to_crs(crs)
    elif src_crs is None:
        raise CRSError("the raster has no CRS", file=str(path),
                       fix="pass --crs EPSG:4490 (or the Gauss-Krüger zone EPSG code)")
    else:
        rcrs = CRS.from_user_input(src_crs)
    _check_north_up(transform)
    h, w = data.shape
    bounds = (transform.c, transform.f + transform.e * h, transform.c + transform.a * w,
              transform.f)
    check_crs(rcrs, bounds, file=str(path))
    if kind == "dem" and not rcrs.is_geographic and gk_zone_of(rcrs) is None:
        # slope uses the pixel size: exact on the ellipsoid for lon/lat grids, and within the
        # GK scale factor (< 1.0014) in a CGCS2000 zone; other projections distort it
        raise CRSError(f"a DEM in {crs_label(rcrs)} would distort slopes (pixel sizes are not "
                       "ground distances there)", file=str(path),
                       fix="reproject the DEM to EPSG:4490 or a CGCS2000 Gauss-Krüger zone, "
                       "e.g. gdalwarp -t_srs EPSG:4544")
    grid = Grid(data, transform, rcrs, nodata)
    values = _check_values(kind, grid, str(path))
    name = _safe_name(name or src_path.stem)
    tr = Transformer.from_crs(rcrs, CGCS2000, always_xy=True)
    llb = tuple(float(v) for v in tr.transform_bounds(*bounds))
    info = RasterInfo(
        name=name, kind=kind, path=gpkg.raster_uri(ws.path, name), crs=crs_label(rcrs),
        width=w, height=h,
        res=(float(transform.a), float(-transform.e)), bounds=tuple(float(v) for v in bounds),
        lonlat_bounds=llb, dtype=data.dtype.name,
        nodata=None if nodata is None else _plain_number(nodata), source=src_path.name,
        sha256=_sha256(src_path), imported_at=getattr(ws, "fixed_time", None) or
        _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), synthetic=synthetic,
        values=values)
    with ws.transaction():  # the raster table and its registry row: one atomic write
        ws.write_raster(name, data, transform, rcrs, nodata, kind=kind, title=_title(kind, name))
        _register(ws, info)
    return info


# --------------------------------------------------------------------------------------------
# deterministic demo rasters


def _value_noise(rng: np.random.Generator, shape: tuple[int, int], cells: int) -> np.ndarray:
    """Smooth noise in [0, 1]: a ``cells``-wide random lattice, smoothstep-interpolated."""
    h, w = shape
    gh, gw = h // cells + 2, w // cells + 2
    lattice = rng.random((gh, gw))
    y = np.arange(h) / cells
    x = np.arange(w) / cells
    y0 = np.floor(y).astype(int)
    x0 = np.floor(x).astype(int)
    ty = y - y0
    tx = x - x0
    ty = ty * ty * (3.0 - 2.0 * ty)
    tx = tx * tx * (3.0 - 2.0 * tx)
    v00 = lattice[y0][:, x0]
    v01 = lattice[y0][:, x0 + 1]
    v10 = lattice[y0 + 1][:, x0]
    v11 = lattice[y0 + 1][:, x0 + 1]
    top = v00 + (v01 - v00) * tx[None, :]
    bot = v10 + (v11 - v10) * tx[None, :]
    return top + (bot - top) * ty[:, None]


def _pick(score: np.ndarray, free: np.ndarray, weight: np.ndarray, target_m2: float) -> np.ndarray:
    """Pixels of highest ``score`` among ``free`` whose ``weight`` sums closest to ``target_m2``."""
    cand = np.flatnonzero(free.ravel())
    order = cand[np.argsort(-score.ravel()[cand], kind="stable")]
    cum = np.cumsum(weight.ravel()[order])
    k = int(np.searchsorted(cum, target_m2))
    if k < len(cum) and k > 0 and abs(cum[k - 1] - target_m2) <= abs(cum[k] - target_m2):
        k -= 1
    chosen = np.zeros(score.size, bool)
    chosen[order[: min(k + 1, len(order))]] = True
    return chosen.reshape(score.shape)


#: land-cover shares of the demo territory (percent of its ellipsoidal area)
DEMO_SHARES = {"water": 2.5, "built": 8.0, "forest": 31.3, "grassland": 0.6, "other": 2.0}
#: demo grid resolution: 3 arc-seconds (as SRTM-3), about 80 × 93 m at 30.4°N
DEMO_RES_DEG = 1.0 / 1200.0


def make_demo_rasters(boundary_gdf_lonlat, out_dir: str | os.PathLike,
                      seed: int = 0) -> dict[str, Path]:
    """Write a synthetic DEM and land-cover raster over a boundary; byte-for-byte deterministic.

    Returns ``{"dem": path, "landcover": path}`` (``out_dir/demo_dem.tif``,
    ``out_dir/demo_landcover.tif``): EPSG:4490 grids of 3″ covering the boundary's bounds.
    The DEM (metres, float32, 0.1 m steps) spans 250-550 m — rounded hills as in 安居区.
    Land cover (layers/landcover.toml classes) is assigned by rank inside the boundary so
    that the classes take :data:`DEMO_SHARES` of its ellipsoidal area (forest 31.3 %):
    water in the lowest hollows, built-up around a few town seeds, forest on the highest and
    steepest ground, grassland next to it, 2 % other, the rest cropland.
    Everything derives from one seeded ``numpy.random.Generator`` (PCG64) and stable sorts,
    and the GeoTIFFs carry no timestamps, so the same seed gives the same bytes (with the same
    NumPy and GDAL; the DEM is rounded to 0.1 m).
    """
    gdf = boundary_gdf_lonlat
    if hasattr(gdf, "to_crs") and gdf.crs is not None and not CRS.from_user_input(gdf.crs).equals(
            CGCS2000):
        gdf = gdf.to_crs(CGCS2000)
    geom = _polygonal(getattr(gdf, "geometry", gdf).values if hasattr(gdf, "geometry")
                      else gdf)
    if geom is None:
        raise InputError("the demo boundary has no polygon", fix="pass the admin boundary")
    res = DEMO_RES_DEG
    xmin, ymin, xmax, ymax = geom.bounds
    x0 = math.floor(xmin / res) * res - res
    y1 = math.ceil(ymax / res) * res + res
    w = int(math.ceil((xmax - x0) / res)) + 1
    h = int(math.ceil((y1 - ymin) / res)) + 1
    transform = Affine(res, 0.0, x0, 0.0, -res, y1)
    rng = np.random.default_rng(seed)
    # DEM: four octaves of value noise (the two finest ridged: 1 − |2v − 1|, for the sharp
    # crests of 丘陵 hills), plus a gentle trend, stretched to 250-550 m
    n = np.zeros((h, w))
    for weight_, cells in ((0.40, 48), (0.25, 16), (0.20, 6), (0.15, 3)):
        v = _value_noise(rng, (h, w), cells)
        n += weight_ * (1.0 - np.abs(2.0 * v - 1.0) if cells <= 6 else v)
    trend = np.linspace(0.0, 1.0, w)[None, :] * 0.10 + np.linspace(0.0, 1.0, h)[:, None] * 0.05
    z = n + trend
    z = (z - z.min()) / (z.max() - z.min())
    dem = np.round((250.0 + 300.0 * z) * 10.0) / 10.0
    dem = dem.astype(np.float32)
    dem_grid = Grid(dem, transform, CGCS2000, None)
    # land cover
    weight = weights_in(np.array([geom], dtype=object), dem_grid)
    total = float(weight.sum())
    slope = slope_degrees(dem_grid)
    table = load_landcover()
    lc = np.full((h, w), table["cropland"].value, dtype=np.uint8)
    free = np.ones((h, w), bool)
    urban = _value_noise(rng, (h, w), 12)
    other = _value_noise(rng, (h, w), 4)
    zr = (dem - dem.min()) / max(float(dem.max() - dem.min()), 1e-9)
    scores = {
        "water": -zr.astype(float),
        "built": urban - 0.5 * zr - 0.01 * slope,
        "forest": zr + slope / 60.0,
        "grassland": zr + slope / 60.0,
        "other": other,
    }
    for cid in ("water", "built", "forest", "grassland", "other"):
        chosen = _pick(scores[cid], free, weight, total * DEMO_SHARES[cid] / 100.0)
        # outside the territory: same rule, same cut-off score
        inside_scores = scores[cid][chosen]
        if inside_scores.size:
            cut = float(inside_scores.min())
            chosen |= free & (weight == 0) & (scores[cid] >= cut)
        lc[chosen] = table[cid].value
        free &= ~chosen
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "dem": write_cog(out / "demo_dem.tif", dem_grid),
        "landcover": write_cog(out / "demo_landcover.tif", Grid(lc, transform, CGCS2000, 0)),
    }
    return paths
