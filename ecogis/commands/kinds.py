"""``ecogis kinds``: the layer kinds of ``layers/kinds.toml`` (id, name, code, geometry, fields)."""

from __future__ import annotations

from ecogis.kinds import load_kinds
from ecogis.report import add_format_argument, emit, format_csv, format_table, to_json


def register(sub) -> None:
    p = sub.add_parser("kinds", help="list the layer kinds (layers/kinds.toml)")
    add_format_argument(p)
    p.set_defaults(func=run)


def run(args) -> int:
    reg = load_kinds()
    rows = [{
        "id": k.id, "name_zh": k.name_zh, "code": k.code or "—", "geometry": k.geometry,
        "coverage": k.coverage, "required": ", ".join(k.required) or "—",
        "optional": ", ".join(k.optional) or "—", "color": k.color,
        "values": {f: list(v) for f, v in k.values.items()},
        "field_aliases": {r: list(v) for r, v in k.aliases.items()},
    } for k in reg]
    if args.format == "json":
        emit(to_json({"source": str(reg.source), "kinds": rows, "aliases": reg.aliases,
                      "roles": reg.roles}))
        return 0
    cols = [("id", "id"), ("name_zh", "名称"), ("code", "code"), ("geometry", "geometry"),
            ("coverage", "coverage"), ("required", "required"), ("optional", "optional")]
    emit(format_csv(rows, cols) if args.format == "csv" else format_table(rows, cols))
    return 0
