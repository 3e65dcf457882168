"""``ecogis layers WORKSPACE``: name, kind, feature count, CRS and bbox of each layer."""

from __future__ import annotations

from ecogis.fields import describe_field_map
from ecogis.kinds import load_kinds
from ecogis.report import add_format_argument, emit, format_csv, format_table, to_json
from ecogis.workspace import Workspace


def register(sub) -> None:
    p = sub.add_parser("layers", help="list the layers of a workspace")
    p.add_argument("workspace")
    add_format_argument(p)
    p.set_defaults(func=run)


def run(args) -> int:
    ws = Workspace.open(args.workspace)
    kinds = load_kinds()
    infos = ws.layers()
    if args.format == "json":
        out = []
        for i in infos:
            d = i.as_dict()
            d["fields"] = describe_field_map(i.field_map, kinds)
            out.append(d)
        emit(to_json({"workspace": str(ws.path), "meta": ws.meta, "layers": out}))
        return 0
    rows = [{
        "name": i.name, "kind": i.kind or "—",
        "kind_name": kinds[i.kind].name_zh if i.kind in kinds else "—",
        "features": i.features, "geometry": i.geometry_type, "crs": i.crs,
        "bbox": ", ".join(f"{v:.6f}" if abs(v) < 1000 else f"{v:.1f}" for v in i.bbox), "source": i.source or "—",
        "synthetic": i.synthetic,
        "fields": ", ".join(r if r == s else f"{r}←{s}" for r, s in i.field_map.items()) or "—",
    } for i in infos]
    cols = [("name", "layer"), ("kind", "kind"), ("kind_name", "名称"), ("features", "features"),
            ("geometry", "geometry"), ("crs", "CRS"), ("bbox", "bbox"), ("source", "source"),
            ("synthetic", "synthetic"), ("fields", "fields (role←source)")]
    emit(format_csv(rows, cols) if args.format == "csv" else format_table(rows, cols))
    return 0
