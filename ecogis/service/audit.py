"""The audit log: one row per request in the workspace's ``ecogis_audit`` table.

Columns: ``at`` (UTC ISO 8601), ``key_id`` and ``role`` (never the key), ``method``,
``path``, ``query``, ``status``, ``ms``, ``verdicts`` (JSON counts of a check, e.g.
``{"forbidden": 1}``), ``sites``, ``client``.

Rows are queued and written every ``interval_s`` by a background thread. GeoPackage: an
attribute table registered in ``gpkg_contents`` (created once by a normal workspace
transaction), rows appended in place by SQLite under the workspace's write lock
(:func:`ecogis.workspace.write_lock`'s lock file, taken without waiting: while another
writer holds it the rows stay queued) and while no computation of the server reads the file
(GDAL would find it locked). PostGIS: a table, rows inserted in their own transaction.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from contextlib import closing, contextmanager
from datetime import datetime, timezone

AUDIT_TABLE = "ecogis_audit"
COLUMNS = ("at", "key_id", "role", "method", "path", "query", "status", "ms", "verdicts",
           "sites", "client")


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class AuditLog:
    """Append request rows to the workspace's audit table (thread-safe, batched)."""

    def __init__(self, ws, *, readers: threading.Lock | None = None,
                 interval_s: float | None = None) -> None:
        from ecogis.storage.postgis import PostGISWorkspace

        self.ws = ws
        self.postgis = isinstance(ws, PostGISWorkspace)
        self.readers = readers or threading.Lock()
        self.interval_s = interval_s or float(os.environ.get("ECOGIS_AUDIT_INTERVAL", "0.25"))
        self._rows: list[tuple] = []
        self._lock = threading.Lock()
        self._file_lock = threading.Lock()
        self._stop = threading.Event()
        self._ensure()
        self._thread = threading.Thread(target=self._loop, name="ecogis-audit", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.flush()
            except Exception:  # keep the rows for the next round; the server log says why
                import logging

                logging.getLogger("ecogis.serve").exception("could not write the audit rows")

    def close(self) -> None:
        """Stop the background writer and write what is queued."""
        self._stop.set()
        self._thread.join(10)
        self.flush()

    def _ensure(self) -> None:
        if self.postgis:
            import sqlalchemy as sa

            from ecogis.storage.postgis import _engine

            cols = ", ".join(f"{c} {'integer' if c in ('status', 'sites') else 'double precision' if c == 'ms' else 'text'}"
                             for c in COLUMNS)
            with _engine(self.ws.uri).begin() as con:
                con.execute(sa.text(f"CREATE TABLE IF NOT EXISTS {AUDIT_TABLE} "
                                    f"(id bigserial PRIMARY KEY, {cols})"))
            return
        with closing(sqlite3.connect(self.ws.path)) as con:
            have = con.execute("SELECT 1 FROM sqlite_master WHERE name=?",
                               (AUDIT_TABLE,)).fetchone()
        if have:
            return
        import pandas as pd
        import pyogrio

        seed = pd.DataFrame({c: pd.Series([0 if c in ("status", "sites") else 0.0 if c == "ms"
                                           else ""]) for c in COLUMNS})
        with self.ws.transaction():
            pyogrio.write_dataframe(seed, self.ws._target, layer=AUDIT_TABLE, driver="GPKG")
            with closing(sqlite3.connect(self.ws._target)) as con, con:
                con.execute(f"DELETE FROM {AUDIT_TABLE}")

    def log(self, **row) -> None:
        """Queue one request row (``at`` defaults to now); written within ``interval_s``."""
        row.setdefault("at", now())
        if isinstance(row.get("verdicts"), dict):
            row["verdicts"] = json.dumps(row["verdicts"], ensure_ascii=False)
        with self._lock:
            self._rows.append(tuple(row.get(c) for c in COLUMNS))

    def flush(self) -> None:
        """Write the queued rows (GeoPackage: while no computation reads the file)."""
        with self._lock:
            rows, self._rows = self._rows, []
        if not rows:
            return
        try:
            if self.postgis:
                self._write(rows)
            else:
                with self.readers:
                    self._write(rows)
        except BlockingIOError:  # another writer holds the workspace: next round
            with self._lock:
                self._rows[:0] = rows
        except BaseException:
            with self._lock:
                self._rows[:0] = rows
            raise

    def _write(self, rows: list[tuple]) -> None:
        marks = ", ".join(f":{c}" for c in COLUMNS)
        if self.postgis:
            import sqlalchemy as sa

            from ecogis.storage.postgis import _engine

            with _engine(self.ws.uri).begin() as con:
                con.execute(sa.text(f"INSERT INTO {AUDIT_TABLE} ({', '.join(COLUMNS)}) "
                                    f"VALUES ({marks})"), [dict(zip(COLUMNS, r, strict=True))
                                                           for r in rows])
            return
        with self.writer_lock(), closing(sqlite3.connect(self.ws.path, timeout=30)) as con, con:
            con.executemany(f"INSERT INTO {AUDIT_TABLE} ({', '.join(COLUMNS)}) "
                            f"VALUES ({', '.join('?' for _ in COLUMNS)})", rows)

    @contextmanager
    def writer_lock(self):
        """Hold the GeoPackage's write lock (:func:`ecogis.workspace.write_lock`'s file).

        Non-blocking: while another writer (an ``ecogis import`` elsewhere) holds it, raise
        :class:`BlockingIOError` and the rows stay queued for the next round. PostGIS: no-op.
        """
        if self.postgis:
            yield
            return
        import fcntl

        from ecogis.workspace import lock_path

        with self._file_lock:
            fd = os.open(lock_path(self.ws.path), os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                yield
            finally:
                os.close(fd)

    def rows(self) -> list[dict]:
        """Return every logged row (oldest first), after flushing the queue."""
        self.flush()
        if self.postgis:
            import sqlalchemy as sa

            from ecogis.storage.postgis import _engine

            with _engine(self.ws.uri).connect() as con:
                res = con.execute(sa.text(f"SELECT {', '.join(COLUMNS)} FROM {AUDIT_TABLE} "
                                          "ORDER BY id")).all()
        else:
            with closing(sqlite3.connect(self.ws.path)) as con:
                res = con.execute(f"SELECT {', '.join(COLUMNS)} FROM {AUDIT_TABLE} "
                                  "ORDER BY fid").fetchall()
        return [dict(zip(COLUMNS, r, strict=True)) for r in res]
