"""Area tables of layers (m², reported in any unit): per layer, per town, per field value.

Every figure is dissolved (a layer's own overlaps count once), with the raw sum of feature
areas beside it, and carries its unit and method.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely

from ecogis.errors import InputError
from ecogis.measure import area, dissolve, layer_area, polygonal, to_metric, working_metric_crs
from ecogis.units import area_unit, from_m2
from ecogis.workspace import LoadedLayer


@dataclass
class LayerAreaRow:
    """Area of one layer in ``unit``: dissolved, raw sum, and the self-overlap between them."""

    layer: str
    kind: str
    kind_name: str
    features: int
    area: float
    area_raw_sum: float
    self_overlap: float
    area_m2: float
    unit: str
    method: str
    method_label: str
    crs: str


@dataclass
class ZoneAreaRow:
    """Area of one layer inside one zone (town, or one value of a field), in ``unit``."""

    layer: str
    by: str
    zone: str
    area: float
    area_m2: float
    share_of_layer: float
    unit: str
    method: str


def layer_area_rows(layers: list[LoadedLayer], *, unit: str = "km2",
                    method: str = "ellipsoidal") -> list[LayerAreaRow]:
    """Return one :class:`LayerAreaRow` per polygon layer (line and point layers are skipped)."""
    u = area_unit(unit)
    rows = []
    for lyr in layers:
        if not _is_polygonal(lyr.gdf):
            continue
        s = layer_area(lyr.gdf, method, coverage=lyr.kind.coverage)
        rows.append(LayerAreaRow(
            layer=lyr.name, kind=lyr.kind.id, kind_name=lyr.kind.name_zh, features=s.features,
            area=from_m2(s.area_m2, u.id), area_raw_sum=from_m2(s.area_raw_sum_m2, u.id),
            self_overlap=from_m2(s.overlap_m2, u.id), area_m2=s.area_m2, unit=u.id,
            method=s.method, method_label=s.method_label, crs=s.crs))
    return rows


def _is_polygonal(gdf: gpd.GeoDataFrame) -> bool:
    t = shapely.get_type_id(gdf.geometry.values)
    return bool(len(t)) and bool(np.isin(t, (3, 6)).any())


def zone_layer(layers: list[LoadedLayer], by: str) -> tuple[LoadedLayer, str]:
    """Pick the zoning layer for ``--by``: a layer name, or a kind id (most features wins)."""
    named = [lyr for lyr in layers if lyr.name == by]
    if not named:
        named = sorted((lyr for lyr in layers if lyr.kind.id == by), key=lambda lyr: -len(lyr.gdf))
    if not named:
        raise InputError(f"no layer or kind named {by!r} to split areas by",
                         fix="import an admin layer of towns (ecogis import WS admin towns.shp) "
                         "or give a field name of the layer")
    z = named[0]
    field = "name" if "name" in z.gdf.columns else None
    if field is None:
        raise InputError(f"zoning layer {z.name!r} has no 'name' field", fix="add a name field")
    return z, field


def areas_by_zones(lyr: LoadedLayer, zones: LoadedLayer, field: str = "name", *,
                   unit: str = "km2", method: str = "ellipsoidal") -> list[ZoneAreaRow]:
    """Return the dissolved area of ``lyr`` inside each zone of ``zones`` (e.g. towns).

    Both sides are brought to one Gauss-Krüger plane for the intersection; the pieces are then
    measured by ``method``. Area outside every zone is reported as zone ``(outside)``.
    """
    u = area_unit(unit)
    target = working_metric_crs(lyr.gdf)
    parts = dissolve(to_metric(lyr.gdf, target=target), coverage=lyr.kind.coverage)
    zg = to_metric(zones.gdf, target=target)
    zgeoms = np.asarray(zg.geometry.values, dtype=object)
    names = zg[field].astype(str).to_numpy()
    total = float(area(parts, method, target).sum()) if len(parts) else 0.0
    rows = []
    sums: dict[str, float] = {}
    if len(parts):
        tree = shapely.STRtree(parts)
        iz, ip = tree.query(zgeoms, predicate="intersects")
        gz, gp = zgeoms[iz], parts[ip]
        covered = shapely.covered_by(gp, gz)
        pieces = polygonal(np.where(covered, gp, shapely.intersection(gp, gz)))
        a = area(pieces, method, target)
        per_zone = np.bincount(iz, weights=a, minlength=len(zgeoms))
        for zname, val in zip(names, per_zone, strict=True):
            sums[zname] = sums.get(zname, 0.0) + float(val)
    for zname in dict.fromkeys(names):
        m2 = sums.get(zname, 0.0)
        rows.append(ZoneAreaRow(lyr.name, zones.name, zname, from_m2(m2, u.id), m2,
                                m2 / total if total else 0.0, u.id, method))
    outside = total - sum(sums.values())
    if outside > max(1e-6 * total, 0.01):
        rows.append(ZoneAreaRow(lyr.name, zones.name, "(outside)", from_m2(outside, u.id), outside,
                                outside / total if total else 0.0, u.id, method))
    return rows


def areas_by_field(lyr: LoadedLayer, field: str, *, unit: str = "km2",
                   method: str = "ellipsoidal") -> list[ZoneAreaRow]:
    """Return the dissolved area of each value of ``field`` of ``lyr``."""
    if field not in lyr.gdf.columns:
        raise InputError(f"layer {lyr.name!r} has no field {field!r}", layer=lyr.name,
                         fix=f"use one of {[c for c in lyr.gdf.columns if c != 'geometry']}")
    u = area_unit(unit)
    total = layer_area(lyr.gdf, method, coverage=lyr.kind.coverage).area_m2
    rows = []
    for value, grp in lyr.gdf.groupby(lyr.gdf[field].astype(str), sort=True):
        m2 = layer_area(grp, method, coverage=lyr.kind.coverage).area_m2
        rows.append(ZoneAreaRow(lyr.name, field, value, from_m2(m2, u.id), m2,
                                m2 / total if total else 0.0, u.id, method))
    return rows
