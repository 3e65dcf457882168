"""The rulebook as a coverage table: which plan rules are encoded, how, and which are not.

Pure data over :mod:`ecogis.rules`: ``ecogis rules --region R`` prints it and
``scripts/rules_doc.py`` writes ``docs/rules.md`` from it, so the documentation cannot drift
from the rule files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ecogis.rules import ANY, VERDICT_ZH, Rule, load_rule_files, load_rulebook


def _rnum(pr: str) -> tuple[int, str]:
    m = re.match(r"R(\d+)", pr)
    return (int(m.group(1)) if m else 10_000, pr)


@dataclass
class PlanCoverage:
    """Coverage of one plan: its R-numbered rules, encoded or not, with the reasons."""

    region: str
    name_zh: str
    source: str
    encoded: dict[str, list[str]] = field(default_factory=dict)  # R# -> rule ids
    not_encoded: dict[str, str] = field(default_factory=dict)  # R# -> reason

    @property
    def plan_rules(self) -> list[str]:
        return sorted(set(self.encoded) | set(self.not_encoded), key=_rnum)

    def as_dict(self) -> dict[str, Any]:
        return {"region": self.region, "name_zh": self.name_zh, "source": self.source,
                "plan_rules": len(self.plan_rules), "encoded": len(self.encoded),
                "not_encoded": len(self.not_encoded),
                "rules_encoded": {k: v for k, v in sorted(self.encoded.items(),
                                                          key=lambda kv: _rnum(kv[0]))},
                "reasons_not_encoded": {k: v for k, v in sorted(self.not_encoded.items(),
                                                                key=lambda kv: _rnum(kv[0]))}}


def plan_coverage() -> list[PlanCoverage]:
    """Return the coverage of every regional rule file (``plan_rule`` and ``[[not_encoded]]``)."""
    out = []
    for rf in load_rule_files():
        if rf.region == "national":
            continue
        pc = PlanCoverage(region=rf.region, name_zh=rf.name_zh, source=rf.source)
        for r in rf.rules:
            pc.encoded.setdefault(r.plan_rule or "(unnumbered)", []).append(r.id)
        for pr, why in rf.not_encoded:
            pc.not_encoded[pr] = why
        out.append(pc)
    return out


def rule_row(rule: Rule, categories) -> dict[str, Any]:
    """One rule as a coverage-table row (all keys plain JSON)."""
    c = rule.citation
    cats = [("全部类别" if x == ANY else categories[x].name_zh) for x in rule.categories]
    test = rule.describe_test()
    if rule.site_filtered:
        test += f"；{rule.describe_site_filter()}"
    if rule.feature_categories:
        test += f"；要素字段 {rule.feature_categories} 列出的类别"
    return {
        "rule": rule.id, "plan_rule": rule.plan_rule, "rulebook": rule.rulebook,
        "kind": rule.kind, "test": rule.test, "test_zh": test,
        "categories": list(rule.categories), "categories_zh": cats,
        "verdict": rule.verdict, "verdict_zh": VERDICT_ZH[rule.verdict],
        "verdict_by_category": {x: rule.verdict for x in rule.categories},
        "where": {k: list(v) for k, v in rule.where.items()},
        "seed": (f"{c.file} L{c.line}" if c.file and c.line else ""),
        "document": c.document, "clause": c.clause, "quote": c.quote,
        "verified": c.verified, "overrides": list(rule.overrides),
        "procedures": list(rule.procedures), "approval": rule.approval,
        "restated_in": [f"{f} L{ln}" for f, ln, _ in c.restated_in],
    }


def rulebook_table(region: str | None) -> dict[str, Any]:
    """The rulebook of ``region`` (national baseline included) as rows plus plan coverage."""
    rb = load_rulebook(region)
    rows = [rule_row(r, rb.categories) for r in rb.rules]
    cov = next((p for p in plan_coverage() if p.region == rb.region), None)
    return {"region": rb.region or "national", "region_name": rb.region_name,
            "files": list(rb.files), "rules": rows,
            "coverage": cov.as_dict() if cov else None,
            "verified": sum(1 for r in rows if r["verified"]),
            "unverified": [r["rule"] for r in rows if not r["verified"]]}
