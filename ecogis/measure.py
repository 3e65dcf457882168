"""Areas (m²) and lengths (m): ellipsoidal on CGCS2000, or planar in a Gauss-Krüger zone.

``ellipsoidal`` is the basis of official 椭球面积 statistics: geodesic area on the CGCS2000
ellipsoid (a = 6378137 m, 1/f = 298.257222101) of geometry in lon/lat, rings oriented first
(pyproj returns negative areas for clockwise rings). ``projected`` is the planar area in the
layer's own Gauss-Krüger plane (or the 3° zone of its centre when it is stored in lon/lat).

Every layer total is *dissolved*: a layer's own overlaps count once. Raw sums of feature areas
are reported beside it (``area_raw_sum``), never instead of it.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS, Geod

from ecogis.crs import CGCS2000, CGCS2000_ELLIPSOID, crs_label, metric_crs, to_crs
from ecogis.errors import CRSError, InputError

METHODS = ("ellipsoidal", "projected")

#: the CGCS2000 ellipsoid as a pyproj Geod (identical to GRS80 for areas to far below 1e-6)
GEOD = Geod(a=CGCS2000_ELLIPSOID["a"], rf=CGCS2000_ELLIPSOID["rf"])


def _geoms(data) -> np.ndarray:
    if isinstance(data, (gpd.GeoDataFrame, gpd.GeoSeries)):
        return np.asarray(data.geometry.values, dtype=object)
    if isinstance(data, shapely.Geometry):
        return np.array([data], dtype=object)
    return np.asarray(data, dtype=object)


def _crs_of(data, crs) -> CRS:
    if crs is not None:
        return to_crs(crs)
    c = getattr(data, "crs", None)
    if c is None:
        raise CRSError("geometry has no CRS, so no area can be measured",
                       fix="set the layer's CRS (import with --crs EPSG:XXXX)")
    return to_crs(c)


def to_lonlat(data, crs=None):
    """Return ``data`` (GeoDataFrame, GeoSeries or geometry array) in EPSG:4490 lon/lat."""
    src = _crs_of(data, crs)
    if isinstance(data, (gpd.GeoDataFrame, gpd.GeoSeries)):
        return data if src.equals(CGCS2000) else data.to_crs(CGCS2000)
    arr = _geoms(data)
    if src.equals(CGCS2000):
        return arr
    return np.asarray(gpd.GeoSeries(arr, crs=src).to_crs(CGCS2000).values, dtype=object)


def working_metric_crs(data, crs=None) -> CRS:
    """Return the Gauss-Krüger CRS used for planar work on ``data`` (its own, or its centre's)."""
    src = _crs_of(data, crs)
    if not src.is_geographic:
        from ecogis.crs import gk_zone_of

        if gk_zone_of(src) is not None:
            return src
    lonlat = to_lonlat(data, src)
    b = shapely.total_bounds(_geoms(lonlat))
    return metric_crs(b)


def to_metric(data, crs=None, *, target: CRS | None = None):
    """Return ``data`` in metres: ``target`` or the working Gauss-Krüger plane."""
    src = _crs_of(data, crs)
    dst = target if target is not None else working_metric_crs(data, src)
    if isinstance(data, (gpd.GeoDataFrame, gpd.GeoSeries)):
        return data if src.equals(dst) else data.to_crs(dst)
    arr = _geoms(data)
    return arr if src.equals(dst) else np.asarray(
        gpd.GeoSeries(arr, crs=src).to_crs(dst).values, dtype=object)


def polygon_parts(geoms, index=None) -> tuple[np.ndarray, np.ndarray]:
    """Return the Polygon parts of ``geoms`` and, for each, the position of its geometry.

    Multipolygons and collections (nested too) are split; points, lines and empties dropped.
    ``index`` replaces the positions (e.g. feature ids).
    """
    geoms = np.asarray(geoms, dtype=object)
    index = np.arange(len(geoms)) if index is None else np.asarray(index)
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    parts, idx = geoms[ok], index[ok]
    for _ in range(4):  # collections of multipolygons need a second level
        if not np.isin(shapely.get_type_id(parts), (4, 5, 6, 7)).any():
            break
        parts, src = shapely.get_parts(parts, return_index=True)
        idx = idx[src]
    keep = (shapely.get_type_id(parts) == 3) & ~shapely.is_empty(parts)
    return parts[keep], idx[keep]


def geodesic_area(data, crs=None, *, workers: int = 1) -> np.ndarray:
    """Return the ellipsoidal area (m²) of each geometry on the CGCS2000 ellipsoid.

    Geometry in another CRS is transformed to EPSG:4490 first. Rings are oriented
    (exterior counter-clockwise, holes clockwise) and each ring's geodesic area is taken with
    :data:`GEOD` from one coordinate array, in ``workers`` threads (pyproj releases the GIL);
    the signed ring areas are summed per geometry, so every area is positive. The polygon parts
    of collections count; points and lines have area 0.
    """
    geoms = _geoms(data)
    out = np.zeros(len(geoms))
    if not len(geoms):
        return out
    lonlat = shapely.orient_polygons(_geoms(to_lonlat(geoms, _crs_of(data, crs))))
    parts, gidx = polygon_parts(lonlat)
    rings, pidx = shapely.get_rings(parts, return_index=True)
    xy, ridx = shapely.get_coordinates(rings, return_index=True)
    if not len(xy):
        return out
    lon, lat = np.ascontiguousarray(xy[:, 0]), np.ascontiguousarray(xy[:, 1])
    bounds = np.r_[0, np.flatnonzero(np.diff(ridx)) + 1, len(ridx)]
    ring_area = np.zeros(len(rings))
    ring_of = ridx[bounds[:-1]]

    def work(sl: slice) -> None:
        for k in range(sl.start, sl.stop):
            s, e = bounds[k], bounds[k + 1]
            ring_area[ring_of[k]] = GEOD.polygon_area_perimeter(lon[s:e], lat[s:e])[0]

    n = len(bounds) - 1
    workers = max(1, int(workers))
    if workers == 1:
        work(slice(0, n))
    else:  # chunks of whole rings with about equal numbers of vertices
        cut = np.searchsorted(bounds[:-1], np.linspace(0, len(xy), workers * 4 + 1)[1:-1])
        edges = np.unique(np.r_[0, cut, n])
        chunks = [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True)]
        with ThreadPoolExecutor(max_workers=workers) as ex:
            list(ex.map(work, chunks))
    per_part = np.bincount(pidx, weights=ring_area, minlength=len(parts))
    return np.abs(np.bincount(gidx, weights=per_part, minlength=len(geoms)))


def planar_area(data, crs=None, *, target: CRS | None = None) -> np.ndarray:
    """Return the planar area (m²) of each geometry in a Gauss-Krüger plane."""
    return shapely.area(_geoms(to_metric(data, crs, target=target)))


def area(data, method: str = "ellipsoidal", crs=None) -> np.ndarray:
    """Return the area (m²) of each feature by ``method`` (``ellipsoidal`` or ``projected``)."""
    check_method(method)
    return geodesic_area(data, crs) if method == "ellipsoidal" else planar_area(data, crs)


def method_label(method: str, data=None, crs=None) -> str:
    """Return a method description: ``ellipsoidal (CGCS2000)`` or ``projected (EPSG:4523)``."""
    check_method(method)
    if method == "ellipsoidal":
        return "ellipsoidal (CGCS2000 ellipsoid, geodesic)"
    return f"projected ({crs_label(working_metric_crs(data, crs))} Gauss-Krüger plane)"


def check_method(method: str) -> None:
    if method not in METHODS:
        raise InputError(f"unknown area method {method!r}", fix=f"use one of {', '.join(METHODS)}")


def geodesic_length(data, crs=None) -> np.ndarray:
    """Return the geodesic length (m) of each geometry (perimeter for polygons)."""
    lonlat = _geoms(to_lonlat(data, crs))
    return np.fromiter(
        (0.0 if g is None or g.is_empty else GEOD.geometry_length(g) for g in lonlat),
        float, count=len(lonlat))


def polygonal(geoms: np.ndarray) -> np.ndarray:
    """Return the polygonal parts of each geometry (collections filtered, others emptied)."""
    geoms = _geoms(geoms)
    tid = shapely.get_type_id(geoms)
    out = geoms.copy()
    coll = tid == 7
    if coll.any():
        out[coll] = [
            shapely.union_all([p for p in shapely.get_parts(g) if p.geom_type in
                               ("Polygon", "MultiPolygon")]) for g in geoms[coll]
        ]
    nonpoly = ~np.isin(tid, (3, 6, 7))
    out[nonpoly] = shapely.Polygon()
    return out


def dissolve(data, *, coverage: bool = False) -> np.ndarray:
    """Return the union of all polygons as an array of its parts (Polygons), in the input CRS.

    ``coverage=True`` uses :func:`shapely.coverage_union_all` when the polygons form a valid
    coverage (no overlaps: parcel layers), which is much faster; otherwise, and as fallback,
    :func:`shapely.disjoint_subset_union_all`. The result is exploded so later intersections
    never face one giant multipolygon.
    """
    geoms = _geoms(data)
    geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    geoms = polygonal(shapely.get_parts(geoms))
    geoms = geoms[~shapely.is_empty(geoms)]
    if len(geoms) == 0:
        return np.array([], dtype=object)
    union = None
    if coverage:
        try:
            if bool(shapely.coverage_is_valid(geoms)):
                union = shapely.coverage_union_all(geoms)
        except shapely.errors.GEOSException:
            union = None
    if union is None:
        union = shapely.disjoint_subset_union_all(geoms)
    parts = shapely.get_parts(union)
    return parts[shapely.get_type_id(parts) == 3]


@dataclass(frozen=True)
class AreaSummary:
    """Area of one layer: dissolved and raw-sum figures in m², with the method that made them."""

    features: int
    area_m2: float
    area_raw_sum_m2: float
    method: str
    method_label: str
    crs: str

    @property
    def overlap_m2(self) -> float:
        """Area counted twice by a raw sum (the layer's self-overlap), m²."""
        return self.area_raw_sum_m2 - self.area_m2


def layer_area(data, method: str = "ellipsoidal", *, coverage: bool = False,
               crs=None) -> AreaSummary:
    """Return the dissolved area and the raw sum of feature areas (m²) of one layer."""
    check_method(method)
    src = _crs_of(data, crs)
    geoms = _geoms(data)
    raw = area(geoms, method, src)
    parts = dissolve(geoms, coverage=coverage)
    if method == "ellipsoidal":
        dissolved = float(geodesic_area(parts, src).sum()) if len(parts) else 0.0
    else:
        target = working_metric_crs(data, src)
        dissolved = float(planar_area(parts, src, target=target).sum()) if len(parts) else 0.0
    return AreaSummary(
        features=len(geoms),
        area_m2=dissolved,
        area_raw_sum_m2=float(raw.sum()),
        method=method,
        method_label=method_label(method, data, src),
        crs=crs_label(src),
    )


def intersection_area(a_parts, b_parts, crs, method: str = "ellipsoidal") -> float:
    """Return the area (m²) of the intersection of two dissolved part arrays in one CRS.

    Uses one STRtree bulk query; a part covered by the other side is taken whole instead of
    being intersected.
    """
    a = _geoms(a_parts)
    b = _geoms(b_parts)
    if len(a) == 0 or len(b) == 0:
        return 0.0
    tree = shapely.STRtree(b)
    ia, ib = tree.query(a, predicate="intersects")
    if len(ia) == 0:
        return 0.0
    ga, gb = a[ia], b[ib]
    covered = shapely.covered_by(ga, gb)
    pieces = np.where(covered, ga, shapely.intersection(ga, gb))
    pieces = polygonal(pieces)
    return float(area(pieces, method, crs).sum())
