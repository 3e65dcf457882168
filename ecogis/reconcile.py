"""Reconcile a plan's declared figures with the layers: each figure beside the measured value.

For every figure of a plan file (``layers/plans/<region>.toml``) the layer of its kind is
measured (dissolved, so a layer's own overlaps count once; ellipsoidal on CGCS2000 by default)
and set beside the declared value, with the difference (absolute, in the declared unit, and
relative), the figure's tolerance and a status: ``ok``, ``mismatch``, or ``no data`` when the
layer is missing (never zero).

Shares of the territory are divided by the *measured* territory (the workspace's ``admin``
layer of the region, or the region boundary ``layers/boundaries/<id>.gpkg``) and are also
reported against the *declared* total area. A share whose plan names the area figure it came
from (``area_figure``) is cross-checked without any layer: declared area ÷ measured territory
and declared area ÷ declared total, so a region with only a boundary is still checked.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from ecogis.errors import InputError
from ecogis.kinds import load_kinds
from ecogis.measure import (
    GEOD,
    check_method,
    layer_area,
    method_label,
    to_lonlat,
    to_metric,
)
from ecogis.plans import Figure, Plan, load_plan, unit_dimension
from ecogis.workspace import LoadedLayer

__all__ = ["STATUSES", "ReconcileRow", "Reconciliation", "Territory", "measure_territory",
           "reconcile"]

OK, MISMATCH, NO_DATA = "ok", "mismatch", "no data"
STATUSES = (OK, MISMATCH, NO_DATA)

#: basis of a row: what was divided by what
LAYER = "layer"
LAYER_TERRITORY = "layer / measured territory"
LAYER_DECLARED_TOTAL = "layer / declared total"
AREA_TERRITORY = "declared area / measured territory"
AREA_DECLARED_TOTAL = "declared area / declared total"
TERRITORY = "territory"

_LOWER_LEVEL_WORDS = {"town", "township", "subdistrict", "乡镇", "镇", "乡", "街道", "镇街",
                      "村", "village"}


@dataclass
class Territory:
    """The measured territory of the region: area (m²), where it came from, its bounds."""

    m2: float | None
    source: str
    method: str
    bounds: tuple[float, float, float, float] | None = None  # lon/lat
    features: int = 0


@dataclass
class ReconcileRow:
    """One declared figure (or one cross-check of it) beside the measured value.

    ``declared``/``measured``/``difference`` are in ``declared_unit``; ``*_si`` in the SI unit
    of the measure (m², fraction, m, count); ``measured_m2`` is the area measured (for a share:
    the numerator). ``relative_difference`` = (measured − declared) / declared.
    """

    id: str
    name_zh: str
    basis: str
    layer_kind: str | None
    filter: dict[str, list[str]]
    measure: str
    comparator: str
    declared: float
    declared_unit: str
    declared_si: float
    si_unit: str
    declared_m2: float | None
    measured: float | None
    measured_si: float | None
    measured_m2: float | None
    difference: float | None
    relative_difference: float | None
    tolerance: float
    status: str
    source: str
    line: int
    quote: str = ""
    year: int | None = None
    layers: list[str] = field(default_factory=list)
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Reconciliation:
    """All rows of one plan against one workspace, with the plan's recorded inconsistencies."""

    plan: str
    region: str
    region_name: str
    method: str
    method_label: str
    territory: dict[str, Any]
    rows: list[ReconcileRow]
    inconsistencies: list[dict[str, Any]]
    unit: str = "m2"

    @property
    def summary(self) -> dict[str, int]:
        """Number of rows per status."""
        return {s: sum(r.status == s for r in self.rows) for s in STATUSES}

    @property
    def failed(self) -> bool:
        """True when any row is a mismatch."""
        return any(r.status == MISMATCH for r in self.rows)

    def as_dict(self) -> dict[str, Any]:
        return {
            "plan": self.plan, "region": self.region, "region_name": self.region_name,
            "method": self.method, "method_label": self.method_label, "unit": self.unit,
            "territory": self.territory, "summary": self.summary,
            "rows": [r.as_dict() for r in self.rows], "inconsistencies": self.inconsistencies,
        }


# ------------------------------------------------------------------------------ territory


def _select_region(gdf: gpd.GeoDataFrame, region) -> tuple[gpd.GeoDataFrame, str] | None:
    """Pick the region's features of an admin-like layer; None when they cannot be told.

    A feature named like the region wins; a layer whose features are all towns (``level``
    乡镇/街道 ..., or names from the plan's town list) is the region; a layer of one unnamed
    feature is too. Anything else (say the neighbouring districts) is not used.
    """
    if len(gdf) == 0:
        return None
    names = gdf["name"].astype(str).str.strip() if "name" in gdf.columns else None
    if names is not None:
        named = gdf[(names == region.name_zh).to_numpy()]
        if len(named):
            return named, f"features named {region.name_zh}"
    if "level" in gdf.columns:
        lv = gdf["level"].astype(str).str.strip().str.lower()
        if lv.isin(_LOWER_LEVEL_WORDS).all():
            return gdf, "all features: towns of the region"
    if names is not None and region.towns and names.isin(region.towns).all():
        return gdf, "all features: towns of the region"
    if names is None and "level" not in gdf.columns:
        return gdf, "all features"
    if len(gdf) == 1 and names is not None and names.iloc[0] in ("", "None", "nan"):
        return gdf, "the single feature"
    return None


def measure_territory(plan: Plan, layers: Sequence[LoadedLayer] = (), *,
                      method: str = "ellipsoidal",
                      boundary: str | os.PathLike | None = None) -> Territory:
    """Return the region's measured territory (m²): an ``admin`` layer, else the boundary file.

    An admin layer counts when it has a feature named like the region, or when its features
    are all towns (``level`` 乡镇/街道 ..., or names of the plan's towns). The boundary file is ``boundary`` when given, else
    ``layers/boundaries/<id>.gpkg`` of the plan.
    """
    check_method(method)
    r = plan.region
    for lyr in layers:
        if lyr.kind.id != "admin":
            continue
        picked = _select_region(lyr.gdf, r)
        if picked is None:
            continue
        gdf, how = picked
        return _territory(gdf, method, f"admin layer {lyr.name!r} ({how})", coverage=True)
    path = Path(boundary) if boundary is not None else plan.boundary_path
    if path.is_file():
        try:
            gdf = pyogrio.read_dataframe(path)
        except Exception as exc:  # a broken file is bad input, named
            raise InputError(f"cannot read the region boundary: {exc}", file=str(path),
                             fix="give a readable GeoPackage with --boundary") from None
        if gdf.crs is None:
            raise InputError("the region boundary has no CRS", file=str(path),
                             fix="store it in EPSG:4490")
        picked = _select_region(gdf, r)
        if picked is None:
            raise InputError(f"cannot find {r.name_zh} in the region boundary", file=str(path),
                             fix="give the feature name = " + r.name_zh)
        gdf, how = picked
        return _territory(gdf, method, f"boundary {path} ({how})", coverage=False)
    return Territory(None, "none: no admin layer of the region and no boundary file "
                     f"({path})", method)


def _territory(gdf: gpd.GeoDataFrame, method: str, source: str, coverage: bool) -> Territory:
    s = layer_area(gdf, method, coverage=coverage)
    lonlat = to_lonlat(gdf)
    b = tuple(float(v) for v in lonlat.total_bounds)
    return Territory(s.area_m2, source, method, b, len(gdf))  # type: ignore[arg-type]


def _extent_check(plan: Plan, t: Territory) -> dict[str, Any] | None:
    e = plan.region.extent
    if e is None:
        return None
    out: dict[str, Any] = {"line": e.line, "declared": dict(e.text)}
    if t.bounds is None:
        out["measured"] = None
        return out
    w, s, east, n = t.bounds
    mid_lat, mid_lon = (s + n) / 2, (w + east) / 2
    sides = {
        "west": (e.west, w, lambda a, b: GEOD.inv(a, mid_lat, b, mid_lat)[2]),
        "east": (e.east, east, lambda a, b: GEOD.inv(a, mid_lat, b, mid_lat)[2]),
        "south": (e.south, s, lambda a, b: GEOD.inv(mid_lon, a, mid_lon, b)[2]),
        "north": (e.north, n, lambda a, b: GEOD.inv(mid_lon, a, mid_lon, b)[2]),
    }
    out["measured"] = {k: round(v[1], 6) for k, v in sides.items()}
    out["offset_m"] = {k: round(float(f(dec, mea)), 1) for k, (dec, mea, f) in sides.items()}
    return out


# ------------------------------------------------------------------------------ measuring


def _combine(lyrs: list[LoadedLayer]) -> gpd.GeoDataFrame:
    if len(lyrs) == 1:
        return lyrs[0].gdf
    frames = [to_lonlat(lyr.gdf) for lyr in lyrs]
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry",
                            crs=frames[0].crs)


def _measure_layer(fig: Figure, lyrs: list[LoadedLayer], method: str
                   ) -> tuple[float | None, float | None, str]:
    """Return (measured SI value, area m² or None, note) of a figure's layer."""
    kind = load_kinds()[fig.kind]
    gdf = _combine(lyrs)
    names = ", ".join(lyr.name for lyr in lyrs)
    if len(gdf) == 0:
        return None, None, f"layer {names} has no features"
    note = ""
    for fname, values in fig.filter.items():
        if fname not in gdf.columns:
            return None, None, f"layer {names} has no field {fname!r} to select {list(values)}"
        col = gdf[fname].astype(str).str.strip()
        keep = col.isin(values)
        if not keep.any():
            present = sorted(set(col.dropna()))[:12]
            note = f"no feature has {fname} in {list(values)} (values present: {present})"
        gdf = gdf[keep.to_numpy()]
    if fig.measure in ("area", "share_of_territory"):
        if len(gdf) == 0:
            return 0.0, 0.0, note
        m2 = layer_area(gdf, method, coverage=kind.coverage).area_m2
        return m2, m2, note
    if fig.measure == "count":
        if fig.count_by and fig.count_by in gdf.columns:
            vals = gdf[fig.count_by].dropna().astype(str).str.strip()
            return float(vals[vals != ""].nunique()), None, note
        extra = f"no field {fig.count_by!r}: counted features" if fig.count_by else ""
        return float(len(gdf)), None, "; ".join(x for x in (note, extra) if x)
    if fig.measure == "length":
        if len(gdf) == 0:
            return 0.0, None, note
        return _line_length(gdf, method), None, note
    return None, None, "a declared distance is not measured from a layer"


def _line_length(gdf: gpd.GeoDataFrame, method: str) -> float:
    """Length (m) of the union of a layer's lines (overlapping lines count once)."""
    geodesic = method != "projected"  # tbmj is an area method: lengths stay geodesic
    data = to_lonlat(gdf) if geodesic else to_metric(gdf)
    parts = shapely.get_parts(np.asarray(data.geometry.values, dtype=object))
    lines = parts[np.isin(shapely.get_type_id(parts), (1, 2))]
    if len(lines) == 0:
        return 0.0
    merged = shapely.line_merge(shapely.union_all(lines))
    if geodesic:
        return float(GEOD.geometry_length(merged))
    return float(shapely.length(merged))


# ----------------------------------------------------------------------------- comparing


def _compare(measured_si: float | None, declared_si: float, comparator: str,
             tol: float) -> tuple[float | None, str]:
    if measured_si is None or (isinstance(measured_si, float) and math.isnan(measured_si)):
        return None, NO_DATA
    if declared_si == 0:
        rel = 0.0 if measured_si == 0 else math.inf
    else:
        rel = (measured_si - declared_si) / declared_si
    eps = 1e-12
    if comparator == "ge":
        ok = rel >= -tol - eps
    elif comparator == "le":
        ok = rel <= tol + eps
    else:
        ok = abs(rel) <= tol + eps
    return rel, OK if ok else MISMATCH


def _row(fig: Figure, basis: str, measured_si: float | None, measured_m2: float | None,
         layers: list[str], note: str, *, declared_si: float | None = None) -> ReconcileRow:
    _, factor = unit_dimension(fig.unit)
    dsi = fig.si if declared_si is None else declared_si
    rel, status = _compare(measured_si, dsi, fig.comparator, fig.tolerance)
    measured = None if measured_si is None else measured_si / factor
    return ReconcileRow(
        id=fig.id, name_zh=fig.name_zh, basis=basis, layer_kind=fig.kind,
        filter={k: list(v) for k, v in fig.filter.items()}, measure=fig.measure,
        comparator=fig.comparator, declared=fig.value, declared_unit=fig.unit, declared_si=dsi,
        si_unit=fig.si_unit, declared_m2=fig.declared_m2, measured=measured,
        measured_si=measured_si, measured_m2=measured_m2,
        difference=None if measured is None else measured - fig.value,
        relative_difference=rel if rel is None or math.isfinite(rel) else None,
        tolerance=fig.tolerance, status=status, source=fig.source, line=fig.line,
        quote=fig.quote, year=fig.year, layers=layers, note=note)


def reconcile(plan: Plan | str | os.PathLike, layers: Sequence[LoadedLayer] = (), *,
              method: str = "ellipsoidal", boundary: str | os.PathLike | None = None,
              only: Sequence[str] | None = None) -> Reconciliation:
    """Set every declared figure of ``plan`` beside its measured value.

    Parameters
    ----------
    plan
        A :class:`~ecogis.plans.Plan`, a plan file path, or a region id (``"anju"``).
    layers
        The workspace's layers (``ecogis.workspace.load_target(ws)[1]``); may be empty.
    method
        ``ellipsoidal`` (CGCS2000 geodesic, default) or ``projected`` (Gauss-Krüger plane).
    boundary
        Region boundary file used when no admin layer of the region exists (default
        ``layers/boundaries/<id>.gpkg``).
    only
        Names of the layers figures may be measured on (all when None); the territory may
        still come from any admin layer.
    """
    check_method(method)
    p = plan if isinstance(plan, Plan) else load_plan(plan)
    layers = list(layers)
    usable = [lyr for lyr in layers if only is None or lyr.name in only]
    terr = measure_territory(p, layers, method=method, boundary=boundary)
    total = p.region.total_area
    rows: list[ReconcileRow] = []

    if total is not None:
        tfig = Figure(id="total_area", name_zh=f"{p.region.name_zh}总面积", kind="admin",
                      measure="area", value=total.value, unit=total.unit, comparator="eq",
                      si=total.m2, si_unit="m2", line=total.line, quote=total.quote,
                      source=p.region.source)
        rows.append(_row(tfig, TERRITORY, terr.m2, terr.m2, [],
                         terr.source if terr.m2 is not None else "no territory to measure"))

    by_kind: dict[str, list[LoadedLayer]] = {}
    for lyr in usable:
        by_kind.setdefault(lyr.kind.id, []).append(lyr)

    for fig in p.figures:
        lyrs = by_kind.get(fig.kind, [])
        names = [lyr.name for lyr in lyrs]
        if not lyrs:
            si, m2, note = None, None, f"no layer of kind {fig.kind!r} in the workspace"
        else:
            si, m2, note = _measure_layer(fig, lyrs, method)
        if fig.measure != "share_of_territory":
            rows.append(_row(fig, LAYER, si, m2, names, note))
            continue
        # shares: the layer over the measured territory, and over the declared total
        if si is not None and terr.m2:
            rows.append(_row(fig, LAYER_TERRITORY, si / terr.m2, m2, names, note))
        else:
            why = note if si is None else "no territory to divide by"
            rows.append(_row(fig, LAYER_TERRITORY, None, m2, names, why))
        if total is not None and si is not None:
            rows.append(_row(fig, LAYER_DECLARED_TOTAL, si / total.m2, m2, names,
                             f"declared total {total.value:g} {total.unit} (L{total.line})"))
        if fig.area_figure is not None:
            a = p.figure(fig.area_figure)
            txt = f"{a.id} {a.value:g} {a.unit} (L{a.line})"
            if terr.m2:
                rows.append(_row(fig, AREA_TERRITORY, a.si / terr.m2, a.si, [],
                                 f"{txt} ÷ measured territory"))
            else:
                rows.append(_row(fig, AREA_TERRITORY, None, a.si, [],
                                 f"{txt}; no territory to divide by"))
            if total is not None:
                rows.append(_row(fig, AREA_DECLARED_TOTAL, a.si / total.m2, a.si, [],
                                 f"{txt} ÷ declared total {total.value:g} {total.unit} "
                                 f"(L{total.line})"))

    territory = {
        "m2": terr.m2, "source": terr.source, "method": terr.method,
        "features": terr.features, "bounds": list(terr.bounds) if terr.bounds else None,
        "declared_m2": total.m2 if total else None,
        "declared": None if total is None else {"value": total.value, "unit": total.unit,
                                                "line": total.line},
        "extent": _extent_check(p, terr),
    }
    label = method_label(method) if method != "projected" else "projected (Gauss-Krüger " \
        "plane of each layer)"
    incons = [{"id": x.id, "type": x.type, "description": x.description,
               "figures": list(x.figures), "indicators": list(x.indicators),
               "lines": list(x.lines), "note": x.note} for x in p.inconsistencies]
    return Reconciliation(plan=str(p.path), region=p.region.id, region_name=p.region.name_zh,
                          method=method, method_label=label, territory=territory, rows=rows,
                          inconsistencies=incons)
