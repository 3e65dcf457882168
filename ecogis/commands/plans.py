"""``ecogis plans [REGION]``: list, validate and show the plan files (layers/plans/*.toml)."""

from __future__ import annotations

from pathlib import Path

from ecogis.errors import InputError
from ecogis.plans import list_plans, load_plan, verify_citations
from ecogis.report import add_format_argument, emit, format_csv, format_table, plain, to_json
from ecogis.rules import verify_rule_citations

_SYMBOL = {"eq": "", "ge": "≥", "le": "≤"}


def register(sub) -> None:
    p = sub.add_parser(
        "plans", help="list, validate and show plan files (declared figures, indicators)",
        description="Without REGION: every plan file, validated, with its counts. With REGION "
        "(an id such as anju, or a plan file): its declared figures with the SI values the "
        "loader computes, its setbacks and its recorded inconsistencies. --seeds DIR checks "
        "every citation against the seed documents (exit 1 when one does not match).")
    p.add_argument("region", nargs="?", help="region id or plan file")
    p.add_argument("--seeds", metavar="DIR", help="folder of the seed documents to check "
                   "quotes and line numbers against")
    add_format_argument(p)
    p.set_defaults(func=run)


def _summary(pid: str, seeds: str | None) -> dict:
    p = load_plan(pid)
    d = {"region": p.region.id, "name_zh": p.region.name_zh, "level": p.region.level,
         "period": f"{p.region.period[0]}-{p.region.period[1]}", "figures": len(p.figures),
         "setbacks": len(p.setbacks), "indicators": len(p.indicators),
         "inconsistencies": len(p.inconsistencies), "source": p.region.source,
         "path": str(p.path)}
    if seeds:
        d["citation_problems"] = (verify_citations(p, seeds)
                                  + verify_rule_citations(p.region.id, seeds))
    return d


def run(args) -> int:
    if args.seeds and not Path(args.seeds).is_dir():
        raise InputError("the seeds folder does not exist or is not a folder", file=args.seeds,
                         fix="pass the folder holding the seed documents, e.g. ../shared/seeds")
    if not args.region:
        rows = [_summary(pid, args.seeds) for pid in list_plans()]
        bad = any(r.get("citation_problems") for r in rows)
        if args.format == "json":
            emit(to_json({"plans": rows}))
        else:
            cols = [("region", "region"), ("name_zh", "名称"), ("level", "level"),
                    ("period", "period"), ("figures", "figures"), ("setbacks", "setbacks"),
                    ("indicators", "indicators"), ("inconsistencies", "inconsistencies"),
                    ("source", "source")]
            emit(format_csv(rows, cols) if args.format == "csv" else format_table(rows, cols))
            for r in rows:
                for x in r.get("citation_problems", []):
                    emit(f"{r['region']}: {x}")
        return 1 if bad else 0
    p = load_plan(args.region)
    problems = (verify_citations(p, args.seeds) + verify_rule_citations(p.region.id, args.seeds)
                if args.seeds else [])
    figs = [{**plain(f), "declared": f"{_SYMBOL[f.comparator]}{f.value:g} {f.unit}",
             "filter": ", ".join(f"{k}={'/'.join(v)}" for k, v in f.filter.items()),
             "cite": f"L{f.line}"} for f in p.figures]
    if args.format == "json":
        emit(to_json({"plan": str(p.path), "region": plain(p.region), "figures": figs,
                      "setbacks": plain(p.setbacks),
                      "inconsistencies": plain(p.inconsistencies),
                      "indicators": plain(p.indicators), "citation_problems": problems}))
        return 1 if problems else 0
    cols = [("id", "figure"), ("name_zh", "名称"), ("kind", "kind"), ("filter", "filter"),
            ("measure", "measure"), ("declared", "declared"), ("si", "SI"),
            ("si_unit", "SI unit"), ("tolerance", "tol"), ("cite", "source")]
    if args.format == "csv":
        emit(format_csv(figs, cols))
        return 1 if problems else 0
    r = p.region
    total = f"{r.total_area.value:g} {r.total_area.unit} (L{r.total_area.line})" \
        if r.total_area else "not declared"
    emit(format_table(figs, cols, digits=6, title=(
        f"{r.name_zh} ({r.id}) — {r.plan_title}, {r.period[0]}-{r.period[1]}; "
        f"total area {total}; source {r.source}")))
    if p.setbacks:
        emit("")
        emit(format_table([{**plain(s), "cite": f"L{s.line}",
                            "distance": f"{s.min:g}" + (f"-{s.max:g}" if s.max != s.min else "")
                            + f" {s.unit}", "targets": "、".join(s.targets)}
                           for s in p.setbacks],
                          [("id", "setback"), ("targets", "from"), ("distance", "distance"),
                           ("applies_to", "applies to"), ("cite", "source")]))
    if p.inconsistencies:
        emit("\ninconsistencies (recorded, not resolved):")
        for x in p.inconsistencies:
            emit(f"  [{x.type}] {x.id}: {x.description}")
    emit(f"\n{len(p.indicators)} indicator rows (--format json to see them)")
    for x in problems:
        emit(f"citation: {x}")
    return 1 if problems else 0
