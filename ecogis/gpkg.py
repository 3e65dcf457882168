"""GeoPackage format details of a workspace, read and written at the SQLite level.

**Metadata without GDAL.** Listing a workspace (``ecogis layers``) needs no geometry, so it
reads the GeoPackage's own tables (``gpkg_contents``, ``gpkg_geometry_columns``,
``gpkg_spatial_ref_sys``, ``gpkg_ogr_contents``) instead of importing GDAL bindings, shapely
and geopandas. The answers are the ones ``pyogrio.list_layers`` / ``pyogrio.read_info`` give
for the same file (:func:`feature_tables`, :func:`table_info`).
**What the clients bureaus run** (QGIS 3.22 on Debian's GDAL 3.6) need from a workspace:

* **GeoPackage 1.2** (``PRAGMA user_version = 10200``; GDAL creation option ``VERSION=1.2``):
  GDAL < 3.7 warns on every open of the 1.4 files today's GDAL writes by default. A workspace
  of another version is marked 1.2 (:func:`migrate_version`) on its next write or by
  ``ecogis migrate``.
* **one geometry type per layer** (:func:`split_geometry_types`): GeometryCollections are split
  into their polygon, line and point parts; parts of a dimension the kind does not take are
  dropped, and both are reported.
* **styles** (:func:`describe`): a ``layer_styles`` row per layer (the table QGIS reads and
  writes: QML in ``styleQML``, an SLD in ``styleSLD``, ``useAsDefault=1``), made from
  ``layers/kinds.toml`` by :mod:`ecogis.styles`; a style a user saved as default in QGIS is
  left the default.
* **Chinese names**: field aliases in ``gpkg_data_columns`` (``name`` and ``title``; the
  ``gpkg_schema`` extension registered) and layer titles in ``gpkg_contents.identifier``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import warnings
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING

from ecogis.kinds import Kind, load_kinds
from ecogis.lazymod import LazyModule

if TYPE_CHECKING:
    import geopandas as gpd

# imported on first use: the metadata readers need none of them
np = LazyModule("numpy")
shapely = LazyModule("shapely")

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


#: the GeoPackage version workspaces are written in
VERSION = "1.2"
USER_VERSION = 10200
APPLICATION_ID = 0x47504B47  # "GPKG"
#: GDAL dataset creation options of every new workspace file (pyogrio ``dataset_options``)
CREATION_OPTIONS = {"VERSION": VERSION}

STYLES_TABLE = "layer_styles"
STYLE_NAME = "ecogis"
STYLE_OWNER = "ecogis"
_SCHEMA_EXT = "http://www.geopackage.org/spec120/#extension_schema"

_LAYER_STYLES_DDL = """
CREATE TABLE IF NOT EXISTS layer_styles (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  f_table_catalog TEXT(256), f_table_schema TEXT(256), f_table_name TEXT(256),
  f_geometry_column TEXT(256), styleName TEXT(30), styleQML TEXT, styleSLD TEXT,
  useAsDefault BOOLEAN, description TEXT, owner TEXT(30), ui TEXT(30),
  update_time DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))
"""
_DATA_COLUMNS_DDL = """
CREATE TABLE IF NOT EXISTS gpkg_data_columns (
  table_name TEXT NOT NULL, column_name TEXT NOT NULL, name TEXT, title TEXT,
  description TEXT, mime_type TEXT, constraint_name TEXT,
  CONSTRAINT pk_gdc PRIMARY KEY (table_name, column_name),
  CONSTRAINT gdc_tn UNIQUE (table_name, name))
"""
_CONSTRAINTS_DDL = """
CREATE TABLE IF NOT EXISTS gpkg_data_column_constraints (
  constraint_name TEXT NOT NULL, constraint_type TEXT NOT NULL, value TEXT, min NUMERIC,
  min_is_inclusive BOOLEAN, max NUMERIC, max_is_inclusive BOOLEAN, description TEXT,
  CONSTRAINT gdcc_ntv UNIQUE (constraint_name, constraint_type, value))
"""
_EXTENSIONS_DDL = """
CREATE TABLE IF NOT EXISTS gpkg_extensions (
  table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL, definition TEXT NOT NULL,
  scope TEXT NOT NULL, CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name))
"""


def user_version(path: str | os.PathLike) -> int:
    """Return the GeoPackage ``user_version`` of ``path`` (10200 for 1.2, 10400 for 1.4)."""
    with closing(sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True)) as con:
        return int(con.execute("PRAGMA user_version").fetchone()[0])


def version_text(uv: int) -> str:
    """Return ``1.2`` for 10200 (``0`` and others as the bare number)."""
    return f"{uv // 10000}.{uv // 100 % 100}" if uv >= 10000 else str(uv)


# --------------------------------------------------------------------------- geometry types

_DIM_NAME = {2: "polygon", 1: "line", 0: "point"}
_KIND_DIMS = {"polygon": {2}, "line": {1}, "point": {0}, "line_or_polygon": {1, 2},
              "any": {0, 1, 2}}


def split_geometry_types(
    gdf: gpd.GeoDataFrame, kind: Kind,
) -> tuple[gpd.GeoDataFrame, dict[str, gpd.GeoDataFrame], dict]:
    """Split ``gdf`` so that each layer holds one geometry dimension.

    GeometryCollections are split into their polygon, line and point parts (each feature's
    parts of one dimension become one Multi* feature with the feature's attributes). The
    dimension the kind prefers (the highest it takes) stays in the layer; other dimensions
    the kind takes are returned as extra layers (``{"lines": gdf, "points": gdf}``); parts of
    a dimension the kind does not take (e.g. the point where a park touches a boundary, in a
    polygon layer) are dropped.

    Returns
    -------
    (main, extra, report)
        ``report`` is empty when nothing was split, else ``{"collections": n, "kept": ...,
        "moved": {"lines": n}, "dropped": {"point": n}}`` (feature counts).
    """
    import geopandas as gpd

    geoms = np.asarray(gdf.geometry.values, dtype=object)
    tid = shapely.get_type_id(geoms)
    coll = tid == 7
    dims_present = set(shapely.get_dimensions(geoms[~coll & ~shapely.is_empty(geoms)
                                                    & ~shapely.is_missing(geoms)]).tolist())
    if not coll.any() and len(dims_present) <= 1:
        return gdf, {}, {}
    allowed = _KIND_DIMS.get(kind.geometry, {0, 1, 2})
    parts, owner = shapely.get_parts(geoms, return_index=True)
    # parts of a collection may themselves be multi-part: flatten once more
    sub, sub_owner = shapely.get_parts(parts, return_index=True)
    owner = owner[sub_owner]
    pdim = shapely.get_dimensions(sub)
    nonempty = ~shapely.is_empty(sub)
    sub, owner, pdim = sub[nonempty], owner[nonempty], pdim[nonempty]
    have = sorted(set(pdim.tolist()), reverse=True)
    keep_dims = [d for d in have if d in allowed]
    main_dim = keep_dims[0] if keep_dims else None
    build = {2: shapely.multipolygons, 1: shapely.multilinestrings, 0: shapely.multipoints}
    attrs = gdf.drop(columns=gdf.geometry.name)
    out: dict[int, gpd.GeoDataFrame] = {}
    for d in keep_dims:
        sel = pdim == d
        rows = np.unique(owner[sel])
        multi = build[d](sub[sel], indices=np.searchsorted(rows, owner[sel]))
        out[d] = gpd.GeoDataFrame(attrs.iloc[rows], geometry=np.asarray(multi),
                                  crs=gdf.crs)
    report = {
        "collections": int(coll.sum()),
        "kept": {_DIM_NAME[main_dim]: int(len(out[main_dim]))} if main_dim is not None else {},
        "moved": {_DIM_NAME[d] + "s": int(len(out[d])) for d in keep_dims[1:]},
        "dropped": {_DIM_NAME[d]: int(len(np.unique(owner[pdim == d])))
                    for d in have if d not in allowed},
    }
    if main_dim is None:
        empty = gdf.iloc[0:0]
        return empty, {}, report
    extra = {_DIM_NAME[d] + "s": out[d] for d in keep_dims[1:]}
    return out[main_dim], extra, report


# --------------------------------------------------------------------------- styles, aliases


def _columns(con: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in con.execute(f'PRAGMA table_info("{table}")')]


def _labels_for(columns: list[str], fid: str, geom: str, kind: Kind, field_map: dict,
                registry) -> dict[str, str]:
    from ecogis.styles import field_label

    role_of = {v: k for k, v in field_map.items()}
    out: dict[str, str] = {}
    used: set[str] = set()
    for c in columns:
        if c in (fid, geom):
            continue
        label = field_label(role_of.get(c, c), registry)
        if label == c:
            continue
        if label in used:  # gpkg_data_columns.name is unique per table
            label = f"{label} ({c})"
        used.add(label)
        out[c] = label
    del kind
    return out


def _ensure_meta_tables(con: sqlite3.Connection, stamp: str) -> None:
    con.execute(_EXTENSIONS_DDL)
    con.execute(_DATA_COLUMNS_DDL)
    con.execute(_CONSTRAINTS_DDL)
    for t in ("gpkg_data_columns", "gpkg_data_column_constraints"):
        # (column_name is NULL, which a UNIQUE constraint does not compare: check by hand)
        if not con.execute("SELECT 1 FROM gpkg_extensions WHERE table_name = ? AND "
                           "extension_name = 'gpkg_schema'", (t,)).fetchone():
            con.execute("INSERT INTO gpkg_extensions VALUES (?, NULL, 'gpkg_schema', ?, "
                        "'read-write')", (t, _SCHEMA_EXT))
    con.execute(_LAYER_STYLES_DDL)
    if not con.execute("SELECT 1 FROM gpkg_contents WHERE table_name=?",
                       (STYLES_TABLE,)).fetchone():
        con.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, description, "
                    "last_change) VALUES (?, 'attributes', ?, 'QGIS layer styles (ecogis)', ?)",
                    (STYLES_TABLE, STYLES_TABLE, stamp))


def _titles(layers: list[tuple[str, Kind, int]]) -> dict[str, str]:
    """Chinese titles, unique: the kind's name (admin: 行政区界 for one feature, else 乡镇界),
    plus the layer name when a title repeats."""
    base = {name: ("行政区界" if n <= 1 else "乡镇界") if k.id == "admin" else k.name_zh
            for name, k, n in layers}
    count: dict[str, int] = {}
    for b in base.values():
        count[b] = count.get(b, 0) + 1
    return {name: b if count[b] == 1 and b != "其他图层" else f"{b}（{name}）"
            for name, b in base.items()}


def describe(path: str | os.PathLike, *, fixed_time: str | None = None,
             layers_table: str = "ecogis_layers") -> None:
    """Write styles, field aliases and Chinese titles for every feature layer of ``path``.

    Reads each layer's kind (and ``field_map``, when the importer kept source field names)
    from ``layers_table``; replaces ecogis's own ``layer_styles`` rows, the layer's
    ``gpkg_data_columns`` rows and its ``gpkg_contents.identifier``. Safe to run on every
    write (a few SQL statements per layer).
    """
    from ecogis.styles import qml, sld

    registry = load_kinds()
    stamp = (fixed_time or "")
    with closing(sqlite3.connect(path)) as con, con:
        if not stamp:
            stamp = con.execute("SELECT strftime('%Y-%m-%dT%H:%M:%fZ','now')").fetchone()[0]
        else:
            from datetime import datetime, timezone
            t = datetime.fromisoformat(stamp)
            if t.tzinfo is not None:
                t = t.astimezone(timezone.utc)
            stamp = t.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        _ensure_meta_tables(con, stamp)
        meta: dict[str, tuple[str, dict]] = {}
        if con.execute("SELECT 1 FROM sqlite_master WHERE name=?", (layers_table,)).fetchone():
            for name, kind, extra in con.execute(
                    f'SELECT name, kind, extra FROM "{layers_table}"'):
                try:
                    ex = json.loads(extra) if extra else {}
                except json.JSONDecodeError:
                    ex = {}
                meta[name] = (kind or "generic", ex if isinstance(ex, dict) else {})
        feats = con.execute(
            "SELECT c.table_name, g.column_name, g.geometry_type_name FROM gpkg_contents c "
            "JOIN gpkg_geometry_columns g ON g.table_name = c.table_name "
            "WHERE c.data_type = 'features' ORDER BY c.table_name").fetchall()
        kinds = [(t, registry.kinds.get(meta.get(t, ("generic", {}))[0])
                  or registry["generic"]) for t, _, _ in feats]
        counts = {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
                  for t, _, _ in feats}
        titles = _titles([(t, k, counts[t]) for t, k in kinds])
        # free the identifiers first (UNIQUE), then set them
        for t, _, _ in feats:
            con.execute("UPDATE gpkg_contents SET identifier = '~' || table_name "
                        "WHERE table_name = ?", (t,))
        for (table, geom, gtype), (_, kind) in zip(feats, kinds, strict=True):
            field_map = meta.get(table, ("", {}))[1].get("field_map") or {}
            fid = next((r[1] for r in con.execute(f'PRAGMA table_info("{table}")') if r[5]),
                       "fid")
            cols = _columns(con, table)
            aliases = _labels_for(cols, fid, geom, kind, field_map, registry)
            n = counts[table]
            title = titles[table]
            con.execute("UPDATE gpkg_contents SET identifier = ?, description = ? "
                        "WHERE table_name = ?",
                        (title, f"{kind.name_zh} ({kind.id}){' ' + kind.code if kind.code else ''}",
                         table))
            con.execute("DELETE FROM gpkg_data_columns WHERE table_name = ?", (table,))
            con.executemany(
                "INSERT INTO gpkg_data_columns (table_name, column_name, name, title) "
                "VALUES (?, ?, ?, ?)", [(table, c, a, a) for c, a in aliases.items()])
            doc = qml(kind, gtype, cols, n_features=n, aliases=aliases, field_map=field_map,
                      title=title)
            con.execute("DELETE FROM layer_styles WHERE f_table_name = ? AND owner = ?",
                        (table, STYLE_OWNER))
            user_default = con.execute(
                "SELECT 1 FROM layer_styles WHERE f_table_name = ? AND useAsDefault",
                (table,)).fetchone()
            con.execute(
                "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, "
                "f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, description, "
                "owner, ui, update_time) VALUES ('', '', ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)",
                (table, geom, STYLE_NAME, doc, sld(kind, gtype, table), 0 if user_default else 1,
                 f"{title}: ecogis 样式 (layers/kinds.toml)", STYLE_OWNER, stamp))
        # rows of layers that no longer exist
        live = [t for t, _, _ in feats]
        marks = ",".join("?" for _ in live) or "''"
        con.execute(f"DELETE FROM layer_styles WHERE owner = ? AND f_table_name NOT IN ({marks})",
                    (STYLE_OWNER, *live))
        con.execute("DELETE FROM gpkg_data_columns WHERE table_name NOT IN "
                    "(SELECT table_name FROM gpkg_contents)")
        con.execute("UPDATE gpkg_contents SET identifier = table_name "
                    "WHERE identifier LIKE '~%' AND identifier = '~' || table_name")


# --------------------------------------------------------------------------- migration


def migrate_version(path: str | os.PathLike, *, reason: str = "") -> dict:
    """Mark the GeoPackage at ``path`` as version 1.2 (``PRAGMA user_version = 10200``).

    GDAL writes GeoPackage 1.4 by default; what a 1.4 file holds beyond 1.2 in an ecogis
    workspace is only the newer form of the R-tree triggers (valid SQL, which GDAL 3.6 runs),
    so the file is kept as it is — every table, feature id and raster — and only its version
    number changes. GDAL then writes it as 1.2. Returns ``{"from": "1.4", "to": "1.2"}`` and
    warns (with ``reason``). The caller holds the workspace's write (this runs on the
    transaction's private copy).
    """
    src = Path(path)
    before = user_version(src)
    with closing(sqlite3.connect(src)) as con, con:
        con.execute(f"PRAGMA application_id = {APPLICATION_ID:d}")
        con.execute(f"PRAGMA user_version = {USER_VERSION:d}")
    out = {"from": version_text(before), "to": VERSION}
    warnings.warn(f"{src.name}: GeoPackage {out['from']} marked as {VERSION}"
                  + (f" ({reason})" if reason else ""), stacklevel=2)
    return out


# --------------------------------------------------------------------------- rasters

#: Chinese titles of raster kinds (gpkg_contents.identifier)
RASTER_TITLES = {"dem": "数字高程模型", "landcover": "土地覆盖"}
_RASTER_TABLES = ("gpkg_tile_matrix", "gpkg_tile_matrix_set")
_COVERAGE_ANCILLARY = "gpkg_2d_gridded_coverage_ancillary"
_TILE_ANCILLARY = "gpkg_2d_gridded_tile_ancillary"


def raster_uri(path: str | os.PathLike, table: str) -> str:
    """Return the GDAL/rasterio name of raster ``table`` inside GeoPackage ``path``."""
    return f"GPKG:{Path(path).resolve()}:{table}"


def raster_tables(path: str | os.PathLike) -> list[str]:
    """Return the raster tables (tiles and 2D gridded coverages) of GeoPackage ``path``."""
    with closing(sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True)) as con:
        return [r[0] for r in con.execute(
            "SELECT table_name FROM gpkg_contents WHERE data_type IN "
            "('tiles', '2d-gridded-coverage') ORDER BY table_name")]


def drop_raster(path: str | os.PathLike, table: str) -> None:
    """Remove raster ``table`` and its rows in the GeoPackage's tile and coverage tables."""
    with closing(sqlite3.connect(path)) as con, con:
        have = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        con.execute(f'DROP TABLE IF EXISTS "{table}"')
        for t in ("gpkg_contents", "gpkg_extensions", *_RASTER_TABLES):
            if t in have:
                con.execute(f"DELETE FROM {t} WHERE table_name = ?", (table,))
        if _COVERAGE_ANCILLARY in have:
            con.execute(f"DELETE FROM {_COVERAGE_ANCILLARY} WHERE tile_matrix_set_name = ?",
                        (table,))
        if _TILE_ANCILLARY in have:
            con.execute(f"DELETE FROM {_TILE_ANCILLARY} WHERE tpudt_name = ?", (table,))
        if "gpkg_metadata_reference" in have:
            con.execute("DELETE FROM gpkg_metadata_reference WHERE table_name = ?", (table,))


def write_raster(path: str | os.PathLike, table: str, data: np.ndarray, transform, crs,
                 nodata, *, kind: str, title: str | None = None) -> None:
    """Store one band as a GeoPackage 2D gridded coverage ``table`` (GDAL GPKG raster driver).

    A DEM is stored as float32 in TIFF tiles, land cover (integer classes) as UInt16 in PNG
    tiles: both lossless, read back by GDAL >= 2.2 / rasterio as ``GPKG:<file>:<table>`` and
    listed by QGIS. ``grid-value-is-area`` keeps GeoTIFF's pixel-is-area georeferencing. The
    nodata value is written to ``gpkg_2d_gridded_coverage_ancillary.data_null`` (GDAL does not
    take it from the creation profile). An existing table of that name is replaced. ``path``
    must be the copy a workspace transaction is writing.
    """
    import rasterio

    if table in raster_tables(path):
        drop_raster(path, table)
    if kind == "dem" or np.issubdtype(data.dtype, np.floating):
        dtype, fmt = "float32", "TIFF"
    else:
        if data.size and (int(data.min()) < 0 or int(data.max()) > 65535):
            raise ValueError(f"raster {table!r}: classes outside 0..65535 cannot be stored")
        dtype, fmt = "uint16", "PNG"
    h, w = data.shape
    opts = {"RASTER_TABLE": table, "APPEND_SUBDATASET": "YES", "TILE_FORMAT": fmt,
            "GRID_CELL_ENCODING": "grid-value-is-area",
            "RASTER_IDENTIFIER": title or RASTER_TITLES.get(kind, table),
            "RASTER_DESCRIPTION": f"ecogis {kind} raster"}
    with rasterio.open(path, "w", driver="GPKG", width=w, height=h, count=1, dtype=dtype,
                       crs=crs, transform=transform, **opts) as dst:
        dst.write(data.astype(dtype, copy=False), 1)
    if nodata is not None and not (isinstance(nodata, float) and np.isnan(nodata)):
        with closing(sqlite3.connect(path)) as con, con:
            con.execute(f"UPDATE {_COVERAGE_ANCILLARY} SET data_null = ? "
                        "WHERE tile_matrix_set_name = ?", (float(nodata), table))


def side_rasters_dir(path: str | os.PathLike) -> Path:
    """Return the side folder ``<workspace>.rasters`` older workspaces kept rasters in."""
    p = Path(path)
    return p.with_name(p.name + ".rasters")
