"""The bad-input corpus: 100+ real bad or awkward files, each asserting its class.

Every file is generated here (pyogrio/GDAL writers, raw shapefile bytes, openpyxl) and imported
through the CLI as a new user would. Each case ends in exactly one of:

- ``Error``: exit 2, one line naming the file (and the feature when one is to blame), what is
  wrong and ``(fix: ...)``; when the fix is a flag, the test re-runs with it and checks it works;
- ``Repair``: exit 0 and the repair is reported (what changed; area before/after for geometry);
- ``Right``: exit 0 and the stored area equals pyproj.Geod on GRS80 (= CGCS2000 for areas) of
  the intended geometry, computed here.

No case may end in a traceback (exit 3) or a silent change.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pyogrio
import pytest
import shapely
from conftest import REF_GEOD

from ecogis.workspace import Workspace

pytestmark = pytest.mark.filterwarnings("ignore::ecogis.errors.EcogisWarning")

# a 2 km × 2 km parcel and a smaller one near 安居区, lon/lat (CGCS2000)
A = shapely.box(105.40, 30.30, 105.42, 30.32)
B = shapely.box(105.43, 30.30, 105.44, 30.31)


def geod_area(g) -> float:
    """Independent ellipsoidal area (m²) of a lon/lat geometry."""
    return sum(abs(REF_GEOD.geometry_area_perimeter(shapely.orient_polygons(p))[0])
               for p in shapely.get_parts(g))


@dataclass
class Error:
    match: str                      # regex the one-line message must match
    feature: object | None = None   # the feature the message must name
    fix_args: tuple = ()            # a flag fix that must make the import succeed
    fix_area: float | None = None   # expected area after the fix (m²)


@dataclass
class Repair:
    match: str                      # regex the repair summary must match
    area: float | None = None       # expected stored area (m²)
    area_change: bool = False       # the summary must state the area change


@dataclass
class Right:
    area: float                     # expected stored area (m²)
    values: dict = field(default_factory=dict)  # column -> expected set of values


@dataclass
class Case:
    id: str
    build: Callable[[Path], Path | str]
    expect: Error | Repair | Right
    kind: str = "generic"
    args: tuple = ()


CASES: list[Case] = []


def case(id_: str, expect, kind: str = "generic", args: tuple = ()):
    def deco(fn):
        CASES.append(Case(id_, fn, expect, kind, args))
        return fn
    return deco


# --- writers ----------------------------------------------------------------------------

def frame(geoms, crs=4490, **cols) -> gpd.GeoDataFrame:
    n = len(geoms)
    data = {k: (v if isinstance(v, list) else [v] * n) for k, v in cols.items()}
    return gpd.GeoDataFrame(data or {"id": list(range(1, n + 1))}, geometry=list(geoms), crs=crs)


def shp(tmp: Path, gdf: gpd.GeoDataFrame, name="f", *, encoding="utf-8", prj=True, cpg=True
        ) -> Path:
    p = tmp / f"{name}.shp"
    gdf.to_file(p, encoding=encoding)
    if not prj:
        p.with_suffix(".prj").unlink(missing_ok=True)
    if not cpg:
        p.with_suffix(".cpg").unlink(missing_ok=True)
    return p


def geojson_text(tmp: Path, features: list[dict], name="f", crs: str | None = None) -> Path:
    d = {"type": "FeatureCollection", "features": features}
    if crs:
        d["crs"] = {"type": "name", "properties": {"name": crs}}
    p = tmp / f"{name}.geojson"
    p.write_text(json.dumps(d), encoding="utf-8")
    return p


def feat(coords, gtype="Polygon", **props):
    return {"type": "Feature", "properties": props or {"id": 1},
            "geometry": None if coords is None else {"type": gtype, "coordinates": coords}}


def ring(g) -> list:
    return [list(c) for c in g.exterior.coords]


def in_crs(g, crs):
    return gpd.GeoSeries([g], crs=4490).to_crs(crs).iloc[0]


def shp_polygon_bytes(tmp: Path, rings_per_record: list[list[list[tuple]]], name="raw",
                      prj_epsg=4490, dbf_records: int | None = None) -> Path:
    """Write a polygon shapefile byte by byte (rings exactly as given: order, closure)."""
    recs = []
    for i, rings in enumerate(rings_per_record, start=1):
        pts = [p for r in rings for p in r]
        parts, k = [], 0
        for r in rings:
            parts.append(k)
            k += len(r)
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        content = struct.pack("<i4d2i", 5, min(xs), min(ys), max(xs), max(ys), len(rings), len(pts))
        content += struct.pack(f"<{len(parts)}i", *parts)
        content += b"".join(struct.pack("<2d", *p) for p in pts)
        recs.append(struct.pack(">2i", i, len(content) // 2) + content)
    allx = [p[0] for rr in rings_per_record for r in rr for p in r]
    ally = [p[1] for rr in rings_per_record for r in rr for p in r]
    body = b"".join(recs)

    def header(length_bytes):
        h = struct.pack(">7i", 9994, 0, 0, 0, 0, 0, length_bytes // 2)
        h += struct.pack("<2i", 1000, 5)
        h += struct.pack("<8d", min(allx), min(ally), max(allx), max(ally), 0, 0, 0, 0)
        return h

    p = tmp / f"{name}.shp"
    p.write_bytes(header(100 + len(body)) + body)
    shx = b""
    off = 100
    for r in recs:
        shx += struct.pack(">2i", off // 2, (len(r) - 8) // 2)
        off += len(r)
    p.with_suffix(".shx").write_bytes(header(100 + len(shx)) + shx)
    n = len(recs) if dbf_records is None else dbf_records
    dbf = struct.pack("<4BIHH20x", 3, 126, 1, 1, n, 32 + 32 + 1, 1 + 10)
    dbf += b"ID".ljust(11, b"\x00") + b"N" + bytes(4) + bytes([10, 0]) + bytes(14)
    dbf += b"\r" + b"".join(b" " + str(i + 1).rjust(10).encode() for i in range(n)) + b"\x1a"
    p.with_suffix(".dbf").write_bytes(dbf)
    from pyproj import CRS

    p.with_suffix(".prj").write_text(CRS.from_epsg(prj_epsg).to_wkt("WKT1_ESRI"))
    return p


def cw(g) -> list[tuple]:
    """Exterior ring clockwise (shapefile outer ring)."""
    return list(shapely.orient_polygons(g, exterior_cw=True).exterior.coords)


def ccw(g) -> list[tuple]:
    return list(shapely.orient_polygons(g).exterior.coords)


def xlsx(tmp: Path, header, rows, name="t", title="界址点坐标表") -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    if title:
        ws.append([title])
    ws.append(list(header))
    for r in rows:
        ws.append(list(r))
    p = tmp / f"{name}.xlsx"
    wb.save(p)
    return p


def jzd_rows(geoms_lonlat, crs=4523, close=False, ids=None):
    rows = []
    for k, g in enumerate(geoms_lonlat):
        gk = in_crs(g, crs)
        rs = [gk.exterior, *gk.interiors]
        for q, r in enumerate(rs, start=1):
            coords = list(r.coords) if close else list(r.coords)[:-1]
            for i, (e, n) in enumerate(coords, start=1):
                rows.append([ids[k] if ids else f"D{k + 1}", f"地块{k + 1}", q, f"J{i}",
                             round(n, 4), round(e, 4)])
    return rows


JZD_HEAD = ["地块编号", "地块名称", "圈号", "点号", "X", "Y"]


def jzd_txt(tmp: Path, geoms_lonlat, *, header_cs="2000国家大地坐标系", close=True,
            encoding="utf-8", zone=35, swap=False, extra_line=None, name="j") -> Path:
    lines = ["[属性描述]", f"坐标系={header_cs}", "几度分带=3", "投影类型=高斯克吕格", "计量单位=米",
             f"带号={zone}", "精度=0.001", "[地块坐标]"]
    for k, g in enumerate(geoms_lonlat, start=1):
        gk = in_crs(g, 4490 + 33 + (zone - 35) if zone != 35 else 4523)
        coords = list(gk.exterior.coords) if close else list(gk.exterior.coords)[:-1]
        lines.append(f"{len(coords)},{geod_area(g) / 1e4:.4f},{k},地块{k},面,,工业用地,,@")
        for i, (e, n) in enumerate(coords, start=1):
            a, b = (e, n) if swap else (n, e)
            lines.append(f"J{i},1,{a:.3f},{b:.3f}")
    if extra_line:
        lines.append(extra_line)
    p = tmp / f"{name}.txt"
    p.write_bytes("\r\n".join(lines).encode(encoding))
    return p


AREA_AB = geod_area(A) + geod_area(B)
HOLE_CW = shapely.box(105.405, 30.305, 105.41, 30.31)
AREA_A = geod_area(A)
TOWGS = "24,-123,-94,0.02,-0.25,-0.13,1.1"
# ============================================================================ CRS (26)


@case("crs-lonlat-no-prj", Right(AREA_AB))
def _(t):
    return shp(t, frame([A, B]), prj=False)


@case("crs-gk35-prefixed-no-prj", Right(AREA_AB))
def _(t):
    return shp(t, frame([A, B]).to_crs(4523), prj=False)


@case("crs-gk-6digit-no-prj", Error(r"EPSG:4544", fix_args=("--crs", "EPSG:4544"), fix_area=AREA_AB))
def _(t):
    return shp(t, frame([A, B]).to_crs(4544), prj=False)


@case("crs-prj-geographic-coords-projected", Error(r"geographic but coordinates are projected",
                                                   fix_args=("--crs", "EPSG:4523"), fix_area=AREA_AB))
def _(t):
    return shp(t, frame([A, B]).to_crs(4523).set_crs(4490, allow_override=True))


@case("crs-prj-projected-coords-lonlat", Error(r"projected but coordinates are lon/lat",
                                               fix_args=("--crs", "EPSG:4490"), fix_area=AREA_AB))
def _(t):
    return shp(t, frame([A, B]).set_crs(4523, allow_override=True))


@case("crs-wrong-zone-prefix", Error(r"prefix 35"), args=("--crs", "EPSG:4524"))
def _(t):
    return shp(t, frame([A, B]).to_crs(4523), prj=False)


@case("crs-xy-swapped-gk", Error(r"swapped|northing"))
def _(t):
    g = frame([A]).to_crs(4523)
    g = g.set_geometry(shapely.transform(g.geometry.values, lambda xy: xy[:, ::-1]))
    return shp(t, g, prj=False)


@case("crs-sumatra-lonlat", Error(r"outside China"))
def _(t):
    return shp(t, frame([shapely.box(100.2, 0.2, 100.8, 0.8)]))


@case("crs-sumatra-utm47", Error(r"outside China"))
def _(t):
    return shp(t, frame([shapely.box(100.2, 0.2, 100.8, 0.8)]).to_crs(32647))


@case("crs-europe-lonlat-no-prj", Error(r"outside China|CRS"))
def _(t):
    return shp(t, frame([shapely.box(2.3, 48.8, 2.4, 48.9)]), prj=False)


@case("crs-one-feature-latlon", Error(r"\(lat, lon\) order", feature=3))
def _(t):
    swapped = shapely.transform(B, lambda xy: xy[:, ::-1])
    return geojson_text(t, [feat([ring(A)], id=1), feat([ring(A.buffer(-0.001))], id=2),
                            feat([ring(swapped)], id=3)])


@case("crs-one-feature-projected-among-lonlat", Error(r"mixes CRSs"))
def _(t):
    gk = in_crs(B, 4523)
    return geojson_text(t, [feat([ring(A)]), feat([ring(A.buffer(-0.002))]), feat([ring(gk)])])


@case("crs-whole-file-latlon", Error(r"LAT|lat|swap|outside|projected"))
def _(t):
    g = frame([A]).set_geometry([shapely.transform(A, lambda xy: xy[:, ::-1])])
    return shp(t, g, prj=False)


@case("crs-wgs84-file", Right(AREA_AB))
def _(t):
    return shp(t, frame([A, B]).set_crs(4326, allow_override=True))


@case("crs-web-mercator", Right(AREA_AB))
def _(t):
    return shp(t, frame([A.segmentize(0.0005), B.segmentize(0.0005)]).to_crs(3857))


@case("crs-gk6-zone18-prefixed", Right(AREA_AB))
def _(t):
    return shp(t, frame([A, B]).to_crs(4496))


@case("crs-gk35-with-prj", Right(AREA_AB))
def _(t):
    return shp(t, frame([A, B]).to_crs(4523))


def _legacy(t, epsg, *, name="legacy"):
    # coordinates written as if already in the legacy CRS: the CGCS2000 twin's numbers
    from pyproj import CRS

    from ecogis.formats.datum import cgcs2000_twin

    twin = cgcs2000_twin(CRS.from_epsg(epsg))
    g = frame([A, B]).to_crs(twin).set_crs(epsg, allow_override=True)
    return shp(t, g, name=name)


def legacy_expected(epsg) -> float:
    """Area after the --towgs84 Helmert shift, computed with a pyproj pipeline of our own."""
    from pyproj import CRS, Transformer

    from ecogis.formats.datum import cgcs2000_twin

    src = CRS.from_epsg(epsg)
    twin = cgcs2000_twin(src)
    g = frame([A, B]).to_crs(twin)
    to_geo = Transformer.from_crs(CRS.from_proj4(src.to_proj4() + f" +towgs84={TOWGS}"),
                                  CRS.from_proj4("+proj=longlat +ellps=GRS80 +towgs84=0,0,0 +no_defs"),
                                  always_xy=True)
    total = 0.0
    for geom in g.geometry:
        xy = np.asarray(geom.exterior.coords)
        lon, lat = to_geo.transform(xy[:, 0], xy[:, 1])
        total += abs(REF_GEOD.polygon_area_perimeter(lon, lat)[0])
    return total


for _code, _label in ((2380, "Xian 1980"), (2359, "Xian 1980"), (2343, "Xian 1980"),
                      (2432, "Beijing 1954"), (2411, "Beijing 1954"), (21418, "Beijing 1954"),
                      (4610, "Xian 1980"), (4214, "Beijing 1954")):
    CASES.append(Case(f"datum-epsg{_code}", (lambda c: lambda t: _legacy(t, c))(_code),
                      Error(_label + r".*--towgs84", fix_args=("--towgs84", TOWGS),
                            fix_area=None)))


@case("datum-xian80-esri-prj-by-name", Error(r"Xian 1980.*--towgs84"))
def _(t):
    p = _legacy(t, 2380, name="esri")
    from pyproj import CRS

    p.with_suffix(".prj").write_text(CRS.from_epsg(2380).to_wkt("WKT1_ESRI")
                                     .replace("AUTHORITY", "X"))
    return p


@case("datum-towgs84-on-cgcs2000", Error(r"not Xian 1980 or Beijing 1954"),
      args=("--towgs84", TOWGS))
def _(t):
    return shp(t, frame([A]))


@case("datum-towgs84-malformed", Error(r"3 or 7 numbers"), args=("--towgs84", "1,2"))
def _(t):
    return _legacy(t, 2380)


@case("datum-towgs84-implausible", Error(r"implausible"), args=("--towgs84", "5000,0,0,0,0,0,0"))
def _(t):
    return _legacy(t, 2380)


# ============================================================================ encoding (22)
GBK_VALUES = ["安居镇", "柔刚街道", "生态保护红线"]


def _enc_shp(t, encoding, values, *, cpg=None, name="e", field_name="name"):
    g = frame([A, B, B.buffer(-0.001)], **{field_name: values})
    p = shp(t, g, encoding={"latin-1": "ISO-8859-1"}.get(encoding, encoding), cpg=False, name=name)
    if cpg:
        p.with_suffix(".cpg").write_text(cpg)
    return p


@case("enc-gbk-no-cpg", Right(AREA_AB + geod_area(B.buffer(-0.001)), {"name": set(GBK_VALUES)}))
def _(t):
    return _enc_shp(t, "gbk", GBK_VALUES)


@case("enc-utf8-no-cpg", Right(AREA_AB + geod_area(B.buffer(-0.001)), {"name": set(GBK_VALUES)}))
def _(t):
    return _enc_shp(t, "utf-8", GBK_VALUES)


@case("enc-gbk-cpg-936", Right(AREA_AB + geod_area(B.buffer(-0.001)), {"name": set(GBK_VALUES)}))
def _(t):
    return _enc_shp(t, "gbk", GBK_VALUES, cpg="936")


@case("enc-cpg-utf8-over-gbk", Error(r"\.cpg says UTF-8", fix_args=("--encoding", "gbk")))
def _(t):
    return _enc_shp(t, "gbk", GBK_VALUES, cpg="UTF-8")


@case("enc-cpg-gbk-over-utf8", Error(r"\.cpg says GBK.*UTF-8", fix_args=("--encoding", "utf-8")))
def _(t):
    return _enc_shp(t, "utf-8", ["红线二号", "红线一号", "安居镇"], cpg="GBK")


BIG5_VALUES = ["臺北市", "新竹縣", "國家公園"]


@case("enc-big5-no-cpg", Right(AREA_AB + geod_area(B.buffer(-0.001)), {"name": set(BIG5_VALUES)}))
def _(t):
    return _enc_shp(t, "big5", BIG5_VALUES)


CYR = ["Москва", "Новосибирск", "улица Ленина"]


@case("enc-cp1251-no-cpg", Right(AREA_AB + geod_area(B.buffer(-0.001)), {"name": set(CYR)}))
def _(t):
    return _enc_shp(t, "cp1251", CYR)


LAT = ["Québec", "Zürich", "São Paulo"]


@case("enc-latin1-no-cpg", Right(AREA_AB + geod_area(B.buffer(-0.001)), {"name": set(LAT)}))
def _(t):
    return _enc_shp(t, "latin-1", LAT)


@case("enc-gbk-field-names-only", Right(AREA_AB + geod_area(B.buffer(-0.001)), {"名称": {"a", "b", "c"}}))
def _(t):
    return _enc_shp(t, "gbk", ["a", "b", "c"], field_name="名称")


@case("enc-gb18030-four-byte", Right(AREA_AB + geod_area(B.buffer(-0.001)),
                                     {"name": {"𠀀安居", "安居镇", "柔刚街道"}}))
def _(t):
    return _enc_shp(t, "gb18030", ["𠀀安居", "安居镇", "柔刚街道"])


@case("enc-unknown-name", Error(r"unknown encoding"), args=("--encoding", "klingon"))
def _(t):
    return _enc_shp(t, "gbk", GBK_VALUES)


@case("enc-wrong-flag-utf8-on-gbk", Error(r"not valid utf-8.*gbk", fix_args=("--encoding", "gbk")),
      args=("--encoding", "utf-8"))
def _(t):
    return _enc_shp(t, "gbk", GBK_VALUES)


def _upper(t, encoding):
    _enc_shp(t, encoding, GBK_VALUES, name="REDLINE")
    for f in list(t.iterdir()):
        if f.stem == "REDLINE":
            f.rename(f.with_suffix(f.suffix.upper()))
    return t / "REDLINE.SHP"


@case("enc-uppercase-sidecars-flag-honoured", Right(AREA_AB + geod_area(B.buffer(-0.001)),
                                                    {"name": set(GBK_VALUES)}),
      args=("--encoding", "gbk"))
def _(t):
    return _upper(t, "gbk")


@case("enc-uppercase-sidecars-detected", Right(AREA_AB + geod_area(B.buffer(-0.001)),
                                               {"name": set(GBK_VALUES)}))
def _(t):
    return _upper(t, "gbk")


@case("enc-gbk-cut-mid-character", Repair(r"cut mid-character"))
def _(t):
    p = _enc_shp(t, "gbk", ["安居", "柔刚", "红线"], name="cut")
    return _cut_field(p, "柔刚街道".encode("gbk")[:5])  # 5 bytes: 柔刚 + half of 街


def _cut_field(p: Path, value: bytes) -> Path:
    """Rewrite the .dbf: one C field 'name' of len(value) bytes, every record = value."""
    n = 3
    width = len(value)
    dbf = struct.pack("<4BIHH20x", 3, 126, 1, 1, n, 32 + 32 + 1, 1 + width)
    dbf += b"name".ljust(11, b"\x00") + b"C" + bytes(4) + bytes([width, 0]) + bytes(14)
    dbf += b"\r" + b"".join(b" " + value for _ in range(n)) + b"\x1a"
    p.with_suffix(".dbf").write_bytes(dbf)
    return p


@case("enc-gbk-cut-with-flag", Repair(r"cut mid-character"), args=("--encoding", "gbk"))
def _(t):
    p = _enc_shp(t, "gbk", ["a", "b", "c"], name="cutf")
    return _cut_field(p, "红线二号".encode("gbk")[:7])


@case("enc-gbk-after-50000-records", Right(0.0, {"name": {"plain", "安居镇"}}))
def _(t):
    n = 50_001
    names = ["plain"] * (n - 1) + ["安居镇"]
    pts = shapely.points(np.full(n, 105.41), np.linspace(30.30, 30.32, n))
    return shp(t, gpd.GeoDataFrame({"name": names}, geometry=pts, crs=4490), encoding="gbk",
               cpg=False, name="big")


@case("enc-mixed-utf8-and-gbk", Error(r"cannot tell|not valid|encoding"))
def _(t):
    p = _enc_shp(t, "utf-8", ["安居镇", "柔刚街道", "x"], name="mix")
    data = p.with_suffix(".dbf").read_bytes()
    data = data.replace("安居镇".encode(), "安居镇".encode("gbk") + b"   ")
    p.with_suffix(".dbf").write_bytes(data)
    return p


@case("enc-geojson-gbk-bytes", Right(AREA_A, {"name": {"安居镇"}}))
def _(t):
    p = t / "g.geojson"
    p.write_bytes(json.dumps({"type": "FeatureCollection", "features": [
        feat([ring(A)], name="安居镇")]}, ensure_ascii=False).encode("gbk"))
    return p


@case("enc-geojson-big5-bytes", Right(AREA_A, {"name": {"臺北市"}}))
def _(t):
    p = t / "g.geojson"
    p.write_bytes(json.dumps({"type": "FeatureCollection", "features": [
        feat([ring(A)], name="臺北市")]}, ensure_ascii=False).encode("big5"))
    return p


@case("enc-geojson-utf8-bom", Right(AREA_A, {"name": {"安居镇"}}))
def _(t):
    p = t / "g.geojson"
    p.write_bytes(b"\xef\xbb\xbf" + json.dumps({"type": "FeatureCollection", "features": [
        feat([ring(A)], name="安居镇")]}, ensure_ascii=False).encode("utf-8"))
    return p


@case("enc-geojson-wrong-flag", Error(r"not valid big5.*--encoding gbk",
                                      fix_args=("--encoding", "gbk"), fix_area=AREA_A),
      args=("--encoding", "big5"))
def _(t):
    p = t / "g.geojson"
    p.write_bytes(json.dumps({"type": "FeatureCollection", "features": [
        feat([ring(A)], name="柔刚街道生态保护红线")]}, ensure_ascii=False).encode("gbk"))
    return p


@case("enc-zip-gbk-no-cpg", Right(AREA_AB + geod_area(B.buffer(-0.001)), {"name": set(GBK_VALUES)}))
def _(t):
    src = t / "src"
    src.mkdir()
    _enc_shp(src, "gbk", GBK_VALUES, name="z")
    z = t / "z.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for f in src.iterdir():
            zf.write(f, f.name)
    return z


@case("enc-zip-gbk-member-names", Right(AREA_AB + geod_area(B.buffer(-0.001)), {"name": set(GBK_VALUES)}))
def _(t):
    src = t / "src"
    src.mkdir()
    _enc_shp(src, "gbk", GBK_VALUES, name="红线")
    z = t / "z.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for f in src.iterdir():
            info = zipfile.ZipInfo(f.name.encode("gbk").decode("cp437"))
            zf.writestr(info, f.read_bytes())
    return z


@case("enc-csv-gbk-sites", Right(0.0, {"name": {"一号", "二号"}}), kind="site")
def _(t):
    p = t / "s.csv"
    p.write_bytes("name,lon,lat\n一号,105.41,30.31\n二号,105.42,30.31\n".encode("gbk"))
    return p


@case("enc-csv-utf8-bom", Right(0.0, {"name": {"一号"}}), kind="site")
def _(t):
    p = t / "s.csv"
    p.write_bytes(b"\xef\xbb\xbf" + "name,lon,lat\n一号,105.41,30.31\n".encode())
    return p


# ============================================================================ geometry (22)
BOW = shapely.Polygon([(105.40, 30.30), (105.42, 30.32), (105.42, 30.30), (105.40, 30.32)])


@case("geom-bowtie", Repair(r"invalid geometries repaired.*Self-intersection.*area change",
                            area=geod_area(shapely.make_valid(BOW)), area_change=True))
def _(t):
    return geojson_text(t, [feat([ring(BOW)])])


@case("geom-nan-vertex", Error(r"nan|NaN", feature=1))
def _(t):
    p = shp_polygon_bytes(t, [[cw(A)], [[(105.43, 30.30), (float("nan"), 30.31), (105.44, 30.31),
                                         (105.44, 30.30), (105.43, 30.30)]]])
    return p


@case("geom-inf-vertex", Error(r"inf", feature=1))
def _(t):
    return shp_polygon_bytes(t, [[cw(A)], [[(105.43, 30.30), (float("inf"), 30.31), (105.44, 30.31),
                                           (105.44, 30.30), (105.43, 30.30)]]])


@case("geom-zero-vertex-lonlat", Error(r"\(0, 0\)", feature=1))
def _(t):
    return geojson_text(t, [feat([[[105.4, 30.3], [105.41, 30.3], [0, 0], [105.4, 30.31],
                                   [105.4, 30.3]]])])


@case("geom-zero-vertex-gk", Error(r"\(0, 0\)"))
def _(t):
    gk = in_crs(A, 4523)
    coords = list(gk.exterior.coords)
    coords.insert(2, (0.0, 0.0))
    return shp(t, frame([shapely.Polygon(coords)], crs=4523))


@case("geom-hole-outside-shell-geojson", Error(r"hole 1 lies outside", feature=1))
def _(t):
    return geojson_text(t, [feat([ring(A), ring(B)])])


@case("geom-hole-outside-shell-shp", Error(r"outside every outer ring", feature=0))
def _(t):
    return shp_polygon_bytes(t, [[cw(A), ccw(B)]])


@case("geom-collection", Repair(r"GeometryCollection", area=AREA_A))
def _(t):
    return geojson_text(t, [{"type": "Feature", "properties": {"id": 1}, "geometry": {
        "type": "GeometryCollection", "geometries": [
            {"type": "Polygon", "coordinates": [ring(A)]},
            {"type": "Point", "coordinates": [105.5, 30.5]}]}}])


@case("geom-null-feature", Repair(r"1 null geometries dropped", area=AREA_A))
def _(t):
    return geojson_text(t, [feat([ring(A)]), feat(None)])


@case("geom-empty-feature", Repair(r"empty geometries dropped", area=AREA_A))
def _(t):
    return geojson_text(t, [feat([ring(A)]), feat([])])


@case("geom-z-coordinates", Repair(r"Z dropped", area=AREA_A))
def _(t):
    return geojson_text(t, [feat([[c + [400.0] for c in ring(A)]])])


@case("geom-points-for-polygon-kind", Error(r"point geometries but kind"), kind="redline")
def _(t):
    return geojson_text(t, [feat([105.41, 30.31], "Point", type="核心区")])


@case("geom-lines-for-polygon-kind", Error(r"line geometries but kind"), kind="farmland")
def _(t):
    return geojson_text(t, [feat([[105.41, 30.31], [105.42, 30.32]], "LineString")])


@case("geom-duplicate-vertices-valid", Right(AREA_A))
def _(t):
    r = ring(A)
    return geojson_text(t, [feat([[r[0], r[0], *r[1:]]])])


@case("geom-unclosed-ring-shp", Repair(r"ring not closed.*closed", area=AREA_A))
def _(t):
    return shp_polygon_bytes(t, [[cw(A)[:-1]]])


@case("geom-valid-hole", Right(AREA_A - geod_area(shapely.box(105.405, 30.305, 105.41, 30.31))))
def _(t):
    h = shapely.box(105.405, 30.305, 105.41, 30.31)
    return geojson_text(t, [feat([ring(A), ring(h)])])


@case("geom-overlapping-multipolygon-parts", Repair(
    r"repaired.*area change", area=geod_area(shapely.union(A, shapely.box(105.41, 30.31, 105.43, 30.33))),
    area_change=True))
def _(t):
    c = shapely.box(105.41, 30.31, 105.43, 30.33)
    return geojson_text(t, [feat([[ring(A)], [ring(c)]], "MultiPolygon")])


@case("geom-collapsed-sliver-dropped", Repair(r"empty after repair dropped", area=AREA_A))
def _(t):
    return geojson_text(t, [feat([ring(A)]), feat([[[105.43, 30.3], [105.44, 30.3],
                                                    [105.45, 30.3], [105.43, 30.3]]])])


@case("geom-all-null", Error(r"no usable geometry"))
def _(t):
    return geojson_text(t, [feat(None), feat(None)])


@case("geom-empty-layer", Error(r"no features"))
def _(t):
    return geojson_text(t, [])


@case("geom-spike", Repair(r"repaired", area=AREA_A))
def _(t):
    r = ring(A)
    spike = [r[0], r[1], [105.43, 30.31], r[1], *r[2:]]
    return geojson_text(t, [feat([spike])])


@case("geom-nested-shell-in-hole-shp", Right(AREA_A - geod_area(shapely.box(105.403, 30.303, 105.417, 30.317))
                                              + geod_area(shapely.box(105.406, 30.306, 105.414, 30.314))))
def _(t):
    hole = shapely.box(105.403, 30.303, 105.417, 30.317)
    island = shapely.box(105.406, 30.306, 105.414, 30.314)
    return shp_polygon_bytes(t, [[cw(A), ccw(hole), cw(island)]])


@case("geom-hole-wound-clockwise-shp", Repair(r"wound clockwise.*read as holes",
                                             area=AREA_A - geod_area(HOLE_CW)))
def _(t):
    return shp_polygon_bytes(t, [[cw(A), cw(HOLE_CW)]])


@case("geom-outer-wound-counter-clockwise-shp", Right(AREA_A))
def _(t):
    return shp_polygon_bytes(t, [[ccw(A)]])


# ============================================================================ file structure (28)
def _three(t, name="s"):
    return shp(t, frame([A, B, shapely.box(105.45, 30.30, 105.46, 30.31)]), name=name)


@case("file-truncated-shp", Error(r"\.shp is truncated"))
def _(t):
    p = _three(t)
    data = p.read_bytes()
    p.write_bytes(data[:-40])
    return p


@case("file-dbf-fewer-records", Error(r"\.dbf has 2 records but the \.shp has 3"))
def _(t):
    p = _three(t)
    d = bytearray(p.with_suffix(".dbf").read_bytes())
    d[4:8] = struct.pack("<I", 2)
    nrec, hlen, rlen = struct.unpack("<IHH", bytes(d[4:12]))
    p.with_suffix(".dbf").write_bytes(bytes(d[:hlen + 2 * rlen]) + b"\x1a")
    return p


@case("file-dbf-more-records", Error(r"\.dbf has 3 records but the \.shp has 2"))
def _(t):
    p = _three(t)
    data = p.read_bytes()
    # drop the last shape from .shp and .shx
    shx = p.with_suffix(".shx").read_bytes()
    off3 = struct.unpack(">i", shx[100 + 16:104 + 16])[0] * 2
    body = bytearray(data[:off3])
    body[24:28] = struct.pack(">i", off3 // 2)
    p.write_bytes(bytes(body))
    s = bytearray(shx[:116])
    s[24:28] = struct.pack(">i", 116 // 2)
    p.with_suffix(".shx").write_bytes(bytes(s))
    return p


@case("file-dbf-truncated", Error(r"\.dbf is truncated"))
def _(t):
    p = _three(t)
    d = p.with_suffix(".dbf").read_bytes()
    p.with_suffix(".dbf").write_bytes(d[:-30])
    return p


@case("file-shx-missing", Repair(r"no \.shx: index rebuilt", area=AREA_AB + geod_area(shapely.box(105.45, 30.30, 105.46, 30.31))))
def _(t):
    p = _three(t)
    p.with_suffix(".shx").unlink()
    return p


@case("file-shx-wrong", Repair(r"\.shx does not match.*rebuilt",
                               area=AREA_AB + geod_area(shapely.box(105.45, 30.30, 105.46, 30.31))))
def _(t):
    p = _three(t)
    s = bytearray(p.with_suffix(".shx").read_bytes())
    s[108:112] = struct.pack(">i", 60)
    p.with_suffix(".shx").write_bytes(bytes(s))
    return p


@case("file-dbf-missing", Error(r"no \.dbf"))
def _(t):
    p = _three(t)
    p.with_suffix(".dbf").unlink()
    return p


@case("file-lone-dbf", Error(r"\.dbf alone"))
def _(t):
    p = _three(t)
    q = t / "other"
    q.mkdir()
    shutil.copy(p.with_suffix(".dbf"), q / "x.dbf")
    return q / "x.dbf"


@case("file-dbf-beside-shp", Error(r"import s\.shp instead"))
def _(t):
    return _three(t).with_suffix(".dbf")


@case("file-dwg", Error(r"DWG.*DXF"))
def _(t):
    p = t / "a.dwg"
    p.write_bytes(b"AC1032" + bytes(500))
    return p


@case("file-plain-folder", Error(r"is a folder"))
def _(t):
    (t / "sub").mkdir()
    _three(t / "sub")
    return t / "sub"


def _gdb(t):
    p = t / "s.gdb"
    pyogrio.write_dataframe(frame([A, B]).to_crs(4523), p, layer="DLTB", driver="OpenFileGDB")
    pyogrio.write_dataframe(frame([A]).to_crs(4523), p, layer="XZQ", driver="OpenFileGDB")
    pyogrio.write_dataframe(pd.DataFrame({"DM": ["0101"]}), p, layer="DMB", driver="OpenFileGDB")
    return p


@case("file-gdb-no-layer", Error(r"2 layers: DLTB, XZQ", fix_args=("--layer", "DLTB"), fix_area=AREA_AB))
def _(t):
    return _gdb(t)


@case("file-gdb-layer", Right(AREA_AB), args=("--layer", "DLTB"))
def _(t):
    return _gdb(t)


@case("file-gdb-colon-layer", Right(AREA_A))
def _(t):
    return f"{_gdb(t)}:XZQ"


@case("file-gdb-wrong-layer", Error(r"no layer 'LCXZ'"), args=("--layer", "LCXZ"))
def _(t):
    return _gdb(t)


@case("file-gdb-table", Error(r"table without geometry.*DLTB"), args=("--layer", "DMB"))
def _(t):
    return _gdb(t)


@case("file-gpkg-table", Error(r"table without geometry"))
def _(t):
    p = t / "t.gpkg"
    pyogrio.write_dataframe(pd.DataFrame({"a": [1]}), p, layer="t")
    return p


@case("file-zip-no-data", Error(r"holds no data file"))
def _(t):
    z = t / "z.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("readme.txt", "nothing")
    return z


@case("file-zip-corrupt", Error(r"not a readable zip"))
def _(t):
    z = t / "z.zip"
    z.write_bytes(b"PK\x03\x04garbage")
    return z


@case("file-zip-two-shapefiles", Error(r"2 datasets", fix_args=("--layer", "b"), fix_area=AREA_AB + geod_area(shapely.box(105.45, 30.30, 105.46, 30.31))))
def _(t):
    src = t / "src"
    src.mkdir()
    _three(src, "a")
    _three(src, "b")
    z = t / "two.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for f in src.iterdir():
            zf.write(f, f.name)
    return z


@case("file-zip-gdb", Right(AREA_AB), args=("--layer", "DLTB"))
def _(t):
    g = _gdb(t)
    z = t / "g.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for f in g.rglob("*"):
            zf.write(f, f.relative_to(t))
    return z


@case("file-xls-old", Error(r"\.xls"))
def _(t):
    p = t / "a.xls"
    p.write_bytes(b"\xd0\xcf\x11\xe0" + bytes(100))
    return p


@case("file-not-found", Error(r"file not found"))
def _(t):
    return t / "missing.shp"


@case("file-random-bytes-gpkg", Error(r"cannot open|not"))
def _(t):
    p = t / "x.gpkg"
    p.write_bytes(b"not a database" * 20)
    return p


@case("file-geojson-syntax", Error(r"cannot open|cannot read"))
def _(t):
    p = t / "x.geojson"
    p.write_text('{"type": "FeatureCollection", "features": [', encoding="utf-8")
    return p


@case("file-shp-zero-records", Error(r"no features"))
def _(t):
    p = _three(t)
    shx = p.with_suffix(".shx").read_bytes()
    body = bytearray(p.read_bytes()[:100])
    body[24:28] = struct.pack(">i", 50)
    p.write_bytes(bytes(body))
    s = bytearray(shx[:100])
    s[24:28] = struct.pack(">i", 50)
    p.with_suffix(".shx").write_bytes(bytes(s))
    d = bytearray(p.with_suffix(".dbf").read_bytes())
    nrec, hlen, rlen = struct.unpack("<IHH", bytes(d[4:12]))
    d[4:8] = struct.pack("<I", 0)
    p.with_suffix(".dbf").write_bytes(bytes(d[:hlen]) + b"\x1a")
    return p


@case("file-gpkg-multi-layer", Error(r"2 layers", fix_args=("--layer", "b"), fix_area=AREA_A))
def _(t):
    p = t / "m.gpkg"
    frame([A, B]).to_file(p, layer="a")
    frame([A]).to_file(p, layer="b")
    return p


def _dxf(t, with_polys=True):
    gk = [in_crs(A, 4523), in_crs(B, 4523)]
    out = ["0", "SECTION", "2", "ENTITIES"]
    for g in gk if with_polys else []:
        pts = list(g.exterior.coords)[:-1]
        out += ["0", "LWPOLYLINE", "8", "HX", "100", "AcDbEntity", "100", "AcDbPolyline",
                "90", str(len(pts)), "70", "1"]
        for x, y in pts:
            out += ["10", f"{x:.4f}", "20", f"{y:.4f}"]
    out += ["0", "LINE", "8", "HX", "10", "35540000", "20", "3353000", "11", "35541000", "21",
            "3354000", "0", "ENDSEC", "0", "EOF"]
    p = t / "d.dxf"
    p.write_text("\n".join(out) + "\n", encoding="ascii")
    return p


@case("file-dxf-needs-crs", Error(r"no CRS", fix_args=("--crs", "EPSG:4523"), fix_area=AREA_AB))
def _(t):
    return _dxf(t)


@case("file-dxf-open-lines-only", Error(r"no closed polylines"), args=("--crs", "EPSG:4523"))
def _(t):
    return _dxf(t, with_polys=False)


@case("file-dxf-wrong-cad-layer", Error(r"no CAD layer 'ZJ'"), args=("--crs", "EPSG:4523", "--layer", "ZJ"))
def _(t):
    return _dxf(t)


@case("file-tab-gbk", Right(AREA_AB, {"name": {"安居镇", "柔刚街道"}}))
def _(t):
    p = t / "m.tab"
    pyogrio.write_dataframe(frame([A, B], name=["安居镇", "柔刚街道"]).to_crs(4523), p,
                            driver="MapInfo File",
                            layer_options={"ENCODING": "CP936",
                                           "BOUNDS": "35000000,3000000,36000000,4000000"})
    return p


@case("file-kml", Right(AREA_AB))
def _(t):
    p = t / "k.kml"
    frame([A, B]).to_crs(4326).to_file(p, driver="KML")
    return p


# ============================================================================ 界址点 (17)
@case("jzd-txt-valid", Right(AREA_AB), kind="site")
def _(t):
    return jzd_txt(t, [A, B])


@case("jzd-txt-unclosed-ring", Repair(r"not closed: closed", area=AREA_AB), kind="site")
def _(t):
    return jzd_txt(t, [A, B], close=False)


@case("jzd-txt-xian80", Error(r"1980西安|西安"), kind="site")
def _(t):
    return jzd_txt(t, [A], header_cs="1980西安坐标系")


@case("jzd-txt-beijing54", Error(r"北京"), kind="site")
def _(t):
    return jzd_txt(t, [A], header_cs="1954北京坐标系")


@case("jzd-txt-axes-swapped", Right(AREA_A), kind="site")
def _(t):
    return jzd_txt(t, [A], swap=True)


@case("jzd-txt-bad-number", Error(r"not a number"), kind="site")
def _(t):
    return jzd_txt(t, [A], extra_line="J9,1,abc,35540000")


@case("jzd-txt-gbk", Right(AREA_A), kind="site")
def _(t):
    return jzd_txt(t, [A], encoding="gbk")


@case("jzd-txt-no-blocks", Error(r"no \[地块坐标\] blocks"), kind="site")
def _(t):
    p = t / "e.txt"
    p.write_text("[属性描述]\n坐标系=2000国家大地坐标系\n[地块坐标]\n", encoding="utf-8")
    return p


@case("jzd-xlsx-unclosed", Repair(r"not closed", area=AREA_AB), kind="site")
def _(t):
    return xlsx(t, JZD_HEAD, jzd_rows([A, B]))


@case("jzd-xlsx-closed", Right(AREA_AB), kind="site")
def _(t):
    return xlsx(t, JZD_HEAD, jzd_rows([A, B], close=True))


@case("jzd-xlsx-bad-x", Error(r"row 4: X 'abc' is not a number", feature=4), kind="site")
def _(t):
    rows = jzd_rows([A])
    rows[1][4] = "abc"
    return xlsx(t, JZD_HEAD, rows)


@case("jzd-xlsx-two-points", Error(r"parcel 'D2' has 2 point"), kind="site")
def _(t):
    rows = jzd_rows([A]) + [["D2", "二", 1, "J1", 3353000.0, 35541000.0],
                            ["D2", "二", 1, "J2", 3353100.0, 35541000.0]]
    return xlsx(t, JZD_HEAD, rows)


HOLE = shapely.box(105.405, 30.305, 105.41, 30.31)


@case("jzd-xlsx-hole", Repair(r"not closed", area=geod_area(shapely.Polygon(A.exterior.coords, [HOLE.exterior.coords]))),
      kind="site")
def _(t):
    return xlsx(t, JZD_HEAD, jzd_rows([shapely.Polygon(A.exterior.coords, [HOLE.exterior.coords])]))


@case("jzd-xlsx-no-coordinate-columns", Error(r"no coordinate columns"), kind="site")
def _(t):
    return xlsx(t, ["名称", "面积"], [["a", 1]])


@case("jzd-csv-pinyin-headers", Repair(r"not closed", area=AREA_A), kind="site")
def _(t):
    p = t / "p.csv"
    rows = jzd_rows([A])
    p.write_text("DKBH,DKMC,QH,JZDH,XZB,YZB\n" + "\n".join(",".join(map(str, r)) for r in rows),
                 encoding="utf-8")
    return p


@case("jzd-xlsx-x-holds-eastings", Repair(r"read swapped", area=AREA_A), kind="site")
def _(t):
    rows = [[r[0], r[1], r[2], r[3], r[5], r[4]] for r in jzd_rows([A], close=True)]
    return xlsx(t, JZD_HEAD, rows)


@case("jzd-xlsx-inf", Error(r"not finite|not a number"), kind="site")
def _(t):
    rows = jzd_rows([A])
    rows[0][5] = "inf"
    return xlsx(t, JZD_HEAD, rows)


@case("jzd-xlsx-lonlat-points", Right(0.0, {"name": {"甲", "乙"}}), kind="site")
def _(t):
    return xlsx(t, ["名称", "经度", "纬度"], [["甲", 105.41, 30.31], ["乙", 105.42, 30.31]],
                title=None)


@case("jzd-xlsx-wkt", Right(AREA_A), kind="site")
def _(t):
    return xlsx(t, ["id", "wkt"], [[1, A.wkt]], title=None)


# ============================================================================ import runner
@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_bad_input(c: Case, tmp_path, run_cli):
    work = tmp_path / "in"
    work.mkdir()
    src = c.build(work)
    code, out, err = run_cli("import", "ws.gpkg", c.kind, str(src), "--name", "L",
                             "--format", "json", *c.args)
    assert "Traceback" not in err and "internal error" not in err, err
    e = c.expect
    if isinstance(e, Error):
        assert code == 2, f"expected a clear error, got exit {code}: {out[:400]} {err}"
        line = err.strip()
        assert len(line.splitlines()) == 1, err
        name = Path(str(src).split(":")[0]).name
        assert name in line or Path(name).stem in line, line
        assert "(fix: " in line, line
        assert re.search(e.match, line), line
        if e.feature is not None:
            assert f"feature {e.feature}" in line, line
        if e.fix_args:
            code2, out2, err2 = run_cli("import", "ws.gpkg", c.kind, str(src), "--name", "L",
                                        "--format", "json", *c.args, *e.fix_args)
            assert code2 == 0, f"the fix {e.fix_args} did not work: {err2}"
            if e.fix_area is not None:
                assert stored_area("ws.gpkg", "L") == pytest.approx(e.fix_area, rel=1e-6)
        return
    assert code == 0, err
    d = json.loads(out)
    summary = d["repairs"]["summary"]
    if isinstance(e, Repair):
        assert re.search(e.match, summary), summary
        if e.area_change:
            assert "area change" in summary
        if e.area is not None:
            assert stored_area("ws.gpkg", "L") == pytest.approx(e.area, rel=1e-6)
        return
    assert summary == "no repairs" or c.kind == "site" or "not closed" not in summary, summary
    assert stored_area("ws.gpkg", "L") == pytest.approx(e.area, rel=1e-6, abs=1e-3)
    layer = Workspace.open("ws.gpkg").read("L")
    for col, vals in e.values.items():
        assert set(layer[col].dropna()) >= vals or set(layer[col]) == vals, (col, set(layer[col]))


def stored_area(ws: str, name: str) -> float:
    gdf = Workspace.open(ws).read(name)
    ll = gdf.to_crs(4490) if gdf.crs.to_epsg() != 4490 else gdf
    return float(sum(geod_area(g) for g in ll.geometry if g is not None
                     and g.geom_type in ("Polygon", "MultiPolygon")))


def test_datum_towgs84_provenance_and_area(tmp_path, run_cli):
    """The Helmert shift moves the layer as our own pyproj pipeline does; recorded."""
    p = _legacy(tmp_path, 2380)
    code, out, err = run_cli("import", "ws.gpkg", "generic", p, "--towgs84", TOWGS,
                             "--format", "json")
    assert code == 0, err
    d = json.loads(out)
    assert d["crs"] == "EPSG:4544" and "--towgs84" in d["crs_source"]
    assert d["provenance"]["towgs84"] == [float(v) for v in TOWGS.split(",")]
    extra = Workspace.open("ws.gpkg").info("generic").as_dict()
    assert "towgs84" in json.dumps(extra, ensure_ascii=False)
    assert stored_area("ws.gpkg", "generic") == pytest.approx(legacy_expected(2380), rel=1e-7)
    # the shift is real: tens of metres, not PROJ's zero ballpark
    from pyproj import CRS

    from ecogis.formats.datum import cgcs2000_twin

    before = in_crs(A, cgcs2000_twin(CRS.from_epsg(2380))).exterior.coords[0]
    after = Workspace.open("ws.gpkg").read("generic").geometry.iloc[0]
    shift = min(math.dist(before, c) for g in shapely.get_parts(after) for c in g.exterior.coords)
    assert 10 < shift < 500


# ============================================================================ sites via check
def _ws_with_redline(tmp_path, run_cli) -> str:
    red = tmp_path / "red.geojson"
    gpd.GeoDataFrame({"name": ["红线一号"], "type": ["核心区"]}, geometry=[A], crs=4490).to_file(red)
    code, _o, err = run_cli("import", "ws.gpkg", "redline", red)
    assert code == 0, err
    return "ws.gpkg"


SITE_CASES = [
    ("radius-chinese-unit", "id,lon,lat,category,radius_m\nS1,105.41,30.31,industrial,50米\n",
     ("ok", 50.0)),
    ("radius-km", "id,lon,lat,category,radius_m\nS1,105.41,30.31,industrial,0.05km\n", ("ok", 50.0)),
    ("radius-plain", "id,lon,lat,category,radius_m\nS1,105.41,30.31,industrial,50\n", ("ok", 50.0)),
    ("radius-words", "id,lon,lat,category,radius_m\nS1,105.41,30.31,industrial,五十米\n",
     ("error", r"radius_m '五十米' is not a length")),
    ("radius-negative", "id,lon,lat,category,radius_m\nS1,105.41,30.31,industrial,-5\n",
     ("error", r"radius_m must be")),
    ("site-latlon-swapped", "id,lon,lat,category\nS1,30.31,105.41,industrial\n",
     ("error", r"lat|swap|outside")),
    ("site-outside-china", "id,lon,lat,category\nS1,100.5,0.5,industrial\n",
     ("error", r"outside China")),
    ("site-nan-lon", "id,lon,lat,category\nS1,,30.31,industrial\n", ("error", r"not a number|lon")),
    ("site-no-coordinates", "id,name,category\nS1,x,industrial\n", ("error", r"coordinate columns")),
    ("site-unknown-category", "id,lon,lat,category\nS1,105.41,30.31,spaceport\n",
     ("error", r"spaceport")),
    ("site-wkt", "id,wkt,category\nS1,\"POLYGON ((105.405 30.305, 105.406 30.305, 105.406 30.306, 105.405 30.306, 105.405 30.305))\",industrial\n",
     ("ok", None)),
    ("site-gbk-csv", None, ("ok", 50.0)),
]


@pytest.mark.parametrize("name,text,expect", SITE_CASES, ids=[c[0] for c in SITE_CASES])
def test_site_inputs(name, text, expect, tmp_path, run_cli):
    ws = _ws_with_redline(tmp_path, run_cli)
    p = tmp_path / f"{name}.csv"
    if text is None:
        p.write_bytes("id,名称,lon,lat,category,radius_m\nS1,一号,105.41,30.31,industrial,50米\n"
                      .encode("gbk"))
    else:
        p.write_text(text, encoding="utf-8")
    code, out, err = run_cli("check", ws, p, "--format", "json")
    assert "Traceback" not in err and "internal error" not in err, err
    if expect[0] == "error":
        assert code == 2, out[:300]
        assert len(err.strip().splitlines()) == 1 and "(fix: " in err, err
        assert re.search(expect[1], err), err
        return
    assert code in (0, 1), err
    site = json.loads(out)["sites"][0]
    if expect[1] is not None:
        from ecogis.siting import CIRCLE_QUAD_SEGS

        n = 4 * CIRCLE_QUAD_SEGS
        r = expect[1]
        assert site["radius_m"] == pytest.approx(r)
        assert site["area_m2"] == pytest.approx(n / 2 * r * r * math.sin(2 * math.pi / n), rel=2e-3)
        assert site["area_m2"] > 0 and site["hits"], site  # inside the redline: a hit


def test_corpus_size():
    assert len(CASES) + len(SITE_CASES) >= 120
