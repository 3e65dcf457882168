"""Every analysis command gives the GeoPackage's answer on the PostGIS workspace (to 1e-9).

The synthetic 安居区 demo workspace (18 layers, ~42 000 features, rasters) is copied into a
fresh PostGIS database with :func:`ecogis.storage.migrate.copy_workspace`; each command runs
with ``--format json`` on both and the outputs must agree number for number (relative 1e-9),
except for the fields naming the workspace itself, output paths and import times.
"""

from __future__ import annotations

import json
import math

import pytest
from _pg import create_db, drop_db

from ecogis.demo import build_demo_workspace
from ecogis.storage.migrate import copy_workspace

pytestmark = pytest.mark.slow

#: keys whose values name the workspace or the output, not an answer
_WHERE = {"workspace", "target", "before", "after", "output", "bytes", "imported_at", "source_file",
          "path"}


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    gpkg = tmp_path_factory.mktemp("demo") / "anju.gpkg"
    build_demo_workspace(gpkg, region="anju", seed=20231)
    url, name = create_db()
    copy_workspace(gpkg, url)
    yield str(gpkg), url
    drop_db(name)


def _diffs(a, b, path="") -> list:
    if isinstance(a, dict) and isinstance(b, dict):
        out = [] if set(a) == set(b) else [(path, "keys", sorted(set(a) ^ set(b)))]
        for k in set(a) & set(b):
            if k not in _WHERE:
                out += _diffs(a[k], b[k], f"{path}/{k}")
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [(path, "len", len(a), len(b))]
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in _diffs(x, y, f"{path}[{i}]")]
    if (isinstance(a, float) or isinstance(b, float)) and not isinstance(a, bool) \
            and isinstance(a, (int, float)) and isinstance(b, (int, float)):
        ok = a == b or (math.isnan(a) and math.isnan(b)) or \
            abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))
        return [] if ok else [(path, a, b)]
    return [] if a == b else [(path, a, b)]


@pytest.mark.parametrize("argv", [
    ["layers", "{ws}"],
    ["areas", "{ws}"],
    ["overlaps", "{ws}"],
    ["check", "{ws}", "--lonlat", "105.45,30.35", "--lonlat", "105.52,30.41", "--radius", "300",
     "--category", "urban"],
    ["check", "{ws}", "--wkt", "POLYGON((105.40 30.30,105.43 30.30,105.43 30.33,105.40 30.33,"
     "105.40 30.30))", "--category", "industrial"],
    ["diff", "{ws}{sep}redline", "{ws}{sep}eco_control"],
    ["reconcile", "{ws}"],
    ["indicators", "{ws}"],
    ["map", "{ws}", "--public", "--include-nonpublic", "-o", "{out}"],
], ids=lambda a: " ".join(a[:3])[:40])
def test_command_gives_the_geopackage_answer(pair, argv, run_cli, tmp_path):
    results = []
    for ws, sep in ((pair[0], ":"), (pair[1], "#")):
        args = [a.format(ws=ws, sep=sep, out=tmp_path / f"m{len(results)}.html") for a in argv]
        code, out, err = run_cli(*args, "--format", "json")
        assert code in (0, 1), err
        results.append((code, json.loads(out)))
    (code_g, gp), (code_p, pg) = results
    assert code_g == code_p
    assert _diffs(gp, pg) == []
    assert json.dumps(gp) != "{}"
