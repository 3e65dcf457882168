"""``ecogis rules``: the rulebook as a coverage table, and docs/rules.md generated from it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ecogis.cli import main
from ecogis.rule_coverage import plan_coverage

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("region", ["anju", "ziyang", "shawan", "yongchuan", "tongnan"])
def test_rules_json_lists_every_rule_with_its_seed_line(region, capsys):
    assert main(["rules", "--region", region, "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["region"] == region
    mine = [r for r in d["rules"] if r["rulebook"] == region]
    assert mine and all(r["seed"].startswith("00") and " L" in r["seed"] for r in mine)
    for r in d["rules"]:
        assert set(r) >= {"rule", "kind", "test", "verdict_by_category", "seed", "verified",
                          "overrides", "procedures"}
        assert set(r["verdict_by_category"].values()) == {r["verdict"]}
    cov = d["coverage"]
    assert cov["encoded"] + cov["not_encoded"] == cov["plan_rules"]
    assert set(cov["rules_encoded"]).isdisjoint(cov["reasons_not_encoded"])
    assert d["unverified"] == [r["rule"] for r in d["rules"] if not r["verified"]]


def test_rules_table_and_national_baseline(capsys):
    assert main(["rules"]) == 0
    out = capsys.readouterr().out
    assert "national.redline.default" in out and "全国基线" in out


def test_at_least_110_plan_rules_are_encoded():
    cov = plan_coverage()
    assert sum(len(p.encoded) for p in cov) >= 110
    for p in cov:  # every R-number of the plan is either encoded or has a reason
        nums = sorted(int(x[1:]) for x in p.plan_rules)
        assert nums == list(range(1, len(nums) + 1)), p.region


def test_docs_rules_md_is_up_to_date():
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "rules_doc.py"), "--check"],
                       capture_output=True, text=True, cwd=ROOT,
                       env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
