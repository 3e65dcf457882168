"""Comparing two versions of a layer (m²): lost, gained, net, 性质 changes and 占补平衡.

"面积不减少，性质不改变": every adjustment of a redline, a protected area or the farmland layer
must show that protected area did not shrink and did not change its nature, and every farmland
occupation must be compensated (补划) in quantity and quality grade. :func:`diff_layers`
answers that for two versions of a layer, with the polygons to show for it.

How it is computed
------------------
* Both versions are brought into one Gauss-Krüger plane: the working plane of BEFORE
  (:func:`ecogis.measure.working_metric_crs`), so an AFTER stored in another CRS compares
  exactly.
* Each version is dissolved (a layer's own overlaps count once) and exploded to parts.
  ``lost = before − after`` and ``gained = after − before`` are computed part by part: one
  STRtree bulk query, parts covered by the other side dropped whole, each remaining part
  differenced against a MultiPolygon of the parts it meets.
* The results are exploded to parts again and each part is tested for **digitising noise**:
  a part that vanishes under a negative buffer of ``tolerance_m / 2`` (thinner than
  ``tolerance_m``, default 0.5 m) or whose area is below ``tolerance_m2`` is noise. Noise is
  reported (area and count) and never counted in lost, gained or net, nor does it fail a check.
* **Nature change** (性质): with a field (``zone``, ``land_code``, a protection level) each
  version is dissolved per field value. ``from A -> to B`` is the area that carried A before and
  no longer does, and carries B after and did not before: ``(before_A − after_A) ∩
  (after_B − before_B)`` (for a layer without overlaps simply ``before_A ∩ after_B``). The
  pairs are found with one STRtree query and intersected vectorised; the pieces (noise
  filtered) are summed per ``from -> to``.
* **占补平衡**: lost against gained, and with a quality-grade field the area-weighted mean grade
  of the area lost (from BEFORE's features) and of the area gained (from AFTER's features).
* All areas are measured by :func:`ecogis.measure.area`: ellipsoidal (CGCS2000) by default.
* The verdict follows the rule of the layer's kind in ``layers/change_rules.toml``.
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS

from ecogis.crs import crs_label
from ecogis.data import check_keys, data_path, read_toml_cached
from ecogis.errors import DataFileError, InputError
from ecogis.kinds import Kind, load_kinds
from ecogis.measure import (
    area,
    check_method,
    dissolve,
    method_label,
    polygon_parts,
    to_metric,
    working_metric_crs,
)
from ecogis.units import area_unit, from_m2

AREA_RULES = ("no_decrease", "compensated", "report")
NATURE_RULES = ("no_change", "no_downgrade", "report")
GRADE_RULES = ("not_lower", "report")
GRADE_BETTER = ("lower", "higher")
_RULE_KEYS = {"name", "area", "nature", "nature_field", "levels", "grade", "grade_field",
              "grade_better", "citations"}

#: layers written to a diff GeoPackage (``ecogis map --diff`` reads ``lost`` and ``gained``)
DIFF_LAYERS = ("lost", "gained", "noise", "nature_changed")


# ----------------------------------------------------------------------------- rulebook
@dataclass(frozen=True)
class ChangeRule:
    """What a new version of one kind of layer must satisfy (see ``layers/change_rules.toml``)."""

    kind: str
    name: str
    area: str = "report"
    nature: str = "report"
    nature_field: str | None = None
    levels: tuple[tuple[str, ...], ...] = ()
    grade: str = "report"
    grade_field: str | None = None
    grade_better: str = "lower"
    citations: tuple[str, ...] = ()

    @property
    def checks_anything(self) -> bool:
        """True when any of area, nature or grade is more than a report."""
        return (self.area, self.nature, self.grade) != ("report", "report", "report")

    def level_of(self, value: str | None) -> int | None:
        """Return the level index of a field value (0 = strictest), or None when unranked."""
        for i, members in enumerate(self.levels):
            if value in members:
                return i
        return None


@dataclass(frozen=True)
class ChangeRulebook:
    """All change rules of a rules file: per kind, and the defaults for unlisted kinds."""

    defaults: ChangeRule
    kinds: dict[str, ChangeRule]
    source: Path

    def for_kind(self, kind_id: str) -> ChangeRule:
        """Return the rule of ``kind_id`` (the defaults, relabelled, when it has none)."""
        if kind_id in self.kinds:
            return self.kinds[kind_id]
        d = self.defaults
        name = load_kinds()[kind_id].name_zh if kind_id in load_kinds() else kind_id
        return ChangeRule(kind=kind_id, name=name, area=d.area, nature=d.nature,
                          nature_field=d.nature_field, levels=d.levels, grade=d.grade,
                          grade_field=d.grade_field, grade_better=d.grade_better,
                          citations=d.citations)


def _choice(spec: dict, key: str, allowed: tuple[str, ...], where: str, source: Path) -> str:
    value = spec.get(key, "report")
    if value not in allowed:
        raise DataFileError(f"{where}: {key} = {value!r} is not one of {list(allowed)}",
                            file=str(source), fix=f"set {key} to one of {', '.join(allowed)}")
    return value


def _parse_rule(kind_id: str, spec: Any, source: Path, where: str) -> ChangeRule:
    if not isinstance(spec, dict):
        raise DataFileError(f"{where} must be a table", file=str(source),
                            fix=f"write it as [{where}] with keys {sorted(_RULE_KEYS)}")
    check_keys(spec, _RULE_KEYS, where, source)
    area_rule = _choice(spec, "area", AREA_RULES, where, source)
    nature = _choice(spec, "nature", NATURE_RULES, where, source)
    grade = _choice(spec, "grade", GRADE_RULES, where, source)
    better = spec.get("grade_better", "lower")
    if better not in GRADE_BETTER:
        raise DataFileError(f"{where}: grade_better = {better!r} is not one of "
                            f"{list(GRADE_BETTER)}", file=str(source),
                            fix="set grade_better to lower (等别 1 best) or higher")
    for key in ("name", "nature_field", "grade_field"):
        if key in spec and not (isinstance(spec[key], str) and spec[key].strip()):
            raise DataFileError(f"{where}: {key} must be a non-empty string", file=str(source),
                                fix=f"correct {key}")
    raw_levels = spec.get("levels", [])
    if not isinstance(raw_levels, list) or not all(
            isinstance(lv, list) and lv and all(isinstance(v, str) for v in lv)
            for lv in raw_levels):
        raise DataFileError(f"{where}: levels must be a list of non-empty lists of strings",
                            file=str(source),
                            fix='write levels = [["核心保护区"], ["一般控制区"]] (strictest first)')
    levels = tuple(tuple(lv) for lv in raw_levels)
    flat = [v for lv in levels for v in lv]
    if len(set(flat)) != len(flat):
        dup = sorted({v for v in flat if flat.count(v) > 1})
        raise DataFileError(f"{where}: levels repeat {dup}", file=str(source),
                            fix="put each value in one level only")
    if nature == "no_downgrade" and not levels:
        raise DataFileError(f"{where}: nature = 'no_downgrade' needs levels", file=str(source),
                            fix="add levels = [[strictest values], ..., [laxest values]]")
    if levels and nature != "no_downgrade":
        raise DataFileError(f"{where}: levels are only used with nature = 'no_downgrade'",
                            file=str(source), fix="remove levels or set nature = 'no_downgrade'")
    nature_field = spec.get("nature_field")
    registry = load_kinds()
    if kind_id in registry and nature_field and levels:
        allowed = registry[kind_id].values.get(nature_field)
        if allowed:
            stray = [v for v in flat if v not in allowed]
            if stray:
                raise DataFileError(
                    f"{where}: levels name {stray}, not values of {kind_id}.{nature_field} "
                    f"in kinds.toml ({list(allowed)})", file=str(source),
                    fix="use the values listed in kinds.toml")
    cites = spec.get("citations", [])
    if not isinstance(cites, list) or not all(isinstance(c, str) and c.strip() for c in cites):
        raise DataFileError(f"{where}: citations must be a list of non-empty strings",
                            file=str(source), fix='write citations = ["document, L123: text"]')
    rule = ChangeRule(
        kind=kind_id, name=spec.get("name") or (registry[kind_id].name_zh
                                                if kind_id in registry else kind_id),
        area=area_rule, nature=nature, nature_field=nature_field, levels=levels, grade=grade,
        grade_field=spec.get("grade_field"), grade_better=better, citations=tuple(cites))
    if rule.checks_anything and not rule.citations:
        raise DataFileError(f"{where} checks area/nature/grade but cites nothing",
                            file=str(source),
                            fix="add citations = [\"document, place: quoted text\"]")
    return rule


def load_change_rules(path: str | os.PathLike | None = None) -> ChangeRulebook:
    """Load and validate the change rulebook (default ``layers/change_rules.toml``).

    Raises :class:`~ecogis.errors.DataFileError` naming the file and key on unknown keys,
    unknown kinds, unknown rule values, malformed levels and rules without citations.
    """
    p = Path(path) if path is not None else data_path("change_rules.toml")
    raw = read_toml_cached(p)
    unknown = set(raw) - {"defaults", "kinds"}
    if unknown:
        raise DataFileError(f"unknown top-level keys {sorted(unknown)}", file=str(p),
                            fix="use only [defaults] and [kinds.KIND] tables")
    defaults = _parse_rule("*", raw.get("defaults", {}), p, "defaults")
    registry = load_kinds()
    kinds_raw = raw.get("kinds", {})
    if not isinstance(kinds_raw, dict):
        raise DataFileError("kinds must be a table of tables", file=str(p),
                            fix="write [kinds.KIND] tables")
    kinds: dict[str, ChangeRule] = {}
    for kid, spec in kinds_raw.items():
        if kid not in registry:
            raise DataFileError(f"kinds.{kid}: unknown layer kind", file=str(p),
                                fix=f"use a kind of kinds.toml: {', '.join(registry.kinds)}")
        kinds[kid] = _parse_rule(kid, spec, p, f"kinds.{kid}")
    return ChangeRulebook(defaults=defaults, kinds=kinds, source=p)


# ----------------------------------------------------------------------------- results
@dataclass
class NatureChange:
    """Area (m²) whose field value changed from ``from_value`` to ``to_value``."""

    from_value: str | None
    to_value: str | None
    area_m2: float
    parts: int


@dataclass
class Compensation:
    """占补平衡: area lost (占用) against area gained (补划), m², with mean quality grades."""

    lost_m2: float
    gained_m2: float
    balance_m2: float
    grade_field: str | None = None
    grade_better: str = "lower"
    lost_mean_grade: float | None = None
    gained_mean_grade: float | None = None
    lost_ungraded_m2: float = 0.0
    gained_ungraded_m2: float = 0.0


@dataclass
class ZoneDiff:
    """Lost, gained and net area (m²) inside one zone (e.g. a town) of the ``--by`` layer."""

    zone: str
    lost_m2: float
    gained_m2: float

    @property
    def net_m2(self) -> float:
        return self.gained_m2 - self.lost_m2


@dataclass
class Check:
    """One rule check of the verdict: its id, outcome, message and citations."""

    check: str
    ok: bool
    message: str
    citations: tuple[str, ...] = ()


@dataclass
class DiffResult:
    """The comparison of two versions of a layer; areas in m², geometry in ``crs``.

    ``lost``, ``gained``, ``noise`` and ``nature_changed`` are GeoDataFrames of polygon parts
    in the working Gauss-Krüger plane ``crs``, each with an ``area_m2`` column measured by
    ``method``.
    """

    kind: str
    kind_name: str
    method: str
    method_label: str
    crs: CRS
    before_m2: float
    after_m2: float
    lost_m2: float
    gained_m2: float
    lost: gpd.GeoDataFrame
    gained: gpd.GeoDataFrame
    noise: gpd.GeoDataFrame
    nature_changed: gpd.GeoDataFrame
    tolerance_m: float
    tolerance_m2: float
    rule: ChangeRule
    field: str | None = None
    nature_changes: list[NatureChange] = dc_field(default_factory=list)
    compensation: Compensation | None = None
    by: list[ZoneDiff] = dc_field(default_factory=list)
    by_layer: str | None = None
    checks: list[Check] = dc_field(default_factory=list)
    notes: list[str] = dc_field(default_factory=list)
    before_name: str = "before"
    after_name: str = "after"

    @property
    def net_m2(self) -> float:
        """Gained minus lost (m²), noise excluded."""
        return self.gained_m2 - self.lost_m2

    @property
    def verdict(self) -> str:
        """``pass`` when every check holds, else ``fail``."""
        return "pass" if all(c.ok for c in self.checks) else "fail"

    @property
    def reasons(self) -> list[Check]:
        """The failed checks."""
        return [c for c in self.checks if not c.ok]

    def noise_summary(self) -> dict[str, float | int]:
        """Noise area (m²) and part count, in total and per side (lost, gained, nature)."""
        out: dict[str, float | int] = {}
        n = self.noise
        for side in ("lost", "gained", "nature"):
            sel = n[n["side"] == side] if len(n) else n
            out[f"{side}_m2"] = float(sel["area_m2"].sum()) if len(sel) else 0.0
            out[f"{side}_count"] = int(len(sel))
        out["area_m2"] = float(n["area_m2"].sum()) if len(n) else 0.0
        out["count"] = int(len(n))
        return out

    def as_dict(self, unit: str = "km2") -> dict[str, Any]:
        """Return the result as plain data with areas in ``unit`` (also ``areas_m2``)."""
        u = area_unit(unit).id

        def cv(m2: float | None) -> float | None:
            return None if m2 is None else float(from_m2(m2, u))

        noise = self.noise_summary()
        comp = None
        if self.compensation is not None:
            c = self.compensation
            comp = {
                "lost": cv(c.lost_m2), "gained": cv(c.gained_m2), "balance": cv(c.balance_m2),
                "grade_field": c.grade_field, "grade_better": c.grade_better,
                "lost_mean_grade": c.lost_mean_grade, "gained_mean_grade": c.gained_mean_grade,
                "lost_ungraded": cv(c.lost_ungraded_m2),
                "gained_ungraded": cv(c.gained_ungraded_m2),
            }
        return {
            "before": self.before_name, "after": self.after_name,
            "kind": self.kind, "kind_name": self.kind_name,
            "unit": u, "method": self.method, "method_label": self.method_label,
            "crs": crs_label(self.crs),
            "lost": cv(self.lost_m2), "gained": cv(self.gained_m2), "net": cv(self.net_m2),
            "before_area": cv(self.before_m2), "after_area": cv(self.after_m2),
            "lost_parts": int(len(self.lost)), "gained_parts": int(len(self.gained)),
            "noise": {
                "area": cv(noise["area_m2"]), "count": noise["count"],
                "lost_area": cv(noise["lost_m2"]), "lost_count": noise["lost_count"],
                "gained_area": cv(noise["gained_m2"]), "gained_count": noise["gained_count"],
                "nature_area": cv(noise["nature_m2"]), "nature_count": noise["nature_count"],
                "tolerance_m": self.tolerance_m, "tolerance_m2": self.tolerance_m2,
            },
            "field": self.field,
            "nature_changes": [
                {"from": c.from_value, "to": c.to_value, "area": cv(c.area_m2), "parts": c.parts}
                for c in self.nature_changes],
            "compensation": comp,
            "by_layer": self.by_layer,
            "by": [{"zone": z.zone, "lost": cv(z.lost_m2), "gained": cv(z.gained_m2),
                    "net": cv(z.net_m2)} for z in self.by],
            "verdict": self.verdict,
            "reasons": [{"check": c.check, "message": c.message, "citations": list(c.citations)}
                        for c in self.reasons],
            "checks": [{"check": c.check, "ok": c.ok, "message": c.message} for c in self.checks],
            "rule": {"kind": self.rule.kind, "name": self.rule.name, "area": self.rule.area,
                     "nature": self.rule.nature, "grade": self.rule.grade,
                     "citations": list(self.rule.citations)},
            "notes": list(self.notes),
            "areas_m2": {"lost": self.lost_m2, "gained": self.gained_m2, "net": self.net_m2,
                         "before": self.before_m2, "after": self.after_m2,
                         "noise": noise["area_m2"]},
        }


# ----------------------------------------------------------------------------- geometry
def difference_parts(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return ``a − b`` for two arrays of dissolved Polygon parts in one CRS, as Polygon parts.

    One STRtree bulk query pairs the parts; a part of ``a`` covered by a part of ``b`` is
    dropped whole, a part meeting none is kept whole, the others are differenced against a
    MultiPolygon of the parts of ``b`` they meet (valid, since dissolved parts do not overlap).
    """
    a = np.asarray(a, dtype=object)
    b = np.asarray(b, dtype=object)
    if len(a) == 0:
        return np.array([], dtype=object)
    if len(b) == 0:
        return a.copy()
    tree = shapely.STRtree(b)
    ia, ib = tree.query(a, predicate="intersects")
    touched = np.zeros(len(a), dtype=bool)
    touched[ia] = True
    out = [a[~touched]]
    if len(ia):
        covered = np.zeros(len(a), dtype=bool)
        cov = shapely.covered_by(a[ia], b[ib])
        covered[ia[cov]] = True
        keep = ~covered[ia]
        ia, ib = ia[keep], ib[keep]
        if len(ia):
            order = np.lexsort((ib, ia))
            ia, ib = ia[order], ib[order]
            uniq, group = np.unique(ia, return_inverse=True)
            try:
                others = shapely.multipolygons(b[ib], indices=group)
                diff = shapely.difference(a[uniq], others)
            except shapely.errors.GEOSException:  # pragma: no cover - robustness fallback
                starts = np.r_[0, np.flatnonzero(np.diff(group)) + 1, len(group)]
                diff = np.array([
                    shapely.difference(a[uniq[i]], shapely.union_all(b[ib[s:e]]))
                    for i, (s, e) in enumerate(zip(starts[:-1], starts[1:], strict=True))],
                    dtype=object)
            out.append(polygon_parts(diff)[0])
    return polygon_parts(np.concatenate(out))[0]


def noise_mask(pieces: np.ndarray, areas_m2: np.ndarray, tolerance_m: float,
               tolerance_m2: float) -> np.ndarray:
    """Return True for parts that are digitising noise: thinner than ``tolerance_m`` (m), or
    smaller than ``tolerance_m2`` (m²), or of zero area.

    "Thinner than ``tolerance_m``" means the part vanishes under a negative buffer of
    ``tolerance_m / 2`` in the metric plane of ``pieces``. Only parts that could vanish
    (area ≤ perimeter × tolerance_m / 2) are buffered.
    """
    pieces = np.asarray(pieces, dtype=object)
    areas_m2 = np.asarray(areas_m2, dtype=float)
    noise = areas_m2 <= 0.0
    if tolerance_m2 > 0:
        noise |= areas_m2 < tolerance_m2
    if tolerance_m > 0 and len(pieces):
        r = tolerance_m / 2.0
        cand = ~noise & (shapely.area(pieces) <= shapely.length(pieces) * r * (1 + 1e-9))
        if cand.any():
            noise[cand] = shapely.is_empty(shapely.buffer(pieces[cand], -r))
    return noise


def _norm_value(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, (float, np.floating)):
        if math.isnan(float(v)):
            return None
        if float(v).is_integer():
            return str(int(v))
        return repr(float(v))
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return str(int(v))
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    s = str(v).strip()
    return s or None


def resolve_field(gdf: gpd.GeoDataFrame, name: str, *, layer: str | None = None,
                  file: str | None = None) -> str:
    """Return the column of ``gdf`` meaning ``name``: itself, its kinds.toml alias (``ZLDJ`` ->
    ``grade``), a column aliased to it, or a case-insensitive match."""
    cols = [c for c in gdf.columns if c != gdf.geometry.name]
    if name in cols:
        return name
    aliases = load_kinds().aliases
    target = aliases.get(name) or aliases.get(name.upper())
    if target in cols:
        return target
    for c in cols:
        if aliases.get(str(c)) == name or aliases.get(str(c).upper()) == name:
            return c
    for c in cols:
        if str(c).lower() == name.lower():
            return c
    raise InputError(f"has no field {name!r} (fields: {', '.join(map(str, cols)) or 'none'})",
                     file=file, layer=layer, fix="pass a field both versions have")


def _has_field(gdf: gpd.GeoDataFrame, name: str) -> str | None:
    try:
        return resolve_field(gdf, name)
    except InputError:
        return None


def _value_parts(gdf: gpd.GeoDataFrame, values: np.ndarray, coverage: bool
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Dissolve ``gdf`` per value; return the parts and the value of each."""
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    parts, vals = [], []
    keys = pd.Series(values, dtype=object).fillna("\0none").to_numpy()
    for key in pd.unique(keys):
        p = dissolve(geoms[keys == key], coverage=coverage)
        parts.append(p)
        vals.extend([None if key == "\0none" else key] * len(p))
    if not parts:
        return np.array([], dtype=object), np.array([], dtype=object)
    return np.concatenate(parts), np.array(vals, dtype=object)


def _value_moves(x: np.ndarray, xv: np.ndarray, y: np.ndarray, yv: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Per value ``v`` of ``xv``: the parts of ``x`` with ``v`` minus the parts of ``y`` with
    ``v`` (where the value ``v`` went away); returns the pieces and their value."""
    xk = np.array(["\0none" if v is None else v for v in xv], dtype=object)
    yk = np.array(["\0none" if v is None else v for v in yv], dtype=object)
    pieces, vals = [], []
    for key in pd.unique(xk):
        d = difference_parts(x[xk == key], y[yk == key])
        pieces.append(d)
        vals.extend([None if key == "\0none" else key] * len(d))
    if not pieces:
        return np.array([], dtype=object), np.array([], dtype=object)
    return np.concatenate(pieces), np.array(vals, dtype=object)


def _pair_intersections(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                                np.ndarray]:
    """Intersect every intersecting pair of ``a`` × ``b``; return pieces and the pair indices."""
    if len(a) == 0 or len(b) == 0:
        e = np.array([], dtype=np.intp)
        return np.array([], dtype=object), e, e
    tree = shapely.STRtree(b)
    ia, ib = tree.query(a, predicate="intersects")
    return _intersect_pairs(a, b, ia, ib)


def _intersect_pairs(a, b, ia, ib):
    if len(ia) == 0:
        return np.array([], dtype=object), ia, ib
    ga, gb = a[ia], b[ib]
    cov_a = shapely.covered_by(ga, gb)
    inter = np.where(cov_a, ga, None)
    rest = ~cov_a
    if rest.any():
        cov_b = shapely.covered_by(gb[rest], ga[rest])
        inter[rest] = np.where(cov_b, gb[rest], shapely.intersection(ga[rest], gb[rest]))
    pieces, k = polygon_parts(inter)
    return pieces, ia[k], ib[k]


def _grades(gdf: gpd.GeoDataFrame, col: str, layer: str) -> np.ndarray:
    s = gdf[col]
    num = pd.to_numeric(s, errors="coerce")
    text = s.astype(str).str.strip()
    bad = s.notna() & num.isna() & (text != "") & (text.str.lower() != "nan")
    if bad.any():
        fid = gdf.index[bad.to_numpy()][0]
        raise InputError(f"grade field {col!r} has non-numeric value {s[bad].iloc[0]!r}",
                         layer=layer, feature=fid,
                         fix="grades must be numbers (耕地质量等别 1-15); correct the attribute")
    return num.to_numpy(dtype=float)


def _graded_mean(ctx: _Ctx, pieces: np.ndarray, piece_m2: np.ndarray,
                 gdf: gpd.GeoDataFrame, grades: np.ndarray
                 ) -> tuple[float | None, float, np.ndarray]:
    """Area-weighted mean grade of ``pieces`` from the features of ``gdf``.

    Returns (mean or None, ungraded area m², mean grade per piece (NaN where ungraded)). The
    ungraded area is what no graded feature covers, noise excluded.
    """
    per_piece = np.full(len(pieces), np.nan)
    total = float(piece_m2.sum())
    if len(pieces) == 0:
        return None, 0.0, per_piece
    # only the features that meet a piece matter: dissolve those per grade
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    near = np.zeros(len(geoms), dtype=bool)
    near[shapely.STRtree(geoms).query(pieces, predicate="intersects")[1]] = True
    ok = np.isfinite(grades) & near
    parts, vals = _value_parts(gdf[ok], grades[ok], ctx.coverage)
    if len(parts) == 0:
        return None, total, per_piece
    sub, ip, iq = _pair_intersections(pieces, parts)
    a = ctx.measure(sub)
    w = np.bincount(ip, weights=a * vals[iq].astype(float), minlength=len(pieces))
    s = np.bincount(ip, weights=a, minlength=len(pieces))
    with np.errstate(invalid="ignore", divide="ignore"):
        per_piece = np.where(s > 0, w / s, np.nan)
    mean = float(w.sum() / s.sum()) if s.sum() > 0 else None
    rest = difference_parts(pieces, dissolve(geoms[ok], coverage=ctx.coverage))
    m2 = ctx.measure(rest)
    ungraded = float(m2[~noise_mask(rest, m2, ctx.tolerance_m, ctx.tolerance_m2)].sum())
    return mean, ungraded, per_piece


def _zone_split(pieces: np.ndarray, zones: np.ndarray, names: np.ndarray, method: str,
                crs: CRS) -> dict[str, float]:
    """Area (m²) of ``pieces`` inside each zone name."""
    out: dict[str, float] = {}
    if len(pieces) == 0 or len(zones) == 0:
        return out
    sub, ip, iz = _pair_intersections(pieces, zones)
    if len(sub) == 0:
        return out
    a = area(sub, method, crs)
    per = np.bincount(iz, weights=a, minlength=len(zones))
    for n, v in zip(names, per, strict=True):
        out[n] = out.get(n, 0.0) + float(v)
    return out


def _source_names(pieces: np.ndarray, src: gpd.GeoDataFrame) -> dict[str, np.ndarray]:
    """``names`` and ``bsm`` of each lost/gained piece: the features of the version it comes
    from that it shares interior with (name, else BSM, 图斑编号, code roles; joined by 、)."""
    from ecogis.fields import feature_labels

    n = len(pieces)
    names = np.full(n, None, dtype=object)
    bsm = np.full(n, None, dtype=object)
    if n == 0 or len(src) == 0:
        return {"names": names, "bsm": bsm}
    labels = feature_labels(src)
    codes = feature_labels(src, ("bsm",))
    if pd.isna(labels).all():
        return {"names": names, "bsm": bsm}
    geoms = np.asarray(src.geometry.values, dtype=object)
    ip, ig = shapely.STRtree(geoms).query(pieces, predicate="intersects")
    inner = shapely.relate_pattern(pieces[ip], geoms[ig], "T********")
    ip, ig = ip[inner], ig[inner]
    for i in np.unique(ip):
        sel = ig[ip == i]
        nm = [x for x in dict.fromkeys(labels[sel]) if x is not None]
        bs = [x for x in dict.fromkeys(codes[sel]) if x is not None]
        names[i] = "、".join(nm) or None
        bsm[i] = "、".join(bs) or None
    return {"names": names, "bsm": bsm}


def _frame(geoms: np.ndarray, crs: CRS, **cols) -> gpd.GeoDataFrame:
    data = {k: (list(v) if isinstance(v, np.ndarray) and v.dtype == object else v)
            for k, v in cols.items()}
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(list(geoms), crs=crs), crs=crs)


def _polygons_only(gdf: gpd.GeoDataFrame, role: str, name: str) -> gpd.GeoDataFrame:
    if gdf.crs is None:
        raise InputError("has no CRS", layer=name, fix="set the layer's CRS (--crs)")
    if len(gdf) == 0:  # an empty version: everything lost (or gained)
        return gdf
    t = shapely.get_type_id(gdf.geometry.values)
    poly = np.isin(t, (3, 6, 7))
    if not poly.any():
        raise InputError(f"{role} has no polygons: diff compares polygon layers", layer=name,
                         fix="pass a polygon layer (redline, farmland, protected area ...)")
    return gdf[poly]


# ----------------------------------------------------------------------------- diff
def diff_layers(
    before: gpd.GeoDataFrame,
    after: gpd.GeoDataFrame,
    *,
    kind: str | Kind | None = None,
    field: str | None = None,
    grade_field: str | None = None,
    tolerance_m: float = 0.5,
    tolerance_m2: float = 0.0,
    method: str = "ellipsoidal",
    zones: gpd.GeoDataFrame | None = None,
    zone_field: str = "name",
    zones_name: str | None = None,
    rules: ChangeRulebook | None = None,
    before_name: str = "before",
    after_name: str = "after",
) -> DiffResult:
    """Compare two versions of a polygon layer: lost, gained and net area (m²) and the verdict.

    Parameters
    ----------
    before, after : GeoDataFrame
        The two versions, in any CRS each (both are brought into BEFORE's working
        Gauss-Krüger plane).
    kind : kind id or Kind, optional
        Decides the rule of ``layers/change_rules.toml`` and whether the layer is a coverage
        (default ``generic``: report only).
    field : str, optional
        Field whose change is a change of nature (性质), e.g. ``zone``, ``land_code`` or a
        protection level; default the rule's ``nature_field`` when both versions have it.
    grade_field : str, optional
        Numeric quality-grade field for 占补平衡 (``grade``/``ZLDJ``); default the rule's
        ``grade_field`` when both versions have it.
    tolerance_m : float
        Parts thinner than this (m) are digitising noise (default 0.5 m).
    tolerance_m2 : float
        Parts smaller than this (m²) are noise as well (default 0: off).
    method : ``ellipsoidal`` (default) or ``projected``
    zones : GeoDataFrame, optional
        Towns (or any zones) to split lost and gained by, named by ``zone_field``.
    rules : ChangeRulebook, optional
        Default :func:`load_change_rules`.

    Returns
    -------
    DiffResult
    """
    check_method(method)
    for label, v in (("--tolerance-m", tolerance_m), ("--tolerance-m2", tolerance_m2)):
        if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
            raise InputError(f"{label} must be a number ≥ 0, not {v!r}", fix=f"pass {label} 0.5")
    k = kind if isinstance(kind, Kind) else load_kinds()[kind or "generic"]
    rule = (rules if rules is not None else load_change_rules()).for_kind(k.id)
    before = _polygons_only(before, "BEFORE", before_name)
    after = _polygons_only(after, "AFTER", after_name)
    if len(before) == 0 and len(after) == 0:
        raise InputError("BEFORE and AFTER are both empty: nothing to compare",
                         fix="pass the two versions of a layer")
    crs = working_metric_crs(before if len(before) else after)
    ctx = _Ctx(bm=to_metric(before, target=crs), am=to_metric(after, target=crs), crs=crs,
               method=method, coverage=k.coverage, tolerance_m=float(tolerance_m),
               tolerance_m2=float(tolerance_m2), before_name=before_name,
               after_name=after_name)

    # lost / gained and their noise
    b_parts = dissolve(ctx.bm, coverage=k.coverage)
    a_parts = dissolve(ctx.am, coverage=k.coverage)
    lost_g, lost_a = ctx.split_noise(difference_parts(b_parts, a_parts), "lost")
    gained_g, gained_a = ctx.split_noise(difference_parts(a_parts, b_parts), "gained")
    lost_m2, gained_m2 = float(lost_a.sum()), float(gained_a.sum())

    # nature (性质) and 占补平衡
    nf = ctx.fields(field, rule.nature_field, rule.nature != "report", "nature", "--field")
    nature_changes, nat_frame = _nature(ctx, nf, field or rule.nature_field)
    gf = ctx.fields(grade_field, rule.grade_field, rule.grade != "report", "grade",
                    "--grade-field")
    comp = None
    lost_cols: dict[str, Any] = {"kind": np.array([k.id] * len(lost_g), dtype=object),
                                 "area_m2": lost_a, **_source_names(lost_g, ctx.bm)}
    gained_cols: dict[str, Any] = {"kind": np.array([k.id] * len(gained_g), dtype=object),
                                   "area_m2": gained_a, **_source_names(gained_g, ctx.am)}
    if rule.area == "compensated" or gf is not None:
        comp = Compensation(lost_m2=lost_m2, gained_m2=gained_m2,
                            balance_m2=gained_m2 - lost_m2, grade_better=rule.grade_better)
        if gf is not None:
            comp.grade_field = grade_field or rule.grade_field
            comp.lost_mean_grade, comp.lost_ungraded_m2, lost_cols["grade"] = _graded_mean(
                ctx, lost_g, lost_a, ctx.bm, _grades(ctx.bm, gf[0], before_name))
            comp.gained_mean_grade, comp.gained_ungraded_m2, gained_cols["grade"] = (
                _graded_mean(ctx, gained_g, gained_a, ctx.am,
                             _grades(ctx.am, gf[1], after_name)))

    by_rows = [] if zones is None else _by_zones(ctx, zones, zone_field, zones_name,
                                                 lost_g, gained_g, lost_m2, gained_m2)
    noise = gpd.GeoDataFrame(pd.concat(ctx.noise, ignore_index=True), geometry="geometry",
                             crs=crs)
    noise["kind"] = k.id
    result = DiffResult(
        kind=k.id, kind_name=k.name_zh, method=method,
        method_label=method_label(method, ctx.bm, crs), crs=crs,
        before_m2=float(area(b_parts, method, crs).sum()) if len(b_parts) else 0.0,
        after_m2=float(area(a_parts, method, crs).sum()) if len(a_parts) else 0.0,
        lost_m2=lost_m2, gained_m2=gained_m2,
        lost=_frame(lost_g, crs, **lost_cols), gained=_frame(gained_g, crs, **gained_cols),
        noise=noise, nature_changed=nat_frame, tolerance_m=ctx.tolerance_m,
        tolerance_m2=ctx.tolerance_m2, rule=rule,
        field=(field or rule.nature_field) if nf is not None else None,
        nature_changes=nature_changes, compensation=comp, by=by_rows, by_layer=zones_name,
        notes=ctx.notes, before_name=before_name, after_name=after_name)
    result.checks = evaluate(result)
    return result


@dataclass
class _Ctx:
    """What the steps of one diff share: both versions in the working plane, and options."""

    bm: gpd.GeoDataFrame
    am: gpd.GeoDataFrame
    crs: CRS
    method: str
    coverage: bool
    tolerance_m: float
    tolerance_m2: float
    before_name: str
    after_name: str
    noise: list[gpd.GeoDataFrame] = dc_field(default_factory=list)
    notes: list[str] = dc_field(default_factory=list)

    def measure(self, pieces: np.ndarray) -> np.ndarray:
        return area(pieces, self.method, self.crs) if len(pieces) else np.array([], float)

    def split_noise(self, pieces: np.ndarray, side: str) -> tuple[np.ndarray, np.ndarray]:
        """Measure ``pieces``, set the noise aside (recorded as ``side``), return the rest."""
        m2 = self.measure(pieces)
        nz = noise_mask(pieces, m2, self.tolerance_m, self.tolerance_m2)
        self.noise.append(_frame(pieces[nz], self.crs,
                                 side=np.array([side] * int(nz.sum()), dtype=object),
                                 area_m2=m2[nz]))
        return pieces[~nz], m2[~nz]

    def fields(self, given: str | None, default: str | None, checked: bool, what: str,
               option: str) -> tuple[str, str] | None:
        """Resolve a field in both versions: ``given`` must exist, ``default`` may not."""
        if given:
            return (resolve_field(self.bm, given, layer=self.before_name),
                    resolve_field(self.am, given, layer=self.after_name))
        if not default:
            return None
        fb, fa = _has_field(self.bm, default), _has_field(self.am, default)
        if fb is None or fa is None:
            if checked:
                self.notes.append(f"{what} not checked: field {default!r} is missing from "
                                  f"{'BEFORE' if fb is None else 'AFTER'} (pass {option})")
            return None
        return fb, fa


def _nature(ctx: _Ctx, fields: tuple[str, str] | None, label: str | None
            ) -> tuple[list[NatureChange], gpd.GeoDataFrame]:
    """The from -> to table of a field and its pieces (noise set aside in ``ctx``)."""
    empty = _frame(np.array([], dtype=object), ctx.crs, field=[], from_value=[], to_value=[],
                   area_m2=np.array([], float))
    if fields is None:
        return [], empty
    bv = np.array([_norm_value(v) for v in ctx.bm[fields[0]].to_numpy()], dtype=object)
    av = np.array([_norm_value(v) for v in ctx.am[fields[1]].to_numpy()], dtype=object)
    bp, bpv = _value_parts(ctx.bm, bv, ctx.coverage)
    ap, apv = _value_parts(ctx.am, av, ctx.coverage)
    # where value A went away, and where value B came
    lp, lpv = _value_moves(bp, bpv, ap, apv)
    gp, gpv = _value_moves(ap, apv, bp, bpv)
    pieces = np.array([], dtype=object)
    fv = tv = np.array([], dtype=object)
    if len(lp) and len(gp):
        il, ig = shapely.STRtree(gp).query(lp, predicate="intersects")
        differ = lpv[il] != gpv[ig]
        pieces, il, ig = _intersect_pairs(lp, gp, il[differ], ig[differ])
        fv, tv = lpv[il], gpv[ig]
    m2 = ctx.measure(pieces)
    nz = noise_mask(pieces, m2, ctx.tolerance_m, ctx.tolerance_m2)
    ctx.noise.append(_frame(pieces[nz], ctx.crs,
                            side=np.array(["nature"] * int(nz.sum()), dtype=object),
                            area_m2=m2[nz]))
    pieces, fv, tv, m2 = pieces[~nz], fv[~nz], tv[~nz], m2[~nz]
    frame = _frame(pieces, ctx.crs, field=np.array([label] * len(pieces), dtype=object),
                   from_value=fv, to_value=tv, area_m2=m2)
    changes: list[NatureChange] = []
    if len(pieces):
        df = pd.DataFrame({"f": pd.Series(fv, dtype=object).fillna("\0"),
                           "t": pd.Series(tv, dtype=object).fillna("\0"), "a": m2})
        agg = df.groupby(["f", "t"], sort=False)["a"].agg(["sum", "count"])
        for (f, t), row in agg.sort_values("sum", ascending=False).iterrows():
            changes.append(NatureChange(None if f == "\0" else f, None if t == "\0" else t,
                                        float(row["sum"]), int(row["count"])))
    return changes, frame


def _by_zones(ctx: _Ctx, zones: gpd.GeoDataFrame, zone_field: str, zones_name: str | None,
              lost_g: np.ndarray, gained_g: np.ndarray, lost_m2: float,
              gained_m2: float) -> list[ZoneDiff]:
    """Lost and gained per zone (town), with an ``(outside)`` row for what no zone holds."""
    if zone_field not in zones.columns:
        raise InputError(f"zones have no field {zone_field!r}", layer=zones_name,
                         fix="name the zones in a 'name' field")
    zm = to_metric(_polygons_only(zones, "--by layer", zones_name or "zones"), target=ctx.crs)
    zg = np.asarray(zm.geometry.values, dtype=object)
    zn = zm[zone_field].astype(str).to_numpy()
    lz = _zone_split(lost_g, zg, zn, ctx.method, ctx.crs)
    gz = _zone_split(gained_g, zg, zn, ctx.method, ctx.crs)
    rows = [ZoneDiff(name, lz.get(name, 0.0), gz.get(name, 0.0)) for name in dict.fromkeys(zn)]
    lo, go = lost_m2 - sum(lz.values()), gained_m2 - sum(gz.values())
    eps = 1e-6 * max(lost_m2, gained_m2, 1.0)
    if lo > eps or go > eps:
        rows.append(ZoneDiff("(outside)", max(lo, 0.0), max(go, 0.0)))
    return rows


# ----------------------------------------------------------------------------- verdict
_DIGITS = {"m2": 1, "ha": 4, "km2": 6, "mu": 2, "wanmu": 6}
_LABEL = {"m2": "m²", "ha": "公顷", "km2": "km²", "mu": "亩", "wanmu": "万亩"}


def evaluate(result: DiffResult, *, unit: str = "km2") -> list[Check]:
    """Return the checks of ``result.rule`` applied to ``result`` (all pass for report-only).

    Areas in the messages are in ``unit`` with 亩 beside them (公顷 beside 亩).
    """
    u = area_unit(unit).id
    second = "ha" if u in ("mu", "wanmu") else "mu"

    def fmt(m2: float) -> str:
        return (f"{from_m2(m2, u):.{_DIGITS[u]}f} {_LABEL[u]} "
                f"({from_m2(m2, second):.{_DIGITS[second]}f} {_LABEL[second]})")

    rule = result.rule
    cites = rule.citations
    checks: list[Check] = []
    if rule.area == "no_decrease":
        ok = result.net_m2 >= 0
        checks.append(Check(
            "area_not_decreased", ok,
            f"面积{'不减少' if ok else '减少'}: lost {fmt(result.lost_m2)}, gained "
            f"{fmt(result.gained_m2)}, net {fmt(result.net_m2)}", cites))
    elif rule.area == "compensated":
        ok = result.gained_m2 >= result.lost_m2
        checks.append(Check(
            "quantity_compensated", ok,
            f"占补平衡 数量{'不减少' if ok else '不足'}: 占用 (lost) {fmt(result.lost_m2)}, "
            f"补划 (gained) {fmt(result.gained_m2)}, balance {fmt(result.net_m2)}", cites))
    if rule.nature != "report" and result.field is not None:
        bad = []
        for c in result.nature_changes:
            if rule.nature == "no_change":
                bad.append(c)
                continue
            f, t = rule.level_of(c.from_value), rule.level_of(c.to_value)
            if f is None or t is None or t > f:
                bad.append(c)
        if bad:
            detail = "; ".join(f"{c.from_value or '(none)'} -> {c.to_value or '(none)'} "
                               f"{fmt(c.area_m2)}" for c in bad)
            what = ("性质改变" if rule.nature == "no_change"
                    else "性质降级 (change to a laxer or unranked level)")
            checks.append(Check("nature_unchanged", False,
                                f"{what} in field {result.field!r}: {detail}", cites))
        else:
            msg = "性质不改变" if not result.nature_changes else (
                "性质未降级: " + "; ".join(f"{c.from_value} -> {c.to_value} {fmt(c.area_m2)}"
                                       for c in result.nature_changes))
            checks.append(Check("nature_unchanged", True, msg, cites))
    comp = result.compensation
    if rule.grade == "not_lower" and comp is not None and comp.grade_field:
        if result.lost_m2 <= 0:
            checks.append(Check("grade_not_lower", True, "质量不降低: nothing was lost", cites))
        elif result.gained_m2 <= 0 or comp.gained_mean_grade is None:
            checks.append(Check("grade_not_lower", False,
                                "质量不降低 cannot be shown: no graded area was gained (补划)",
                                cites))
        else:
            lg, gg = comp.lost_mean_grade, comp.gained_mean_grade
            tol = 1e-9
            if lg is None:
                ok = True
            elif rule.grade_better == "lower":
                ok = gg <= lg + tol
            else:
                ok = gg >= lg - tol
            msg = (f"质量{'不降低' if ok else '降低'}: area-weighted mean {comp.grade_field} of "
                   f"补划 (gained) {gg:.3f} vs 占用 (lost) "
                   f"{'—' if lg is None else f'{lg:.3f}'} ({rule.grade_better} is better)")
            if comp.gained_ungraded_m2 > 0:
                ok = False
                msg += f"; {fmt(comp.gained_ungraded_m2)} of the gained area has no grade"
            checks.append(Check("grade_not_lower", ok, msg, cites))
    return checks


# ----------------------------------------------------------------------------- output
def write_diff(result: DiffResult, path: str | os.PathLike, *, unit: str = "km2") -> Path:
    """Write the ``lost``, ``gained``, ``noise`` and ``nature_changed`` layers (and a one-row
    ``diff_summary`` table) to a GeoPackage, atomically: the file is replaced only when every
    layer was written. Geometry is in the working Gauss-Krüger plane of the diff."""
    import json

    from ecogis.report import plain

    p = Path(path)
    if p.suffix.lower() != ".gpkg":
        raise InputError("the diff output is a GeoPackage", file=str(p),
                         fix="name it with a .gpkg suffix")
    from ecogis.workspace import check_output_gpkg

    check_output_gpkg(p, [*DIFF_LAYERS, "diff_summary"])
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmpname = tempfile.mkstemp(prefix=f".{p.stem}.", suffix=".tmp.gpkg",
                                   dir=p.parent or ".")
    os.close(fd)
    tmp = Path(tmpname)
    tmp.unlink()
    try:
        for name in DIFF_LAYERS:
            gdf = getattr(result, name).copy()
            if len(gdf):  # one geometry type per layer: MultiPolygon
                gdf = gdf.set_geometry(gpd.GeoSeries(
                    [shapely.MultiPolygon([g]) for g in gdf.geometry.values], index=gdf.index,
                    crs=result.crs))
            pyogrio.write_dataframe(gdf, tmp, layer=name, driver="GPKG",
                                    geometry_type="MultiPolygon",
                                    layer_options={"SPATIAL_INDEX": "YES"})
        summary = pd.DataFrame({"key": ["diff"], "value": [
            json.dumps(plain(result.as_dict(unit)), ensure_ascii=False)]})
        pyogrio.write_dataframe(summary, tmp, layer="diff_summary", driver="GPKG")
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        for side in ("-journal", "-wal", "-shm"):
            Path(str(tmp) + side).unlink(missing_ok=True)
    return p


__all__ = [
    "ChangeRule", "ChangeRulebook", "Check", "Compensation", "DIFF_LAYERS", "DiffResult",
    "NatureChange", "ZoneDiff", "diff_layers", "difference_parts", "evaluate",
    "load_change_rules", "noise_mask", "resolve_field", "write_diff",
]
