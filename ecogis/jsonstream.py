"""JSON and JSON Lines written as they are produced: big lists never become one string.

A document is a mapping whose values are either small (made JSON-plain by
:func:`ecogis.report.plain` and written at once) or :class:`Stream` s (an iterable of records
written one after the other, each with :func:`json.dumps` in C). Top-level keys go one per
line, stream items one per line, compact separators: readable with ``jq`` and ``grep``, fast
to write, and parsed by any JSON reader.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import PurePath
from typing import IO, Any

SEPARATORS = (",", ":")


class Stream:
    """An iterable of JSON-plain records to write as a JSON array, item by item."""

    def __init__(self, items: Iterable[Any]) -> None:
        self.items = items

    def __iter__(self) -> Iterator[Any]:
        return iter(self.items)


def _default(obj: Any) -> Any:
    """``json.dumps(default=...)``: NumPy scalars and arrays, paths; anything else as str."""
    import numpy as np

    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        f = float(obj)
        return None if not math.isfinite(f) else f
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, PurePath):
        return str(obj)
    return str(obj)


def dumps(obj: Any) -> str:
    """Return ``obj`` as one compact JSON text, CJK kept; NaN and infinities become null.

    The C encoder writes it directly; only an object holding a non-finite float (which JSON
    cannot carry) takes the slower way through :func:`ecogis.report.plain`.
    """
    try:
        return json.dumps(obj, ensure_ascii=False, separators=SEPARATORS, default=_default,
                          allow_nan=False)
    except ValueError:
        from ecogis.report import plain

        return json.dumps(plain(obj), ensure_ascii=False, separators=SEPARATORS,
                          default=_default, allow_nan=False)


def write_document(doc: Mapping[str, Any], out: IO[str] | None = None) -> None:
    """Write ``doc`` as one JSON object: small values at once, :class:`Stream` s item by item."""
    from ecogis.report import plain

    out = out or sys.stdout
    first = True
    for key, value in doc.items():
        out.write("{" if first else ",\n")
        first = False
        out.write(dumps(str(key)) + ":")
        if isinstance(value, Stream):
            out.write("[")
            sep = "\n"
            for item in value:
                out.write(sep)
                out.write(dumps(item))
                sep = ",\n"
            out.write("]")
        else:
            out.write(dumps(plain(value)))
    out.write("{}\n" if first else "}\n")


def write_lines(records: Iterable[Any], out: IO[str] | None = None) -> int:
    """Write each record as one JSON line (JSON Lines); return how many were written."""
    out = out or sys.stdout
    n = 0
    for r in records:
        out.write(dumps(r))
        out.write("\n")
        n += 1
    return n


def records(frame, columns: list[str], chunk: int = 20_000) -> Iterator[dict]:
    """Yield the rows of a DataFrame as JSON-plain dicts (NaN → None), a chunk at a time."""
    import numpy as np
    import pandas as pd

    for start in range(0, len(frame), chunk):
        part = frame.iloc[start:start + chunk][columns]
        part = part.astype(object).where(pd.notna(part), None)
        for row in part.itertuples(index=False, name=None):
            yield {c: (v.item() if isinstance(v, np.generic) else v)
                   for c, v in zip(columns, row, strict=True)}
