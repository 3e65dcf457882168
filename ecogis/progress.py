"""Progress bars on stderr for long steps (tqdm), shown only to a person at a terminal.

A bar appears when its step has run for :data:`DELAY_S` seconds, on stderr, and only when
stderr is a terminal; ``ecogis --quiet`` or ``ECOGIS_QUIET=1`` turns bars off. Output on
stdout is never touched, so piping JSON stays clean.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")

#: seconds a step runs before its bar appears
DELAY_S = 2.0


def enabled() -> bool:
    """True when bars may be drawn: stderr is a terminal and quiet mode is off."""
    if os.environ.get("ECOGIS_QUIET", "").strip() not in ("", "0"):
        return False
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def set_quiet(quiet: bool = True) -> None:
    """Turn bars off (or on again) for this process and the processes it starts."""
    if quiet:
        os.environ["ECOGIS_QUIET"] = "1"
    else:
        os.environ.pop("ECOGIS_QUIET", None)


def track(items: Iterable[T], *, total: int | None = None, desc: str = "",
          unit: str = "it") -> Iterator[T]:
    """Yield ``items``, drawing a bar on stderr when :func:`enabled` and the step is long."""
    if not enabled():
        yield from items
        return
    from tqdm import tqdm

    with tqdm(items, total=total, desc=desc, unit=unit, file=sys.stderr, delay=DELAY_S,
              leave=False, dynamic_ncols=True) as bar:
        yield from bar


@contextmanager
def bar(total: int | None, *, desc: str = "", unit: str = "it") -> Iterator[Any]:
    """A bar to advance by hand (``b.update(n)``); a do-nothing object when not enabled."""
    if not enabled():
        yield _Null()
        return
    from tqdm import tqdm

    with tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, delay=DELAY_S, leave=False,
              dynamic_ncols=True) as b:
        yield b


class _Null:
    def update(self, n: int = 1) -> None:
        pass

    def set_description(self, desc: str) -> None:
        pass
