"""CGCS2000 and its Gauss-Krüger zones: zone inference, axis checks, metric projections.

EPSG codes (checked with pyproj 3.7 / PROJ 9.5):

======  ==========================================================  =======================
EPSG    CRS                                                         easting
======  ==========================================================  =======================
4490    CGCS2000 geographic (lat, lon axis order; ecogis uses xy)   —
4491-   CGCS2000 / Gauss-Kruger zone 13-23 (6°, prefixed)           zone·10⁶ + 500 000
4501
4502-   CGCS2000 / Gauss-Kruger CM 75E-135E (6°, no prefix)         500 000
4512
4513-   CGCS2000 / 3-degree Gauss-Kruger zone 25-45 (prefixed)      zone·10⁶ + 500 000
4533
4534-   CGCS2000 / 3-degree Gauss-Kruger CM 75E-135E (no prefix)    500 000
4554
======  ==========================================================  =======================

A 3° zone ``z`` has central meridian ``3·z``; a 6° zone ``z`` has ``6·z − 3``. The no-prefix
twin of a prefixed zone is found by central meridian: EPSG:4523 (zone 35, CM 105°E) pairs with
EPSG:4544 (CM 105°E), *not* with 4545 (CM 108°E).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

from pyproj import CRS, Transformer

from ecogis.errors import AmbiguousCRSError, CRSError

CGCS2000 = CRS.from_epsg(4490)
CGCS2000_ELLIPSOID = {"a": 6378137.0, "rf": 298.257222101}

#: lon/lat box of China used for plausibility checks (generous: 70-140°E, 0-56°N)
CHINA_LONLAT = (70.0, 0.0, 140.0, 56.0)
#: plausible Gauss-Krüger northings for China, metres
CHINA_NORTHING = (0.0, 6_300_000.0)


@dataclass(frozen=True)
class GKZone:
    """A CGCS2000 Gauss-Krüger zone CRS: its EPSG code, width (3 or 6°), zone, CM and prefix."""

    epsg: int
    width: int
    zone: int
    cm: int
    prefixed: bool

    @property
    def false_easting(self) -> float:
        return self.zone * 1_000_000 + 500_000 if self.prefixed else 500_000.0

    @property
    def description(self) -> str:
        pre = f"zone {self.zone}, prefixed" if self.prefixed else "no prefix"
        return f"EPSG:{self.epsg} = CGCS2000 {self.width}° GK CM {self.cm}°E, {pre}"

    @property
    def twin(self) -> GKZone:
        """The same zone with the prefix added or removed (matched by central meridian)."""
        return gk_zone(self.cm, width=self.width, prefixed=not self.prefixed)

    @property
    def crs(self) -> CRS:
        return CRS.from_epsg(self.epsg)


def _build_table() -> dict[int, GKZone]:
    table: dict[int, GKZone] = {}
    for i, zone in enumerate(range(13, 24)):  # 6°
        cm = zone * 6 - 3
        table[4491 + i] = GKZone(4491 + i, 6, zone, cm, True)
        table[4502 + i] = GKZone(4502 + i, 6, zone, cm, False)
    for i, zone in enumerate(range(25, 46)):  # 3°
        cm = zone * 3
        table[4513 + i] = GKZone(4513 + i, 3, zone, cm, True)
        table[4534 + i] = GKZone(4534 + i, 3, zone, cm, False)
    return table


GK_ZONES: dict[int, GKZone] = _build_table()


def gk_zone(cm: float, *, width: int = 3, prefixed: bool = False) -> GKZone:
    """Return the CGCS2000 GK zone with central meridian ``cm`` (degrees east)."""
    for z in GK_ZONES.values():
        if z.width == width and z.prefixed == prefixed and z.cm == round(cm):
            return z
    raise CRSError(f"no CGCS2000 {width}° Gauss-Krüger zone has central meridian {cm}°E",
                   fix="China's zones run from 75°E to 135°E")


def gk_zone_of(crs: CRS | int | str | None) -> GKZone | None:
    """Return the :class:`GKZone` of ``crs`` when it is a CGCS2000 GK zone, else None."""
    if crs is None:
        return None
    c = to_crs(crs)
    epsg = c.to_epsg(min_confidence=70)
    return GK_ZONES.get(epsg) if epsg else None


def to_crs(value: CRS | int | str) -> CRS:
    """Return a :class:`pyproj.CRS` from an EPSG int, ``"EPSG:4523"``, WKT or a CRS."""
    if isinstance(value, CRS):
        return value
    try:
        if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
            return CRS.from_epsg(int(value))
        return CRS.from_user_input(value)
    except Exception as exc:  # pyproj.exceptions.CRSError
        raise CRSError(f"cannot understand CRS {value!r}: {exc}",
                       fix="pass an EPSG code such as EPSG:4490 or EPSG:4523") from None


def crs_label(crs: CRS | None) -> str:
    """Return ``EPSG:4523`` (or the CRS name when it has no EPSG code)."""
    if crs is None:
        return "none"
    epsg = crs.to_epsg(min_confidence=70)
    return f"EPSG:{epsg}" if epsg else crs.name


def _candidates_text(cands: list[GKZone]) -> str:
    return "; ".join(c.description for c in cands)


def query_gk_crs_info(
    lon_bounds: tuple[float, float] | None = None, *, width: int | None = None,
    prefixed: bool | None = None,
) -> list[GKZone]:
    """Return the GK zones whose central meridian band covers ``lon_bounds`` (all when None)."""
    out = []
    for z in GK_ZONES.values():
        if width is not None and z.width != width:
            continue
        if prefixed is not None and z.prefixed != prefixed:
            continue
        if lon_bounds is not None:
            half = z.width / 2
            if not (z.cm - half - 1e-9 <= lon_bounds[0] and lon_bounds[1] <= z.cm + half + 1e-9):
                continue
        out.append(z)
    return out


def _looks_lonlat(b) -> bool:
    return -180.001 <= b[0] <= b[2] <= 180.001 and -90.001 <= b[1] <= b[3] <= 90.001


def _looks_latlon_swapped(b) -> bool:
    # x holds latitudes of China and y longitudes of China
    return 0 <= b[0] <= b[2] <= 56 and 70 <= b[1] <= b[3] <= 140


def infer_crs(bounds, *, file: str | None = None, layer: str | None = None) -> tuple[CRS, str]:
    """Infer the CRS of coordinates with no declared CRS from their bounds.

    Returns ``(crs, reason)``. lon/lat ranges give EPSG:4490; an 8-digit easting whose two
    leading digits are a zone number gives the prefixed CGCS2000 GK zone (3° zones 25-45 =
    EPSG:4513-4533, 6° zones 13-23 = EPSG:4491-4501). A 6-digit easting cannot tell its
    central meridian: :class:`~ecogis.errors.AmbiguousCRSError` lists the candidates.
    """
    b = tuple(float(v) for v in bounds)
    where = {"file": file, "layer": layer}
    if any(math.isnan(v) for v in b):
        raise CRSError("the layer has no coordinates to infer a CRS from", **where,
                       fix="pass --crs EPSG:XXXX")
    if _looks_latlon_swapped(b):
        raise CRSError(
            f"coordinates look like (lat, lon) with axes swapped: x {b[0]:.4f}..{b[2]:.4f}, "
            f"y {b[1]:.4f}..{b[3]:.4f}", **where,
            fix="swap the columns to (lon, lat) in the source data")
    if _looks_lonlat(b):
        return CGCS2000, "lon/lat coordinate ranges -> EPSG:4490 (CGCS2000 geographic)"
    xmin, ymin, xmax, ymax = b
    if ymin >= 10_000_000 and 0 < xmin < 10_000_000:
        raise CRSError(
            f"coordinates look like (northing, easting) with axes swapped: x {xmin:.0f}..{xmax:.0f}, "
            f"y {ymin:.0f}..{ymax:.0f}", **where,
            fix="swap X and Y (Chinese surveying writes X = northing first)")
    if xmin >= 1_000_000:
        zone, zone_max = int(xmin // 1_000_000), int(xmax // 1_000_000)
        if zone != zone_max:
            raise CRSError(f"eastings {xmin:.0f}..{xmax:.0f} span zone prefixes {zone}..{zone_max}",
                           **where, fix="split the layer by zone or pass --crs")
        if not (CHINA_NORTHING[0] < ymin and ymax < CHINA_NORTHING[1]):
            raise CRSError(f"northings {ymin:.0f}..{ymax:.0f} are outside China's range",
                           **where, fix="check the coordinates or pass --crs")
        matches = [z for z in GK_ZONES.values() if z.prefixed and z.zone == zone]
        if len(matches) != 1:
            raise CRSError(
                f"easting prefix {zone} is not a CGCS2000 zone (3° zones 25-45, 6° zones 13-23)",
                **where, fix="pass --crs EPSG:XXXX")
        z = matches[0]
        return z.crs, f"8-digit eastings with zone prefix {zone} -> {z.description}"
    if xmin > 0 and xmax < 1_000_000 and CHINA_NORTHING[0] < ymin and ymax < CHINA_NORTHING[1]:
        cands = sorted((z for z in GK_ZONES.values() if not z.prefixed),
                       key=lambda z: (z.width, z.cm))
        raise AmbiguousCRSError(
            "6-digit eastings without a zone prefix: the central meridian cannot be recovered "
            "from the coordinates; candidates: " + _candidates_text(cands),
            candidates=[(z.epsg, z.description) for z in cands], **where,
            fix="pass --crs with the zone of the data, e.g. --crs EPSG:4544 for 3° CM 105°E",
        )
    raise CRSError(f"cannot infer a CRS from bounds {b}", **where, fix="pass --crs EPSG:XXXX")


def check_crs(crs: CRS, bounds, *, file: str | None = None, layer: str | None = None) -> None:
    """Raise :class:`CRSError` when the declared ``crs`` contradicts the coordinates.

    Catches lon/lat values in a projected CRS, projected values in a geographic CRS, swapped
    axes, a prefixed zone CRS given prefix-less eastings (and the reverse), a zone prefix that
    differs from the CRS's zone, and coordinates that land outside China.
    """
    b = tuple(float(v) for v in bounds)
    if any(math.isnan(v) for v in b):
        return
    where = {"file": file, "layer": layer}
    label = crs_label(crs)
    if crs.is_geographic:
        if _looks_latlon_swapped(b):
            raise CRSError(
                f"declared CRS {label} but coordinates look like (lat, lon) with axes swapped",
                **where, fix="swap the columns to (lon, lat)")
        if not _looks_lonlat(b):
            try:
                guess = infer_crs(b)[0]
                fix = f"the coordinates look like {crs_label(guess)}: pass --crs {crs_label(guess)}"
            except CRSError as exc:
                fix = exc.fix or "pass the right --crs"
            raise CRSError(
                f"declared CRS {label} is geographic but coordinates are projected "
                f"(x {b[0]:.0f}..{b[2]:.0f}, y {b[1]:.0f}..{b[3]:.0f})", **where, fix=fix)
        _check_in_china(crs, b, where)
        return
    if _looks_lonlat(b):
        raise CRSError(
            f"declared CRS {label} is projected but coordinates are lon/lat degrees "
            f"(x {b[0]:.4f}..{b[2]:.4f}, y {b[1]:.4f}..{b[3]:.4f})", **where,
            fix="fix the .prj or pass --crs EPSG:4490")
    zone = gk_zone_of(crs)
    if zone is not None:
        xmin, ymin, xmax, ymax = b
        if ymin >= 10_000_000 or (xmin > 1_000_000 and xmax < 7_000_000 and ymax < 1_000_000):
            raise CRSError(f"declared CRS {label} but X and Y look swapped "
                           f"(x {xmin:.0f}..{xmax:.0f}, y {ymin:.0f}..{ymax:.0f})", **where,
                           fix="swap the columns: X is the northing, Y the easting")
        if zone.prefixed and xmax < 1_000_000:
            raise CRSError(
                f"declared CRS {zone.description} expects eastings with prefix {zone.zone}, "
                f"but they are 6-digit ({xmin:.0f}..{xmax:.0f})", **where,
                fix=f"pass --crs EPSG:{zone.twin.epsg} ({zone.twin.description})")
        if zone.prefixed and int(xmin // 1_000_000) != zone.zone:
            found = int(xmin // 1_000_000)
            raise CRSError(
                f"declared CRS {zone.description} but eastings carry zone prefix {found}",
                **where, fix="pass --crs for zone " + str(found) + " or fix the .prj")
        if not zone.prefixed and xmin >= 1_000_000:
            found = int(xmin // 1_000_000)
            hint = [z for z in GK_ZONES.values() if z.prefixed and z.zone == found]
            fix = (f"pass --crs EPSG:{hint[0].epsg} ({hint[0].description})" if hint
                   else "pass the right --crs")
            raise CRSError(
                f"declared CRS {zone.description} but eastings carry a zone prefix {found}",
                **where, fix=fix)
    _check_in_china(crs, b, where)


_TO_LONLAT = threading.local()  # Transformer objects are not shared between threads


def _to_lonlat_transformer(crs: CRS) -> Transformer:
    """Return a cached always-xy transformer from ``crs`` to CGCS2000 lon/lat (per thread)."""
    cache = _TO_LONLAT.__dict__.setdefault("by_wkt", {})
    key = crs.to_wkt()
    if key not in cache:
        if len(cache) > 64:
            cache.clear()
        cache[key] = Transformer.from_crs(crs, CGCS2000, always_xy=True)
    return cache[key]


def _check_in_china(crs: CRS, b, where) -> None:
    try:
        tr = _to_lonlat_transformer(crs)
        lon0, lat0, lon1, lat1 = tr.transform_bounds(*b)
    except Exception:
        raise CRSError(f"coordinates cannot be transformed from {crs_label(crs)}", **where,
                       fix="check the declared CRS or pass --crs") from None
    ok = all(math.isfinite(v) for v in (lon0, lat0, lon1, lat1))
    cx0, cy0, cx1, cy1 = CHINA_LONLAT
    if not ok or lon1 < cx0 or lon0 > cx1 or lat1 < cy0 or lat0 > cy1:
        raise CRSError(
            f"with the declared CRS {crs_label(crs)} the data falls at lon {lon0:.3f}..{lon1:.3f}, "
            f"lat {lat0:.3f}..{lat1:.3f}, outside China", **where,
            fix="the declared CRS is probably wrong: pass the right --crs")


def metric_crs(lonlat_bounds, *, prefer: CRS | None = None) -> CRS:
    """Return a CRS in metres for distances and buffers over ``lonlat_bounds``.

    ``prefer`` is returned when it is already a GK zone (the layer's own plane); otherwise the
    CGCS2000 3° GK zone (no prefix) whose central meridian is nearest the bounds' centre.
    """
    if prefer is not None and gk_zone_of(prefer) is not None:
        return to_crs(prefer)
    lon = (float(lonlat_bounds[0]) + float(lonlat_bounds[2])) / 2
    cm = min(max(3 * round(lon / 3), 75), 135)
    return gk_zone(cm, width=3, prefixed=False).crs


def transformer(src: CRS, dst: CRS) -> Transformer:
    """Return an always-xy transformer (lon, lat / easting, northing order)."""
    return Transformer.from_crs(src, dst, always_xy=True)
