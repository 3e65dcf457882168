"""``ecogis serve WORKSPACE``: the bureau's HTTP service (FastAPI + uvicorn, extra ``server``)."""

from __future__ import annotations

from ecogis.report import nonnegative_float


def register(sub) -> None:
    p = sub.add_parser(
        "serve", help="HTTP service: siting checks, layers, areas, reports (API keys)",
        description="Serve a workspace (.gpkg or postgresql:// URI) over HTTP: POST /check "
        "returns `ecogis check --format json`; GET /layers, /areas; POST /reconcile; report "
        "downloads; /docs and /openapi.json. Keys: --keys FILE (TOML [keys] KEY = ROLE, or "
        "'KEY ROLE' lines; roles staff, admin) and ECOGIS_API_KEYS (comma-separated staff "
        "keys). Every request is logged to the workspace's ecogis_audit table.")
    p.add_argument("workspace", help="workspace .gpkg or postgresql:// URI")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--keys", metavar="FILE", help="API keys file (key → role)")
    p.add_argument("--max-body", type=int, default=10 * 1024 * 1024, metavar="BYTES",
                   help="request body limit (default 10 MiB; larger bodies get 413)")
    p.add_argument("--timeout", type=nonnegative_float, default=120.0, metavar="S",
                   help="time limit of one computation in seconds (default 120; then 504)")
    p.add_argument("--docs-cdn", action="store_true",
                   help="serve FastAPI's Swagger UI at /docs (loads its assets from a CDN); "
                   "default: an offline page built from the schema")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.set_defaults(func=run)


def run(args) -> int:
    from ecogis.errors import InputError
    from ecogis.service.auth import load_keys

    try:
        import fastapi  # noqa: F401
        import uvicorn
    except ImportError as exc:
        raise InputError(f"`ecogis serve` needs the server extra ({exc.name} is missing)",
                         fix="pip install 'ecogis[server]'") from None
    if not 0 < args.port < 65536:
        raise InputError(f"--port {args.port} is not a TCP port", fix="use e.g. --port 8000")
    keys = load_keys(args.keys)
    from ecogis.service.app import create_app

    app = create_app(args.workspace, keys=keys, max_body=args.max_body, timeout_s=args.timeout,
                     docs_offline=not args.docs_cdn)
    print(f"ecogis serve: {len(keys)} API key(s); http://{args.host}:{args.port}/docs",
          flush=True)
    uvicorn.run(app, host=args.host, port=args.port,
                log_level=args.log_level, timeout_keep_alive=5, access_log=False)
    return 0
