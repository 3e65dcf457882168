"""``ecogis map WORKSPACE -o maps/NAME.html``: an interactive map that opens offline.

Draws the workspace's layers (all, or ``--layers``) in their kinds' planning colours, with
siting results (``--sites``) and a diff (``--diff``) on top; ``--public`` keeps only kind,
zone and name, generalises every geometry to a 0.0005° grid, prints the 示意图 / 审图号
statement and refuses non-public kinds. Prints what was drawn: features and vertices per
layer, display tolerance, size.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ecogis.maps import BASEMAPS, MapInputError, MapLayer, make_map, read_diff, read_sites, save_map
from ecogis.report import (
    add_format_argument,
    emit,
    format_csv,
    format_table,
    nonnegative_float,
    positive_int,
    to_json,
)

COLUMNS = [
    ("name", "layer"), ("kind", "kind"), ("features_in", "features"),
    ("features_out", "drawn"), ("vertices_in", "vertices"), ("vertices_out", "drawn vertices"),
    ("tolerance_m", "tolerance m"), ("method", "simplification"),
]


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "map", help="write an interactive map (single HTML file that works offline)",
        description=__doc__.split("\n\n", 1)[0],
    )
    p.add_argument("workspace", help="workspace GeoPackage")
    p.add_argument("-o", "--output", required=True, help="output HTML file, e.g. maps/anju.html")
    p.add_argument("--layers", nargs="+", metavar="NAME", help="layers to draw (default: all)")
    p.add_argument("--sites", metavar="FILE_OR_CHECK_JSON",
                   help="sites file, or the JSON of `ecogis check --format json`")
    p.add_argument("--sites-file", metavar="FILE",
                   help="sites geometry when the check JSON carries none (joined on id)")
    p.add_argument("--diff", metavar="DIFF.gpkg", help="diff GeoPackage with layers lost/gained")
    p.add_argument("--public", action="store_true",
                   help="a map fit to publish: geometry generalised (>= 50 m, every vertex on "
                        "a 0.0005° grid), only kind, zone and name kept, 示意图 statement; "
                        "non-public kinds refused ([publication] of layers/kinds.toml)")
    p.add_argument("--map-number", metavar="审图号",
                   help="审图号 printed on a --public map (e.g. 'GS(2024)1234号')")
    p.add_argument("--include-nonpublic", action="store_true",
                   help="let a --public map carry layers of kinds marked non-public "
                        "(e.g. sites under review) once they are cleared")
    p.add_argument("--generalise-m", "--generalize-m", dest="generalise_m", type=nonnegative_float,
                   metavar="M", help="snap displayed coordinates to an M-metre grid")
    p.add_argument("--basemap", choices=BASEMAPS, default="none",
                   help="none (offline, default), osm, tianditu (needs --tianditu-key); "
                        "amap is refused (GCJ-02)")
    p.add_argument("--tianditu-key", metavar="K",
                   default=os.environ.get("ECOGIS_TIANDITU_KEY"),
                   help="天地图 key (default $ECOGIS_TIANDITU_KEY)")
    p.add_argument("--title", help="map title (default from the workspace region)")
    p.add_argument("--simplify-m", type=nonnegative_float, metavar="M",
                   help="display tolerance in metres for every layer (default automatic)")
    p.add_argument("--no-dissolve", action="store_true",
                   help="draw every parcel of large coverage layers instead of dissolving")
    p.add_argument("--max-vertices", type=positive_int, default=None,
                   help="vertex budget of the map (default 400000)")
    add_format_argument(p)
    p.set_defaults(func=run)


def _open_workspace(path: Path):
    """Return ``(layers, meta)`` with layers a list of (name, kind, synthetic, reader)."""
    from ecogis.workspace import Workspace

    ws = Workspace.open(path)
    layers = [(info.name, info.kind or "generic", bool(info.synthetic),
               (lambda n=info.name: ws.read(n))) for info in ws.layers()]
    return layers, dict(ws.meta)


def _truthy(value) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def run(args: argparse.Namespace) -> int:
    from ecogis.storage import is_postgres_uri, redact

    ws_path = args.workspace if is_postgres_uri(args.workspace) else Path(args.workspace)
    layers, meta = _open_workspace(ws_path)
    if args.layers:
        known = {n for n, *_ in layers}
        missing = [n for n in args.layers if n not in known]
        if missing:
            raise MapInputError(f"no layer {missing[0]!r} in the workspace", file=redact(str(ws_path)),
                                fix=f"use one of: {', '.join(sorted(known)) or '(none)'}")
        order = {n: i for i, n in enumerate(args.layers)}
        layers = sorted((x for x in layers if x[0] in order), key=lambda x: order[x[0]])
    items = []
    synthetic = _truthy(meta.get("synthetic", False))
    for name, kind, syn, read in layers:
        items.append(MapLayer(name, kind, read(), simplify_m=args.simplify_m,
                              dissolve=False if args.no_dissolve else None, synthetic=syn))
        synthetic = synthetic or syn
    sites = read_sites(args.sites, args.sites_file) if args.sites else None
    diff = read_diff(args.diff) if args.diff else None
    region = meta.get("region")
    stem = Path(ws_path).stem if isinstance(ws_path, Path) else "PostGIS"
    title = args.title or (f"{region} 国土空间控制线" if region else f"{stem} 控制线图")
    kw = {}
    if args.max_vertices:
        kw["max_vertices"] = args.max_vertices
    m = make_map(items, title=title, synthetic=synthetic, public=args.public,
                 basemap=args.basemap, tianditu_key=args.tianditu_key, sites=sites, diff=diff,
                 generalise_m=args.generalise_m,
                 source=ws_path.name if isinstance(ws_path, Path) else "PostGIS",
                 map_number=args.map_number, include_nonpublic=args.include_nonpublic, **kw)
    out = save_map(m, args.output)
    info = m.ecogis
    size = out.stat().st_size
    rows = [dict(vars(s)) for s in info.layers]
    if args.format == "json":
        emit(to_json({"output": str(out), "bytes": size, "vertices": info.vertices,
                      "public": info.public, "synthetic": info.synthetic,
                      "basemap": info.basemap, "renderer": info.renderer,
                      "map_number": info.map_number, "grid_deg": info.grid_deg,
                      "layers": rows, "notes": info.notes}))
    elif args.format == "csv":
        emit(format_csv(rows, COLUMNS))
    else:
        emit(format_table(rows, COLUMNS, digits=1,
                          title=f"{out}: {size / 1e6:.2f} MB, {info.vertices:,} vertices"
                                + (" (public)" if info.public else "")))
    return 0
