"""Siting rulebooks and project categories, loaded and validated from ``layers/``.

A rulebook is data: ``layers/rules/*.toml``, one ``[[rules]]`` record per rule, and
``layers/categories.toml`` for the project categories the rules concern. The national
baseline (``region = "national"``) always applies; a regional file adds the seed rules of
its plan on top. Rules of different files do not relax each other unless a rule says so:
``overrides = ["national.redline.default"]`` lets a regional rule refine or relax a national
one for the categories it names (its own rule wins on the (site, feature) pairs it matches,
and the report says which rule won and why). Otherwise the verdict of a site is the most
severe verdict of its hits.

Inside one file, rules that share a ``topic`` compete: for a given site and feature only the
rules whose category is the most specific match of the site's category apply (``chemical``
beats its parent ``industrial``, which beats ``*``). That is how "the rest of the redline:
forbidden, except national major projects: conditional" is written as two plain records.

This module holds no geometry: :mod:`ecogis.siting` evaluates the spatial tests.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecogis.data import check_keys, data_path, read_toml_cached
from ecogis.errors import DataFileError, InputError
from ecogis.kinds import Kind, KindRegistry, load_kinds

#: verdicts from most to least severe
VERDICTS: tuple[str, ...] = ("forbidden", "conditional", "warn", "allowed")
SEVERITY: dict[str, int] = {"allowed": 0, "warn": 1, "conditional": 2, "forbidden": 3}
VERDICT_ZH: dict[str, str] = {
    "forbidden": "禁止",
    "conditional": "有条件（需论证审批）",
    "warn": "提示（需复核）",
    "allowed": "允许",
}
#: spatial tests a rule can ask for
TESTS: tuple[str, ...] = ("intersects", "within", "band", "outside", "in_catchment", "upstream")
#: values of the site attribute ``construction`` (建设性质)
CONSTRUCTION: dict[str, str] = {"new": "新建", "expansion": "扩建", "rebuild": "改建"}
CONSTRUCTION_ALIASES: dict[str, str] = {
    "new": "new", "新建": "new", "新增": "new",
    "expansion": "expansion", "extension": "expansion", "扩建": "expansion", "改扩建": "expansion",
    "rebuild": "rebuild", "reconstruction": "rebuild", "改建": "rebuild", "重建": "rebuild",
}
ANY = "*"
#: specificity of a ``*`` match (larger = less specific)
ANY_RANK = 1000

_RULEBOOK_KEYS = {"region", "name_zh", "name_en", "aliases", "source", "note"}
_PARAM_KEYS = {"value", "unit", "given", "note", "citation"}
_RULE_KEYS = {
    "id", "name_zh", "kind", "where", "groups", "categories", "test", "distance_m", "band_m",
    "distance_field", "topic", "verdict", "procedures", "approval", "compensation", "citation",
    "note", "overrides", "override_reason", "construction", "area_over_m2", "capacity_over",
    "capacity_below", "feature_categories", "near_m", "plan_rule",
}
_CAPACITY_KEYS = {"value", "unit"}
_CITATION_KEYS = {"document", "clause", "file", "line", "quote", "verified", "note",
                  "restated_in"}
_RESTATED_KEYS = {"file", "line", "quote"}
_COMPENSATION_KEYS = {"type", "ratio", "note"}
_CATEGORY_KEYS = {"name_zh", "name_en", "parents", "aliases", "note"}
_ID_RE = re.compile(r"^[a-z][a-z0-9_.\-]*$")


# --------------------------------------------------------------------------- categories


@dataclass(frozen=True)
class Category:
    """A project category: stable id, names, parents and aliases."""

    id: str
    name_zh: str
    name_en: str = ""
    parents: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    note: str = ""

    @property
    def label(self) -> str:
        """``化工项目 (chemical)``."""
        return f"{self.name_zh} ({self.id})"


@dataclass(frozen=True)
class CategoryRegistry:
    """All project categories, their ancestry and the alias lookup."""

    categories: dict[str, Category]
    source: Path
    _lookup: dict[str, str] = field(default_factory=dict, repr=False)
    _ancestry: dict[str, dict[str, int]] = field(default_factory=dict, repr=False)

    def __contains__(self, cid: object) -> bool:
        return cid in self.categories

    def __iter__(self):
        return iter(self.categories.values())

    def __getitem__(self, cid: str) -> Category:
        return self.categories[cid]

    def resolve(self, name: object, *, file: str | None = None, feature: object = None
                ) -> Category:
        """Return the category named ``name`` (id or alias, case-insensitive).

        Raises :class:`~ecogis.errors.InputError` naming the known ids when it is unknown.
        """
        key = str(name).strip().lower() if name is not None else ""
        cid = self._lookup.get(key)
        if cid is None:
            raise InputError(
                f"unknown project category {name!r}", file=file, feature=feature,
                fix=f"use one of: {', '.join(self.categories)} (or a Chinese alias from "
                f"{self.source.name})",
            )
        return self.categories[cid]

    def find(self, name: object) -> Category | None:
        """Return the category named ``name`` or None (no error)."""
        cid = self._lookup.get(str(name).strip().lower()) if name is not None else None
        return self.categories.get(cid) if cid else None

    def ancestry(self, cid: str) -> dict[str, int]:
        """Return ``{ancestor_id: generations}`` of ``cid``, itself at 0."""
        return self._ancestry[cid]

    def rank(self, cid: str, rule_categories: Iterable[str]) -> int:
        """Return how specifically ``rule_categories`` match ``cid``: -1 when not at all.

        0 = the category itself is listed, 1 = its parent, ..., :data:`ANY_RANK` = ``*``.
        """
        anc = self._ancestry[cid]
        best = -1
        for rc in rule_categories:
            r = ANY_RANK if rc == ANY else anc.get(rc, -1)
            if r >= 0 and (best < 0 or r < best):
                best = r
        return best


def _as_str_list(value: Any, what: str, source: Path) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DataFileError(f"{what} must be a list of strings", file=str(source),
                            fix="write it as [\"a\", \"b\"]")
    return tuple(value)


def _parse_categories(raw: Mapping[str, Any], source: Path) -> CategoryRegistry:
    unknown_top = set(raw) - {"categories"}
    if unknown_top:
        raise DataFileError(f"unknown top-level keys {sorted(unknown_top)}", file=str(source),
                            fix="put every category under [categories.ID]")
    cats: dict[str, Category] = {}
    for cid, spec in raw.get("categories", {}).items():
        where = f"category {cid!r}"
        if not _ID_RE.match(cid):
            raise DataFileError(f"{where}: ids are lower-case ASCII (a-z, 0-9, _)",
                                file=str(source), fix="rename the id and keep the old one "
                                "as an alias")
        if not isinstance(spec, dict):
            raise DataFileError(f"{where} is not a table", file=str(source),
                                fix=f"write it as [categories.{cid}]")
        check_keys(spec, _CATEGORY_KEYS, where, source)
        if not spec.get("name_zh"):
            raise DataFileError(f"{where} has no name_zh", file=str(source), fix="add name_zh")
        cats[cid] = Category(
            id=cid,
            name_zh=spec["name_zh"],
            name_en=spec.get("name_en", ""),
            parents=_as_str_list(spec.get("parents", []), f"{where} parents", source),
            aliases=_as_str_list(spec.get("aliases", []), f"{where} aliases", source),
            note=spec.get("note", ""),
        )
    lookup: dict[str, str] = {}
    for c in cats.values():
        for p in c.parents:
            if p not in cats:
                raise DataFileError(f"category {c.id!r} has unknown parent {p!r}",
                                    file=str(source), fix=f"use one of {sorted(cats)}")
        for name in (c.id, c.name_zh, c.name_en, *c.aliases):
            key = name.strip().lower()
            if not key:
                continue
            if key in lookup and lookup[key] != c.id:
                raise DataFileError(
                    f"name {name!r} is used by categories {lookup[key]!r} and {c.id!r}",
                    file=str(source), fix="make every alias unique")
            lookup[key] = c.id
    ancestry: dict[str, dict[str, int]] = {}

    def walk(cid: str, stack: tuple[str, ...]) -> dict[str, int]:
        if cid in ancestry:
            return ancestry[cid]
        if cid in stack:
            raise DataFileError(f"categories form a cycle: {' -> '.join((*stack, cid))}",
                                file=str(source), fix="remove one of the parents")
        out = {cid: 0}
        for p in cats[cid].parents:
            for a, g in walk(p, (*stack, cid)).items():
                out[a] = min(out.get(a, g + 1), g + 1)
        ancestry[cid] = out
        return out

    for cid in cats:
        walk(cid, ())
    return CategoryRegistry(categories=cats, source=source, _lookup=lookup, _ancestry=ancestry)


def load_categories(path: str | Path | None = None) -> CategoryRegistry:
    """Load the project categories (default ``layers/categories.toml``)."""
    p = Path(path) if path is not None else data_path("categories.toml")
    return _parse_categories(read_toml_cached(p), p)


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class Citation:
    """Where a rule comes from: document and clause; for seed rules, file and line."""

    document: str
    clause: str
    file: str = ""
    line: int | None = None
    quote: str = ""
    verified: bool = True
    note: str = ""
    #: seed lines where a plan restates this (national) rule: ((file, line, quote), ...)
    restated_in: tuple[tuple[str, int, str], ...] = ()

    def text(self) -> str:
        """One-line citation: ``《document》 clause (file L123)``."""
        out = f"{self.document} {self.clause}".strip()
        if self.file:
            out += f" ({self.file}" + (f" L{self.line}" if self.line else "") + ")"
        if not self.verified:
            out += " [wording not quoted, verify]"
        return out

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"document": self.document, "clause": self.clause,
                             "text": self.text(), "verified": self.verified}
        if self.file:
            d["file"] = self.file
        if self.line:
            d["line"] = self.line
        if self.quote:
            d["quote"] = self.quote
        if self.restated_in:
            d["restated_in"] = [{"file": f, "line": ln, "quote": q}
                                for f, ln, q in self.restated_in]
        return d


@dataclass(frozen=True)
class Param:
    """A threshold a rule uses: its value, unit, and whether the cited text gives it."""

    name: str
    value: Any
    unit: str = ""
    given: bool = True
    note: str = ""
    rulebook: str = ""


@dataclass(frozen=True)
class Rule:
    """One siting rule: which features, which project categories, which test, which verdict."""

    id: str
    kind: str
    categories: tuple[str, ...]
    test: str
    verdict: str
    citation: Citation
    rulebook: str
    source: str
    name_zh: str = ""
    where: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    distance_m: float | None = None
    band_m: tuple[float, float] | None = None
    distance_field: str | None = None
    topic: str = ""
    procedures: tuple[str, ...] = ()
    approval: str = ""
    compensation_type: str = ""
    compensation_ratio: float = 0.0
    note: str = ""
    params: tuple[str, ...] = ()
    overrides: tuple[str, ...] = ()
    override_reason: str = ""
    construction: tuple[str, ...] = ()
    area_over_m2: float | None = None
    capacity_over: tuple[float, str] | None = None
    capacity_below: tuple[float, str] | None = None
    feature_categories: str | None = None
    near_m: float | None = None
    plan_rule: str = ""

    @property
    def site_filtered(self) -> bool:
        """True when the rule binds only sites with certain attributes (construction, size)."""
        return bool(self.construction) or self.area_over_m2 is not None \
            or self.capacity_over is not None or self.capacity_below is not None

    def describe_site_filter(self) -> str:
        """``改建/扩建；规模 ≥ 10 蒸吨/小时`` (empty when the rule binds every site)."""
        out = []
        if self.construction:
            out.append("/".join(CONSTRUCTION[c] for c in self.construction))
        if self.area_over_m2 is not None:
            out.append(f"面积 ≥ {self.area_over_m2:g} m²")
        if self.capacity_over is not None:
            out.append(f"规模 ≥ {self.capacity_over[0]:g} {self.capacity_over[1]}")
        if self.capacity_below is not None:
            out.append(f"规模 < {self.capacity_below[0]:g} {self.capacity_below[1]}")
        return "；".join(out)

    @property
    def severity(self) -> int:
        return SEVERITY[self.verdict]

    @property
    def topic_key(self) -> tuple[str, str]:
        """Rules compete only inside one rulebook and one topic."""
        return (self.rulebook, self.topic or self.id)

    @property
    def inner_m(self) -> float:
        """Inner edge of the distance test in metres (0 unless a band)."""
        return float(self.band_m[0]) if self.band_m else 0.0

    @property
    def outer_m(self) -> float | None:
        """Outer edge of the distance test in metres (None: intersects/outside, or field only)."""
        if self.test == "within":
            return self.distance_m
        if self.test == "band":
            return float(self.band_m[1]) if self.band_m else None
        return 0.0

    def describe_test(self) -> str:
        """``相交`` / ``距离 ≤ 1000 m`` / ``距离 5–10 m`` / ``位于图层之外``."""
        fld = f"（要素字段 {self.distance_field} 优先）" if self.distance_field else ""
        if self.test == "intersects":
            return "相交"
        if self.test == "within":
            d = "字段值" if self.distance_m is None else f"{self.distance_m:g} m"
            return f"距离 ≤ {d}{fld}"
        if self.test == "band":
            return f"距离 {self.band_m[0]:g}–{self.band_m[1]:g} m{fld}"
        if self.test == "in_catchment":
            return "位于汇水范围（单元）内"
        if self.test == "upstream":
            return (f"位于河流上游：距河道 ≤ {self.near_m:g} m，沿河向下游 ≤ "
                    f"{self.distance_m:g} m 到达要素")
        return "位于图层范围之外"


@dataclass(frozen=True)
class Rulebook:
    """The rules that apply to one check: the national baseline plus at most one region."""

    rules: tuple[Rule, ...]
    region: str | None
    region_name: str
    files: tuple[str, ...]
    params: dict[str, Param]
    categories: CategoryRegistry
    kinds: KindRegistry

    def for_kind(self, kind: str) -> list[Rule]:
        """Rules that apply to layers of ``kind``."""
        return [r for r in self.rules if r.kind == kind]

    @property
    def kinds_used(self) -> list[str]:
        return sorted({r.kind for r in self.rules})

    def summary(self) -> dict[str, Any]:
        """Plain description of the rulebook for reports (files, region, parameters)."""
        return {
            "region": self.region or "national",
            "region_name": self.region_name,
            "files": list(self.files),
            "rules": len(self.rules),
            "params": {
                p.name: {"value": p.value, "unit": p.unit, "given": p.given, "note": p.note}
                for p in self.params.values() if any(p.name in r.params for r in self.rules)
            },
        }


@dataclass(frozen=True)
class _RuleFile:
    path: Path
    region: str
    name_zh: str
    aliases: tuple[str, ...]
    params: dict[str, Param]
    rules: tuple[Rule, ...]
    #: plan rules (R#) the file does not encode, with the reason
    not_encoded: tuple[tuple[str, str], ...] = ()
    source: str = ""


def _err(msg: str, path: Path, fix: str) -> DataFileError:
    return DataFileError(msg, file=str(path), fix=fix)


def _number(value: Any, what: str, path: Path, params: Mapping[str, Param],
            used: list[str], overrides: Mapping[str, Any]) -> float:
    if isinstance(value, str) and value.startswith("$"):
        name = value[1:]
        if name not in params:
            raise _err(f"{what} refers to unknown parameter {value!r}", path,
                       f"define [params.{name}] in the file or fix the name")
        used.append(name)
        value = overrides.get(name, params[name].value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _err(f"{what} must be a number of metres, not {value!r}", path,
                   "write a number such as 1000, or \"$param_name\"")
    if not math.isfinite(value) or value < 0:
        raise _err(f"{what} must be a finite number >= 0, not {value!r}", path,
                   "correct the value")
    return float(value)


def _parse_citation(raw: Any, what: str, path: Path) -> Citation:
    if not isinstance(raw, dict):
        raise _err(f"{what} has no citation table", path,
                   "add citation = { document = \"...\", clause = \"...\" }")
    check_keys(raw, _CITATION_KEYS, f"{what} citation", path)
    doc, clause = str(raw.get("document", "")).strip(), str(raw.get("clause", "")).strip()
    if not doc or not clause:
        raise _err(f"{what}: the citation needs a document and a clause", path,
                   "name the document and the article/clause (seed rules: file and line)")
    line = raw.get("line")
    if line is not None and (not isinstance(line, int) or line <= 0):
        raise _err(f"{what}: citation line must be a positive integer", path, "fix the line")
    restated = []
    for i, rs in enumerate(raw.get("restated_in", []) or []):
        if not isinstance(rs, dict) or not rs.get("file") or not isinstance(rs.get("line"), int) \
                or not rs.get("quote"):
            raise _err(f"{what}: citation restated_in[{i}] needs file, line and quote", path,
                       "write restated_in = [{ file = \"00x_….txt\", line = 12, quote = \"…\" }]")
        check_keys(rs, _RESTATED_KEYS, f"{what} citation restated_in[{i}]", path)
        restated.append((str(rs["file"]), int(rs["line"]), str(rs["quote"])))
    return Citation(document=doc, clause=clause, file=str(raw.get("file", "")), line=line,
                    quote=str(raw.get("quote", "")), verified=bool(raw.get("verified", True)),
                    note=str(raw.get("note", "")), restated_in=tuple(restated))


def _parse_rule(spec: Any, index: int, path: Path, rulebook: str, kinds: KindRegistry,
                cats: CategoryRegistry, params: Mapping[str, Param],
                overrides: Mapping[str, Any]) -> Rule:
    if not isinstance(spec, dict):
        raise _err(f"rules[{index}] is not a table", path, "write each rule as [[rules]]")
    rid = spec.get("id")
    what = f"rule {rid!r}" if rid else f"rules[{index}]"
    check_keys(spec, _RULE_KEYS, what, path)
    if not isinstance(rid, str) or not _ID_RE.match(rid):
        raise _err(f"{what}: id must be a lower-case ASCII string", path,
                   "give the rule an id such as anju.river.setback_inner")
    kind_id = spec.get("kind")
    if kind_id not in kinds:
        raise _err(f"{what}: unknown layer kind {kind_id!r}", path,
                   f"use one of: {', '.join(k.id for k in kinds)}")
    kind: Kind = kinds[kind_id]
    categories = _as_str_list(spec.get("categories", []), f"{what} categories", path)
    if not categories:
        raise _err(f"{what} lists no categories", path, "list category ids, or [\"*\"] for all")
    for c in categories:
        if c != ANY and c not in cats:
            raise _err(f"{what}: unknown project category {c!r}", path,
                       f"use one of: {', '.join(cats.categories)} or \"*\"")
    verdict = spec.get("verdict")
    if verdict not in VERDICTS:
        raise _err(f"{what}: verdict {verdict!r} is not one of {list(VERDICTS)}", path,
                   "correct the verdict")
    test = spec.get("test", "intersects")
    if test not in TESTS:
        raise _err(f"{what}: test {test!r} is not one of {list(TESTS)}", path, "correct the test")
    fields = set(kind.fields) | {"name"}
    where: dict[str, tuple[Any, ...]] = {}
    for fname, values in (spec.get("where") or {}).items():
        if fname not in fields:
            raise _err(f"{what}: where-field {fname!r} is not a field of kind {kind_id!r}", path,
                       f"use one of {sorted(fields)} (layers/kinds.toml)")
        vals = tuple(values) if isinstance(values, list) else (values,)
        allowed = kind.values.get(fname)
        for v in vals:
            if allowed and v not in allowed:
                raise _err(f"{what}: {fname} value {v!r} is not one of {list(allowed)}", path,
                           "use a value listed for the kind in layers/kinds.toml")
        where[fname] = vals
    groups: dict[str, tuple[str, ...]] = {}
    for fname, gnames in (spec.get("groups") or {}).items():
        if fname not in fields:
            raise _err(f"{what}: groups-field {fname!r} is not a field of kind {kind_id!r}",
                       path, f"use one of {sorted(fields)}")
        gl = _as_str_list(gnames, f"{what} groups.{fname}", path)
        for g in gl:
            if g not in kind.groups:
                raise _err(f"{what}: kind {kind_id!r} has no value group {g!r}", path,
                           f"use one of {sorted(kind.groups)} (layers/kinds.toml)")
        groups[fname] = gl
    used: list[str] = []
    distance_field = spec.get("distance_field")
    if distance_field is not None and distance_field not in fields:
        raise _err(f"{what}: distance_field {distance_field!r} is not a field of kind "
                   f"{kind_id!r}", path, f"use one of {sorted(fields)}")
    distance_m = band_m = None
    if test == "within":
        if "distance_m" in spec:
            distance_m = _number(spec["distance_m"], f"{what} distance_m", path, params, used,
                                 overrides)
        elif not distance_field:
            raise _err(f"{what}: a within test needs distance_m or distance_field", path,
                       "add distance_m = 1000 (metres)")
        if "band_m" in spec:
            raise _err(f"{what}: band_m belongs to test = \"band\"", path, "remove band_m")
    elif test == "band":
        b = spec.get("band_m")
        if not isinstance(b, list) or len(b) != 2:
            raise _err(f"{what}: a band test needs band_m = [inner, outer]", path,
                       "add band_m = [5, 10] (metres)")
        lo = _number(b[0], f"{what} band_m[0]", path, params, used, overrides)
        hi = _number(b[1], f"{what} band_m[1]", path, params, used, overrides)
        if not lo < hi:
            raise _err(f"{what}: band_m inner {lo:g} must be below outer {hi:g}", path,
                       "write band_m = [inner, outer]")
        band_m = (lo, hi)
        if "distance_m" in spec:
            raise _err(f"{what}: distance_m belongs to test = \"within\"", path,
                       "remove distance_m")
    elif test == "upstream":
        if "distance_m" not in spec or "near_m" not in spec:
            raise _err(f"{what}: an upstream test needs distance_m (along the river, metres) "
                       "and near_m (site to river, metres)", path,
                       "add distance_m = 10000 and near_m = 500")
        distance_m = _number(spec["distance_m"], f"{what} distance_m", path, params, used,
                             overrides)
        for k in ("band_m", "distance_field"):
            if k in spec:
                raise _err(f"{what}: {k} has no meaning for test = {test!r}", path,
                           f"remove {k}")
    else:
        for k in ("distance_m", "band_m", "distance_field"):
            if k in spec:
                raise _err(f"{what}: {k} has no meaning for test = {test!r}", path,
                           f"remove {k} or use test = \"within\" / \"band\"")
    near_m = None
    if "near_m" in spec:
        if test != "upstream":
            raise _err(f"{what}: near_m belongs to test = \"upstream\"", path, "remove near_m")
        near_m = _number(spec["near_m"], f"{what} near_m", path, params, used, overrides)
    construction = _as_str_list(spec.get("construction", []), f"{what} construction", path)
    for c in construction:
        if c not in CONSTRUCTION:
            raise _err(f"{what}: construction {c!r} is not one of {list(CONSTRUCTION)}", path,
                       "write construction = [\"expansion\", \"rebuild\"]")
    area_over = None
    if "area_over_m2" in spec:
        area_over = _number(spec["area_over_m2"], f"{what} area_over_m2", path, params, used,
                            overrides)
    capacity: dict[str, tuple[float, str] | None] = {}
    for key in ("capacity_over", "capacity_below"):
        raw_c = spec.get(key)
        if raw_c is None:
            capacity[key] = None
            continue
        if not isinstance(raw_c, dict) or "value" not in raw_c or not raw_c.get("unit"):
            raise _err(f"{what}: {key} must be {{ value = N, unit = \"...\" }}", path,
                       f"write {key} = {{ value = 10, unit = \"蒸吨/小时\" }}")
        check_keys(raw_c, _CAPACITY_KEYS, f"{what} {key}", path)
        capacity[key] = (_number(raw_c["value"], f"{what} {key}.value", path, params, used,
                                 overrides), str(raw_c["unit"]))
    feature_categories = spec.get("feature_categories")
    if feature_categories is not None and feature_categories not in fields:
        raise _err(f"{what}: feature_categories {feature_categories!r} is not a field of kind "
                   f"{kind_id!r}", path, f"use one of {sorted(fields)}")
    rule_overrides = _as_str_list(spec.get("overrides", []), f"{what} overrides", path)
    comp = spec.get("compensation")
    ctype, cratio = "", 0.0
    if comp is not None:
        if not isinstance(comp, dict):
            raise _err(f"{what}: compensation must be a table", path,
                       "write compensation = { type = \"永久基本农田补划\", ratio = 1.0 }")
        check_keys(comp, _COMPENSATION_KEYS, f"{what} compensation", path)
        ctype = str(comp.get("type", "")).strip()
        cratio = comp.get("ratio", 1.0)
        if not ctype or isinstance(cratio, bool) or not isinstance(cratio, (int, float)) \
                or cratio <= 0:
            raise _err(f"{what}: compensation needs a type and a ratio > 0", path,
                       "write compensation = { type = \"永久基本农田补划\", ratio = 1.0 }")
    procedures = _as_str_list(spec.get("procedures", []), f"{what} procedures", path)
    return Rule(
        id=rid, kind=kind_id, categories=categories, test=test, verdict=verdict,
        citation=_parse_citation(spec.get("citation"), what, path), rulebook=rulebook,
        source=path.name, name_zh=str(spec.get("name_zh", "")), where=where, groups=groups,
        distance_m=distance_m, band_m=band_m, distance_field=distance_field,
        topic=str(spec.get("topic", "")), procedures=procedures,
        approval=str(spec.get("approval", "")), compensation_type=ctype,
        compensation_ratio=float(cratio), note=str(spec.get("note", "")), params=tuple(used),
        overrides=rule_overrides, override_reason=str(spec.get("override_reason", "")),
        construction=construction, area_over_m2=area_over,
        capacity_over=capacity["capacity_over"], capacity_below=capacity["capacity_below"],
        feature_categories=feature_categories, near_m=near_m,
        plan_rule=str(spec.get("plan_rule", "")),
    )


def _parse_rule_file(raw: Mapping[str, Any], path: Path, kinds: KindRegistry,
                     cats: CategoryRegistry, overrides: Mapping[str, Any]) -> _RuleFile:
    check_keys(raw, {"rulebook", "params", "rules", "not_encoded"}, "the file", path)
    head = raw.get("rulebook")
    if not isinstance(head, dict) or not head.get("region"):
        raise _err("missing [rulebook] table with region", path,
                   "start the file with [rulebook] region = \"national\" (or a region id)")
    check_keys(head, _RULEBOOK_KEYS, "[rulebook]", path)
    region = str(head["region"])
    params: dict[str, Param] = {}
    for name, p in (raw.get("params") or {}).items():
        if not isinstance(p, dict) or "value" not in p:
            raise _err(f"parameter {name!r} needs a value", path,
                       f"write [params.{name}] value = ..., unit = \"m\", given = false")
        check_keys(p, _PARAM_KEYS, f"parameter {name!r}", path)
        if "given" not in p:
            raise _err(f"parameter {name!r} does not say whether the text gives it", path,
                       "add given = true (number in the cited text) or false (ecogis default)")
        if not p.get("given") and not p.get("note"):
            raise _err(f"parameter {name!r} is an ecogis default but has no note", path,
                       "document where the default comes from in note = \"...\"")
        params[name] = Param(name=name, value=overrides.get(name, p["value"]),
                             unit=str(p.get("unit", "")), given=bool(p["given"]),
                             note=str(p.get("note", "")), rulebook=region)
    rules_raw = raw.get("rules", [])
    if not isinstance(rules_raw, list):
        raise _err("rules must be an array of tables", path, "write each rule as [[rules]]")
    rules = tuple(_parse_rule(spec, i, path, region, kinds, cats, params, overrides)
                  for i, spec in enumerate(rules_raw))
    if region == "national":  # the baseline quotes its law, or says it does not
        for spec, r in zip(rules_raw, rules, strict=True):
            c = spec.get("citation") or {}
            if "verified" not in c and not r.citation.quote:
                raise _err(f"rule {r.id!r}: the citation neither quotes the text nor says "
                           "verified = false", path,
                           "add quote = \"...\" (the wording) or verified = false")
            if r.citation.verified and not r.citation.quote:
                raise _err(f"rule {r.id!r}: verified = true needs the quoted wording", path,
                           "add quote = \"...\" or set verified = false")
    not_encoded = []
    for i, ne in enumerate(raw.get("not_encoded", []) or []):
        if not isinstance(ne, dict) or not ne.get("plan_rule") or not ne.get("reason"):
            raise _err(f"not_encoded[{i}] needs plan_rule and reason", path,
                       "write [[not_encoded]] plan_rule = \"R4\", reason = \"...\"")
        check_keys(ne, {"plan_rule", "reason"}, f"not_encoded[{i}]", path)
        not_encoded.append((str(ne["plan_rule"]), str(ne["reason"])))
    return _RuleFile(path=path, region=region, name_zh=str(head.get("name_zh", region)),
                     aliases=_as_str_list(head.get("aliases", []), "[rulebook] aliases", path),
                     params=params, rules=rules, not_encoded=tuple(not_encoded),
                     source=str(head.get("source", "")))


def rules_dir() -> Path:
    """Return the directory of the rule files (``layers/rules``)."""
    return data_path("rules")


def load_rule_files(directory: str | Path | None = None, *, kinds: KindRegistry | None = None,
                    categories: CategoryRegistry | None = None,
                    params: Mapping[str, Any] | None = None) -> list[_RuleFile]:
    """Load and validate every ``*.toml`` in ``directory`` (default ``layers/rules``)."""
    d = Path(directory) if directory is not None else rules_dir()
    kinds = kinds or load_kinds()
    cats = categories or load_categories()
    files = sorted(d.glob("*.toml"))
    if not files:
        raise DataFileError("no rule files (*.toml)", file=str(d),
                            fix="restore layers/rules/ from the source checkout")
    out = [_parse_rule_file(read_toml_cached(f), f, kinds, cats, params or {}) for f in files]
    seen: dict[str, str] = {}
    for rf in out:
        for r in rf.rules:
            if r.id in seen:
                raise DataFileError(f"rule id {r.id!r} is used twice ({seen[r.id]} and "
                                    f"{rf.path.name})", file=str(rf.path),
                                    fix="give every rule a unique id")
            seen[r.id] = rf.path.name
    by_id = {r.id: r for rf in out for r in rf.rules}
    for rf in out:
        for r in rf.rules:
            for t in r.overrides:
                target = by_id.get(t)
                if target is None:
                    raise DataFileError(f"rule {r.id!r} overrides unknown rule {t!r}",
                                        file=str(rf.path), fix="name an existing rule id")
                if target.kind != r.kind:
                    raise DataFileError(
                        f"rule {r.id!r} (kind {r.kind}) overrides {t!r} of kind "
                        f"{target.kind}", file=str(rf.path),
                        fix="a rule can override only a rule of the same layer kind")
                if target.rulebook not in ("national", r.rulebook):
                    raise DataFileError(f"rule {r.id!r} overrides {t!r} of another region",
                                        file=str(rf.path),
                                        fix="override national rules or rules of the same file")
    pseen: dict[str, str] = {}
    for rf in out:
        for name in rf.params:
            if name in pseen:
                raise DataFileError(f"parameter {name!r} is defined in {pseen[name]} and "
                                    f"{rf.path.name}", file=str(rf.path),
                                    fix="prefix parameter names with the region id")
            pseen[name] = rf.path.name
    regions: dict[str, str] = {}
    for rf in out:
        if rf.region == "national":
            continue
        for name in (rf.region, rf.name_zh, *rf.aliases):
            key = name.strip().lower()
            if key in regions and regions[key] != rf.region:
                raise DataFileError(f"region name {name!r} is claimed by {regions[key]!r} "
                                    f"and {rf.region!r}", file=str(rf.path),
                                    fix="make region aliases unique")
            regions[key] = rf.region
    return out


def region_names(directory: str | Path | None = None) -> dict[str, list[str]]:
    """Return ``{region_id: [names...]}`` of the regional rule files."""
    out: dict[str, list[str]] = {}
    for rf in load_rule_files(directory):
        if rf.region != "national":
            out.setdefault(rf.region, []).extend([rf.name_zh, *rf.aliases])
    return out


def load_rulebook(region: str | None = None, *, directory: str | Path | None = None,
                  params: Mapping[str, Any] | None = None,
                  kinds: KindRegistry | None = None,
                  categories: CategoryRegistry | None = None) -> Rulebook:
    """Return the national baseline plus the rules of ``region`` (id or Chinese name).

    ``params`` overrides rule parameters by name (``{"anju_setback_inner_m": 6}``); an
    unknown name is an :class:`~ecogis.errors.InputError`.
    """
    kinds = kinds or load_kinds()
    cats = categories or load_categories()
    files = load_rule_files(directory, kinds=kinds, categories=cats, params=params)
    known_params = {n for rf in files for n in rf.params}
    for name in params or {}:
        if name not in known_params:
            raise InputError(f"unknown rule parameter {name!r}",
                             fix=f"use one of: {', '.join(sorted(known_params))}")
    chosen = [rf for rf in files if rf.region == "national"]
    region_id, region_name = None, "全国基线"
    if region:
        key = str(region).strip().lower()
        match = [rf for rf in files if rf.region != "national" and key in
                 {n.strip().lower() for n in (rf.region, rf.name_zh, *rf.aliases)}]
        if not match:
            names = sorted({f"{rf.region} ({rf.name_zh})" for rf in files
                            if rf.region != "national"})
            raise InputError(f"no regional rulebook for {region!r}",
                             fix=f"use one of: {', '.join(names)}, or omit --region for the "
                             "national baseline only")
        region_id = match[0].region
        region_name = match[0].name_zh
        chosen += [rf for rf in files if rf.region == region_id]
    allp: dict[str, Param] = {}
    for rf in chosen:
        allp.update(rf.params)
    return Rulebook(
        rules=tuple(r for rf in chosen for r in rf.rules), region=region_id,
        region_name=region_name, files=tuple(rf.path.name for rf in chosen), params=allp,
        categories=cats, kinds=kinds,
    )


def feature_matches(rule: Rule, kind: Kind, attrs: Mapping[str, Any]) -> bool:
    """Return True when a feature's attributes pass the rule's ``where`` and ``groups``."""
    for fname, vals in rule.where.items():
        if attrs.get(fname) not in vals:
            return False
    for fname, gnames in rule.groups.items():
        g = kind.group_of(fname, attrs.get(fname))
        if g not in gnames:
            return False
    return True


def most_severe(verdicts: Iterable[str]) -> str:
    """Return the most severe of ``verdicts`` (``allowed`` when there are none)."""
    best = "allowed"
    for v in verdicts:
        if SEVERITY[v] > SEVERITY[best]:
            best = v
    return best


def verify_rule_citations(region: str | None, seeds_dir: str | Path, *,
                          directory: str | Path | None = None) -> list[str]:
    """Check the seed citations of a rulebook's rules; return the problems found.

    Every rule of ``region`` (and every national rule that cites a seed file) whose citation
    names a seed file must cite an existing line, and each piece of its quote (pieces are
    separated by ``……``) must occur in that line, white space and full-width forms aside.
    Regional rules must cite a seed file, a line and a quote.
    """
    from ecogis.plans import _norm

    problems: list[str] = []
    cache: dict[str, list[str] | None] = {}
    for rf in load_rule_files(directory):
        if rf.region not in ("national", region):
            continue
        for r in rf.rules:
            c = r.citation
            for f, ln, q in c.restated_in:
                if f not in cache:
                    p = Path(seeds_dir) / f
                    cache[f] = (p.read_text(encoding="utf-8").splitlines() if p.is_file()
                                else None)
                lines = cache[f]
                if lines is None or ln > len(lines) or _norm(q) not in _norm(lines[ln - 1]):
                    problems.append(f"rule {r.id}: restated quote {q!r} not in {f} L{ln}")
            if rf.region != "national" and not (c.file and c.line and c.quote):
                problems.append(f"rule {r.id}: a seed rule needs citation file, line and quote")
                continue
            if not c.file:
                continue
            if c.file not in cache:
                p = Path(seeds_dir) / c.file
                cache[c.file] = (p.read_text(encoding="utf-8").splitlines() if p.is_file()
                                 else None)
                if cache[c.file] is None:
                    problems.append(f"seed file {c.file} not found in {seeds_dir}")
            lines = cache[c.file]
            if lines is None:
                continue
            if not c.line or c.line > len(lines):
                problems.append(f"rule {r.id}: {c.file} has {len(lines)} lines; L{c.line} cited")
                continue
            text = _norm(lines[c.line - 1])
            for piece in c.quote.split("……"):
                if _norm(piece) not in text:
                    problems.append(f"rule {r.id}: quote {piece!r} not in {c.file} L{c.line}")
    return problems
