"""Shapefiles checked byte by byte before GDAL reads them: sidecars, record counts, rings, text.

GDAL reads a damaged shapefile without complaint: a truncated ``.shp`` gives null geometries, a
``.dbf`` with fewer records than the ``.shp`` loses shapes, unclosed rings are closed and a
counter-clockwise "hole" outside every outer ring becomes an extra polygon. This module walks
the ``.shp`` records itself (the ESRI Shapefile Technical Description, 1998) and turns every
discrepancy into an :class:`~ecogis.errors.InputError` naming the fix, or a reported repair:

- ``.shp`` truncated mid-record, ``.dbf`` record count different from the ``.shp``, ``.dbf``
  shorter than its header says, no ``.dbf``: errors;
- ``.shx`` missing or not matching the ``.shp``: rebuilt from the ``.shp`` (reported);
- a polygon ring whose last point is not its first: closed (reported, with the feature ids);
- a ring inside an odd number of rings but wound clockwise (an outer ring by the spec; GDAL
  would read it as an extra overlapping polygon): reversed to a hole (reported);
- a hole (counter-clockwise ring) outside every outer ring of its record: error.

Sidecars are found whatever their case (``REDLINE.SHP`` + ``REDLINE.DBF``).
"""

from __future__ import annotations

import os
import shutil
import struct
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely

from ecogis.errors import EncodingError, GeometryError, InputError

_POLYGON_TYPES = {5, 15, 25}
_SIDE = (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx")


def sidecar(shp: Path, ext: str) -> Path | None:
    """Return the sidecar ``ext`` (``.dbf``) of ``shp`` in any letter case, or None."""
    for cand in (shp.with_suffix(ext), shp.with_suffix(ext.upper()), shp.with_suffix(ext.lower())):
        if cand.exists():
            return cand
    stem = shp.stem.lower()
    try:
        for f in shp.parent.iterdir():
            if f.stem.lower() == stem and f.suffix.lower() == ext.lower():
                return f
    except OSError:
        return None
    return None


@dataclass
class ShpWalk:
    """What the ``.shp`` holds: record offsets/lengths (bytes), shape type and ring findings."""

    shape_type: int
    offsets: list[int] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    unclosed: list[int] = field(default_factory=list)  # 1-based record numbers
    cw_holes: dict[int, list[int]] = field(default_factory=dict)  # record -> rings to reverse


def walk_shp(shp: Path) -> ShpWalk:
    """Walk the records of a ``.shp``; raise :class:`InputError` when it is truncated."""
    data = shp.read_bytes()
    if len(data) < 100 or struct.unpack(">i", data[:4])[0] != 9994:
        raise InputError("not a shapefile (.shp header missing or wrong)", file=str(shp),
                         fix="re-export the shapefile")
    declared = struct.unpack(">i", data[24:28])[0] * 2
    stype = struct.unpack("<i", data[32:36])[0]
    shx = sidecar(shp, ".shx")
    if shx is not None and declared == len(data):
        fast = _walk_by_index(data, shx.read_bytes(), stype, shp)
        if fast is not None:
            return fast
    w = ShpWalk(stype)
    off = 100
    n = 0
    while off < len(data):
        if off + 8 > len(data):
            raise InputError(f"the .shp is truncated: {len(data) - off} stray bytes after record "
                             f"{n}", file=str(shp), fix="copy or export the shapefile again: "
                             "the .shp is incomplete")
        _num, clen = struct.unpack(">ii", data[off:off + 8])
        end = off + 8 + clen * 2
        if clen < 2 or end > len(data):
            raise InputError(
                f"the .shp is truncated: record {n + 1} needs {clen * 2} bytes at byte {off + 8} "
                f"but the file ends at {len(data)} (header says {declared})", file=str(shp),
                fix="copy or export the shapefile again: the .shp is incomplete")
        n += 1
        w.offsets.append(off)
        w.lengths.append(clen * 2)
        rtype = struct.unpack("<i", data[off + 8:off + 12])[0]
        if rtype in _POLYGON_TYPES:
            _check_polygon(data, off + 8, clen * 2, n, w, shp)
        off = end
    if declared != len(data) and declared > len(data):
        raise InputError(f"the .shp is truncated: its header says {declared} bytes, the file has "
                         f"{len(data)}", file=str(shp), fix="copy or export the shapefile again")
    return w


def _walk_by_index(data: bytes, shx: bytes, stype: int, shp: Path) -> ShpWalk | None:
    """The walk of a sound shapefile from its ``.shx``, vectorised; None when anything is off.

    Every record header is checked against the index (contiguous records, matching numbers
    and lengths, the last one ending at the end of the file); single-ring polygons are checked
    for closure with one gather; records with several rings go through :func:`_check_polygon`.
    """
    n = (len(shx) - 100) // 8
    if n <= 0 or len(shx) != 100 + 8 * n:
        return None
    idx = np.frombuffer(shx, ">i4", 2 * n, 100).reshape(n, 2).astype(np.int64) * 2
    off, ln = idx[:, 0], idx[:, 1]
    if off[0] != 100 or (ln < 4).any() or off[-1] + 8 + ln[-1] != len(data) \
            or not np.array_equal(off[1:], off[:-1] + 8 + ln[:-1]):
        return None
    buf = np.frombuffer(data, np.uint8)

    def gather(pos, width):
        return buf[pos[:, None] + np.arange(width)]

    head = gather(off, 12)
    nums = head[:, :8].copy().view(">i4").reshape(n, 2)
    if not (np.array_equal(nums[:, 0], np.arange(1, n + 1)) and np.array_equal(nums[:, 1] * 2, ln)):
        return None
    w = ShpWalk(stype, off.tolist(), ln.tolist())
    rtype = head[:, 8:12].copy().view("<i4").ravel()
    poly = np.isin(rtype, list(_POLYGON_TYPES)) & (ln >= 44)
    if not poly.any():
        return w
    pi = np.flatnonzero(poly)
    counts = gather(off[pi] + 44, 8).copy().view("<i4").reshape(len(pi), 2)
    nparts, npts = counts[:, 0].astype(np.int64), counts[:, 1].astype(np.int64)
    if ((nparts < 0) | (44 + 4 * nparts + 16 * npts > ln[pi])).any():
        return None
    single = (nparts == 1) & (npts > 0)
    si = pi[single]
    first = gather(off[si] + 8 + 48, 16)
    last = gather(off[si] + 8 + 48 + 16 * (npts[single] - 1), 16)
    w.unclosed = (si[(first != last).any(axis=1)] + 1).tolist()
    for k in pi[nparts > 1]:
        _check_polygon(data, int(off[k]) + 8, int(ln[k]), int(k) + 1, w, shp)
    return w


def _check_polygon(data: bytes, start: int, length: int, rec: int, w: ShpWalk, shp: Path) -> None:
    nparts, npts = struct.unpack("<ii", data[start + 36:start + 44])
    if nparts == 0:
        return  # an empty polygon: dropped and reported later
    if nparts < 0 or npts <= 0 or 44 + 4 * nparts + 16 * npts > length:
        raise InputError(f"record {rec}: polygon with {nparts} parts and {npts} points does not "
                         "fit its record", file=str(shp), fix="export the shapefile again")
    if nparts == 1:  # the common case, without numpy: first point == last point?
        p0 = start + 48
        pl = p0 + 16 * (npts - 1)
        if data[p0:p0 + 16] != data[pl:pl + 16] and rec not in w.unclosed:
            w.unclosed.append(rec)
        return
    parts = np.frombuffer(data, "<i4", nparts, start + 44).astype(np.int64)
    xy = np.frombuffer(data, "<f8", 2 * npts, start + 44 + 4 * nparts).reshape(npts, 2)
    bounds = np.append(parts, npts)
    rings = []
    for i in range(nparts):
        r = xy[bounds[i]:bounds[i + 1]]
        if len(r) == 0:
            continue
        if not np.array_equal(r[0], r[-1]):
            if rec not in w.unclosed:
                w.unclosed.append(rec)
            r = np.vstack([r, r[:1]])
        rings.append(r)
    if len(rings) < 2 or not np.isfinite(xy).all():
        return
    # shapefile rings: outer clockwise (negative shoelace area), holes counter-clockwise
    signed = [0.5 * float(np.sum(r[:-1, 0] * r[1:, 1] - r[1:, 0] * r[:-1, 1])) for r in rings]
    outers = [shapely.Polygon(r) for r, a in zip(rings, signed, strict=True) if a < 0 and len(r) >= 4]
    polys = [shapely.Polygon(r) if len(r) >= 4 else None for r in rings]
    for k, (p, a) in enumerate(zip(polys, signed, strict=True)):
        depth = sum(1 for j, q in enumerate(polys) if j != k and q is not None and p is not None
                    and q.contains(p))
        if a < 0 and depth % 2 == 1:  # inside an odd number of rings: a hole, wound as an outer
            w.cw_holes.setdefault(rec, []).append(k)
    for k, (r, a) in enumerate(zip(rings, signed, strict=True), start=1):
        if a <= 0 or len(r) < 4 or not outers:
            continue
        hole = shapely.Polygon(r)
        if not any(o.intersects(hole) for o in outers):
            raise GeometryError(
                f"ring {k} is wound counter-clockwise (a hole, by the shapefile spec) but lies "
                "outside every outer ring of the feature; read as is it would become an extra "
                f"polygon of {abs(a):.1f} (CRS units²)", file=str(shp), feature=rec - 1,
                fix="correct the ring in the source: reverse it to make it a polygon of its "
                "own, or move it inside its outer ring")


def dbf_header(dbf: Path) -> tuple[int, int, int, int, list[tuple[bytes, str, int, int]]]:
    """Return ``(records, header_len, record_len, ldid, fields)`` of a ``.dbf``.

    ``fields`` are ``(raw_name, type, offset, length)``; the name bytes are undecoded.
    """
    with open(dbf, "rb") as fh:
        head = fh.read(32)
        if len(head) < 32:
            raise InputError("the .dbf is empty or truncated", file=str(dbf),
                             fix="copy or export the shapefile again")
        nrec, hlen, rlen = struct.unpack("<IHH", head[4:12])
        ldid = head[29]
        fields = []
        offset = 1
        while True:
            desc = fh.read(32)
            if len(desc) < 32 or desc[0] == 0x0D:
                break
            name = desc[:11].split(b"\x00", 1)[0]
            fields.append((name, chr(desc[11]), offset, desc[16]))
            offset += desc[16]
    return nrec, hlen, rlen, ldid, fields


def dbf_text(dbf: Path) -> list[tuple[bytes, bool]]:
    """Return the distinct non-ASCII text of a ``.dbf``: field names and every C value.

    Each item is ``(raw bytes, fills its field)``; the whole file is read (vectorised).
    """
    nrec, hlen, rlen, _ldid, fields = dbf_header(dbf)
    out: dict[tuple[bytes, bool], None] = {}
    for name, _t, _o, _l in fields:
        if any(b >= 0x80 for b in name):
            out[(name, len(name) >= 10)] = None
    cfields = [(o, ln) for _n, t, o, ln in fields if t in "CM" and t == "C"]
    if not cfields or rlen == 0:
        return list(out)
    size = os.path.getsize(dbf)
    avail = max(0, (size - hlen) // rlen)
    n = min(nrec, avail)
    if n == 0:
        return list(out)
    mm = np.memmap(dbf, dtype=np.uint8, mode="r", offset=hlen, shape=(n, rlen))
    for o, ln in cfields:
        col = np.ascontiguousarray(mm[:, o:o + ln])
        high = (col >= 0x80).any(axis=1)
        if not high.any():
            continue
        for row in set(np.ascontiguousarray(col[high]).view(f"S{ln}").ravel().tolist()):
            raw = row.rstrip(b" \x00")
            out[(raw, len(raw) == ln)] = None
    del mm
    return list(out)


def check_counts(shp: Path, walk: ShpWalk) -> tuple[Path, list[str]]:
    """Check ``.shx`` and ``.dbf`` against the walked ``.shp``.

    Returns the path to read (a temporary copy with a rebuilt ``.shx`` when needed) and the
    repair notes. Raises :class:`InputError` for a missing or inconsistent ``.dbf``.
    """
    notes: list[str] = []
    n = len(walk.offsets)
    dbf = sidecar(shp, ".dbf")
    if dbf is None:
        raise InputError("no .dbf beside the .shp (the attribute table is missing)",
                         file=str(shp), fix=f"copy {shp.stem}.dbf from the same export next to "
                         "the .shp")
    nrec, hlen, rlen, _ldid, _fields = dbf_header(dbf)
    size = os.path.getsize(dbf)
    avail = (size - hlen) // rlen if rlen else 0
    if avail < nrec:
        raise InputError(f"the .dbf is truncated: its header says {nrec} records, the file holds "
                         f"{avail}", file=str(dbf), fix="copy or export the shapefile again")
    if nrec != n:
        raise InputError(
            f"the .dbf has {nrec} records but the .shp has {n} shapes"
            + (f": shapes {nrec + 1}..{n} have no attributes" if nrec < n else
               f": records {n + 1}..{nrec} have no shape"), file=str(shp),
            fix="use the .shp, .shx and .dbf of one export (copy all three again)")
    shx = sidecar(shp, ".shx")
    rebuild = None
    if shx is None:
        rebuild = "no .shx"
    else:
        data = shx.read_bytes()
        entries = (len(data) - 100) // 8
        if entries != n:
            rebuild = f"the .shx lists {entries} records, the .shp holds {n}"
        else:
            idx = np.frombuffer(data, ">i4", 2 * n, 100).reshape(n, 2).astype(np.int64) * 2
            if not (np.array_equal(idx[:, 0], walk.offsets)
                    and np.array_equal(idx[:, 1], walk.lengths)):
                bad = int(np.flatnonzero((idx[:, 0] != walk.offsets)
                                         | (idx[:, 1] != walk.lengths))[0]) + 1
                rebuild = f"the .shx does not match the .shp from record {bad}"
    fix_shp = bool(walk.unclosed or walk.cw_holes)
    if rebuild is None and not fix_shp:
        return shp, notes
    tmp = Path(tempfile.mkdtemp(prefix="ecogis-shp-"))
    for ext in _SIDE:
        f = sidecar(shp, ext)
        if f is not None and ext != ".shx" and not (ext == ".shp" and fix_shp):
            target = tmp / f"{shp.stem}{ext}"
            try:
                os.symlink(f.resolve(), target)
            except OSError:
                shutil.copyfile(f, target)
    offsets, lengths = list(walk.offsets), list(walk.lengths)
    if fix_shp:
        # GEOS refuses an unclosed ring outright, and GDAL reads a clockwise hole as an extra
        # polygon: write a copy with the rings closed and such holes reversed
        offsets, lengths = _write_closed(shp, walk, tmp / f"{shp.stem}.shp")
    head = bytearray(shp.read_bytes()[:100])
    head[24:28] = struct.pack(">i", 50 + 4 * n)
    body = b"".join(struct.pack(">ii", o // 2, ln // 2)
                    for o, ln in zip(offsets, lengths, strict=True))
    (tmp / f"{shp.stem}.shx").write_bytes(bytes(head) + body)
    if rebuild is not None:
        notes.append(f"{rebuild}: index rebuilt from the .shp ({n} records)")
    return tmp / f"{shp.stem}.shp", notes


def _write_closed(shp: Path, walk: ShpWalk, out: Path) -> tuple[list[int], list[int]]:
    """Copy ``shp`` to ``out`` with unclosed rings closed and clockwise holes reversed.

    Returns the new record offsets and content lengths (bytes) for the ``.shx``.
    """
    data = shp.read_bytes()
    chunks = [bytearray(data[:100])]
    offsets, lengths = [], []
    pos = 100
    bad = set(walk.unclosed) | set(walk.cw_holes)
    for rec, (off, ln) in enumerate(zip(walk.offsets, walk.lengths, strict=True), start=1):
        content = data[off + 8:off + 8 + ln]
        if rec in bad:
            rtype = struct.unpack("<i", content[:4])[0]
            if rtype != 5:
                raise GeometryError("a ring is not closed, or a hole is wound clockwise, in a "
                                    "polygon with Z or M values", file=str(shp), feature=rec - 1,
                                    fix="close the ring (last point = first) and wind holes "
                                    "counter-clockwise in the source")
            nparts, npts = struct.unpack("<ii", content[36:44])
            parts = list(np.frombuffer(content, "<i4", nparts, 44)) + [npts]
            xy = np.frombuffer(content, "<f8", 2 * npts, 44 + 4 * nparts).reshape(npts, 2)
            rings = []
            flip = set(walk.cw_holes.get(rec, []))
            for i in range(nparts):
                r = xy[parts[i]:parts[i + 1]]
                if len(r) and not np.array_equal(r[0], r[-1]):
                    r = np.vstack([r, r[:1]])
                rings.append(r[::-1] if len(rings) in flip else r)
            starts = np.cumsum([0] + [len(r) for r in rings[:-1]]).astype("<i4")
            pts = np.vstack(rings).astype("<f8")
            content = (content[:36] + struct.pack("<ii", nparts, len(pts)) + starts.tobytes()
                       + pts.tobytes())
        offsets.append(pos)
        lengths.append(len(content))
        chunks.append(bytearray(struct.pack(">ii", rec, len(content) // 2) + content))
        pos += 8 + len(content)
    chunks[0][24:28] = struct.pack(">i", pos // 2)
    out.write_bytes(b"".join(bytes(c) for c in chunks))
    return offsets, lengths


def redecode_frame(df, codec: str, *, file: str, widths: dict[str, int] | None = None):
    """Re-decode a frame read as Latin-1 (bytes as characters) with ``codec``, names too.

    ``widths`` maps the (Latin-1) column names to their ``.dbf`` field widths, so a value that
    fills its field may end in a character cut by the writer. Returns ``(frame, cut)``: ``cut``
    lists ``(feature, field)`` of the values cut mid-character (the partial character dropped).
    """
    from ecogis.formats.encoding import decode_value

    widths = widths or {}
    cut: list[tuple[object, str]] = []
    geom = df.geometry.name if hasattr(df, "geometry") else None

    def fix_text(s: str, full_len: int | None, where) -> str:
        raw = s.encode("latin-1")
        try:
            t, c = decode_value(raw, codec, full=full_len is not None and len(raw) >= full_len)
        except UnicodeDecodeError as exc:
            raise EncodingError(f"{where}: text is not valid {codec} ({exc.reason} at byte "
                                f"{exc.start})", file=file,
                                fix="pass the right --encoding (gbk, big5, utf-8 ...)") from None
        if c:
            cut.append(where)
        return t

    df = df.copy()
    import pandas as pd

    for col in df.columns:
        if col == geom or not (df[col].dtype == object or str(df[col].dtype).startswith("str")):
            continue
        vals = df[col].astype(object)
        todo = [v for v in pd.unique(vals) if isinstance(v, str) and not v.isascii()]
        if not todo:
            continue
        first = {}
        for fid, v in vals.items():  # the first feature of each value, for the cut report
            if v in first or not isinstance(v, str) or v.isascii():
                continue
            first[v] = fid
            if len(first) == len(todo):
                break
        fixed = {v: fix_text(v, widths.get(col), (first.get(v), col)) for v in todo}
        df[col] = vals.map(lambda v, u=fixed: u.get(v, v)) if len(fixed) > len(vals) // 10 \
            else vals.replace(fixed)
    renames = {col: fix_text(col, 10, ("field name", col)) for col in df.columns
               if col != geom and isinstance(col, str) and not col.isascii()}
    return (df.rename(columns=renames) if renames else df), cut
