"""Getting files in right: every format a bureau receives, read to one GeoDataFrame.

:func:`read_raw` opens one layer of a data source and returns it undecided (CRS may be None)
with how it was read; :func:`ecogis.io.read_vector` then settles CRS, datum, coordinates and
geometry. Sources:

==============================  ===========================================================
source                          how
==============================  ===========================================================
``x.shp`` (any letter case)     byte-level checks (:mod:`.shapefile`), encoding detected
                                from field names and every value (:mod:`.encoding`)
``x.gdb`` folder                File Geodatabase (GDAL OpenFileGDB); ``--layer`` or
                                ``x.gdb:LAYER``; non-spatial tables refused
``x.zip``                       extracted, then read like the file inside (a shapefile keeps
                                its encoding detection); ``--layer`` picks a member
``x.tab`` / ``x.mif``           MapInfo; the ``.dat``/``.mid`` text checked like a ``.dbf``
``x.dxf``                       closed polylines and hatches as polygons; ``--layer`` is the
                                CAD layer; ``--crs`` required (DXF has no CRS)
``x.kml`` / ``x.kmz``           KML (WGS 84, taken as CGCS2000)
``x.xlsx`` / ``x.csv``          coordinate lists (:mod:`.tables`)
GeoJSON, GeoPackage, FGB ...    GDAL
``x.dwg``, a lone ``.dbf``,     one line with the fix
a non-spatial table
==============================  ===========================================================
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from ecogis.errors import EncodingError, InputError

#: suffixes :func:`read_raw` reads (besides folders)
SUFFIXES = {".shp", ".geojson", ".json", ".gpkg", ".fgb", ".zip", ".gdb", ".tab", ".mif",
            ".dxf", ".kml", ".kmz", ".csv", ".xlsx", ".xlsm", ".gml", ".gpx"}
_DATASETS = (".shp", ".gpkg", ".geojson", ".json", ".fgb", ".tab", ".mif", ".dxf", ".kml",
             ".csv", ".xlsx", ".gml")
#: refuse archives that expand beyond this (a zip bomb, or not planning data)
MAX_UNZIPPED = 4 << 30


@dataclass
class RawRead:
    """One layer as read, before CRS and geometry checks."""

    gdf: object
    layer: str | None
    driver: str
    sha256: str
    encoding: str | None = None
    encoding_source: str | None = None
    notes: list[str] = field(default_factory=list)
    crs_required: bool = False
    crs_note: str | None = None


def sha256_of(path: Path) -> str:
    """SHA-256 of a file, a shapefile with its sidecars, or a folder (names and bytes)."""
    from ecogis.formats.shapefile import sidecar

    p = Path(path)
    h = hashlib.sha256()
    if p.is_dir():
        for f in sorted(q for q in p.rglob("*") if q.is_file()):
            h.update(str(f.relative_to(p)).encode())
            h.update(f.read_bytes())
        return h.hexdigest()
    files = [p]
    if p.suffix.lower() == ".shp":
        files = [f for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg")
                 for f in [sidecar(p, ext)] if f is not None]
    for f in files:
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def _is_gdb(p: Path) -> bool:
    return p.is_dir() and (p.suffix.lower() == ".gdb"
                           or any(f.suffix.lower() == ".gdbtable" for f in p.iterdir()))


def read_raw(p: Path, layer: str | None = None, *, encoding: str | None = None,
             display: str | None = None) -> RawRead:
    """Read one layer of ``p`` (see the module table); ``display`` names it in messages."""
    file = display or str(p)
    suffix = p.suffix.lower()
    if p.is_dir():
        if _is_gdb(p):
            return _gdal(p, layer, file=file, driver_hint="OpenFileGDB")
        inner = sorted(str(f.name) for f in p.iterdir() if f.suffix.lower() in _DATASETS
                       or _is_gdb(f))
        raise InputError("is a folder, not a data file" + (f" (it holds {', '.join(inner[:5])})"
                         if inner else ""), file=file,
                         fix="name the file inside, e.g. " + (f"{p / inner[0]}" if inner else
                                                              "FOLDER/layer.shp"))
    if suffix == ".dwg":
        raise InputError("DWG is AutoCAD's closed format, which GDAL cannot read", file=file,
                         fix="save it as DXF (AutoCAD: 另存为 DXF; or the free ODA File "
                         "Converter), then import the .dxf with --crs EPSG:XXXX")
    if suffix == ".xls":
        raise InputError("old Excel .xls files are not read", file=file,
                         fix="save the sheet as .xlsx or .csv")
    if suffix == ".zip":
        return _zip(p, layer, encoding=encoding, file=file)
    if suffix in (".csv", ".xlsx", ".xlsm"):
        from ecogis.formats.tables import read_coordinate_table

        gdf, info = read_coordinate_table(p, encoding=encoding, layer=layer)
        return RawRead(gdf, info.get("sheet"), "XLSX" if suffix != ".csv" else "CSV",
                       sha256_of(p), info.get("encoding"), info.get("encoding_source"),
                       info.get("notes", []))
    if suffix == ".dbf":
        from ecogis.formats.shapefile import sidecar

        shp = sidecar(p, ".shp")
        raise InputError("a .dbf alone is only the attribute table: the shapes are in the .shp",
                         file=file, fix=(f"import {shp.name} instead" if shp is not None else
                                         f"copy {p.stem}.shp and {p.stem}.shx of the same export "
                                         "next to it and import the .shp"))
    if suffix == ".shp":
        return _shapefile(p, layer, encoding=encoding, file=file)
    if suffix in (".tab", ".mif"):
        return _mapinfo(p, layer, encoding=encoding, file=file)
    if suffix == ".dxf":
        from ecogis.formats.cad import read_dxf

        gdf, cad_layer, notes = read_dxf(p, layer, file=file)
        return RawRead(gdf, cad_layer, "DXF", sha256_of(p), None, "DXF header", notes,
                       crs_required=True)
    if suffix in (".geojson", ".json", ".gml", ".gpx"):
        data = p.read_bytes()
        text, enc, how = decode_text_bytes(data, encoding, file=file)
        if enc == "utf-8" and not data.startswith(b"\xef\xbb\xbf"):
            raw = _gdal(p, layer, file=file)
        else:  # GDAL reads these formats as UTF-8: hand it a UTF-8 copy
            with tempfile.TemporaryDirectory(prefix="ecogis-text-") as tmp:
                q = Path(tmp) / p.name
                q.write_text(text, encoding="utf-8")
                raw = _gdal(q, layer, file=file)
        raw.sha256, raw.encoding, raw.encoding_source = sha256_of(p), enc, how
        return raw
    if suffix in (".kml", ".kmz"):
        raw = _gdal(p, layer, file=file)
        raw.crs_note = "KML is WGS 84 (taken as CGCS2000: they differ by well under a metre)"
        raw.encoding, raw.encoding_source = "utf-8", "KML (always UTF-8)"
        return raw
    raw = _gdal(p, layer, file=file)
    if encoding:
        raw.encoding, raw.encoding_source = encoding, "--encoding"
    return raw


def decode_text_bytes(data: bytes, declared: str | None, *, file: str) -> tuple[str, str, str]:
    """Return ``(text, codec, how)`` for a text file: ``--encoding``, a BOM, else detected.

    Detection (:func:`ecogis.formats.encoding.detect` over the non-ASCII lines) tells UTF-8,
    GBK/GB18030 and Big5 apart and refuses when unsure.
    """
    from ecogis.formats.encoding import detect, label

    if declared:
        try:
            return data.decode(declared), declared, "--encoding"
        except (UnicodeDecodeError, LookupError) as exc:
            det = detect([(ln, False) for ln in data.splitlines()],
                         candidates=("utf-8", "gbk", "gb18030", "big5"))
            hint = f"--encoding {det.codec}" if det.codec else "the right --encoding"
            raise EncodingError(f"the text is not valid {declared} ({exc.reason})", file=file,
                                fix=f"pass {hint}") from None
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8"), "utf-8", "UTF-8 BOM"
        except UnicodeDecodeError:
            raise EncodingError("a UTF-8 BOM but the text is not UTF-8", file=file,
                                fix="pass --encoding gbk (or the file's code page)") from None
    if data.isascii():
        return data.decode("ascii"), "utf-8", "ASCII"
    det = detect([(ln, False) for ln in data.splitlines()],
                 candidates=("utf-8", "gbk", "gb18030", "big5"))
    if det.codec is None:
        raise EncodingError(f"cannot tell the text encoding: the candidates are "
                            f"{det.describe() or 'none (nothing decodes)'}", file=file,
                            fix="pass --encoding (utf-8, gbk, gb18030 or big5)")
    how = "strict UTF-8" if det.codec == "utf-8" else f"{label(det.codec)} detected (not UTF-8)"
    if det.prior:
        how += "; Big5 equally plausible: GBK preferred"
    codec = "gb18030" if det.codec == "gbk" else det.codec  # the superset: same text, never fails
    return data.decode(codec), codec, how


def _gdal(src: Path | str, layer: str | None, *, file: str, driver_hint: str | None = None,
          read_kw: dict | None = None) -> RawRead:
    """Read a layer with pyogrio; non-spatial layers refused, several layers need a name."""
    import pyogrio

    if isinstance(src, Path) and ("!" in src.name or src.name.startswith("/vsi")):
        # GDAL reads "!" and "/vsi" in a name as its own path syntax: go through a plain link
        with tempfile.TemporaryDirectory(prefix="ecogis-link-") as tmp:
            link = Path(tmp) / src.name.replace("!", "_").replace("/vsi", "_vsi")
            os.symlink(src.resolve(), link)
            return _gdal(link, layer, file=file, driver_hint=driver_hint, read_kw=read_kw)
    try:
        listed = [(str(n), g) for n, g in pyogrio.list_layers(src)]
    except Exception as exc:
        raise InputError(f"cannot open as vector data: {exc}", file=file,
                         fix="check the file is a Shapefile, GeoPackage, File Geodatabase, "
                         "GeoJSON, FlatGeobuf, MapInfo, DXF, KML or a coordinate table") from None
    names = [n for n, _ in listed]
    spatial = [n for n, g in listed if g is not None]
    if layer is None:
        if len(spatial) == 1:
            layer = spatial[0]
        elif len(names) == 1:
            layer = names[0]
        elif not names:
            raise InputError("holds no layers", file=file, fix="check the export")
        else:
            shown = spatial or names
            raise InputError(f"has {len(shown)} layers: {', '.join(shown)}", file=file,
                             fix=f"name one as {Path(file).name}:LAYER or with --layer LAYER "
                             f"(e.g. --layer {shown[0]})")
    elif layer not in names:
        raise InputError(f"has no layer {layer!r} (layers: {', '.join(spatial or names)})",
                         file=file, fix="use one of the listed layer names")
    try:
        info = pyogrio.read_info(src, layer=layer)
        if info.get("geometry_type") is None:
            df = pyogrio.read_dataframe(src, layer=layer, read_geometry=False,
                                        **(read_kw or {}))
            return _non_spatial(df, layer, file=file, spatial=spatial, src=src,
                                driver=info.get("driver", ""))
        gdf = pyogrio.read_dataframe(src, layer=layer, fid_as_index=True, **(read_kw or {}))
    except InputError:
        raise
    except Exception as exc:
        if "WKB type 16" in str(exc) or "WKB type 15" in str(exc) or "TIN" in str(exc):
            raise InputError("3-D surfaces (MultiPatch, TIN, PolyhedralSurface) are not planning "
                             "polygons", file=file, layer=layer,
                             fix="export the layer as 2-D polygons (ArcGIS: Multipatch Footprint; "
                             "QGIS: Polygonize)") from None
        raise InputError(f"cannot read: {exc}", file=file, layer=layer,
                         fix="check the file with ogrinfo; re-export it") from None
    gdf.index.name = "fid"
    if gdf.crs is not None:
        from ecogis.formats.datum import identify

        gdf = gdf.set_crs(identify(gdf.crs), allow_override=True)
    return RawRead(gdf, layer, info.get("driver", driver_hint or ""), "")


def _non_spatial(df, layer, *, file, spatial, src, driver) -> RawRead:
    from ecogis.formats.tables import frame_to_geodataframe, has_coordinates

    if has_coordinates(df.columns):
        gdf, notes = frame_to_geodataframe(df.astype(object), file=file)
        notes.insert(0, f"table {layer!r} has no geometry: built from its coordinate columns")
        return RawRead(gdf, layer, driver, "", notes=notes)
    raise InputError(
        f"layer {layer!r} is a table without geometry (columns "
        f"{', '.join(map(str, list(df.columns)[:6]))})", file=file,
        fix=(f"import a spatial layer: {', '.join(spatial)}" if spatial else
             "export the layer with its geometry, or add X/Y (or lon/lat, wkt) columns"))


def _shapefile(p: Path, layer: str | None, *, encoding: str | None, file: str) -> RawRead:
    from ecogis.formats.shapefile import check_counts, walk_shp

    walk = walk_shp(p)
    src, notes = check_counts(p, walk)
    try:
        codec, how, cut_note = shapefile_encoding(p, encoding, file=file)
        raw = _gdal(src, None, file=file, read_kw={"encoding": "ISO-8859-1"})
    finally:
        if src != p:
            shutil.rmtree(src.parent, ignore_errors=True)
    from ecogis.formats.shapefile import dbf_header, redecode_frame, sidecar

    _n, _h, _r, _l, fields = dbf_header(sidecar(p, ".dbf"))
    widths = {name.decode("latin-1"): ln for name, _t, _o, ln in fields}
    raw.gdf, cut = redecode_frame(raw.gdf, codec, file=file, widths=widths)
    if cut:
        ex = cut[0]
        notes.append(f"{len(cut)} text value(s) cut mid-character at the .dbf field width "
                     f"(first: feature {ex[0]}, field {ex[1]!r}): the partial character dropped")
    if walk.unclosed:
        ids = ", ".join(str(r - 1) for r in walk.unclosed[:5])
        notes.append(f"{len(walk.unclosed)} feature(s) with a ring not closed (features {ids}"
                     f"{'…' if len(walk.unclosed) > 5 else ''}): closed")
    if walk.cw_holes:
        ids = ", ".join(str(r - 1) for r in sorted(walk.cw_holes)[:5])
        notes.append(f"{len(walk.cw_holes)} feature(s) with a ring inside an outer ring but wound "
                     f"clockwise like an outer ring (features {ids}"
                     f"{'…' if len(walk.cw_holes) > 5 else ''}): read as holes (ring reversed)")
    raw.notes = notes + raw.notes
    raw.sha256, raw.encoding, raw.encoding_source = sha256_of(p), codec, how
    raw.layer = layer or raw.layer
    return raw


def shapefile_encoding(p: Path, declared: str | None, *, file: str) -> tuple[str, str, str | None]:
    """Return ``(codec, how, None)`` for a shapefile's text: ``--encoding``, ``.cpg``, bytes.

    Every choice is checked against the field names and all values of the ``.dbf``; a ``.cpg``
    contradicted by the bytes, or bytes that fit no code page clearly, raise
    :class:`~ecogis.errors.EncodingError` with the ``--encoding`` fix.
    """
    from ecogis.formats.encoding import detect, label
    from ecogis.formats.shapefile import dbf_header, dbf_text, sidecar
    from ecogis.io import _CPG, _LDID

    dbf = sidecar(p, ".dbf")
    values = dbf_text(dbf)
    if declared:
        codec = _CPG.get(declared.strip().lower(), declared)
        bad = _first_undecodable(values, codec)
        if bad is not None:
            det = detect(values)
            hint = f": it decodes as {label(det.codec)}, pass --encoding {det.codec}" \
                if det.codec else ""
            raise EncodingError(f"attribute text is not valid {declared} (e.g. {bad!r}){hint}",
                                file=str(dbf), fix=f"pass the right --encoding{hint and ''}"
                                + (f" ({det.codec})" if det.codec else " (gbk, big5, utf-8)"))
        return codec, "--encoding", None
    det = detect(values)
    cpg = sidecar(p, ".cpg")
    if cpg is not None:
        value = cpg.read_text(encoding="ascii", errors="replace").strip()
        codec = _CPG.get(value.lower())
        if codec is None:
            raise EncodingError(f".cpg names an unknown encoding {value!r}", file=str(cpg),
                                fix="correct the .cpg or pass --encoding")
        if not values:
            return codec, ".cpg", None
        ok = _first_undecodable(values, codec) is None
        agrees = det.codec is None or det.codec == codec or {det.codec, codec} <= {"gbk", "gb18030"}
        if ok and agrees:
            return codec, ".cpg", None
        real = det.codec
        shown = det.examples.get(codec) if ok else None
        raise EncodingError(
            f".cpg says {value} but the text is " + (f"{label(real)}" if real else
                                                     f"not plausible {value}")
            + (f" ({value} would read {shown!r}, {label(real)} reads {det.examples[real]!r})"
               if shown and real else ""), file=str(cpg),
            fix=(f"pass --encoding {real} (or correct the .cpg)" if real else
                 "pass the right --encoding"))
    if not values:
        return "utf-8", "ASCII text (no .cpg)", None
    _nrec, _h, _r, ldid, _f = dbf_header(dbf)
    by_ldid = _LDID.get(ldid)
    if by_ldid and (det.codec is None or det.prior) and det.scores.get(by_ldid, 0) >= 0.8:
        return by_ldid, (f"{label(by_ldid)}: .dbf language driver 0x{ldid:02X}, confirmed by "
                         f"the text (candidates {det.describe()}) (no .cpg)"), None
    if det.codec is None:
        raise EncodingError(
            f"cannot tell the attribute text encoding: the candidates are {det.describe()}",
            file=str(dbf), fix="pass --encoding with the file's code page (e.g. gbk, big5)")
    how = f"{label(det.codec)} detected from {len(values)} distinct text value(s) and field names"
    if det.prior:
        how += " (Big5 equally plausible: GBK preferred; pass --encoding big5 if wrong)"
    if ldid in _LDID:
        how += f"; .dbf language driver 0x{ldid:02X}"
    return det.codec, how + " (no .cpg)", None


def _first_undecodable(values, codec: str) -> str | None:
    from ecogis.formats.encoding import decode_value

    for raw, full in values:
        try:
            decode_value(raw, codec, full=full)
        except (UnicodeDecodeError, LookupError):
            return raw[:24].decode("latin-1")
    return None


def _mapinfo(p: Path, layer: str | None, *, encoding: str | None, file: str) -> RawRead:
    """MapInfo TAB/MIF: decide the encoding from the ``.dat``/``.mid`` bytes, as for a .dbf."""
    from ecogis.formats.encoding import detect, label
    from ecogis.formats.shapefile import dbf_text, redecode_frame, sidecar

    values: list = []
    if p.suffix.lower() == ".tab":
        dat = sidecar(p, ".dat")
        if dat is not None:
            try:
                values = dbf_text(dat)
            except InputError:
                values = []
    else:
        mid = sidecar(p, ".mid")
        if mid is not None:
            values = [(ln, False) for ln in mid.read_bytes().splitlines()]
    if encoding:
        codec, how = encoding, "--encoding"
        bad = _first_undecodable(values, codec)
        if bad is not None:
            raise EncodingError(f"attribute text is not valid {encoding} (e.g. {bad!r})",
                                file=file, fix="pass the right --encoding")
    else:
        det = detect(values)
        if det.codec is None:
            raise EncodingError(f"cannot tell the attribute text encoding: the candidates are "
                                f"{det.describe()}", file=file,
                                fix="pass --encoding with the file's code page (e.g. gbk)")
        codec = det.codec
        how = f"{label(codec)} detected from the attribute bytes"
    charset = _tab_charset(p)
    if charset and charset.lower() != "neutral" and not encoding:
        # GDAL recodes a declared !charset to UTF-8 itself; the bytes must agree with it
        raw = _gdal(p, layer, file=file)
        how = f"TAB !charset {charset}" + (f" (bytes: {how})" if values else "")
        codec = {"windowssimpchinese": "gbk", "windowstradchinese": "big5",
                 "windowscyrillic": "cp1251", "windowslatin1": "latin-1",
                 "utf-8": "utf-8", "utf8": "utf-8"}.get(charset.lower(), codec)
    else:
        raw = _gdal(p, layer, file=file, read_kw={"encoding": "ISO-8859-1"})
        raw.gdf, _cut = redecode_frame(raw.gdf, codec, file=file)
    raw.sha256, raw.encoding, raw.encoding_source = sha256_of(p), codec, how
    return raw


def _tab_charset(p: Path) -> str | None:
    """Return the ``!charset`` of a MapInfo ``.tab`` (or ``Charset`` of a ``.mif``), or None."""
    try:
        head = p.read_bytes()[:2048].decode("latin-1")
    except OSError:
        return None
    import re

    m = re.search(r'^\s*!?charset\s+"?([\w-]+)"?', head, re.I | re.M)
    return m.group(1) if m else None


def _zip(p: Path, layer: str | None, *, encoding: str | None, file: str) -> RawRead:
    """Extract a zip to a temporary folder and read the dataset inside."""
    try:
        zf = zipfile.ZipFile(p)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"not a readable zip archive ({exc})", file=file,
                         fix="check the download or zip the files again") from None
    with zf, tempfile.TemporaryDirectory(prefix="ecogis-zip-") as tmp:
        total = sum(i.file_size for i in zf.infolist())
        if total > MAX_UNZIPPED:
            raise InputError(f"expands to {total / 2**30:.1f} GiB", file=file,
                             fix="unzip it yourself and import the file inside")
        root = Path(tmp)
        for info in zf.infolist():
            name = _member_name(info)
            target = (root / name).resolve()
            if not str(target).startswith(str(root.resolve())):
                raise InputError(f"member {name!r} points outside the archive", file=file,
                                 fix="zip the files again without absolute or ../ paths")
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
        cands = _datasets_in(root)
        if not cands:
            raise InputError("the zip holds no data file (.shp, .gdb, .gpkg, .tab, .dxf ...)",
                             file=file, fix="zip the data files themselves")
        inner_layer = layer
        if len(cands) > 1:
            pick = [c for c in cands if layer and (c.stem == layer or c.name == layer)]
            if len(pick) != 1:
                shown = ", ".join(str(c.relative_to(root)) for c in cands[:8])
                raise InputError(f"the zip holds {len(cands)} datasets: {shown}", file=file,
                                 fix=f"pick one with --layer {cands[0].stem}")
            cands, inner_layer = pick, None
        inner = cands[0]
        rel = inner.relative_to(root)
        raw = read_raw(inner, inner_layer, encoding=encoding, display=f"{file}!{rel}")
        if inner.suffix.lower() == ".shp" and inner_layer is None and layer:
            raw.layer = layer
    raw.sha256 = sha256_of(p)
    raw.driver = f"{raw.driver} in zip"
    return raw


def _member_name(info: zipfile.ZipInfo) -> str:
    """A member's name: UTF-8 when flagged, else the CP437 name re-read as GBK (Chinese zips)."""
    name = info.filename
    if not info.flag_bits & 0x800:
        with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
            name = name.encode("cp437").decode("gbk")
    return name


def _datasets_in(root: Path) -> list[Path]:
    out = []
    for f in sorted(root.rglob("*")):
        if any(part.lower().endswith(".gdb") for part in f.relative_to(root).parts[:-1]):
            continue
        if f.is_dir() and _is_gdb(f):
            out.append(f)
        elif f.is_file() and f.suffix.lower() in _DATASETS and not f.name.startswith("._"):
            if f.suffix.lower() == ".json" and f.name.lower() in ("manifest.json",):
                continue
            out.append(f)
    return out


def refuse_encoding_name(name: str, *, file: str) -> None:
    """Raise when ``name`` is not a codec Python knows."""
    import codecs

    try:
        codecs.lookup(name)
    except LookupError:
        raise EncodingError(f"unknown encoding {name!r}", file=file,
                            fix="use an encoding such as gbk, gb18030, big5 or utf-8") from None


__all__ = ["RawRead", "SUFFIXES", "read_raw", "sha256_of", "shapefile_encoding"]
