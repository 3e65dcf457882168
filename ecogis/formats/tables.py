"""Coordinate lists in spreadsheets and CSV: 界址点 tables, lon/lat points, WKT columns.

A bureau's 界址点 list is a table with one row per boundary point: 地块编号, 地块名称, 圈号,
点号, X (northing), Y (easting). Headers are recognised by the names in
``layers/coordinate_columns.toml`` (Chinese and pinyin). Rows of one 地块编号 (else 地块名称)
form one parcel, rows of one 圈号 one ring, in file order; a ring inside an odd number of rings
is a hole (the rule of :mod:`ecogis.jzd`). A ring whose last point is not its first is closed
and the closure reported. A table where every parcel has one point gives point sites. Columns
lon/lat (degrees, CGCS2000) or a WKT column work too. Other columns (用途, category, radius_m
...) are kept, the first row of each parcel giving its value.

Excel files are read with openpyxl (the first sheet with a recognised header row, which may
follow title rows); CSV files are decoded as UTF-8 (BOM or strict), else GBK/GB18030.
"""

from __future__ import annotations

import csv
import io
import re
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from ecogis.errors import EncodingError, InputError

_NUM = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


@lru_cache(maxsize=1)
def _roles() -> dict[str, set[str]]:
    from ecogis.data import data_path, read_toml

    spec = read_toml(data_path("coordinate_columns.toml"))["roles"]
    return {role: {_norm(n) for n in names} for role, names in spec.items()}


def _norm(h: object) -> str:
    s = str(h).strip()
    s = re.sub(r"[（(\[【].*?[）)\]】]", "", s)  # X(北) -> X
    return re.sub(r"[\s_\-:：]", "", s).lower()


def find_columns(columns) -> dict[str, object]:
    """Return ``{role: column}`` for the recognised headers of ``columns``."""
    out: dict[str, object] = {}
    for col in columns:
        n = _norm(col)
        for role, names in _roles().items():
            if n in names and role not in out:
                out[role] = col
                break
    return out


def has_coordinates(columns) -> bool:
    """True when ``columns`` hold X/Y, lon/lat or WKT coordinates."""
    r = find_columns(columns)
    return ("x" in r and "y" in r) or ("lon" in r and "lat" in r) or "wkt" in r


def decode_csv(data: bytes, encoding: str | None, *, file: str) -> tuple[str, str, str]:
    """Return ``(text, codec, how)`` of a CSV file's bytes."""
    if encoding:
        try:
            return data.decode(encoding), encoding, "--encoding"
        except (UnicodeDecodeError, LookupError) as exc:
            raise EncodingError(f"cannot decode as {encoding}: {exc}", file=file,
                                fix="omit --encoding to detect UTF-8 or GBK") from None
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict"), "utf-8", "BOM"
    from ecogis.formats.encoding import detect

    lines = [(ln, False) for ln in data.splitlines()]
    det = detect(lines, candidates=("utf-8", "gbk", "gb18030", "big5"))
    if det.codec is None:
        raise EncodingError(f"cannot tell the text encoding ({det.describe() or 'nothing decodes'})",
                            file=file, fix="pass --encoding gbk (or utf-8, big5)")
    return data.decode(det.codec), det.codec, "detected" if det.codec != "utf-8" or \
        not data.isascii() else "ASCII"


def read_table(path: Path, *, encoding: str | None = None, sheet: str | None = None
               ) -> tuple[pd.DataFrame, dict]:
    """Read a ``.csv`` or ``.xlsx`` into a frame of strings, finding the header row.

    Returns ``(frame, info)`` with ``info`` keys ``encoding``, ``encoding_source``, ``sheet``
    and ``header_row`` (1-based).
    """
    file = str(path)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        rows, sheet_name = _xlsx_rows(path, sheet)
        info = {"encoding": None, "encoding_source": "xlsx (Unicode)", "sheet": sheet_name}
    elif path.suffix.lower() == ".xls":
        raise InputError("old Excel .xls files are not read", file=file,
                         fix="save the sheet as .xlsx (Excel: 另存为 Excel 工作簿) or .csv")
    else:
        text, codec, how = decode_csv(path.read_bytes(), encoding, file=file)
        try:
            dialect = csv.Sniffer().sniff(text[:4096], delimiters=",\t;|")
        except csv.Error:
            dialect = csv.excel
        rows = list(csv.reader(io.StringIO(text), dialect))
        info = {"encoding": codec, "encoding_source": how, "sheet": None}
    for i, row in enumerate(rows[:20]):
        if has_coordinates([c for c in row if c not in (None, "")]):
            header = [str(c).strip() if c not in (None, "") else f"col{j + 1}"
                      for j, c in enumerate(row)]
            body = [list(r) + [None] * (len(header) - len(r)) for r in rows[i + 1:]]
            body = [r[:len(header)] for r in body if any(v not in (None, "") for v in r)]
            df = pd.DataFrame(body, columns=header, dtype=object)
            info["header_row"] = i + 1
            return df, info
    first = rows[0] if rows else []
    raise InputError(
        f"no coordinate columns found (header {[c for c in first if c not in (None, '')][:8]})",
        file=file, fix="name the columns 地块编号, 圈号, 点号, X, Y (X = northing) or lon, lat, or "
        "add a wkt column")


def _xlsx_rows(path: Path, sheet: str | None) -> tuple[list[list], str]:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise InputError(f"cannot open as an Excel workbook: {exc}", file=str(path),
                         fix="save it again as .xlsx") from None
    try:
        names = wb.sheetnames
        if sheet is not None:
            if sheet not in names:
                raise InputError(f"has no sheet {sheet!r} (sheets: {', '.join(names)})",
                                 file=str(path), fix="use one of the listed sheet names")
            order = [sheet]
        else:
            order = names
        for name in order:
            rows = [list(r) for r in wb[name].iter_rows(values_only=True)]
            if any(has_coordinates([c for c in r if c is not None]) for r in rows[:20]):
                return rows, name
        return ([list(r) for r in wb[order[0]].iter_rows(values_only=True)] if order else []), \
            (order[0] if order else "")
    finally:
        wb.close()


def _number(v: object, what: str, row: int, file: str) -> float:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        f = float(v)
    else:
        s = str(v if v is not None else "").strip().replace(",", "").replace("，", "")
        s = s.translate(str.maketrans("０１２３４５６７８９．－", "0123456789.-"))
        if not _NUM.match(s):
            raise InputError(f"row {row}: {what} {v!r} is not a number", file=file,
                             feature=row, fix=f"correct the {what} value in that row")
        f = float(s)
    if not np.isfinite(f):
        raise InputError(f"row {row}: {what} {v!r} is not finite", file=file, feature=row,
                         fix=f"correct the {what} value in that row")
    return f


def frame_to_geodataframe(df: pd.DataFrame, *, file: str, header_row: int = 1):
    """Return ``(GeoDataFrame, notes)`` from a coordinate table (see the module docstring).

    The GeoDataFrame has no CRS for X/Y tables (the caller infers the GK zone from the
    eastings), EPSG:4490 for lon/lat, and the given CRS-less WKT otherwise. ``notes`` report
    rings closed and axes swapped.
    """
    import geopandas as gpd
    import shapely

    from ecogis.crs import CGCS2000

    roles = find_columns(df.columns)
    rowno = np.arange(len(df)) + header_row + 1
    notes: list[str] = []
    if "wkt" in roles:
        col = roles["wkt"]
        geoms = []
        for r, v in zip(rowno, df[col], strict=True):
            try:
                g = shapely.from_wkt(str(v))
            except Exception:
                raise InputError(f"row {r}: cannot parse WKT {str(v)[:40]!r}", file=file,
                                 feature=r, fix="write e.g. POINT (105.4 30.3)") from None
            geoms.append(g)
        out = gpd.GeoDataFrame(df.drop(columns=[col]), geometry=geoms)
        out.index = pd.RangeIndex(1, len(out) + 1, name="fid")
        return out, notes
    if "x" in roles and "y" in roles:
        a = np.array([_number(v, str(roles["x"]), r, file) for v, r in zip(df[roles["x"]], rowno, strict=True)])
        b = np.array([_number(v, str(roles["y"]), r, file) for v, r in zip(df[roles["y"]], rowno, strict=True)])
        north, east = a, b  # X = northing, Y = easting
        from ecogis.jzd import _plausible_easting, _plausible_northing

        if not _plausible_northing(a) and _plausible_northing(b) and _plausible_easting(a):
            north, east = b, a
            notes.append(f"column {roles['x']} holds eastings and {roles['y']} northings: "
                         "read swapped (X = northing by the Chinese convention)")
        xs, ys, crs = east, north, None
        coord_cols = [roles["x"], roles["y"]]
    elif "lon" in roles and "lat" in roles:
        xs = np.array([_number(v, "lon", r, file) for v, r in zip(df[roles["lon"]], rowno, strict=True)])
        ys = np.array([_number(v, "lat", r, file) for v, r in zip(df[roles["lat"]], rowno, strict=True)])
        crs = CGCS2000
        coord_cols = [roles["lon"], roles["lat"]]
    else:
        raise InputError("no coordinate columns", file=file,
                         fix="name the columns X, Y (X = northing) or lon, lat, or add wkt")
    key_col = roles.get("parcel_id") or roles.get("parcel_name")
    keys = (df[key_col].map(lambda v: None if v in (None, "") else str(v).strip())
            .ffill().fillna("1").to_numpy(object) if key_col is not None
            else np.full(len(df), "1", dtype=object))
    rings = (df[roles["ring"]].map(lambda v: None if v in (None, "") else str(v).strip())
             .fillna("1").to_numpy(object) if "ring" in roles else np.full(len(df), "1", object))
    order = list(dict.fromkeys(keys))
    counts = pd.Series(keys).value_counts()
    if key_col is None and len(df) > 1 and "ring" not in roles and "point" not in roles:
        order = [str(i) for i in range(1, len(df) + 1)]  # a plain list of points
        keys = np.array(order, dtype=object)
        counts = pd.Series(keys).value_counts()
    rest = [c for c in df.columns if c not in coord_cols and c not in
            [roles.get("ring"), roles.get("point")]]
    records, geoms = [], []
    single = bool((counts == 1).all())
    from ecogis.jzd import _Block, _rings_to_geometry

    for key in order:
        sel = np.flatnonzero(keys == key)
        first = df.iloc[sel[0]]
        rec = {c: first[c] for c in rest}
        if key_col is None:
            rec["id"] = key
        if single:
            geoms.append(shapely.Point(xs[sel[0]], ys[sel[0]]))
        else:
            if len(sel) < 3:
                raise InputError(f"parcel {key!r} has {len(sel)} point(s); a parcel needs at least "
                                 "3", file=file, feature=key,
                                 fix="complete its boundary points, or give every site one point")
            block = _Block(line=int(rowno[sel[0]]), fields=[],
                           points=[("", rings[i], ys[i], xs[i], int(rowno[i])) for i in sel])
            unclosed = []
            for ring in dict.fromkeys(rings[sel]):
                rs = sel[rings[sel] == ring]
                if (xs[rs[0]], ys[rs[0]]) != (xs[rs[-1]], ys[rs[-1]]):
                    unclosed.append(ring)
            geoms.append(_rings_to_geometry(block, "polygon", file=file))
            if unclosed:
                notes.append(f"parcel {key}: ring(s) 圈号 {', '.join(map(str, unclosed))} not "
                             "closed (last point ≠ first): closed")
        records.append(rec)
    out = gpd.GeoDataFrame(pd.DataFrame(records), geometry=geoms, crs=crs)
    ren = {}
    for role, std in (("parcel_id", "id"), ("parcel_name", "name")):
        if role in roles and std not in out.columns and roles[role] in out.columns:
            ren[roles[role]] = std
    out = out.rename(columns=ren) if ren else out
    out.index = pd.RangeIndex(1, len(out) + 1, name="fid")
    return out, notes


def read_coordinate_table(path: Path, *, encoding: str | None = None, layer: str | None = None):
    """Read a ``.csv``/``.xlsx`` coordinate list: ``(GeoDataFrame, info)``; see module doc."""
    df, info = read_table(path, encoding=encoding, sheet=layer)
    gdf, notes = frame_to_geodataframe(df, file=str(path), header_row=info.get("header_row", 1))
    info["notes"] = notes
    return gdf, info


_LENGTH = re.compile(r"^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*(米|m|M|公尺|meters?|metres?|km|KM|公里|千米)?\s*$")
_UNIT_M = {None: 1.0, "米": 1.0, "m": 1.0, "M": 1.0, "公尺": 1.0, "meter": 1.0, "meters": 1.0,
           "metre": 1.0, "metres": 1.0, "km": 1000.0, "KM": 1000.0, "公里": 1000.0, "千米": 1000.0}


def lengths_m(values, what: str, ids, file: str | None) -> np.ndarray:
    """Return lengths in metres from numbers or text such as ``50``, ``50米``, ``0.05 km``.

    Empty cells are NaN; anything else that is not a length raises
    :class:`~ecogis.errors.InputError` naming the feature (never silently ignored).
    """
    out = np.full(len(values), np.nan)
    for i, v in enumerate(values):
        if v is None or (isinstance(v, float) and np.isnan(v)):
            continue
        if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
            out[i] = float(v)
            continue
        s = str(v).strip().translate(str.maketrans("０１２３４５６７８９．", "0123456789."))
        if s == "":
            continue
        m = _LENGTH.match(s)
        if not m:
            raise InputError(f"{what} {v!r} is not a length in metres", file=file,
                             feature=ids[i], fix=f"write {what} as a number of metres, e.g. 50 "
                             "(50米 and 0.05km are understood too)")
        out[i] = float(m.group(1)) * _UNIT_M[m.group(2)]
    return out
