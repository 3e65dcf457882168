"""三线冲突 rules (``layers/conflicts.toml``): which layer kinds must not overlap, how severely.

A rule names two sides, each a layer kind optionally narrowed to some values of one field
(``level = 一级``) or to a group of the kind (``protected_area`` zone group ``core``). The loader
validates every key against the kinds registry and refuses rules without a source.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ecogis.data import check_keys, data_path, read_toml_cached
from ecogis.errors import DataFileError, InputError
from ecogis.kinds import KindRegistry, load_kinds

_RULE_KEYS = {"id", "name_zh", "name_en", "severity", "a", "b", "source", "article", "checked",
              "note"}
_SIDE_KEYS = {"kind", "field", "values", "group"}
_SEVERITY_KEYS = {"name_zh", "rank"}


@dataclass(frozen=True)
class Severity:
    """A severity level: id (``high``), Chinese name (``严重``) and rank (higher = worse)."""

    id: str
    name_zh: str
    rank: int


@dataclass(frozen=True)
class Side:
    """One side of a rule: a layer kind, optionally only features whose ``field`` is in ``values``."""

    kind: str
    field: str | None = None
    values: tuple[str, ...] = ()
    group: str | None = None

    @property
    def label(self) -> str:
        """``protected_area[zone∈core]`` or ``water_source[level=一级]`` or ``ugb``."""
        if self.field is None:
            return self.kind
        if self.group is not None:
            return f"{self.kind}[{self.field}∈{self.group}]"
        return f"{self.kind}[{self.field}={'|'.join(self.values)}]"

    def mask(self, gdf: pd.DataFrame, layer: str | None = None):
        """Return a boolean mask of the features of ``gdf`` this side keeps."""
        if self.field is None:
            return pd.Series(True, index=gdf.index)
        if self.field not in gdf.columns:
            raise InputError(
                f"has no field {self.field!r}, which the conflict rule on {self.label} needs",
                layer=layer, fix=f"add the field {self.field!r} (re-import the layer with it)")
        return gdf[self.field].astype("string").str.strip().isin(self.values).fillna(False)


@dataclass(frozen=True)
class ConflictRule:
    """A pair of sides whose overlap is a conflict, its severity and its citation."""

    id: str
    name_zh: str
    severity: Severity
    a: Side
    b: Side
    source: str
    name_en: str = ""
    article: str = ""
    checked: str = ""
    note: str = ""


@dataclass(frozen=True)
class ConflictRules:
    """All rules of a conflicts file, with its severity levels and path."""

    rules: tuple[ConflictRule, ...]
    severities: dict[str, Severity] = field(default_factory=dict)
    source: Path | None = None

    def __iter__(self):
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)


def _side(raw, rid: str, key: str, kinds: KindRegistry, src: str) -> Side:
    where = f"conflicts[{rid}].{key}"
    if not isinstance(raw, dict):
        raise DataFileError(f"{where} must be a table such as {{ kind = \"redline\" }}", file=src,
                            fix="write the side as an inline table")
    check_keys(raw, _SIDE_KEYS, where, src)
    kid = raw.get("kind")
    if kid not in kinds:
        raise DataFileError(f"{where}.kind {kid!r} is not a layer kind", file=src,
                            fix=f"use one of {', '.join(k.id for k in kinds)}")
    kind = kinds[kid]
    fld = raw.get("field")
    values = raw.get("values")
    group = raw.get("group")
    if fld is None:
        if values is not None or group is not None:
            raise DataFileError(f"{where} has values/group but no field", file=src,
                                fix="add field = \"...\"")
        return Side(kid)
    if fld not in kind.fields:
        raise DataFileError(f"{where}.field {fld!r} is not a field of kind {kid!r}", file=src,
                            fix=f"use one of {list(kind.fields)}")
    if (values is None) == (group is None):
        raise DataFileError(f"{where} needs exactly one of values or group", file=src,
                            fix="give values = [...] or group = \"...\"")
    if group is not None:
        if group not in kind.groups:
            raise DataFileError(f"{where}.group {group!r} is not a group of kind {kid!r}",
                                file=src, fix=f"use one of {sorted(kind.groups) or 'none'}")
        return Side(kid, fld, tuple(kind.groups[group]), group)
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise DataFileError(f"{where}.values must be a non-empty list of strings", file=src,
                            fix="write values = [\"一级\"]")
    allowed = kind.values.get(fld)
    if allowed is not None:
        bad = [v for v in values if v not in allowed]
        if bad:
            raise DataFileError(f"{where}.values {bad} are not values of {kid}.{fld}", file=src,
                                fix=f"use some of {list(allowed)}")
    return Side(kid, fld, tuple(values))


def parse_rules(raw: dict, source: str | Path, kinds: KindRegistry | None = None) -> ConflictRules:
    """Validate a parsed conflicts file and return its :class:`ConflictRules`."""
    src = str(source)
    kinds = kinds or load_kinds()
    unknown_top = set(raw) - {"severities", "conflicts"}
    if unknown_top:
        raise DataFileError(f"unknown top-level keys {sorted(unknown_top)}", file=src,
                            fix="use only [severities.*] and [[conflicts]]")
    severities: dict[str, Severity] = {}
    for sid, spec in raw.get("severities", {}).items():
        check_keys(spec, _SEVERITY_KEYS, f"severities.{sid}", src)
        if not isinstance(spec.get("rank"), int) or not spec.get("name_zh"):
            raise DataFileError(f"severities.{sid} needs name_zh and an integer rank", file=src,
                                fix="add name_zh = \"...\" and rank = N")
        severities[sid] = Severity(sid, spec["name_zh"], spec["rank"])
    rules: list[ConflictRule] = []
    seen: set[str] = set()
    for i, spec in enumerate(raw.get("conflicts", [])):
        rid = spec.get("id") or f"#{i + 1}"
        check_keys(spec, _RULE_KEYS, f"conflicts[{rid}]", src)
        for key in ("id", "name_zh", "severity", "a", "b", "source"):
            if not spec.get(key):
                raise DataFileError(f"conflicts[{rid}] has no {key}", file=src,
                                    fix=f"add {key} = ... (every rule cites its source)")
        if rid in seen:
            raise DataFileError(f"conflicts[{rid}]: duplicate id", file=src, fix="rename one")
        seen.add(rid)
        if spec["severity"] not in severities:
            raise DataFileError(f"conflicts[{rid}].severity {spec['severity']!r} is unknown",
                                file=src, fix=f"use one of {sorted(severities)}")
        rules.append(ConflictRule(
            id=rid, name_zh=spec["name_zh"], severity=severities[spec["severity"]],
            a=_side(spec["a"], rid, "a", kinds, src), b=_side(spec["b"], rid, "b", kinds, src),
            source=spec["source"], name_en=spec.get("name_en", ""),
            article=spec.get("article", ""), checked=spec.get("checked", ""),
            note=spec.get("note", "")))
    return ConflictRules(tuple(rules), severities, Path(source))


def load_conflict_rules(path: str | Path | None = None) -> ConflictRules:
    """Load and validate the conflict rules (default ``layers/conflicts.toml``)."""
    p = Path(path) if path is not None else data_path("conflicts.toml")
    return parse_rules(read_toml_cached(p), p)
