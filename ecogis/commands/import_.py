"""``ecogis import WORKSPACE KIND FILE``: read a data file with checks and store it as a layer."""

from __future__ import annotations

import warnings

from ecogis.report import emit, format_table, to_json
from ecogis.workspace import Workspace


def register(sub) -> None:
    p = sub.add_parser(
        "import", help="import a data file (SHP, GDB, zip, GPKG, GeoJSON, FGB, TAB/MIF, DXF, "
        "KML/KMZ, xlsx/csv coordinate lists, 界址点 TXT) as a layer",
        description="Import a vector file into a GeoPackage workspace (created when missing). "
        "CRS: the file's, --crs, or inferred from the coordinates; encoding: --encoding, .cpg, "
        "or detected (UTF-8, else GBK); invalid geometry is repaired and reported.")
    p.add_argument("workspace", help="workspace GeoPackage (.gpkg)")
    p.add_argument("kind", help="layer kind: redline, farmland, ugb, ... (see layers/kinds.toml);"
                   " landcover or dem for a GeoTIFF raster")
    p.add_argument("file", help="data file; FILE.gpkg:LAYER picks a layer")
    p.add_argument("--name", help="layer name in the workspace (default: the kind id)")
    p.add_argument("--crs", help="CRS of the file, e.g. EPSG:4544 (overrides the file's)")
    p.add_argument("--encoding", help="attribute text encoding, e.g. gbk or utf-8")
    p.add_argument("--layer", help="layer of a multi-layer source (a File Geodatabase's layer, "
                   "a DXF's CAD layer, a zip's member, an .xlsx sheet)")
    p.add_argument("--towgs84", metavar="DX,DY,DZ,RX,RY,RZ,DS",
                   help="7 parameters (m, arc-seconds, ppm; position vector) to bring a Xian "
                   "1980 / Beijing 1954 layer to CGCS2000; recorded in the layer's provenance")
    p.add_argument("--field", action="append", default=[], metavar="SRC=ROLE",
                   help="map a source field to a field role of the kind, e.g. 级别=level or "
                   "HXMC=name (repeatable); the kinds.toml aliases map the standard names "
                   "(名称, 级别, HXMC, BHQMC, DLBM, TBMJ ...) without it; source names are kept")
    p.add_argument("--wait", type=float, metavar="SECONDS",
                   help="when another ecogis process is writing the workspace, wait at most "
                   "this long for it (default: wait until it is done)")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(func=run)


def run(args) -> int:
    from ecogis.raster import RASTER_KINDS

    if args.kind in RASTER_KINDS:
        from ecogis.storage import is_postgres_uri

        if is_postgres_uri(args.workspace):
            from ecogis.errors import InputError

            raise InputError("rasters are not stored in PostGIS workspaces yet",
                             file=args.file, fix="import the raster into a .gpkg workspace")
        return run_raster(args)
    from ecogis.fields import parse_field_options

    fields = parse_field_options(getattr(args, "field", None))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ws = Workspace.open(args.workspace, create=True, wait=args.wait)
        rep = ws.import_file(args.kind, args.file, name=args.name, crs=args.crs,
                             encoding=args.encoding, layer=args.layer, fields=fields or None,
                             **({"towgs84": args.towgs84} if args.towgs84 else {}))
    d = rep.as_dict()
    d["warnings"] = [str(w.message) for w in caught]
    if args.format == "json":
        emit(to_json(d))
        return 0
    rows = [
        {"k": "layer", "v": f"{rep.name} ({rep.kind}){' — replaced' if rep.replaced else ''}"},
        {"k": "features", "v": str(d["features"])},
        {"k": "CRS", "v": f"{d['crs']} ({d['crs_source']})"},
        {"k": "encoding", "v": f"{d['encoding'] or 'n/a'} ({d['encoding_source'] or 'n/a'})"},
        {"k": "fields", "v": ", ".join(f"{r}←{s}" for r, s in d["field_map"].items()) or "—"},
        {"k": "repairs", "v": d["repairs"]["summary"]},
        {"k": "sha256", "v": d["sha256"]},
    ]
    emit(format_table(rows, [("k", "import"), ("v", str(args.file))]))
    for w in d["warnings"]:
        emit(f"warning: {w}")
    return 0


def run_raster(args) -> int:
    """Import a land-cover or DEM GeoTIFF (stored as ``WORKSPACE.rasters/NAME.tif``)."""
    from dataclasses import asdict

    from ecogis.raster import import_raster

    info = import_raster(args.workspace, args.kind, args.file, name=args.name, crs=args.crs)
    if args.format == "json":
        emit(to_json(asdict(info)))
        return 0
    rows = [
        {"k": "raster", "v": f"{info.name} ({info.kind})"},
        {"k": "stored", "v": info.path},
        {"k": "size", "v": f"{info.width} × {info.height} px, {info.res[0]:g} × {info.res[1]:g}"},
        {"k": "CRS", "v": info.crs},
        {"k": "values", "v": ", ".join(map(str, info.values)) if info.values else info.dtype},
        {"k": "sha256", "v": info.sha256},
    ]
    emit(format_table(rows, [("k", "import"), ("v", str(args.file))]))
    return 0
