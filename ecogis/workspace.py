"""The workspace: one GeoPackage holding many layers plus ecogis's metadata tables.

It opens in QGIS/GDAL as a normal GeoPackage. Two attribute tables are added:
``ecogis_layers`` (one row per layer: kind, source file, sha256, CRS and where it came from,
encoding, repairs, import time, synthetic flag) and ``ecogis_meta`` (workspace key/values such
as ``region`` and ``synthetic``).

Every write is atomic: changes go to a copy of the file beside it, which replaces the original
with :func:`os.replace` only when the whole change succeeded. A failed or killed import leaves
the workspace exactly as it was. The storage seam is :class:`Workspace`'s public methods; a
PostGIS workspace will offer the same (``open_workspace`` dispatches on the URI).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ecogis import gpkg
from ecogis.crs import crs_label
from ecogis.errors import EcogisWarning, InputError, WorkspaceBusyError
from ecogis.kinds import Kind, load_kinds
from ecogis.lazymod import LazyModule
from ecogis.storage import is_postgres_uri, split_layer

# imported on first use: listing a workspace needs none of them
gpd = LazyModule("geopandas")
np = LazyModule("numpy")
pd = LazyModule("pandas")
pyogrio = LazyModule("pyogrio")
shapely = LazyModule("shapely")

LAYERS_TABLE = "ecogis_layers"
META_TABLE = "ecogis_meta"
_LAYER_COLUMNS = (
    "name", "kind", "source", "source_layer", "sha256", "crs", "crs_source", "encoding",
    "encoding_source", "repairs", "imported_at", "synthetic", "extra",
)
_RESERVED = {LAYERS_TABLE, META_TABLE}


@dataclass
class LayerInfo:
    """One layer of a workspace: its name, kind, size, CRS, bbox and provenance."""

    name: str
    kind: str | None
    features: int
    geometry_type: str | None
    crs: str
    bbox: list[float]
    source: str | None = None
    source_layer: str | None = None
    sha256: str | None = None
    crs_source: str | None = None
    encoding: str | None = None
    encoding_source: str | None = None
    repairs: dict = field(default_factory=dict)
    imported_at: str | None = None
    synthetic: bool = False
    extra: dict = field(default_factory=dict)
    #: field roles: {role: source field} (kinds.toml aliases and --field; source names kept)
    field_map: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class ImportReport:
    """What ``import`` did: the layer written, and how the file was read (CRS, encoding, repairs)."""

    workspace: str
    name: str
    kind: str
    replaced: bool
    read: object  # ecogis.io.ReadReport

    def as_dict(self) -> dict:
        d = {"workspace": self.workspace, "name": self.name, "kind": self.kind,
             "replaced": self.replaced}
        d.update(self.read.as_dict())
        return d


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def _gpkg_time(iso: str) -> str:
    """Return an ISO 8601 time in GeoPackage's ``last_change`` form (``...T..:..:...000Z``)."""
    t = datetime.fromisoformat(iso)
    if t.tzinfo is not None:
        t = t.astimezone(timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _is_sqlite(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(16) == b"SQLite format 3\x00"


def lock_path(path: str | os.PathLike) -> Path:
    """Return the lock file of a workspace or output: ``.NAME.lock`` beside it (kept)."""
    p = Path(path)
    return p.with_name(f".{p.name}.lock")


def _read_only(path: Path) -> bool:
    """True when ``path`` cannot be written, or its mode has no write bit (honoured for root
    too: a user who made the file read-only meant it)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return not os.access(path, os.W_OK) or not (mode & 0o222)


def check_writable(path: str | os.PathLike) -> None:
    """Raise :class:`InputError` naming the path and the fix when ``path`` (a workspace or an
    output file) or its folder cannot be written. A write goes to a temp file in the folder,
    which then replaces the file."""
    p = Path(path)
    folder = p.parent if str(p.parent) else Path(".")
    if p.exists() and _read_only(p):
        raise InputError("is read-only, so it cannot be written", file=str(p),
                         fix=f"make it writable (chmod u+w '{p}') or copy it to a new file")
    if folder.exists() and _read_only(folder):
        raise InputError("folder is read-only: writes go to a temp file beside the file",
                         file=str(folder),
                         fix=f"make the folder writable (chmod u+w '{folder}') or use a "
                         "workspace in a writable folder")


@contextmanager
def write_lock(path: str | os.PathLike, *, wait: float | None = None) -> Iterator[None]:
    """Hold the advisory write lock (``fcntl.flock`` on :func:`lock_path`) of ``path``.

    One writer at a time: a second writer waits, saying so once on stderr; with ``wait``
    seconds it gives up with :class:`~ecogis.errors.WorkspaceBusyError` instead. Readers take
    no lock: a write replaces the file atomically, so they see the old or the new file whole.
    """
    p = Path(path)
    check_writable(p)
    try:
        fd = os.open(lock_path(p), os.O_RDWR | os.O_CREAT, 0o644)
    except PermissionError:
        raise InputError("folder is read-only: the write lock cannot be created",
                         file=str(p.parent), fix="make the folder writable") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            deadline = None if wait is None else time.monotonic() + max(0.0, float(wait))
            print(f"ecogis: {p}: another ecogis process is writing it; waiting"
                  + ("" if wait is None else f" up to {wait:g} s") + " ...", file=sys.stderr)
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if deadline is not None and time.monotonic() >= deadline:
                        raise WorkspaceBusyError(
                            f"another ecogis process is still writing it after {wait:g} s",
                            file=str(p), fix="wait for it to finish, or give a longer --wait"
                        ) from None
                    time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # releases the lock


def _stale_temps(path: Path) -> list[Path]:
    """Temp files of killed writers of ``path``: ``.STEM.*.tmp.gpkg`` and their journals."""
    folder = path.parent if str(path.parent) else Path(".")
    out = []
    for pat in (f".{path.stem}.*.tmp.gpkg", f".{path.stem}.*.tmp.gpkg-journal",
                f".{path.stem}.*.tmp.gpkg-wal", f".{path.stem}.*.tmp.gpkg-shm"):
        out += [q for q in folder.glob(pat) if q.is_file()]
    return sorted(set(out))


def clean_stale_temps(path: str | os.PathLike) -> list[str]:
    """Remove the temp files killed writers left beside ``path``; return their names.

    Only when no writer holds the lock (so none of them is in use) and the folder is writable;
    each removal is reported with an :class:`~ecogis.errors.EcogisWarning`.
    """
    p = Path(path)
    temps = _stale_temps(p)
    folder = p.parent if str(p.parent) else Path(".")
    if not temps or _read_only(folder):
        return []
    try:
        fd = os.open(lock_path(p), os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        return []
    removed, size = [], 0
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return []  # a writer is at work: its temp file is not stale
        for q in _stale_temps(p):
            try:
                size += q.stat().st_size
                q.unlink()
                removed.append(q.name)
            except OSError:
                continue
    finally:
        os.close(fd)
    if removed:
        warnings.warn(f"{p}: removed {len(removed)} stale temp file(s) left by an interrupted "
                      f"write ({size / 1e6:.1f} MB): {', '.join(removed[:3])}"
                      + (" ..." if len(removed) > 3 else ""), EcogisWarning, stacklevel=3)
    return removed


def check_not_corrupt(path: Path) -> None:
    """Raise :class:`InputError` when an SQLite file is truncated or malformed."""
    try:
        size = path.stat().st_size
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as con:
            page_size = con.execute("PRAGMA page_size").fetchone()[0]
            pages = con.execute("PRAGMA page_count").fetchone()[0]
            con.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        raise InputError(f"is corrupt ({exc})", file=str(path),
                         fix="restore it from a backup, or rebuild it with `ecogis import`"
                         ) from None
    if size < page_size * pages:
        raise InputError(f"is corrupt: truncated ({size} of {page_size * pages} bytes)",
                         file=str(path),
                         fix="restore it from a backup, or rebuild it with `ecogis import`")


def check_output_gpkg(path: str | os.PathLike, layers: list[str] | tuple[str, ...]) -> None:
    """Refuse an output GeoPackage path whose replacement would lose data.

    An existing file may be replaced only when it holds nothing but ``layers`` (an earlier
    output of the same command); a workspace or any other GeoPackage is refused.
    """
    p = Path(path)
    if p.is_dir():
        raise InputError("is a directory", file=str(p), fix="name a .gpkg file for the output")
    check_writable(p)
    if not p.exists():
        return
    if is_workspace(p):
        raise InputError("is an ecogis workspace: writing the output there would replace it",
                         file=str(p), fix="name a new .gpkg file for the output")
    try:
        have = {str(r[0]) for r in pyogrio.list_layers(p)}
    except Exception:
        have = {"?"}
    other = sorted(have - set(layers))
    if other:
        raise InputError(f"exists with other layers ({', '.join(other[:5])}): writing the output "
                         "would replace the whole file", file=str(p),
                         fix="name a new .gpkg file, or delete the old one first")


def is_workspace(path: str | os.PathLike) -> bool:
    """Return True when ``path`` is a GeoPackage with ecogis's metadata table (or such a database)."""
    if is_postgres_uri(path):
        from ecogis.storage.postgis import is_workspace as pg_is_workspace

        return pg_is_workspace(split_layer(path)[0])
    p = Path(path)
    if not p.is_file() or p.suffix.lower() != ".gpkg":
        return False
    try:
        with closing(sqlite3.connect(f"file:{p}?mode=ro", uri=True)) as con:
            row = con.execute("SELECT 1 FROM sqlite_master WHERE name=?", (LAYERS_TABLE,)).fetchone()
        return row is not None
    except sqlite3.Error:
        if _is_sqlite(p):  # an SQLite file that cannot be read: corrupt, say so
            check_not_corrupt(p)
        return False


class Workspace:
    """A GeoPackage workspace. Open with :meth:`Workspace.open`.

    ``fixed_time`` (ISO 8601, e.g. ``"2023-01-01T00:00:00+00:00"``): when set, every
    timestamp the workspace writes (``imported_at`` and GeoPackage ``gpkg_contents.last_change``)
    is this value, so building the same content twice gives identical tables (the demo uses it,
    and vacuums the result into a fresh file to get identical bytes).
    """

    def __init__(self, path: Path, *, fixed_time: str | None = None,
                 wait: float | None = None) -> None:
        self.path = Path(path)
        self.fixed_time = fixed_time
        #: seconds a write waits for another writer's lock (None: as long as it takes)
        self.wait = wait
        self._active: Path | None = None  # the copy being written inside a transaction
        self._cache: dict[tuple[str, float], gpd.GeoDataFrame] = {}
        self.moved_rasters: list[str] = []  # rasters moved in from an old side folder

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, path: str | os.PathLike, *, create: bool = False,
             fixed_time: str | None = None, wait: float | None = None) -> Workspace:
        """Open the workspace at ``path``; with ``create=True`` make it when missing.

        A ``postgresql://`` URI (or ``PG:`` conninfo) opens a PostGIS workspace
        (:class:`ecogis.storage.postgis.PostGISWorkspace`, same methods; writers wait on an
        advisory lock). A missing GeoPackage is created by its first write (a refused import
        leaves no empty file). Temp files that killed writers left beside it are removed and
        reported; a truncated or malformed file is refused as corrupt. ``wait``: seconds a
        write waits for another writer (default: as long as it takes).
        """
        if is_postgres_uri(path):
            from ecogis.storage.postgis import PostGISWorkspace

            return PostGISWorkspace.open(path, create=create, fixed_time=fixed_time, wait=wait)
        p = Path(path)
        if p.is_dir():
            raise InputError("is a directory, not a workspace", file=str(p),
                             fix="give the path of a .gpkg workspace file")
        if p.suffix.lower() != ".gpkg":
            raise InputError("a workspace is a GeoPackage file", file=str(p),
                             fix="name the workspace with a .gpkg suffix")
        ws = cls(p, fixed_time=fixed_time, wait=wait)
        if p.exists() and p.stat().st_size == 0:
            raise InputError("is an empty file, not a workspace", file=str(p),
                             fix="delete it, then create the workspace with `ecogis import`")
        if p.exists() and not _is_sqlite(p):
            raise InputError("is not a GeoPackage (not an SQLite database)", file=str(p),
                             fix="give a .gpkg workspace, or a new file name to create one")
        if p.exists():
            clean_stale_temps(p)
            check_not_corrupt(p)
            if not is_workspace(p):
                if not create:
                    raise InputError("is a GeoPackage but not an ecogis workspace", file=str(p),
                                     fix="create one with `ecogis import WS.gpkg KIND FILE`, or "
                                     "read the file directly as a data file")
                with ws.transaction():
                    ws._ensure_tables(ws._target)
        elif create:
            if p.parent.exists():
                check_writable(p)
        else:
            raise InputError("workspace not found", file=str(p),
                             fix="check the path, or create it with `ecogis import`")
        return ws

    # ------------------------------------------------------------- transactions
    @property
    def _target(self) -> Path:
        return self._active if self._active is not None else self.path

    @contextmanager
    def transaction(self) -> Iterator[Workspace]:
        """Group writes: all of them replace the workspace at once, or none does."""
        if self._active is not None:  # nested: the outer transaction commits
            yield self
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with write_lock(self.path, wait=self.wait):
            # the copy is taken under the lock, so a second writer starts from the first's result
            yield from self._transaction()

    def _transaction(self) -> Iterator[Workspace]:
        fd, tmpname = tempfile.mkstemp(prefix=f".{self.path.stem}.", suffix=".tmp.gpkg",
                                       dir=self.path.parent or ".")
        os.close(fd)
        tmp = Path(tmpname)
        try:
            if self.path.exists():
                shutil.copyfile(self.path, tmp)  # content only: a mode is never carried over
            else:
                tmp.unlink()
            self._active = tmp
            if tmp.exists() and gpkg.user_version(tmp) != gpkg.USER_VERSION:
                gpkg.migrate_version(tmp, reason="GDAL < 3.7, e.g. QGIS 3.22 on Debian, warns "
                                     "on 1.4")
            self._ensure_tables(tmp)
            yield self
            side = self._move_side_rasters()
            gpkg.describe(tmp, fixed_time=self.fixed_time, layers_table=LAYERS_TABLE)
            if self.fixed_time:
                with closing(sqlite3.connect(tmp)) as con, con:
                    con.execute("UPDATE gpkg_contents SET last_change=?",
                                (_gpkg_time(self.fixed_time),))
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
            _fsync_dir(self.path.parent.resolve())
            if side is not None:  # every raster of the side folder is inside the file now
                shutil.rmtree(side, ignore_errors=True)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        finally:
            self._active = None
            self._cache.clear()
            for side in ("-journal", "-wal", "-shm"):
                Path(str(tmp) + side).unlink(missing_ok=True)

    def _ensure_tables(self, path: Path) -> None:
        have = set()
        if path.exists():
            with closing(sqlite3.connect(path)) as con:
                have = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
        if LAYERS_TABLE not in have:
            seed = pd.DataFrame({c: [""] for c in _LAYER_COLUMNS})
            new = {} if path.exists() else {"dataset_options": gpkg.CREATION_OPTIONS}
            pyogrio.write_dataframe(seed, path, layer=LAYERS_TABLE, driver="GPKG", **new)
        if META_TABLE not in have:
            pyogrio.write_dataframe(pd.DataFrame({"key": [""], "value": [""]}), path,
                                    layer=META_TABLE, driver="GPKG")
        if LAYERS_TABLE not in have or META_TABLE not in have:
            with closing(sqlite3.connect(path)) as con, con:
                if LAYERS_TABLE not in have:
                    con.execute(f"DELETE FROM {LAYERS_TABLE}")
                if META_TABLE not in have:
                    con.execute(f"DELETE FROM {META_TABLE}")

    # ------------------------------------------------------------------ rasters
    def write_raster(self, name: str, data: np.ndarray, transform, crs, nodata, *,
                     kind: str, title: str | None = None) -> None:
        """Store a raster band in the workspace GeoPackage as table ``name`` (atomic).

        See :func:`ecogis.gpkg.write_raster` (2D gridded coverage: DEM float32, land cover
        UInt16). Replaces a raster of the same name; refuses the name of a vector layer.
        """
        if name in self.names() or name in _RESERVED or name == gpkg.STYLES_TABLE \
                or name.startswith(("gpkg_", "rtree_")):
            raise InputError(f"raster name {name!r} is taken by a layer or table",
                             file=str(self.path), fix="import the raster with another --name")
        with self.transaction():
            gpkg.write_raster(self._target, name, data, transform, crs, nodata, kind=kind,
                              title=title)

    def _move_side_rasters(self) -> Path | None:
        """Move rasters of an older workspace's side folder into the file (inside a
        transaction); return the folder to remove once committed, or None."""
        side = gpkg.side_rasters_dir(self.path)
        if not side.is_dir():
            return None
        from ecogis.raster import move_side_rasters

        moved, left = move_side_rasters(self, side)
        self.moved_rasters = moved
        if moved:
            import warnings
            warnings.warn(f"{self.path.name}: rasters {', '.join(moved)} moved from "
                          f"{side.name}/ into the GeoPackage", stacklevel=3)
        return side if not left else None

    def _sql(self, path: Path | None = None) -> sqlite3.Connection:
        return sqlite3.connect(path or self._target)

    # ----------------------------------------------------------------- metadata
    @property
    def meta(self) -> dict[str, object]:
        """Workspace-level key/values (``region``, ``synthetic`` ...), JSON-decoded."""
        if not self._target.exists():
            return {}
        with closing(self._sql()) as con:
            rows = con.execute(f"SELECT key, value FROM {META_TABLE}").fetchall()
        out = {}
        for k, v in rows:
            try:
                out[k] = json.loads(v)
            except (TypeError, json.JSONDecodeError):
                out[k] = v
        return out

    def set_meta(self, **values: object) -> None:
        """Set workspace key/values (atomic)."""
        with self.transaction(), closing(self._sql()) as con, con:
            for k, v in values.items():
                con.execute(f"DELETE FROM {META_TABLE} WHERE key=?", (k,))
                con.execute(f"INSERT INTO {META_TABLE} (key, value) VALUES (?, ?)",
                            (k, json.dumps(v, ensure_ascii=False)))

    def _meta_rows(self) -> dict[str, dict]:
        if not self._target.exists():
            return {}
        with closing(self._sql()) as con:
            con.row_factory = sqlite3.Row
            rows = con.execute(f"SELECT * FROM {LAYERS_TABLE}").fetchall()
        return {r["name"]: dict(r) for r in rows}

    def names(self) -> list[str]:
        """Return the names of the vector layers (metadata tables excluded)."""
        if not self._target.exists():
            return []
        return [n for n, _ in gpkg.feature_tables(self._target) if n not in _RESERVED]

    def names_of_kind(self, kind: str) -> list[str]:
        """Return the names of the layers of ``kind``."""
        rows = self._meta_rows()
        return [n for n in self.names() if rows.get(n, {}).get("kind") == kind]

    def info(self, name: str) -> LayerInfo:
        """Return the :class:`LayerInfo` of one layer."""
        self._require(name)
        row = self._meta_rows().get(name, {})
        pinfo = gpkg.table_info(self._target, name)
        crs = pinfo.get("crs")
        bbox = pinfo.get("total_bounds")
        if bbox is None:
            bbox = pyogrio.read_bounds(self._target, layer=name)[1]
            bbox = [float(bbox[0].min()), float(bbox[1].min()), float(bbox[2].max()),
                    float(bbox[3].max())] if bbox.size else [float("nan")] * 4

        def js(v, default):
            try:
                return json.loads(v) if v else default
            except json.JSONDecodeError:
                return default

        from pyproj import CRS
        extra = js(row.get("extra"), {})
        fmap = extra.get("field_map")
        if not isinstance(fmap, dict):
            fmap = self._resolve_fields(name, row.get("kind") or None,
                                        self._columns(name))
        return LayerInfo(
            name=name,
            kind=row.get("kind") or None,
            features=int(pinfo.get("features", 0)),
            geometry_type=pinfo.get("geometry_type"),
            crs=crs_label(CRS.from_user_input(crs)) if crs else "none",
            bbox=[float(v) for v in bbox],
            source=row.get("source") or None,
            source_layer=row.get("source_layer") or None,
            sha256=row.get("sha256") or None,
            crs_source=row.get("crs_source") or None,
            encoding=row.get("encoding") or None,
            encoding_source=row.get("encoding_source") or None,
            repairs=js(row.get("repairs"), {}),
            imported_at=row.get("imported_at") or None,
            synthetic=str(row.get("synthetic")).lower() in ("1", "true"),
            extra=extra,
            field_map=dict(fmap),
        )

    def _columns(self, name: str) -> list[str]:
        """Attribute column names of a feature table (SQLite, no GDAL)."""
        quoted = '"' + name.replace('"', '""') + '"'
        with closing(self._sql()) as con:
            cols = [str(r[1]) for r in con.execute(f"PRAGMA table_info({quoted})")]
        with closing(self._sql()) as con:
            geom = {str(r[0]) for r in con.execute(
                "SELECT column_name FROM gpkg_geometry_columns WHERE table_name = ?", (name,))}
        return [c for c in cols if c not in geom and c != "fid"]

    @staticmethod
    def _resolve_fields(name: str, kind: str | None, columns: list[str]) -> dict[str, str]:
        """Field map of a layer written without one (older workspaces): resolved from kinds.toml."""
        from ecogis.fields import resolve_field_map

        reg = load_kinds()
        k = reg[kind] if kind in reg else reg["generic"]
        try:
            return resolve_field_map([str(c) for c in columns], k, layer=name)
        except InputError:  # pragma: no cover - no explicit mapping here, cannot fail
            return {}

    def field_map(self, name: str) -> dict[str, str]:
        """Return ``{role: source field}`` of a layer (recorded on import, else resolved)."""
        return self.info(name).field_map

    def layers(self) -> list[LayerInfo]:
        """Return :class:`LayerInfo` for every layer."""
        return [self.info(n) for n in self.names()]

    def kind_of(self, name: str) -> Kind:
        """Return the :class:`Kind` of a layer (``generic`` when it has no ecogis metadata)."""
        k = self.info(name).kind or "generic"
        return load_kinds()[k]

    # ---------------------------------------------------------------- read/write
    def _require(self, name: str) -> None:
        if name not in self.names():
            raise InputError(f"has no layer {name!r} (layers: {', '.join(self.names()) or 'none'})",
                             file=str(self.path), fix="use `ecogis layers` to list them")

    def read(self, name: str, *, roles: bool = True) -> gpd.GeoDataFrame:
        """Return a layer as a GeoDataFrame in its stored CRS, indexed by feature id ``fid``.

        The stored (source) field names are kept; with ``roles`` (default) each field role of
        the layer's field map (``name``, ``level``, ``land_code`` ...) is added as a column
        beside its source field (:func:`ecogis.fields.apply_roles`).
        """
        self._require(name)
        key = (name, self._target.stat().st_mtime_ns if self._target.exists() else 0)
        if key not in self._cache:
            gdf = pyogrio.read_dataframe(self._target, layer=name, fid_as_index=True)
            gdf.index.name = "fid"
            self._cache[key] = gdf
        gdf = self._cache[key].copy()
        return self.with_roles(name, gdf, copy=False) if roles else gdf  # gdf is a copy

    def with_roles(self, name: str, frame, *, copy: bool = True):
        """Return ``frame`` (layer ``name``'s rows, with or without geometry) with the role
        columns :meth:`read` adds (:func:`ecogis.fields.apply_roles`, value aliases of the
        layer's kind included); ``copy=False`` adds them to ``frame`` itself."""
        from ecogis.fields import apply_roles

        row = self._meta_rows().get(name, {})
        try:
            extra = json.loads(row.get("extra") or "{}")
        except json.JSONDecodeError:
            extra = {}
        fmap = extra.get("field_map") if isinstance(extra, dict) else None
        if not isinstance(fmap, dict):
            geom = getattr(frame, "_geometry_column_name", None)
            fmap = self._resolve_fields(name, row.get("kind") or None,
                                        [c for c in frame.columns if c != geom])
        kind = load_kinds().kinds.get(row.get("kind") or "generic")
        return apply_roles(frame, fmap, kind, copy=copy)

    def read_kind(self, kind: str) -> list[tuple[str, gpd.GeoDataFrame]]:
        """Return ``(name, GeoDataFrame)`` for every layer of ``kind``."""
        return [(n, self.read(n)) for n in self.names_of_kind(kind)]

    def write(
        self,
        name: str,
        gdf: gpd.GeoDataFrame,
        kind: str,
        *,
        source: str | None = None,
        source_layer: str | None = None,
        sha256: str | None = None,
        crs_source: str | None = None,
        encoding: str | None = None,
        encoding_source: str | None = None,
        repairs: dict | None = None,
        synthetic: bool = False,
        extra: dict | None = None,
        field_map: dict[str, str] | None = None,
    ) -> bool:
        """Write ``gdf`` as layer ``name`` of ``kind`` (replacing it); return True if replaced.

        The write is atomic. Polygon kinds are stored as MultiPolygon, line kinds as
        MultiLineString. The source feature ids are kept in column ``src_fid``. Fields keep
        their names; ``field_map`` (``{role: source field}``, default: resolved from
        kinds.toml) is recorded in the layer's metadata (``extra["field_map"]``). Role columns
        that :meth:`read` added are not stored twice.
        """
        k = load_kinds()[kind]
        gdf, extra = with_field_map(name, gdf, k, field_map, extra)
        out, geom_type, parts, split = prepare_layer(name, gdf, k)
        if split:  # one geometry type per layer: collections split, reported in repairs
            repairs = {**(repairs or {}), "geometry_types": {
                **split, "layers": {d: f"{name}_{d}" for d in parts}}}
        with self.transaction():
            for d, part in parts.items():
                self.write(f"{name}_{d}", part, kind, source=source, source_layer=source_layer,
                           sha256=sha256, crs_source=crs_source, encoding=encoding,
                           encoding_source=encoding_source, synthetic=synthetic,
                           extra={**(extra or {}), "split_from": name})
            replaced = name in self.names()
            kw = {"geometry_type": geom_type} if geom_type else {}
            pyogrio.write_dataframe(out, self._target, layer=name, driver="GPKG",
                                    layer_options={"SPATIAL_INDEX": "YES"}, **kw)
            row = layer_row(
                name, k.id, gdf.crs, source=source, source_layer=source_layer, sha256=sha256,
                crs_source=crs_source, encoding=encoding, encoding_source=encoding_source,
                repairs=repairs, imported_at=self.fixed_time or _now(), synthetic=synthetic,
                extra=extra)
            with closing(self._sql()) as con, con:
                con.execute(f"DELETE FROM {LAYERS_TABLE} WHERE name=?", (name,))
                cols = ", ".join(_LAYER_COLUMNS)
                marks = ", ".join("?" for _ in _LAYER_COLUMNS)
                con.execute(f"INSERT INTO {LAYERS_TABLE} ({cols}) VALUES ({marks})",
                            [row[c] for c in _LAYER_COLUMNS])
        return replaced

    def import_file(
        self,
        kind: str,
        path: str | os.PathLike,
        *,
        name: str | None = None,
        crs=None,
        encoding: str | None = None,
        layer: str | None = None,
        fields: dict[str, str] | None = None,
        towgs84: str | None = None,
    ) -> ImportReport:
        """Read a data file with :func:`ecogis.io.read_vector` and store it as a layer.

        ``fields`` is ``{source field: role}`` (``--field SRC=ROLE``). The source field names
        are stored unchanged; the resolved field map is recorded in the layer's metadata.
        """
        from ecogis.io import read_vector

        k = load_kinds()[kind]
        gdf, rep = read_vector(path, layer, crs=crs, encoding=encoding, kind=k, fields=fields,
                               towgs84=towgs84)
        extra = {"provenance": rep.provenance} if rep.provenance else None
        lname = name or k.id
        replaced = self.write(
            lname, gdf, k.id, source=Path(rep.source).name, source_layer=rep.layer,
            sha256=rep.sha256, crs_source=rep.crs_source, encoding=rep.encoding,
            encoding_source=rep.encoding_source, repairs=rep.repairs.as_dict(),
            field_map=rep.field_map, extra=extra,
        )
        return ImportReport(workspace=str(self.path), name=lname, kind=k.id, replaced=replaced,
                            read=rep)


def with_field_map(name: str, gdf: gpd.GeoDataFrame, kind: Kind,
                   field_map: dict[str, str] | None, extra: dict | None,
                   ) -> tuple[gpd.GeoDataFrame, dict]:
    """Return ``gdf`` without the role columns :meth:`Workspace.read` added, and ``extra``
    with the layer's ``field_map`` (``{role: source field}``; default resolved from kinds.toml).
    """
    from ecogis.fields import resolve_field_map, strip_roles

    gdf = strip_roles(gdf)
    if field_map is None:
        field_map = resolve_field_map(
            [c for c in gdf.columns if c != gdf.geometry.name], kind, layer=name)
    else:
        added = [r for r, src in field_map.items() if r != src and r in gdf.columns]
        gdf = gdf.drop(columns=added) if added else gdf
    return gdf, {**(extra or {}), "field_map": dict(field_map)}


def prepare_layer(name: str, gdf: gpd.GeoDataFrame, kind: Kind,
                  ) -> tuple[gpd.GeoDataFrame, str | None, dict, dict]:
    """Return ``gdf`` ready to store as layer ``name``: ``(frame, geometry type or None,
    {dimension: frame of the extra layer}, split report)``.

    Shared by every storage backend: the name is checked, the source feature ids are kept in
    ``src_fid``, each layer holds one geometry type (:func:`ecogis.gpkg.split_geometry_types`;
    the other dimensions are returned to be written as ``NAME_lines`` ...), polygon kinds
    become MultiPolygon and line kinds MultiLineString, and dict/list attributes JSON text.
    """
    if (name in _RESERVED or name == gpkg.STYLES_TABLE or not name or name.startswith("gpkg_")
            or name.startswith("rtree_")):
        raise InputError(f"layer name {name!r} is reserved", fix="choose another --name")
    if gdf.crs is None:
        raise InputError("layer has no CRS", layer=name, fix="set a CRS before writing")
    out = gdf.copy()
    if "src_fid" not in out.columns:
        out["src_fid"] = np.asarray(out.index)
    out = out.reset_index(drop=True)
    out, parts, split = gpkg.split_geometry_types(out, kind)
    geom_type = None
    types = set(shapely.get_type_id(out.geometry.values).tolist())
    if types <= {3, 6}:
        out = out.set_geometry(_promote(out.geometry, shapely.multipolygons))
        geom_type = "MultiPolygon"
    elif types <= {1, 5}:
        out = out.set_geometry(_promote(out.geometry, shapely.multilinestrings))
        geom_type = "MultiLineString"
    elif types <= {0, 4}:
        geom_type = "Point" if types == {0} else "MultiPoint"
        if types == {0, 4}:
            out = out.set_geometry(_promote(out.geometry, shapely.multipoints))
            geom_type = "MultiPoint"
    for col in out.columns:
        if col != out.geometry.name and out[col].dtype == object:
            out[col] = out[col].map(lambda v: v if v is None or isinstance(v, (str, int, float, bool))
                                    else json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list))
                                    else str(v))
    return out, geom_type, parts, split


def layer_row(name: str, kind: str, crs, *, source: str | None = None,
              source_layer: str | None = None, sha256: str | None = None,
              crs_source: str | None = None, encoding: str | None = None,
              encoding_source: str | None = None, repairs: dict | None = None,
              imported_at: str, synthetic: bool = False, extra: dict | None = None) -> dict:
    """Return the ``ecogis_layers`` row (text values) of a layer being written."""
    return {
        "name": name, "kind": kind, "source": source or "", "source_layer": source_layer or "",
        "sha256": sha256 or "", "crs": crs_label(crs), "crs_source": crs_source or "",
        "encoding": encoding or "", "encoding_source": encoding_source or "",
        "repairs": json.dumps(repairs or {}, ensure_ascii=False, default=str),
        "imported_at": imported_at, "synthetic": "1" if synthetic else "0",
        "extra": json.dumps(extra or {}, ensure_ascii=False, default=str),
    }


def _promote(geoms: gpd.GeoSeries, multi) -> gpd.GeoSeries:
    arr = np.asarray(geoms.values, dtype=object)
    single = np.isin(shapely.get_type_id(arr), (0, 1, 3))
    if single.any():
        arr = arr.copy()
        arr[single] = [multi([g]) for g in arr[single]]
    return gpd.GeoSeries(arr, index=geoms.index, crs=geoms.crs)


def open_workspace(uri: str | os.PathLike, *, create: bool = False,
                   wait: float | None = None) -> Workspace:
    """Open a workspace by URI: a ``.gpkg`` path, or a ``postgresql://`` URI (PostGIS)."""
    return Workspace.open(os.fspath(uri), create=create, wait=wait)


@dataclass
class LoadedLayer:
    """A layer ready for analysis: its name, kind, data and where it came from."""

    name: str
    kind: Kind
    gdf: gpd.GeoDataFrame
    source: str
    synthetic: bool = False


def load_target(
    target: str | os.PathLike,
    *,
    names: list[str] | None = None,
    kind: str | None = None,
    crs=None,
    encoding: str | None = None,
    fields: dict[str, str] | None = None,
) -> tuple[Workspace | None, list[LoadedLayer]]:
    """Load layers from a workspace, ``ws.gpkg:layer``, or a plain data file.

    A data file is read with the import rules (CRS and encoding detection, repairs reported)
    as ``kind`` (default ``generic``), without being stored. Returns the workspace (or None)
    and the layers.
    """
    from ecogis.io import parse_source, read_vector

    if is_postgres_uri(target):  # URI#layer picks one layer
        path, layer = split_layer(target)
    else:
        path, layer = parse_source(target)
    if is_postgres_uri(path) or is_workspace(path):
        ws = Workspace.open(path)
        wanted = list(names or ([layer] if layer else ws.names()))
        out = []
        for n in wanted:
            info = ws.info(n)
            out.append(LoadedLayer(n, load_kinds()[info.kind or "generic"], ws.read(n),
                                   f"{path}:{n}", info.synthetic))
        return ws, out
    k = load_kinds()[kind or "generic"]
    gdf, rep = read_vector(path, layer, crs=crs, encoding=encoding, kind=k, fields=fields)
    name = layer or rep.layer or Path(path).stem
    if names and name not in names:
        raise InputError(f"has no layer {names[0]!r}", file=str(path), fix=f"the layer is {name!r}")
    return None, [LoadedLayer(name, k, gdf, str(path))]
