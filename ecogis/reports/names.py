"""Naming features by 标识码 (BSM) or 名称 instead of internal row ids."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

#: attribute fields that name a feature (name first, as ecogis.fields does), when a plain
#: file carries them under their source names
NAME_FIELDS = ("name", "MC", "mc", "bsm", "BSM", "tbbh", "TBBH", "code")


def feature_labels(gdf: gpd.GeoDataFrame) -> np.ndarray:
    """One label per feature from its name / BSM / 图斑编号 / code roles (None where none)."""
    from ecogis.fields import feature_labels as role_labels

    out = role_labels(gdf)
    todo = np.flatnonzero([v is None for v in out])
    for c in NAME_FIELDS:  # source field names a plain file may still carry
        if not len(todo) or c not in gdf.columns:
            continue
        vals = gdf[c].astype("string").fillna("").str.strip().to_numpy(dtype=object)[todo]
        ok = (vals != "") & (vals != "nan") & (vals != "None")
        out[todo[ok]] = vals[ok]
        todo = todo[~ok]
    return out


def part_labels(parts: gpd.GeoDataFrame, source: gpd.GeoDataFrame, *, limit: int = 5
                ) -> list[str]:
    """For each polygon of ``parts``, the labels of the ``source`` features it lies in.

    ``source`` is reprojected to the CRS of ``parts``; a part meets a feature when their
    interiors overlap. Labels are joined with ``、`` (``A01、A02 等 7 个`` beyond ``limit``).
    """
    if len(parts) == 0:
        return []
    if "names" in parts.columns:  # ecogis.change names the pieces itself
        return ["" if v is None or v != v else str(v) for v in parts["names"]]
    labels = feature_labels(source) if len(source) else np.array([], dtype=object)
    if len(labels) == 0 or all(v is None for v in labels):
        return [""] * len(parts)
    src = source.to_crs(parts.crs) if source.crs != parts.crs else source
    geoms = np.asarray(src.geometry.values, dtype=object)
    tree = shapely.STRtree(geoms)
    pg = np.asarray(parts.geometry.values, dtype=object)
    shrunk = shapely.buffer(pg, -0.01)
    shrunk = np.where(shapely.is_empty(shrunk), pg, shrunk)
    ip, isrc = tree.query(shrunk, predicate="intersects")
    out = []
    for k in range(len(pg)):
        names = [x for x in dict.fromkeys(labels[isrc[ip == k]]) if x is not None]
        text = "、".join(names[:limit])
        out.append(text + (f" 等 {len(names)} 个" if len(names) > limit else ""))
    return out
