"""``ecogis serve`` driven over HTTP: a real uvicorn process on a loopback port.

The workspace holds a real district boundary (安居区) and control lines cut from it; the
expected answers are the CLI's own output for the same input (``ecogis check --format json``
etc. run in-process), so the server must return exactly what the CLI prints.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import httpx
import pytest
import shapely
from _pg import create_db, drop_db

from ecogis.workspace import Workspace

STAFF = "staff-key-for-tests-0123456789"
ADMIN = "admin-key-for-tests-0123456789"
ENV_STAFF = "env-staff-key-0123456789abcdef"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_workspace(target: str, anju: gpd.GeoDataFrame) -> str:
    """安居区 with a 生态保护红线 disc, 永久基本农田 squares and a 城镇开发边界 (EPSG:4544)."""
    d = anju.to_crs(4544)
    geom = d.geometry.iloc[0]
    c = shapely.get_point(shapely.maximum_inscribed_circle(geom, 10.0), 0)
    red = gpd.GeoDataFrame({"name": ["红线一号"]}, geometry=[c.buffer(1500)], crs=4544)
    farm = gpd.GeoDataFrame({"dlmc": ["水田", "旱地"]}, geometry=[
        shapely.box(c.x + 2000, c.y, c.x + 2600, c.y + 600),
        shapely.box(c.x + 2700, c.y, c.x + 3100, c.y + 500)], crs=4544)
    ugb = gpd.GeoDataFrame({"name": ["中心城区"]}, geometry=[
        shapely.box(c.x - 6000, c.y - 6000, c.x - 2000, c.y - 2000)], crs=4544)
    ws = Workspace.open(target, create=True)
    with ws.transaction():
        ws.write("district", anju, "admin")
        ws.write("redline", red, "redline")
        ws.write("farmland", farm, "farmland")
        ws.write("ugb", ugb, "ugb")
        ws.set_meta(region="anju")
    return target


def sites(anju) -> dict:
    """Three sites in lon/lat: inside the red line, on farmland, inside the UGB."""
    c = shapely.get_point(shapely.maximum_inscribed_circle(anju.to_crs(4544).geometry.iloc[0],
                                                           10.0), 0)
    pts = gpd.GeoSeries([c, shapely.Point(c.x + 2300, c.y + 300),
                         shapely.Point(c.x - 4000, c.y - 4000)], crs=4544).to_crs(4490)
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"id": f"S{i}"},
         "geometry": json.loads(shapely.to_geojson(p))} for i, p in enumerate(pts, 1)]}


class Server:
    def __init__(self, workspace: str, tmp: Path, *extra: str, env: dict | None = None) -> None:
        keys = tmp / "keys.toml"
        keys.write_text(f'[keys]\n"{STAFF}" = "staff"\n"{ADMIN}" = "admin"\n', encoding="utf-8")
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        e = dict(os.environ)
        e["ECOGIS_API_KEYS"] = ENV_STAFF
        e.update(env or {})
        e["PYTHONPATH"] = str(Path(__file__).resolve().parents[1]) + os.pathsep + \
            e.get("PYTHONPATH", "")
        self.log = open(tmp / f"serve-{self.port}.log", "w+")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ecogis.cli", "serve", workspace, "--port", str(self.port),
             "--keys", str(keys), *extra], stdout=self.log, stderr=subprocess.STDOUT, env=e,
            start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(self.output())
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("server did not start: " + self.output())

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.log.close()


def auth(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module", params=["gpkg", "postgis"])
def served(request, anju, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(f"serve-{request.param}")
    name = None
    if request.param == "gpkg":
        target = build_workspace(str(tmp / "ws.gpkg"), anju)
    else:
        url, name = create_db()
        target = build_workspace(url, anju)
    srv = Server(target, tmp, "--max-body", "200000", "--timeout", "60")
    srv.workspace, srv.tmp, srv.backend = target, tmp, request.param
    yield srv
    srv.stop()
    if name:
        drop_db(name)


def _cli_check(run_cli, workspace, path, *args):
    code, out, err = run_cli("check", workspace, path, *args, "--format", "json")
    return code, out, err


def test_check_returns_exactly_the_cli_json(served, anju, run_cli, tmp_path):
    fc = sites(anju)
    for ctype in ("application/geo+json", "application/json"):
        r = httpx.post(served.url + "/check", params={"category": "urban", "radius_m": "30"},
                       content=json.dumps(fc), headers={**auth(STAFF), "Content-Type": ctype},
                       timeout=120)
        assert r.status_code == 200, r.text
        (tmp_path / "request.geojson").write_text(json.dumps(fc), encoding="utf-8")
        code, out, err = _cli_check(run_cli, served.workspace, "request.geojson",
                                    "--category", "urban", "--radius", "30")
        assert code == 0, err
        got = r.text.replace(json.dumps(served.workspace)[1:-1], "WS")
        want = out.replace(json.dumps(served.workspace)[1:-1], "WS")
        if served.backend == "postgis":  # the server names the database without a password
            from ecogis.storage import redact

            got = got.replace(redact(served.workspace), "WS")
        assert got == want
        verdicts = [s["verdict"] for s in json.loads(r.text)["sites"]]
        assert verdicts[0] == "forbidden"  # inside the red line


def test_check_a_jzd_txt_upload_matches_the_cli(served, anju, run_cli, tmp_path):
    from ecogis.jzd import write_jzd

    c = shapely.get_point(shapely.maximum_inscribed_circle(anju.to_crs(4544).geometry.iloc[0],
                                                           10.0), 0)
    parcel = gpd.GeoDataFrame({"name": ["项目地块"]}, geometry=[
        shapely.box(c.x + 1900, c.y - 100, c.x + 2400, c.y + 400)], crs=4544)
    txt = write_jzd(parcel, tmp_path / "parcel.txt")
    r = httpx.post(served.url + "/check", data={"category": "industrial"},
                   files={"file": ("parcel.txt", txt.read_bytes(), "text/plain")},
                   headers=auth(STAFF), timeout=120)
    assert r.status_code == 200, r.text
    code, out, err = _cli_check(run_cli, served.workspace, "parcel.txt", "--category",
                                "industrial")
    assert code == 0, err
    ws_text = json.dumps(served.workspace)[1:-1]
    from ecogis.storage import redact

    assert r.text.replace(redact(served.workspace), "WS").replace(ws_text, "WS") == \
        out.replace(ws_text, "WS")
    site = json.loads(r.text)["sites"][0]
    assert site["farmland_m2"] > 0  # the parcel overlaps the 永久基本农田 squares


def test_other_reads_match_the_cli(served, run_cli):
    for path, argv in (("/layers", ["layers"]), ("/areas", ["areas"])):
        r = httpx.get(served.url + path, headers=auth(ENV_STAFF), timeout=120)
        assert r.status_code == 200, r.text
        code, out, err = run_cli(*argv, served.workspace, "--format", "json")
        assert code == 0, err
        a, b = json.loads(r.text), json.loads(out)
        a.pop("workspace", None), b.pop("workspace", None)
        a.pop("target", None), b.pop("target", None)
        assert a == b
    r = httpx.post(served.url + "/reconcile", headers=auth(STAFF), timeout=120)
    code, out, err = run_cli("reconcile", served.workspace, "--format", "json")
    assert r.status_code == 200 and json.loads(r.text) == json.loads(out)
    r = httpx.get(served.url + "/layers/farmland/attributes", headers=auth(STAFF), timeout=30)
    assert r.status_code == 200
    assert [row["dlmc"] for row in r.json()["rows"]] == ["水田", "旱地"]


def test_access_control(served, tmp_path):
    u = served.url
    for path in ("/health", "/version", "/openapi.json", "/docs", "/public/map",
                 "/public/layers/redline"):
        r = httpx.get(u + path, timeout=120)
        assert r.status_code == 200, (path, r.text[:300])
    docs = httpx.get(u + "/docs").text
    assert "<script src" not in docs and "https://" not in docs  # the docs page is offline
    from ecogis.kinds import load_kinds

    gj = httpx.get(u + "/public/layers/farmland", timeout=60).json()
    assert gj["type"] == "FeatureCollection" and gj["features"]
    allowed = set(load_kinds()["farmland"].public)
    for f in gj["features"]:  # only public attributes (plus the computed areas)
        assert {k for k in f["properties"] if not k.startswith(("area", "parcels"))} <= allowed
        assert shapely.from_geojson(json.dumps(f["geometry"])).is_valid
    for method, path in (("GET", "/layers"), ("GET", "/areas"), ("POST", "/check"),
                         ("POST", "/reconcile"), ("GET", "/layers/redline/attributes")):
        r = httpx.request(method, u + path, timeout=30)
        assert r.status_code == 401 and "API key" in r.json()["error"]
        r = httpx.request(method, u + path, headers=auth("wrong-key-0123456789abcdef"),
                          timeout=30)
        assert r.status_code == 401 and r.json()["error"].startswith("unknown API key")
    gpkg = tmp_path / "red2.gpkg"
    gpd.GeoDataFrame({"name": ["新红线"]}, geometry=[shapely.box(105.5, 30.3, 105.51, 30.31)],
                     crs=4490).to_file(gpkg)
    up = {"file": ("red2.gpkg", gpkg.read_bytes(), "application/geopackage+sqlite3")}
    r = httpx.post(u + "/layers/red2", data={"kind": "redline"}, files=up, headers=auth(STAFF),
                   timeout=60)
    assert r.status_code == 403 and "admin" in r.json()["error"]
    r = httpx.post(u + "/layers/red2", data={"kind": "redline"}, files=up, headers=auth(ADMIN),
                   timeout=120)
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "red2" and r.json()["features"] == 1
    names = [x["name"] for x in httpx.get(u + "/layers", headers=auth(STAFF),
                                          timeout=60).json()["layers"]]
    assert "red2" in names


def test_limits_and_errors_are_one_line_json(served, anju, run_cli, tmp_path):
    u, h = served.url, {**auth(STAFF), "Content-Type": "application/geo+json"}
    big = b'{"type":"FeatureCollection","features":[' + b" " * 300_000 + b"]}"
    r = httpx.post(u + "/check", content=big, headers=h, timeout=30)
    assert r.status_code == 413 and "larger than 200000 bytes" in r.json()["error"]

    def chunks():
        for _ in range(40):
            yield b" " * 10_000

    r = httpx.post(u + "/check", content=chunks(), headers=h, timeout=30)
    assert r.status_code == 413
    r = httpx.post(u + "/check", content=b"{not json", headers=h, timeout=30)
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]
    r = httpx.post(u + "/check", content=b'{"type": "Point"}', headers=h, timeout=30)
    assert r.status_code == 400 and "FeatureCollection" in r.json()["error"]
    r = httpx.post(u + "/check", content=b"x", headers={**auth(STAFF),
                                                       "Content-Type": "text/plain"}, timeout=30)
    assert r.status_code == 415
    # an unknown category and a bad geometry: the CLI's own one-line message
    fc = sites(anju)
    bad = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {},
           "geometry": {"type": "Polygon", "coordinates": [[[105.4, 30.3], [105.41, 30.3]]]}}]}
    for body, params in ((fc, {"category": "没有这种项目"}), (bad, {"category": "urban"})):
        (tmp_path / "request.geojson").write_text(json.dumps(body), encoding="utf-8")
        r = httpx.post(u + "/check", params=params, content=json.dumps(body), headers=h,
                       timeout=60)
        code, out, err = _cli_check(run_cli, served.workspace, "request.geojson",
                                    *[x for k, v in params.items() for x in (f"--{k}", v)])
        assert code == 2
        assert 400 <= r.status_code < 500, r.text
        msg = r.json()["error"]
        assert "\n" not in msg and "Traceback" not in r.text
        assert err.strip() == f"ecogis: error: {msg}"
    r = httpx.post(u + "/check", params={"radius_m": "nan"}, content=json.dumps(fc), headers=h,
                   timeout=30)
    assert r.status_code == 400 and "radius_m" in r.json()["error"]
    assert "Traceback" not in served.output()


def test_every_request_is_audited_without_the_key(served):
    httpx.get(served.url + "/layers", headers=auth(STAFF), timeout=60)
    httpx.get(served.url + "/layers", headers=auth("wrong-key-0123456789abcdef"), timeout=60)
    time.sleep(0.5)
    if served.backend == "gpkg":
        with sqlite3.connect(served.workspace) as con:
            rows = con.execute("SELECT key_id, role, method, path, status, verdicts "
                               "FROM ecogis_audit ORDER BY fid").fetchall()
    else:
        import psycopg

        with psycopg.connect(served.workspace) as con:
            rows = con.execute("SELECT key_id, role, method, path, status, verdicts "
                               "FROM ecogis_audit ORDER BY id").fetchall()
    from ecogis.service.auth import key_id

    assert (key_id(STAFF), "staff", "GET", "/layers", 200, None) in rows
    assert ("?", "rejected", "GET", "/layers", 401, None) in rows
    checks = [r for r in rows if r[3] == "/check" and r[4] == 200]
    assert checks and all(json.loads(r[5])["forbidden"] >= 1 for r in checks)
    flat = json.dumps(rows)
    assert STAFF not in flat and ADMIN not in flat


@pytest.mark.slow
def test_concurrent_checks_while_an_import_writes(served, anju, tmp_path):
    fc = json.dumps(sites(anju))
    h = {**auth(STAFF), "Content-Type": "application/geo+json"}
    base = httpx.post(served.url + "/check", params={"category": "urban"}, content=fc,
                      headers=h, timeout=120)
    assert base.status_code == 200
    gpkg = tmp_path / "more.gpkg"
    gpd.GeoDataFrame({"name": [f"u{i}" for i in range(200)]}, geometry=[
        shapely.box(105.2 + i * 1e-3, 30.2, 105.2005 + i * 1e-3, 30.2005) for i in range(200)],
        crs=4490).to_file(gpkg)

    def check(_):
        r = httpx.post(served.url + "/check", params={"category": "urban"}, content=fc,
                       headers=h, timeout=120)
        return r.status_code, r.text

    def imp():
        return httpx.post(served.url + "/layers/green", data={"kind": "green_space"},
                          files={"file": ("more.gpkg", gpkg.read_bytes())},
                          headers=auth(ADMIN), timeout=120).status_code

    t0 = time.monotonic()
    with cf.ThreadPoolExecutor(8) as pool:
        fut = pool.submit(imp)
        results = list(pool.map(check, range(16)))
        assert fut.result() == 200
    assert time.monotonic() - t0 < 120
    assert all(code == 200 for code, _ in results), [x for x in results if x[0] != 200][:2]
    # the import added a layer no rule of 'urban' reads: every answer is the baseline's
    assert {json.loads(t)["sites"][0]["verdict"] for _, t in results} == {"forbidden"}
    assert all(json.loads(t)["counts"] == json.loads(base.text)["counts"] for _, t in results)


def test_help_imports_no_server_stack():
    code = ("import sys\nfrom ecogis.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('fastapi', 'uvicorn', 'starlette', 'sqlalchemy', "
            "'psycopg', 'geoalchemy2') if m in sys.modules))")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"
    assert "serve" in out.stdout


def test_keys_file_forms_and_bad_keys(tmp_path):
    from ecogis.errors import InputError
    from ecogis.service.auth import caller_of, key_id, load_keys

    t = tmp_path / "keys.toml"
    t.write_text(f'[keys]\n"{STAFF}" = "staff"\n"{ADMIN}" = "admin"\n', encoding="utf-8")
    lines = tmp_path / "keys.txt"
    lines.write_text(f"# desk keys\n{STAFF} staff\n{ADMIN}   admin  # the GIS admin\n")
    for f in (t, lines):
        keys = load_keys(f, env=f"{ENV_STAFF}, ")
        assert keys == {STAFF: "staff", ADMIN: "admin", ENV_STAFF: "staff"}
    assert caller_of(f"Bearer {ADMIN}", keys).role == "admin"
    assert caller_of(f"Bearer {ADMIN}", keys).key_id == key_id(ADMIN) != ADMIN
    assert caller_of("Bearer nope", keys) is None and caller_of("Basic x", keys) is None
    bad = tmp_path / "bad.txt"
    bad.write_text(f"{STAFF} superuser\n")
    with pytest.raises(InputError, match="unknown role 'superuser'.*fix: use one of"):
        load_keys(bad, env="")
    bad.write_text("short staff\n")
    with pytest.raises(InputError, match="shorter than 16"):
        load_keys(bad, env="")


def test_engine_built_once_per_workspace_version(anju, tmp_path):
    from fastapi.testclient import TestClient

    from ecogis.service.app import create_app

    ws = build_workspace(str(tmp_path / "ws.gpkg"), anju)
    app = create_app(ws, keys={STAFF: "staff", ADMIN: "admin"})
    h = {**auth(STAFF), "Content-Type": "application/geo+json"}
    fc = json.dumps(sites(anju))
    with TestClient(app) as c:
        answers = [c.post("/check", params={"category": "urban"}, content=fc, headers=h).text
                   for _ in range(3)]
        assert len(set(answers)) == 1 and app.state.engines.builds == 1
        # the audit rows written meanwhile change the file, not the workspace version
        time.sleep(0.6)
        c.post("/check", params={"category": "urban"}, content=fc, headers=h)
        assert app.state.engines.builds == 1
        red = tmp_path / "red2.gpkg"
        gpd.GeoDataFrame({"name": ["新红线"]}, geometry=[
            shapely.box(105.5, 30.3, 105.51, 30.31)], crs=4490).to_file(red)
        r = c.post("/layers/red2", data={"kind": "redline"}, headers=auth(ADMIN),
                   files={"file": ("red2.gpkg", red.read_bytes())})
        assert r.status_code == 200, r.text
        c.post("/check", params={"category": "urban"}, content=fc, headers=h)
        assert app.state.engines.builds == 2  # a new layer: a new version, a new engine


def test_report_downloads(served, anju, run_cli, tmp_path):
    fc = json.dumps(sites(anju))
    h = {**auth(STAFF), "Content-Type": "application/geo+json"}
    r = httpx.post(served.url + "/check/report.html", params={"category": "urban"},
                   content=fc, headers=h, timeout=180)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "<html" in r.text.lower() and "S1" in r.text
    r = httpx.post(served.url + "/check/report.docx", params={"category": "urban"},
                   content=fc, headers=h, timeout=180)
    from ecogis.service.app import _check_formats

    if "docx" in _check_formats():
        import io
        import zipfile

        assert r.status_code == 200, r.text
        names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
        assert "word/document.xml" in names
    else:
        assert r.status_code == 501 and "report.html" in r.json()["error"]
    r = httpx.post(served.url + "/check/report.odt", content=fc, headers=h, timeout=30)
    assert r.status_code == 404
