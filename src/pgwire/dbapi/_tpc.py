"""Two-phase commit ids (PEP 249's ``xid``) and their PostgreSQL transaction names.

An :class:`Xid` of the XA kind (a format id, a global transaction id and a branch
qualifier) becomes the name ``PREPARE TRANSACTION`` takes the way psycopg writes it,
``<format_id>_<base64 gtrid>_<base64 bqual>``, so that a transaction prepared by one
driver can be recovered and ended by the other. A prepared transaction whose name has
another shape comes back from ``tpc_recover()`` as an Xid with only ``gtrid`` (the name)
and ``format_id`` ``None``. No I/O here.
"""

from __future__ import annotations

import binascii
import datetime
import re
from base64 import b64decode, b64encode
from collections.abc import Iterator
from typing import Any

from pgwire.errors import NotSupportedError, ProgrammingError

__all__ = ["Xid", "as_xid", "quote_literal"]

_XA_NAME = re.compile(r"(\d+)_([^_]*)_([^_]*)\Z")
_MAX_FORMAT_ID = (1 << 31) - 1
_MAX_ID_LENGTH = 64


class Xid:
    """A transaction id for two-phase commit.

    It reads like the 3-item sequence PEP 249 describes, ``(format_id, gtrid, bqual)``;
    the ids that :meth:`Connection.tpc_recover` returns also carry ``prepared`` (when the
    transaction was prepared), ``owner`` and ``database``.
    """

    __slots__ = ("bqual", "database", "format_id", "gtrid", "owner", "prepared")

    def __init__(
        self,
        format_id: int | None,
        gtrid: str,
        bqual: str | None,
        prepared: datetime.datetime | None = None,
        owner: str | None = None,
        database: str | None = None,
    ) -> None:
        if format_id is not None:
            if not 0 <= format_id <= _MAX_FORMAT_ID:
                raise ProgrammingError(
                    f"format_id must be between 0 and {_MAX_FORMAT_ID}, not {format_id}"
                )
            if bqual is None:
                raise ProgrammingError("an xid with a format_id needs a bqual too")
            for label, value in (("gtrid", gtrid), ("bqual", bqual)):
                if len(value) > _MAX_ID_LENGTH:
                    raise ProgrammingError(
                        f"{label} may have at most {_MAX_ID_LENGTH} characters, not {len(value)}"
                    )
        self.format_id = format_id
        self.gtrid = gtrid
        self.bqual = bqual
        self.prepared = prepared
        self.owner = owner
        self.database = database

    @classmethod
    def from_name(cls, name: str, **details: Any) -> Xid:
        """The Xid of the PostgreSQL transaction name ``name``."""
        parts = _XA_NAME.match(name)
        if parts is not None:
            try:
                gtrid = b64decode(parts.group(2), validate=True).decode()
                bqual = b64decode(parts.group(3), validate=True).decode()
                return cls(int(parts.group(1)), gtrid, bqual, **details)
            except (binascii.Error, UnicodeDecodeError, ProgrammingError):
                pass  # a name of another shape that happens to look alike
        return cls(None, name, None, **details)

    @property
    def name(self) -> str:
        """The name under which PostgreSQL knows the transaction."""
        if self.format_id is None:
            return self.gtrid
        assert self.bqual is not None
        gtrid = b64encode(self.gtrid.encode()).decode()
        bqual = b64encode(self.bqual.encode()).decode()
        return f"{self.format_id}_{gtrid}_{bqual}"

    def _triple(self) -> tuple[int | None, str, str | None]:
        return (self.format_id, self.gtrid, self.bqual)

    def __getitem__(self, index: int) -> Any:
        return self._triple()[index]

    def __len__(self) -> int:
        return 3

    def __iter__(self) -> Iterator[Any]:
        return iter(self._triple())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Xid):
            return self._triple() == other._triple()
        if isinstance(other, tuple):
            return self._triple() == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._triple())

    def __repr__(self) -> str:
        return f"Xid(format_id={self.format_id!r}, gtrid={self.gtrid!r}, bqual={self.bqual!r})"

    def __str__(self) -> str:
        return self.name


def as_xid(value: Xid | str) -> Xid:
    """An Xid, or a transaction name (as tpc_recover() lists them) made into one."""
    if isinstance(value, Xid):
        return value
    if isinstance(value, str):
        return Xid.from_name(value)
    raise NotSupportedError(f"expected an Xid (from conn.xid()) or a str, got {type(value)}")


def quote_literal(text: str) -> str:
    """``text`` as an SQL string literal, whatever standard_conforming_strings says."""
    quoted = "'" + text.replace("'", "''") + "'"
    return "E" + quoted.replace("\\", "\\\\") if "\\" in text else quoted
