"""API keys of the service: ``Authorization: Bearer KEY`` → a role (``staff`` or ``admin``).

Keys come from ``--keys FILE`` and from the environment variable ``ECOGIS_API_KEYS``
(comma-separated keys, each with the ``staff`` role). ``FILE`` is either TOML::

    [keys]
    "k3y-of-the-planning-desk" = "staff"
    "k3y-of-the-gis-admin" = "admin"

or plain lines ``KEY ROLE`` (``#`` starts a comment)::

    k3y-of-the-planning-desk staff
    k3y-of-the-gis-admin admin

A key is never logged: the audit table records its id, the first 12 hex digits of its
SHA-256 (:func:`key_id`).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from pathlib import Path

from ecogis.errors import InputError

ROLES = ("staff", "admin")
#: what each role may do (``admin`` includes ``staff``)
RANK = {"anonymous": 0, "staff": 1, "admin": 2}


@dataclass(frozen=True)
class Caller:
    """Who sent a request: ``key_id`` (hash prefix, or ``-``) and ``role``."""

    key_id: str
    role: str


ANONYMOUS = Caller("-", "anonymous")


def key_id(key: str) -> str:
    """Return the id of ``key`` that logs may show: 12 hex digits of its SHA-256."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]


def _check(key: str, role: str, where: str) -> None:
    if role not in ROLES:
        raise InputError(f"unknown role {role!r} for key {key_id(key)}", file=where,
                         fix=f"use one of: {', '.join(ROLES)}")
    if len(key) < 16 or any(c.isspace() for c in key):
        raise InputError(f"key {key_id(key)} is shorter than 16 characters or has spaces",
                         file=where, fix="use a long random key, e.g. `openssl rand -hex 24`")


def load_keys(path: str | os.PathLike | None = None, env: str | None = None) -> dict[str, str]:
    """Return ``{key: role}`` from a keys file and ``ECOGIS_API_KEYS`` (``env`` overrides it)."""
    keys: dict[str, str] = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise InputError("keys file not found", file=str(p), fix="check the --keys path")
        text = p.read_text(encoding="utf-8")
        toml_like = any(line.strip().startswith("[") or "=" in line
                        for line in text.splitlines() if line.strip()
                        and not line.strip().startswith("#"))
        if toml_like:
            try:
                import tomllib
            except ImportError:  # pragma: no cover - Python 3.10
                import tomli as tomllib
            try:
                data = tomllib.loads(text)
            except tomllib.TOMLDecodeError as exc:
                raise InputError(f"not valid TOML: {exc}", file=str(p),
                                 fix='write [keys] then lines "KEY" = "staff"') from None
            table = data.get("keys", data)
            if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
                raise InputError("the [keys] table must map keys to role names", file=str(p),
                                 fix='write [keys] then lines "KEY" = "staff"')
            for k, role in table.items():
                _check(k, role, str(p))
                keys[k] = role
        else:
            for n, line in enumerate(text.splitlines(), 1):
                line = line.split("#", 1)[0].strip()
                if not line:
                    continue
                parts = line.split()
                if len(parts) != 2:
                    raise InputError(f"line {n} is not 'KEY ROLE'", file=str(p),
                                     fix="write one key and its role (staff or admin) per line")
                _check(parts[0], parts[1], f"{p}:{n}")
                keys[parts[0]] = parts[1]
    raw = os.environ.get("ECOGIS_API_KEYS", "") if env is None else env
    for k in (x.strip() for x in raw.split(",")):
        if k:
            _check(k, "staff", "ECOGIS_API_KEYS")
            keys.setdefault(k, "staff")
    return keys


def caller_of(header: str | None, keys: dict[str, str]) -> Caller | None:
    """Return the caller of an ``Authorization`` header; ANONYMOUS without one, None if wrong."""
    if not header:
        return ANONYMOUS
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    token = token.strip()
    for k, role in keys.items():  # constant-time comparison with every key
        if hmac.compare_digest(k.encode(), token.encode()):
            return Caller(key_id(k), role)
    return None
