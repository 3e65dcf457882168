"""Area and length units as data: square metres are stored, units apply at presentation.

1 亩 = 10000/15 m² (exactly 2000/3 m²); 1 公顷 = 15 亩 = 10 000 m²; 1 km² = 100 公顷 = 1 500 亩.
"""

from __future__ import annotations

from dataclasses import dataclass

from ecogis.errors import InputError


@dataclass(frozen=True)
class AreaUnit:
    """An area unit: its id, Chinese name and size in square metres."""

    id: str
    name_zh: str
    m2: float
    aliases: tuple[str, ...] = ()


AREA_UNITS: dict[str, AreaUnit] = {
    u.id: u
    for u in (
        AreaUnit("m2", "平方米", 1.0, ("m²", "sqm", "平方米")),
        AreaUnit("ha", "公顷", 10_000.0, ("hm2", "hm²", "公顷", "hectare")),
        AreaUnit("km2", "平方公里", 1_000_000.0, ("km²", "平方公里", "平方千米")),
        AreaUnit("mu", "亩", 10_000.0 / 15.0, ("亩",)),
        AreaUnit("wanmu", "万亩", 10_000.0 / 15.0 * 10_000.0, ("万亩",)),
    )
}

_ALIASES = {alias.lower(): u.id for u in AREA_UNITS.values() for alias in (u.id, *u.aliases)}


def area_unit(name: str) -> AreaUnit:
    """Return the area unit named ``name`` (id or alias such as ``亩``, ``公顷``, ``km²``)."""
    key = _ALIASES.get(str(name).strip().lower())
    if key is None:
        raise InputError(
            f"unknown area unit {name!r}",
            fix=f"use one of {', '.join(AREA_UNITS)} (or 亩, 公顷, 平方公里, 万亩)",
        )
    return AREA_UNITS[key]


def from_m2(value_m2, unit: str):
    """Convert square metres to ``unit`` (works on floats and NumPy arrays)."""
    return value_m2 / area_unit(unit).m2


def to_m2(value, unit: str):
    """Convert ``value`` in ``unit`` to square metres."""
    return value * area_unit(unit).m2
