"""Siting engines cached per workspace version: in this process, and in a file beside it.

Building a :class:`~ecogis.siting.SitingEngine` (reading the layers, projecting, exploding,
subdividing, the disjointness check of a 200 000-parcel farmland layer) takes seconds; checking
a site takes a fraction of a millisecond. :func:`engine_for` builds the layer indexes once per
*workspace version* and reuses them:

* in-process: a memo keyed by the workspace file's identity (device, inode, size, mtime in ns —
  every ecogis write replaces the file, and an external edit changes its mtime) and the layers
  the rulebook needs, so a long-running service keeps one engine per workspace version;
* on disk: ``.<WS>.gpkg.cache/siting-<key>.npz`` beside the workspace (uncompressed NumPy
  arrays: parts and features as WKB, exact to the bit; no pickle), written atomically (temp
  file + :func:`os.replace`). Attributes are re-read from the workspace without geometry.

A stale or unreadable cache file is ignored and rebuilt; ``ECOGIS_CACHE=0`` turns the disk cache
off. Any other workspace version gets a different key, so a cache never answers for other data.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ecogis.atomic import atomic_open

FORMAT = 3  # bump when the cached arrays change meaning (3: layers carry kinds and field roles)
_MEMO: dict[tuple, Any] = {}
_MEMO_MAX = 8
_LOCK = threading.Lock()


def _file_key(path: Path) -> tuple:
    st = path.stat()
    return (str(path.resolve()), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def cache_dir(path: str | os.PathLike) -> Path:
    """Return the cache folder of a workspace: ``.<name>.cache`` beside it."""
    p = Path(path)
    return p.parent / f".{p.name}.cache"


def _pack(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    import shapely

    present = ~shapely.is_missing(geoms)
    wkb = shapely.to_wkb(geoms[present])
    sizes = np.fromiter((len(b) for b in wkb), dtype=np.int64, count=len(wkb))
    off = np.concatenate([[0], np.cumsum(sizes)])
    buf = np.frombuffer(b"".join(wkb), dtype=np.uint8) if len(wkb) else np.zeros(0, np.uint8)
    return buf, off, present


def _unpack(buf: np.ndarray, off: np.ndarray, present: np.ndarray) -> np.ndarray:
    import shapely

    raw = buf.tobytes()
    wkb = [raw[off[i]:off[i + 1]] for i in range(len(off) - 1)]
    out = np.full(len(present), None, dtype=object)
    if wkb:
        out[present] = shapely.from_wkb(np.array(wkb, dtype=object))
    return out


def _save(path: Path, engine, names: list[str], notes: list[str]) -> None:
    arrays: dict[str, np.ndarray] = {}
    meta = {"format": FORMAT, "crs": engine.crs.to_wkt(), "layers": [], "notes": notes}
    for i, name in enumerate(names):
        li = engine.layers[name]
        for what, geoms in (("parts", li.parts), ("geoms", li.geoms)):
            buf, off, present = _pack(np.asarray(geoms, dtype=object))
            arrays[f"{i}_{what}_buf"], arrays[f"{i}_{what}_off"] = buf, off
            arrays[f"{i}_{what}_present"] = present
        arrays[f"{i}_owner"] = np.asarray(li.part_feature)
        arrays[f"{i}_area"] = np.asarray(li.part_area, dtype=float)
        arrays[f"{i}_fids"] = np.asarray(li.feature_ids)
        if li.overlaps is not None:
            arrays[f"{i}_overlaps"] = np.asarray(li.overlaps)
        meta["layers"].append({"name": name, "kind": li.kind.id, "areal": li.areal})
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    with atomic_open(path, suffix=".tmp.npz") as fh:
        np.savez(fh, **arrays)


def _load(path: Path, ws, rulebook, threads):
    import pyogrio
    import shapely
    from pyproj import CRS

    from ecogis.siting import LayerIndex, SitingEngine

    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(z["meta"].tobytes().decode())
        if meta.get("format") != FORMAT:
            return None
        crs = CRS.from_wkt(meta["crs"])
        layers = {}
        for i, lm in enumerate(meta["layers"]):
            parts = _unpack(z[f"{i}_parts_buf"], z[f"{i}_parts_off"], z[f"{i}_parts_present"])
            geoms = _unpack(z[f"{i}_geoms_buf"], z[f"{i}_geoms_off"], z[f"{i}_geoms_present"])
            attrs = pyogrio.read_dataframe(ws._target, layer=lm["name"], read_geometry=False,
                                           fid_as_index=True)
            attrs.index.name = "fid"
            kind = rulebook.kinds[lm["kind"]]
            attrs = ws.with_roles(lm["name"], attrs)  # the columns Workspace.read adds
            fids = z[f"{i}_fids"]
            if len(attrs) != len(fids) or not np.array_equal(attrs.index.to_numpy(), fids):
                return None  # the workspace changed under the same key: rebuild
            layers[lm["name"]] = LayerIndex(
                name=lm["name"], kind=kind, gdf=attrs, feature_ids=fids,
                geoms=geoms, parts=parts, part_feature=z[f"{i}_owner"],
                part_area=z[f"{i}_area"], tree=shapely.STRtree(parts),
                overlaps=z[f"{i}_overlaps"] if f"{i}_overlaps" in z.files else None,
                areal=bool(lm["areal"]))
    for note in meta.get("notes", []):
        from ecogis.siting import SitingWarning

        warnings.warn(note, SitingWarning, stacklevel=3)
    return SitingEngine.from_indexes(layers, rulebook, crs=crs, threads=threads)


def engine_for(workspace, rulebook=None, *, region: str | None = None,
               params: dict[str, float] | None = None, threads: int | None = None,
               disk: bool | None = None):
    """Return a :class:`~ecogis.siting.SitingEngine` for ``workspace`` (path or Workspace).

    The layers are those whose kind the rulebook uses, plus farmland (for the 补划 totals) and
    landuse (for 压占 by 地类).
    ``rulebook`` defaults to :func:`ecogis.rules.load_rulebook` of ``region`` (else the
    workspace's region, else the national baseline) with ``params``. The layer indexes are
    reused while the workspace file is unchanged: from this process's memo, else from the
    cache file beside the workspace (``disk``; default on unless ``ECOGIS_CACHE=0``).
    Raises :class:`~ecogis.errors.InputError` when no layer is of a kind the rulebook uses.
    """
    from ecogis.errors import InputError
    from ecogis.rules import load_rulebook
    from ecogis.siting import FARMLAND_KIND, LANDUSE_KIND, SitingEngine
    from ecogis.workspace import Workspace

    ws = workspace if isinstance(workspace, Workspace) else Workspace.open(workspace)
    if rulebook is None:
        rulebook = load_rulebook(region or ws.meta.get("region") or None, params=params or {})
    if disk is None:
        disk = os.environ.get("ECOGIS_CACHE", "1") not in ("0", "false", "no")
    needed = set(rulebook.kinds_used) | {FARMLAND_KIND, LANDUSE_KIND}
    infos = [i for i in ws.layers() if i.kind in needed]
    if not infos:
        raise InputError("the workspace has no layer the rulebook applies to "
                         f"(kinds {', '.join(sorted(needed))})", file=str(ws.path),
                         fix="import control lines with `ecogis import WS KIND FILE`")
    names = [i.name for i in infos]
    from ecogis import __version__

    if hasattr(ws, "version"):  # a database workspace: its layer generations, no cache file
        fkey = ("db", str(ws.path), 0, 0,
                hashlib.sha256(repr(ws.version()).encode()).hexdigest())
        disk = False
    else:
        fkey = _file_key(ws.path)
    key = (fkey, tuple((i.name, i.kind) for i in infos), __version__, FORMAT)
    with _LOCK:
        hit = _MEMO.get(key)
    if hit is not None:
        return SitingEngine.from_indexes(hit.layers, rulebook, crs=hit.crs, threads=threads)
    digest = hashlib.sha256(repr(key[1:] + fkey[3:]).encode()).hexdigest()[:24]
    file = cache_dir(ws.path) / f"siting-{digest}.npz"
    engine = None
    if disk and file.is_file():
        try:
            engine = _load(file, ws, rulebook, threads)
        except Exception:  # a damaged or foreign file: rebuild it
            engine = None
    if engine is None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            layers = {i.name: (i.kind, ws.read(i.name)) for i in infos}
            engine = SitingEngine(layers, rulebook, threads=threads)
        notes = [str(w.message) for w in caught]
        for w in caught:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        if disk:
            stale = fkey[4]  # files older than the workspace were built for an older version
            for old in cache_dir(ws.path).glob("siting-*.npz") if file.parent.exists() else []:
                if old != file and old.stat().st_mtime_ns < stale:
                    old.unlink(missing_ok=True)
            with contextlib.suppress(OSError):  # read-only folder: the memo still works
                _save(file, engine, names, notes)
    with _LOCK:
        _MEMO[key] = engine
        while len(_MEMO) > _MEMO_MAX:
            _MEMO.pop(next(iter(_MEMO)))
    return engine


def clear_memo() -> None:
    """Forget the engines of this process (the cache files stay)."""
    with _LOCK:
        _MEMO.clear()
