"""三调 地类图斑 (DLTB) statistics: areas by 地类 net of 田坎, 压占 by 地类, declared TBMJ checks.

National land statistics count a parcel (图斑) of area *A* (图斑面积, TBMJ) with 扣除地类系数
*k* (KCXS, a fraction) as 扣除地类面积 KCMJ = *A* × *k*, credited to the 扣除地类 (KCDLBM,
田坎 1203 when empty), and 图斑地类面积 TBDLMJ = *A* − KCMJ, credited to its own 地类 (DLBM).
The 田坎 total is therefore the 田坎 parcels plus ΣKCMJ. Here *A* is the *measured* area of the
geometry (by the chosen method) unless stated otherwise; the declared TBMJ/KCMJ/TBDLMJ fields
are reported beside it.

The layer's field roles (``land_code`` = DLBM, ``land_name`` = DLMC, ``deduct_coef`` = KCXS,
``deduct_code`` = KCDLBM, ``declared_area`` = TBMJ, ``deduct_area`` = KCMJ, ``net_area`` =
TBDLMJ, ``bsm`` = BSM) come from ``layers/kinds.toml`` (kind ``landuse``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ecogis.errors import InputError
from ecogis.measure import area as measure_area
from ecogis.measure import check_method, method_label
from ecogis.units import from_m2

LANDUSE_KIND = "landuse"
#: GB/T 21010-2017 code and name of 田坎, the default 扣除地类
TIANKAN_CODE = "1203"
TIANKAN_NAME = "田坎"
#: ``--by`` values that ask for the 地类 statistics on a landuse layer
BY_CODE = ("DLBM", "地类编码", "land_code")
BY_NAME = ("DLMC", "地类名称", "land_name")


def is_landuse_by(by: str | None) -> bool:
    """True when ``--by`` names the 地类 code or name (DLBM/DLMC, 地类编码/地类名称, roles)."""
    return by is not None and (by.upper() in BY_CODE + BY_NAME or by in BY_CODE + BY_NAME)


def _code_text(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, (int, np.integer)) or (isinstance(v, (float, np.floating))
                                            and float(v).is_integer()):
        s = str(int(v))
        return s.zfill(4) if len(s) == 3 else s  # a 4-digit code stored as a number lost its 0
    return str(v).strip()


def land_codes(gdf: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Return (DLBM, DLMC) per parcel as strings ('' where missing).

    Raises :class:`InputError` when the layer has no ``land_code`` role.
    """
    if "land_code" not in gdf.columns:
        raise InputError("the layer has no 地类编码 (DLBM) field",
                         fix="import it as kind landuse with DLBM, or --field SRC=land_code")
    codes = np.array([_code_text(v) for v in gdf["land_code"].to_numpy(dtype=object)],
                     dtype=object)
    if "land_name" in gdf.columns:
        names = np.array([_code_text(v) for v in gdf["land_name"].to_numpy(dtype=object)],
                         dtype=object)
    else:
        names = np.full(len(gdf), "", dtype=object)
    return codes, names


def deduction(gdf: pd.DataFrame, *, layer: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return per parcel (扣除地类系数 as a fraction, 扣除地类编码).

    The coefficient is the ``deduct_coef`` role (KCXS); without it, declared KCMJ / TBMJ when
    both are present; else 0. The code is ``deduct_code`` (KCDLBM), 1203 田坎 when empty.

    Raises
    ------
    InputError
        When a coefficient is negative or above 1 (三调 stores KCXS as a fraction, e.g. 0.08).
    """
    n = len(gdf)
    coef = np.zeros(n)
    if "deduct_coef" in gdf.columns:
        coef = pd.to_numeric(gdf["deduct_coef"], errors="coerce").to_numpy(dtype=float,
                                                                          copy=True)
    elif "deduct_area" in gdf.columns and "declared_area" in gdf.columns:
        kc = pd.to_numeric(gdf["deduct_area"], errors="coerce").to_numpy(dtype=float)
        tb = pd.to_numeric(gdf["declared_area"], errors="coerce").to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            coef = np.where(tb > 0, kc / tb, 0.0)
    coef = np.where(np.isfinite(coef), coef, 0.0)
    bad = (coef < 0) | (coef > 1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"扣除地类系数 (KCXS) {coef[i]:g} is not a fraction between 0 and 1", layer=layer,
            feature=gdf.index[i],
            fix="三调 stores KCXS as a fraction (e.g. 0.08): divide a percentage by 100 in the "
            "source, or map the right field with --field SRC=deduct_coef")
    if "deduct_code" in gdf.columns:
        dcode = np.array([_code_text(v) or TIANKAN_CODE
                          for v in gdf["deduct_code"].to_numpy(dtype=object)], dtype=object)
    else:
        dcode = np.full(n, TIANKAN_CODE, dtype=object)
    return coef, dcode


def _names_by_code(codes: np.ndarray, names: np.ndarray) -> dict[str, str]:
    out: dict[str, str] = {TIANKAN_CODE: TIANKAN_NAME}
    for c, nm in zip(codes, names, strict=True):
        if nm and c not in out:
            out[c] = nm
    return out


def _numeric(gdf: pd.DataFrame, role: str) -> np.ndarray | None:
    if role not in gdf.columns:
        return None
    return pd.to_numeric(gdf[role], errors="coerce").to_numpy(dtype=float)


# --------------------------------------------------------------------------- areas --by DLMC


@dataclass
class LanduseClassRow:
    """One 地类 of a landuse layer: measured 图斑面积, 扣除, 图斑地类面积 (m² and ``unit``).

    ``gross_m2`` is Σ measured 图斑面积 of the parcels of this 地类; ``deducted_m2`` the part
    of it deducted as 扣除地类 (Σ 图斑面积 × KCXS); ``added_m2`` the 扣除地类面积 credited to this
    地类 from other parcels (the 田坎 row: ΣKCMJ); ``area_m2`` = gross − deducted + added, the
    地类面积 national statistics report (``area`` in ``unit``). ``declared_*`` are the sums of
    the layer's own TBMJ / KCMJ / TBDLMJ fields over the 地类's parcels (None when absent);
    ``declared_tbdlmj_m2`` of the 田坎 row also holds the declared KCMJ credited to it.
    """

    layer: str
    by: str
    zone: str
    dlbm: str
    dlmc: str
    parcels: int
    gross_m2: float
    deducted_m2: float
    added_m2: float
    area_m2: float
    area: float
    gross: float
    share_of_layer: float
    declared_tbmj_m2: float | None
    declared_kcmj_m2: float | None
    declared_tbdlmj_m2: float | None
    unit: str
    method: str


def class_areas(gdf: gpd.GeoDataFrame, *, layer: str, by: str = "DLMC", unit: str = "m2",
                method: str = "ellipsoidal") -> list[LanduseClassRow]:
    """Return the 地类 table of a landuse layer: one row per DLBM (sorted), 田坎 with ΣKCMJ.

    Parameters
    ----------
    gdf : parcels with the landuse roles (a workspace layer of kind ``landuse``)
    by : ``DLMC`` (rows labelled by name) or ``DLBM`` (by code)
    unit : area unit of ``area``/``gross`` (m² fields are always m²)
    method : area method passed to :func:`ecogis.measure.area` (``ellipsoidal`` ...)
    """
    check_method(method)
    codes, names = land_codes(gdf)
    coef, dcode = deduction(gdf, layer=layer)
    measured = measure_area(gdf, method) if len(gdf) else np.zeros(0)
    deducted = measured * coef
    tb, kc, tbdl = (_numeric(gdf, r) for r in ("declared_area", "deduct_area", "net_area"))
    label = _names_by_code(codes, names)
    classes = sorted(set(codes.tolist()) | set(dcode[coef > 0].tolist()))
    total = float(measured.sum())
    by_name = by.upper() in BY_NAME or by in BY_NAME
    rows = []
    for c in classes:
        m = codes == c
        added = float(deducted[dcode == c].sum())
        gross = float(measured[m].sum())
        ded = float(deducted[m].sum())
        net = gross - ded + added

        def dsum(arr, m=m):
            return None if arr is None else float(np.nansum(arr[m]))

        tbdl_c = dsum(tbdl)
        if tbdl_c is not None and kc is not None:  # 扣除地类面积 credited to this 地类 (田坎)
            tbdl_c += float(np.nansum(kc[(dcode == c) & (coef > 0)]))
        nm = label.get(c, "")
        rows.append(LanduseClassRow(
            layer=layer, by=by, zone=(nm or c) if by_name else c, dlbm=c, dlmc=nm,
            parcels=int(m.sum()), gross_m2=gross, deducted_m2=ded, added_m2=added,
            area_m2=net, area=from_m2(net, unit), gross=from_m2(gross, unit),
            share_of_layer=net / total if total else 0.0, declared_tbmj_m2=dsum(tb),
            declared_kcmj_m2=dsum(kc), declared_tbdlmj_m2=tbdl_c, unit=unit,
            method=method))
    return rows


# --------------------------------------------------------------------------- 压占 by 地类


def occupation_rows(site: np.ndarray, feat: np.ndarray, piece_m2: np.ndarray,
                    gdf: pd.DataFrame, n_sites: int, *, layer: str | None = None,
                    gross_by_class: np.ndarray | None = None) -> list[list[dict[str, Any]]]:
    """Return per site the land it occupies by 地类, sorted by DLBM.

    ``site``/``feat``/``piece_m2``: the (site, parcel) pairs and the area (m²) of site ∩ parcel.
    Each row: ``dlbm``, ``dlmc``, ``area_m2`` (gross), ``net_m2`` (net of 扣除/田坎),
    ``tiankan_m2`` (the 扣除 share, piece × KCXS), ``area_ha``, ``area_mu`` (of the gross).
    ``gross_by_class`` (optional, ``n_sites × n_classes`` in the order of the sorted codes)
    replaces the summed gross where the layer's own overlaps had to be dissolved.
    """
    codes, names = land_codes(gdf)
    coef, _dcode = deduction(gdf, layer=layer)
    label = _names_by_code(codes, names)
    out: list[list[dict[str, Any]]] = [[] for _ in range(n_sites)]
    if len(site) == 0:
        return out
    keep = piece_m2 > 0
    site, feat, piece_m2 = site[keep], feat[keep], piece_m2[keep]
    classes = sorted(set(codes[feat].tolist()))
    pos = {c: i for i, c in enumerate(classes)}
    ci = np.array([pos[c] for c in codes[feat]], dtype=np.int64)
    key = site.astype(np.int64) * len(classes) + ci
    size = n_sites * len(classes)
    gross = np.bincount(key, weights=piece_m2, minlength=size).reshape(n_sites, len(classes))
    tk = np.bincount(key, weights=piece_m2 * coef[feat], minlength=size).reshape(
        n_sites, len(classes))
    if gross_by_class is not None:
        scale = np.where(gross > 0, gross_by_class / np.maximum(gross, 1e-300), 0.0)
        gross, tk = gross_by_class, tk * scale
    for s in range(n_sites):
        for j, c in enumerate(classes):
            g = float(gross[s, j])
            if g <= 0:
                continue
            t = float(tk[s, j])
            out[s].append({"dlbm": c, "dlmc": label.get(c, ""), "area_m2": g, "net_m2": g - t,
                           "tiankan_m2": t, "area_ha": from_m2(g, "ha"), "area_mu": from_m2(g, "mu")})
    return out


# --------------------------------------------------------------------------- reconcile --layer


@dataclass
class ParcelCheck:
    """Declared against measured area per parcel of one layer (m²)."""

    layer: str
    area_field: str
    method: str
    method_label: str
    tolerance_m2: float
    parcels: int
    checked: int
    declared_m2: float
    measured_m2: float
    mismatches: list[dict[str, Any]] = field(default_factory=list)
    missing: list[Any] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.mismatches)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["unit"] = "m2"
        d["n_mismatches"] = len(self.mismatches)
        d["status"] = "mismatch" if self.mismatches else "ok"
        return d


def _plain(v: Any) -> Any:
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    return v


def check_parcels(gdf: gpd.GeoDataFrame, *, layer: str, area_field: str | None = None,
                  tolerance_m2: float = 0.1, method: str = "ellipsoidal",
                  field_map: dict[str, str] | None = None) -> ParcelCheck:
    """Compare each parcel's declared area (TBMJ) with its measured area.

    Parameters
    ----------
    gdf : the layer (source fields and role columns)
    area_field : declared-area field: a source field name (``TBMJ``) or a role; default the
        ``declared_area`` role
    tolerance_m2 : a parcel mismatches when |measured − declared| > tolerance (m²)
    method : area method passed to :func:`ecogis.measure.area` (``ellipsoidal``, ``projected``,
        and any method :mod:`ecogis.measure` adds)

    Returns
    -------
    ParcelCheck : ``mismatches`` holds one record per parcel out of tolerance: ``bsm`` (or
        None), ``id`` (feature id), ``declared``, ``measured``, ``difference`` (measured −
        declared, m²), ``status`` ``mismatch``.
    """
    check_method(method)
    col = area_field or "declared_area"
    if col not in gdf.columns:
        src = (field_map or {}).get(col)
        have = [c for c in gdf.columns if c != gdf.geometry.name]
        raise InputError(
            f"layer {layer!r} has no declared-area field {src or col!r}", layer=layer,
            fix=f"name it with --area-field (fields: {', '.join(have)})")
    shown = (field_map or {}).get(col, col) if col == "declared_area" else col
    declared = pd.to_numeric(gdf[col], errors="coerce").to_numpy(dtype=float)
    measured = measure_area(gdf, method) if len(gdf) else np.zeros(0)
    ok = np.isfinite(declared)
    diff = measured - declared
    bad = ok & (np.abs(diff) > tolerance_m2)
    bsm = gdf["bsm"].to_numpy(dtype=object) if "bsm" in gdf.columns else None
    ids = gdf.index.to_numpy()
    mism = []
    for i in np.flatnonzero(bad):
        b = None if bsm is None else _plain(bsm[i])
        if isinstance(b, float) and b.is_integer():
            b = int(b)
        mism.append({"bsm": b, "id": _plain(ids[i]), "declared": float(declared[i]),
                     "measured": float(measured[i]), "difference": float(diff[i]),
                     "status": "mismatch"})
    return ParcelCheck(
        layer=layer, area_field=shown, method=method,
        method_label=method_label(method, gdf), tolerance_m2=float(tolerance_m2),
        parcels=len(gdf), checked=int(ok.sum()), declared_m2=float(np.nansum(declared)),
        measured_m2=float(measured[ok].sum()), mismatches=mism,
        missing=[_plain(v) for v in ids[~ok]])


__all__ = ["LANDUSE_KIND", "TIANKAN_CODE", "TIANKAN_NAME", "LanduseClassRow", "ParcelCheck",
           "check_parcels", "class_areas", "deduction", "is_landuse_by", "land_codes",
           "occupation_rows"]
