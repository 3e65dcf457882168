"""Errors and warnings of ecogis: each message names the file, layer, feature and the fix.

Every error subclasses a builtin as well as :class:`EcogisError`, so callers may catch
either (the rasterio pattern): ``except ValueError`` works as well as
``except ecogis.EcogisError``.
"""

from __future__ import annotations


class EcogisError(Exception):
    """Root of every ecogis error."""


class InputError(EcogisError, ValueError):
    """Bad input data or arguments: the CLI exits 2 and prints the message on one line."""

    def __init__(
        self,
        what: str,
        *,
        file: str | None = None,
        layer: str | None = None,
        feature: object | None = None,
        fix: str | None = None,
    ) -> None:
        self.what = what
        self.file = file
        self.layer = layer
        self.feature = feature
        self.fix = fix
        super().__init__(self._message())

    def _message(self) -> str:
        where = []
        if self.file is not None:
            where.append(str(self.file))
        if self.layer is not None:
            where.append(f"layer {self.layer!r}")
        if self.feature is not None:
            where.append(f"feature {self.feature}")
        head = ", ".join(where)
        msg = f"{head}: {self.what}" if head else self.what
        if self.fix:
            msg += f" (fix: {self.fix})"
        return msg


class CRSError(InputError):
    """Missing, ambiguous or contradictory coordinate reference system."""


class AmbiguousCRSError(CRSError):
    """The coordinates fit several CRSs; ``candidates`` lists them as ``(epsg, name)``."""

    def __init__(self, what: str, candidates: list[tuple[int, str]], **kw) -> None:
        self.candidates = candidates
        super().__init__(what, **kw)


class EncodingError(InputError, UnicodeError):
    """Attribute text that cannot be decoded in the declared or detected encoding."""


class GeometryError(InputError):
    """Geometry that is of the wrong type for its kind, or cannot be repaired."""


class KindError(InputError, KeyError):
    """Unknown layer kind, or a layer missing the fields its kind requires."""

    def __str__(self) -> str:  # KeyError would quote the message
        return self._message()


class DataFileError(InputError):
    """A data file of the project (kinds, plans, rules, categories) is malformed."""


class WorkspaceError(EcogisError, OSError):
    """The workspace cannot be opened or written."""


class WorkspaceBusyError(InputError, TimeoutError):
    """Another process held the workspace's write lock for longer than ``--wait``."""


class EcogisWarning(UserWarning):
    """Root of ecogis warnings."""


class RepairWarning(EcogisWarning):
    """Geometry was repaired, dropped or flattened on import; the message says how much."""


class CRSGuessWarning(EcogisWarning):
    """A CRS was inferred from the coordinates rather than read from the file."""
