"""Xian 1980 and Beijing 1954: never transformed by a guessed shift.

PROJ has no published transformation from 1980西安坐标系 or 1954北京坐标系 to CGCS2000, so it
falls back to a zero-shift "ballpark" and the data lands metres to ~100 m off. ecogis refuses
such a layer (exit 2 naming the datum) unless the user supplies the province's 7 parameters
with ``--towgs84 dx,dy,dz,rx,ry,rz,ds`` (metres, arc-seconds, ppm; PROJ's position-vector
convention, as in a ``+towgs84`` string). The layer is then transformed by that Helmert shift
into the CGCS2000 twin of its CRS (the same Gauss-Krüger central meridian and prefix, or
EPSG:4490 for geographic data) and the parameters are recorded in the layer's provenance.
"""

from __future__ import annotations

import re

from pyproj import CRS

from ecogis.errors import CRSError

#: geodetic CRS codes and name patterns of the legacy datums
_LEGACY = (
    (4610, re.compile(r"xian[\s_]*1980|xi'?an[\s_]*80|西安", re.I), "Xian 1980 (1980西安坐标系)"),
    (4214, re.compile(r"beijing[\s_]*1954|北京", re.I), "Beijing 1954 (1954北京坐标系)"),
    (4555, re.compile(r"new[\s_]*beijing", re.I), "New Beijing (新1954北京坐标系)"),
)


def legacy_datum(crs: CRS | None) -> str | None:
    """Return the legacy Chinese datum of ``crs`` (``"Xian 1980 (…)"``) or None."""
    if crs is None:
        return None
    try:
        geo = crs.geodetic_crs
        code = geo.to_epsg() if geo is not None else None
        names = " ".join(filter(None, [crs.name, geo.name if geo else "",
                                       crs.datum.name if crs.datum else ""]))
    except Exception:
        return None
    for epsg, pattern, label in _LEGACY:
        if (code == epsg or pattern.search(names)) and (
                "New Beijing" in label or not re.search(r"new[\s_]*beijing", names, re.I)):
            return label
    return None


def parse_towgs84(text: str, *, file: str | None = None, layer: str | None = None) -> list[float]:
    """Parse ``dx,dy,dz,rx,ry,rz,ds`` (3 or 7 numbers) with plausibility limits."""
    parts = [p for p in re.split(r"[,\s，]+", text.strip()) if p]
    try:
        vals = [float(p) for p in parts]
    except ValueError:
        vals = []
    if len(vals) not in (3, 7):
        raise CRSError(f"--towgs84 {text!r} is not 3 or 7 numbers", file=file, layer=layer,
                       fix="write --towgs84 dx,dy,dz,rx,ry,rz,ds (m, arc-seconds, ppm)")
    if len(vals) == 3:
        vals += [0.0, 0.0, 0.0, 0.0]
    if any(abs(v) > 2000 for v in vals[:3]) or any(abs(v) > 60 for v in vals[3:6]) \
            or abs(vals[6]) > 100:
        raise CRSError(f"--towgs84 {text!r} is implausible for a Chinese datum (shifts ≤ 2 km, "
                       "rotations ≤ 60″, scale ≤ 100 ppm)", file=file, layer=layer,
                       fix="check the units: metres, arc-seconds, parts per million")
    return vals


def cgcs2000_twin(crs: CRS) -> CRS:
    """Return the CGCS2000 CRS with the same projection as the legacy ``crs``."""
    from ecogis.crs import CGCS2000, gk_zone

    if crs.is_geographic:
        return CGCS2000
    p = crs.to_dict()
    if p.get("proj") != "tmerc" or p.get("k", p.get("k_0", 1)) not in (1, 1.0):
        raise CRSError(f"{crs.name}: only geographic and Gauss-Krüger CRSs of this datum can be "
                       "transformed", fix="convert the data to CGCS2000 first")
    cm = float(p.get("lon_0", 0))
    fe = float(p.get("x_0", 500000))
    prefixed = fe > 1_000_000
    if prefixed:
        zone = int(fe // 1_000_000)
        width = 6 if zone <= 23 else 3
    else:
        width = 3
    try:
        return gk_zone(cm, width=width, prefixed=prefixed).crs
    except CRSError:
        raise CRSError(f"{crs.name}: central meridian {cm}° has no CGCS2000 twin",
                       fix="convert the data to CGCS2000 first") from None


def refuse(crs: CRS, datum: str, *, file: str | None, layer: str | None) -> None:
    """Raise the exit-2 error for a legacy datum without parameters."""
    from ecogis.crs import crs_label

    twin = cgcs2000_twin(crs) if not crs.is_geographic else None
    raise CRSError(
        f"the CRS {crs_label(crs)} ({crs.name}) is on the {datum} datum; ecogis works in CGCS2000 "
        "and does not transform by a guessed (zero 'ballpark') shift, which is metres off",
        file=file, layer=layer,
        fix="pass the province's 7 parameters with --towgs84 dx,dy,dz,rx,ry,rz,ds, or convert "
        "the data to CGCS2000" + (f" ({crs_label(twin)})" if twin is not None else "") + " first")


def transform(gdf, crs: CRS, params: list[float]):
    """Return ``(gdf in the CGCS2000 twin, twin CRS, provenance dict)`` by the Helmert shift."""
    import shapely
    from pyproj import Transformer

    from ecogis.crs import crs_label

    twin = cgcs2000_twin(crs)
    tw = ",".join(f"{v:g}" for v in params)
    src = CRS.from_proj4(f"{crs.to_proj4()} +towgs84={tw}")
    dst = CRS.from_proj4(f"{twin.to_proj4()} +towgs84=0,0,0,0,0,0,0")
    tr = Transformer.from_crs(src, dst, always_xy=True)
    geoms = shapely.transform(gdf.geometry.values, lambda xy: _apply(tr, xy))
    out = gdf.set_geometry(gdf.geometry.__class__(geoms, index=gdf.index, crs=twin))
    prov = {"datum": legacy_datum(crs), "source_crs": crs_label(crs), "source_crs_name": crs.name,
            "towgs84": params, "towgs84_convention": "position vector (PROJ +towgs84): dx,dy,dz m,"
            " rx,ry,rz arc-seconds, ds ppm", "transformed_to": crs_label(twin),
            "pipeline": tr.definition}
    return out, twin, prov


def _apply(tr, xy):
    import numpy as np

    x, y = tr.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([x, y])


def identify(crs: CRS) -> CRS:
    """Return the EPSG CRS equal to ``crs`` when there is one (MapInfo and ESRI WKT lose codes).

    A Gauss-Krüger CRS without a code on the GRS80/CGCS2000 ellipsoid becomes its CGCS2000 GK
    zone (matched by central meridian and false easting); WGS 84 counts as CGCS2000 (MapInfo
    has no CGCS2000 datum and writes WGS 84: the ellipsoids differ by 0.1 mm on the axis).
    """
    from ecogis.crs import gk_zone

    try:
        if crs.to_epsg() is not None:
            return crs
        code = crs.to_epsg(min_confidence=70)
        if code is not None:
            return CRS.from_epsg(code)
        if legacy_datum(crs) is None and crs.is_projected:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                p = crs.to_dict()
            ell = crs.ellipsoid
            if p.get("proj") == "tmerc" and float(p.get("k", p.get("k_0", 1))) == 1.0 \
                    and ell is not None and abs(ell.semi_major_metre - 6378137.0) < 1e-3 \
                    and abs(ell.inverse_flattening - 298.257222101) < 1e-5 \
                    and float(p.get("lat_0", 0)) == 0 and float(p.get("y_0", 0)) == 0:
                fe = float(p.get("x_0", 500000))
                prefixed = fe > 1_000_000
                width = (6 if int(fe // 1_000_000) <= 23 else 3) if prefixed else 3
                z = gk_zone(float(p.get("lon_0", 0)), width=width, prefixed=prefixed)
                if z.false_easting == fe:
                    return z.crs
    except Exception:
        return crs
    return crs
