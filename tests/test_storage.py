"""The workspace suite on both backends (GeoPackage, PostGIS) and the PostGIS guarantees.

Every test of the ``backend`` fixture runs on a GeoPackage and on a fresh PostGIS database
(skipped without a server, see tests/_pg.py). Expected values come from the input frames
and from the GeoPackage answer, never from the backend under test.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from _pg import create_db, drop_db, pg_uri  # noqa: F401
from conftest import ref_area_m2
from pyproj import CRS

from ecogis.errors import InputError, WorkspaceError
from ecogis.workspace import Workspace, is_workspace, load_target, open_workspace


@pytest.fixture(params=["gpkg", "postgis"])
def backend(request, tmp_path):
    """A factory of empty workspaces (``open(create=True)``) of one backend."""
    if request.param == "gpkg":
        yield lambda: str(tmp_path / "ws.gpkg")
        return
    url, name = create_db()
    yield lambda: url
    drop_db(name)


@pytest.fixture()
def towns(anju) -> gpd.GeoDataFrame:
    """6 'towns' cut from the real 安居区 (Voronoi cells, EPSG:4544), Chinese names."""
    geom = anju.to_crs(4544).geometry.iloc[0]
    rng = np.random.default_rng(7)
    pts = shapely.points(rng.uniform(geom.bounds[:2], geom.bounds[2:], size=(6, 2)))
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=geom))
    cells = shapely.intersection(cells, geom)
    return gpd.GeoDataFrame({"name": [f"镇{i}" for i in range(len(cells))],
                             "pop": rng.integers(1000, 90000, len(cells)),
                             "share": rng.uniform(0, 1, len(cells)),
                             "note": [None, "有备注", None, "", "b", "c"][:len(cells)]},
                            geometry=cells, crs=4544)


def test_roundtrip_keeps_geometry_attributes_crs_and_ids(backend, towns):
    ws = Workspace.open(backend(), create=True)
    assert ws.write("towns", towns, "admin") is False
    got = ws.read("towns")
    assert list(got.index) == list(range(1, len(towns) + 1)) and got.index.name == "fid"
    assert got.crs == CRS.from_epsg(4544)
    assert list(got.columns) == ["name", "pop", "share", "note", "src_fid", "geometry"]
    assert got["name"].tolist() == towns["name"].tolist()
    assert got["pop"].tolist() == towns["pop"].tolist()
    np.testing.assert_array_equal(got["share"].to_numpy(), towns["share"].to_numpy())
    assert got["src_fid"].tolist() == list(range(len(towns)))
    # polygons are stored as MultiPolygon, coordinates bit for bit
    assert set(got.geom_type) == {"MultiPolygon"}
    assert shapely.equals_exact(got.geometry.values,
                                [shapely.multipolygons([g]) if g.geom_type == "Polygon" else g
                                 for g in towns.geometry], tolerance=0).all()
    info = ws.info("towns")
    assert info.features == len(towns) and info.geometry_type == "MultiPolygon"
    assert info.crs == "EPSG:4544" and info.kind == "admin"
    np.testing.assert_allclose(info.bbox, towns.total_bounds, rtol=0, atol=1e-9)


def test_both_backends_give_the_same_layer(backend, towns, tmp_path):
    ref = Workspace.open(tmp_path / "ref.gpkg", create=True)
    ref.write("towns", towns, "admin", source="towns.gpkg", sha256="ab" * 32,
              repairs={"summary": "no repairs"}, extra={"renamed_fields": {"MC": "name"}})
    ws = Workspace.open(backend(), create=True)
    ws.write("towns", towns, "admin", source="towns.gpkg", sha256="ab" * 32,
             repairs={"summary": "no repairs"}, extra={"renamed_fields": {"MC": "name"}})
    pd.testing.assert_frame_equal(pd.DataFrame(ws.read("towns").drop(columns="geometry")),
                                  pd.DataFrame(ref.read("towns").drop(columns="geometry")),
                                  check_dtype=False, check_index_type=False)
    a, b = ws.info("towns").as_dict(), ref.info("towns").as_dict()
    for d in (a, b):
        d.pop("imported_at")
    np.testing.assert_allclose(a.pop("bbox"), b.pop("bbox"), rtol=0, atol=1e-9)
    assert a == b


def test_metadata_names_order_and_kinds(backend, towns, anju):
    ws = Workspace.open(backend(), create=True)
    ws.write("towns", towns, "admin")
    ws.write("红线", anju, "redline")
    ws.write("d2", anju, "admin")
    assert ws.names() == ["towns", "红线", "d2"]
    assert ws.write("towns", towns.iloc[:2], "admin") is True  # a replaced layer goes last
    assert ws.names() == ["红线", "d2", "towns"]
    assert ws.read("towns").shape[0] == 2
    assert ws.names_of_kind("admin") == ["d2", "towns"]
    assert [n for n, _ in ws.read_kind("redline")] == ["红线"]
    assert ws.kind_of("红线").id == "redline"
    ws.set_meta(region="anju", synthetic=False, targets={"a": 1.5})
    ws.set_meta(region="tongnan")
    assert ws.meta == {"region": "tongnan", "synthetic": False, "targets": {"a": 1.5}}
    assert is_workspace(backend())
    with pytest.raises(InputError, match="has no layer 'nope'"):
        ws.read("nope")


def test_transaction_groups_writes_and_a_failure_changes_nothing(backend, towns, anju):
    ws = Workspace.open(backend(), create=True)
    ws.write("towns", towns, "admin")
    before = ws.read("towns")
    with pytest.raises(RuntimeError), ws.transaction():
        ws.write("towns", towns.iloc[:1], "admin")
        ws.write("district", anju, "admin")
        ws.set_meta(region="x")
        raise RuntimeError("killed half way")
    again = Workspace.open(backend())
    assert again.names() == ["towns"] and again.meta == {}
    pd.testing.assert_frame_equal(again.read("towns"), before)
    with ws.transaction():
        ws.write("district", anju, "admin")
        ws.set_meta(region="anju")
    assert Workspace.open(backend()).names() == ["towns", "district"]


def test_import_file_and_areas_match_an_independent_reference(backend, anju, tmp_path,
                                                              run_cli):
    anju[["name", "geometry"]].to_file(tmp_path / "district.gpkg")
    uri = backend()
    code, out, err = run_cli("import", uri, "admin", tmp_path / "district.gpkg", "--name",
                             "district", "--format", "json")
    assert code == 0, err
    rep = json.loads(out)
    assert rep["name"] == "district" and rep["features"] == 1
    code, out, err = run_cli("areas", uri, "--format", "json")
    assert code == 0, err
    row = next(r for r in json.loads(out)["layers"] if r["layer"] == "district")
    assert row["area_m2"] == pytest.approx(ref_area_m2(anju.geometry.iloc[0]), rel=1e-9)
    assert row["method"] == "ellipsoidal" and row["crs"] == "EPSG:4490"


def test_reserved_and_crs_without_epsg(backend, towns):
    ws = Workspace.open(backend(), create=True)
    with pytest.raises(InputError, match="reserved"):
        ws.write("ecogis_layers", towns, "admin")
    # a CRS with no EPSG code (a local transverse Mercator on CGCS2000) comes back as it went in
    local = CRS.from_proj4("+proj=tmerc +lat_0=0 +lon_0=105.5 +k=1 +x_0=500000 +y_0=0 "
                           "+ellps=GRS80 +units=m +no_defs")
    g = towns.to_crs(local)
    ws.write("local", g, "admin")
    got = ws.read("local")
    assert got.crs.equals(local)
    assert shapely.equals_exact(got.geometry.values,
                                [shapely.multipolygons([p]) if p.geom_type == "Polygon" else p
                                 for p in g.geometry], tolerance=0).all()


# ------------------------------------------------------------------------- PostGIS only
def test_postgis_layout_gist_index_and_source_crs(pg_uri, towns, anju):  # noqa: F811
    import psycopg

    ws = Workspace.open(pg_uri, create=True)
    ws.write("towns", towns, "admin")
    ws.write("towns", towns, "admin")  # replaced: still one GiST index, no leftovers
    ws.write("district", anju, "admin")
    with psycopg.connect(pg_uri) as con:
        srids = dict(con.execute("SELECT f_table_name, srid FROM geometry_columns").fetchall())
        assert srids == {"towns": 4544, "district": 4490}
        idx = con.execute("SELECT tablename, indexdef FROM pg_indexes WHERE "
                          "indexdef ILIKE '%gist%'").fetchall()
        assert sorted(t for t, _ in idx) == ["district", "towns"]
        tables = {r[0] for r in con.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname='public'")}
        assert tables == {"towns", "district", "ecogis_layers", "ecogis_meta", "spatial_ref_sys"}
        # the layer is a normal PostGIS table: ST_Area on the geography agrees with pyproj
        a = con.execute("SELECT sum(ST_Area(ST_Transform(geom, 4490)::geography, true)) "
                        "FROM district").fetchone()[0]
    assert a == pytest.approx(ref_area_m2(anju.geometry.iloc[0]), rel=1e-6)


def test_postgis_connection_and_extension_errors(towns):
    with pytest.raises(WorkspaceError, match=r"cannot connect to PostgreSQL.*\(fix: "):
        open_workspace("postgresql://nobody@127.0.0.1:1/none")
    url, name = create_db(extension=False)
    try:
        import psycopg
        from _pg import server_uri, with_db

        role = f"r_{name[-8:]}"
        with psycopg.connect(server_uri(), autocommit=True) as con:
            con.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'pw'")
            con.execute(f'GRANT ALL ON DATABASE "{name}" TO {role}')
        with psycopg.connect(with_db(server_uri(), name), autocommit=True) as con:
            con.execute(f"GRANT ALL ON SCHEMA public TO {role}")
        from _pg import as_url
        from psycopg.conninfo import conninfo_to_dict, make_conninfo

        d = conninfo_to_dict(with_db(server_uri(), name))
        d.update(user=role, password="pw")
        user_url = as_url(make_conninfo(**d))
        with pytest.raises(WorkspaceError, match=r"PostGIS extension is not installed.*"
                           r"CREATE EXTENSION postgis"):
            Workspace.open(user_url, create=True)
        with pytest.raises(InputError, match="holds no ecogis workspace"):
            Workspace.open(url)
        ws = Workspace.open(url, create=True)  # the superuser may create the extension
        ws.write("towns", towns, "admin")
        assert ws.names() == ["towns"]
    finally:
        drop_db(name)
        with psycopg.connect(server_uri(), autocommit=True) as con:
            con.execute(f"DROP ROLE IF EXISTS {role}")


def test_postgis_uri_forms_and_environment(pg_uri, towns, monkeypatch):  # noqa: F811
    from psycopg.conninfo import conninfo_to_dict

    ws = Workspace.open(pg_uri, create=True)
    ws.write("towns", towns, "admin")
    d = conninfo_to_dict(pg_uri)
    for var, key in (("PGHOST", "host"), ("PGPORT", "port"), ("PGUSER", "user"),
                     ("PGPASSWORD", "password"), ("PGDATABASE", "dbname")):
        if d.get(key):
            monkeypatch.setenv(var, d[key])
        else:
            monkeypatch.delenv(var, raising=False)
    for uri in ("postgresql://", f"postgresql:///{d['dbname']}", f"PG:dbname={d['dbname']}"):
        w = Workspace.open(uri)
        assert w.names() == ["towns"] and w.path.name == d["dbname"]
    # URI#layer picks a layer as WS.gpkg:layer does
    ws2, layers = load_target(pg_uri + "#towns")
    assert [x.name for x in layers] == ["towns"] and len(layers[0].gdf) == len(towns)
    if d.get("password"):
        assert d["password"] not in str(ws.path)


_WRITER = textwrap.dedent("""
    import sys, geopandas as gpd, shapely
    from ecogis.workspace import Workspace
    uri, name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    g = gpd.GeoDataFrame({"i": range(n)}, geometry=[shapely.box(105 + i * 1e-3, 30, 105.0005 + i * 1e-3,
                         30.0005) for i in range(n)], crs=4490)
    ws = Workspace.open(uri, create=True)
    with ws.transaction():
        ws.write(name, g, "redline")
        print("locked", flush=True)
        import time; time.sleep(float(sys.argv[4]))
    print("done", name)
""")


def test_postgis_concurrent_writers_both_land_and_readers_see_whole_layers(pg_uri, tmp_path):  # noqa: F811
    Workspace.open(pg_uri, create=True)
    script = tmp_path / "writer.py"
    script.write_text(_WRITER)
    t0 = time.monotonic()
    procs = [subprocess.Popen([sys.executable, str(script), pg_uri, f"l{i}", "400", "1.0"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    seen: list[int] = []
    stop = threading.Event()

    def reader():
        ws = Workspace.open(pg_uri)
        while not stop.is_set():
            for n in ws.names():
                seen.append(len(ws.read(n)))
            time.sleep(0.02)

    th = threading.Thread(target=reader)
    th.start()
    outs = [p.communicate(timeout=120) for p in procs]
    stop.set()
    th.join(30)
    assert all(p.returncode == 0 for p in procs), outs
    assert time.monotonic() - t0 >= 2.0  # serialised: each held the lock for 1 s
    assert any("waiting for another writer" in err for _, err in outs)
    ws = Workspace.open(pg_uri)
    assert sorted(ws.names()) == ["l0", "l1"]  # no lost layer (the GeoPackage bug of issue 13)
    assert set(seen) <= {400}  # a reader never saw half a layer


def test_postgis_lock_wait_gives_up_clearly(pg_uri, tmp_path, towns, monkeypatch):  # noqa: F811
    script = tmp_path / "writer.py"
    script.write_text(_WRITER)
    Workspace.open(pg_uri, create=True)
    p = subprocess.Popen([sys.executable, str(script), pg_uri, "slow", "10", "4"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "locked"
        monkeypatch.setenv("ECOGIS_LOCK_WAIT", "0.5")
        ws = Workspace.open(pg_uri)
        with pytest.raises(WorkspaceError, match=r"another writer held the workspace.*fix: "):
            ws.write("towns", towns, "admin")
    finally:
        p.communicate(timeout=60)
    assert "towns" not in Workspace.open(pg_uri).names()
