"""Reading planning data files: format sniffing, CRS detection, encoding detection, repair.

Formats: Shapefile, GeoJSON, GeoPackage (any layer), FlatGeobuf, and the 国土 TXT 界址点坐标
交换格式 (via :mod:`ecogis.jzd` when present). Shapefiles without a ``.cpg`` are decoded
strictly as UTF-8 and fall back to GBK/GB18030: pyogrio and fiona return mojibake silently
for such files, so ecogis reads the ``.dbf`` text bytes itself to decide.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import struct
import tempfile
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import geopandas as gpd
import pyogrio

from ecogis.crs import check_crs, crs_label, infer_crs, to_crs
from ecogis.errors import CRSError, CRSGuessWarning, EncodingError, InputError, KindError
from ecogis.kinds import Kind, load_kinds
from ecogis.validate import RepairReport, clean_geometries

VECTOR_SUFFIXES = {".shp", ".geojson", ".json", ".gpkg", ".fgb", ".txt", ".zip", ".gdb", ".tab",
                   ".mif", ".dxf", ".kml", ".kmz", ".csv", ".xlsx", ".xlsm"}

#: .cpg values and what Python codec they mean
_CPG = {
    "utf-8": "utf-8", "utf8": "utf-8", "65001": "utf-8",
    "gbk": "gbk", "936": "gbk", "cp936": "gbk", "gb2312": "gbk", "ansi 936": "gbk",
    "gb18030": "gb18030", "54936": "gb18030",
    "big5": "big5", "950": "big5",
    "iso-8859-1": "latin-1", "88591": "latin-1", "latin1": "latin-1",
}
#: .dbf language driver ids (byte 29) that name a Chinese code page
_LDID = {0x4D: "gbk", 0x7A: "gbk", 0x4E: "big5", 0x78: "big5"}


@dataclass
class ReadReport:
    """How a file was read: CRS and encoding and where they came from, and the repairs."""

    source: str
    layer: str | None
    driver: str
    sha256: str
    features: int
    crs: str
    crs_source: str
    encoding: str | None
    encoding_source: str | None
    renamed_fields: dict = field(default_factory=dict)  # {source field: role} mapped
    field_map: dict = field(default_factory=dict)  # {role: source field}
    repairs: RepairReport = field(default_factory=RepairReport)
    #: how the geometry was transformed on the way in (a legacy datum with --towgs84)
    provenance: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["repairs"] = self.repairs.as_dict()
        return d


def parse_source(spec: str | os.PathLike) -> tuple[Path, str | None]:
    """Split ``"ws.gpkg:layer"`` into ``(Path("ws.gpkg"), "layer")``; a plain path has no layer."""
    s = os.fspath(spec)
    if ":" in s and not Path(s).exists():
        head, _, tail = s.rpartition(":")
        if head and Path(head).exists() and "/" not in tail and "\\" not in tail:
            return Path(head), tail
    return Path(s), None


def list_layers(path: str | os.PathLike) -> list[str]:
    """Return the layer names of a vector data source."""
    try:
        return [str(r[0]) for r in pyogrio.list_layers(path)]
    except Exception as exc:
        raise InputError(f"cannot open as vector data: {exc}", file=str(path),
                         fix="check the file is a Shapefile, GeoJSON, GeoPackage or FlatGeobuf") from None


def file_sha256(path: str | os.PathLike) -> str:
    """Return the SHA-256 of a file, including a shapefile's sidecar files in a fixed order."""
    p = Path(path)
    if p.is_dir() or p.suffix.lower() == ".shp":
        from ecogis.formats import sha256_of

        return sha256_of(p)
    files = [p]
    if p.suffix.lower() == ".shp":
        files = [f for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg")
                 for f in [p.with_suffix(ext)] if f.exists()]
    h = hashlib.sha256()
    for f in files:
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def dbf_text_bytes(dbf: str | os.PathLike, *, max_records: int = 50_000) -> tuple[bytes, int]:
    """Return the raw bytes of the character fields of a ``.dbf`` and its LDID byte.

    Used to decide the encoding before any library decodes (and possibly garbles) the text.
    """
    with open(dbf, "rb") as fh:
        head = fh.read(32)
        if len(head) < 32:
            return b"", 0
        nrec, hlen, rlen = struct.unpack("<IHH", head[4:12])
        ldid = head[29]
        fields = []
        offset = 1
        while True:
            desc = fh.read(32)
            if not desc or desc[0] == 0x0D:
                break
            ftype = chr(desc[11])
            flen = desc[16]
            if ftype == "C":
                fields.append((offset, flen))
            offset += flen
        fh.seek(hlen)
        chunks = []
        for _ in range(min(nrec, max_records)):
            rec = fh.read(rlen)
            if len(rec) < rlen:
                break
            for off, ln in fields:
                chunks.append(rec[off:off + ln].rstrip(b" \x00"))
        return b"\n".join(chunks), ldid


def check_encoding(name: str, *, file: str | None = None) -> str:
    """Return the Python codec for an encoding name (``GBK``, ``936``, ``utf-8`` ...)."""
    codec = _CPG.get(name.strip().lower(), name)
    try:
        codecs.lookup(codec)
    except LookupError:
        raise EncodingError(f"unknown encoding {name!r}", file=file,
                            fix="use an encoding such as gbk, gb18030 or utf-8") from None
    return codec


def _decodes(raw: bytes, codec: str) -> bool:
    try:
        raw.decode(codec)
        return True
    except (UnicodeDecodeError, LookupError):
        return False


def detect_shapefile_encoding(shp: str | os.PathLike, declared: str | None = None
                              ) -> tuple[str, str]:
    """Return ``(codec, how)`` for a shapefile's attribute text.

    Order: ``declared`` (``--encoding``), then the ``.cpg``, then the ``.dbf`` LDID byte, then
    strict UTF-8 with a GBK/GB18030 fall-back. Every choice is verified against the raw bytes;
    a contradiction is an :class:`~ecogis.errors.EncodingError` naming the fix.
    """
    p = Path(shp)
    dbf = p.with_suffix(".dbf")
    if not dbf.exists():
        return "utf-8", "no .dbf"
    raw, ldid = dbf_text_bytes(dbf)
    ascii_only = all(b < 0x80 for b in raw)
    if declared:
        codec = _CPG.get(declared.strip().lower(), declared)
        if not _decodes(raw, codec):
            raise EncodingError(f"attribute text is not valid {declared}", file=str(dbf),
                                fix="pass the right --encoding (utf-8 or gbk)")
        return codec, "--encoding"
    cpg = p.with_suffix(".cpg")
    if cpg.exists():
        value = cpg.read_text(encoding="ascii", errors="replace").strip()
        codec = _CPG.get(value.lower())
        if codec is None:
            raise EncodingError(f".cpg names an unknown encoding {value!r}", file=str(cpg),
                                fix="correct the .cpg or pass --encoding")
        if not _decodes(raw, codec):
            other = "gbk" if codec == "utf-8" else "utf-8"
            fix = (f"the text decodes as {other}: pass --encoding {other} or correct the .cpg"
                   if _decodes(raw, other) else "pass the right --encoding")
            raise EncodingError(f".cpg says {value} but the attribute text is not valid {value}",
                                file=str(cpg), fix=fix)
        return codec, ".cpg"
    if ascii_only:
        return "utf-8", "ASCII text (no .cpg)"
    if ldid in _LDID and _decodes(raw, _LDID[ldid]) and not _decodes(raw, "utf-8"):
        return _LDID[ldid], f".dbf language driver 0x{ldid:02X}"
    if _decodes(raw, "utf-8"):
        return "utf-8", "strict UTF-8 decode (no .cpg)"
    if _decodes(raw, "gbk"):
        return "gbk", "GBK detected: not valid UTF-8, valid GBK (no .cpg)"
    if _decodes(raw, "gb18030"):
        return "gb18030", "GB18030 detected: not valid UTF-8 or GBK (no .cpg)"
    raise EncodingError("attribute text is neither UTF-8 nor GBK/GB18030", file=str(dbf),
                        fix="pass --encoding with the file's code page")


def _read_text_file_utf8(path: Path, declared: str | None) -> tuple[Path, str, str, Path | None]:
    raw = path.read_bytes()
    if declared:
        codec = _CPG.get(declared.lower(), declared)
        how = "--encoding"
    elif _decodes(raw, "utf-8"):
        return path, "utf-8", "UTF-8", None
    elif _decodes(raw, "gb18030"):
        codec, how = "gb18030", "GBK/GB18030 detected (not valid UTF-8)"
    else:
        raise EncodingError("text is neither UTF-8 nor GBK/GB18030", file=str(path),
                            fix="pass --encoding")
    try:
        text = raw.decode(codec)
    except UnicodeDecodeError as exc:
        raise EncodingError(f"text is not valid {codec}: {exc.reason}", file=str(path),
                            fix="pass the right --encoding") from None
    tmp = Path(tempfile.mkdtemp(prefix="ecogis-")) / path.name
    tmp.write_text(text, encoding="utf-8")
    return tmp, codec, how, tmp


def _map_fields(gdf: gpd.GeoDataFrame, kind: Kind, explicit: dict[str, str] | None,
                file: str | None, layer: str | None) -> tuple[gpd.GeoDataFrame, dict, dict]:
    """Resolve the layer's field roles (kinds.toml aliases, ``--field``) and add them as columns.

    Returns the GeoDataFrame (source fields kept, role columns added), ``{role: source}`` and
    the non-identity part as ``{source: role}``.
    """
    from ecogis.fields import apply_roles, resolve_field_map

    fmap = resolve_field_map(list(gdf.columns.drop(gdf.geometry.name)), kind, explicit=explicit,
                             file=file, layer=layer)
    mapped = {src: role for role, src in fmap.items() if src != role}
    return apply_roles(gdf, fmap), fmap, mapped


def check_fields(gdf: gpd.GeoDataFrame, kind: Kind, *, file: str | None = None,
                 layer: str | None = None) -> None:
    """Raise when required fields are missing or enumerated fields hold unknown values."""
    missing = [f for f in kind.required if f not in gdf.columns]
    if missing:
        raise KindError(
            f"kind {kind.label} requires field(s) {missing}; the layer has "
            f"{[c for c in gdf.columns if c != gdf.geometry.name]}", file=file, layer=layer,
            fix=f"add the field(s), or map the source field on import: --field SRC={missing[0]}"
                f" (names ecogis knows: ecogis kinds --format json)")
    for fname, allowed in kind.values.items():
        if fname not in gdf.columns:
            continue
        vals = gdf[fname]
        bad = vals.notna() & ~vals.astype(str).isin(allowed)
        if bad.any():
            fid = gdf.index[bad.to_numpy()][0]
            raise InputError(
                f"field {fname!r} has value {str(vals[bad].iloc[0])!r}, not one of {list(allowed)}",
                file=file, layer=layer, feature=fid,
                fix=f"correct the attribute to one of {', '.join(allowed)}")


def read_vector(
    path: str | os.PathLike,
    layer: str | None = None,
    *,
    crs=None,
    encoding: str | None = None,
    kind: str | Kind | None = None,
    warn: bool = True,
    fields: dict[str, str] | None = None,
    towgs84: str | list | None = None,
) -> tuple[gpd.GeoDataFrame, ReadReport]:
    """Read one vector layer with CRS and encoding detection and reported repairs.

    Parameters
    ----------
    path : path or ``"file.gpkg:layer"`` (also ``x.gdb:LAYER``); any source of
        :mod:`ecogis.formats` (Shapefile, File Geodatabase, zip, MapInfo, DXF, KML, xlsx/csv
        coordinate lists, GeoJSON, GeoPackage, FlatGeobuf) or a 界址点 TXT
    layer : layer name for multi-layer sources (a GeoPackage with one layer needs none; the
        CAD layer of a DXF; the member of a zip)
    crs : override or supply the CRS (``"EPSG:4544"``); checked against the coordinates
    encoding : attribute text encoding (default: detected, see
        :func:`ecogis.formats.shapefile_encoding`)
    kind : layer kind id or :class:`~ecogis.kinds.Kind`; decides the geometry type kept,
        required fields and enumerations (default ``generic``)
    fields : ``{source field: role}`` from ``--field SRC=ROLE``, on top of the kind's aliases
    towgs84 : ``"dx,dy,dz,rx,ry,rz,ds"``: the 7 parameters to bring a Xian 1980 / Beijing 1954
        layer to CGCS2000 (without them such a layer is refused)

    Returns
    -------
    (GeoDataFrame indexed by feature id ``fid``, :class:`ReadReport`)
    """
    from ecogis.formats import datum as datums
    from ecogis.formats import read_raw
    from ecogis.formats.coords import check_in_china, check_vertices

    p, spec_layer = parse_source(path)
    layer = layer or spec_layer
    if encoding:
        check_encoding(encoding, file=str(p))
    k = kind if isinstance(kind, Kind) else load_kinds()[kind or "generic"]
    if not p.exists():
        raise InputError("file not found", file=str(p), fix="check the path")
    suffix = p.suffix.lower()
    if suffix == ".txt":
        try:
            from ecogis import jzd
        except ImportError:  # pragma: no cover - jzd ships with ecogis
            raise InputError("TXT 界址点 files are not supported by this build", file=str(p)) from None
        gdf, report = jzd.read_jzd(p, crs=crs, encoding=encoding, kind=k)
        return gdf, report
    if encoding:
        encoding = _CPG.get(encoding.strip().lower(), encoding)
    raw = read_raw(p, layer, encoding=encoding)
    gdf, layer, driver = raw.gdf, raw.layer, raw.driver
    enc, enc_how = raw.encoding, raw.encoding_source
    where = {"file": str(p), "layer": layer}

    if len(gdf) == 0:
        raise InputError("the layer has no features", **where, fix="check the export")
    check_vertices(gdf, **where)

    # CRS: the file's, an explicit override, or inferred from the coordinates
    bounds = gdf.total_bounds
    file_crs = gdf.crs
    provenance: dict = {}
    if crs is not None:
        declared = to_crs(crs)
        how = "--crs" if file_crs is None else f"--crs (file said {crs_label(file_crs)})"
    elif file_crs is not None:
        declared, how = file_crs, "file"
        if raw.crs_note:
            declared, how = to_crs(4490), f"file: {raw.crs_note}"
    elif raw.crs_required:
        raise CRSError(f"a {driver} file has no CRS", **where,
                       fix="pass --crs EPSG:XXXX (e.g. EPSG:4523 for GK zone 35 with prefix)")
    else:
        declared, reason = infer_crs(bounds, **where)
        how = f"inferred: {reason}"
        if warn:
            warnings.warn(f"{p} has no CRS; {reason}", CRSGuessWarning, stacklevel=2)
    legacy = datums.legacy_datum(declared)
    if legacy is not None:
        if towgs84 is None:
            datums.refuse(declared, legacy, **where)
        params = towgs84 if isinstance(towgs84, list) else datums.parse_towgs84(str(towgs84), **where)
        gdf = gdf.set_crs(declared, allow_override=True)
        gdf, declared, provenance = datums.transform(gdf, declared, params)
        how += f"; {legacy} -> {crs_label(declared)} by --towgs84 {','.join(f'{v:g}' for v in params)}"
        bounds = gdf.total_bounds
    elif towgs84 is not None:
        raise CRSError(f"--towgs84 given but the CRS {crs_label(declared)} is not Xian 1980 or "
                       "Beijing 1954", **where, fix="drop --towgs84 (or pass the legacy --crs)")
    check_crs(declared, bounds, **where)
    gdf = gdf.set_crs(declared, allow_override=True)
    check_in_china(gdf, declared, **where)

    gdf, fmap, renamed = _map_fields(gdf, k, fields, str(p), layer)
    gdf, repairs = clean_geometries(gdf, k, file=str(p), layer=layer, measure_crs=declared,
                                    warn=warn)
    if raw.notes:
        repairs.notes = list(raw.notes) + repairs.notes
        if warn:
            from ecogis.errors import RepairWarning

            warnings.warn(f"{p}: {'; '.join(raw.notes)}", RepairWarning, stacklevel=2)
    if len(gdf) == 0:
        raise InputError("no usable geometry left after dropping null/empty features", **where,
                         fix="check the export")
    check_fields(gdf, k, **where)
    report = ReadReport(
        source=str(p), layer=layer, driver=driver, sha256=raw.sha256 or file_sha256(p),
        features=len(gdf), crs=crs_label(declared), crs_source=how, encoding=enc,
        encoding_source=enc_how, renamed_fields=renamed, field_map=fmap, repairs=repairs,
        provenance=provenance)
    return gdf, report
