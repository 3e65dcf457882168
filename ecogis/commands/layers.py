"""``ecogis layers WORKSPACE``: name, kind, feature count, CRS and bbox of each layer."""

from __future__ import annotations

from ecogis.kinds import load_kinds
from ecogis.report import add_format_argument, emit, format_csv, format_table, to_json
from ecogis.workspace import Workspace


def register(sub) -> None:
    p = sub.add_parser("layers", help="list the layers of a workspace")
    p.add_argument("workspace")
    add_format_argument(p)
    p.set_defaults(func=run)


def layers_report(ws: Workspace) -> dict:
    """The ``ecogis layers --format json`` dict of a workspace."""
    return {"workspace": str(ws.path), "meta": ws.meta, "layers": [i.as_dict() for i in ws.layers()]}


def run(args) -> int:
    ws = Workspace.open(args.workspace)
    kinds = load_kinds()
    if args.format == "json":
        emit(to_json(layers_report(ws)))
        return 0
    infos = ws.layers()
    rows = [{
        "name": i.name, "kind": i.kind or "—",
        "kind_name": kinds[i.kind].name_zh if i.kind in kinds else "—",
        "features": i.features, "geometry": i.geometry_type, "crs": i.crs,
        "bbox": ", ".join(f"{v:.6f}" if abs(v) < 1000 else f"{v:.1f}" for v in i.bbox), "source": i.source or "—",
        "synthetic": i.synthetic,
    } for i in infos]
    cols = [("name", "layer"), ("kind", "kind"), ("kind_name", "名称"), ("features", "features"),
            ("geometry", "geometry"), ("crs", "CRS"), ("bbox", "bbox"), ("source", "source"),
            ("synthetic", "synthetic")]
    emit(format_csv(rows, cols) if args.format == "csv" else format_table(rows, cols))
    return 0
