"""Synthetic 三调 地类图斑 (DLTB) files for the tests: real GeoPackage and GBK shapefile formats.

A 6 × 4 grid of 100 m × 80 m parcels in the prefixed CGCS2000 zone-35 plane (EPSG:4523) near
安居区 (105.45°E, 30.35°N), with TD/T 1057 fields. The shapefile carries the pinyin codes (dBase
names are ≤ 10 bytes), the GeoPackage the Chinese field names (标识码, 地类编码 ...). Three
parcels declare a TBMJ that differs from their geometry (planted mismatches).
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from pyproj import Transformer

CRS = "EPSG:4523"
X0, Y0 = 35_543_000.0, 3_358_000.0  # zone-35 prefixed easting, northing (≈ 105.45°E, 30.35°N)
W, H = 100.0, 80.0
NX, NY = 6, 4

#: (DLBM, DLMC, KCXS) per column: 旱地 with slope-dependent 田坎 coefficients, 水田, 果园 ...
CLASSES = [
    ("0103", "旱地", 0.152), ("0101", "水田", 0.042), ("0201", "果园", 0.0),
    ("0301", "乔木林地", 0.0), ("0702", "农村宅基地", 0.0), ("1104", "坑塘水面", 0.0),
]
#: parcels (row, col) whose declared TBMJ is off by the given m²
PLANTED = {(0, 2): 12.5, (2, 4): -3.0, (3, 5): 0.4}


def _geod_area(poly: shapely.Polygon) -> float:
    """Independent ellipsoidal area (m², CGCS2000/GRS80) of a GK polygon: vertices densified
    to 1 m so an edge stays straight in the plane, then pyproj's geodesic polygon area."""
    from pyproj import Geod

    tr = Transformer.from_crs(CRS, "EPSG:4490", always_xy=True)
    dense = shapely.segmentize(poly, 1.0)
    x, y = np.asarray(dense.exterior.coords).T
    lon, lat = tr.transform(x, y)
    geod = Geod(ellps="GRS80")
    return abs(geod.polygon_area_perimeter(lon, lat)[0])


def parcels() -> gpd.GeoDataFrame:
    """Return the parcels with pinyin field names, TBMJ declared (mostly exact to 0.01 m²)."""
    rows, geoms = [], []
    bsm = 510903_0000
    for r in range(NY):
        for c in range(NX):
            code, name, kcxs = CLASSES[c]
            if (r, c) == (1, 1):
                code, name, kcxs = "1203", "田坎", 0.0  # a 田坎 parcel of its own
            if (r, c) == (3, 0):
                code, name, kcxs = "1101", "河流水面", 0.0
            if code == "0103":
                kcxs = [0.152, 0.081, 0.152, 0.234][r]  # by 耕地坡度级别
            poly = shapely.box(X0 + c * W, Y0 + r * H, X0 + (c + 1) * W, Y0 + (r + 1) * H)
            area = _geod_area(poly)
            tbmj = round(area + PLANTED.get((r, c), 0.0), 2)
            kcmj = round(tbmj * kcxs, 2)
            bsm += 1
            rows.append({
                "BSM": bsm, "YSDM": "2001010100", "TBYBH": f"{r * NX + c + 1:04d}",
                "TBBH": f"{r * NX + c + 1}", "DLBM": code, "DLMC": name, "QSXZ": "30",
                "QSDWDM": "510903101001", "QSDWMC": "安居村民委员会", "ZLDWDM": "510903101001",
                "ZLDWMC": "安居镇安居村", "TBMJ": tbmj, "KCDLBM": "1203" if kcxs else "",
                "KCXS": kcxs, "KCMJ": kcmj, "TBDLMJ": round(tbmj - kcmj, 2),
                "GDLX": "PD" if code.startswith("01") else "", "GDPDJB": str(r + 2)
                if code.startswith("01") else "", "SJNF": 2022,
            })
            geoms.append(poly)
    return gpd.GeoDataFrame(rows, geometry=geoms, crs=CRS)


#: pinyin code -> Chinese field name (TD/T 1057 attribute table)
ZH = {"BSM": "标识码", "YSDM": "要素代码", "TBYBH": "图斑预编号", "TBBH": "图斑编号",
      "DLBM": "地类编码", "DLMC": "地类名称", "QSXZ": "权属性质", "QSDWDM": "权属单位代码",
      "QSDWMC": "权属单位名称", "ZLDWDM": "坐落单位代码", "ZLDWMC": "坐落单位名称",
      "TBMJ": "图斑面积", "KCDLBM": "扣除地类编码", "KCXS": "扣除地类系数", "KCMJ": "扣除地类面积",
      "TBDLMJ": "图斑地类面积", "GDLX": "耕地类型", "GDPDJB": "耕地坡度级别", "SJNF": "数据年份"}


def write_shapefile(folder: Path) -> Path:
    """Write ``DLTB.shp`` with GBK text and no .cpg (as many county exports are)."""
    p = Path(folder) / "DLTB.shp"
    parcels().to_file(p, encoding="gbk")
    p.with_suffix(".cpg").unlink(missing_ok=True)
    return p


def write_gpkg(folder: Path) -> Path:
    """Write ``dltb_zh.gpkg`` (layer DLTB) with the Chinese field names."""
    p = Path(folder) / "dltb_zh.gpkg"
    parcels().rename(columns=ZH).to_file(p, layer="DLTB", driver="GPKG")
    return p
