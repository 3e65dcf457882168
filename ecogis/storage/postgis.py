"""The PostGIS workspace: the GeoPackage workspace's layers and metadata in a PostgreSQL database.

Open one with ``Workspace.open("postgresql://user@host/db")`` (or :func:`ecogis.workspace.
open_workspace`); every libpq form works: ``postgresql:///db`` over the local socket, the
``PGHOST``/``PGPORT``/``PGUSER``/``PGPASSWORD``/``PGDATABASE`` environment for what the URI
leaves out, ``postgresql://`` alone for the environment's database, ``PG:dbname=x host=y``
(GDAL's form). Needs the ``ecogis[server]`` extra (SQLAlchemy 2, GeoAlchemy2, psycopg 3).

Layout (QGIS opens the database as usual):

* one table per layer, named as the layer, in its source CRS (SRID from the CRS's EPSG code;
  the CRS's WKT is kept in the metadata so a CRS without an EPSG code comes back as it went
  in), key column ``fid`` (1..n as in the GeoPackage), geometry column ``geom`` with a GiST
  index;
* ``ecogis_layers`` (the GeoPackage's columns plus ``seq``, ``generation``, ``crs_wkt`` and
  ``geometry_type``) and ``ecogis_meta`` (key/value) — the GeoPackage's metadata tables.

Guarantees: every write is one transaction that first takes a transaction-scoped advisory
lock (``pg_advisory_xact_lock``), so writers are serialised (a waiting writer says so on
stderr and gives up after ``ECOGIS_LOCK_WAIT`` seconds, default 600, with a clear error); a
layer is written to a new table under a temporary name and renamed over the old one inside
that transaction, so a reader sees the whole old layer or the whole new one, never half.
Rasters are not stored in PostGIS workspaces (``import`` refuses them with the fix), so
indicators that need a land-cover or DEM raster report no data there.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import geopandas as gpd
import pandas as pd
from pyproj import CRS

from ecogis.errors import InputError, WorkspaceError
from ecogis.kinds import load_kinds
from ecogis.storage import redact
from ecogis.workspace import (
    _LAYER_COLUMNS,
    LAYERS_TABLE,
    META_TABLE,
    LayerInfo,
    Workspace,
    _now,
    layer_row,
    prepare_layer,
    with_field_map,
)

GEOM_COLUMN = "geom"
_EXTRA_COLUMNS = ("generation", "crs_wkt", "geometry_type")
_PG_TYPES = {  # PostGIS geometry_columns.type -> the name pyogrio gives a GeoPackage layer
    "POINT": "Point", "MULTIPOINT": "MultiPoint", "LINESTRING": "LineString",
    "MULTILINESTRING": "MultiLineString", "POLYGON": "Polygon", "MULTIPOLYGON": "MultiPolygon",
    "GEOMETRYCOLLECTION": "GeometryCollection", "GEOMETRY": "Unknown",
}
_ENGINES: dict[str, object] = {}
_ENGINES_LOCK = threading.Lock()
_LOCK_SQL = "hashtext('ecogis workspace ' || current_schema())"


class DatabaseName(str):
    """The workspace's ``path`` for a database: the URI without password; ``.name`` its database."""

    dbname: str = ""

    @property
    def name(self) -> str:
        return self.dbname or str(self)

    @property
    def stem(self) -> str:
        return self.name


def _need_server_extra():
    try:
        import geoalchemy2  # noqa: F401
        import psycopg  # noqa: F401
        import sqlalchemy  # noqa: F401
    except ImportError as exc:
        raise WorkspaceError(
            f"PostGIS workspaces need the server extra ({exc.name} is missing) "
            "(fix: pip install 'ecogis[server]')") from None


def _conninfo(uri: str) -> str:
    return uri[3:].strip() if uri.startswith("PG:") else uri


def _engine(uri: str):
    """Return the process's SQLAlchemy engine for ``uri`` (libpq reads the URI and PG* vars)."""
    _need_server_extra()
    import psycopg
    import sqlalchemy as sa

    with _ENGINES_LOCK:
        eng = _ENGINES.get(uri)
        if eng is None:
            info = _conninfo(uri)
            eng = sa.create_engine("postgresql+psycopg://",
                                   creator=lambda: psycopg.connect(info), pool_pre_ping=True,
                                   pool_size=8, max_overflow=32)
            _ENGINES[uri] = eng
    return eng


def _connection_error(uri: str, exc: Exception) -> WorkspaceError:
    msg = " ".join(str(getattr(exc, "orig", None) or exc).split())
    return WorkspaceError(
        f"{redact(uri)}: cannot connect to PostgreSQL: {msg} (fix: check the URI or the "
        "PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE environment, that the server runs, and that "
        "the database exists — create it with `createdb NAME`)")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _check_table_name(name: str) -> None:
    if len(name.encode("utf-8")) > 63:
        raise InputError(f"layer name {name!r} is longer than PostgreSQL's 63 bytes",
                         fix="choose a shorter --name")
    low = name.lower()
    if low.startswith(("ecogis_", "_ecogis_", "pg_")) or low in ("spatial_ref_sys",
                                                                  "geometry_columns",
                                                                  "geography_columns"):
        raise InputError(f"layer name {name!r} is reserved", fix="choose another --name")


def is_workspace(uri: str) -> bool:
    """Return True when the database at ``uri`` holds an ecogis workspace (False when unreachable)."""
    try:
        import sqlalchemy as sa

        with _engine(uri).connect() as con:
            return con.execute(sa.text("SELECT to_regclass(:t)"),
                               {"t": LAYERS_TABLE}).scalar() is not None
    except Exception:
        return False


class PostGISWorkspace(Workspace):
    """A workspace in a PostGIS database, with the public methods of :class:`Workspace`."""

    def __init__(self, uri: str, *, fixed_time: str | None = None) -> None:
        self.uri = uri
        self.path = DatabaseName(redact(uri))
        self.fixed_time = fixed_time
        self._conn = None  # the connection of the open transaction
        self._active = None
        self._cache: dict[tuple[str, str], gpd.GeoDataFrame] = {}
        self.lock_wait_s = float(os.environ.get("ECOGIS_LOCK_WAIT", "600"))

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, path: str | os.PathLike, *, create: bool = False,
             fixed_time: str | None = None, wait: float | None = None) -> PostGISWorkspace:
        """Open the workspace in database ``path``; with ``create=True`` make its tables.

        ``wait``: seconds a write waits for another writer's advisory lock (default
        ``$ECOGIS_LOCK_WAIT`` or 600).
        """
        import sqlalchemy as sa

        uri = os.fspath(path)
        ws = cls(uri, fixed_time=fixed_time)
        if wait is not None:
            ws.lock_wait_s = float(wait)
        try:
            with _engine(uri).connect() as con:
                ws.path.dbname = con.execute(sa.text("SELECT current_database()")).scalar()
                have = con.execute(sa.text("SELECT to_regclass(:t) IS NOT NULL, "
                                           "to_regclass(:m) IS NOT NULL"),
                                   {"t": LAYERS_TABLE, "m": META_TABLE}).one()
                cols = {r[0] for r in con.execute(sa.text(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_schema = current_schema() AND table_name = :t"),
                    {"t": LAYERS_TABLE})}
        except sa.exc.OperationalError as exc:
            raise _connection_error(uri, exc) from None
        if not all(have):
            if not create:
                raise InputError("the database holds no ecogis workspace", file=str(ws.path),
                                 fix="create one with `ecogis import URI KIND FILE`")
            with ws.transaction():
                pass
        elif (set(_LAYER_COLUMNS) | set(_EXTRA_COLUMNS)) - cols:
            with ws.transaction():  # a workspace of an older ecogis: add the new columns
                pass
        return ws

    # ------------------------------------------------------------- transactions
    @contextmanager
    def transaction(self) -> Iterator[PostGISWorkspace]:
        """Group writes in one database transaction holding the workspace's writer lock."""
        if self._conn is not None:
            yield self
            return
        import sqlalchemy as sa

        try:
            conn = _engine(self.uri).connect()
        except sa.exc.OperationalError as exc:
            raise _connection_error(self.uri, exc) from None
        try:
            with conn, conn.begin():
                self._lock(conn)
                self._ensure_tables(conn)
                self._conn = conn
                yield self
        finally:
            self._conn = None

    def _lock(self, conn) -> None:
        import sqlalchemy as sa

        if conn.execute(sa.text(f"SELECT pg_try_advisory_xact_lock({_LOCK_SQL})")).scalar():
            return
        print(f"ecogis: waiting for another writer of {self.path} (up to {self.lock_wait_s:g} s)",
              file=sys.stderr)
        conn.execute(sa.text(f"SET LOCAL lock_timeout = '{int(self.lock_wait_s * 1000)}ms'"))
        try:
            conn.execute(sa.text(f"SELECT pg_advisory_xact_lock({_LOCK_SQL})"))
        except sa.exc.OperationalError as exc:
            if "lock timeout" in str(exc) or "LockNotAvailable" in type(exc.orig).__name__:
                raise WorkspaceError(
                    f"{self.path}: another writer held the workspace for {self.lock_wait_s:g} s "
                    "(fix: retry when it is done, or raise ECOGIS_LOCK_WAIT)") from None
            raise
        conn.execute(sa.text("SET LOCAL lock_timeout = 0"))

    def _ensure_tables(self, conn) -> None:
        import sqlalchemy as sa

        has_postgis = conn.execute(sa.text(
            "SELECT 1 FROM pg_extension WHERE extname = 'postgis'")).scalar()
        if not has_postgis:
            try:
                with conn.begin_nested():
                    conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS postgis"))
            except sa.exc.DBAPIError as exc:
                db = self.path.name
                raise WorkspaceError(
                    f"{self.path}: the PostGIS extension is not installed in database {db!r} and "
                    f"this role may not create it ({' '.join(str(exc.orig).split())}) (fix: as a "
                    f"superuser run `psql -d {db} -c 'CREATE EXTENSION postgis'`; on Debian "
                    "install it first with `apt install postgresql-15-postgis-3`)") from None
        cols = ", ".join(f"{_quote(c)} text" for c in (*_LAYER_COLUMNS, *_EXTRA_COLUMNS)
                         if c != "name")
        conn.execute(sa.text(f"CREATE TABLE IF NOT EXISTS {LAYERS_TABLE} (name text PRIMARY KEY, "
                             f"seq bigserial, {cols})"))
        for c in (*_LAYER_COLUMNS, *_EXTRA_COLUMNS):  # columns a newer ecogis added
            conn.execute(sa.text(f"ALTER TABLE {LAYERS_TABLE} ADD COLUMN IF NOT EXISTS "
                                 f"{_quote(c)} text"))
        conn.execute(sa.text(f"CREATE TABLE IF NOT EXISTS {META_TABLE} "
                             "(key text PRIMARY KEY, value text)"))

    @contextmanager
    def _reading(self):
        """A connection seeing one snapshot (the open transaction's, else a repeatable read)."""
        if self._conn is not None:
            yield self._conn
            return
        import sqlalchemy as sa

        try:
            with _engine(self.uri).connect() as con:
                con = con.execution_options(isolation_level="REPEATABLE READ")
                with con.begin():
                    yield con
        except sa.exc.OperationalError as exc:
            raise _connection_error(self.uri, exc) from None

    # ----------------------------------------------------------------- metadata
    @property
    def meta(self) -> dict[str, object]:
        """Workspace-level key/values (``region``, ``synthetic`` ...), JSON-decoded."""
        import sqlalchemy as sa

        with self._reading() as con:
            rows = con.execute(sa.text(f"SELECT key, value FROM {META_TABLE} ORDER BY key")).all()
        out = {}
        for k, v in rows:
            try:
                out[k] = json.loads(v)
            except (TypeError, json.JSONDecodeError):
                out[k] = v
        return out

    def set_meta(self, **values: object) -> None:
        """Set workspace key/values (one transaction)."""
        import sqlalchemy as sa

        with self.transaction():
            for k, v in values.items():
                self._conn.execute(sa.text(
                    f"INSERT INTO {META_TABLE} (key, value) VALUES (:k, :v) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"),
                    {"k": k, "v": json.dumps(v, ensure_ascii=False)})

    def _meta_rows(self) -> dict[str, dict]:
        import sqlalchemy as sa

        with self._reading() as con:
            rows = con.execute(sa.text(
                f"SELECT l.* FROM {LAYERS_TABLE} l WHERE to_regclass(quote_ident(l.name)) "
                "IS NOT NULL ORDER BY seq")).mappings().all()
        return {r["name"]: dict(r) for r in rows}

    def names(self) -> list[str]:
        """Return the names of the layers (metadata tables excluded), oldest write first."""
        return list(self._meta_rows())

    def version(self) -> tuple:
        """Return a value that changes whenever a layer or the metadata changes."""
        import sqlalchemy as sa

        with self._reading() as con:
            layers = con.execute(sa.text(
                f"SELECT name, generation FROM {LAYERS_TABLE} ORDER BY seq")).all()
            meta = con.execute(sa.text(f"SELECT key, value FROM {META_TABLE} ORDER BY key")).all()
        return (tuple(map(tuple, layers)), tuple(map(tuple, meta)))

    def info(self, name: str) -> LayerInfo:
        """Return the :class:`LayerInfo` of one layer."""
        import sqlalchemy as sa

        row = self._meta_rows().get(name)
        if row is None:
            self._require(name)
        q = _quote(name)
        with self._reading() as con:
            n, x0, y0, x1, y1 = con.execute(sa.text(
                f"SELECT count(*), min(ST_XMin({GEOM_COLUMN}::box3d)), "
                f"min(ST_YMin({GEOM_COLUMN}::box3d)), max(ST_XMax({GEOM_COLUMN}::box3d)), "
                f"max(ST_YMax({GEOM_COLUMN}::box3d)) FROM {q}")).one()

        def js(v, default):
            try:
                return json.loads(v) if v else default
            except json.JSONDecodeError:
                return default

        nan = float("nan")
        extra = js(row.get("extra"), {})
        fmap = extra.get("field_map") if isinstance(extra, dict) else None
        if not isinstance(fmap, dict):
            fmap = self._resolve_fields(name, row.get("kind") or None, self._columns(name))
        return LayerInfo(
            name=name, kind=row.get("kind") or None, features=int(n),
            geometry_type=row.get("geometry_type") or None,
            crs=row.get("crs") or "none",
            bbox=[float(v) if v is not None else nan for v in (x0, y0, x1, y1)],
            source=row.get("source") or None, source_layer=row.get("source_layer") or None,
            sha256=row.get("sha256") or None, crs_source=row.get("crs_source") or None,
            encoding=row.get("encoding") or None,
            encoding_source=row.get("encoding_source") or None,
            repairs=js(row.get("repairs"), {}), imported_at=row.get("imported_at") or None,
            synthetic=str(row.get("synthetic")).lower() in ("1", "true"),
            extra=extra, field_map=dict(fmap),
        )

    def _columns(self, name: str) -> list[str]:
        import sqlalchemy as sa

        with self._reading() as con:
            return [r[0] for r in con.execute(sa.text(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = "
                "current_schema() AND table_name = :t AND column_name NOT IN ('fid', :g) "
                "ORDER BY ordinal_position"), {"t": name, "g": GEOM_COLUMN})]

    # ---------------------------------------------------------------- read/write
    def read(self, name: str, *, roles: bool = True) -> gpd.GeoDataFrame:
        """Return a layer as a GeoDataFrame in its stored CRS, indexed by feature id ``fid``.

        As :meth:`Workspace.read`: the stored field names, plus (``roles``) a column per field
        role of the layer's field map.
        """
        import sqlalchemy as sa

        with self._reading() as con:
            row = con.execute(sa.text(f"SELECT generation, crs_wkt, kind, extra FROM {LAYERS_TABLE} "
                                      "WHERE name = :n AND to_regclass(quote_ident(:n)) "
                                      "IS NOT NULL"), {"n": name}).one_or_none()
            if row is None:
                self._require(name)
            key = (name, row[0] or "")
            if key not in self._cache:
                gdf = gpd.read_postgis(sa.text(f"SELECT * FROM {_quote(name)} ORDER BY fid"),
                                       con, geom_col=GEOM_COLUMN, index_col="fid")
                gdf = gdf.rename_geometry("geometry")
                gdf = gdf[[c for c in gdf.columns if c != "geometry"] + ["geometry"]]
                if row[1]:
                    gdf = gdf.set_crs(CRS.from_wkt(row[1]), allow_override=True)
                gdf.index = pd.Index(gdf.index.to_numpy(dtype="int64"), name="fid")
                self._cache = {k: v for k, v in self._cache.items() if k[0] != name}
                self._cache[key] = gdf
        gdf = self._cache[key].copy()
        if roles:
            from ecogis.fields import apply_roles

            try:
                extra = json.loads(row[3] or "{}")
            except json.JSONDecodeError:
                extra = {}
            fmap = extra.get("field_map") if isinstance(extra, dict) else None
            if not isinstance(fmap, dict):
                fmap = self._resolve_fields(name, row[2] or None,
                                            [c for c in gdf.columns if c != gdf.geometry.name])
            gdf = apply_roles(gdf, fmap)
        return gdf

    def write(self, name: str, gdf: gpd.GeoDataFrame, kind: str, *, source: str | None = None,
              source_layer: str | None = None, sha256: str | None = None,
              crs_source: str | None = None, encoding: str | None = None,
              encoding_source: str | None = None, repairs: dict | None = None,
              synthetic: bool = False, extra: dict | None = None,
              field_map: dict[str, str] | None = None) -> bool:
        """Write ``gdf`` as layer ``name`` of ``kind`` (replacing it); return True if replaced.

        One transaction: the rows go to a new table, which replaces the old one by a rename.
        Polygon kinds are stored as MultiPolygon, line kinds as MultiLineString; the source
        feature ids are kept in column ``src_fid``.
        """
        import sqlalchemy as sa

        k = load_kinds()[kind]
        gdf, extra = with_field_map(name, gdf, k, field_map, extra)
        out, _, parts, split = prepare_layer(name, gdf, k)
        if split:  # one geometry type per layer, as in the GeoPackage
            repairs = {**(repairs or {}), "geometry_types": {
                **split, "layers": {d: f"{name}_{d}" for d in parts}}}
        _check_table_name(name)
        if GEOM_COLUMN in out.columns and out.geometry.name != GEOM_COLUMN:
            raise InputError(f"has an attribute named {GEOM_COLUMN!r}", layer=name,
                             fix="rename the field before importing")
        out = out.rename_geometry(GEOM_COLUMN)
        out.index = pd.RangeIndex(1, len(out) + 1, name="fid")
        crs = CRS.from_user_input(gdf.crs)
        gen = uuid.uuid4().hex[:16]
        tmp = f"_ecogis_new_{gen}"
        row = layer_row(name, k.id, gdf.crs, source=source, source_layer=source_layer,
                        sha256=sha256, crs_source=crs_source, encoding=encoding,
                        encoding_source=encoding_source, repairs=repairs,
                        imported_at=self.fixed_time or _now(), synthetic=synthetic, extra=extra)
        with self.transaction():
            for d, part in parts.items():
                self.write(f"{name}_{d}", part, kind, source=source, source_layer=source_layer,
                           sha256=sha256, crs_source=crs_source, encoding=encoding,
                           encoding_source=encoding_source, synthetic=synthetic,
                           extra={**(extra or {}), "split_from": name})
            con = self._conn
            replaced = name in self.names()
            with _quiet_srid():
                out.to_postgis(tmp, con, index=True, index_label="fid")
            q, qt = _quote(name), _quote(tmp)
            # geopandas loads with CSV COPY, which reads an empty text as NULL: put them back
            for col in out.columns:
                if col == GEOM_COLUMN or out[col].dtype.kind not in "OUT":
                    continue
                empty = out.index[out[col].map(lambda v: isinstance(v, str) and v == "")]
                if len(empty):
                    con.execute(sa.text(f"UPDATE {qt} SET {_quote(col)} = '' "
                                        "WHERE fid = ANY(:ids)"), {"ids": [int(i) for i in empty]})
            con.execute(sa.text(f"ALTER TABLE {qt} ADD PRIMARY KEY (fid)"))
            idx = con.execute(sa.text(
                "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
                "AND tablename = :t AND indexdef ILIKE '%USING gist%'"), {"t": tmp}).scalar()
            if idx is None:
                con.execute(sa.text(f"CREATE INDEX ON {qt} USING gist ({GEOM_COLUMN})"))
                idx = con.execute(sa.text(
                    "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
                    "AND tablename = :t AND indexdef ILIKE '%USING gist%'"), {"t": tmp}).scalar()
            gtype = con.execute(sa.text(
                "SELECT type FROM geometry_columns WHERE f_table_schema = current_schema() "
                "AND f_table_name = :t"), {"t": tmp}).scalar()
            con.execute(sa.text(f"DROP TABLE IF EXISTS {q}"))
            con.execute(sa.text(f"ALTER TABLE {qt} RENAME TO {q}"))
            con.execute(sa.text(f"ALTER INDEX {_quote(idx)} RENAME TO "
                                f"{_quote('ecogis_gist_' + gen)}"))
            con.execute(sa.text(f"DELETE FROM {LAYERS_TABLE} WHERE name = :n"), {"n": name})
            row.update(generation=gen, crs_wkt=crs.to_wkt(),
                       geometry_type=_PG_TYPES.get(str(gtype).upper(), str(gtype)))
            cols = list(row)
            con.execute(sa.text(
                f"INSERT INTO {LAYERS_TABLE} ({', '.join(_quote(c) for c in cols)}) "
                f"VALUES ({', '.join(':' + c for c in cols)})"), row)
        return replaced


@contextmanager
def _quiet_srid():
    """geopandas warns when a CRS has no EPSG code; the WKT kept in ecogis_layers restores it."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Could not parse CRS from the GeoDataF.*")
        yield
