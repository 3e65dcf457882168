"""GeoPackage metadata read with :mod:`sqlite3` alone: layer names, types, CRS, counts, extents.

Listing a workspace (``ecogis layers``) needs no geometry, so it reads the GeoPackage's own
tables (``gpkg_contents``, ``gpkg_geometry_columns``, ``gpkg_spatial_ref_sys``,
``gpkg_ogr_contents``) instead of importing GDAL bindings, shapely and geopandas. The answers
are the ones ``pyogrio.list_layers`` / ``pyogrio.read_info`` give for the same file.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from pathlib import Path

#: GeoPackage geometry type names → the OGR names pyogrio reports
_OGR_TYPES = {
    "GEOMETRY": "Unknown", "POINT": "Point", "LINESTRING": "LineString",
    "POLYGON": "Polygon", "MULTIPOINT": "MultiPoint", "MULTILINESTRING": "MultiLineString",
    "MULTIPOLYGON": "MultiPolygon", "GEOMETRYCOLLECTION": "GeometryCollection",
    "CIRCULARSTRING": "CircularString", "COMPOUNDCURVE": "CompoundCurve",
    "CURVEPOLYGON": "CurvePolygon", "MULTICURVE": "MultiCurve", "MULTISURFACE": "MultiSurface",
}


def _connect(path: str | os.PathLike) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True)


def feature_tables(path: str | os.PathLike) -> list[tuple[str, str]]:
    """Return ``(table, OGR geometry type)`` of every feature table, in file order."""
    with closing(_connect(path)) as con:
        rows = con.execute(
            "SELECT c.table_name, g.geometry_type_name, g.z, g.m FROM gpkg_contents c "
            "JOIN gpkg_geometry_columns g ON g.table_name = c.table_name "
            "WHERE c.data_type = 'features' ORDER BY c.rowid").fetchall()
    return [(str(t), _type_name(gt, z, m)) for t, gt, z, m in rows]


def _type_name(gtype: str | None, z: int | None, m: int | None) -> str:
    name = _OGR_TYPES.get(str(gtype or "GEOMETRY").upper(), str(gtype))
    if z == 1 and m == 1:
        return f"{name} ZM"
    if z == 1:
        return f"{name} Z"
    if m == 1:
        return f"{name} M"
    return name


def table_info(path: str | os.PathLike, table: str) -> dict:
    """Return ``crs``, ``geometry_type``, ``features``, ``total_bounds`` and ``fields`` (the
    attribute field names) of one feature table.

    ``crs`` is ``"AUTH:CODE"`` when the spatial reference has an authority code, else its WKT,
    else None (undefined, srs_id 0 or -1); ``total_bounds`` is the extent recorded in
    ``gpkg_contents`` or None when it is not recorded (the caller computes it then).
    """
    with closing(_connect(path)) as con:
        row = con.execute(
            "SELECT c.min_x, c.min_y, c.max_x, c.max_y, c.srs_id, g.geometry_type_name, g.z, "
            "g.m, g.column_name FROM gpkg_contents c JOIN gpkg_geometry_columns g "
            "ON g.table_name = c.table_name WHERE c.table_name = ?", (table,)).fetchone()
        if row is None:
            raise KeyError(table)
        *ext, srs_id, gtype, z, m, geom_col = row
        quoted = '"' + table.replace('"', '""') + '"'
        # attribute fields in table order: not the integer primary key (fid), not the geometry
        fields = [str(c[1]) for c in con.execute(f"PRAGMA table_info({quoted})")
                  if not c[5] and c[1] != geom_col]
        crs = None
        if srs_id is not None and int(srs_id) not in (0, -1):
            srs = con.execute(
                "SELECT organization, organization_coordsys_id, definition "
                "FROM gpkg_spatial_ref_sys WHERE srs_id = ?", (srs_id,)).fetchone()
            if srs is not None:
                org, code, definition = srs
                if org and code is not None and str(org).upper() not in ("NONE", ""):
                    crs = f"{str(org).upper()}:{int(code)}"
                elif definition and str(definition).strip().lower() != "undefined":
                    crs = str(definition)
        count = None
        try:
            r = con.execute("SELECT feature_count FROM gpkg_ogr_contents WHERE table_name = ?",
                            (table,)).fetchone()
            count = None if r is None or r[0] is None else int(r[0])
        except sqlite3.OperationalError:  # no gpkg_ogr_contents table
            pass
        if count is None:
            count = int(con.execute(f"SELECT COUNT(*) FROM {quoted}").fetchone()[0])
    bounds = tuple(float(v) for v in ext) if all(v is not None for v in ext) else None
    return {"crs": crs, "geometry_type": _type_name(gtype, z, m), "features": count,
            "total_bounds": bounds, "fields": fields}
