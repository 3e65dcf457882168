"""Overlaps between layers (m², reported in any unit): the 三线冲突 matrix, conflicts, per town.

Every layer is brought into one CGCS2000 Gauss-Krüger plane (the working plane of the first
layer; a layer stored in the prefixed twin of that zone is shifted, not reprojected) and
*dissolved* once, so a layer's own overlaps count once. Dissolves run per square tile of one
grid shared by all layers, in threads:

* a coverage layer (parcels that tile without overlap, ``Kind.coverage``) is merged per tile
  with :func:`shapely.coverage_union_all`, and the result is certified (valid, area-preserving,
  tiles forming a valid coverage) — otherwise it is treated like any other layer;
* any other layer is cut along the tile lines and merged per tile with
  :func:`shapely.disjoint_subset_union_all`.

The parts of different tiles never overlap, and no part spans more than about a tile: the
``ST_Subdivide`` lesson (never intersect against one giant multipolygon). Pairs of layers come
from one bulk :class:`shapely.STRtree` query over their parts; a part covered by the other side
is taken whole; the remaining intersections run in threads (shapely releases the GIL).
``ellipsoidal`` areas (the default) are geodesic on CGCS2000, computed as
:func:`ecogis.measure.geodesic_area` does; ``projected`` areas are planar in the working plane.

Conflict polygons are computed feature by feature (each pair of features of the two sides of
a rule), so each carries both feature ids. Raw sums (what ``geopandas.overlay(...).area.sum()``
returns, counting a layer's own overlaps twice) are available beside the dissolved figures,
never instead of them.
"""

from __future__ import annotations

import functools
import math
import os
import tempfile
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS

from ecogis import engine
from ecogis.conflicts import ConflictRule, ConflictRules, Side, load_conflict_rules
from ecogis.crs import CGCS2000, crs_label, gk_zone_of
from ecogis.errors import GeometryError, InputError
from ecogis.fields import LABEL_ROLES, feature_labels
from ecogis.kinds import Kind, load_kinds
from ecogis.measure import (
    area,
    check_method,
    geodesic_area,
    method_label,
    polygon_parts,
    to_lonlat,
    to_metric,
    working_metric_crs,
)
from ecogis.units import area_unit, from_m2
from ecogis.workspace import LoadedLayer

#: feature parts with more vertices than this are cut in halves until they have no more
DEFAULT_MAX_VERTICES = 1024
#: dissolves run per square tile of about this many vertices
DEFAULT_TILE_VERTICES = 4000
#: pieces below this area (m²) are numerical noise of touching boundaries, not overlaps
NOISE_M2 = 1e-6
#: conflict polygons and self-overlaps below this area (m²) are not listed: 0.01 m² is the
#: precision 三调 keeps parcel areas to, far above the slivers of boundaries that only touch
MIN_LISTED_M2 = 0.01
#: below this many intersections one thread is faster than starting a pool
_MIN_PARALLEL = 512


def default_workers() -> int:
    """Return the number of threads used for intersections (``$ECOGIS_WORKERS`` or the CPUs)."""
    env = os.environ.get("ECOGIS_WORKERS")
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise InputError(f"ECOGIS_WORKERS={env!r} is not a number",
                             fix="set ECOGIS_WORKERS to a whole number such as 2") from None
    return max(1, min(os.cpu_count() or 1, 8))


# --------------------------------------------------------------------------- geometry helpers
#: the Polygon parts of geometries with the position of each (see ecogis.measure)
explode = polygon_parts


def subdivide(geoms, index=None, *, max_vertices: int = DEFAULT_MAX_VERTICES
              ) -> tuple[np.ndarray, np.ndarray]:
    """Cut polygons with more than ``max_vertices`` vertices into halves until none has more.

    The halves are disjoint and their areas add up to the original's (cuts along straight
    lines of the plane). Returns the pieces and, for each, the index of the polygon it came from.
    """
    geoms = np.asarray(geoms, dtype=object)
    index = np.arange(len(geoms)) if index is None else np.asarray(index)
    out_g, out_i = [], []
    g, i = geoms, index
    for _ in range(40):
        if not len(g):
            break
        big = shapely.get_num_coordinates(g) > max_vertices
        b = shapely.bounds(g)
        tiny = np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]) < 1e-3
        big &= ~tiny
        out_g.append(g[~big])
        out_i.append(i[~big])
        g, i, b = g[big], i[big], b[big]
        if not len(g):
            break
        wide = (b[:, 2] - b[:, 0]) >= (b[:, 3] - b[:, 1])
        pad = 1.0 + 1e-6 * np.abs(b).max(axis=1)
        x0, y0, x1, y1 = b[:, 0] - pad, b[:, 1] - pad, b[:, 2] + pad, b[:, 3] + pad
        mx = (b[:, 0] + b[:, 2]) / 2
        my = (b[:, 1] + b[:, 3]) / 2
        first = shapely.box(x0, y0, np.where(wide, mx, x1), np.where(wide, y1, my))
        second = shapely.box(np.where(wide, mx, x0), np.where(wide, y0, my), x1, y1)
        halves = np.concatenate([shapely.intersection(g, first), shapely.intersection(g, second)])
        hidx = np.concatenate([i, i])
        g, i = explode(halves, hidx)
    if len(g):
        out_g.append(g)
        out_i.append(i)
    if not out_g:
        return np.array([], dtype=object), np.array([], dtype=index.dtype)
    return np.concatenate(out_g), np.concatenate(out_i)


def shift(geoms, dx: float) -> np.ndarray:
    """Return geometries moved by ``dx`` metres in easting (a prefixed zone to its twin)."""
    geoms = np.asarray(geoms, dtype=object)
    if dx == 0 or not len(geoms):
        return geoms
    return shapely.transform(geoms, lambda xy: xy + np.array([dx, 0.0]))


def _polygonal_pieces(pieces: np.ndarray) -> np.ndarray:
    """Keep the polygonal part of each intersection result (lines and points of touching
    boundaries dropped); the result is a Polygon, MultiPolygon or empty."""
    tid = shapely.get_type_id(pieces)
    out = pieces.copy()
    coll = tid == 7
    if coll.any():
        parts, idx = explode(pieces[coll])
        merged = np.full(int(coll.sum()), shapely.Polygon(), dtype=object)
        if len(parts):  # collections without polygons stay empty
            has, dense = np.unique(idx, return_inverse=True)
            merged[has] = shapely.multipolygons(parts, indices=dense)
        out[coll] = merged
    nonpoly = ~np.isin(tid, (3, 6, 7))
    out[nonpoly] = shapely.Polygon()
    return out


def _parallel(func, a: np.ndarray, b: np.ndarray, workers: int) -> np.ndarray:
    """Return ``func(a, b)`` computed over chunks in threads (shapely releases the GIL), or
    as tasks of the current :mod:`ecogis.engine` when one is set (e.g. a dask cluster)."""
    n = len(a)
    eng = engine.current()
    if eng is not None and n >= max(_MIN_PARALLEL, getattr(eng, "min_pairs", 0)):
        cuts = np.linspace(0, n, 4 * max(1, getattr(eng, "n_workers", workers)) + 1).astype(int)
        chunks = [(a[s:e], b[s:e]) for s, e in zip(cuts[:-1], cuts[1:], strict=True) if e > s]
        done = eng.map(functools.partial(_apply2, func), chunks)
        out = np.empty(n, dtype=object)
        out[:] = [g for part in done for g in part]
        return out
    if workers <= 1 or n < _MIN_PARALLEL:
        return func(a, b)
    out = np.empty(n, dtype=object)
    bounds = np.linspace(0, n, workers * 8 + 1).astype(int)

    def work(k: int) -> None:
        s, e = bounds[k], bounds[k + 1]
        out[s:e] = func(a[s:e], b[s:e])

    with ThreadPoolExecutor(max_workers=workers) as ex:
        list(ex.map(work, range(len(bounds) - 1)))
    return out


def coverage_valid(parts, *, workers: int | None = None, chunk_min: int = 10_000) -> bool:
    """Return True when the polygons form a valid coverage (no overlaps, matching edges).

    Large inputs are cut into ``workers`` vertical strips checked in threads with
    :func:`shapely.coverage_is_valid`; the polygons around each seam (those whose box crosses
    it and every polygon whose box meets theirs) are checked together too, so an invalid pair
    across a seam is never missed.
    """
    parts = np.asarray(parts, dtype=object)
    workers = default_workers() if workers is None else max(1, int(workers))
    if not len(parts):
        return True
    try:
        if workers == 1 or len(parts) < chunk_min:
            return bool(shapely.coverage_is_valid(parts))
        b = shapely.bounds(parts)
        cx = (b[:, 0] + b[:, 2]) / 2
        seams = np.quantile(cx, np.linspace(0, 1, workers + 1)[1:-1])
        strip = np.searchsorted(seams, cx)
        checks = [parts[strip == i] for i in range(workers)]
        for m in seams:
            crossing = (b[:, 0] <= m) & (b[:, 2] >= m)
            if crossing.any():
                lo, hi = b[crossing, 0].min(), b[crossing, 2].max()
                checks.append(parts[(b[:, 2] >= lo) & (b[:, 0] <= hi)])
        with ThreadPoolExecutor(max_workers=workers) as ex:
            return all(bool(v) for v in ex.map(shapely.coverage_is_valid, checks))
    except shapely.errors.GEOSException:
        return False


def tile_grid(parts, tile_vertices: int = DEFAULT_TILE_VERTICES) -> tuple[float, float, float, int]:
    """Return a square grid ``(x0, y0, size, nx)`` over ``parts`` with about ``tile_vertices``
    vertices per tile."""
    b = shapely.total_bounds(parts)
    w, h = max(b[2] - b[0], 1e-6), max(b[3] - b[1], 1e-6)
    n_tiles = max(1.0, float(shapely.get_num_coordinates(parts).sum()) / tile_vertices)
    size = max(math.sqrt(w * h / n_tiles), 1e-3)
    size = max(size, max(w, h) / 1024)  # never more than 1024 tiles a side
    return float(b[0]), float(b[1]), size, int(w // size) + 1


def geodesic_area_rings(geoms, crs, *, workers: int | None = None) -> np.ndarray:
    """Return the ellipsoidal area (m²) of each geometry: :func:`ecogis.measure.geodesic_area`
    in ``workers`` threads (default :func:`default_workers`)."""
    workers = default_workers() if workers is None else max(1, int(workers))
    return geodesic_area(geoms, crs, workers=workers)


def _tile_box(grid, tx, ty):
    """Tile bounds; neighbouring tiles share exactly the same edge coordinates."""
    x0, y0, size, _ = grid
    return x0 + tx * size, y0 + ty * size, x0 + (tx + 1) * size, y0 + (ty + 1) * size


def tile_split(parts, index=None, *, grid: tuple[float, float, float, int]
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut polygons along the tile lines of ``grid``; return pieces, source index and tile id.

    A polygon inside one tile is kept whole; one that crosses tile lines is intersected with
    each tile its box meets. The pieces of a polygon are disjoint and add up to it.
    """
    parts = np.asarray(parts, dtype=object)
    index = np.arange(len(parts)) if index is None else np.asarray(index)
    x0, y0, size, nx = grid
    b = shapely.bounds(parts)
    tx0 = np.floor((b[:, 0] - x0) / size).astype(np.int64)
    tx1 = np.floor((b[:, 2] - x0) / size).astype(np.int64)
    ty0 = np.floor((b[:, 1] - y0) / size).astype(np.int64)
    ty1 = np.floor((b[:, 3] - y0) / size).astype(np.int64)
    one = (tx0 == tx1) & (ty0 == ty1)
    m = np.flatnonzero(~one)
    ntx, nty = (tx1 - tx0 + 1)[m], (ty1 - ty0 + 1)[m]
    cnt = ntx * nty
    rep = np.repeat(m, cnt)
    k = np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    ntx_r = np.repeat(ntx, cnt)
    tx, ty = tx0[rep] + k % ntx_r, ty0[rep] + k // ntx_r
    tid = ty * nx + tx
    clipped = np.empty(len(rep), dtype=object)
    order = np.argsort(tid, kind="stable")
    uniq, start = np.unique(tid[order], return_index=True)
    for t, sel in zip(uniq, np.split(order, start[1:]) if len(order) else [], strict=True):
        clipped[sel] = shapely.clip_by_rect(parts[rep[sel]], *_tile_box(grid, t % nx, t // nx))
    bad = np.flatnonzero(~shapely.is_valid(clipped))
    if len(bad):  # the fast rectangle clip can leave invalid rings: redo those exactly
        clipped[bad] = shapely.intersection(
            parts[rep[bad]], shapely.box(*_tile_box(grid, tx[bad], ty[bad])))
    clipped, ci = explode(clipped)
    pieces = np.concatenate([parts[one], clipped])
    src = np.concatenate([index[one], index[rep][ci]])
    tile = np.concatenate([ty0[one] * nx + tx0[one], tid[ci]])
    return pieces, src, tile


def _morton(ix: np.ndarray, iy: np.ndarray) -> np.ndarray:
    """Interleave the bits of two arrays of 16-bit integers (Z-order key)."""
    def spread(v):
        v = v.astype(np.uint64) & 0xFFFF
        v = (v | (v << 8)) & 0x00FF00FF
        v = (v | (v << 4)) & 0x0F0F0F0F
        v = (v | (v << 2)) & 0x33333333
        return (v | (v << 1)) & 0x55555555
    return spread(ix) | (spread(iy) << np.uint64(1))


def _tile_and_zorder(b: np.ndarray, grid) -> tuple[np.ndarray, np.ndarray]:
    """Tile id of each box centre, and its Z-order key inside the tile."""
    x0, y0, size, nx = grid
    fx = ((b[:, 0] + b[:, 2]) / 2 - x0) / size
    fy = ((b[:, 1] + b[:, 3]) / 2 - y0) / size
    tx, ty = np.floor(fx), np.floor(fy)
    tile = ty.astype(np.int64) * nx + tx.astype(np.int64)
    key = _morton(((fx - tx) * 65535).astype(np.int64), ((fy - ty) * 65535).astype(np.int64))
    return tile, key


def _groups(geoms: np.ndarray, tile: np.ndarray) -> list[np.ndarray]:
    order = np.argsort(tile, kind="stable")
    _, start = np.unique(tile[order], return_index=True)
    return np.split(geoms[order], start[1:])


def _apply2(func, pair):
    return func(*pair)


def _map(func, items: list, workers: int) -> list:
    """``[func(x) for x in items]`` in threads, or on the current :mod:`ecogis.engine`."""
    return engine.parallel_map(func, items, workers)


def coverage_union_tiles(parts, grid, *, workers: int | None = None) -> np.ndarray | None:
    """Return the union of a polygon coverage as disjoint parts, one union per tile, or None
    when the polygons are not a valid coverage (they overlap, or their edges do not match).

    Polygons go to the tile of their box centre, in Z-order inside it (GEOS's coverage
    operations run ~1.5x faster on spatially sorted input, measured), and each tile is merged
    with :func:`shapely.coverage_union_all` in threads. The result is certified instead of
    running the full :func:`shapely.coverage_is_valid` first, which costs about four times the
    union:

    * per tile, the union ``R`` must be valid and its area equal the sum of the polygons'
      areas (to 1e-9). The union is built from the segments that occur once; where polygons
      overlap, those segments cross, nest or run along each other, which makes ``R`` invalid
      (IsValidOp); a fully duplicated polygon drops out of ``R`` and breaks the area sum;
    * across tiles, the tile unions must form a valid coverage
      (:func:`shapely.coverage_is_valid` on the far fewer tile parts).
    """
    parts = np.asarray(parts, dtype=object)
    workers = default_workers() if workers is None else max(1, int(workers))
    tile, key = _tile_and_zorder(shapely.bounds(parts), grid)
    order = np.lexsort((key, tile))
    groups = _groups(parts[order], tile[order])

    def work(g: np.ndarray):
        try:
            u = shapely.coverage_union_all(g)
        except shapely.errors.GEOSException:
            return None
        total = float(shapely.area(g).sum())
        if not shapely.is_valid(u) or abs(float(shapely.area(u)) - total) > 1e-9 * total + 1e-9:
            return None
        return explode([u])[0]

    out = _map(work, groups, workers)
    if any(o is None for o in out):
        return None
    union = np.concatenate(out) if out else parts[:0]
    try:
        if len(out) > 1 and not bool(shapely.coverage_is_valid(union)):
            return None
    except shapely.errors.GEOSException:
        return None
    return union


def dissolve_parts(parts, *, coverage: bool = False, workers: int | None = None,
                   grid: tuple[float, float, float, int] | None = None,
                   tile_vertices: int = DEFAULT_TILE_VERTICES) -> tuple[np.ndarray, bool]:
    """Return the union of polygons as disjoint parts cut along a tile grid, and whether the
    input was used as a valid coverage.

    The union is computed per square tile of ``grid`` (default: :func:`tile_grid` with about
    ``tile_vertices`` vertices a tile) in threads: for a coverage (``coverage=True``) with
    :func:`coverage_union_tiles`, which certifies the coverage; otherwise, or when that fails,
    with :func:`shapely.disjoint_subset_union_all` of the polygons cut along the tile lines.
    The parts of different tiles never overlap, so their areas add up to the union's.
    """
    parts = np.asarray(parts, dtype=object)
    workers = default_workers() if workers is None else max(1, int(workers))
    if not len(parts):
        return parts, coverage
    grid = grid if grid is not None else tile_grid(parts, tile_vertices)
    if coverage:
        union = coverage_union_tiles(parts, grid, workers=workers)
        if union is not None:
            return union, True
    geoms, _, tile = tile_split(parts, grid=grid)

    def work(g: np.ndarray) -> np.ndarray:
        return explode(g)[0] if len(g) == 1 else explode([shapely.disjoint_subset_union_all(g)])[0]

    return np.concatenate(_map(work, _groups(geoms, tile), workers)), False


def intersect_parts(a, b, *, workers: int | None = None
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Intersect two arrays of polygons pairwise where they overlap (one CRS, metres).

    One bulk STRtree query finds the intersecting pairs, with the smaller side prepared as the
    query. A part covered by the other is taken whole; the remaining pairs are intersected in
    ``workers`` threads. Returns ``(ia, ib, pieces)``: the positions in ``a`` and ``b`` of each
    pair with a polygonal overlap, and that overlap.
    """
    a = np.asarray(a, dtype=object)
    b = np.asarray(b, dtype=object)
    none = (np.array([], dtype=np.intp), np.array([], dtype=np.intp), np.array([], dtype=object))
    if not len(a) or not len(b):
        return none
    workers = default_workers() if workers is None else max(1, int(workers))
    swap = len(a) > len(b)
    q, t = (b, a) if swap else (a, b)
    shapely.prepare(q)
    iq, it = shapely.STRtree(t).query(q, predicate="intersects")
    if not len(iq):
        return none
    gq, gt = q[iq], t[it]
    pieces = np.empty(len(iq), dtype=object)
    t_in_q = shapely.covers(gq, gt)
    pieces[t_in_q] = gt[t_in_q]
    rest = np.flatnonzero(~t_in_q)
    q_in_t = np.zeros(len(iq), dtype=bool)
    q_in_t[rest] = shapely.covered_by(gq[rest], gt[rest])
    pieces[q_in_t] = gq[q_in_t]
    todo = np.flatnonzero(~(t_in_q | q_in_t))
    if len(todo):
        pieces[todo] = _polygonal_pieces(
            _parallel(shapely.intersection, gq[todo], gt[todo], workers))
    keep = ~shapely.is_empty(pieces)
    ia, ib = (it, iq) if swap else (iq, it)
    return ia[keep], ib[keep], pieces[keep]


# ------------------------------------------------------------------------------- result rows
@dataclass
class PairRow:
    """Dissolved overlap of layers ``a`` and ``b`` in ``unit``, and its share of each layer.

    ``a == b`` rows (the diagonal) hold the layer's own dissolved area. ``area_raw_sum`` is
    the sum over feature pairs (a layer's own overlaps counted twice), when asked for.
    """

    a: str
    b: str
    a_kind: str
    b_kind: str
    area: float
    area_m2: float
    share_a: float
    share_b: float
    a_area: float
    b_area: float
    unit: str
    method: str
    area_raw_sum: float | None = None
    area_raw_sum_m2: float | None = None


@dataclass
class RuleRow:
    """One conflict rule applied to one pair of layers: its dissolved area and feature count."""

    rule: str
    name_zh: str
    severity: str
    severity_zh: str
    a_side: str
    b_side: str
    a_layer: str | None
    b_layer: str | None
    applicable: bool
    conflicts: int
    area: float
    area_m2: float
    area_raw_sum: float
    unit: str
    method: str
    source: str
    article: str
    note: str = ""


@dataclass
class ZonePairRow:
    """Dissolved overlap of layers ``a`` and ``b`` inside one zone (town), in ``unit``."""

    by: str
    zone: str
    a: str
    b: str
    area: float
    area_m2: float
    share_a: float
    share_b: float
    unit: str
    method: str


@dataclass
class ZoneRuleRow:
    """Dissolved conflict area of one rule and pair of layers inside one zone, in ``unit``."""

    by: str
    zone: str
    rule: str
    severity: str
    a_layer: str
    b_layer: str
    area: float
    area_m2: float
    unit: str
    method: str


CONFLICT_COLUMNS = ["rule", "rule_name", "severity", "severity_zh", "a_layer", "a_fid", "a_name",
                    "a_bsm", "b_layer", "b_fid", "b_name", "b_bsm", "area", "area_m2", "unit",
                    "method", "lon", "lat"]


class _Dissolved:
    """A layer's disjoint parts in the working plane, and the area (m²) of their union."""

    def __init__(self, parts: np.ndarray, area_m2, features: int) -> None:
        self.parts = parts
        self._area = area_m2  # a float, or a Future of the areas of the parts
        self.features = features

    @property
    def area_m2(self) -> float:
        if isinstance(self._area, Future):
            self._area = float(self._area.result().sum())
        return float(self._area)


# ---------------------------------------------------------------------------------- analysis
def as_layers(layers) -> list[LoadedLayer]:
    """Accept LoadedLayers, ``(name, GeoDataFrame[, kind])`` tuples or a ``{name: gdf}`` dict."""
    if isinstance(layers, dict):
        layers = list(layers.items())
    out = []
    kinds = load_kinds()
    for lyr in layers:
        if isinstance(lyr, LoadedLayer):
            out.append(lyr)
            continue
        name, gdf, *rest = lyr
        k = rest[0] if rest else "generic"
        k = k if isinstance(k, Kind) else kinds[k]
        out.append(LoadedLayer(str(name), k, gdf, str(name)))
    names = [lyr.name for lyr in out]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise InputError(f"layer names repeat: {sorted(dup)}", fix="give each layer its own name")
    return out


def is_polygonal(gdf: gpd.GeoDataFrame) -> bool:
    """Return True when the layer has polygon features."""
    t = shapely.get_type_id(np.asarray(gdf.geometry.values, dtype=object))
    return bool(len(t)) and bool(np.isin(t, (3, 6)).any())


def _diagnosed(method):
    """Turn a GEOS topology error on invalid input into a GeometryError naming the feature."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except shapely.errors.GEOSException as exc:
            self.check_valid()
            raise GeometryError(f"geometry operation failed: {exc}",
                                fix="run `ecogis topology` on the layers and report it") from exc
    return wrapper


class OverlapAnalysis:
    """Overlaps of a set of layers in one Gauss-Krüger plane, with dissolves and pairs cached.

    Parameters
    ----------
    layers
        The layers (:class:`~ecogis.workspace.LoadedLayer`, or ``(name, gdf, kind)`` tuples).
        Line and point layers are ignored.
    method
        ``ellipsoidal`` (default; geodesic on CGCS2000) or ``projected`` (planar in the plane).
    target
        The plane; default :func:`ecogis.measure.working_metric_crs` of the first layer (a
        prefixed zone is replaced by its no-prefix twin: the same plane, finer resolution).
    workers
        Threads for intersections; default :func:`default_workers`.
    max_vertices
        Feature parts with more vertices are subdivided before intersecting (conflicts).
    tile_vertices
        Dissolves run per square tile holding about this many vertices.
    """

    def __init__(self, layers, method: str = "ellipsoidal", *, target=None,
                 workers: int | None = None, max_vertices: int = DEFAULT_MAX_VERTICES,
                 tile_vertices: int = DEFAULT_TILE_VERTICES) -> None:
        check_method(method)
        self.method = method
        all_layers = as_layers(layers)
        self.layers = [lyr for lyr in all_layers if is_polygonal(lyr.gdf)]
        self.skipped = [lyr.name for lyr in all_layers if lyr not in self.layers]
        first = self.layers[0].gdf if self.layers else None
        self.target: CRS = (CRS.from_user_input(target) if target is not None
                            else working_metric_crs(first) if first is not None else CGCS2000)
        zone = gk_zone_of(self.target)
        if zone is not None and zone.prefixed:
            # the same plane without the zone prefix: eastings near 5e5 instead of 3.55e7 give
            # intersection vertices about 100 times finer float resolution (layers stored in
            # the prefixed plane are shifted, not reprojected: see metric())
            self.target = zone.twin.crs

        self.workers = default_workers() if workers is None else max(1, int(workers))
        self.max_vertices = max_vertices
        self.tile_vertices = tile_vertices
        self._by_name = {lyr.name: lyr for lyr in all_layers}
        self._metric: dict[str, gpd.GeoDataFrame] = {}
        self._native: dict[str, tuple[np.ndarray, float]] = {}
        self._dissolved: dict[tuple, _Dissolved] = {}
        self._features: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
        self._pairs: dict[tuple, np.ndarray] = {}
        self._zones: tuple | None = None
        self._grid: tuple[float, float, float, int] | None = None
        self._bg: ThreadPoolExecutor | None = None
        self._rule_sides: dict[tuple[str, str, str], tuple[Side, Side]] = {}

    def check_valid(self) -> None:
        """Raise GeometryError naming the first invalid feature of any layer, if there is one."""
        for lyr in self.layers:
            geoms = np.asarray(lyr.gdf.geometry.values, dtype=object)
            bad = np.flatnonzero(~shapely.is_valid(geoms) & ~shapely.is_missing(geoms))
            if len(bad):
                reason = shapely.is_valid_reason(geoms[bad[0]])
                raise GeometryError(
                    f"{len(bad)} invalid geometr{'y' if len(bad) == 1 else 'ies'} "
                    f"({reason})", layer=lyr.name, feature=_fids(lyr.gdf, bad[:1])[0],
                    fix="import the layer with `ecogis import`, which repairs invalid "
                    "geometry and reports each repair")

    @property
    def method_label(self) -> str:
        """``ellipsoidal (CGCS2000 ellipsoid, geodesic)`` or ``projected (EPSG:… plane)``."""
        if self.method == "projected":
            return f"projected ({crs_label(self.target)} Gauss-Krüger plane)"
        return method_label(self.method)

    def layer(self, name: str) -> LoadedLayer:
        """Return the layer called ``name``."""
        try:
            return self._by_name[name]
        except KeyError:
            raise InputError(f"no layer {name!r} (layers: {', '.join(self._by_name)})",
                             fix="use `ecogis layers` to list them") from None

    def native(self, name: str) -> tuple[np.ndarray, float]:
        """Return a layer's geometries in the working plane or its prefixed twin, and the
        easting shift (m) that brings them into the working plane.

        A layer stored in the prefixed twin of the plane (EPSG:4523 for EPSG:4544) is not
        reprojected: it is dissolved as stored and only the (far fewer) dissolved vertices are
        shifted, exactly, into the plane. Any other layer is reprojected once.
        """
        if name not in self._native:
            gdf = self.layer(name).gdf
            src, dst = gk_zone_of(gdf.crs), gk_zone_of(self.target)
            if src is not None and dst is not None and src.twin.epsg == dst.epsg:
                self._native[name] = (np.asarray(gdf.geometry.values, dtype=object),
                                      dst.false_easting - src.false_easting)
            else:
                self._native[name] = (np.asarray(self.metric(name).geometry.values,
                                                 dtype=object), 0.0)
        return self._native[name]

    def metric(self, name: str) -> gpd.GeoDataFrame:
        """Return layer ``name`` in the working plane (cached)."""
        if name not in self._metric:
            gdf = self.layer(name).gdf
            src, dst = gk_zone_of(gdf.crs), gk_zone_of(self.target)
            if src is not None and dst is not None and src.twin.epsg == dst.epsg:
                moved = shift(np.asarray(gdf.geometry.values, dtype=object),
                              dst.false_easting - src.false_easting)
                gdf = gdf.set_geometry(gpd.GeoSeries(moved, index=gdf.index, crs=self.target))
            else:
                gdf = to_metric(gdf, target=self.target)
            self._metric[name] = gdf
        return self._metric[name]

    @property
    def grid(self) -> tuple[float, float, float, int]:
        """The tile grid shared by every layer's dissolve: ``(x0, y0, size, nx)`` in metres.

        Tiles hold about ``tile_vertices`` vertices of the layer with the most vertices; one
        grid for all layers lines up the parts of different layers, so pairs stay small.
        """
        if self._grid is None:
            bounds, verts = [], 0
            for lyr in self.layers:
                g, dx = self.native(lyr.name)
                if len(g):
                    bounds.append(shapely.total_bounds(g) + np.array([dx, 0.0, dx, 0.0]))
                    verts = max(verts, int(shapely.get_num_coordinates(g).sum()))
            b = np.array(bounds) if bounds else np.zeros((1, 4))
            x0, y0 = b[:, 0].min(), b[:, 1].min()
            w, h = max(b[:, 2].max() - x0, 1e-6), max(b[:, 3].max() - y0, 1e-6)
            size = max(math.sqrt(w * h / max(1.0, verts / self.tile_vertices)), w / 1024,
                       h / 1024, 1e-3)
            self._grid = (float(x0), float(y0), float(size), int(w // size) + 1)
        return self._grid

    @contextmanager
    def _background(self):
        """Measure ellipsoidal areas in a background thread while GEOS keeps working."""
        if self.method != "ellipsoidal" or self._bg is not None or self.workers == 1:
            yield
            return
        with ThreadPoolExecutor(max_workers=1) as ex:
            self._bg = ex
            try:
                yield
            finally:
                self._bg = None

    def measure_later(self, geoms) -> Future:
        """Return a Future of :meth:`measure` (run in the background inside :meth:`matrix`)."""
        geoms = np.asarray(geoms, dtype=object)
        if self._bg is not None and len(geoms):
            return self._bg.submit(geodesic_area_rings, geoms, self.target, workers=1)
        f: Future = Future()
        f.set_result(self.measure(geoms))
        return f

    def measure(self, geoms) -> np.ndarray:
        """Return the area (m²) of each geometry of the working plane by the analysis method.

        ``projected`` is :func:`ecogis.measure.area`; ``ellipsoidal`` is
        :func:`geodesic_area_rings`, the same computation as
        :func:`ecogis.measure.geodesic_area` (same transform, oriented rings, CGCS2000 Geod)
        with the rings handed to pyproj as array slices, in threads.
        """
        geoms = np.asarray(geoms, dtype=object)
        if not len(geoms):
            return np.zeros(0)
        if self.method != "ellipsoidal":
            return area(geoms, self.method, self.target)
        return geodesic_area_rings(geoms, self.target, workers=self.workers)

    # ------------------------------------------------------------------ per-layer preparation
    @staticmethod
    def _side(side: Side | None) -> Side | None:
        """A side without a field filter keeps every feature: the same cache entry as None."""
        return None if side is None or side.field is None else side

    def _mask(self, name: str, side: Side | None) -> np.ndarray:
        gdf = self.layer(name).gdf
        if side is None:
            return np.ones(len(gdf), dtype=bool)
        return np.asarray(side.mask(gdf, layer=name), dtype=bool)

    def dissolved(self, name: str, side: Side | None = None) -> _Dissolved:
        """Return the disjoint parts and dissolved area (m²) of a layer (optionally filtered)."""
        side = self._side(side)
        key = (name, side)
        if key in self._dissolved:
            return self._dissolved[key]
        geoms, dx = self.native(name)
        mask = self._mask(name, side)
        parts = geoms[mask]
        tid = shapely.get_type_id(parts)
        if not (np.isin(tid, (3, 6)).all() and not shapely.is_empty(parts).any()):
            parts, _ = explode(parts)  # multipolygons need no exploding to be dissolved
        if not len(parts):
            d = _Dissolved(parts, 0.0, int(mask.sum()))
            self._dissolved[key] = d
            return d
        x0, y0, size, nx = self.grid
        union_parts, _ = dissolve_parts(parts, coverage=self.layer(name).kind.coverage,
                                        workers=self.workers, grid=(x0 - dx, y0, size, nx))
        union_parts = shift(union_parts, dx)
        d = _Dissolved(union_parts, self.measure_later(union_parts), int(mask.sum()))
        self._dissolved[key] = d
        return d

    def feature_parts(self, name: str, side: Side | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
        """Return the (subdivided) polygon parts of each kept feature and its row position."""
        side = self._side(side)
        key = (name, side)
        if key not in self._features:
            geoms, dx = self.native(name)
            rows = np.flatnonzero(self._mask(name, side))
            parts, pos = explode(geoms[rows], rows)
            parts, pos = subdivide(parts, pos, max_vertices=self.max_vertices)
            self._features[key] = (shift(parts, dx), pos)
        return self._features[key]

    def pair_pieces(self, a: str, b: str, side_a: Side | None = None,
                    side_b: Side | None = None) -> np.ndarray:
        """Return the pieces of the dissolved overlap of two layers (disjoint, working plane)."""
        side_a, side_b = self._side(side_a), self._side(side_b)
        key = (a, side_a, b, side_b)
        if key not in self._pairs:
            da, db = self.dissolved(a, side_a), self.dissolved(b, side_b)
            _, _, pieces = intersect_parts(da.parts, db.parts, workers=self.workers)
            self._pairs[key] = pieces
            self._pairs[(b, side_b, a, side_a)] = pieces
        return self._pairs[key]

    def raw_pair_m2(self, a: str, b: str) -> float:
        """Return the sum over feature pairs of their overlap area (m²): overlaps counted twice."""
        pa, _ = self.feature_parts(a)
        pb, _ = self.feature_parts(b)
        _, _, pieces = intersect_parts(pa, pb, workers=self.workers)
        return float(self.measure(pieces).sum())

    # ------------------------------------------------------------------------------ matrix
    @_diagnosed
    def matrix(self, unit: str = "km2", *, names: Sequence[str] | None = None,
               raw: bool = False) -> list[PairRow]:
        """Return the symmetric overlap matrix as rows for every ordered pair (diagonal too).

        Each unordered pair is computed once; ``(a, b)`` and ``(b, a)`` carry the same area
        with the shares swapped. ``raw=True`` adds the sum over feature pairs.
        """
        u = area_unit(unit).id
        names = list(names) if names is not None else [lyr.name for lyr in self.layers]
        with self._background():
            for n in names:
                self.dissolved(n)
            pending = {(a, b): self.measure_later(self.pair_pieces(a, b))
                       for i, a in enumerate(names) for b in names[i + 1:]}
            totals = {n: self.dissolved(n).area_m2 for n in names}
            areas = {k: float(f.result().sum()) for k, f in pending.items()}
        rows: dict[tuple[str, str], PairRow] = {}
        for i, a in enumerate(names):
            for b in names[i:]:
                if a == b:
                    m2 = totals[a]
                    raw_m2 = None
                else:
                    # an intersection is a subset of both sides: an excess is float noise of
                    # the measure (~1e-12 relative), never a real area, so it is clipped
                    m2 = min(areas[(a, b)], totals[a], totals[b])
                    raw_m2 = self.raw_pair_m2(a, b) if raw else None
                for x, y in ((a, b), (b, a)):
                    rows[(x, y)] = PairRow(
                        a=x, b=y, a_kind=self.layer(x).kind.id, b_kind=self.layer(y).kind.id,
                        area=from_m2(m2, u), area_m2=m2,
                        share_a=m2 / totals[x] if totals[x] else 0.0,
                        share_b=m2 / totals[y] if totals[y] else 0.0,
                        a_area=from_m2(totals[x], u), b_area=from_m2(totals[y], u),
                        unit=u, method=self.method,
                        area_raw_sum=None if raw_m2 is None else from_m2(raw_m2, u),
                        area_raw_sum_m2=raw_m2)
        return [rows[(a, b)] for a in names for b in names]

    # --------------------------------------------------------------------------- conflicts
    def _rule_pairs(self, rule: ConflictRule) -> list[tuple[str, str]]:
        la = [lyr.name for lyr in self.layers if lyr.kind.id == rule.a.kind]
        lb = [lyr.name for lyr in self.layers if lyr.kind.id == rule.b.kind]
        return [(x, y) for x in la for y in lb if x != y or rule.a != rule.b]

    @_diagnosed
    def conflicts(self, rules: ConflictRules | Iterable[ConflictRule] | None = None,
                  unit: str = "km2", *, geometry: bool = True
                  ) -> tuple[list[RuleRow], gpd.GeoDataFrame]:
        """Apply conflict rules: one :class:`RuleRow` per rule and pair of layers, and the
        conflict polygons (one per pair of features, EPSG:4490) with both sides' fid and name.

        ``geometry=False`` leaves the polygons out (geometry None; ``lon``/``lat`` are still a
        point inside each): the polygons are not reprojected to EPSG:4490, which is most of
        the cost of a large listing that is not written to a file.
        """
        u = area_unit(unit).id
        rules = load_conflict_rules() if rules is None else rules
        summary: list[RuleRow] = []
        frames: list[gpd.GeoDataFrame] = []
        for rule in rules:
            pairs = self._rule_pairs(rule)
            if not pairs:
                summary.append(RuleRow(
                    rule.id, rule.name_zh, rule.severity.id, rule.severity.name_zh, rule.a.label,
                    rule.b.label, None, None, False, 0, 0.0, 0.0, 0.0, u, self.method,
                    rule.source, rule.article, rule.note))
                continue
            for la, lb in pairs:
                self._rule_sides[(rule.id, la, lb)] = (rule.a, rule.b)
                polys = self._conflict_polygons(rule, la, lb, u, geometry=geometry)
                m2 = float(self.measure(self.pair_pieces(la, lb, rule.a, rule.b)).sum())
                raw_m2 = float(polys["area_m2"].sum()) if len(polys) else 0.0
                summary.append(RuleRow(
                    rule.id, rule.name_zh, rule.severity.id, rule.severity.name_zh, rule.a.label,
                    rule.b.label, la, lb, True, len(polys), from_m2(m2, u), m2,
                    from_m2(raw_m2, u), u, self.method, rule.source, rule.article, rule.note))
                if len(polys):
                    frames.append(polys)
        if frames:
            out = pd.concat(frames, ignore_index=True)
            out = gpd.GeoDataFrame(out, geometry="geometry", crs=CGCS2000)
        else:
            out = gpd.GeoDataFrame({c: [] for c in CONFLICT_COLUMNS},
                                   geometry=gpd.GeoSeries([], crs=CGCS2000), crs=CGCS2000)
        return summary, out

    def _conflict_polygons(self, rule: ConflictRule, la: str, lb: str, unit: str, *,
                           geometry: bool = True) -> gpd.GeoDataFrame:
        pa, fa_pos = self.feature_parts(la, rule.a)
        pb, fb_pos = self.feature_parts(lb, rule.b)
        ia, ib, pieces = intersect_parts(pa, pb, workers=self.workers)
        fa, fb = fa_pos[ia], fb_pos[ib]
        if la == lb:  # the same layer on both sides: a feature never conflicts with itself
            keep = fa != fb
            fa, fb, pieces = fa[keep], fb[keep], pieces[keep]
        gdf_a, gdf_b = self.layer(la).gdf, self.layer(lb).gdf
        key = fa.astype(np.int64) * max(len(gdf_b), 1) + fb
        order = np.argsort(key, kind="stable")
        _, start, counts = np.unique(key[order], return_index=True, return_counts=True)
        geoms = pieces[order[start]].copy()
        for j in np.flatnonzero(counts > 1):  # a feature pair met in several parts: merge
            geoms[j] = shapely.union_all(pieces[order[start[j]:start[j] + counts[j]]])
        fa, fb = fa[order[start]], fb[order[start]]
        m2 = self.measure(geoms)
        big = m2 >= MIN_LISTED_M2
        geoms, fa, fb, m2 = geoms[big], fa[big], fb[big], m2[big]
        if geometry:
            lonlat = to_lonlat(geoms, self.target)  # densified: GK-straight edges stay so
            rep = shapely.point_on_surface(lonlat)
        else:  # only a point inside each polygon, moved to lon/lat
            lonlat = np.full(len(geoms), None, dtype=object)
            rep = np.asarray(to_lonlat(shapely.point_on_surface(geoms), self.target), dtype=object)
        return gpd.GeoDataFrame({
            "rule": rule.id, "rule_name": rule.name_zh, "severity": rule.severity.id,
            "severity_zh": rule.severity.name_zh,
            "a_layer": la, "a_fid": _fids(gdf_a, fa), "a_name": _names(gdf_a, fa),
            "a_bsm": _names(gdf_a, fa, ("bsm",)),
            "b_layer": lb, "b_fid": _fids(gdf_b, fb), "b_name": _names(gdf_b, fb),
            "b_bsm": _names(gdf_b, fb, ("bsm",)),
            "area": from_m2(m2, unit), "area_m2": m2, "unit": unit, "method": self.method,
            "lon": shapely.get_x(rep), "lat": shapely.get_y(rep),
        }, geometry=gpd.GeoSeries(lonlat, crs=CGCS2000), crs=CGCS2000)

    # ------------------------------------------------------------------------------ by zone
    def set_zones(self, zones: LoadedLayer, field: str = "name") -> None:
        """Use the features of ``zones`` (e.g. towns), named by ``field``, for the by-zone tables."""
        zg = to_metric(zones.gdf, target=self.target)
        if field not in zg.columns:
            raise InputError(f"zoning layer has no field {field!r}", layer=zones.name,
                             fix="add a name field")
        names = zg[field].astype(str).to_numpy()
        parts, pos = explode(np.asarray(zg.geometry.values, dtype=object))
        parts, pos = subdivide(parts, pos, max_vertices=self.max_vertices)
        self._zones = (zones.name, names, parts, pos)

    def split_by_zone(self, pieces) -> dict[str, float]:
        """Return the area (m²) of ``pieces`` (disjoint, working plane) inside each zone.

        Area outside every zone is under ``(outside)`` when it exceeds 1e-6 of the total.
        """
        if self._zones is None:
            raise InputError("no zoning layer set", fix="give --by admin with an admin layer")
        _, names, zparts, zpos = self._zones
        pieces = np.asarray(pieces, dtype=object)
        out = dict.fromkeys(names, 0.0)
        total = float(self.measure(pieces).sum()) if len(pieces) else 0.0
        if not len(pieces):
            return out
        _, iz, inside = intersect_parts(pieces, zparts, workers=self.workers)
        m2 = self.measure(inside)
        per = np.bincount(zpos[iz], weights=m2, minlength=len(names))
        for n, v in zip(names, per, strict=True):
            out[n] += float(v)
        outside = total - float(per.sum())
        if outside > max(1e-6 * total, 0.01):
            out["(outside)"] = outside
        return out

    @_diagnosed
    def matrix_by_zone(self, unit: str = "km2", *, names: Sequence[str] | None = None
                       ) -> list[ZonePairRow]:
        """Return the overlap matrix inside each zone (unordered pairs and the diagonal)."""
        u = area_unit(unit).id
        zname = self._zones[0] if self._zones else ""
        names = list(names) if names is not None else [
            lyr.name for lyr in self.layers if lyr.name != zname]
        own = {n: self.split_by_zone(self.dissolved(n).parts) for n in names}
        rows = []
        for i, a in enumerate(names):
            for b in names[i:]:
                split = own[a] if a == b else self.split_by_zone(self.pair_pieces(a, b))
                for zone, m2 in split.items():
                    ta, tb = own[a].get(zone, 0.0), own[b].get(zone, 0.0)
                    if a != b:  # a subset of both sides: clip the float noise of the measure
                        m2 = min(m2, ta, tb)
                    rows.append(ZonePairRow(zname, zone, a, b, from_m2(m2, u), m2,
                                            m2 / ta if ta else 0.0, m2 / tb if tb else 0.0, u,
                                            self.method))
        return rows

    @_diagnosed
    def conflicts_by_zone(self, summary: list[RuleRow], unit: str = "km2"
                          ) -> list[ZoneRuleRow]:
        """Return the dissolved area of each applicable rule row inside each zone."""
        u = area_unit(unit).id
        zname = self._zones[0] if self._zones else ""
        rows = []
        for r in summary:
            if not r.applicable:
                continue
            side_a, side_b = self._rule_sides[(r.rule, r.a_layer, r.b_layer)]
            split = self.split_by_zone(self.pair_pieces(r.a_layer, r.b_layer, side_a, side_b))
            for zone, m2 in split.items():
                rows.append(ZoneRuleRow(zname, zone, r.rule, r.severity, r.a_layer, r.b_layer,
                                        from_m2(m2, u), m2, u, self.method))
        return rows

    def zone_of(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Return the zone name holding each lon/lat point (``(outside)`` when none)."""
        if self._zones is None:
            raise InputError("no zoning layer set", fix="give --by admin with an admin layer")
        _, names, zparts, zpos = self._zones
        pts = np.asarray(gpd.GeoSeries(shapely.points(lon, lat), crs=CGCS2000)
                         .to_crs(self.target).values, dtype=object)
        out = np.full(len(pts), "(outside)", dtype=object)
        if len(pts):
            ip, iz = shapely.STRtree(zparts).query(pts, predicate="within")
            out[ip] = names[zpos[iz]]
        return out


def _fids(gdf: gpd.GeoDataFrame, pos: np.ndarray) -> np.ndarray:
    idx = np.asarray(gdf.index)[pos]
    try:
        return idx.astype(np.int64)
    except (TypeError, ValueError):
        return idx.astype(str)


def _names(gdf: gpd.GeoDataFrame, pos: np.ndarray, roles=LABEL_ROLES) -> np.ndarray:
    """Feature names from the layer's field roles (name, else BSM, 图斑编号, code; kinds.toml)."""
    return feature_labels(gdf, roles)[pos]


# ------------------------------------------------------------------------------- public API
def overlap_matrix(layers, method: str = "ellipsoidal", unit: str = "km2", *,
                   raw: bool = False, workers: int | None = None) -> list[PairRow]:
    """Return the dissolved overlap matrix of polygon layers (every ordered pair, diagonal too).

    Areas are in ``unit`` (``area_m2`` in m²), ellipsoidal on CGCS2000 by default. ``share_a``
    is the overlap's share of layer ``a``'s dissolved area.
    """
    return OverlapAnalysis(layers, method, workers=workers).matrix(unit, raw=raw)


def find_conflicts(layers, rules: ConflictRules | Iterable[ConflictRule] | None = None,
                   method: str = "ellipsoidal", unit: str = "km2", *,
                   workers: int | None = None) -> gpd.GeoDataFrame:
    """Return the conflict polygons (EPSG:4490), areas in ``unit``, of layers under ``rules``.

    One row per pair of features of the two sides of a rule that overlap, with the rule,
    severity, both layers, fids and names, ``area`` and ``area_m2``. Rules default to
    ``layers/conflicts.toml``.
    """
    return OverlapAnalysis(layers, method, workers=workers).conflicts(rules, unit)[1]


def write_gpkg(path: str | os.PathLike, layers: dict[str, gpd.GeoDataFrame]) -> Path:
    """Write GeoDataFrames as layers of a new GeoPackage, atomically (temp file + os.replace).

    Polygon layers are written as MultiPolygon; an existing file at ``path`` is replaced only
    when every layer was written.
    """
    p = Path(path)
    if p.suffix.lower() != ".gpkg":
        raise InputError("output must be a GeoPackage", file=str(p), fix="name it *.gpkg")
    from ecogis.workspace import check_output_gpkg

    check_output_gpkg(p, list(layers))
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmpname = tempfile.mkstemp(prefix=f".{p.stem}.", suffix=".tmp.gpkg", dir=p.parent)
    os.close(fd)
    tmp = Path(tmpname)
    tmp.unlink()
    try:
        for name, gdf in layers.items():
            out = gdf.copy()
            arr = np.asarray(out.geometry.values, dtype=object)
            tid = shapely.get_type_id(arr)
            geom_type = "Unknown"
            if len(arr) == 0 or np.isin(tid, (3, 6)).all():
                single = tid == 3
                if single.any():
                    arr = arr.copy()
                    arr[single] = [shapely.multipolygons([g]) for g in arr[single]]
                out = out.set_geometry(gpd.GeoSeries(arr, index=out.index, crs=gdf.crs))
                geom_type = "MultiPolygon"
            elif np.isin(tid, (0,)).all():
                geom_type = "Point"
            pyogrio.write_dataframe(out, tmp, layer=name, driver="GPKG",
                                    geometry_type=geom_type)
        os.replace(tmp, p)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return p
