"""Project siting checks: may this project be built here? Verdicts with citations, in metres.

The engine takes the control-line layers as a mapping ``name -> (kind, GeoDataFrame)`` (so it
does not depend on how they are stored) and a :class:`~ecogis.rules.Rulebook`. It projects
everything once into one CGCS2000 Gauss-Krüger plane (:func:`ecogis.crs.metric_crs`), explodes
each layer to polygon/line parts (large parts are subdivided) and builds one
:class:`shapely.STRtree` per layer. A check of N sites is then, per layer, one bulk tree query
for all sites, vectorised distances, predicates and intersection areas over the (site, part)
pairs, and vectorised rule evaluation; Python loops only build the result records.

Sites: a point with ``radius_m`` becomes a disc (a 4·:data:`CIRCLE_QUAD_SEGS`-gon), a line with
``width_m`` a corridor of that width (flat caps, mitred joins, so its area is length × width),
a polygon stays itself. Without a radius or width a point or line has no area: it is tested
for position and distance, and its overlap areas are 0.

Areas are square metres. ``method="ellipsoidal"`` (default) gives the area on the CGCS2000
ellipsoid of every site, layer part (once per layer) and intersection piece, by
:func:`ellipsoidal_area`: pieces up to 5 km across as the planar area divided by the exact
areal scale at their centroid (< 1e-7 from the geodesic area), larger ones geodesically (the
numbers of :func:`ecogis.measure.geodesic_area`). Sites and their pieces are measured the
same way, so "entirely inside" comparisons are consistent. ``method="projected"`` gives the planar area in the
GK plane. Where a layer overlaps itself, the dissolved share of the overlapping pieces is taken
from their planar union (a ratio, so the scale of the plane cancels). Distances are metres in the GK plane.
"""

from __future__ import annotations

import json
import math
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.ops
from pyproj import CRS, Proj

from ecogis.crs import CGCS2000, CHINA_LONLAT, crs_label, gk_zone_of, metric_crs, transformer
from ecogis.errors import EcogisWarning, GeometryError, InputError
from ecogis.fields import unique_labels
from ecogis.kinds import Kind
from ecogis.measure import geodesic_area
from ecogis.rules import (
    CONSTRUCTION_ALIASES,
    SEVERITY,
    VERDICT_ZH,
    CategoryRegistry,
    Rule,
    Rulebook,
    most_severe,
)

#: quarter-circle segments of a disc site (4·32 = 128-gon: area 0.04 % under the circle)
CIRCLE_QUAD_SEGS = 32
#: mitre limit of corridor joins (GEOS: mitre length over half-width; beyond it, bevelled)
MITRE_LIMIT = 5.0
#: layer parts with more vertices than this are split (the ST_Subdivide lesson)
MAX_PART_VERTICES = 256
#: area methods
METHODS = ("ellipsoidal", "projected")
#: kinds whose overlap is reported per site as occupied farmland
FARMLAND_KIND = "farmland"
#: kind of the river network the ``upstream`` test walks (line direction = flow direction)
RIVER_KIND = "river"
#: river line ends closer than this (m) are one node of the network
NODE_SNAP_M = 1.0
#: kind whose parcels give each site's 压占 by 地类 (``site["landuse"]``)
LANDUSE_KIND = "landuse"
#: compensation type of permanent-farmland 补划 (reported as compensation_m2)
_POLYGONAL = ("Polygon", "MultiPolygon")
_INF = np.iinfo(np.int64).max


class SitingWarning(EcogisWarning):
    """A siting input was repaired or a check could not be evaluated completely."""


# --------------------------------------------------------------------------- helpers


def _threads(threads: int | None) -> int:
    if threads is not None:
        return max(1, int(threads))
    return max(1, min(2, os.cpu_count() or 1))


def _parallel(func, n_threads: int, *arrays: np.ndarray, min_chunk: int = 4000) -> np.ndarray:
    """Apply a vectorised shapely ``func`` over aligned arrays, split across threads."""
    n = len(arrays[0])
    if n_threads <= 1 or n < 2 * min_chunk:
        return func(*arrays)
    k = min(n_threads, n // min_chunk)
    bounds = np.linspace(0, n, k + 1).astype(int)
    with ThreadPoolExecutor(k) as ex:
        parts = list(ex.map(lambda i: func(*(a[bounds[i]:bounds[i + 1]] for a in arrays)),
                            range(k)))
    return np.concatenate(parts)


#: pieces up to this size (m, larger bbox side) are measured by areal scale, larger ones
#: geodesically; the two differ by less than 1e-7 relative at this size
SCALE_METHOD_MAX_M = 5_000.0


def _areal_scale(crs: CRS, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Return the areal scale factor of the GK projection ``crs`` at plane points (x, y)."""
    if len(x) == 0:
        return np.ones(0)
    lon, lat = transformer(crs, CGCS2000).transform(x, y)
    return np.asarray(Proj(crs).get_factors(lon, lat).areal_scale, dtype=float)


def ellipsoidal_area(geoms, crs: CRS, threads: int = 1) -> np.ndarray:
    """Return the ellipsoidal area (m², CGCS2000) of GK-plane geometries, fast and exact enough.

    Pieces up to :data:`SCALE_METHOD_MAX_M` across: planar area divided by the projection's
    exact areal scale at the centroid (relative difference from the geodesic area < 1e-7);
    larger pieces: the geodesic area itself (:func:`ecogis.measure.geodesic_area`).
    """
    geoms = np.asarray(geoms, dtype=object)
    out = shapely.area(geoms).astype(float)
    pos = np.flatnonzero(out > 0)
    if not len(pos):
        return out
    b = shapely.bounds(geoms[pos])
    size = np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])
    small, large = pos[size <= SCALE_METHOD_MAX_M], pos[size > SCALE_METHOD_MAX_M]
    if len(small):
        c = shapely.centroid(geoms[small])
        out[small] = out[small] / _areal_scale(crs, shapely.get_x(c), shapely.get_y(c))
    if len(large):
        out[large] = geodesic_area(geoms[large], crs, workers=threads)
    return out


def _group_starts(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (order, unique sorted keys, start offsets) for grouping ``keys``."""
    order = np.argsort(keys, kind="stable")
    uniq, starts = np.unique(keys[order], return_index=True)
    return order, uniq, starts


def _plain_id(v: Any) -> Any:
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        f = float(v)
        return int(f) if f.is_integer() else f
    return v


def _union_rows(mat: np.ndarray) -> np.ndarray:
    return shapely.area(shapely.union_all(mat, axis=1))


def _dissolved_areas(pieces: np.ndarray, group: np.ndarray, n_groups: int,
                     n_threads: int = 1) -> np.ndarray:
    """Return the planar area of the union of ``pieces`` per group (overlaps count once)."""
    out = np.zeros(n_groups)
    if len(pieces) == 0:
        return out
    counts = np.bincount(group, minlength=n_groups)
    single = counts[group] == 1
    out[group[single]] = shapely.area(pieces[single])
    multi = np.flatnonzero(counts > 1)
    if len(multi) == 0:
        return out
    sel = ~single
    g, p = group[sel], pieces[sel]
    order = np.argsort(g, kind="stable")
    g, p = g[order], p[order]
    uniq, starts = np.unique(g, return_index=True)
    sizes = np.diff(np.append(starts, len(g)))
    # bucket groups by size so the padded 2-D arrays stay small; union_all(axis=1) is vectorised
    for lo, hi in ((2, 4), (5, 16), (17, 64), (65, 256), (257, 1 << 62)):
        bsel = np.flatnonzero((sizes >= lo) & (sizes <= hi))
        if len(bsel) == 0:
            continue
        width = int(sizes[bsel].max())
        if hi > 256:
            for b in bsel:
                out[uniq[b]] = shapely.area(shapely.union_all(p[starts[b]:starts[b] + sizes[b]]))
            continue
        mat = np.full((len(bsel), width), None, dtype=object)
        for row, b in enumerate(bsel):
            mat[row, : sizes[b]] = p[starts[b]:starts[b] + sizes[b]]
        out[uniq[bsel]] = _parallel(_union_rows, n_threads, mat, min_chunk=64)
    return out


def _subdivide(geoms: np.ndarray, owner: np.ndarray, max_vertices: int
               ) -> tuple[np.ndarray, np.ndarray]:
    """Split parts with more than ``max_vertices`` vertices by halving their bounding box."""
    done_g, done_o = [], []
    g, o = geoms, owner
    for _ in range(40):
        small = shapely.get_num_coordinates(g) <= max_vertices
        done_g.append(g[small])
        done_o.append(o[small])
        g, o = g[~small], o[~small]
        if len(g) == 0:
            break
        b = shapely.bounds(g)
        wide = (b[:, 2] - b[:, 0]) >= (b[:, 3] - b[:, 1])
        mx, my = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
        x0, y0, x1, y1 = b[:, 0] - 1, b[:, 1] - 1, b[:, 2] + 1, b[:, 3] + 1
        box_a = shapely.box(x0, y0, np.where(wide, mx, x1), np.where(wide, y1, my))
        box_b = shapely.box(np.where(wide, mx, x0), np.where(wide, y0, my), x1, y1)
        src_dim = np.concatenate([shapely.get_dimensions(g)] * 2)
        halves = np.concatenate([shapely.intersection(g, box_a), shapely.intersection(g, box_b)])
        parts, idx = shapely.get_parts(halves, return_index=True)
        keep = ~shapely.is_empty(parts) & (shapely.get_dimensions(parts) == src_dim[idx])
        g, o = parts[keep], np.concatenate([o, o])[idx][keep]
    else:  # pragma: no cover - 40 halvings is far beyond any real part
        done_g.append(g)
        done_o.append(o)
    return np.concatenate(done_g), np.concatenate(done_o)


# --------------------------------------------------------------------------- layers


@dataclass
class LayerIndex:
    """One layer projected to the metric plane, exploded to parts, with its STRtree."""

    name: str
    kind: Kind
    gdf: gpd.GeoDataFrame
    feature_ids: np.ndarray
    geoms: np.ndarray
    parts: np.ndarray
    part_feature: np.ndarray
    part_area: np.ndarray
    tree: shapely.STRtree
    overlaps: np.ndarray | None
    areal: bool
    _centroids: np.ndarray | None = None
    _geo_area: np.ndarray | None = None
    _labels: np.ndarray | None = None

    def labels(self) -> np.ndarray:
        """Feature names from the name/BSM/图斑编号/code roles (None where a feature has none)."""
        if self._labels is None:
            from ecogis.fields import feature_labels

            self._labels = feature_labels(self.gdf)
        return self._labels

    def part_area_geodesic(self, crs: CRS, threads: int = 1) -> np.ndarray:
        """Ellipsoidal area (m², CGCS2000, :func:`ellipsoidal_area`) of every part, once."""
        if self._geo_area is None:
            self._geo_area = ellipsoidal_area(self.parts, crs, threads)
        return self._geo_area

    @property
    def n_features(self) -> int:
        return len(self.feature_ids)

    @property
    def disjoint(self) -> bool:
        """True when no two features share interior (sums of pieces are dissolved areas)."""
        return self.overlaps is not None and len(self.overlaps) == 0

    def part_centroids(self) -> np.ndarray:
        """Return (x, y) of every part's centroid (computed once)."""
        if self._centroids is None:
            c = shapely.centroid(self.parts)
            self._centroids = np.column_stack([shapely.get_x(c), shapely.get_y(c)])
        return self._centroids

    def column(self, name: str) -> np.ndarray | None:
        """Return a feature attribute column as an object array, or None when absent."""
        if name not in self.gdf.columns:
            return None
        return self.gdf[name].to_numpy(dtype=object)

    def numeric_column(self, name: str) -> np.ndarray:
        """Return a numeric attribute (NaN where missing or not a number)."""
        if name not in self.gdf.columns:
            return np.full(self.n_features, np.nan)
        vals = pd.to_numeric(self.gdf[name], errors="coerce").to_numpy(dtype=float, copy=True)
        vals[~np.isfinite(vals) | (vals <= 0)] = np.nan
        return vals


def _overlapping_pairs(parts: np.ndarray, owner: np.ndarray, tree: shapely.STRtree,
                       coverage: bool) -> np.ndarray | None:
    """Return the (a, b) feature pairs (a < b) whose interiors intersect.

    An empty array means the layer's features are disjoint, so sums of pieces are dissolved
    areas. None means "not checked" (a huge layer that is not a valid coverage): every site
    with several features of the layer is then dissolved with a union.
    """
    empty = np.zeros((0, 2), dtype=np.int64)
    if len(parts) == 0 or shapely.get_dimensions(parts).max() < 2:
        return empty
    if coverage:
        try:
            if shapely.coverage_is_valid(parts):
                return empty
        except Exception:  # pragma: no cover - GEOS refuses odd input: check below
            pass
    if len(parts) > 200_000:
        return None
    a, b = tree.query(parts, predicate="intersects")
    keep = (a < b) & (owner[a] != owner[b])
    a, b = a[keep], b[keep]
    inter = shapely.relate_pattern(parts[a], parts[b], "T********")
    fa, fb = owner[a[inter]], owner[b[inter]]
    pairs = np.column_stack([np.minimum(fa, fb), np.maximum(fa, fb)])
    return np.unique(pairs, axis=0) if len(pairs) else empty


def _groups_needing_union(group: np.ndarray, feat: np.ndarray,
                          overlaps: np.ndarray | None) -> np.ndarray:
    """Return the groups that hold both features of an overlapping pair (or any 2 if None)."""
    counts = np.bincount(group)
    if overlaps is None:
        return np.flatnonzero(counts > 1)
    multi = counts[group] > 1
    if len(overlaps) == 0 or not multi.any():
        return np.zeros(0, dtype=np.int64)
    df = pd.DataFrame({"g": group[multi], "f": feat[multi]})
    edges = pd.DataFrame({"f": overlaps[:, 0], "b": overlaps[:, 1]})
    first = df.merge(edges, on="f")
    both = first.merge(df.rename(columns={"f": "b"}), on=["g", "b"])
    return np.unique(both["g"].to_numpy())


def build_layer_index(name: str, kind: Kind, gdf: gpd.GeoDataFrame, crs: CRS, *,
                      max_vertices: int = MAX_PART_VERTICES) -> LayerIndex:
    """Project ``gdf`` to ``crs``, explode and subdivide it, and build its STRtree."""
    if gdf.crs is None:
        raise InputError("layer has no CRS", layer=name,
                         fix="import it into the workspace with --crs")
    g = gdf if CRS.from_user_input(gdf.crs) == crs else gdf.to_crs(crs)
    geoms = np.asarray(g.geometry.values, dtype=object)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    invalid = ~missing & ~shapely.is_valid(geoms)
    if invalid.any():
        ids = list(g.index[invalid][:5])
        warnings.warn(f"layer {name!r}: {int(invalid.sum())} invalid geometries repaired with "
                      f"make_valid for the check (features {ids}...); fix them in the "
                      "workspace with `ecogis validate`", SitingWarning, stacklevel=2)
        geoms = geoms.copy()
        geoms[invalid] = shapely.make_valid(geoms[invalid])
    parts, owner = shapely.get_parts(np.where(missing, None, geoms), return_index=True)
    if kind.geometry == "polygon":
        keep = shapely.get_dimensions(parts) == 2
        parts, owner = parts[keep], owner[keep]
    parts, owner = _subdivide(parts, owner, max_vertices)
    order = np.argsort(owner, kind="stable")
    parts, owner = parts[order], owner[order]
    tree = shapely.STRtree(parts)
    areal = bool(len(parts)) and bool((shapely.get_dimensions(parts) == 2).all())
    overlaps = _overlapping_pairs(parts, owner, tree, kind.coverage)
    return LayerIndex(
        name=name, kind=kind, gdf=g.drop(columns=g.geometry.name), feature_ids=g.index.to_numpy(),
        geoms=geoms, parts=parts, part_feature=owner, part_area=shapely.area(parts), tree=tree,
        overlaps=overlaps, areal=areal,
    )


# --------------------------------------------------------------------------- sites


@dataclass
class SiteSet:
    """Sites ready for checking: ids, categories and geometry in the metric plane."""

    ids: list[Any]
    categories: list[str]
    geoms: np.ndarray  # metric plane, buffered (discs, corridors)
    source: np.ndarray  # metric plane, as given (points, lines, polygons)
    geometry_types: list[str]
    radius_m: np.ndarray
    width_m: np.ndarray
    crs: CRS
    names: list[str | None]
    extra: list[dict[str, Any]]
    #: 建设性质 of each site: new | expansion | rebuild (``new`` when not given)
    construction: np.ndarray | None = None
    #: declared capacity of each site (NaN when not given), in the unit the rules name
    capacity: np.ndarray | None = None
    #: sites refused as bad input (unknown category ...): {"id", "error"}; not checked
    errors: list[dict[str, Any]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)

    def slice(self, start: int, stop: int) -> SiteSet:
        """Return sites ``start:stop`` (for checking a big batch a chunk at a time)."""
        return SiteSet(self.ids[start:stop], self.categories[start:stop],
                       self.geoms[start:stop], self.source[start:stop],
                       self.geometry_types[start:stop], self.radius_m[start:stop],
                       self.width_m[start:stop], self.crs, self.names[start:stop],
                       self.extra[start:stop],
                       construction=(None if self.construction is None
                                     else self.construction[start:stop]),
                       capacity=None if self.capacity is None else self.capacity[start:stop],
                       errors=list(self.errors) if start == 0 else [])

    @property
    def areal(self) -> np.ndarray:
        return shapely.get_dimensions(self.geoms) == 2


def _column(gdf: pd.DataFrame, *names: str) -> pd.Series | None:
    lower = {c.lower(): c for c in gdf.columns}
    for n in names:
        if n in gdf.columns:
            return gdf[n]
        if n.lower() in lower:
            return gdf[lower[n.lower()]]
    return None


def _positive(series: pd.Series | None, n: int, default: float | None, what: str,
              ids: Sequence[Any], file: str | None) -> np.ndarray:
    out = np.full(n, np.nan if default is None else float(default))
    if series is not None:
        from ecogis.formats.tables import lengths_m

        vals = lengths_m(series.to_numpy(dtype=object), what, ids, file)
        have = ~np.isnan(vals)
        out[have] = vals[have]
    bad = np.flatnonzero(~np.isnan(out) & ((out < 0) | ~np.isfinite(out)))
    if len(bad):
        raise InputError(f"{what} must be a finite number of metres >= 0, not {out[bad[0]]}",
                         file=file, feature=ids[bad[0]], fix=f"correct {what}")
    return out


def prepare_sites(gdf: gpd.GeoDataFrame, crs: CRS, categories: CategoryRegistry, *,
                  category: str | None = None, width_m: float | None = None,
                  radius_m: float | None = None, file: str | None = None) -> SiteSet:
    """Return the sites of ``gdf`` as a :class:`SiteSet` in the metric plane ``crs``.

    Columns used when present: ``id``, ``category`` (id or alias), ``use`` (a 界址点 block's
    用途: taken as the category when it is a known alias), ``name``, ``radius_m`` / ``radius``
    and ``width_m`` / ``width`` (metres). ``category``, ``radius_m`` and ``width_m`` are the
    defaults for sites without their own. A 界址点 file's declared-area check
    (:func:`ecogis.jzd.read_jzd`) is carried into each site's result as ``declared_area``. A point with a radius becomes a disc,
    a line with a width a corridor (flat caps, mitred joins). Raises
    :class:`~ecogis.errors.InputError` for an unknown category, a missing category, an empty
    geometry or lon/lat outside China.
    """
    if gdf.crs is None:
        raise InputError("the sites have no CRS", file=file, fix="pass --crs EPSG:XXXX")
    n = len(gdf)
    if n == 0:
        raise InputError("no sites to check", file=file, fix="give at least one site")
    idcol = _column(gdf, "id", "site_id", "编号", "地块编号")
    ids = [(_plain_id(v) if v is not None and not (isinstance(v, float) and math.isnan(v))
            else i + 1) for i, v in enumerate(idcol if idcol is not None else range(1, n + 1))]
    if len(set(map(str, ids))) != n:
        seen: set[str] = set()
        dup = next(i for i in ids if str(i) in seen or seen.add(str(i)))
        raise InputError(f"site id {dup!r} is used twice", file=file, feature=dup,
                         fix="give every site a unique id")
    default = categories.resolve(category, file=file).id if category else None
    catcol = _column(gdf, "category", "类别", "项目类别")
    usecol = _column(gdf, "use", "用途", "地块用途")
    catvals = catcol.to_numpy(dtype=object) if catcol is not None else None
    usevals = usecol.to_numpy(dtype=object) if usecol is not None else None
    conscol = _column(gdf, "construction", "建设性质", "建设类型")
    consvals = conscol.to_numpy(dtype=object) if conscol is not None else None
    cats: list[str] = []
    construction: list[str] = []
    resolved: dict[Any, str] = {}
    errors: list[dict[str, Any]] = []  # per site: the rest of the batch is still checked
    if consvals is None:
        construction = ["new"] * n
    else:  # 建设性质: new | expansion | rebuild (Chinese aliases), blank = new
        raw_c = pd.Series(consvals, dtype=object)
        blank = raw_c.isna() | (raw_c.astype(str).str.strip() == "")
        mapped = raw_c.astype(str).str.strip().str.lower().map(CONSTRUCTION_ALIASES)
        construction = np.where(blank, "new", mapped.fillna("new")).tolist()
        for i in np.flatnonzero(~blank.to_numpy() & mapped.isna().to_numpy()):
            err = InputError(f"unknown construction {consvals[i]!r}", file=file,
                             feature=ids[i], fix="write new/expansion/rebuild (新建/扩建/改建)")
            errors.append({"index": int(i), "id": ids[i], "error": str(err), "exc": err})
    for i in range(n):
        v = catvals[i] if catvals is not None else None
        if v is not None and not (isinstance(v, float) and math.isnan(v)) and v in resolved:
            cats.append(resolved[v])
            continue
        if v is None or (isinstance(v, float) and math.isnan(v)) or str(v).strip() == "":
            # a 界址点 block's 用途 names the category when it is a known alias
            use = categories.find(usevals[i]) if usevals is not None else None
            if use is not None:
                cats.append(use.id)
                continue
            if default is None:
                raise InputError("site has no category", file=file, feature=ids[i],
                                 fix="add a category column or pass --category ID")
            cats.append(default)
        else:
            try:
                resolved[v] = categories.resolve(v, file=file, feature=ids[i]).id
            except InputError as err:
                errors.append({"index": i, "id": ids[i], "error": str(err), "exc": err})
                cats.append("")
                continue
            cats.append(resolved[v])
    capcol = _column(gdf, "capacity", "规模", "设计规模")
    capacity = (pd.to_numeric(capcol, errors="coerce").to_numpy(dtype=float)
                if capcol is not None else np.full(n, np.nan))
    if errors:
        bad_idx = {e["index"] for e in errors}
        if len(bad_idx) == n:
            raise errors[0]["exc"]
        keep = np.array([i not in bad_idx for i in range(n)])
        gdf = gdf[keep]
        ids = [x for x, k in zip(ids, keep, strict=True) if k]
        cats = [x for x, k in zip(cats, keep, strict=True) if k]
        construction = [x for x, k in zip(construction, keep, strict=True) if k]
        capacity = capacity[keep]
        n = len(gdf)
        for e in errors:
            e.pop("index")
            e.pop("exc")
    radius = _positive(_column(gdf, "radius_m", "radius"), n, radius_m, "radius_m", ids, file)
    width = _positive(_column(gdf, "width_m", "width"), n, width_m, "width_m", ids, file)
    namecol = _column(gdf, "name", "名称", "地块名称")
    namevals = namecol.to_numpy(dtype=object) if namecol is not None else [None] * n
    names = [None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
             for v in namevals]
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    bad = np.flatnonzero(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if len(bad):
        raise GeometryError("site has no geometry", file=file, feature=ids[bad[0]],
                            fix="give every site a point, line or polygon")
    lonlat = gpd.GeoSeries(geoms, crs=gdf.crs).to_crs(CGCS2000)
    b = lonlat.bounds.to_numpy()
    outside = ~((b[:, 0] >= CHINA_LONLAT[0]) & (b[:, 2] <= CHINA_LONLAT[2])
                & (b[:, 1] >= CHINA_LONLAT[1]) & (b[:, 3] <= CHINA_LONLAT[3]))
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        raise InputError(
            f"site lies at lon {b[i, 0]:.4f}..{b[i, 2]:.4f}, lat {b[i, 1]:.4f}..{b[i, 3]:.4f}, "
            "outside China (70-140°E, 0-56°N)", file=file, feature=ids[i],
            fix="check the coordinates (lon before lat) and the CRS")
    src_crs = CRS.from_user_input(gdf.crs)
    src = geoms if src_crs == crs else np.asarray(
        gpd.GeoSeries(geoms, crs=src_crs).to_crs(crs).values, dtype=object)
    invalid = ~shapely.is_valid(src)
    if invalid.any():
        warnings.warn(f"{int(invalid.sum())} invalid site geometries repaired with make_valid "
                      f"(sites {[ids[i] for i in np.flatnonzero(invalid)[:5]]})", SitingWarning,
                      stacklevel=2)
        src = src.copy()
        src[invalid] = shapely.make_valid(src[invalid])
    gtypes = shapely.get_type_id(src)
    dims = shapely.get_dimensions(src)
    out = src.copy()
    pts = (dims == 0) & ~np.isnan(radius) & (radius > 0)
    if pts.any():
        out[pts] = shapely.buffer(src[pts], radius[pts], quad_segs=CIRCLE_QUAD_SEGS)
    lines = (dims == 1) & ~np.isnan(width) & (width > 0)
    if lines.any():
        out[lines] = shapely.buffer(src[lines], width[lines] / 2, cap_style="flat",
                                    join_style="mitre", mitre_limit=MITRE_LIMIT)
    extra: list[dict[str, Any]] = [{} for _ in range(n)]
    if "declared_area_m2" in gdf.columns and "area_ok" in gdf.columns:
        for i in range(n):
            row = gdf.iloc[i]
            decl = row["declared_area_m2"]
            extra[i]["declared_area"] = {
                "declared_m2": None if pd.isna(decl) else float(decl),
                "ellipsoidal_m2": float(row["area_m2"]),
                "projected_m2": float(row["projected_area_m2"]),
                "diff_m2": None if pd.isna(row["area_diff_m2"]) else float(row["area_diff_m2"]),
                "diff_ratio": (None if pd.isna(row["area_diff_ratio"])
                               else float(row["area_diff_ratio"])),
                "ok": bool(row["area_ok"]),
            }
    type_names = {0: "Point", 1: "LineString", 2: "LinearRing", 3: "Polygon", 4: "MultiPoint",
                  5: "MultiLineString", 6: "MultiPolygon", 7: "GeometryCollection"}
    shapely.prepare(out)
    return SiteSet(
        ids=ids, categories=cats, geoms=out, source=src,
        geometry_types=[type_names.get(int(t), "Geometry") for t in gtypes],
        radius_m=np.where(dims == 0, radius, np.nan), width_m=np.where(dims == 1, width, np.nan),
        crs=crs, names=names, extra=extra, construction=np.asarray(construction, dtype=object),
        capacity=capacity, errors=errors,
    )


# --------------------------------------------------------------------------- results


@dataclass
class Hit:
    """One rule that a site triggers on one layer (all matching features of that layer)."""

    layer: str
    kind: str
    kind_zh: str
    feature: Any
    features: list[Any]
    name: str | None
    zone: str | None
    overlap_m2: float
    overlap_ratio: float | None
    distance_m: float
    rule: str
    rule_zh: str
    test: str
    verdict: str
    procedures: list[str]
    approval: str
    citation: dict[str, Any]
    compensation_type: str = ""
    compensation_m2: float = 0.0
    note: str = ""
    #: distinct names of the hit's features (name, else BSM, else 图斑编号 role), in the order
    #: of ``features``
    names: list[str] = field(default_factory=list)
    #: rules this hit's rule displaced on this site (``overrides`` in the rulebook)
    overrides: list[str] = field(default_factory=list)
    #: for a displaced hit: the rule that won, and why
    overridden_by: str = ""
    precedence: str = ""
    site_filter: str = ""

    def as_dict(self) -> dict[str, Any]:
        d = {
            "layer": self.layer, "kind": self.kind, "kind_zh": self.kind_zh,
            "feature": self.feature, "features": self.features,
            "n_features": len(self.features), "name": self.name, "names": self.names,
            "zone": self.zone,
            "overlap_m2": self.overlap_m2, "overlap_ratio": self.overlap_ratio,
            "distance_m": self.distance_m, "rule": self.rule, "rule_zh": self.rule_zh,
            "test": self.test, "verdict": self.verdict, "verdict_zh": VERDICT_ZH[self.verdict],
            "procedures": self.procedures, "approval": self.approval, "citation": self.citation,
        }
        if self.compensation_type:
            d["compensation_type"] = self.compensation_type
            d["compensation_m2"] = self.compensation_m2
        if self.note:
            d["note"] = self.note
        if self.overrides:
            d["overrides"] = list(self.overrides)
        if self.overridden_by:
            d["overridden_by"] = self.overridden_by
        if self.precedence:
            d["precedence"] = self.precedence
        if self.site_filter:
            d["site_filter"] = self.site_filter
        return d


@dataclass
class SiteResult:
    """The verdict of one site, its hits, and the farmland it occupies."""

    id: Any
    category: str
    category_zh: str
    geometry_type: str
    area_m2: float
    verdict: str
    hits: list[Hit]
    farmland_m2: float
    compensation_m2: float
    compensation: dict[str, float]
    radius_m: float | None = None
    width_m: float | None = None
    name: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: hits displaced by a more specific rule (``overrides``): not part of the verdict
    overridden: list[Hit] = field(default_factory=list)
    construction: str = "new"

    @property
    def procedures(self) -> list[str]:
        """Procedures of the hits that decide the verdict (most severe first, no repeats)."""
        out: list[str] = []
        for h in self.hits:
            if h.verdict == self.verdict:
                out += [p for p in h.procedures if p not in out]
        return out

    def as_dict(self) -> dict[str, Any]:
        d = {
            "id": self.id, "name": self.name, "category": self.category,
            "category_zh": self.category_zh, "geometry_type": self.geometry_type,
            "radius_m": self.radius_m, "width_m": self.width_m, "area_m2": self.area_m2,
            "verdict": self.verdict, "verdict_zh": VERDICT_ZH[self.verdict],
            "farmland_m2": self.farmland_m2, "compensation_m2": self.compensation_m2,
            "compensation": [{"type": k, "area_m2": v} for k, v in self.compensation.items()],
            "hits": [h.as_dict() for h in self.hits],
            "construction": self.construction,
            "procedures": self.procedures,
        }
        if self.overridden:
            d["overridden"] = [h.as_dict() for h in self.overridden]
        d.update(self.extra)
        return d


@dataclass
class CheckResult:
    """All sites of one check, with what was checked and how."""

    sites: list[SiteResult]
    rulebook: dict[str, Any]
    method: str
    crs: CRS
    layers: list[dict[str, Any]]
    not_evaluated: list[dict[str, Any]]
    site_set: SiteSet | None = None
    engine: SitingEngine | None = None
    notes: list[str] = field(default_factory=list)
    workspace: str | None = None
    sites_file: str | None = None
    synthetic: bool = False
    #: sites refused as bad input (checked no further): {"id", "error"}
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return most_severe(s.verdict for s in self.sites)

    def counts(self) -> dict[str, int]:
        out = {v: 0 for v in ("forbidden", "conditional", "warn", "allowed")}
        for s in self.sites:
            out[s.verdict] += 1
        return out

    def reaches(self, level: str) -> bool:
        """True when any site's verdict is at least as severe as ``level``."""
        return any(SEVERITY[s.verdict] >= SEVERITY[level] for s in self.sites)

    def as_dict(self, *, geometry: bool = True) -> dict[str, Any]:
        """The result as JSON-plain data; ``geometry=False`` leaves each site's geometry out."""
        out = {
            "workspace": self.workspace,
            "sites_file": self.sites_file,
            "verdict": self.verdict,
            "counts": self.counts(),
            "unit": "m2",
            "method": self.method,
            "distance_unit": "m",
            "distance_crs": crs_label(self.crs),
            "crs": "EPSG:4490",  # of each site's `geometry` member
            "rulebook": self.rulebook,
            "layers": self.layers,
            "not_evaluated": self.not_evaluated,
            "farmland_m2": float(sum(s.farmland_m2 for s in self.sites)),
            "compensation_m2": float(sum(s.compensation_m2 for s in self.sites)),
            "sites": list(self.site_dicts(geometry=geometry)),
            "warnings": list(self.notes),
            "errors": list(self.errors),
        }
        return out

    def site_dicts(self, *, geometry: bool = True) -> list[dict[str, Any]]:
        """Each site as a dict; with ``geometry`` its lon/lat GeoJSON (EPSG:4490, 1e-8°)."""
        out = [s.as_dict() for s in self.sites]
        if geometry and self.site_set is not None:  # as given, for `ecogis map --sites`
            ll = gpd.GeoSeries(self.site_set.source, crs=self.crs).to_crs(CGCS2000)
            geo = shapely.to_geojson(shapely.set_precision(ll.values, 1e-8))
            for d, g in zip(out, geo, strict=True):
                d["geometry"] = json.loads(g)
        return out


# --------------------------------------------------------------------------- engine


@dataclass
class _Pairs:
    """(site, feature) pairs of one layer, aggregated over the feature's parts."""

    site: np.ndarray
    feat: np.ndarray
    dist: np.ndarray
    inter: np.ndarray
    area: np.ndarray  # method area of site ∩ feature
    pieces: np.ndarray | None  # geometry of site ∩ feature (only when the layer overlaps itself)


class SitingEngine:
    """Layers indexed once for many siting checks.

    Parameters
    ----------
    layers
        ``{name: (kind_id, GeoDataFrame)}``; the GeoDataFrame index is the feature id.
    rulebook
        The rules to apply (:func:`ecogis.rules.load_rulebook`).
    crs
        Metric plane for distances and areas; default: the layers' common GK zone, else
        :func:`ecogis.crs.metric_crs` of their lon/lat extent.
    threads
        Threads for the GEOS work (default: up to 2).
    """

    def __init__(self, layers: Mapping[str, tuple[str, gpd.GeoDataFrame]], rulebook: Rulebook,
                 *, crs: CRS | None = None, threads: int | None = None) -> None:
        self.rulebook = rulebook
        self.threads = _threads(threads)
        self.crs = crs if crs is not None else self._choose_crs(layers)
        self.layers: dict[str, LayerIndex] = {}
        for name, (kind_id, gdf) in layers.items():
            kind = rulebook.kinds[kind_id]
            self.layers[name] = build_layer_index(name, kind, gdf, self.crs)

    @classmethod
    def from_indexes(cls, layers: Mapping[str, LayerIndex], rulebook: Rulebook, *, crs: CRS,
                     threads: int | None = None) -> SitingEngine:
        """Return an engine over layer indexes already built in ``crs`` (e.g. cached ones)."""
        engine = cls.__new__(cls)
        engine.rulebook = rulebook
        engine.threads = _threads(threads)
        engine.crs = crs
        engine.layers = dict(layers)
        return engine

    @staticmethod
    def _choose_crs(layers: Mapping[str, tuple[str, gpd.GeoDataFrame]]) -> CRS:
        zones = {crs_label(CRS.from_user_input(g.crs)) for _, g in layers.values()
                 if g.crs is not None and gk_zone_of(g.crs) is not None}
        if len(zones) == 1 and all(g.crs is not None and gk_zone_of(g.crs) is not None
                                   for _, g in layers.values()):
            return CRS.from_user_input(next(iter(layers.values()))[1].crs)
        bounds = [g.to_crs(CGCS2000).total_bounds for _, g in layers.values()
                  if g.crs is not None and len(g)]
        if not bounds:
            return metric_crs((105.0, 30.0, 105.0, 30.0))
        b = np.array(bounds)
        return metric_crs((b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()))

    def layers_of_kind(self, kind: str) -> list[LayerIndex]:
        return [li for li in self.layers.values() if li.kind.id == kind]

    # ----------------------------------------------------------------- public API

    def check(self, sites: gpd.GeoDataFrame | SiteSet, *, category: str | None = None,
              width_m: float | None = None, radius_m: float | None = None,
              method: str = "ellipsoidal", file: str | None = None) -> CheckResult:
        """Check every site against every layer and rule; see the module docstring."""
        if method not in METHODS:
            raise InputError(f"unknown area method {method!r}", fix=f"use one of {METHODS}")
        ss = sites if isinstance(sites, SiteSet) else prepare_sites(
            sites, self.crs, self.rulebook.categories, category=category, width_m=width_m,
            radius_m=radius_m, file=file)
        if ss.crs != self.crs:
            raise InputError("the sites were prepared for another CRS",
                             fix="prepare them with the engine's crs")
        n = len(ss)
        cats = self.rulebook.categories
        uniq_cats = sorted(set(ss.categories))
        cat_index = {c: i for i, c in enumerate(uniq_cats)}
        cat_pos = np.array([cat_index[c] for c in ss.categories], dtype=np.int64)
        # site centroids and scale
        site_area = (ellipsoidal_area(ss.geoms, self.crs, self.threads)
                     if method == "ellipsoidal" else shapely.area(ss.geoms))
        per_site_hits: list[list[Hit]] = [[] for _ in range(n)]
        farmland = np.zeros(n)
        comp: list[dict[tuple[str, str], float]] = [{} for _ in range(n)]
        not_evaluated: list[dict[str, Any]] = []
        outside_cov: dict[str, list[tuple[LayerIndex, _Pairs]]] = {}
        farm_pairs: list[tuple[LayerIndex, _Pairs]] = []

        per_site_overridden: list[list[Hit]] = [[] for _ in range(n)]
        rules_by_kind: dict[str, list[Rule]] = {}
        upstream_rules: list[Rule] = []
        site_masks: dict[str, np.ndarray] = {}
        for r in self.rulebook.rules:
            if r.site_filtered:
                site_masks[r.id] = self._site_mask(r, ss, site_area)
            if r.test == "upstream":
                upstream_rules.append(r)
            else:
                rules_by_kind.setdefault(r.kind, []).append(r)
        for r in upstream_rules:
            missing = [k for k in (r.kind, RIVER_KIND) if not self.layers_of_kind(k)]
            if missing and self._rule_applies_to_any(r, uniq_cats):
                not_evaluated.append({
                    "rule": r.id, "kind": missing[0],
                    "reason": f"the workspace has no layer of kind {missing[0]!r}"})
        for kind_id, rules in rules_by_kind.items():
            if not self.layers_of_kind(kind_id):
                for r in rules:
                    if self._rule_applies_to_any(r, uniq_cats):
                        not_evaluated.append({
                            "rule": r.id, "kind": kind_id,
                            "reason": f"the workspace has no layer of kind {kind_id!r}"})

        landuse: tuple[LayerIndex, _Pairs] | None = None
        for li in self.layers.values():
            rules = rules_by_kind.get(li.kind.id, [])
            is_farm = li.kind.id == FARMLAND_KIND
            is_lu = li.kind.id == LANDUSE_KIND and landuse is None
            if not rules and not is_farm and not is_lu:
                continue
            # rank of every rule for every distinct category: -1 = not concerned
            rank_by_cat = np.array([[cats.rank(c, r.categories) for c in uniq_cats]
                                    for r in rules], dtype=np.int64).reshape(len(rules),
                                                                             len(uniq_cats))
            site_rank = rank_by_cat[:, cat_pos] if rules else np.zeros((0, n), dtype=np.int64)
            for ri, r in enumerate(rules):
                if r.id in site_masks:
                    site_rank[ri][~site_masks[r.id]] = -1
            qdist = np.full(n, -1.0)
            for ri, r in enumerate(rules):
                reach = self._reach(r, li)
                if reach is None:
                    continue
                concerned = site_rank[ri] >= 0
                qdist[concerned] = np.maximum(qdist[concerned], reach)
            if is_farm or is_lu:
                qdist = np.maximum(qdist, 0.0)
            pairs = self._pairs(li, ss, qdist, site_area, method)
            if is_lu:
                landuse = (li, pairs)
            if is_farm:
                farmland += self._site_totals(li, pairs, n)
                farm_pairs.append((li, pairs))
            if not rules:
                continue
            matched, displaced = self._evaluate(li, rules, site_rank, pairs, ss, cat_pos,
                                                uniq_cats)
            for ri, r in enumerate(rules):
                if r.test == "outside":
                    outside_cov.setdefault(r.id, []).append((li, pairs))
                    continue
                sel = matched[ri]
                if not sel.any():
                    continue
                self._emit_hits(li, r, pairs, sel, site_area, per_site_hits, comp)
            for ti, wi, mask in displaced:
                self._emit_displaced(li, rules[ti], rules[wi], pairs, mask, site_area,
                                     per_site_hits, per_site_overridden)

        for r in self.rulebook.rules:
            if r.test == "outside" and r.id in outside_cov:
                self._emit_outside(r, outside_cov[r.id], ss, site_area, method,
                                   per_site_hits, cat_pos, uniq_cats, site_masks.get(r.id))

        for r in upstream_rules:
            if not self.layers_of_kind(r.kind) or not self.layers_of_kind(RIVER_KIND):
                continue
            rank = np.array([cats.rank(c, r.categories) for c in uniq_cats],
                            dtype=np.int64)[cat_pos]
            concerned = rank >= 0
            if r.id in site_masks:
                concerned &= site_masks[r.id]
            if concerned.any():
                self._emit_upstream(r, ss, concerned, per_site_hits)

        if len(farm_pairs) > 1:  # farmland layers may overlap each other: count their union once
            farmland = self._union_cover(farm_pairs, ss, method, n)

        lu_rows = self._landuse_rows(*landuse, n) if landuse is not None else None
        results: list[SiteResult] = []
        for i in range(n):
            hits = sorted(per_site_hits[i], key=lambda h: (-SEVERITY[h.verdict], h.layer, h.rule))
            by_type: dict[str, float] = {}
            for (ctype, _layer), a in comp[i].items():
                by_type[ctype] = by_type.get(ctype, 0.0) + a
            farm_comp = min(sum(a for (ctype, layer), a in comp[i].items()
                                if self.layers[layer].kind.id == FARMLAND_KIND), farmland[i])
            c = cats[ss.categories[i]]
            results.append(SiteResult(
                id=ss.ids[i], category=c.id, category_zh=c.name_zh,
                geometry_type=ss.geometry_types[i], area_m2=float(site_area[i]),
                verdict=most_severe(h.verdict for h in hits), hits=hits,
                farmland_m2=float(farmland[i]), compensation_m2=float(farm_comp),
                compensation=by_type,
                radius_m=None if np.isnan(ss.radius_m[i]) else float(ss.radius_m[i]),
                width_m=None if np.isnan(ss.width_m[i]) else float(ss.width_m[i]),
                name=ss.names[i], extra=dict(ss.extra[i]),
                overridden=per_site_overridden[i],
                construction=str(ss.construction[i]) if ss.construction is not None else "new",
            ))
            if lu_rows is not None:
                results[-1].extra["landuse"] = lu_rows[i]
                results[-1].extra["landuse_layer"] = landuse[0].name
        return CheckResult(
            sites=results, rulebook=self.rulebook.summary(), method=method, crs=self.crs,
            layers=[{"name": li.name, "kind": li.kind.id, "features": li.n_features,
                     "self_overlapping_pairs": (None if li.overlaps is None
                                                else len(li.overlaps))}
                    for li in self.layers.values()],
            not_evaluated=not_evaluated, site_set=ss, engine=self, errors=list(ss.errors),
        )

    def check_chunks(self, sites: gpd.GeoDataFrame | SiteSet, *, chunk: int = 20_000,
                     category: str | None = None, width_m: float | None = None,
                     radius_m: float | None = None, method: str = "ellipsoidal",
                     file: str | None = None):
        """Yield a :class:`CheckResult` per chunk of ``chunk`` sites, in order.

        The sites are validated together (ids unique across the whole batch), then checked a
        chunk at a time, so memory stays bounded by the chunk however long the batch is; each
        site's result is the one :meth:`check` gives (sites are checked independently).
        """
        ss = sites if isinstance(sites, SiteSet) else prepare_sites(
            sites, self.crs, self.rulebook.categories, category=category, width_m=width_m,
            radius_m=radius_m, file=file)
        chunk = max(1, int(chunk))
        for start in range(0, len(ss), chunk):
            yield self.check(ss.slice(start, start + chunk), method=method)

    # ----------------------------------------------------------------- internals

    def _rule_applies_to_any(self, r: Rule, cats: Sequence[str]) -> bool:
        return any(self.rulebook.categories.rank(c, r.categories) >= 0 for c in cats)

    @staticmethod
    def _reach(r: Rule, li: LayerIndex) -> float | None:
        """Return the query distance a rule needs on a layer (None: it binds no feature)."""
        if r.test in ("intersects", "outside", "in_catchment"):
            return 0.0
        outer = r.outer_m
        if r.distance_field:
            fv = li.numeric_column(r.distance_field)
            fmax = np.nanmax(fv) if np.isfinite(fv).any() else np.nan
            cands = [v for v in (outer, fmax) if v is not None and np.isfinite(v)]
            return max(cands) if cands else None
        return outer

    def _pairs(self, li: LayerIndex, ss: SiteSet, qdist: np.ndarray, site_area: np.ndarray,
               method: str) -> _Pairs:
        """Bulk-query the layer for all sites and measure every (site, feature) pair."""
        sel_i = np.flatnonzero(qdist == 0)
        sel_d = np.flatnonzero(qdist > 0)
        s_parts, p_parts = [], []
        if len(sel_i):
            # envelope query (cheap), then the prepared-site predicate on threads
            a, b = self._envelope_candidates(li, ss, sel_i)
            hit = _parallel(shapely.intersects, self.threads, ss.geoms[a], li.parts[b],
                            min_chunk=20_000)
            s_parts.append(a[hit])
            p_parts.append(b[hit])
        if len(sel_d):
            a, b = li.tree.query(ss.geoms[sel_d], predicate="dwithin", distance=qdist[sel_d])
            s_parts.append(sel_d[a])
            p_parts.append(b)
        s = np.concatenate(s_parts) if s_parts else np.zeros(0, dtype=np.int64)
        p = np.concatenate(p_parts) if p_parts else np.zeros(0, dtype=np.int64)
        npair = len(s)
        sg, pg = ss.geoms[s], li.parts[p]
        dist = np.zeros(npair)
        far = qdist[s] > 0
        if far.any():
            dist[far] = _parallel(shapely.distance, self.threads, sg[far], pg[far])
        touching = dist == 0
        site_areal = shapely.get_dimensions(sg) == 2
        part_areal = shapely.get_dimensions(pg) == 2
        both = touching & site_areal & part_areal
        area = np.zeros(npair)
        keep_pieces = not li.disjoint
        pieces = np.full(npair, None, dtype=object) if keep_pieces else None
        inter = np.zeros(npair, dtype=bool)
        if both.any():
            idx = np.flatnonzero(both)
            inside = _parallel(shapely.contains_properly, self.threads, sg[idx], pg[idx])
            covered = np.zeros(len(idx), dtype=bool)
            rest = ~inside
            covered[rest] = _parallel(shapely.covered_by, self.threads, sg[idx[rest]],
                                      pg[idx[rest]])
            ii, cc = idx[inside], idx[covered]
            ellipsoidal = method == "ellipsoidal"
            # ellipsoidal: geodesic areas on CGCS2000 (parts once per layer, sites once, pieces)
            area[ii] = (li.part_area_geodesic(self.crs, self.threads)[p[ii]] if ellipsoidal
                        else li.part_area[p[ii]])
            area[cc] = site_area[s[cc]]
            ov = idx[~inside & ~covered]
            if len(ov):
                geo = _parallel(shapely.intersection, self.threads, sg[ov], pg[ov])
                area[ov] = (ellipsoidal_area(geo, self.crs, self.threads)
                            if ellipsoidal else shapely.area(geo))
                if keep_pieces:
                    pieces[ov] = geo
            if keep_pieces:
                pieces[ii] = pg[ii]
                pieces[cc] = sg[cc]
            inter[idx] = area[idx] > 0
        other = touching & ~both
        if other.any():
            idx = np.flatnonzero(other)
            inter[idx] = ~_parallel(shapely.touches, self.threads, sg[idx], pg[idx])
        # aggregate parts -> (site, feature)
        f = li.part_feature[p]
        key = s.astype(np.int64) * max(li.n_features, 1) + f
        if npair == 0:
            return _Pairs(s, f, dist, inter, area, pieces)
        order, uniq, starts = _group_starts(key)
        s_o, f_o = s[order], f[order]
        out_s, out_f = s_o[starts], f_o[starts]
        out_d = np.minimum.reduceat(dist[order], starts)
        out_i = np.maximum.reduceat(inter[order].astype(np.int8), starts).astype(bool)
        out_a = np.add.reduceat(area[order], starts)
        out_p = None
        if keep_pieces:
            # the parts of one feature are disjoint: a collection of their pieces will do
            sizes = np.diff(np.append(starts, npair))
            po = pieces[order]
            out_p = po[starts].copy()
            multi = np.flatnonzero(sizes > 1)
            if len(multi):
                gid = np.repeat(np.arange(len(starts)), sizes)
                sel = np.isin(gid, multi) & ~shapely.is_missing(po)
                if sel.any():
                    have, inv = np.unique(gid[sel], return_inverse=True)
                    out_p[have] = shapely.geometrycollections(po[sel], indices=inv)
        return _Pairs(out_s, out_f, out_d, out_i, out_a, out_p)

    @staticmethod
    def _envelope_candidates(li: LayerIndex, ss: SiteSet, sel: np.ndarray
                             ) -> tuple[np.ndarray, np.ndarray]:
        """(site, part) pairs whose envelopes meet: corridors per segment, others whole.

        A long diagonal corridor's envelope holds many parts it never touches; the envelopes
        of its segments, grown by the farthest a mitred join can reach (MITRE_LIMIT × half
        the width), cover the corridor with far fewer candidates.
        """
        corridor = (shapely.get_dimensions(ss.source[sel]) == 1) & (ss.width_m[sel] > 0)
        whole = sel[~corridor]
        a, b = li.tree.query(ss.geoms[whole])
        a = whole[a]
        lines = sel[corridor]
        if len(lines) == 0:
            return a, b
        coords, idx = shapely.get_coordinates(ss.source[lines], return_index=True)
        same = idx[1:] == idx[:-1]  # (a MultiLineString's gap "segments" only add candidates)
        p0, p1 = coords[:-1][same], coords[1:][same]
        seg_site = lines[idx[:-1][same]]
        pad = ss.width_m[seg_site] / 2 * MITRE_LIMIT + 1.0
        env = shapely.box(np.minimum(p0[:, 0], p1[:, 0]) - pad,
                          np.minimum(p0[:, 1], p1[:, 1]) - pad,
                          np.maximum(p0[:, 0], p1[:, 0]) + pad,
                          np.maximum(p0[:, 1], p1[:, 1]) + pad)
        sa, sb = li.tree.query(env)
        n = max(len(li.parts), 1)
        key = np.unique(seg_site[sa].astype(np.int64) * n + sb)
        return np.concatenate([a, key // n]), np.concatenate([b, key % n])

    def _site_totals(self, li: LayerIndex, pairs: _Pairs, n: int,
                     sel: np.ndarray | None = None) -> np.ndarray:
        """Return per site the dissolved overlap area with the layer's (selected) features."""
        m = pairs.inter & (pairs.area > 0)
        if sel is not None:
            m &= sel
        return self._dissolved_by_group(li, pairs, m, pairs.site, n, self.threads)

    @staticmethod
    def _dissolved_by_group(li: LayerIndex, pairs: _Pairs, m: np.ndarray, group: np.ndarray,
                            n_groups: int, threads: int = 1) -> np.ndarray:
        """Method-area per group of the selected pairs, the layer's own overlaps once."""
        idx = np.flatnonzero(m & (pairs.area > 0))
        out = np.bincount(group[idx], weights=pairs.area[idx], minlength=n_groups)
        if li.disjoint or pairs.pieces is None or len(idx) == 0:
            return out
        need = _groups_needing_union(group[idx], pairs.feat[idx], li.overlaps)
        if len(need) == 0:
            return out
        j = idx[np.isin(group[idx], need)]
        planar_sum = np.bincount(group[j], weights=shapely.area(pairs.pieces[j]),
                                 minlength=n_groups)
        dissolved = _dissolved_areas(pairs.pieces[j], group[j], n_groups, threads)
        ratio = np.where(planar_sum[need] > 0,
                         dissolved[need] / np.maximum(planar_sum[need], 1e-300), 0.0)
        out[need] = out[need] * ratio  # same ellipsoidal scale, overlaps removed
        return out

    def _evaluate(self, li: LayerIndex, rules: list[Rule], site_rank: np.ndarray,
                  pairs: _Pairs, ss: SiteSet | None = None, cat_pos: np.ndarray | None = None,
                  uniq_cats: Sequence[str] = ()
                  ) -> tuple[np.ndarray, list[tuple[int, int, np.ndarray]]]:
        """Return a (rules × pairs) boolean matrix of the rules each pair triggers, and the
        pairs each ``overrides`` rule took from another: ``[(target, winner, mask)]``."""
        npair = len(pairs.site)
        out = np.zeros((len(rules), npair), dtype=bool)
        ranks = np.full((len(rules), npair), _INF, dtype=np.int64)
        for ri, r in enumerate(rules):
            fok = self._feature_filter(li, r)
            rk = site_rank[ri][pairs.site]
            m = fok[pairs.feat] & (rk >= 0)
            if r.test in ("intersects", "outside"):
                m &= pairs.inter
            elif r.test == "in_catchment":
                m &= pairs.inter
                if m.any() and ss is not None:
                    idx = np.flatnonzero(m)
                    rep_pt = shapely.point_on_surface(ss.geoms[pairs.site[idx]])
                    m[idx] = shapely.covers(li.geoms[pairs.feat[idx]], rep_pt)
            else:
                outer = np.full(npair, np.nan if r.outer_m is None else r.outer_m)
                if r.distance_field:
                    fv = li.numeric_column(r.distance_field)[pairs.feat]
                    outer = np.where(np.isnan(fv), outer, fv)
                with np.errstate(invalid="ignore"):
                    m &= ~np.isnan(outer) & (pairs.dist >= r.inner_m)
                    m &= (pairs.dist <= outer) if r.test == "within" else (pairs.dist < outer)
            if r.feature_categories and m.any() and cat_pos is not None:
                m &= self._listed(li, r.feature_categories, pairs, cat_pos, uniq_cats)
            out[ri] = m
            ranks[ri] = np.where(m, rk, _INF)
        topics: dict[tuple[str, str], list[int]] = {}
        for ri, r in enumerate(rules):
            if r.test != "outside":
                topics.setdefault(r.topic_key, []).append(ri)
        for members in topics.values():
            if len(members) < 2:
                continue
            best = ranks[members].min(axis=0)
            for ri in members:
                out[ri] &= ranks[ri] == best
        displaced: list[tuple[int, int, np.ndarray]] = []
        if any(r.overrides for r in rules):
            pos = {r.id: i for i, r in enumerate(rules)}
            took = out.copy()
            for wi, r in enumerate(rules):
                for t in r.overrides:
                    ti = pos.get(t)
                    if ti is None or ti == wi:
                        continue
                    mask = took[ti] & took[wi]
                    if mask.any():
                        out[ti] &= ~mask
                        displaced.append((ti, wi, mask))
        return out, displaced

    @staticmethod
    def _site_mask(r: Rule, ss: SiteSet, site_area: np.ndarray) -> np.ndarray:
        """Sites whose attributes (construction, area, capacity) the rule binds."""
        m = np.ones(len(ss), dtype=bool)
        if r.construction:
            cons = ss.construction if ss.construction is not None else np.full(len(ss), "new")
            m &= np.isin(cons.astype(str), list(r.construction))
        if r.area_over_m2 is not None:
            m &= site_area >= r.area_over_m2
        cap = ss.capacity if ss.capacity is not None else np.full(len(ss), np.nan)
        with np.errstate(invalid="ignore"):
            if r.capacity_over is not None:
                m &= cap >= r.capacity_over[0]
            if r.capacity_below is not None:
                m &= cap < r.capacity_below[0]
        return m

    def _listed(self, li: LayerIndex, fname: str, pairs: _Pairs, cat_pos: np.ndarray,
                uniq_cats: Sequence[str]) -> np.ndarray:
        """Pairs whose site category (or an ancestor) the feature lists in field ``fname``.

        A unit's admission list (三线一单 空间布局约束) is data on the feature: category ids
        or Chinese aliases separated by ``;`` ``、`` ``,`` or spaces.
        """
        cats = self.rulebook.categories
        key = (li.name, fname)
        cache = self.__dict__.setdefault("_listed_cache", {})
        if key not in cache:
            col = li.column(fname)
            per_feat: list[frozenset[str]] = []
            for fi, v in enumerate(col if col is not None else [None] * li.n_features):
                if v is None or (isinstance(v, float) and math.isnan(v)):
                    per_feat.append(frozenset())
                    continue
                ids = set()
                for name in re.split(r"[;；,，、\s]+", str(v)):
                    if not name:
                        continue
                    c = cats.find(name)
                    if c is None:
                        raise InputError(f"{fname} lists unknown project category {name!r}",
                                         layer=li.name, feature=_plain_id(li.feature_ids[fi]),
                                         fix="use category ids or aliases of "
                                         "layers/categories.toml (`ecogis check "
                                         "--list-categories`)")
                    ids.add(c.id)
                per_feat.append(frozenset(ids))
            cache[key] = per_feat
        per_feat = cache[key]
        # (distinct site category × feature) table, then one fancy-index over the pairs
        table = np.array([[bool(fs & set(cats.ancestry(c))) for fs in per_feat]
                          for c in uniq_cats], dtype=bool).reshape(len(uniq_cats), len(per_feat))
        return table[cat_pos[pairs.site], pairs.feat]

    @staticmethod
    def _feature_filter(li: LayerIndex, r: Rule) -> np.ndarray:
        ok = np.ones(li.n_features, dtype=bool)
        for fname, vals in r.where.items():
            col = li.column(fname)
            if col is None:
                return np.zeros(li.n_features, dtype=bool)
            ok &= np.isin(col.astype(str), [str(v) for v in vals])
        for fname, gnames in r.groups.items():
            col = li.column(fname)
            if col is None:
                return np.zeros(li.n_features, dtype=bool)
            members = [v for g in gnames for v in li.kind.groups.get(g, ())]
            ok &= np.isin(col.astype(str), members)
        return ok

    def _landuse_rows(self, li: LayerIndex, pairs: _Pairs, n: int) -> list[list[dict[str, Any]]]:
        """压占 by 地类 of every site on a landuse layer (:func:`ecogis.landuse.occupation_rows`)."""
        from ecogis.landuse import land_codes, occupation_rows

        m = pairs.inter & (pairs.area > 0)
        gross = None
        if not li.disjoint and m.any():  # the layer overlaps itself: dissolve per 地类
            codes, _ = land_codes(li.gdf)
            classes = sorted(set(codes[pairs.feat[m]].tolist()))
            pos = {c: j for j, c in enumerate(classes)}
            ci = np.array([pos.get(c, 0) for c in codes[pairs.feat]], dtype=np.int64)
            group = pairs.site.astype(np.int64) * len(classes) + ci
            gross = self._dissolved_by_group(li, pairs, m, group, n * len(classes),
                                             self.threads).reshape(n, len(classes))
        return occupation_rows(pairs.site[m], pairs.feat[m], pairs.area[m], li.gdf, n,
                               layer=li.name, gross_by_class=gross)

    def _zone_field(self, li: LayerIndex) -> str | None:
        for f in ("zone", "level", "category"):
            if f in li.kind.fields and f in li.gdf.columns:
                return f
        return None

    def _emit_hits(self, li: LayerIndex, r: Rule, pairs: _Pairs, sel: np.ndarray,
                   site_area: np.ndarray, per_site_hits: list[list[Hit]],
                   comp: list[dict[tuple[str, str], float]]) -> None:
        idx = np.flatnonzero(sel)
        n_sites = len(per_site_hits)
        overlap = self._dissolved_by_group(li, pairs, sel & pairs.inter, pairs.site, n_sites,
                                           self.threads)
        s = pairs.site[idx]
        order = np.lexsort((pairs.dist[idx], -pairs.area[idx], s))
        idx, s = idx[order], s[order]
        uniq, starts = np.unique(s, return_index=True)
        ends = np.append(starts[1:], len(s))
        zone_col = self._zone_field(li)
        zones = li.column(zone_col) if zone_col else None
        citation = r.citation.as_dict()  # shared by the rule's hits (read-only)
        names = li.column("name")
        labels = li.labels()
        for site_i, a, b in zip(uniq, starts, ends, strict=True):
            rows = idx[a:b]
            rep = int(pairs.feat[rows[0]])
            feats = li.feature_ids[pairs.feat[rows]].tolist()
            feat_names = unique_labels(labels[pairs.feat[rows]])
            ov = float(overlap[site_i])
            sa = float(site_area[site_i])
            ctype, cm2 = "", 0.0
            if r.compensation_type and ov > 0:
                ctype, cm2 = r.compensation_type, ov * r.compensation_ratio
                key = (ctype, li.name)
                comp[site_i][key] = max(comp[site_i].get(key, 0.0), cm2)
            per_site_hits[site_i].append(Hit(
                layer=li.name, kind=li.kind.id, kind_zh=li.kind.name_zh,
                feature=_plain_id(li.feature_ids[rep]), features=feats,
                name=(_str_or_none(names[rep]) if names is not None else None) or labels[rep],
                names=feat_names,
                zone=_str_or_none(zones[rep]) if zones is not None else None,
                overlap_m2=ov, overlap_ratio=(ov / sa if sa > 0 else None),
                distance_m=float(pairs.dist[rows].min()), rule=r.id, rule_zh=r.name_zh,
                test=r.describe_test(), verdict=r.verdict, procedures=list(r.procedures),
                approval=r.approval, citation=citation, compensation_type=ctype,
                compensation_m2=cm2, note=r.note, site_filter=r.describe_site_filter(),
            ))

    def _emit_displaced(self, li: LayerIndex, target: Rule, winner: Rule, pairs: _Pairs,
                        mask: np.ndarray, site_area: np.ndarray,
                        per_site_hits: list[list[Hit]],
                        per_site_overridden: list[list[Hit]]) -> None:
        """Record the hits ``winner`` displaced (``overrides``): which rule won and why."""
        n = len(per_site_hits)
        tmp: list[list[Hit]] = [[] for _ in range(n)]
        self._emit_hits(li, target, pairs, mask, site_area, tmp, [{} for _ in range(n)])
        how = {1: "从严", 0: "细化", -1: "放宽"}[int(np.sign(winner.severity - target.severity))]
        cats = "、".join(self.rulebook.categories[c].name_zh if c in self.rulebook.categories
                        else "全部类别" for c in winner.categories)
        reason = (f"{winner.id}（{winner.citation.text()}）对{cats}{how}了 {target.id}"
                  + (f"：{winner.override_reason}" if winner.override_reason else ""))
        for si in np.unique(pairs.site[mask]):
            for h in tmp[si]:
                h.overridden_by, h.precedence = winner.id, reason
                h.compensation_type, h.compensation_m2 = "", 0.0
            per_site_overridden[si].extend(tmp[si])
            for h in per_site_hits[si]:
                if h.rule == winner.id and h.layer == li.name and target.id not in h.overrides:
                    h.overrides.append(target.id)
                    h.precedence = reason

    def _river_network(self) -> dict[str, Any]:
        """Directed river segments (split at junctions) and their nodes, built once.

        Each river line runs in its digitised direction, taken as the flow direction; a
        tributary whose end lies on another river's line splits that line there.
        """
        cached = self.__dict__.get("_network")
        if cached is not None:
            return cached
        lines = []
        for li in self.layers_of_kind(RIVER_KIND):
            parts = shapely.get_parts(li.geoms[~shapely.is_missing(li.geoms)])
            lines += [g for g in parts if g.geom_type == "LineString" and g.length > 0]
        if not lines:
            net = {"segs": np.zeros(0, dtype=object)}
            self.__dict__["_network"] = net
            return net
        arr = np.asarray(lines, dtype=object)
        ends = np.concatenate([shapely.get_point(arr, 0), shapely.get_point(arr, -1)])
        tree = shapely.STRtree(arr)
        pi, li_ = tree.query(ends, predicate="dwithin", distance=NODE_SNAP_M)
        cuts: dict[int, list[float]] = {}
        for p_i, l_i in zip(pi, li_, strict=True):
            d = float(arr[l_i].project(ends[p_i]))
            if NODE_SNAP_M < d < arr[l_i].length - NODE_SNAP_M:
                cuts.setdefault(int(l_i), []).append(d)
        segs: list[Any] = []
        for i, g in enumerate(lines):
            ds = sorted(set(cuts.get(i, [])))
            if not ds:
                segs.append(g)
                continue
            edges = [0.0, *ds, g.length]
            segs += [shapely.ops.substring(g, a, b) for a, b in zip(edges[:-1], edges[1:],
                                                                   strict=True)]
        sarr = np.asarray(segs, dtype=object)
        p0 = shapely.get_coordinates(shapely.get_point(sarr, 0))
        p1 = shapely.get_coordinates(shapely.get_point(sarr, -1))
        nodes: dict[tuple[int, int], int] = {}

        def node(xy: np.ndarray) -> int:
            key = (int(round(xy[0] / NODE_SNAP_M)), int(round(xy[1] / NODE_SNAP_M)))
            return nodes.setdefault(key, len(nodes))

        u = np.array([node(xy) for xy in p0])
        v = np.array([node(xy) for xy in p1])
        out_edges: dict[int, list[int]] = {}
        for si, a in enumerate(u):
            out_edges.setdefault(int(a), []).append(si)
        net = {"segs": sarr, "u": u, "v": v, "length": shapely.length(sarr),
               "out": out_edges, "tree": shapely.STRtree(sarr)}
        self.__dict__["_network"] = net
        return net

    def _emit_upstream(self, r: Rule, ss: SiteSet, concerned: np.ndarray,
                       per_site_hits: list[list[Hit]]) -> None:
        """Sites within ``near_m`` of a river from which the river reaches a feature of the
        rule's kind within ``distance_m`` metres downstream (along the network, m)."""
        import heapq

        net = self._river_network()
        segs = net["segs"]
        if len(segs) == 0:
            return
        near, reach = float(r.near_m or 0.0), float(r.distance_m or 0.0)
        tree, length = net["tree"], net["length"]
        # where the river network meets each target feature: (segment -> [(offset, li, f)])
        at: dict[int, list[tuple[float, LayerIndex, int]]] = {}
        for li in self.layers_of_kind(r.kind):
            fok = np.flatnonzero(self._feature_filter(li, r))
            if len(fok) == 0:
                continue
            tg = li.geoms[fok]
            ok = ~shapely.is_missing(tg)
            fok, tg = fok[ok], tg[ok]
            ti, si = tree.query(tg, predicate="dwithin", distance=near)
            for t_i, s_i in zip(ti, si, strict=True):
                seg, feat = segs[s_i], tg[t_i]
                if seg.intersects(feat):
                    pts = shapely.get_coordinates(seg.intersection(feat))
                    off = float(shapely.line_locate_point(seg, shapely.points(pts)).min())
                else:
                    off = float(seg.project(shapely.get_point(shapely.shortest_line(seg, feat),
                                                              0)))
                at.setdefault(int(s_i), []).append((off, li, int(fok[t_i])))
        if not at:
            return
        sites = np.flatnonzero(concerned)
        qs, qg = tree.query(ss.geoms[sites], predicate="dwithin", distance=near)
        memo: dict[int, dict[tuple[str, int], float]] = {}

        def downstream_from(node: int) -> dict[tuple[str, int], float]:
            """Shortest along-river distance from ``node`` to each target (Dijkstra)."""
            if node in memo:
                return memo[node]
            best: dict[tuple[str, int], float] = {}
            dist = {node: 0.0}
            heap = [(0.0, node)]
            while heap:
                d, x = heapq.heappop(heap)
                if d > dist.get(x, np.inf) or d > reach:
                    continue
                for e in net["out"].get(x, ()):
                    for off, li, f in at.get(e, ()):
                        k = (li.name, f)
                        best[k] = min(best.get(k, np.inf), d + off)
                    nd = d + float(length[e])
                    y = int(net["v"][e])
                    if nd < dist.get(y, np.inf) and nd <= reach:
                        dist[y] = nd
                        heapq.heappush(heap, (nd, y))
            memo[node] = best
            return best

        layers = {li.name: li for li in self.layers_of_kind(r.kind)}
        found: dict[int, dict[tuple[str, int], float]] = {}
        for s_pos, e in zip(qs, qg, strict=True):
            si, e = int(sites[s_pos]), int(e)
            seg = segs[e]
            off_s = float(seg.project(shapely.get_point(
                shapely.shortest_line(seg, ss.geoms[si]), 0)))
            cand: dict[tuple[str, int], float] = {}
            for off, li, f in at.get(e, ()):
                if off >= off_s:
                    cand[(li.name, f)] = min(cand.get((li.name, f), np.inf), off - off_s)
            rest = float(length[e]) - off_s
            for k, d in downstream_from(int(net["v"][e])).items():
                cand[k] = min(cand.get(k, np.inf), rest + d)
            mine = found.setdefault(si, {})
            for k, d in cand.items():
                if d <= reach:
                    mine[k] = min(mine.get(k, np.inf), d)
        citation = r.citation.as_dict()
        for si, hits in found.items():
            by_layer: dict[str, list[tuple[float, int]]] = {}
            for (lname, f), d in hits.items():
                by_layer.setdefault(lname, []).append((d, f))
            for lname, lst in by_layer.items():
                lst.sort()
                li = layers[lname]
                names = li.column("name")
                zone_col = self._zone_field(li)
                zones = li.column(zone_col) if zone_col else None
                rep = lst[0][1]
                per_site_hits[si].append(Hit(
                    layer=lname, kind=li.kind.id, kind_zh=li.kind.name_zh,
                    feature=_plain_id(li.feature_ids[rep]),
                    features=[_plain_id(li.feature_ids[f]) for _, f in lst],
                    name=_str_or_none(names[rep]) if names is not None else None,
                    zone=_str_or_none(zones[rep]) if zones is not None else None,
                    overlap_m2=0.0, overlap_ratio=None, distance_m=float(lst[0][0]), rule=r.id,
                    rule_zh=r.name_zh, test=r.describe_test(), verdict=r.verdict,
                    procedures=list(r.procedures), approval=r.approval, citation=citation,
                    note=r.note, site_filter=r.describe_site_filter(),
                ))

    def _union_cover(self, covs: list[tuple[LayerIndex, _Pairs]], ss: SiteSet, method: str,
                     n: int) -> np.ndarray:
        """Area (m²) of each site covered by the union of several layers' features."""
        geoms_by_site: dict[int, list[Any]] = {}
        for li, pairs in covs:
            m = pairs.inter & (pairs.area > 0)
            for si, fi in zip(pairs.site[m], pairs.feat[m], strict=True):
                geoms_by_site.setdefault(int(si), []).append(li.geoms[int(fi)])
        out = np.zeros(n)
        for si, gl in geoms_by_site.items():
            piece = shapely.intersection(ss.geoms[si], shapely.union_all(gl))
            out[si] = (ellipsoidal_area([piece], self.crs)[0] if method == "ellipsoidal"
                       else shapely.area(piece))
        return out

    def _emit_outside(self, r: Rule, covs: list[tuple[LayerIndex, _Pairs]], ss: SiteSet,
                      site_area: np.ndarray, method: str,
                      per_site_hits: list[list[Hit]], cat_pos: np.ndarray,
                      uniq_cats: list[str], site_mask: np.ndarray | None = None) -> None:
        """Sites not entirely inside the (filtered) features of the rule's kind."""
        n = len(ss)
        cats = self.rulebook.categories
        concerned = np.array([cats.rank(c, r.categories) >= 0 for c in uniq_cats])[cat_pos]
        if site_mask is not None:
            concerned &= site_mask
        if not concerned.any():
            return
        covered = np.zeros(n)
        touched = np.zeros(n, dtype=bool)
        geoms_by_site: dict[int, list[Any]] = {}
        for li, pairs in covs:
            fok = self._feature_filter(li, r)[pairs.feat] & pairs.inter
            covered += self._site_totals(li, pairs, n, sel=fok)
            touched[pairs.site[fok]] = True
            if len(covs) > 1 or not ss.areal.all():
                for si, fi in zip(pairs.site[fok], pairs.feat[fok], strict=True):
                    geoms_by_site.setdefault(int(si), []).append(li.geoms[int(fi)])
        if len(covs) > 1:  # several layers of the kind may overlap each other: dissolve
            for si, gl in geoms_by_site.items():
                if ss.areal[si]:
                    piece = shapely.intersection(ss.geoms[si], shapely.union_all(gl))
                    covered[si] = (ellipsoidal_area([piece], self.crs)[0]
                                   if method == "ellipsoidal" else shapely.area(piece))
        areal = ss.areal
        outside = np.zeros(n, dtype=bool)
        out_area = np.zeros(n)
        tol = 1e-6 * np.maximum(site_area, 1.0)
        outside[areal] = (site_area[areal] - covered[areal]) > tol[areal]
        out_area[areal] = np.maximum(site_area[areal] - covered[areal], 0.0)
        for si in np.flatnonzero(~areal & concerned):
            gl = geoms_by_site.get(int(si))
            outside[si] = not gl or not shapely.covered_by(ss.geoms[si], shapely.union_all(gl))
        outside &= concerned
        if not outside.any():
            return
        # distance to the nearest matching feature for sites entirely outside
        dist = np.zeros(n)
        far = outside & ~touched
        for li, _ in covs:
            fok = self._feature_filter(li, r)
            part_ok = fok[li.part_feature]
            if not part_ok.any():
                continue
            if part_ok.all():
                tree, parts = li.tree, li.parts
            else:
                parts = li.parts[part_ok]
                tree = shapely.STRtree(parts)
            idx = np.flatnonzero(far)
            if len(idx) == 0:
                break
            (si, _pi), d = tree.query_nearest(ss.geoms[idx], return_distance=True,
                                              all_matches=False)
            best = np.full(len(idx), np.inf)
            np.minimum.at(best, si, d)
            cur = np.where(dist[idx] > 0, dist[idx], np.inf)
            dist[idx] = np.minimum(cur, best)
        dist[~np.isfinite(dist)] = np.nan
        layer_names = ", ".join(li.name for li, _ in covs)
        kind = self.rulebook.kinds[r.kind]
        for si in np.flatnonzero(outside):
            sa = float(site_area[si])
            oa = float(out_area[si])
            per_site_hits[si].append(Hit(
                layer=layer_names, kind=r.kind, kind_zh=kind.name_zh, feature=None, features=[],
                name=None, zone=None, overlap_m2=oa, overlap_ratio=(oa / sa if sa > 0 else None),
                distance_m=float(dist[si]) if np.isfinite(dist[si]) else None, rule=r.id,
                rule_zh=r.name_zh, test=r.describe_test(), verdict=r.verdict,
                procedures=list(r.procedures), approval=r.approval,
                citation=r.citation.as_dict(), note=r.note, site_filter=r.describe_site_filter(),
            ))


def engine_for(workspace, rulebook: Rulebook | None = None, **kw) -> SitingEngine:
    """Return the siting engine of a workspace, built once per workspace version.

    See :func:`ecogis.siting_cache.engine_for` (in-process memo and a cache file beside the
    workspace); keyword arguments ``region``, ``params``, ``threads``, ``disk`` go there.
    """
    from ecogis.siting_cache import engine_for as _engine_for

    return _engine_for(workspace, rulebook, **kw)


def sites_from_wkt(texts: Sequence[str], *, crs=None) -> gpd.GeoDataFrame:
    """Return sites from WKT strings: lon/lat (EPSG:4490) unless ``crs`` says otherwise.

    Raises :class:`~ecogis.errors.InputError` for WKT that does not parse, and
    :class:`~ecogis.errors.CRSError` when projected coordinates come without a usable CRS.
    """
    from ecogis.crs import check_crs, infer_crs, to_crs

    geoms = []
    for i, t in enumerate(texts, start=1):
        try:
            g = shapely.from_wkt(t)
        except Exception as exc:  # shapely.errors.GEOSException
            raise InputError(f"cannot parse WKT {t[:60]!r}: {exc}", feature=i,
                             fix="write e.g. POINT (105.4 30.3) or POLYGON ((...)) in lon/lat"
                             ) from None
        if g is None or g.is_empty:
            raise InputError(f"WKT {t[:60]!r} is empty", feature=i, fix="give a non-empty geometry")
        geoms.append(g)
    bounds = shapely.total_bounds(np.asarray(geoms, dtype=object))
    the_crs = to_crs(crs) if crs is not None else infer_crs(bounds)[0]
    check_crs(the_crs, bounds)
    return gpd.GeoDataFrame({"id": list(range(1, len(geoms) + 1))}, geometry=geoms, crs=the_crs)


def sites_from_lonlat(texts: Sequence[str]) -> gpd.GeoDataFrame:
    """Return point sites from ``"LON,LAT"`` strings (degrees, EPSG:4490), range-checked."""
    pts = []
    for i, t in enumerate(texts, start=1):
        parts = [p.strip() for p in str(t).replace("，", ",").split(",")]
        try:
            lon, lat = (float(p) for p in parts)
        except ValueError:
            raise InputError(f"--lonlat {t!r} is not LON,LAT", feature=i,
                             fix="write --lonlat 105.45,30.35 (longitude first)") from None
        in_china = (CHINA_LONLAT[0] <= lon <= CHINA_LONLAT[2]
                    and CHINA_LONLAT[1] <= lat <= CHINA_LONLAT[3])
        swapped = (CHINA_LONLAT[0] <= lat <= CHINA_LONLAT[2]
                   and CHINA_LONLAT[1] <= lon <= CHINA_LONLAT[3])
        if not in_china and swapped:
            raise InputError(f"--lonlat {t!r} is outside China; it looks like LAT,LON: swap them",
                             feature=i, fix="write --lonlat LON,LAT with the longitude first")
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise InputError(f"--lonlat {t!r}: longitude must be within ±180° and latitude "
                             "within ±90°", feature=i, fix="write --lonlat LON,LAT in degrees")
        if not in_china:
            raise InputError(f"--lonlat {t!r} is outside China (70-140°E, 0-56°N)",
                             feature=i, fix="write --lonlat LON,LAT with the longitude first")
        pts.append(shapely.Point(lon, lat))
    return gpd.GeoDataFrame({"id": list(range(1, len(pts) + 1))}, geometry=pts, crs=CGCS2000)


def read_sites(path, *, crs=None, encoding: str | None = None) -> gpd.GeoDataFrame:
    """Read a site file: any vector format ecogis reads, a 界址点 TXT, or a CSV.

    A CSV needs a ``wkt`` (or ``geometry``) column, or ``lon``/``lat`` columns (degrees), or
    ``x``/``y`` with ``crs``. Other columns (id, category, radius_m, width_m, name) are kept.
    """
    from pathlib import Path

    from ecogis.io import parse_source, read_vector

    p, _layer = parse_source(path)
    if p.suffix.lower() in (".csv", ".xlsx", ".xlsm") and p.exists():
        from ecogis.formats.tables import find_columns, read_table

        df, _info = read_table(p, encoding=encoding)
        if "wkt" not in find_columns(df.columns) or crs is None:
            gdf, _rep = read_vector(p, crs=crs, encoding=encoding, kind="site")
            gdf.attrs["source"] = str(Path(p))
            return gdf
    if p.suffix.lower() == ".csv":
        if not p.exists():
            raise InputError("file not found", file=str(p), fix="check the path")
        try:
            df = pd.read_csv(p, encoding=encoding or "utf-8-sig")
        except UnicodeDecodeError:
            df = pd.read_csv(p, encoding="gb18030")
        cols = {c.lower(): c for c in df.columns}
        where = str(p)
        if "wkt" in cols or "geometry" in cols:
            col = cols.get("wkt") or cols["geometry"]
            g = sites_from_wkt([str(v) for v in df[col]], crs=crs)
            out = gpd.GeoDataFrame(df.drop(columns=[col]), geometry=g.geometry.values,
                                   crs=g.crs)
        elif "lon" in cols and "lat" in cols:
            g = sites_from_lonlat([f"{a},{b}" for a, b in
                                   zip(df[cols["lon"]], df[cols["lat"]], strict=True)])
            out = gpd.GeoDataFrame(df.drop(columns=[cols["lon"], cols["lat"]]),
                                   geometry=g.geometry.values, crs=CGCS2000)
        elif "x" in cols and "y" in cols and crs is not None:
            geoms = shapely.points(df[cols["x"]].to_numpy(float), df[cols["y"]].to_numpy(float))
            out = gpd.GeoDataFrame(df.drop(columns=[cols["x"], cols["y"]]), geometry=geoms,
                                   crs=crs)
        else:
            raise InputError("a site CSV needs a wkt column, lon/lat columns, or x/y with --crs",
                             file=where, fix="add a wkt column such as POINT (105.4 30.3)")
        return out
    gdf, _rep = read_vector(path, crs=crs, encoding=encoding, kind="site")
    gdf.attrs["source"] = str(Path(p))
    return gdf


def _str_or_none(v: Any) -> str | None:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    return str(v)


def check(layers: Mapping[str, tuple[str, gpd.GeoDataFrame]], sites: gpd.GeoDataFrame,
          rulebook: Rulebook, **kw: Any) -> CheckResult:
    """One-shot check: index ``layers`` and check ``sites`` (see :class:`SitingEngine`)."""
    engine_kw = {k: kw.pop(k) for k in ("crs", "threads") if k in kw}
    return SitingEngine(layers, rulebook, **engine_kw).check(sites, **kw)


__all__ = [
    "CIRCLE_QUAD_SEGS", "METHODS", "CheckResult", "Hit", "LayerIndex", "SiteResult", "SiteSet",
    "SitingEngine", "SitingWarning", "build_layer_index", "check", "prepare_sites",
]
