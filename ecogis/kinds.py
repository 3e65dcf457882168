"""Layer kinds (生态保护红线, 永久基本农田, ...) loaded from ``layers/kinds.toml``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ecogis.data import check_keys, data_path, read_toml_cached
from ecogis.errors import DataFileError, KindError

GEOMETRY_CLASSES = {
    "polygon": ("Polygon", "MultiPolygon"),
    "line": ("LineString", "MultiLineString"),
    "point": ("Point", "MultiPoint"),
    "line_or_polygon": ("LineString", "MultiLineString", "Polygon", "MultiPolygon"),
    "any": (
        "Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon",
    ),
}

_KEYS = {
    "name_zh", "name_en", "code", "geometry", "coverage", "required", "optional", "public",
    "color", "fill_opacity", "values", "groups", "aliases",
}


@dataclass(frozen=True)
class Kind:
    """One layer kind: its id, names, national code, geometry type, fields and style."""

    id: str
    name_zh: str
    name_en: str = ""
    code: str = ""
    geometry: str = "polygon"
    coverage: bool = False
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    public: tuple[str, ...] = ()
    color: str = "#999999"
    fill_opacity: float = 0.3
    values: dict[str, tuple[str, ...]] = field(default_factory=dict)
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: role -> source field names that fill it, in order of preference (kinds.toml)
    aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def geom_types(self) -> tuple[str, ...]:
        """Shapely geometry type names this kind accepts."""
        return GEOMETRY_CLASSES[self.geometry]

    @property
    def label(self) -> str:
        """``生态保护红线 (redline)``."""
        return f"{self.name_zh} ({self.id})"

    @property
    def fields(self) -> tuple[str, ...]:
        """The field roles of this kind: required first, then optional."""
        return self.required + tuple(f for f in self.optional if f not in self.required)

    def group_of(self, field_name: str, value: object) -> str | None:
        """Return the group (e.g. ``core``) a field value belongs to, or None."""
        del field_name  # groups are defined on the kind's enumerated zone-like field
        for g, members in self.groups.items():
            if value in members:
                return g
        return None


@dataclass(frozen=True)
class KindRegistry:
    """All kinds of a kinds file, plus the field-name aliases used on import."""

    kinds: dict[str, Kind]
    aliases: dict[str, str]
    source: Path
    #: role -> Chinese label (``[roles]`` of kinds.toml)
    roles: dict[str, str] = field(default_factory=dict)

    def role_label(self, role: str) -> str:
        """Return the Chinese label of a field role (the role id when it has none)."""
        return self.roles.get(role, role)

    def __getitem__(self, kind_id: str) -> Kind:
        try:
            return self.kinds[kind_id]
        except KeyError:
            raise KindError(
                f"unknown layer kind {kind_id!r}",
                file=str(self.source),
                fix=f"use one of: {', '.join(self.kinds)}",
            ) from None

    def __contains__(self, kind_id: object) -> bool:
        return kind_id in self.kinds

    def __iter__(self):
        return iter(self.kinds.values())


def _parse(raw: dict, source: Path) -> KindRegistry:
    kinds: dict[str, Kind] = {}
    for kid, spec in raw.get("kinds", {}).items():
        check_keys(spec, _KEYS, f"kind {kid!r}", source)
        if "name_zh" not in spec:
            raise DataFileError(f"kind {kid!r} has no name_zh", file=str(source), fix="add name_zh")
        geom = spec.get("geometry", "polygon")
        if geom not in GEOMETRY_CLASSES:
            raise DataFileError(
                f"kind {kid!r}: geometry {geom!r} is not one of {sorted(GEOMETRY_CLASSES)}",
                file=str(source),
                fix="correct the geometry key",
            )
        aliases = spec.get("aliases", {})
        roles = set(spec.get("required", ())) | set(spec.get("optional", ()))
        for role, names in aliases.items():
            if role not in roles:
                raise DataFileError(
                    f"kind {kid!r}: aliases name role {role!r}, which is not in its required "
                    "or optional roles", file=str(source),
                    fix=f"add {role!r} to optional, or correct the role name")
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise DataFileError(f"kind {kid!r}: aliases.{role} must be a list of strings",
                                    file=str(source), fix='write e.g. name = ["名称", "MC"]')
        kinds[kid] = Kind(
            id=kid,
            name_zh=spec["name_zh"],
            name_en=spec.get("name_en", ""),
            code=spec.get("code", ""),
            geometry=geom,
            coverage=bool(spec.get("coverage", False)),
            required=tuple(spec.get("required", ())),
            optional=tuple(spec.get("optional", ())),
            public=tuple(spec.get("public", ())),
            color=spec.get("color", "#999999"),
            fill_opacity=float(spec.get("fill_opacity", 0.3)),
            values={k: tuple(v) for k, v in spec.get("values", {}).items()},
            groups={k: tuple(v) for k, v in spec.get("groups", {}).items()},
            aliases={k: tuple(v) for k, v in aliases.items()},
        )
    return KindRegistry(kinds=kinds, aliases=dict(raw.get("aliases", {})), source=source,
                        roles=dict(raw.get("roles", {})))


def load_kinds(path: str | Path | None = None) -> KindRegistry:
    """Load the kinds registry (default ``layers/kinds.toml``)."""
    p = Path(path) if path is not None else data_path("kinds.toml")
    return _parse(read_toml_cached(p), p)


def get_kind(kind_id: str) -> Kind:
    """Return the kind ``kind_id`` from the default registry."""
    return load_kinds()[kind_id]
