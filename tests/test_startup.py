"""Start-up: the CLI imports only what the command needs; GeoPackage metadata without GDAL."""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely

from ecogis import gpkg
from ecogis.cli import COMMANDS, build_parser

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("geopandas", "shapely", "pandas", "pyogrio", "pyproj", "folium", "rasterio", "fiona")


_PROBE = (
    "import json, sys\n"
    "from ecogis.cli import main\n"
    "code = main(sys.argv[2:])\n"
    "sys.stdout.flush()\n"
    "open(sys.argv[1], 'w').write(json.dumps(sorted(sys.modules)))\n"
    "sys.exit(code)\n"
)


def imported_by(*argv: str, tmp: Path) -> tuple[set[str], subprocess.CompletedProcess]:
    """Run the CLI with ARGV in a fresh interpreter; return the modules it had imported."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = tmp / "modules.json"
    proc = subprocess.run([sys.executable, "-c", _PROBE, str(out), *argv],
                          capture_output=True, text=True, env=env, timeout=120)
    import json

    mods = set(json.loads(out.read_text()))
    return mods | {m.split(".")[0] for m in mods}, proc


@pytest.mark.parametrize("argv", [["--version"], ["--help"], []])
def test_version_and_help_import_no_geo_stack(argv, tmp_path):
    mods, proc = imported_by(*argv, tmp=tmp_path)
    assert "ecogis.cli" in mods and "argparse" in mods
    assert not set(HEAVY) & mods, sorted(set(HEAVY) & mods)
    assert not {m for m in mods if m.startswith("ecogis.commands.")}
    if argv == ["--version"]:
        assert proc.returncode == 0 and proc.stdout.startswith("ecogis ")
    if argv == ["--help"]:
        for name in COMMANDS:
            assert f"    {name}" in proc.stdout


@pytest.fixture()
def workspace(tmp_path):
    """A workspace with a polygon layer in EPSG:4523, a point layer in 4490 and a table."""
    from ecogis.workspace import Workspace

    rng = np.random.default_rng(3)
    x0, y0 = 35_530_000.0, 3_360_000.0
    boxes = [shapely.box(x0 + i * 120, y0 + j * 90, x0 + i * 120 + 100, y0 + j * 90 + 80)
             for i in range(7) for j in range(5)]
    ws = Workspace.open(tmp_path / "ws.gpkg", create=True)
    ws.write("farmland", gpd.GeoDataFrame({"DLBM": ["0101"] * len(boxes)}, geometry=boxes,
                                         crs=4523), kind="farmland")
    pts = shapely.points(rng.uniform([105.1, 30.2], [105.6, 30.5], size=(9, 2)))
    ws.write("sites", gpd.GeoDataFrame({"name": [f"s{i}" for i in range(9)]}, geometry=pts,
                                      crs=4490), kind="generic")
    return ws


def test_layers_runs_without_shapely(workspace, tmp_path):
    mods, proc = imported_by("layers", str(workspace.path), "--format", "json", tmp=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "ecogis.commands.layers" in mods
    assert not {"shapely", "geopandas", "pyogrio", "pandas", "fiona"} & mods
    import json

    layers = {d["name"]: d for d in json.loads(proc.stdout)["layers"]}
    assert layers["farmland"]["features"] == 35 and layers["sites"]["features"] == 9
    assert layers["farmland"]["crs"].startswith("EPSG:4523")


def test_gpkg_metadata_equals_pyogrio(workspace, tmp_path):
    path = workspace.path
    want = [(str(n), str(g)) for n, g in pyogrio.list_layers(path) if g is not None]
    assert gpkg.feature_tables(path) == want
    for name, _ in want:
        ref = pyogrio.read_info(path, layer=name)
        got = gpkg.table_info(path, name)
        assert got["crs"] == ref["crs"]
        assert got["geometry_type"] == ref["geometry_type"]
        assert got["features"] == ref["features"]
        assert got["fields"] == [str(f) for f in ref["fields"]]
        assert got["total_bounds"] == pytest.approx(tuple(ref["total_bounds"]), abs=0)
    # a GeoPackage written by GDAL directly (no ecogis tables), 3D points
    other = tmp_path / "z.gpkg"
    gpd.GeoDataFrame({"v": [1, 2]}, geometry=shapely.points([[1, 2, 3], [4, 5, 6]]),
                     crs=4326).to_file(other, layer="pz")
    ref = pyogrio.read_info(other, layer="pz")
    got = gpkg.table_info(other, "pz")
    assert (got["geometry_type"], got["crs"], got["features"], got["fields"]) == (
        ref["geometry_type"], ref["crs"], ref["features"], [str(f) for f in ref["fields"]])


def test_lazy_help_matches_each_module():
    """The help listed without importing a command equals the help its module registers."""
    for name, (module, help_text) in COMMANDS.items():
        parser = argparse.ArgumentParser()
        sub = parser.add_subparsers()
        importlib.import_module(f"ecogis.commands.{module}").register(sub)
        actions = {a.dest: a.help for a in sub._choices_actions}
        assert actions.get(name) == help_text, name


def test_full_parser_of_the_requested_command_only():
    parser = build_parser(["overlaps", "x.gpkg"])
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert any(a.option_strings == ["--format"] for a in sub.choices["overlaps"]._actions)
    assert not any(a.option_strings == ["--format"] for a in sub.choices["areas"]._actions)
