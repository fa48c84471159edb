"""SQLAlchemy's dialect compliance suite, as it ships in ``sqlalchemy.testing.suite``.

One test class is adapted: ``ServerSideCursorsTest`` tells a server-side cursor by the
driver's name, from a list of drivers SQLAlchemy knows (its own comment calls this an issue
for third-party dialects); pgwire's are told here the way psycopg's and asyncpg's are.
"""

from typing import Any

from sqlalchemy.testing.suite import *  # noqa: F403
from sqlalchemy.testing.suite import ServerSideCursorsTest as _ServerSideCursorsTest


class ServerSideCursorsTest(_ServerSideCursorsTest):  # type: ignore[misc]
    def _is_server_side(self, cursor: Any) -> bool:
        driver = self.engine.dialect.driver
        if driver == "pgwire":
            return bool(getattr(cursor, "name", None))  # a named pgwire.dbapi cursor
        if driver == "pgwire_async":
            return bool(cursor.server_side)
        return bool(super()._is_server_side(cursor))
