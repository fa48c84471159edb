"""The password file (``~/.pgpass``, ``PGPASSFILE``, ``passfile=``) read as libpq reads it.

Each line is ``hostname:port:database:username:password``; ``*`` matches anything, ``\\``
escapes ``:`` and ``\\``, and lines starting with ``#`` are comments. The first matching line
wins. A file that others may read or write is ignored with a warning, as libpq does. Nothing
here connects anywhere, and no password ever reaches a log or an exception message.
"""

from __future__ import annotations

import logging
import os
import stat

__all__ = ["lookup"]

logger = logging.getLogger("pgwire")


def _fields(line: str) -> list[tuple[str, bool]]:
    """Split a line on unescaped colons: ``(value, is_wildcard)`` per field, with ``\\x``
    read as ``x``. Only an unescaped lone ``*`` is a wildcard."""
    fields: list[tuple[str, bool]] = []
    current: list[str] = []
    escaped = False
    chars = iter(line)
    for char in chars:
        if char == "\\":
            current.append(next(chars, ""))
            escaped = True
        elif char == ":":
            fields.append(("".join(current), current == ["*"] and not escaped))
            current, escaped = [], False
        else:
            current.append(char)
    fields.append(("".join(current), current == ["*"] and not escaped))
    return fields


def _readable(path: str) -> bool:
    try:
        info = os.stat(path)
    except OSError:
        return False
    if not stat.S_ISREG(info.st_mode):
        logger.warning('password file "%s" is not a plain file; ignoring it', path)
        return False
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        logger.warning(
            'password file "%s" has group or world access; permissions should be u=rw (0600) '
            "or less; ignoring it",
            path,
        )
        return False
    return True


def lookup(path: str, host: str, port: int, dbname: str, user: str) -> str | None:
    """The password for ``user@host:port/dbname`` in the file at ``path``, or ``None``.

    ``host`` is what libpq matches: the host name (or, without one, the ``hostaddr``), with
    the default Unix-socket directory written as ``localhost``.
    """
    if not _readable(path):
        return None
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            lines = file.read().splitlines()
    except OSError:
        return None
    wanted = (host, str(port), dbname, user)
    for line in lines:
        if not line.strip() or line.startswith("#"):
            continue
        fields = _fields(line)
        if len(fields) < 5:
            continue
        matches = zip(fields[:4], wanted, strict=True)
        if all(wildcard or field == value for (field, wildcard), value in matches):
            # libpq ends the password at the next unescaped colon.
            return fields[4][0]
    return None
