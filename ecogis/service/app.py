"""The FastAPI application of ``ecogis serve``: checks, layers, areas, reconcile, reports.

Every answer is the CLI's: ``POST /check`` returns the text of ``ecogis check --format json``
(the CLI itself runs in the server process, :func:`ecogis.cli.main`), ``GET /layers`` that
of ``ecogis layers``, ``GET /areas`` of ``ecogis areas``, ``POST /reconcile`` of ``ecogis
reconcile``, ``POST /layers/{name}`` of ``ecogis import``; errors are
the CLI's one-line messages as ``{"error": ..., "status": ...}`` (400 bad input, 401/403
access, 404, 413 too large, 415 media type, 501 not available, 504 timeout, 500 internal —
never a traceback).

Access: ``Authorization: Bearer KEY``; ``staff`` checks, reads layers/attributes/areas and
downloads reports; ``admin`` also imports (``POST /layers/{name}``). Without a key only
``/health``, ``/version``, ``/openapi.json``, ``/docs`` and ``/public/...`` answer.

Siting engines are built once per workspace version (layer generations/sha256s and metadata)
and rule set, and reused: a request costs its sites, not the layers. Computations run one at
a time (the siting notes are collected from Python warnings, which are process-global).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import sqlite3
import tempfile
import threading
import time
from collections import OrderedDict
from contextlib import closing
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

import ecogis
from ecogis.errors import EcogisError, InputError
from ecogis.service.audit import AuditLog
from ecogis.service.auth import ANONYMOUS, RANK, Caller, caller_of
from ecogis.storage import redact

log = logging.getLogger("ecogis.serve")

#: request paths anyone may reach
PUBLIC_PATHS = ("/health", "/version", "/openapi.json", "/docs", "/docs/oauth2-redirect",
                "/redoc")
SITE_SUFFIXES = (".geojson", ".json", ".txt", ".xlsx", ".csv", ".gpkg", ".fgb", ".kml", ".zip")


class ServiceError(Exception):
    """An HTTP error with a one-line message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status_code=status,
                        headers=headers)


class BodyLimit:
    """ASGI middleware: refuse request bodies over ``limit`` bytes with 413 (streamed too)."""

    def __init__(self, app, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        msg = (f"request body larger than {self.limit} bytes (fix: send fewer sites per request, "
               "or start the server with a larger --max-body)")
        if length is not None and length.isdigit() and int(length) > self.limit:
            return await _error(413, msg)(scope, receive, send)
        seen = 0

        async def limited():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise ServiceError(413, msg)
            return message

        started = False

        async def tracking_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited, tracking_send)
        except ServiceError as exc:
            if not started:
                await _error(exc.status, exc.message)(scope, receive, send)


class Engines:
    """Siting engines by (workspace version, rule set): built once, reused (LRU of 4)."""

    def __init__(self, size: int = 4) -> None:
        self.size = size
        self._engines: OrderedDict[tuple, Any] = OrderedDict()
        self.builds = 0

    def get(self, key: tuple, build):
        if key in self._engines:
            self._engines.move_to_end(key)
            return self._engines[key]
        engine = build()
        self.builds += 1
        self._engines[key] = engine
        while len(self._engines) > self.size:
            self._engines.popitem(last=False)
        return engine


def workspace_version(ws) -> tuple:
    """A value that changes whenever the workspace's layers or metadata change."""
    if hasattr(ws, "version"):
        return ws.version()
    p = Path(ws.path)
    st = p.stat()
    with closing(sqlite3.connect(f"file:{p}?mode=ro", uri=True, timeout=30)) as con:
        layers = con.execute("SELECT * FROM ecogis_layers").fetchall()
        meta = con.execute("SELECT key, value FROM ecogis_meta ORDER BY key").fetchall()
        contents = con.execute("SELECT table_name, last_change FROM gpkg_contents "
                               "WHERE table_name != 'ecogis_audit' ORDER BY 1").fetchall()
    return (st.st_ino, tuple(map(tuple, layers)), tuple(map(tuple, meta)),
            tuple(map(tuple, contents)))


def _check_formats() -> tuple[str, ...]:
    """The ``--format`` choices of ``ecogis check`` in this version."""
    from ecogis.cli import build_parser

    parser = build_parser(["check"])
    sub = next(a for a in parser._actions if a.dest == "command")
    fmt = next(a for a in sub.choices["check"]._actions if a.dest == "format")
    return tuple(fmt.choices or ())


def _float(value: str | None, name: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        v = float(value)
    except ValueError:
        raise InputError(f"{name}={value!r} is not a number",
                         fix=f"pass {name} in metres, e.g. {name}=50") from None
    if not (v >= 0 and v != float("inf")):
        raise InputError(f"{name}={value!r} must be a finite number >= 0",
                         fix=f"pass {name} in metres, e.g. {name}=50")
    return v


def _safe_filename(name: str | None, default: str) -> str:
    base = Path(name or "").name
    base = re.sub(r"[^\w.\-\u4e00-\u9fff]", "_", base)[:80]
    return base if base and not base.startswith(".") else default


def create_app(workspace: str, *, keys: dict[str, str] | None = None,
               max_body: int = 10 * 1024 * 1024, timeout_s: float = 120.0,
               docs_offline: bool = True) -> FastAPI:
    """Return the ASGI application serving ``workspace`` (a .gpkg path or a PostGIS URI).

    ``keys`` maps API keys to roles (``staff``/``admin``); ``max_body`` is the request body
    limit in bytes (413 above it); ``timeout_s`` bounds each computation (504 after it).
    """
    from ecogis.workspace import Workspace

    keys = dict(keys or {})
    ws = Workspace.open(workspace)
    label = redact(str(workspace)) if not isinstance(ws.path, Path) else str(workspace)
    compute = threading.Lock()  # one computation at a time; GeoPackage audit writes wait too
    audit = AuditLog(ws, readers=compute)
    engines = Engines()
    ws_arg = os.fspath(workspace)

    def server_engine_for(w, rulebook):
        """The siting engine of ``w`` for ``rulebook``, cached by workspace version."""
        from ecogis.siting import engine_for

        key = (workspace_version(w), json.dumps(rulebook.summary(), sort_keys=True, default=str))
        return engines.get(key, lambda: engine_for(w, rulebook))

    import ecogis.commands.check as check_command

    check_command.ENGINE_FOR = server_engine_for

    def cli(argv: list[str], tmp: Path | None = None) -> tuple[int, str]:
        """Run ``ecogis ARGV`` in this process; return (exit code, stdout).

        Exit 2 (bad input) raises the CLI's one-line message as a 400; exit 3 (an ecogis bug)
        a 500 whose details stay in the server log. Temporary paths and the workspace URI's
        password never reach the client.
        """
        import contextlib
        import io

        from ecogis.cli import main

        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)

        def clean(text: str) -> str:
            if tmp is not None:
                text = text.replace(f"{tmp}/", "")
            return text.replace(ws_arg, label) if ws_arg != label else text

        if code in (0, 1):
            return code, clean(out.getvalue())
        lines = [x for x in err.getvalue().splitlines() if x.startswith("ecogis: ")]
        msg = clean(lines[-1] if lines else err.getvalue().strip())
        if code == 2:
            raise ServiceError(400, msg.removeprefix("ecogis: error: ").removeprefix("ecogis: "))
        log.error("ecogis %s failed (exit %s): %s", argv[0], code, msg)
        raise ServiceError(500, "internal error (the server log has the details; please "
                           "report it)")

    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app):
        yield
        audit.close()

    app = FastAPI(
        lifespan=lifespan,
        title="ecogis bureau server",
        version=ecogis.__version__,
        description="三区三线 siting checks (合规性审查), layers, areas and plan figures of one "
        "workspace. Send `Authorization: Bearer KEY`; see /docs.",
        docs_url=None, redoc_url=None)
    app.state.ws = ws
    app.state.audit = audit
    app.state.engines = engines

    # ------------------------------------------------------------------ plumbing
    async def run(fn, *args, **kw):
        """Run ``fn`` in a worker thread, one computation at a time, within the timeout."""
        def locked():
            with compute:
                return fn(*args, **kw)

        try:
            return await asyncio.wait_for(run_in_threadpool(locked), timeout_s)
        except asyncio.TimeoutError:
            raise ServiceError(504, f"the computation took longer than {timeout_s:g} s (fix: "
                               "send fewer or smaller sites, or start the server with a larger "
                               "--timeout)") from None

    def need(request: Request, role: str) -> Caller:
        caller: Caller = request.state.caller
        if caller is ANONYMOUS:
            raise ServiceError(401, "this endpoint needs an API key (fix: send "
                               "'Authorization: Bearer KEY')")
        if RANK[caller.role] < RANK[role]:
            raise ServiceError(403, f"role {caller.role!r} may not do this; it needs {role!r} "
                               "(fix: ask the administrator for a key with that role)")
        return caller

    app.add_middleware(BodyLimit, limit=max_body)  # inside the access log: a 413 is logged

    @app.middleware("http")
    async def access(request: Request, call_next):
        t0 = time.perf_counter()
        header = request.headers.get("authorization")
        caller = caller_of(header, keys)
        request.state.audit = {}
        if caller is None:
            response = _error(401, "unknown API key (fix: check the key, or ask the "
                              "administrator for one)", {"WWW-Authenticate": "Bearer"})
            caller = Caller("?", "rejected")
        else:
            request.state.caller = caller
            try:
                response = await call_next(request)
            except ServiceError as exc:
                response = _error(exc.status, exc.message)
            except Exception as exc:  # never a traceback to the client
                log.exception("internal error on %s %s", request.method, request.url.path)
                response = _error(500, f"internal error: {type(exc).__name__} (the server log "
                                  "has the details; please report it)")
        extra = request.state.audit
        try:
            audit.log(key_id=caller.key_id, role=caller.role, method=request.method,
                      path=request.url.path, query=str(request.url.query)[:500],
                      status=response.status_code,
                      ms=round((time.perf_counter() - t0) * 1000, 2),
                      verdicts=extra.get("verdicts"), sites=extra.get("sites"),
                      client=request.client.host if request.client else None)
        except Exception:
            log.exception("could not write the audit row")
        return response

    @app.exception_handler(EcogisError)
    async def ecogis_error(request: Request, exc: EcogisError):
        return _error(400, str(exc))

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, exc: ServiceError):
        return _error(exc.status, exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(Exception)
    async def any_error(request: Request, exc: Exception):
        log.exception("internal error on %s %s", request.method, request.url.path)
        return _error(500, f"internal error: {type(exc).__name__} (the server log has the "
                      "details; please report it)")

    from fastapi.exceptions import RequestValidationError

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()))
        return _error(400, f"{where}: {first.get('msg', 'invalid request')} "
                      "(fix: see /openapi.json)")

    # ------------------------------------------------------------------ checks
    async def sites_from_request(request: Request, tmp: Path) -> tuple[Path, dict]:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        params: dict[str, str] = dict(request.query_params)
        if ctype in ("application/geo+json", "application/json"):
            body = await request.body()
            if not body.strip():
                raise InputError("the request body is empty",
                                 fix="send a GeoJSON FeatureCollection of the sites")
            try:
                doc = json.loads(body)
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise InputError(f"request body is not valid JSON: {exc}",
                                 fix="send a GeoJSON FeatureCollection of the sites") from None
            if not isinstance(doc, dict) or doc.get("type") not in ("FeatureCollection",
                                                                     "Feature"):
                raise InputError("request body is not a GeoJSON FeatureCollection",
                                 fix='send {"type": "FeatureCollection", "features": [...]}')
            path = tmp / "request.geojson"
            path.write_bytes(body)
            return path, params
        if ctype == "multipart/form-data":
            form = await request.form()
            upload = form.get("file")
            for k, v in form.items():
                if k != "file" and isinstance(v, str):
                    params.setdefault(k, v)
            if upload is None or isinstance(upload, str):
                raise InputError("the form has no 'file' part",
                                 fix="upload the sites as form field 'file' (界址点 TXT, xlsx, "
                                 "GeoJSON ...)")
            name = _safe_filename(upload.filename, "upload.txt")
            if Path(name).suffix.lower() not in SITE_SUFFIXES:
                raise InputError(f"cannot read {name!r} as sites",
                                 fix=f"upload one of: {', '.join(SITE_SUFFIXES)}")
            path = tmp / name
            path.write_bytes(await upload.read())
            return path, params
        raise ServiceError(415, f"content type {ctype or 'none'!r} is not accepted (fix: send "
                           "application/geo+json, application/json, or multipart/form-data "
                           "with a 'file' part)")

    def check_argv(path: Path, params: dict, fmt: str) -> list[str]:
        from ecogis.siting import METHODS

        method = params.get("method") or "ellipsoidal"
        if method not in METHODS:
            raise InputError(f"method={method!r} is unknown",
                             fix=f"use one of: {', '.join(METHODS)}")
        argv = ["check", ws_arg, str(path), "--format", fmt, "--method", method]
        for opt, key in (("--region", "region"), ("--category", "category"), ("--crs", "crs"),
                         ("--encoding", "encoding")):
            if params.get(key):
                argv += [opt, str(params[key])]
        for opt, key in (("--radius", "radius_m"), ("--width", "width_m")):
            v = _float(params.get(key), key)
            if v is not None:
                argv += [opt, repr(v)]
        return argv

    async def checked(request: Request, fmt: str = "json") -> bytes:
        """Run ``ecogis check`` on the request's sites; return its output (``fmt``)."""
        with tempfile.TemporaryDirectory(prefix="ecogis-req-") as d:
            tmp = Path(d)
            path, params = await sites_from_request(request, tmp)
            argv = check_argv(path, params, fmt)
            if fmt == "json":
                _, text = await run(cli, argv, tmp)
                try:
                    doc = json.loads(text)
                    request.state.audit.update(verdicts=doc.get("counts"),
                                               sites=len(doc.get("sites", [])))
                except (json.JSONDecodeError, AttributeError):
                    pass
                return text.encode("utf-8")
            out = tmp / f"check-report.{fmt}"
            await run(cli, [*argv, "--output", str(out)], tmp)
            return out.read_bytes()

    @app.get("/health", tags=["service"])
    async def health() -> dict:
        """Liveness: ``{"status": "ok"}``."""
        return {"status": "ok"}

    @app.get("/version", tags=["service"])
    async def version() -> dict:
        """The ecogis version and the workspace backend."""
        backend = "postgis" if audit.postgis else "gpkg"
        return {"ecogis": ecogis.__version__, "backend": backend, "workspace": label}

    check_doc = {
        "requestBody": {"required": True, "content": {
            "application/geo+json": {"schema": {"type": "object"}},
            "application/json": {"schema": {"type": "object"}},
            "multipart/form-data": {"schema": {"type": "object", "properties": {
                "file": {"type": "string", "format": "binary"},
                "region": {"type": "string"}, "category": {"type": "string"},
                "radius_m": {"type": "number"}}, "required": ["file"]}}}},
        "parameters": [
            {"name": n, "in": "query", "required": False, "schema": {"type": t},
             "description": d} for n, t, d in (
                ("region", "string", "regional rulebook (default: the workspace's region)"),
                ("category", "string", "project category for sites without one"),
                ("radius_m", "number", "radius of point sites, metres"),
                ("width_m", "number", "corridor width of line sites, metres"),
                ("method", "string", "area method (default ellipsoidal)"),
                ("crs", "string", "CRS of the sites when the file carries none"))],
        "responses": {"200": {"description": "the output of `ecogis check --format json`"},
                      "400": {"description": "bad input: the CLI's one-line message"}},
    }

    @app.post("/check", tags=["check"], openapi_extra=check_doc)
    async def check(request: Request) -> Response:
        """Check sites against the control lines: exactly ``ecogis check --format json``.

        Body: a GeoJSON FeatureCollection (``application/geo+json`` or ``application/json``),
        or ``multipart/form-data`` with a ``file`` (界址点 TXT, xlsx, GeoJSON, CSV ...).
        Role: staff.
        """
        need(request, "staff")
        return Response(await checked(request), media_type="application/json")

    @app.post("/check/report.{fmt}", tags=["check"], openapi_extra=check_doc)
    async def check_report(fmt: str, request: Request) -> Response:
        """The 合规性审查 report of a check: ``html`` (and ``docx``/``pdf`` when available).

        Same body and parameters as ``POST /check``. Role: staff.
        """
        need(request, "staff")
        if fmt not in ("html", "docx", "pdf"):
            raise ServiceError(404, f"no report format {fmt!r} (fix: use html, docx or pdf)")
        if fmt != "html" and fmt not in _check_formats():
            raise ServiceError(501, f"{fmt.upper()} reports are not available in this version "
                               "(fix: download report.html)")
        data = await checked(request, fmt)
        media = {"html": "text/html; charset=utf-8",
                 "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml."
                 "document", "pdf": "application/pdf"}[fmt]
        return Response(data, media_type=media, headers={
            "Content-Disposition": f'attachment; filename="check-report.{fmt}"'})

    # ------------------------------------------------------------------ layers
    @app.get("/layers", tags=["layers"])
    async def layers(request: Request) -> Response:
        """The workspace's layers: exactly ``ecogis layers --format json``. Role: staff."""
        need(request, "staff")
        _, text = await run(cli, ["layers", ws_arg, "--format", "json"])
        return Response(text, media_type="application/json")

    @app.get("/layers/{name}/attributes", tags=["layers"])
    async def attributes(name: str, request: Request, limit: int = 1000,
                         offset: int = 0) -> Response:
        """A layer's attribute rows (no geometry), ``limit`` rows from ``offset``. Role: staff."""
        need(request, "staff")
        if not (0 < limit <= 10000) or offset < 0:
            raise InputError("limit must be 1..10000 and offset >= 0",
                             fix="page with e.g. limit=1000&offset=2000")
        from ecogis.report import to_json

        def rows():
            gdf = ws.read(name)
            df = gdf.drop(columns=gdf.geometry.name).iloc[offset:offset + limit]
            recs = json.loads(df.reset_index().to_json(orient="records", force_ascii=False,
                                                       date_format="iso"))
            return {"layer": name, "features": len(gdf), "offset": offset, "rows": recs}

        return Response(to_json(await run(rows)) + "\n", media_type="application/json")

    @app.post("/layers/{name}", tags=["layers"], openapi_extra={
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": ["file", "kind"], "properties": {
                "file": {"type": "string", "format": "binary"}, "kind": {"type": "string"},
                "crs": {"type": "string"}, "encoding": {"type": "string"}}}}}}})
    async def import_layer(name: str, request: Request) -> Response:
        """Import an uploaded file as layer ``name`` (``ecogis import --format json``). Role: admin.

        A zipped Shapefile, GeoJSON, GeoPackage, FlatGeobuf or 界址点 TXT; form fields
        ``kind`` (required), ``crs``, ``encoding``.
        """
        need(request, "admin")
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "multipart/form-data":
            raise ServiceError(415, "upload the file as multipart/form-data (fix: curl -F "
                               "file=@redline.gpkg -F kind=redline ...)")
        form = await request.form()
        upload = form.get("file")
        kind = form.get("kind")
        if upload is None or isinstance(upload, str) or not kind:
            raise InputError("the form needs a 'file' part and a 'kind' field",
                             fix="curl -F file=@redline.gpkg -F kind=redline ...")
        with tempfile.TemporaryDirectory(prefix="ecogis-imp-") as d:
            path = Path(d) / _safe_filename(upload.filename, "upload.gpkg")
            path.write_bytes(await upload.read())
            argv = ["import", ws_arg, str(kind), str(path), "--name", name, "--format", "json"]
            for opt in ("crs", "encoding"):
                if form.get(opt):
                    argv += [f"--{opt}", str(form.get(opt))]

            # the import takes the workspace's write lock itself; the audit writer waits for
            # the computation lock the import holds
            _, text = await run(cli, argv, Path(d))
        return Response(text, media_type="application/json")

    @app.get("/areas", tags=["layers"])
    async def areas(request: Request, unit: str = "km2", method: str = "ellipsoidal",
                    by: str | None = None) -> Response:
        """Dissolved areas per layer: exactly ``ecogis areas --format json``. Role: staff."""
        need(request, "staff")
        argv = ["areas", ws_arg, "--format", "json", "--unit", unit, "--method", method]
        if by:
            argv += ["--by", by]
        for x in request.query_params.getlist("layer"):
            argv += ["--layer", x]
        _, text = await run(cli, argv)
        return Response(text, media_type="application/json")

    @app.post("/reconcile", tags=["layers"])
    async def reconcile_(request: Request, plan: str | None = None,
                         method: str = "ellipsoidal") -> Response:
        """Declared plan figures beside the measured layers (``ecogis reconcile --format json``).

        Role: staff. ``plan``: a region id (default: the workspace's region).
        """
        need(request, "staff")
        if plan is not None and ("/" in plan or "\\" in plan or plan.startswith(".")):
            raise InputError(f"plan={plan!r} must be a region id", fix="e.g. plan=anju")
        argv = ["reconcile", ws_arg, "--format", "json", "--method", method]
        if plan:
            argv += ["--plan", plan]
        for x in request.query_params.getlist("layer"):
            argv += ["--layer", x]
        _, text = await run(cli, argv)
        return Response(text, media_type="application/json")

    # ------------------------------------------------------------------ public
    public_cache: dict[tuple, str] = {}

    @app.get("/public/map", tags=["public"], response_class=HTMLResponse)
    async def public_map() -> HTMLResponse:
        """The public map (``ecogis map --public``): public attributes, generalised geometry."""
        from ecogis.service.public import public_map_html

        key = ("map", await run(workspace_version, ws))
        if key not in public_cache:
            public_cache[key] = await run(public_map_html, ws)
        return HTMLResponse(public_cache[key])

    @app.get("/public/layers/{name}", tags=["public"])
    async def public_layer(name: str) -> Response:
        """One layer as GeoJSON, generalised and with only public attributes (as the public map)."""
        from ecogis.service.public import public_layer_geojson

        key = ("layer", name, await run(workspace_version, ws))
        if key not in public_cache:
            public_cache[key] = await run(public_layer_geojson, ws, name)
        return Response(public_cache[key], media_type="application/geo+json")

    # ------------------------------------------------------------------ docs
    from fastapi.openapi.docs import get_swagger_ui_html

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        from ecogis.service.public import docs_html

        if docs_offline:
            return HTMLResponse(docs_html(app.openapi()))
        return get_swagger_ui_html(openapi_url="/openapi.json", title="ecogis API")

    return app
