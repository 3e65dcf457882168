"""Storage backends of the workspace beside the GeoPackage (:mod:`ecogis.workspace`).

:mod:`ecogis.storage.postgis` holds the PostGIS workspace (extra ``ecogis[server]``). This
module stays light — it imports neither SQLAlchemy nor psycopg — so the core may ask
:func:`is_postgres_uri` without paying for the server stack.
"""

from __future__ import annotations

import os
import re

PG_PREFIXES = ("postgresql://", "postgres://", "PG:")


def is_postgres_uri(target: str | os.PathLike | object) -> bool:
    """Return True when ``target`` names a PostgreSQL database (libpq URI or ``PG:`` conninfo)."""
    return isinstance(target, str) and target.startswith(PG_PREFIXES)


def split_layer(target: str) -> tuple[str, str | None]:
    """Split ``"postgresql:///db#layer"`` into ``("postgresql:///db", "layer")``."""
    uri, sep, layer = target.partition("#")
    return uri, (layer or None) if sep else None


def redact(uri: str) -> str:
    """Return ``uri`` without its password (for messages, logs and JSON output)."""
    s = re.sub(r"(://[^:/@?#]*):[^@/?#]*@", r"\1@", uri)
    return re.sub(r"(password\s*=\s*)('[^']*'|[^&\s]+)", r"\1***", s, flags=re.I)
