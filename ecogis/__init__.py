"""ecogis: territorial spatial-planning control lines (三区三线) for China.

Exact areas on the CGCS2000 ellipsoid, conflicts between control lines, project siting
checks, "面积不减少、性质不改变" change checks, offline maps and spatial indicators.
"""

__version__ = "0.2.0"

from ecogis.errors import (  # noqa: E402
    CRSError,
    EcogisError,
    EncodingError,
    GeometryError,
    InputError,
)

__all__ = [
    "__version__",
    "CRSError",
    "EcogisError",
    "EncodingError",
    "GeometryError",
    "InputError",
]
