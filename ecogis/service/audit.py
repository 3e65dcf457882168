"""The audit log: one row per request in the workspace's ``ecogis_audit`` table.

Columns: ``at`` (UTC ISO 8601), ``key_id`` and ``role`` (never the key), ``method``,
``path``, ``query``, ``status``, ``ms``, ``verdicts`` (JSON counts of a check, e.g.
``{"forbidden": 1}``), ``sites``, ``client``.

GeoPackage: an attribute table registered in ``gpkg_contents`` (created once by a normal
workspace transaction), rows appended in place by SQLite under the workspace's advisory
lock file ``<workspace>.lock`` (``flock``) in small batches. PostGIS: a table, rows
inserted in their own transaction.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import closing, contextmanager
from datetime import datetime, timezone
from pathlib import Path

AUDIT_TABLE = "ecogis_audit"
COLUMNS = ("at", "key_id", "role", "method", "path", "query", "status", "ms", "verdicts",
           "sites", "client")


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class AuditLog:
    """Append request rows to the workspace's audit table (thread-safe, batched)."""

    def __init__(self, ws, *, flush_every: int = 1) -> None:
        from ecogis.storage.postgis import PostGISWorkspace

        self.ws = ws
        self.postgis = isinstance(ws, PostGISWorkspace)
        self.flush_every = flush_every
        self._rows: list[tuple] = []
        self._lock = threading.Lock()
        self._file_lock = threading.Lock()
        self._ensure()

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
        """Queue one request row (``at`` defaults to now); flush when the batch is full."""
        row.setdefault("at", now())
        if isinstance(row.get("verdicts"), dict):
            row["verdicts"] = json.dumps(row["verdicts"], ensure_ascii=False)
        with self._lock:
            self._rows.append(tuple(row.get(c) for c in COLUMNS))
            if len(self._rows) >= self.flush_every:
                self._flush()

    def flush(self) -> None:
        with self._lock:
            self._flush()

    def _flush(self) -> None:
        rows, self._rows = self._rows, []
        if not rows:
            return
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
        """Hold the GeoPackage's writer lock (``<workspace>.lock``, flock); PostGIS: no-op.

        The server's own imports hold it too, so an audit row is never written while a
        workspace transaction copies the file.
        """
        if self.postgis:
            yield
            return
        import fcntl

        with self._file_lock, open(Path(str(self.ws.path) + ".lock"), "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

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
