"""Shared fixtures: real district boundaries and an independent area reference."""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Geod

DATA = Path(__file__).parent / "data"

#: an independent reference: pyproj's GRS80 ellipsoid (equal to CGCS2000's for areas)
REF_GEOD = Geod(ellps="GRS80")


#: lon/lat edges are straight in lon/lat (an edge is straight in its own layer's CRS): the
#: reference splits them to 0.0001° (~10 m) so the geodesics between vertices follow them
REF_DENSIFY_DEG = 1e-4


def ref_area_m2(geom_lonlat) -> float:
    """Independent ellipsoidal area (m²) of a lon/lat geometry: pyproj on oriented rings, its
    lon/lat-straight edges densified to :data:`REF_DENSIFY_DEG` first."""
    dense = shapely.segmentize(geom_lonlat, REF_DENSIFY_DEG)
    return abs(REF_GEOD.geometry_area_perimeter(shapely.orient_polygons(dense))[0])


def ref_area_plane_m2(geom, crs) -> float:
    """Independent ellipsoidal area (m²) of geometry in a plane (GK zone): its edges, straight
    in the plane, densified to 1 m, the vertices moved to lon/lat with plain pyproj."""
    from pyproj import Transformer

    t = Transformer.from_crs(crs, 4490, always_xy=True)
    ll = shapely.transform(shapely.segmentize(geom, 1.0), lambda xy: np.column_stack(
        t.transform(xy[:, 0], xy[:, 1])))
    return abs(REF_GEOD.geometry_area_perimeter(shapely.orient_polygons(ll))[0])


@pytest.fixture(scope="session")
def admin_units() -> gpd.GeoDataFrame:
    """The 8 real district boundaries (EPSG:4490)."""
    return gpd.read_file(DATA / "admin_units.gpkg")


@pytest.fixture(scope="session")
def anju(admin_units) -> gpd.GeoDataFrame:
    """The real 安居区 boundary (EPSG:4490), one feature."""
    return admin_units[admin_units["name"] == "安居区"].reset_index(drop=True)


@pytest.fixture()
def run_cli(capsys):
    """Run ``ecogis`` in-process: returns (exit code, stdout, stderr)."""
    from ecogis.cli import main

    def _run(*argv: str):
        code = main([str(a) for a in argv])
        out = capsys.readouterr()
        return code, out.out, out.err

    return _run


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    os.environ.pop("ECOGIS_DEBUG", None)
    np.random.seed(0)
