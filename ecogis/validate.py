"""Geometry checks and repairs on import, every change reported (never silent).

Invalid geometry is repaired with :func:`shapely.make_valid` keeping only the kind's geometry
type; the count and the area change are reported. Null and empty geometry is dropped and
reported; Z and M are dropped and reported; a geometry of the wrong class (points for a
polygon kind) is an error naming the features.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field

import geopandas as gpd
import numpy as np
import shapely

from ecogis.errors import GeometryError, RepairWarning
from ecogis.kinds import Kind

_FAMILY = {
    "Point": "point", "MultiPoint": "point",
    "LineString": "line", "MultiLineString": "line", "LinearRing": "line",
    "Polygon": "polygon", "MultiPolygon": "polygon",
}
_TYPE_IDS = {"point": (0, 4), "line": (1, 2, 5), "polygon": (3, 6)}


@dataclass
class RepairReport:
    """What import changed in the geometry: counts, feature ids and the area change (m²)."""

    features_in: int = 0
    features_out: int = 0
    invalid_repaired: int = 0
    invalid_features: list = field(default_factory=list)
    invalid_reasons: list = field(default_factory=list)
    repair_area_change_m2: float = 0.0
    dropped_null: int = 0
    dropped_empty: int = 0
    dropped_features: list = field(default_factory=list)
    dropped_after_repair: int = 0
    z_dropped: int = 0
    m_dropped: int = 0
    #: file-level repairs reported by the readers (ring closed, index rebuilt, text cut ...)
    notes: list = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.invalid_repaired or self.dropped_null or self.dropped_empty
                    or self.dropped_after_repair or self.z_dropped or self.m_dropped
                or self.notes)

    def summary(self) -> str:
        """Return one line saying what was repaired, or ``no repairs``."""
        parts = []
        if self.invalid_repaired:
            ids = ", ".join(map(str, self.invalid_features[:5]))
            more = "…" if len(self.invalid_features) > 5 else ""
            parts.append(
                f"{self.invalid_repaired} invalid geometries repaired with make_valid "
                f"(features {ids}{more}; {self.invalid_reasons[0] if self.invalid_reasons else ''}; "
                f"area change {self.repair_area_change_m2:+.2f} m²)")
        if self.dropped_null:
            parts.append(f"{self.dropped_null} null geometries dropped")
        if self.dropped_empty:
            parts.append(f"{self.dropped_empty} empty geometries dropped")
        if self.dropped_after_repair:
            parts.append(f"{self.dropped_after_repair} geometries empty after repair dropped")
        if self.z_dropped:
            parts.append(f"Z dropped from {self.z_dropped} geometries")
        if self.m_dropped:
            parts.append(f"M dropped from {self.m_dropped} geometries")
        parts.extend(self.notes)
        return "; ".join(parts) if parts else "no repairs"

    def as_dict(self) -> dict:
        d = asdict(self)
        d["summary"] = self.summary()
        return d


def _keep_family(geoms: np.ndarray, family: str) -> np.ndarray:
    """Return each geometry reduced to its parts of ``family`` (point/line/polygon)."""
    out = np.empty(len(geoms), dtype=object)
    ids = _TYPE_IDS[family]
    for i, g in enumerate(geoms):
        tid = shapely.get_type_id(g)
        if tid in ids:
            out[i] = g
            continue
        parts = [p for p in shapely.get_parts(g) if shapely.get_type_id(p) in ids]
        out[i] = shapely.union_all(parts) if parts else shapely.Polygon()
    return out


def _reasons(geoms: np.ndarray) -> list[str]:
    """Return why each geometry needs repair (a collection is "Valid Geometry" to GEOS)."""
    out = []
    for g, r in zip(geoms, shapely.is_valid_reason(geoms), strict=True):
        if g.geom_type == "GeometryCollection":
            kinds = sorted({p.geom_type for p in shapely.get_parts(g)})
            r = f"GeometryCollection of {'/'.join(kinds) or 'nothing'}"
            if not shapely.is_valid(g):
                r += f" ({shapely.is_valid_reason(g)})"
        out.append(r)
    return out


def _refuse_hole_outside_shell(geoms: np.ndarray, ids: np.ndarray, *, file, layer) -> None:
    """Raise for a polygon hole lying outside its shell: make_valid would make it a new polygon."""
    for g, fid in zip(geoms, ids, strict=True):
        for poly in shapely.get_parts(g):
            if poly.geom_type != "Polygon" or not poly.interiors:
                continue
            shell = shapely.Polygon(poly.exterior.coords)
            for k, ring in enumerate(poly.interiors, start=1):
                hole = shapely.Polygon(ring.coords)
                if shell.is_valid and hole.is_valid and not shapely.intersects(shell, hole):
                    raise GeometryError(
                        f"hole {k} lies outside its outer ring (repairing would turn it into "
                        f"an extra polygon of the hole's size)", file=file, layer=layer,
                        feature=fid.item() if hasattr(fid, "item") else fid,
                        fix="correct the ring in the source data: move it inside its outer "
                        "ring, or store it as a polygon of its own")


def clean_geometries(
    gdf: gpd.GeoDataFrame, kind: Kind, *, file: str | None = None, layer: str | None = None,
    measure_crs=None, warn: bool = True,
) -> tuple[gpd.GeoDataFrame, RepairReport]:
    """Return ``gdf`` with geometry fit for ``kind``, and the report of what changed.

    Raises :class:`~ecogis.errors.GeometryError` for geometry of the wrong class (e.g. points
    in a polygon kind), naming the first features and the fix.
    """
    from ecogis.measure import geodesic_area

    rep = RepairReport(features_in=len(gdf))
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    ids = np.asarray(gdf.index)

    null = shapely.is_missing(geoms)
    empty = ~null & shapely.is_empty(geoms)
    rep.dropped_null = int(null.sum())
    rep.dropped_empty = int(empty.sum())
    rep.dropped_features = [ids[i].item() if hasattr(ids[i], "item") else ids[i]
                            for i in np.flatnonzero(null | empty)]
    keep = ~(null | empty)
    gdf = gdf.loc[keep].copy()
    geoms = geoms[keep]
    ids = ids[keep]

    if len(geoms):
        has_z = shapely.has_z(geoms)
        has_m = shapely.has_m(geoms) if hasattr(shapely, "has_m") else np.zeros(len(geoms), bool)
        rep.z_dropped = int(has_z.sum())
        rep.m_dropped = int(has_m.sum())
        if has_z.any() or has_m.any():
            geoms = shapely.force_2d(geoms)

    fams = np.array([_FAMILY.get(g.geom_type, "collection") for g in geoms], dtype=object)
    allowed = {_FAMILY[t] for t in kind.geom_types}
    wrong = ~np.isin(fams, list(allowed) + ["collection"])
    if wrong.any():
        bad = ids[wrong]
        found = sorted(set(fams[wrong]))
        raise GeometryError(
            f"{int(wrong.sum())} features are {'/'.join(found)} geometries but kind "
            f"{kind.label} needs {kind.geometry}",
            file=file, layer=layer, feature=", ".join(map(str, bad[:5])) + ("…" if len(bad) > 5 else ""),
            fix="import this file as another kind, or convert the geometry first")
    if len(allowed) > 1 and kind.geometry != "any":
        present = set(fams[fams != "collection"])
        if len(present) > 1:
            raise GeometryError(
                f"mixed geometry types {sorted(present)} in one layer",
                file=file, layer=layer, fix="split the file into one layer per geometry type")

    invalid = ~shapely.is_valid(geoms) | (fams == "collection")
    if invalid.any():
        before = geoms[invalid]
        rep.invalid_repaired = int(invalid.sum())
        rep.invalid_features = [i.item() if hasattr(i, "item") else i for i in ids[invalid]]
        rep.invalid_reasons = list(dict.fromkeys(_reasons(before)))[:3]
        _refuse_hole_outside_shell(before, ids[invalid], file=file, layer=layer)
        family = "polygon" if "polygon" in allowed else ("line" if "line" in allowed else "point")
        if kind.geometry == "line_or_polygon":
            family = "polygon" if any(f == "polygon" for f in fams) else "line"
        fixed = shapely.make_valid(before, method="structure", keep_collapsed=False) \
            if family == "polygon" else shapely.make_valid(before)
        fixed = _keep_family(fixed, family)
        if family == "polygon" and measure_crs is not None:
            a0 = geodesic_area(before, measure_crs).sum()
            a1 = geodesic_area(fixed, measure_crs).sum()
            rep.repair_area_change_m2 = float(a1 - a0)
        geoms = geoms.copy()
        geoms[invalid] = fixed
        collapsed = shapely.is_empty(geoms)
        rep.dropped_after_repair = int(collapsed.sum())
        if collapsed.any():
            rep.dropped_features += [i for i in ids[collapsed].tolist()]
            gdf = gdf.loc[~collapsed].copy()
            geoms = geoms[~collapsed]
    gdf = gdf.set_geometry(gpd.GeoSeries(geoms, index=gdf.index, crs=gdf.crs))
    rep.features_out = len(gdf)
    if warn and rep.changed:
        where = f"{file}" + (f" layer {layer!r}" if layer else "")
        warnings.warn(f"{where}: {rep.summary()}", RepairWarning, stacklevel=2)
    return gdf, rep
