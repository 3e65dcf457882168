"""Which plan a citation quotes, so a region's report cites its own plan and no other's.

A citation string (``"《安居区…规划（2023-2030年）》 L74: …"``) belongs to a region when it
names that region's ``plan_title`` (``layers/plans/<region>.toml``) or starts with
``《<name_zh>``; a citation naming no region's plan (a national law) belongs to every region.
"""

from __future__ import annotations

from functools import lru_cache

from ecogis.data import data_path, read_toml_cached


@lru_cache(maxsize=1)
def plan_titles() -> dict[str, tuple[str, str]]:
    """``{region id: (name_zh, plan_title)}`` of every plan in ``layers/plans/``."""
    out = {}
    for p in sorted(data_path("plans").glob("*.toml")):
        reg = read_toml_cached(p).get("region", {})
        if reg.get("id"):
            out[str(reg["id"])] = (str(reg.get("name_zh", "")), str(reg.get("plan_title", "")))
    return out


def citation_region(text: str) -> str | None:
    """The region whose plan ``text`` cites, or None (a national or unknown source)."""
    for rid, (name, title) in plan_titles().items():
        if (title and title in text) or (name and text.lstrip().startswith(f"《{name}")):
            return rid
    return None


def resolve_region(region: str | None) -> str | None:
    """A region id from an id or a Chinese name (``安居区`` → ``anju``); None when unknown."""
    if not region:
        return None
    titles = plan_titles()
    if region in titles:
        return region
    for rid, (name, _) in titles.items():
        if region in (name, name.rstrip("区县市")):
            return rid
    return None


def citations_for_region(citations, region: str | None) -> tuple[str, ...]:
    """The citations a report for ``region`` shows: its own plan's and the national ones.

    With no known region every citation is kept (the report cannot tell which plan applies).
    """
    rid = resolve_region(region)
    cites = tuple(citations)
    if rid is None:
        return cites
    return tuple(c for c in cites if citation_region(c) in (None, rid))
