"""Spatial indicators of the plans, measured from layers and rasters, set beside plan targets.

Definitions are data (``layers/indicators.toml``); each names a formula over layer kinds and
land-cover classes. Areas are m² on the CGCS2000 ellipsoid (geodesic area of lon/lat geometry
with oriented rings), lengths geodesic metres, shares percent. A layer or raster an indicator
needs that is missing gives ``no data`` — never zero.

The plan side is read through :func:`plan_entries`, which accepts the ``Plan`` object of
:mod:`ecogis.plans`, the plain dict of a plan TOML file, or a path / plan id.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from ecogis import measure
from ecogis.crs import CGCS2000, metric_crs
from ecogis.data import data_path, read_toml, read_toml_cached
from ecogis.errors import DataFileError, InputError
from ecogis.units import AREA_UNITS, area_unit

#: statuses of an indicator against its plan
MET, NOT_MET, NO_DATA, NO_TARGET = "met", "not met", "no data", "no target"
DIRECTIONS = ("higher", "lower")
#: a raster must cover this share of the land it measures, else the indicator is "no data"
MIN_RASTER_COVERAGE = 0.99
#: segments per full circle of a buffer (shapely quad_segs = this / 4)
BUFFER_SEGMENTS = 64

_COMMON = {"id", "name_zh", "name_en", "unit", "direction", "formula", "note", "source"}
FORMULAS: dict[str, tuple[set[str], set[str], str]] = {
    # formula: (required keys, optional keys, unit family)
    "layer_share": ({"kinds"}, {"require"}, "share"),
    "layer_area": ({"kinds"}, {"require"}, "area"),
    "raster_class_share": ({"raster", "classes"}, set(), "share"),
    "raster_class_area": ({"raster", "classes"}, set(), "area"),
    "shoreline_protection": ({"rivers", "protect"}, {"require"}, "share"),
    "service_coverage": ({"from", "to", "distance_m"}, {"to_field", "to_values"}, "share"),
    "slope_area": ({"min_slope_deg"}, {"kinds", "classes"}, "area"),
    "slope_share": ({"min_slope_deg"}, {"kinds", "classes"}, "share"),
}
PERCENT_ALIASES = {"%", "percent", "pct", "百分比"}


# --------------------------------------------------------------------------------------------
# definitions


@dataclass(frozen=True)
class IndicatorDef:
    """One indicator definition of layers/indicators.toml."""

    id: str
    name_zh: str
    unit: str
    direction: str
    formula: str
    params: Mapping[str, Any]
    name_en: str = ""
    note: str = ""
    source: str = ""


def _is_percent(unit: str) -> bool:
    return str(unit).strip().lower() in PERCENT_ALIASES


def load_indicators(path: str | os.PathLike | None = None) -> dict[str, IndicatorDef]:
    """Load and validate indicator definitions (default ``layers/indicators.toml``) by id."""
    p = Path(path) if path is not None else data_path("indicators.toml")
    raw = read_toml_cached(p)
    where = {"file": str(p)}
    if set(raw) - {"indicators"}:
        raise DataFileError(f"unknown top-level keys {sorted(set(raw) - {'indicators'})}",
                            **where, fix="only [[indicators]] entries are allowed")
    from ecogis.kinds import load_kinds
    from ecogis.raster import RASTER_KINDS, load_landcover

    kinds = load_kinds()
    classes = load_landcover()
    out: dict[str, IndicatorDef] = {}
    for n, spec in enumerate(raw.get("indicators", []), start=1):
        iid = spec.get("id")
        label = f"indicator #{n} ({iid!r})"
        if not iid or not isinstance(iid, str):
            raise DataFileError(f"{label} has no id", **where, fix="add id = \"snake_case\"")
        if iid in out:
            raise DataFileError(f"indicator id {iid!r} appears twice", **where,
                                fix="give each indicator its own id")
        formula = spec.get("formula")
        if formula not in FORMULAS:
            raise DataFileError(f"{label}: formula {formula!r} is unknown", **where,
                                fix=f"use one of {', '.join(FORMULAS)}")
        required, optional, family = FORMULAS[formula]
        unknown = set(spec) - _COMMON - required - optional
        if unknown:
            raise DataFileError(f"{label}: unknown keys {sorted(unknown)} for formula {formula}",
                                **where, fix=f"use {sorted(_COMMON | required | optional)}")
        missing = (required | {"name_zh", "unit", "direction"}) - set(spec)
        if missing:
            raise DataFileError(f"{label}: missing keys {sorted(missing)}", **where,
                                fix="add them")
        if spec["direction"] not in DIRECTIONS:
            raise DataFileError(f"{label}: direction {spec['direction']!r}", **where,
                                fix="use \"higher\" or \"lower\"")
        unit = spec["unit"]
        if family == "share" and not _is_percent(unit):
            raise DataFileError(f"{label}: a {formula} is a share: unit must be \"%\", not "
                                f"{unit!r}", **where, fix="set unit = \"%\"")
        if family == "area":
            try:
                area_unit(unit)
            except InputError:
                raise DataFileError(f"{label}: unit {unit!r} is not an area unit", **where,
                                    fix=f"use one of {', '.join(AREA_UNITS)}") from None
        for key in ("kinds", "rivers", "protect", "from", "to"):
            for k in spec.get(key, []):
                if k not in kinds:
                    raise DataFileError(f"{label}: {key} names unknown layer kind {k!r}",
                                        **where, fix="use kinds of layers/kinds.toml")
        for c in spec.get("classes", []):
            if c not in classes:
                raise DataFileError(f"{label}: unknown land-cover class {c!r}", **where,
                                    fix=f"use classes of layers/landcover.toml: {', '.join(classes)}")
        if "raster" in spec and spec["raster"] not in RASTER_KINDS:
            raise DataFileError(f"{label}: raster {spec['raster']!r}", **where,
                                fix=f"use one of {', '.join(RASTER_KINDS)}")
        if spec.get("require", "all") not in ("all", "any"):
            raise DataFileError(f"{label}: require {spec['require']!r}", **where,
                                fix="use \"all\" or \"any\"")
        if formula.startswith("slope_") and not (spec.get("kinds") or spec.get("classes")):
            raise DataFileError(f"{label}: a slope formula needs kinds or classes", **where,
                                fix="add kinds = [\"cultivated\"] or classes = [\"cropland\"]")
        if "to_values" in spec and "to_field" not in spec:
            raise DataFileError(f"{label}: to_values without to_field", **where,
                                fix="add to_field")
        params = {k: v for k, v in spec.items() if k not in _COMMON}
        out[iid] = IndicatorDef(id=iid, name_zh=spec["name_zh"], unit=unit,
                                direction=spec["direction"], formula=formula, params=params,
                                name_en=spec.get("name_en", ""), note=spec.get("note", ""),
                                source=spec.get("source", ""))
    return out


# --------------------------------------------------------------------------------------------
# geometry helpers (through ecogis.measure: ellipsoidal areas, geodesic lengths, dissolves)

POLYGONAL = (3, 6)
LINEAR = (1, 2, 5)  # LineString, LinearRing, MultiLineString


def _lonlat_geoms(gdf) -> np.ndarray:
    g = np.asarray(measure.to_lonlat(gdf).geometry.values, dtype=object)
    return g[~(shapely.is_missing(g) | shapely.is_empty(g))]


def _coverage_kind(kind: str | None) -> bool:
    if kind is None:
        return False
    from ecogis.kinds import load_kinds

    reg = load_kinds()
    return kind in reg and reg[kind].coverage


def dissolve_lonlat(gdfs: Sequence, *, coverage: bool = False) -> np.ndarray:
    """Return the dissolved polygon parts (lon/lat, EPSG:4490) of layers ``gdfs``."""
    if not gdfs:
        return np.array([], dtype=object)
    geoms = np.concatenate([_lonlat_geoms(g) for g in gdfs])
    return measure.dissolve(geoms, coverage=coverage and len(gdfs) == 1)


def _as_geom(parts: np.ndarray) -> shapely.Geometry | None:
    return shapely.multipolygons(parts) if len(parts) else None


def ellipsoidal_area(geom) -> float:
    """Return the area in m² on the CGCS2000 ellipsoid of lon/lat geometry (or part array)."""
    if geom is None:
        return 0.0
    arr = np.atleast_1d(np.asarray(geom, dtype=object))
    if len(arr) == 0:
        return 0.0
    return float(measure.geodesic_area(measure.polygonal(arr), CGCS2000).sum())


def geodesic_length(geom) -> float:
    """Return the geodesic length in metres of the lines of lon/lat geometry (CGCS2000)."""
    if geom is None or geom.is_empty:
        return 0.0
    parts = shapely.get_parts(geom)
    parts = parts[np.isin(shapely.get_type_id(parts), LINEAR)]
    return float(measure.geodesic_length(parts, CGCS2000).sum()) if len(parts) else 0.0


def _clip(parts: np.ndarray, territory_parts: np.ndarray) -> np.ndarray:
    """Polygon parts of ``parts`` ∩ ``territory_parts`` (STRtree; covered parts kept whole)."""
    if len(parts) == 0 or len(territory_parts) == 0:
        return np.array([], dtype=object)
    tree = shapely.STRtree(territory_parts)
    ia, ib = tree.query(parts, predicate="intersects")
    if len(ia) == 0:
        return np.array([], dtype=object)
    ga, gb = parts[ia], territory_parts[ib]
    pieces = np.where(shapely.covered_by(ga, gb), ga, shapely.intersection(ga, gb))
    pieces = shapely.get_parts(measure.polygonal(pieces))
    return pieces[~shapely.is_empty(pieces)]


# --------------------------------------------------------------------------------------------
# inputs


class Inputs:
    """The layers and rasters indicators read: by kind, loaded on first use.

    ``layers`` maps a kind to a GeoDataFrame or a list of them; ``loader(kind)`` is called for
    kinds not in ``layers`` (the workspace reader). ``rasters`` maps a raster kind
    (``landcover``, ``dem``) to a path or :class:`ecogis.raster.Grid`.
    """

    def __init__(self, layers: Mapping[str, Any] | None = None,
                 rasters: Mapping[str, Any] | None = None,
                 loader: Callable[[str], list] | None = None) -> None:
        self._layers: dict[str, list] = {}
        for k, v in (layers or {}).items():
            self._layers[k] = list(v) if isinstance(v, (list, tuple)) else [v]
        self._rasters = dict(rasters or {})
        self._loader = loader
        self._grids: dict[str, Any] = {}
        self._cache: dict[Any, Any] = {}

    @classmethod
    def from_workspace(cls, ws, *, admin: str | None = None) -> Inputs:
        """Inputs reading layers from ``ws`` (a Workspace) and its registered rasters.

        ``admin`` names the layer that is the territory (default: every ``admin`` layer).
        """
        from ecogis.raster import list_rasters

        rasters = {}
        for r in list_rasters(ws):
            rasters[r.kind] = r.path  # the last imported raster of a kind wins
        layers = {}
        if admin is not None:
            if admin not in ws.names():
                raise InputError(f"has no layer {admin!r}", file=str(ws.path),
                                 fix="pass --admin with a layer listed by `ecogis layers`")
            layers["admin"] = ws.read(admin)
        return cls(layers=layers, rasters=rasters,
                   loader=lambda kind: [ws.read(n) for n in ws.names_of_kind(kind)])

    def cached(self, key: Any, compute: Callable[[], Any]) -> Any:
        """Return ``compute()``, computed once per ``key`` for these inputs."""
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def layers_of(self, kind: str) -> list:
        """The layers of ``kind`` that have features (GeoDataFrames)."""
        if kind not in self._layers:
            self._layers[kind] = list(self._loader(kind)) if self._loader else []
        return [g for g in self._layers[kind] if g is not None and len(g)]

    def has(self, kind: str) -> bool:
        return bool(self.layers_of(kind))

    def parts(self, kinds: Sequence[str]) -> np.ndarray:
        """Dissolved lon/lat polygon parts of every layer of ``kinds`` (overlaps once)."""
        key = ("parts", tuple(kinds))

        def compute():
            gdfs = [g for k in kinds for g in self.layers_of(k)]
            cov = len(kinds) == 1 and _coverage_kind(kinds[0])
            return dissolve_lonlat(gdfs, coverage=cov)

        return self.cached(key, compute)

    def raster(self, kind: str):
        """The raster of ``kind`` as a Grid, or None."""
        from ecogis.raster import as_grid

        if self._rasters.get(kind) is None:
            return None
        if kind not in self._grids:
            self._grids[kind] = as_grid(self._rasters[kind])
        return self._grids[kind]

    def territory(self) -> np.ndarray | None:
        """Dissolved parts of the ``admin`` layers in lon/lat (EPSG:4490); None without one."""
        if not self.has("admin"):
            return None
        parts = self.parts(("admin",))
        return parts if len(parts) else None

    def territory_m2(self) -> float:
        """Ellipsoidal area of the territory, m²."""
        return self.cached("territory_m2", lambda: ellipsoidal_area(self.territory()))


# --------------------------------------------------------------------------------------------
# computation


@dataclass
class IndicatorValue:
    """A measured indicator: value in ``unit`` (None = no data), how, and what it rests on."""

    id: str
    name_zh: str
    unit: str
    value: float | None
    method: str = "ellipsoidal"
    note: str = ""
    numerator: float | None = None
    denominator: float | None = None
    basis_unit: str = ""
    detail: list[dict[str, Any]] = field(default_factory=list)


NO_TERRITORY = "no admin layer: the territory is unknown"


def _nodata(d: IndicatorDef, why: str) -> IndicatorValue:
    return IndicatorValue(d.id, d.name_zh, d.unit, None, note=why)


def _area_value(d: IndicatorDef, m2: float) -> float:
    return m2 / area_unit(d.unit).m2


def _kinds_parts(kinds: Sequence[str], inp: Inputs, require: str):
    """``(parts, note)`` of the layers of ``kinds``; parts None when required layers are missing."""
    miss = [k for k in kinds if not inp.has(k)]
    present = [k for k in kinds if k not in miss]
    if not present or (require == "all" and miss):
        return None, "no layer of kind " + ", ".join(miss or kinds)
    note = f"missing layers counted as absent: {', '.join(miss)}" if miss else ""
    return inp.parts(tuple(present)), note


def _share(d: IndicatorDef, num_m2: float, den_m2: float, note: str,
           method: str = "ellipsoidal") -> IndicatorValue:
    if den_m2 <= 0:
        return _nodata(d, "the reference area is zero")
    return IndicatorValue(d.id, d.name_zh, d.unit, 100.0 * num_m2 / den_m2, method=method,
                          note=note, numerator=num_m2, denominator=den_m2, basis_unit="m2")


def _layer_share(d: IndicatorDef, inp: Inputs) -> IndicatorValue:
    terr = inp.territory()
    if terr is None:
        return _nodata(d, NO_TERRITORY)
    parts, note = _kinds_parts(d.params["kinds"], inp, d.params.get("require", "all"))
    if parts is None:
        return _nodata(d, note)
    num = measure.intersection_area(parts, terr, CGCS2000)
    return _share(d, num, inp.territory_m2(), note)


def _layer_area(d: IndicatorDef, inp: Inputs) -> IndicatorValue:
    parts, note = _kinds_parts(d.params["kinds"], inp, d.params.get("require", "all"))
    if parts is None:
        return _nodata(d, note)
    terr = inp.territory()
    if terr is not None:
        m2 = measure.intersection_area(parts, terr, CGCS2000)
    else:
        m2 = ellipsoidal_area(parts)
        note = "; ".join(filter(None, [note, "no admin layer: the whole layer is measured"]))
    return IndicatorValue(d.id, d.name_zh, d.unit, _area_value(d, m2), note=note, numerator=m2,
                          basis_unit="m2")


RASTER_METHOD = "ellipsoidal (exact fractional pixel coverage)"


def _raster_classes(d: IndicatorDef, inp: Inputs):
    from ecogis.raster import class_values, zonal_classes

    terr = inp.territory()
    if terr is None:
        return None, _nodata(d, NO_TERRITORY)
    kind = d.params["raster"]
    grid = inp.raster(kind)
    if grid is None:
        return None, _nodata(d, f"no {kind} raster in the workspace")
    values = class_values(d.params["classes"])
    z = inp.cached(("zonal", kind), lambda: zonal_classes(
        grid, gpd.GeoSeries([_as_geom(terr)], crs=CGCS2000)))
    terr_m2 = inp.territory_m2()
    covered = float(z.areas.sum())
    if covered < MIN_RASTER_COVERAGE * terr_m2:
        return None, _nodata(d, f"the {kind} raster covers only "
                                f"{100 * covered / terr_m2:.1f} % of the territory")
    cols = [j for j, c in enumerate(z.classes) if c in values]
    return (float(z.areas[0, cols].sum()), terr_m2), None


def _raster_class_share(d: IndicatorDef, inp: Inputs) -> IndicatorValue:
    got, bad = _raster_classes(d, inp)
    if bad is not None:
        return bad
    num, den = got
    return _share(d, num, den, "", RASTER_METHOD)


def _raster_class_area(d: IndicatorDef, inp: Inputs) -> IndicatorValue:
    got, bad = _raster_classes(d, inp)
    if bad is not None:
        return bad
    num, _ = got
    return IndicatorValue(d.id, d.name_zh, d.unit, _area_value(d, num), method=RASTER_METHOD,
                          numerator=num, basis_unit="m2")


def river_banks(rivers: Sequence) -> tuple[shapely.Geometry | None, shapely.Geometry | None]:
    """Return ``(polygon banks, line banks)`` of river layers, lon/lat geometries or None.

    Polygon banks are the boundary of the union of river polygons; line banks the union of
    river lines outside those polygons (each line counts as two banks).
    """
    geoms = np.concatenate([_lonlat_geoms(g) for g in rivers]) if rivers else np.array([])
    parts = shapely.get_parts(geoms) if len(geoms) else np.array([], dtype=object)
    tid = shapely.get_type_id(parts)
    polys = _as_geom(measure.dissolve(parts[np.isin(tid, POLYGONAL)]))
    lparts = parts[np.isin(tid, LINEAR)]
    lines = shapely.union_all(lparts) if len(lparts) else None
    if lines is not None and polys is not None:
        lines = shapely.difference(lines, polys)
    if lines is not None and lines.is_empty:
        lines = None
    return (shapely.boundary(polys) if polys is not None else None), lines


def _lines_in(lines, parts: np.ndarray | None):
    """The part of ``lines`` inside the polygon ``parts`` (boundary included), or None."""
    if lines is None or parts is None or len(parts) == 0:
        return None
    segs = shapely.get_parts(lines)
    tree = shapely.STRtree(parts)
    ia, ib = tree.query(segs, predicate="intersects")
    if len(ia) == 0:
        return None
    pieces = shapely.intersection(segs[ia], parts[ib])
    pieces = shapely.get_parts(pieces)
    pieces = pieces[np.isin(shapely.get_type_id(pieces), LINEAR)]
    if len(pieces) == 0:
        return None
    out = shapely.line_merge(shapely.union_all(pieces))  # pieces on shared edges count once
    return None if out.is_empty else out


def shoreline_protection(rivers: Sequence, protect: np.ndarray | None,
                         territory: np.ndarray | None = None) -> tuple[float, float]:
    """Return ``(protected bank length, total bank length)`` in geodesic metres.

    Banks of the river layers ``rivers`` (see :func:`river_banks`) inside ``territory``
    (lon/lat polygon parts; everywhere when None), protected where inside the polygon parts
    ``protect`` (boundary included).
    """
    pb, lb = river_banks(rivers)
    if territory is not None:
        pb, lb = _lines_in(pb, territory), _lines_in(lb, territory)
    total = geodesic_length(pb) + 2.0 * geodesic_length(lb)
    if protect is None or len(protect) == 0:
        return 0.0, total
    prot = geodesic_length(_lines_in(pb, protect)) + 2.0 * geodesic_length(_lines_in(lb, protect))
    return prot, total


def _shoreline(d: IndicatorDef, inp: Inputs) -> IndicatorValue:
    rivers = [g for k in d.params["rivers"] for g in inp.layers_of(k)]
    if not rivers:
        return _nodata(d, "no layer of kind " + ", ".join(d.params["rivers"]))
    prot, note = _kinds_parts(d.params["protect"], inp, d.params.get("require", "any"))
    if prot is None:
        return _nodata(d, note)
    p, total = shoreline_protection(rivers, prot, inp.territory())
    if total <= 0:
        return _nodata(d, "the river layers have no bank inside the territory")
    return IndicatorValue(d.id, d.name_zh, d.unit, 100.0 * p / total, method="geodesic length",
                          note=note, numerator=p, denominator=total, basis_unit="m")


def service_coverage(from_parts: np.ndarray, to_geoms: np.ndarray,
                     distance_m: float) -> tuple[float, float]:
    """Return ``(covered m², total m²)``: area of ``from_parts`` within ``distance_m`` of ``to_geoms``.

    Geometries in lon/lat; buffers (:data:`BUFFER_SEGMENTS` per circle) in the CGCS2000
    Gauss-Krüger zone of their extent (:func:`ecogis.crs.metric_crs`), areas ellipsoidal.
    """
    total = ellipsoidal_area(from_parts)
    if len(from_parts) == 0 or len(to_geoms) == 0:
        return 0.0, total
    b = shapely.total_bounds(np.concatenate([from_parts, to_geoms]))
    mcrs = metric_crs(b)
    src = measure.to_metric(to_geoms, CGCS2000, target=mcrs)
    buf = shapely.buffer(src, distance_m, quad_segs=BUFFER_SEGMENTS // 4)
    buf_parts = measure.to_lonlat(measure.dissolve(buf), mcrs)
    return measure.intersection_area(from_parts, buf_parts, CGCS2000), total


def _service(d: IndicatorDef, inp: Inputs) -> IndicatorValue:
    miss = [k for k in (*d.params["from"], *d.params["to"]) if not inp.has(k)]
    if miss:
        return _nodata(d, "no layer of kind " + ", ".join(miss))
    frm = inp.parts(tuple(d.params["from"]))
    terr = inp.territory()
    if terr is not None:
        frm = _clip(frm, terr)
    if len(frm) == 0:
        return _nodata(d, "the residential layers have no area inside the territory")
    note = ""
    fld = d.params.get("to_field")
    picked = []
    for g in (g for k in d.params["to"] for g in inp.layers_of(k)):
        if fld is not None:
            if fld in g.columns:
                wanted = {str(v) for v in d.params.get("to_values", [])}
                g = g[g[fld].astype(str).isin(wanted)]
            else:
                note = f"no field {fld!r} to pick parks: every feature counts"
        if len(g):
            picked.append(_lonlat_geoms(g))
    targets = np.concatenate(picked) if picked else np.array([], dtype=object)
    cov, total = service_coverage(frm, targets, float(d.params["distance_m"]))
    return _share(d, cov, total, note, "ellipsoidal (buffers in a Gauss-Krüger plane)")


def _slope(d: IndicatorDef, inp: Inputs) -> IndicatorValue:
    from ecogis.raster import area_by_slope_class, class_values

    dem = inp.raster("dem")
    if dem is None:
        return _nodata(d, "no dem raster in the workspace")
    kinds = d.params.get("kinds", [])
    terr = inp.territory()
    present = [k for k in kinds if inp.has(k)]
    mask = None
    if present:
        land = inp.parts(tuple(present))
        if terr is not None:
            land = _clip(land, terr)
        src = "layers of kind " + ", ".join(present)
    elif d.params.get("classes") and inp.raster("landcover") is not None:
        if terr is None:
            return _nodata(d, NO_TERRITORY)
        land = terr
        mask = (inp.raster("landcover"), class_values(d.params["classes"]))
        src = "land-cover classes " + ", ".join(d.params["classes"])
    else:
        want = ", ".join(kinds) or "—"
        return _nodata(d, f"no layer of kind {want} and no land-cover raster")
    if len(land) == 0:
        return _nodata(d, "the land layers have no area inside the territory")
    key = ("slope", tuple(present), tuple(mask[1]) if mask else None)
    sc = inp.cached(key, lambda: area_by_slope_class(
        dem, gpd.GeoSeries([_as_geom(land)], crs=CGCS2000), mask=mask))
    covered = sc.total_m2 - sc.nodata_m2
    if mask is None:
        reference = ellipsoidal_area(land)
    else:  # the land of those classes as the land-cover grid sees it, DEM or not
        from ecogis.raster import zonal_classes

        z = inp.cached(("zonal", "landcover"), lambda: zonal_classes(
            mask[0], gpd.GeoSeries([_as_geom(terr)], crs=CGCS2000)))
        cols = [j for j, c in enumerate(z.classes) if c in mask[1]]
        reference = float(z.areas[0, cols].sum())
    if covered < MIN_RASTER_COVERAGE * reference:
        return _nodata(d, f"the DEM covers only {100 * covered / reference:.1f} % of the land")
    above = sc.above(float(d.params["min_slope_deg"]))
    note = f"land from {src}"
    method = "ellipsoidal (DEM pixel areas × exact coverage)"
    if d.formula == "slope_share":
        v = _share(d, above, covered, note, method)
    else:
        v = IndicatorValue(d.id, d.name_zh, d.unit, _area_value(d, above), method=method,
                           note=note, numerator=above, denominator=covered, basis_unit="m2")
    v.detail = sc.rows()
    return v


_DISPATCH: dict[str, Callable[[IndicatorDef, Inputs], IndicatorValue]] = {
    "layer_share": _layer_share,
    "layer_area": _layer_area,
    "raster_class_share": _raster_class_share,
    "raster_class_area": _raster_class_area,
    "shoreline_protection": _shoreline,
    "service_coverage": _service,
    "slope_area": _slope,
    "slope_share": _slope,
}


def compute_indicator(d: IndicatorDef, inputs: Inputs) -> IndicatorValue:
    """Measure one indicator from ``inputs``; value None (``no data``) when inputs are missing."""
    return _DISPATCH[d.formula](d, inputs)


def compute_indicators(inputs: Inputs, defs: Mapping[str, IndicatorDef] | None = None,
                       ids: Sequence[str] | None = None) -> list[IndicatorValue]:
    """Measure every indicator of ``defs`` (default layers/indicators.toml), or only ``ids``."""
    defs = defs if defs is not None else load_indicators()
    if ids:
        unknown = [i for i in ids if i not in defs]
        if unknown:
            raise InputError(f"unknown indicator ids {unknown}",
                             fix=f"use ids of layers/indicators.toml: {', '.join(defs)}")
        chosen = [defs[i] for i in ids]
    else:
        chosen = list(defs.values())
    return [compute_indicator(d, inputs) for d in chosen]


# --------------------------------------------------------------------------------------------
# plans: baselines and targets, status


COMPARATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": lambda v, t: v >= t,
    "<=": lambda v, t: v <= t,
    ">": lambda v, t: v > t,
    "<": lambda v, t: v < t,
    "==": lambda v, t: v == t,
}
_COMPARATOR_ALIASES = {
    "≥": ">=", "ge": ">=", "at_least": ">=", "min": ">=", "gte": ">=", "不低于": ">=",
    "不少于": ">=", "以上": ">=",
    "≤": "<=", "le": "<=", "at_most": "<=", "max": "<=", "lte": "<=", "不高于": "<=",
    "不超过": "<=", "以下": "<=",
    "gt": ">", "lt": "<", "=": "==", "eq": "==",
}
#: comparators relative to the baseline (used when a target has no value)
RELATIVE = {
    "no_decrease": ">=", "not_decrease": ">=", "non_decreasing": ">=", "不减少": ">=",
    "不降低": ">=", "稳中有升": ">=", "increase": ">", "持续提高": ">", "提高": ">",
    "no_increase": "<=", "not_increase": "<=", "不增加": "<=", "decrease": "<", "减少": "<",
}


def normalize_comparator(comp: str | None, direction: str) -> str:
    """Return ``>=``, ``<=``, ``>``, ``<``, ``==`` or a :data:`RELATIVE` key for ``comp``.

    A missing comparator follows the direction: ``>=`` for higher-better, ``<=`` for lower.
    """
    if comp is None or str(comp).strip() == "":
        return ">=" if direction == "higher" else "<="
    c = str(comp).strip()
    if c in COMPARATORS or c in RELATIVE:
        return c
    if c.lower() in _COMPARATOR_ALIASES or c in _COMPARATOR_ALIASES:
        return _COMPARATOR_ALIASES.get(c.lower(), _COMPARATOR_ALIASES.get(c))  # type: ignore
    if c.lower() in RELATIVE:
        return c.lower()
    raise InputError(f"unknown target comparator {comp!r}",
                     fix=f"use one of {', '.join(COMPARATORS)} or {', '.join(RELATIVE)}")


def _decimals(x: float) -> int:
    s = repr(float(x))
    if "e" in s or "." not in s:
        return 0
    frac = s.split(".")[1].rstrip("0")
    return len(frac)


def status(value: float | None, target: float | None, comparator: str | None = None, *,
           direction: str = "higher", baseline: float | None = None) -> str:
    """Return ``met``, ``not met``, ``no data`` or ``no target`` for a measured value.

    ``comparator`` defaults from ``direction``; a relative comparator (``no_decrease``,
    ``increase`` ...) or a target without a value compares with ``baseline``. The value is
    compared at the precision the plan states (the target's decimals, at least 2).
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return NO_DATA
    comp = normalize_comparator(comparator, direction)
    if comp in RELATIVE:
        comp, target = RELATIVE[comp], baseline
    if target is None:
        return NO_TARGET
    v = round(float(value), max(2, _decimals(target)))
    return MET if COMPARATORS[comp](v, float(target)) else NOT_MET


@dataclass
class Target:
    """A plan target: year (None = unspecified), value (None = relative), comparator."""

    year: int | None
    value: float | None
    comparator: str | None = None


@dataclass
class PlanEntry:
    """One plan indicator: baseline and targets in the plan's unit."""

    id: str
    name_zh: str = ""
    unit: str = ""
    direction: str | None = None
    baseline: float | None = None
    baseline_year: int | None = None
    targets: list[Target] = field(default_factory=list)
    source: str = ""


def _get(obj: Any, key: str, default: Any = None) -> Any:
    if obj is None:
        return default
    if isinstance(obj, Mapping):
        return obj.get(key, default)
    return getattr(obj, key, default)


def _num(x: Any) -> float | None:
    if x is None or isinstance(x, bool):
        return None
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _year(x: Any) -> int | None:
    try:
        return int(x) if x is not None else None
    except (TypeError, ValueError):
        return None


def _entry(raw: Any) -> PlanEntry:
    base = _get(raw, "baseline")
    if isinstance(base, (int, float)) and not isinstance(base, bool):
        bval, byear = float(base), _year(_get(raw, "baseline_year"))
    else:
        bval, byear = _num(_get(base, "value")), _year(_get(base, "year"))
    targets = []
    for t in _get(raw, "targets", None) or []:
        if isinstance(t, (int, float)) and not isinstance(t, bool):
            targets.append(Target(None, float(t)))
            continue
        targets.append(Target(_year(_get(t, "year")), _num(_get(t, "value")),
                              _get(t, "comparator")))
    src = _get(raw, "source", "") or _get(raw, "citation", "") or ""
    if not isinstance(src, str):
        src = "; ".join(str(s) for s in src) if isinstance(src, (list, tuple)) else str(src)
    return PlanEntry(id=str(_get(raw, "id")), name_zh=_get(raw, "name_zh", "") or "",
                     unit=_get(raw, "unit", "") or "", direction=_get(raw, "direction"),
                     baseline=bval, baseline_year=byear, targets=targets, source=src)


def _load_plan_any(plan: str | os.PathLike) -> Any:
    p = Path(plan)
    try:  # the plan module of ecogis when present (validates the file)
        from ecogis.plans import load_plan  # type: ignore[import-not-found]
    except ImportError:
        load_plan = None
    if load_plan is not None:
        return load_plan(plan if not p.is_file() else p)
    if not p.is_file():
        p = data_path("plans", f"{plan}.toml")
    if not p.is_file():
        raise InputError(f"no plan {str(plan)!r}", file=str(p),
                         fix="pass layers/plans/<region>.toml or a plan id")
    return read_toml(p)


def plan_entries(plan: Any) -> dict[str, PlanEntry]:
    """Return the plan's indicators by id from a Plan object, a dict, or a path / plan id."""
    if plan is None:
        return {}
    if isinstance(plan, (str, os.PathLike)):
        plan = _load_plan_any(plan)
    items = _get(plan, "indicators", None)
    if items is None:
        return {}
    if isinstance(items, Mapping):
        items = [dict(v, id=k) if isinstance(v, Mapping) else v for k, v in items.items()]
    out = {}
    for raw in items:
        e = _entry(raw)
        out[e.id] = e
    return out


def choose_target(targets: Sequence[Target], year: int | None) -> Target | None:
    """The target for ``year``: that year's, else the next later one; without a year the earliest.

    Targets without a year apply to every year when no dated target fits.
    """
    dated = sorted((t for t in targets if t.year is not None), key=lambda t: t.year)
    undated = [t for t in targets if t.year is None]
    if year is None:
        return dated[0] if dated else (undated[0] if undated else None)
    later = [t for t in dated if t.year >= year]
    if later:
        return later[0]
    return undated[0] if undated else None


def convert(value: float | None, from_unit: str, to_unit: str, *, what: str = "") -> float | None:
    """Convert a plan value from ``from_unit`` to ``to_unit`` (percent or area units)."""
    if value is None or not from_unit or from_unit == to_unit:
        return value
    if _is_percent(from_unit) and _is_percent(to_unit):
        return value
    try:
        return value * area_unit(from_unit).m2 / area_unit(to_unit).m2
    except InputError:
        raise InputError(f"{what}: plan unit {from_unit!r} cannot be converted to {to_unit!r}",
                         fix="give the plan indicator the unit of layers/indicators.toml"
                         ) from None


@dataclass
class IndicatorRow:
    """An indicator measured and set beside the plan: value, baseline, target, status."""

    id: str
    name_zh: str
    unit: str
    value: float | None
    status: str
    baseline: float | None = None
    baseline_year: int | None = None
    target: float | None = None
    target_year: int | None = None
    comparator: str | None = None
    basis: str | None = None
    direction: str = "higher"
    method: str = ""
    note: str = ""
    source: str = ""
    plan_source: str = ""
    numerator: float | None = None
    denominator: float | None = None
    basis_unit: str = ""
    detail: list[dict[str, Any]] = field(default_factory=list)

    @property
    def target_text(self) -> str:
        """``≥ 32 (2025)``; ``≥ baseline 31.3 (2022)`` when the baseline is the yardstick."""
        sym = {">=": "≥", "<=": "≤", ">": ">", "<": "<", "==": "="}
        if self.basis is None or self.comparator is None:
            return ""
        s = sym.get(self.comparator, self.comparator)
        if self.basis == "baseline":
            return f"{s} baseline"
        val = "" if self.target is None else f" {self.target:g}"
        yr = f" ({self.target_year})" if self.target_year else ""
        return f"{s}{val}{yr}"


def evaluate(values: Sequence[IndicatorValue], plan: Any = None, *, year: int | None = None,
             defs: Mapping[str, IndicatorDef] | None = None) -> list[IndicatorRow]:
    """Set measured ``values`` beside the plan's baselines and targets; return rows with status.

    ``plan`` is a Plan object, a plan dict, a path or plan id, or None. The target is the one
    for ``year`` (see :func:`choose_target`); without a target the baseline is the yardstick
    (not worse than the baseline in the indicator's direction).
    """
    defs = defs if defs is not None else load_indicators()
    entries = plan if isinstance(plan, dict) and all(
        isinstance(v, PlanEntry) for v in plan.values()) else plan_entries(plan)
    rows = []
    for v in values:
        d = defs.get(v.id)
        e = entries.get(v.id)
        direction = (e.direction if e and e.direction in DIRECTIONS
                     else (d.direction if d else "higher"))
        row = IndicatorRow(id=v.id, name_zh=v.name_zh, unit=v.unit, value=v.value,
                           status=NO_DATA if v.value is None else NO_TARGET,
                           direction=direction, method=v.method, note=v.note,
                           source=d.source if d else "", numerator=v.numerator,
                           denominator=v.denominator, basis_unit=v.basis_unit, detail=v.detail)
        if e is not None:
            what = f"plan indicator {e.id!r}"
            row.baseline = convert(e.baseline, e.unit, v.unit, what=what)
            row.baseline_year = e.baseline_year
            row.plan_source = e.source
            t = choose_target(e.targets, year)
            comp: str | None = None
            if t is not None:
                comp = normalize_comparator(t.comparator, direction)
                if comp in RELATIVE:
                    row.comparator, row.basis = RELATIVE[comp], "baseline"
                    row.target, row.target_year = row.baseline, t.year
                else:
                    row.comparator, row.basis = comp, "target"
                    row.target = convert(t.value, e.unit, v.unit, what=what)
                    row.target_year = t.year
                    if row.target is None:  # a target with no value: the baseline rules
                        row.basis, row.target = "baseline", row.baseline
            elif row.baseline is not None:
                row.comparator = ">=" if direction == "higher" else "<="
                row.basis, row.target = "baseline", row.baseline
            if row.comparator is not None and row.target is not None:
                row.status = status(v.value, row.target, row.comparator, direction=direction)
            elif v.value is not None:
                row.status = NO_TARGET
        rows.append(row)
    return rows


def indicators_report(inputs: Inputs, plan: Any = None, *, year: int | None = None,
                      ids: Sequence[str] | None = None,
                      defs: Mapping[str, IndicatorDef] | None = None) -> list[IndicatorRow]:
    """Measure the indicators from ``inputs`` and evaluate them against ``plan``."""
    defs = defs if defs is not None else load_indicators()
    return evaluate(compute_indicators(inputs, defs, ids), plan, year=year, defs=defs)
