"""Topology checks within one layer (areas in m²): self-overlaps, gaps in coverages, slivers.

* **self-overlap** — two features of the layer whose interiors overlap (any kind of layer).
  A coverage layer (``Kind.coverage``) that :func:`shapely.coverage_is_valid` accepts has
  none, so only the features it flags (:func:`shapely.coverage_invalid_edges`) are examined.
* **gap** — in a coverage layer, a hole of the union of its parcels that is no hole of the
  territory: an interior ring of the dissolved coverage of at most ``gap_m2``, and a crack
  narrower than ``gap_width_m`` opening to the outside (found from the edges
  :func:`shapely.coverage_invalid_edges` flags with that gap width). With a ``territory``
  (e.g. the county), only the part of a gap inside it counts: a hole of the territory (an
  enclave) is no gap of the layer.
* **sliver** — a polygon part smaller than ``sliver_m2``, or thinner than ``sliver_width_m``
  (mean width 2·area/perimeter in the Gauss-Krüger plane).

Each issue has its area (by ``method``, ellipsoidal by default), a representative point in
lon/lat (EPSG:4490) and the feature ids involved.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import geopandas as gpd
import numpy as np
import shapely

from ecogis.crs import CGCS2000
from ecogis.errors import GeometryError
from ecogis.measure import area, check_method, to_metric, working_metric_crs
from ecogis.overlay import (
    MIN_LISTED_M2,
    NOISE_M2,
    as_layers,
    coverage_valid,
    explode,
    intersect_parts,
    subdivide,
)
from ecogis.units import area_unit, from_m2

ISSUE_TYPES = ("self_overlap", "gap", "sliver")
DEFAULT_SLIVER_M2 = 1.0
DEFAULT_SLIVER_WIDTH_M = 0.5
DEFAULT_GAP_M2 = 100.0
DEFAULT_GAP_WIDTH_M = 1.0


@dataclass
class Issue:
    """One topology issue of a layer: its type, features, area (``unit``) and location."""

    layer: str
    type: str
    fid_a: object
    fid_b: object
    name_a: str | None
    name_b: str | None
    area: float
    area_m2: float
    unit: str
    method: str
    lon: float
    lat: float
    detail: str = ""
    geometry: object = field(default=None, repr=False)

    def as_dict(self) -> dict:
        """The issue without its geometry (JSON-friendly)."""
        d = asdict(self)
        d.pop("geometry")
        return d


def _fid(gdf: gpd.GeoDataFrame, pos) -> object:
    if pos is None:
        return None
    v = gdf.index[int(pos)]
    return int(v) if isinstance(v, (int, np.integer)) else str(v)


def _name(gdf: gpd.GeoDataFrame, pos) -> str | None:
    """A feature's name from the layer's field roles: name, else BSM, 图斑编号, code."""
    from ecogis.fields import feature_labels

    if pos is None:
        return None
    return feature_labels(gdf.iloc[[int(pos)]])[0]


def _self_overlaps(parts: np.ndarray, pos: np.ndarray, candidates: np.ndarray | None,
                   workers: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (pos_a, pos_b, overlap geometry) for each pair of features that overlap."""
    if candidates is None:
        qa, qpos = parts, pos
    else:
        keep = np.isin(pos, candidates)
        qa, qpos = parts[keep], pos[keep]
    ia, ib, pieces = intersect_parts(qa, parts, workers=workers)
    fa, fb = qpos[ia], pos[ib]
    other = fa != fb
    fa, fb, pieces = fa[other], fb[other], pieces[other]
    lo, hi = np.minimum(fa, fb), np.maximum(fa, fb)
    if candidates is not None:
        # a pair of two candidates was found from both sides: keep it once
        both = np.isin(fb, candidates)
        keep = ~both | (fa < fb)
        lo, hi, pieces = lo[keep], hi[keep], pieces[keep]
    else:
        keep = fa < fb
        lo, hi, pieces = lo[keep], hi[keep], pieces[keep]
    if not len(pieces):
        return lo, hi, pieces
    key = lo.astype(np.int64) * (int(pos.max()) + 1) + hi
    order = np.argsort(key, kind="stable")
    _, start, counts = np.unique(key[order], return_index=True, return_counts=True)
    geoms = pieces[order[start]].copy()
    for j in np.flatnonzero(counts > 1):
        geoms[j] = shapely.union_all(pieces[order[start[j]:start[j] + counts[j]]])
    return lo[order[start]], hi[order[start]], geoms


def _holes(polys: np.ndarray) -> np.ndarray:
    """Return the holes of a dissolved layer's parts: interior rings as polygons, minus any
    part (island) lying inside them."""
    if not len(polys):
        return np.array([], dtype=object)
    rings, idx = shapely.get_rings(polys, return_index=True)
    first = np.r_[True, idx[1:] != idx[:-1]]
    holes = shapely.polygons(rings[~first])
    if len(holes):
        ih, ip = shapely.STRtree(polys).query(holes, predicate="contains_properly")
        for h in np.unique(ih):
            holes[h] = shapely.difference(holes[h], shapely.union_all(polys[ip[ih == h]]))
    return holes


def topology_check(layer, *, sliver_m2: float = DEFAULT_SLIVER_M2,
                   sliver_width_m: float = DEFAULT_SLIVER_WIDTH_M,
                   gap_m2: float = DEFAULT_GAP_M2, gap_width_m: float = DEFAULT_GAP_WIDTH_M,
                   territory=None, method: str = "ellipsoidal", unit: str = "m2",
                   coverage: bool | None = None, workers: int | None = None,
                   min_overlap_m2: float = MIN_LISTED_M2) -> list[Issue]:
    """Return the topology issues of one polygon layer (self-overlaps, gaps, slivers).

    Parameters
    ----------
    layer
        A :class:`~ecogis.workspace.LoadedLayer` or ``(name, GeoDataFrame[, kind])``.
    sliver_m2, sliver_width_m
        A part is a sliver below this area (m²) or this mean width (m).
    gap_m2, gap_width_m
        In a coverage layer, holes of the union up to this area (m²) and cracks narrower than
        this (m) are gaps.
    territory
        GeoDataFrame/GeoSeries of the territory (e.g. the county): the parts of gaps outside it
        (its own holes, enclaves) are not gaps.
    method, unit
        How areas are measured and reported.
    coverage
        Treat the layer as a coverage (default: its kind's ``coverage``).
    min_overlap_m2
        Self-overlaps smaller than this (m²; default 0.01, the precision 三调 keeps areas to)
        are slivers of shared boundaries digitised twice, not reported.
    """
    check_method(method)
    lyr = as_layers([layer])[0]
    try:
        return _check(lyr, sliver_m2, sliver_width_m, gap_m2, gap_width_m, territory, method,
                      unit, coverage, workers, min_overlap_m2)
    except shapely.errors.GEOSException as exc:
        geoms = np.asarray(lyr.gdf.geometry.values, dtype=object)
        bad = np.flatnonzero(~shapely.is_valid(geoms) & ~shapely.is_missing(geoms))
        if len(bad):
            raise GeometryError(
                f"{len(bad)} invalid geometries, first: {shapely.is_valid_reason(geoms[bad[0]])}",
                layer=lyr.name, feature=_fid(lyr.gdf, bad[0]),
                fix="import the layer with `ecogis import`, which repairs and reports") from exc
        raise


def _check(lyr, sliver_m2, sliver_width_m, gap_m2, gap_width_m, territory, method, unit,
           coverage, workers, min_overlap_m2) -> list[Issue]:
    u = area_unit(unit).id
    gdf = lyr.gdf
    is_cov = lyr.kind.coverage if coverage is None else coverage
    if not len(gdf):
        return []
    target = working_metric_crs(gdf)
    m = to_metric(gdf, target=target)
    geoms = np.asarray(m.geometry.values, dtype=object)
    parts, pos = explode(geoms)
    issues: list[Issue] = []

    def add(kind: str, geoms_: np.ndarray, pa, pb, detail: str) -> None:
        if not len(geoms_):
            return
        m2 = area(geoms_, method, target)
        rep = np.asarray(gpd.GeoSeries(shapely.point_on_surface(geoms_), crs=target)
                         .to_crs(CGCS2000).values, dtype=object)
        lonlat = np.asarray(gpd.GeoSeries(geoms_, crs=target).to_crs(CGCS2000).values,
                            dtype=object)
        for k in range(len(geoms_)):
            if kind == "self_overlap" and m2[k] < min_overlap_m2:
                continue
            if kind == "gap" and m2[k] <= NOISE_M2:
                continue
            a = None if pa is None else pa[k]
            b = None if pb is None else pb[k]
            issues.append(Issue(
                lyr.name, kind, _fid(gdf, a), _fid(gdf, b), _name(gdf, a), _name(gdf, b),
                float(from_m2(m2[k], u)), float(m2[k]), u, method,
                float(shapely.get_x(rep[k])), float(shapely.get_y(rep[k])),
                detail[k] if isinstance(detail, list) else detail, lonlat[k]))

    # self-overlaps
    valid = False
    candidates = None
    if is_cov:
        valid = coverage_valid(parts, workers=workers)
        if not valid:
            bad = ~shapely.is_empty(shapely.coverage_invalid_edges(parts))
            candidates = np.unique(pos[bad])
    if not valid:
        sub, spos = subdivide(parts, pos)
        fa, fb, ov = _self_overlaps(sub, spos, candidates, workers)
        add("self_overlap", ov, fa, fb, "features overlap")

    # gaps (coverage layers only)
    if is_cov and len(parts):
        union = shapely.coverage_union_all(parts) if valid else \
            shapely.disjoint_subset_union_all(parts)
        uparts, _ = explode([union])
        holes = _holes(uparts)
        terr = None
        if territory is not None:
            tparts, _ = explode(np.asarray(to_metric(territory, target=target).geometry.values,
                                           dtype=object))
            terr = shapely.union_all(tparts)
            shapely.prepare(terr)
        gaps = []
        if len(holes):
            holes = holes[area(holes, method, target) <= gap_m2]
            if terr is not None and len(holes):
                holes, _ = explode(shapely.intersection(holes, terr))
            gaps = list(holes)
        if gap_width_m > 0:
            gaps += _narrow_gaps(parts, uparts, gap_width_m, terr)
        gaps = np.array(gaps, dtype=object)
        if len(gaps):
            # the parcels on the rim of each gap
            tree = shapely.STRtree(parts)
            ig, ip = tree.query(gaps, predicate="touches")
            rim = [sorted({int(p) for p in pos[ip[ig == k]]})[:2] for k in range(len(gaps))]
            pa = [r[0] if r else None for r in rim]
            pb = [r[1] if len(r) > 1 else None for r in rim]
            add("gap", gaps, pa, pb, "hole in the coverage")

    # slivers
    if len(parts):
        a_pl = shapely.area(parts)
        width = np.where(shapely.length(parts) > 0, 2 * a_pl / shapely.length(parts), 0.0)
        m2 = area(parts, method, target)
        sl = (m2 < sliver_m2) | (width < sliver_width_m)
        idx = np.flatnonzero(sl)
        detail = [f"area {m2[k]:.3g} m², mean width {width[k]:.3g} m" for k in idx]
        add("sliver", parts[idx], pos[idx], None, detail)
    return issues


def _narrow_gaps(parts: np.ndarray, uparts: np.ndarray, width: float, terr) -> list:
    """Cracks narrower than ``width`` between parcels that open to the outside (not holes)."""
    try:
        edges = shapely.coverage_invalid_edges(parts, gap_width=width)
    except shapely.errors.GEOSException:
        return []
    flagged = ~shapely.is_empty(edges)
    if not flagged.any():
        return []
    near = parts[flagged]
    u = shapely.union_all(near)
    closed = shapely.buffer(shapely.buffer(u, width, join_style="mitre"), -width,
                            join_style="mitre")
    around = parts[shapely.STRtree(parts).query(closed, predicate="intersects")]
    crack = shapely.difference(closed, shapely.union_all(around))
    pieces, _ = explode([crack])
    if not len(pieces):
        return []
    lines = shapely.union_all(edges[flagged])
    pieces = pieces[shapely.intersects(pieces, shapely.buffer(lines, width / 10))]
    # holes are reported as holes
    holes = _holes(uparts)
    if len(holes):
        inhole = np.zeros(len(pieces), dtype=bool)
        ip, _ = shapely.STRtree(holes).query(pieces, predicate="covered_by")
        inhole[ip] = True
        pieces = pieces[~inhole]
    if terr is not None and len(pieces):
        pieces, _ = explode(shapely.intersection(pieces, terr))
    return list(pieces)


def issues_frame(issues: list[Issue]) -> gpd.GeoDataFrame:
    """Return the issues as a GeoDataFrame in EPSG:4490 (one row per issue)."""
    cols = [k for k in Issue.__dataclass_fields__ if k != "geometry"]
    rows = [i.as_dict() for i in issues]
    geoms = [i.geometry for i in issues]
    data = {c: [r[c] for r in rows] for c in cols}
    for c in ("fid_a", "fid_b"):
        data[c] = [None if v is None else str(v) for v in data[c]]
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(geoms, crs=CGCS2000), crs=CGCS2000)
