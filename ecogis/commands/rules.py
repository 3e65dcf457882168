"""``ecogis rules [--region R]``: the rulebook as a coverage table (rule, kind, test, verdict)."""

from __future__ import annotations

from ecogis.report import add_format_argument, emit, format_csv, format_table, to_json


def register(sub) -> None:
    p = sub.add_parser(
        "rules", help="list the siting rulebook as a coverage table (layers/rules/*.toml)",
        description="Every rule that applies with --region R (the national baseline plus the "
        "region's seed rules): kind, test, verdict by category, seed file and line, whether "
        "the cited wording is verified, and which rule it overrides; then which of the plan's "
        "rules are encoded and why the others are not.")
    p.add_argument("--region", help="region id or name (default: the national baseline only)")
    add_format_argument(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ecogis.rule_coverage import rulebook_table

    t = rulebook_table(args.region)
    if args.format == "json":
        emit(to_json(t))
        return 0
    rows = [{**r, "categories": "、".join(r["categories_zh"]),
             "verdict": f"{r['verdict']} {r['verdict_zh']}",
             "verified": "yes" if r["verified"] else "no",
             "overrides": ", ".join(r["overrides"])} for r in t["rules"]]
    cols = [("rule", "rule"), ("plan_rule", "plan"), ("kind", "kind"), ("test_zh", "test"),
            ("categories", "categories"), ("verdict", "verdict"), ("seed", "seed line"),
            ("verified", "verified"), ("overrides", "overrides")]
    if args.format == "csv":
        emit(format_csv(rows, cols))
        return 0
    emit(format_table(rows, cols, title=f"{t['region_name']} ({t['region']}): "
                      f"{len(rows)} rules from {' + '.join(t['files'])}; "
                      f"{t['verified']} with verified wording"))
    cov = t["coverage"]
    if cov:
        emit(f"\nplan rules: {cov['plan_rules']}, encoded {cov['encoded']}, "
             f"not encoded {cov['not_encoded']} ({cov['source']})")
        for pr, why in cov["reasons_not_encoded"].items():
            emit(f"  {pr}: {why}")
    return 0
