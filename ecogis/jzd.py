"""The 国土 TXT 界址点坐标交换格式 that land bureaus exchange: read it, with its CRS and areas.

A file looks like::

    [属性描述]
    坐标系=2000国家大地坐标系
    几度分带=3
    投影类型=高斯克吕格
    计量单位=米
    带号=35
    精度=0.001
    转换参数=0,0,0,0,0,0,0
    [地块坐标]
    6,5.7089,1,某地块,面,,工业用地,0601,@
    J1,1,3353189.181,35520986.477
    ...

A block line ends in ``@``: 界址点数, 地块面积 (**公顷**), 地块编号, 地块名称, 记录图形属性
(点/线/面), 图幅号, 地块用途, 地类编码. Point lines are ``点号,圈号,X,Y`` with **X the northing
and Y the easting** (surveying order): ecogis swaps them to (easting, northing). Rings with the
same 圈号 form one ring; a ring inside an odd number of other rings is a hole, otherwise it
starts a new part (islands in holes work). Eastings may carry the 带号 prefix (8 digits) or not
(6 digits); the CRS is the CGCS2000 Gauss-Krüger zone of the header's 带号 and 几度分带, prefixed
or not to match the coordinates. Files are UTF-8 or GBK/GB18030 (detected). The declared area is
checked against the ellipsoidal and the planar area; a mismatch is reported per block and
warned about (:class:`AreaMismatchWarning`).
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS

from ecogis.crs import GK_ZONES, check_crs, crs_label, gk_zone, to_crs
from ecogis.errors import CRSError, EcogisWarning, EncodingError, InputError
from ecogis.kinds import Kind, load_kinds

#: relative tolerance of the declared-area check (0.1 %)
AREA_REL_TOL = 1e-3
_SHAPES = {"面": "polygon", "线": "line", "点": "point"}


class AreaMismatchWarning(EcogisWarning):
    """A block's declared 地块面积 differs from the area of its coordinates."""


class AxisSwapWarning(EcogisWarning):
    """The X and Y columns of a 界址点 file were written as (east, north) and were swapped."""


@dataclass
class JZDHeader:
    """The ``[属性描述]`` of a file: key/values as written, and the CRS they give."""

    values: dict[str, str] = field(default_factory=dict)

    def get(self, *keys: str) -> str | None:
        for k in keys:
            if self.values.get(k):
                return self.values[k].strip()
        return None


def decode_text(data: bytes, encoding: str | None = None, *, file: str | None = None
                ) -> tuple[str, str, str]:
    """Return ``(text, encoding, how)``: UTF-8 (BOM or strict), else GB18030 (a GBK superset)."""
    if encoding:
        try:
            return data.decode(encoding), encoding, "--encoding"
        except (UnicodeDecodeError, LookupError) as exc:
            raise EncodingError(f"cannot decode as {encoding}: {exc}", file=file,
                                fix="omit --encoding to detect UTF-8 or GBK") from None
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8", "BOM"
    try:
        return data.decode("utf-8"), "utf-8", "strict UTF-8"
    except UnicodeDecodeError:
        pass
    from ecogis.formats.encoding import detect

    det = detect([(ln, False) for ln in data.splitlines()],
                 candidates=("gbk", "gb18030", "big5"))
    if det.codec is None:
        raise EncodingError(f"neither UTF-8 nor clearly GBK/GB18030 or Big5 ({det.describe()})",
                            file=file, fix="pass --encoding with the file's code page") from None
    if det.codec == "big5":
        return data.decode("big5"), "big5", "not UTF-8; Big5 detected"
    return data.decode("gb18030"), "gbk", "not UTF-8; decoded as GBK/GB18030"


@dataclass
class _Block:
    line: int
    fields: list[str]
    points: list[tuple[str, str, float, float, int]] = field(default_factory=list)


def _num(text: str, what: str, file: str, line: int) -> float:
    try:
        v = float(text)
    except ValueError:
        raise InputError(f"line {line}: {what} {text!r} is not a number", file=file,
                         fix="correct the coordinate line (点号,圈号,X,Y)") from None
    if not np.isfinite(v):
        raise InputError(f"line {line}: {what} {text!r} is not finite", file=file,
                         fix="correct the coordinate line")
    return v


def parse_jzd(text: str, *, file: str = "<text>") -> tuple[JZDHeader, list[_Block]]:
    """Split a 界址点 file into its header and blocks (no geometry yet)."""
    header = JZDHeader()
    blocks: list[_Block] = []
    section = None
    for no, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip().replace("，", ",").replace("＠", "@")
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
            continue
        if section == "属性描述" or (section is None and "=" in line and "," not in line):
            if "=" in line:
                k, _, v = line.partition("=")
                header.values[k.strip()] = v.strip()
            continue
        if line.endswith("@"):
            fields = [f.strip() for f in line[:-1].split(",")]
            blocks.append(_Block(line=no, fields=fields))
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 4:
            raise InputError(f"line {no}: {line!r} is neither a block line (ending in @) nor a "
                             "point line 点号,圈号,X,Y", file=file,
                             fix="correct the line; block lines end with @")
        if not blocks:
            raise InputError(f"line {no}: a point line before any block line", file=file,
                             fix="start each parcel with its block line ending in @")
        x = _num(parts[2], "X", file, no)
        y = _num(parts[3], "Y", file, no)
        ring = parts[1] or "1"
        blocks[-1].points.append((parts[0], ring, x, y, no))
    if not blocks:
        raise InputError("no [地块坐标] blocks (lines ending in @)", file=file,
                         fix="check that this is a 国土 TXT 界址点 file")
    for b in blocks:
        if not b.points:
            raise InputError(f"line {b.line}: block has no coordinate lines", file=file,
                             fix="add its 点号,圈号,X,Y lines or remove the block")
    return header, blocks


def _plausible_northing(v: np.ndarray) -> bool:
    return bool(((v >= 1_000_000) & (v < 6_300_000)).all())


def _plausible_easting(v: np.ndarray) -> bool:
    return bool((((v > 0) & (v < 1_000_000)) | ((v >= 13_000_000) & (v < 46_000_000))).all())


def _header_crs(header: JZDHeader, eastings: np.ndarray, *, file: str) -> tuple[CRS, str]:
    """Return the CRS the header and the coordinates give, and how it was decided."""
    cs = header.get("坐标系", "坐标系统") or ""
    unit = header.get("计量单位") or "米"
    proj = header.get("投影类型") or "高斯克吕格"
    if unit not in ("米", "m", "M", "meter", "metre"):
        raise CRSError(f"计量单位={unit}: coordinates must be in metres", file=file,
                       fix="export the coordinates in 米")
    if "高斯" not in proj and "Gauss" not in proj and "gauss" not in proj:
        raise CRSError(f"投影类型={proj}: only Gauss-Krüger (高斯克吕格) is supported", file=file,
                       fix="export the coordinates in a Gauss-Krüger projection")
    if cs and ("1980" in cs or "西安" in cs or "1954" in cs or "北京" in cs):
        raise CRSError(f"坐标系={cs}: ecogis works in CGCS2000 and the file's 转换参数 are not "
                       "reliable enough to transform", file=file,
                       fix="convert the coordinates to 2000国家大地坐标系 with the province's "
                       "published parameters, then re-export")
    how = f"header 坐标系={cs or '(none)'}"
    if cs and "2000" not in cs and "CGCS" not in cs.upper():
        if "WGS" in cs.upper() or "84" in cs:
            how += " (WGS84 treated as CGCS2000: they differ by well under a metre)"
        else:
            raise CRSError(f"坐标系={cs} is not a coordinate system ecogis knows", file=file,
                           fix="use 2000国家大地坐标系, or pass --crs")
    width_txt = header.get("几度分带", "分带")
    zone_txt = header.get("带号")
    prefixed = bool(eastings.min() >= 1_000_000)
    if prefixed and int(eastings.min() // 1_000_000) != int(eastings.max() // 1_000_000):
        raise CRSError("eastings carry different 带号 prefixes", file=file,
                       fix="split the file by zone")
    if zone_txt is None:
        if prefixed:
            pre = int(eastings.min() // 1_000_000)
            match = [z for z in GK_ZONES.values() if z.prefixed and z.zone == pre]
            if len(match) == 1:
                return match[0].crs, f"{how}, no 带号: easting prefix {pre} -> " \
                    f"{match[0].description}"
        raise CRSError("the header has no 带号 and the eastings carry no zone prefix, so the "
                       "central meridian is unknown", file=file,
                       fix="add 带号= and 几度分带= to [属性描述], or pass --crs EPSG:XXXX")
    try:
        zone = int(float(zone_txt))
        width = int(float(width_txt)) if width_txt else (3 if zone >= 24 else 6)
    except ValueError:
        raise CRSError(f"带号={zone_txt} / 几度分带={width_txt} are not numbers", file=file,
                       fix="correct the header") from None
    if width not in (3, 6):
        raise CRSError(f"几度分带={width}: only 3° and 6° zones exist", file=file,
                       fix="correct the header")
    if 70 <= zone <= 140:  # some writers put the central meridian in 带号
        cm = zone
        zone = cm // 3 if width == 3 else (cm + 3) // 6
    else:
        cm = 3 * zone if width == 3 else 6 * zone - 3
    if prefixed and int(eastings.min() // 1_000_000) != zone:
        raise CRSError(f"带号={zone} but the eastings carry prefix "
                       f"{int(eastings.min() // 1_000_000)}", file=file,
                       fix="correct 带号 in the header or the coordinates")
    try:
        z = gk_zone(cm, width=width, prefixed=prefixed)
    except CRSError:
        raise CRSError(f"带号={zone_txt} with 几度分带={width} is not a CGCS2000 zone of China",
                       file=file, fix="3° zones are 25-45, 6° zones 13-23") from None
    return z.crs, f"{how}, 几度分带={width}, 带号={zone} -> {z.description}"


def _rings_to_geometry(block: _Block, shape: str, *, file: str,
                       unclosed: list | None = None) -> Any:
    """Build the block's geometry (easting, northing) from its rings.

    A polygon ring whose last point is not its first is closed; its 圈号 is appended to
    ``unclosed`` so the caller reports the repair.
    """
    rings: dict[str, list[tuple[float, float]]] = {}
    for _pid, ring, x, y, _no in block.points:
        rings.setdefault(ring, []).append((y, x))  # X = northing, Y = easting
    if shape == "point":
        pts = [shapely.Point(c) for r in rings.values() for c in r]
        return pts[0] if len(pts) == 1 else shapely.MultiPoint(pts)
    if shape == "line":
        lines = [shapely.LineString(r) for r in rings.values() if len(r) >= 2]
        if not lines:
            raise InputError(f"line {block.line}: a line block needs two points", file=file,
                             fix="check the block's coordinate lines")
        return lines[0] if len(lines) == 1 else shapely.MultiLineString(lines)
    polys = []
    for key, coords in rings.items():
        if coords[0] != coords[-1]:
            coords = [*coords, coords[0]]
            if unclosed is not None:
                unclosed.append(key)
        if len(coords) < 4:
            raise InputError(f"line {block.line}: ring 圈号={key} has fewer than 3 distinct "
                             "points", file=file, fix="check the block's coordinate lines")
        polys.append(shapely.Polygon(coords))
    if len(polys) == 1:
        return polys[0]
    # ring depth: inside an odd number of other rings = hole of the smallest enclosing ring
    depth = [sum(1 for j, q in enumerate(polys) if j != i and q.contains(p.representative_point())
                 and q.area > p.area) for i, p in enumerate(polys)]
    shells: list[tuple[int, list]] = [(i, []) for i, d in enumerate(depth) if d % 2 == 0]
    for i, d in enumerate(depth):
        if d % 2 == 0:
            continue
        owners = [(polys[s].area, k) for k, (s, _) in enumerate(shells)
                  if depth[s] == d - 1 and polys[s].contains(polys[i].representative_point())]
        if not owners:
            shells.append((i, []))
            continue
        shells[min(owners)[1]][1].append(polys[i].exterior.coords)
    parts = [shapely.Polygon(polys[s].exterior.coords, holes) for s, holes in shells]
    return parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts)


def read_jzd(path: str | os.PathLike, *, crs=None, encoding: str | None = None,
             kind: str | Kind | None = None, rel_tol: float = AREA_REL_TOL, warn: bool = True):
    """Read a 界址点 TXT file: ``(GeoDataFrame, ReadReport)`` in the file's GK plane.

    Columns: ``id`` (地块编号, else the block number), ``name``, ``use`` (地块用途),
    ``land_code`` (地类编码), ``shape`` (面/线/点), ``n_points``, ``declared_area_m2``
    (地块面积 公顷 × 10 000), ``area_m2`` (ellipsoidal, CGCS2000), ``projected_area_m2``
    (planar in the file's zone), ``area_diff_m2`` and ``area_diff_ratio`` (the smaller
    difference of the two methods against the declared area) and ``area_ok`` (within
    ``rel_tol`` or the 4-decimal 公顷 rounding). ``crs`` overrides the header (checked
    against the coordinates).
    """
    from ecogis.io import ReadReport, file_sha256
    from ecogis.measure import geodesic_area
    from ecogis.validate import clean_geometries

    p = Path(path)
    file = str(p)
    k = kind if isinstance(kind, Kind) else load_kinds()[kind or "generic"]
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise InputError("file not found", file=file, fix="check the path") from None
    text, enc, enc_how = decode_text(data, encoding, file=file)
    header, blocks = parse_jzd(text, file=file)
    xs = np.array([pt[2] for b in blocks for pt in b.points])
    ys = np.array([pt[3] for b in blocks for pt in b.points])
    if not _plausible_northing(xs) and _plausible_northing(ys) and _plausible_easting(xs):
        if warn:
            warnings.warn(f"{file}: the X column holds eastings and Y northings (axes swapped); "
                          "read as Y = northing, X = easting", AxisSwapWarning, stacklevel=2)
        for b in blocks:
            b.points = [(pid, r, y, x, no) for pid, r, x, y, no in b.points]
        xs, ys = ys, xs
    elif not _plausible_northing(xs) or not _plausible_easting(ys):
        raise CRSError(
            f"coordinates do not look like Gauss-Krüger X (northing) and Y (easting): X "
            f"{xs.min():.0f}..{xs.max():.0f}, Y {ys.min():.0f}..{ys.max():.0f}", file=file,
            fix="point lines are 点号,圈号,X(north),Y(east) in metres")
    if crs is not None:
        the_crs, how = to_crs(crs), "--crs"
    else:
        the_crs, how = _header_crs(header, ys, file=file)
    rows, geoms = [], []
    closed_notes: list[str] = []
    for i, b in enumerate(blocks, start=1):
        f = b.fields + [""] * (8 - len(b.fields))
        shape = _SHAPES.get(f[4], "polygon")
        declared = None
        if f[1]:
            try:
                declared = float(f[1]) * 10_000.0
            except ValueError:
                raise InputError(f"line {b.line}: 地块面积 {f[1]!r} is not a number (公顷)",
                                 file=file, fix="correct the block line") from None
        try:
            n_decl = int(float(f[0])) if f[0] else None
        except ValueError:
            n_decl = None
        if n_decl is not None and n_decl != len(b.points) and warn:
            warnings.warn(f"{file} line {b.line}: block declares {n_decl} 界址点 but has "
                          f"{len(b.points)} point lines", AreaMismatchWarning, stacklevel=2)
        open_rings: list = []
        geoms.append(_rings_to_geometry(b, shape, file=file, unclosed=open_rings))
        if open_rings:
            closed_notes.append(f"block {f[2] or i} (line {b.line}): ring(s) 圈号 "
                                f"{', '.join(map(str, open_rings))} not closed: closed")
        rows.append({"id": f[2] or i, "name": f[3] or None, "use": f[6] or None,
                     "land_code": f[7] or None, "shape": f[4] or "面",
                     "n_points": len(b.points), "declared_area_m2": declared,
                     "source_line": b.line})
    gdf = gpd.GeoDataFrame(rows, geometry=geoms, crs=the_crs)
    check_crs(the_crs, gdf.total_bounds, file=file)
    gdf.index = np.arange(1, len(gdf) + 1)
    gdf.index.name = "fid"
    gdf, repairs = clean_geometries(gdf, k, file=file, measure_crs=the_crs, warn=warn)
    if closed_notes:
        repairs.notes = closed_notes + repairs.notes
        if warn:
            from ecogis.errors import RepairWarning

            warnings.warn(f"{file}: {'; '.join(closed_notes[:3])}", RepairWarning, stacklevel=2)
    _declared_area_check(gdf, the_crs, rel_tol=rel_tol, file=file, warn=warn,
                         geodesic_area=geodesic_area)
    report = ReadReport(
        source=file, layer=None, driver="国土TXT界址点", sha256=file_sha256(p),
        features=len(gdf), crs=crs_label(the_crs), crs_source=how, encoding=enc,
        encoding_source=enc_how, repairs=repairs)
    gdf.attrs["jzd_header"] = dict(header.values)
    return gdf, report


def _declared_area_check(gdf: gpd.GeoDataFrame, crs: CRS, *, rel_tol: float, file: str,
                         warn: bool, geodesic_area) -> None:
    ell = geodesic_area(gdf.geometry, crs)
    plan = shapely.area(np.asarray(gdf.to_crs(crs).geometry.values, dtype=object))
    decl = gdf["declared_area_m2"].to_numpy(dtype=float)
    d_ell, d_plan = ell - decl, plan - decl
    diff = np.where(np.abs(d_ell) <= np.abs(d_plan), d_ell, d_plan)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(decl > 0, diff / decl, np.nan)
    tol = np.maximum(rel_tol * np.nan_to_num(decl), 0.5)  # 公顷 to 4 decimals = 1 m² steps
    ok = np.where(np.isnan(decl), True, np.abs(diff) <= tol)
    gdf["area_m2"] = ell
    gdf["projected_area_m2"] = plan
    gdf["area_diff_m2"] = diff
    gdf["area_diff_ratio"] = ratio
    gdf["area_ok"] = ok.astype(bool)
    if warn and not ok.all():
        bad = gdf.loc[~gdf["area_ok"]]
        first = bad.iloc[0]
        warnings.warn(
            f"{file}: {len(bad)} block(s) whose declared 地块面积 differs from the coordinates' "
            f"area by more than {rel_tol:.1%} (block {first['id']}: declared "
            f"{first['declared_area_m2']:.1f} m², ellipsoidal {first['area_m2']:.1f} m², "
            f"planar {first['projected_area_m2']:.1f} m²)", AreaMismatchWarning, stacklevel=3)


def write_jzd(gdf: gpd.GeoDataFrame, path: str | os.PathLike, *, zone: int | None = None,
              width: int = 3, prefixed: bool = True, encoding: str = "utf-8",
              declared_area_m2: list[float | None] | None = None) -> Path:
    """Write polygons as a 界址点 TXT file (the inverse of :func:`read_jzd`).

    ``gdf`` is reprojected to the CGCS2000 GK zone of ``width`` degrees (``zone``: default the
    zone of the data's centre). Exterior rings get 圈号 1, further rings 2, 3, ... in order.
    The block area is ``declared_area_m2`` when given, else the ellipsoidal area, in 公顷.
    """
    from ecogis.measure import geodesic_area, to_lonlat

    ll = to_lonlat(gdf)
    lon = float(np.mean(ll.total_bounds[[0, 2]]))
    if zone is None:
        zone = round(lon / 3) if width == 3 else int(lon // 6) + 1
    cm = 3 * zone if width == 3 else 6 * zone - 3
    z = gk_zone(cm, width=width, prefixed=prefixed)
    g = gdf.to_crs(z.crs)
    areas = geodesic_area(ll)
    lines = ["[属性描述]", "格式版本号=1.01", "坐标系=2000国家大地坐标系", f"几度分带={width}",
             "投影类型=高斯克吕格", "计量单位=米", f"带号={zone}", "精度=0.001",
             "转换参数=0,0,0,0,0,0,0", "[地块坐标]"]
    for i, geom in enumerate(g.geometry.values):
        rings = []
        for poly in shapely.get_parts(geom):
            rings.append(poly.exterior.coords)
            rings.extend(h.coords for h in poly.interiors)
        pts = sum(len(r) for r in rings)
        a = declared_area_m2[i] if declared_area_m2 is not None else areas[i]
        name = str(gdf.iloc[i].get("name", "")) if "name" in gdf.columns else ""
        use = str(gdf.iloc[i].get("use", "")) if "use" in gdf.columns else ""
        bid = gdf.iloc[i].get("id", i + 1) if "id" in gdf.columns else i + 1
        lines.append(f"{pts},{a / 10_000:.4f},{bid},{name},面,,{use},,@")
        n = 1
        for ring_no, ring in enumerate(rings, start=1):
            for x, y in ring:
                lines.append(f"J{n},{ring_no},{y:.3f},{x:.3f}")
                n += 1
    p = Path(path)
    p.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return p


def is_jzd_file(path: str | os.PathLike) -> bool:
    """Return True when ``path`` looks like a 界址点 TXT file (its first kilobytes)."""
    p = Path(path)
    if p.suffix.lower() != ".txt" or not p.is_file():
        return False
    head = p.read_bytes()[:4096]
    for enc in ("utf-8", "gb18030"):
        try:
            t = head.decode(enc, errors="strict" if enc == "utf-8" else "ignore")
        except UnicodeDecodeError:
            continue
        if "[属性描述]" in t or "[地块坐标]" in t or re.search(r",@\s*$", t, re.M):
            return True
    return False


__all__ = ["AREA_REL_TOL", "AreaMismatchWarning", "AxisSwapWarning", "JZDHeader", "decode_text",
           "is_jzd_file", "parse_jzd", "read_jzd", "write_jzd"]
