"""A throwaway PostGIS database per test: the ``pg_uri`` fixture.

``ECOGIS_TEST_POSTGIS`` names a PostgreSQL server the tests may create databases on (a libpq
URI, e.g. ``postgresql://postgres@127.0.0.1:5433/postgres``; scripts/test.sh starts a
throwaway cluster and sets it). Without it the PostGIS tests skip, unless
``ECOGIS_REQUIRE_POSTGIS=1`` says CI must have it (then they fail).
"""

from __future__ import annotations

import os
import uuid

import pytest


def server_uri() -> str | None:
    uri = os.environ.get("ECOGIS_TEST_POSTGIS")
    if not uri:
        if os.environ.get("ECOGIS_REQUIRE_POSTGIS") == "1":
            pytest.fail("ECOGIS_REQUIRE_POSTGIS=1 but ECOGIS_TEST_POSTGIS is not set "
                        "(run the tests through scripts/test.sh, which starts PostgreSQL)")
        pytest.skip("no PostgreSQL server (set ECOGIS_TEST_POSTGIS)")
    try:
        import psycopg

        with psycopg.connect(uri, connect_timeout=5):
            pass
    except Exception as exc:
        if os.environ.get("ECOGIS_REQUIRE_POSTGIS") == "1":
            pytest.fail(f"ECOGIS_TEST_POSTGIS unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    return uri


def with_db(uri: str, dbname: str) -> str:
    """Return ``uri`` pointing at database ``dbname``."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    d = conninfo_to_dict(uri)
    d["dbname"] = dbname
    return make_conninfo(**d)


def as_url(conninfo: str) -> str:
    """Return a ``postgresql://`` URL for a conninfo (what users pass to ecogis)."""
    from urllib.parse import quote

    from psycopg.conninfo import conninfo_to_dict

    d = conninfo_to_dict(conninfo)
    user = quote(d.get("user", "")) + (":" + quote(d["password"]) if d.get("password") else "")
    host = d.get("host", "")
    if host.startswith("/"):
        return (f"postgresql://{user}@/{d['dbname']}?host={quote(host)}"
                + (f"&port={d['port']}" if d.get("port") else ""))
    port = f":{d['port']}" if d.get("port") else ""
    return f"postgresql://{user}{'@' if user else ''}{host}{port}/{d['dbname']}"


def create_db(extension: bool = True) -> tuple[str, str]:
    """Create an empty database; return (its postgresql:// URL, its name)."""
    import psycopg

    uri = server_uri()
    name = f"ecogis_t_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(uri, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    if extension:
        with psycopg.connect(with_db(uri, name), autocommit=True) as con:
            con.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    return as_url(with_db(uri, name)), name


def drop_db(name: str) -> None:
    import psycopg

    from ecogis.storage import postgis

    for key in [k for k in postgis._ENGINES if name in k]:
        postgis._ENGINES.pop(key).dispose()
    with psycopg.connect(server_uri(), autocommit=True) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture()
def pg_uri():
    """A fresh database with PostGIS, dropped after the test."""
    url, name = create_db()
    yield url
    drop_db(name)
