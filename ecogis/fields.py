"""Field roles: which source field of a layer means ``name``, ``level``, ``land_code`` ...

Source field names stay as they are in the workspace (名称, 级别, HXMC, DLBM ...). A *field map*
``{role: source field}`` is resolved on import from ``layers/kinds.toml`` (each kind's
``[kinds.ID.aliases]``, then the common ``[aliases]``) and ``--field SRC=ROLE``, recorded in the
layer's metadata, and applied when a layer is read: :func:`apply_roles` adds each role as a
column beside its source field, so analyses read ``gdf["level"]`` whatever the file called it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ecogis.errors import InputError
from ecogis.kinds import Kind, KindRegistry, load_kinds

if TYPE_CHECKING:  # the geo stack is imported on first use (`ecogis layers` runs without it)
    import geopandas as gpd
    import numpy as np
    import pandas as pd

#: roles that name a feature, in order of preference (check hits, conflict and diff polygons,
#: map popups)
LABEL_ROLES = ("name", "bsm", "parcel_no", "code")

#: ``GeoDataFrame.attrs`` key holding the role columns :func:`apply_roles` added
ADDED_ATTR = "ecogis_added_roles"


def _norm(name: str) -> str:
    return str(name).strip().replace("\u3000", "").casefold()


def kind_roles(kind: Kind) -> tuple[str, ...]:
    """Return the roles of ``kind``: its required and optional fields, aliased ones included."""
    return kind.fields + tuple(r for r in kind.aliases if r not in kind.fields)


def parse_field_options(items: Iterable[str] | None) -> dict[str, str]:
    """Parse ``--field SRC=ROLE`` options into ``{src: role}``.

    Raises :class:`~ecogis.errors.InputError` for an item without ``=``.
    """
    out: dict[str, str] = {}
    for it in items or ():
        src, sep, role = str(it).rpartition("=")
        if not sep or not src.strip() or not role.strip():
            raise InputError(f"--field {it!r} is not SRC=ROLE",
                             fix="write e.g. --field 级别=level (source field = role)")
        out[src.strip()] = role.strip()
    return out


def resolve_field_map(columns: Sequence[str], kind: Kind, *,
                      explicit: Mapping[str, str] | None = None,
                      registry: KindRegistry | None = None,
                      file: str | None = None, layer: str | None = None) -> dict[str, str]:
    """Return ``{role: source field}`` for a layer of ``kind`` with these ``columns``.

    Order per role: ``explicit`` (``{src: role}`` from ``--field``); a column named like the
    role; the kind's alias list (first match, case-insensitive); the common ``[aliases]``.
    A source column fills at most one role unless ``explicit`` maps it.

    Raises
    ------
    InputError
        When ``explicit`` names a column the layer lacks or a role the kind does not have.
    """
    reg = registry or load_kinds()
    roles = kind_roles(kind)
    cols = [c for c in columns if c != "geometry"]
    by_norm: dict[str, str] = {}
    for c in cols:
        by_norm.setdefault(_norm(c), c)
    where = {"file": file, "layer": layer}
    fmap: dict[str, str] = {}
    used: set[str] = set()
    for src, role in (explicit or {}).items():
        col = src if src in cols else by_norm.get(_norm(src))
        if col is None:
            raise InputError(f"--field {src}={role}: the layer has no field {src!r} "
                             f"(fields: {', '.join(cols) or 'none'})", **where,
                             fix="name one of the listed fields before '='")
        if role not in roles:
            raise InputError(f"--field {src}={role}: kind {kind.id!r} has no role {role!r}",
                             **where, fix=f"map it to one of: {', '.join(roles)}")
        if role in cols and role != col:
            raise InputError(f"--field {src}={role}: the layer already has a field named "
                             f"{role!r}", **where,
                             fix=f"rename the field {role!r} in the source, or map {src!r} to "
                             "another role")
        fmap[role] = col
        used.add(col)
    for role in roles:
        if role in fmap:
            continue
        if role in cols and role not in used:
            fmap[role] = role
            used.add(role)
    for role in roles:
        if role in fmap:
            continue
        for alias in (role, *kind.aliases.get(role, ())):
            col = by_norm.get(_norm(alias))
            if col is not None and col not in used and not (col in roles and col != role):
                fmap[role] = col
                used.add(col)
                break
    common = {_norm(k): v for k, v in reg.aliases.items()}
    for c in cols:
        role = common.get(_norm(c))
        if role and role in roles and role not in fmap and c not in used \
                and not (c in roles and c != role):
            fmap[role] = c
            used.add(c)
    return {r: fmap[r] for r in roles if r in fmap}


def apply_roles(gdf: gpd.GeoDataFrame, field_map: Mapping[str, str]) -> gpd.GeoDataFrame:
    """Return ``gdf`` with each role of ``field_map`` as a column beside its source field.

    The names of the columns added are kept in ``gdf.attrs[ADDED_ATTR]`` (so a write can drop
    them again); a role whose source field is missing is skipped.
    """
    added = [r for r, src in field_map.items() if r != src and src in gdf.columns]
    if not added:
        return gdf
    out = gdf.copy()
    for r in added:
        out[r] = out[field_map[r]]
    out.attrs[ADDED_ATTR] = list(added)
    return out


def strip_roles(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Drop the role columns :func:`apply_roles` added (the source fields stay)."""
    added = [c for c in gdf.attrs.get(ADDED_ATTR, ()) if c in gdf.columns]
    if not added:
        return gdf
    out = gdf.drop(columns=added)
    out.attrs.pop(ADDED_ATTR, None)
    return out


def _text(v: Any) -> str | None:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if (isinstance(v, float) or getattr(getattr(v, "dtype", None), "kind", "") == "f") \
            and float(v).is_integer():
        v = int(v)  # 1234.0 (a float column, numpy or not) is the code 1234
    s = str(v).strip()
    return s or None


def feature_labels(gdf: pd.DataFrame, roles: Sequence[str] = LABEL_ROLES) -> np.ndarray:
    """Return one label per feature: its name, else BSM, else 图斑编号, else code (or None).

    ``gdf`` carries role columns (a layer read from a workspace, or :func:`apply_roles`).
    """
    import numpy as np
    import pandas as pd

    out = np.full(len(gdf), None, dtype=object)
    for role in roles:
        if role not in gdf.columns:
            continue
        todo = np.flatnonzero(pd.isna(out))
        if len(todo) == 0:
            break
        vals = gdf[role].to_numpy(dtype=object)[todo]
        out[todo] = [_text(v) for v in vals]
    return out


def unique_labels(labels: Iterable[Any]) -> list[str]:
    """Return the distinct non-empty labels, in first-seen order."""
    return [x for x in dict.fromkeys(_text(v) for v in labels) if x is not None]


def describe_field_map(field_map: Mapping[str, str], registry: KindRegistry | None = None
                       ) -> list[dict[str, str]]:
    """Return ``[{"role", "label", "source"}]`` for display (``ecogis layers``)."""
    reg = registry or load_kinds()
    return [{"role": r, "label": reg.role_label(r), "source": s} for r, s in field_map.items()]


__all__ = ["ADDED_ATTR", "LABEL_ROLES", "apply_roles", "describe_field_map", "feature_labels",
           "kind_roles", "parse_field_options", "resolve_field_map", "strip_roles",
           "unique_labels"]
