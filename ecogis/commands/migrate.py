"""``ecogis migrate WORKSPACE``: bring a workspace to the current GeoPackage format.

Marks a workspace of another GeoPackage version (GDAL's default 1.4) as GeoPackage 1.2,
so GDAL < 3.7 (QGIS 3.22 on Debian) opens it without a version warning, moves rasters from
an old ``WS.gpkg.rasters/`` side folder into the file (2D gridded coverages), and refreshes
the QGIS styles, field aliases and Chinese titles. Any write does the same automatically; this
command does it now and says what it did.
"""

from __future__ import annotations

from ecogis import gpkg
from ecogis.report import add_format_argument, emit, to_json


def register(sub) -> None:
    p = sub.add_parser("migrate", help="bring a workspace to GeoPackage 1.2 with QGIS styles "
                       "and rasters inside",
                       description=__doc__.split("\n\n", 1)[0])
    p.add_argument("workspace", help="workspace GeoPackage")
    add_format_argument(p, choices=("table", "json"))
    p.set_defaults(func=run)


def run(args) -> int:
    import warnings

    from ecogis.workspace import Workspace

    ws = Workspace.open(args.workspace)
    before = gpkg.user_version(ws.path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # reported below instead
        with ws.transaction():
            pass
    after = gpkg.user_version(ws.path)
    report = {"workspace": str(ws.path), "from": gpkg.version_text(before),
              "to": gpkg.version_text(after), "migrated": before != after,
              "layers": len(ws.names()), "styles": "layer_styles refreshed"}
    report["rasters_moved"] = list(getattr(ws, "moved_rasters", []))
    if args.format == "json":
        emit(to_json(report))
    else:
        emit(f"{ws.path}: GeoPackage {report['from']} -> {report['to']}"
             + (" (migrated)" if report["migrated"] else " (already current)")
             + f"; {report['layers']} layers; QGIS styles, aliases and titles refreshed"
             + (f"; rasters moved into the file: {', '.join(report['rasters_moved'])}"
                if report["rasters_moved"] else ""))
    return 0
