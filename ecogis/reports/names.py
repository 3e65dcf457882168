"""Naming features by 标识码 (BSM) or 名称 instead of internal row ids."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

#: attribute fields that name a feature, most specific first
NAME_FIELDS = ("bsm", "BSM", "tbbh", "TBBH", "code", "name", "MC", "mc")


def label_column(gdf: gpd.GeoDataFrame) -> str | None:
    """The field that names features of ``gdf`` (BSM, 图斑编号, code, name), or None."""
    return next((c for c in NAME_FIELDS if c in gdf.columns), None)


def feature_labels(gdf: gpd.GeoDataFrame) -> np.ndarray:
    """One label per feature: the first non-empty naming field, else ``#<row>``."""
    out = np.array([f"#{i}" for i in range(len(gdf))], dtype=object)
    for c in reversed([c for c in NAME_FIELDS if c in gdf.columns]):
        v = gdf[c].astype("string").fillna("").str.strip().to_numpy(dtype=object)
        ok = (v != "") & (v != "nan") & (v != "None")
        out[ok] = v[ok]
    return out


def part_labels(parts: gpd.GeoDataFrame, source: gpd.GeoDataFrame, *, limit: int = 5
                ) -> list[str]:
    """For each polygon of ``parts``, the labels of the ``source`` features it lies in.

    ``source`` is reprojected to the CRS of ``parts``; a part meets a feature when their
    interiors overlap. Labels are joined with ``、`` (``A01、A02 等 7 个`` beyond ``limit``).
    """
    if len(parts) == 0:
        return []
    if label_column(source) is None or len(source) == 0:
        return [""] * len(parts)
    src = source.to_crs(parts.crs) if source.crs != parts.crs else source
    labels = feature_labels(src)
    geoms = np.asarray(src.geometry.values, dtype=object)
    tree = shapely.STRtree(geoms)
    pg = np.asarray(parts.geometry.values, dtype=object)
    shrunk = shapely.buffer(pg, -0.01)
    shrunk = np.where(shapely.is_empty(shrunk), pg, shrunk)
    ip, isrc = tree.query(shrunk, predicate="intersects")
    out = []
    for k in range(len(pg)):
        names = list(dict.fromkeys(labels[isrc[ip == k]]))
        text = "、".join(names[:limit])
        out.append(text + (f" 等 {len(names)} 个" if len(names) > limit else ""))
    return out
