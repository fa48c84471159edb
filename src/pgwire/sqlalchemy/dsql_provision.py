"""SQLAlchemy's test provisioning for ``auroradsql+pgwire`` (its compliance suite), as
SQLAlchemy's own dialects ship a ``provision`` module.

SQLAlchemy's testing plugin picks provisioning by the URL's backend name, ``auroradsql``
here, for which it knows no defaults: pgwire's dialect is the preferred (the only) driver,
and ``SET search_path`` switches a connection's default schema, as on PostgreSQL. The rest of
PostgreSQL's provisioning (prepared transactions, enum types, temporary tables) concerns what
DSQL does not have. Loaded only by SQLAlchemy's testing plugin, through
``DSQLDialect_pgwire.load_provisioning()``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.testing.provision import is_preferred_driver, set_default_schema_on_connection

BACKEND = "auroradsql"


@is_preferred_driver.for_db(BACKEND)  # type: ignore[untyped-decorator]
def _preferred_driver(cfg: Any, engine: Any) -> bool:
    return True


@set_default_schema_on_connection.for_db(BACKEND)  # type: ignore[untyped-decorator]
def _set_default_schema(cfg: Any, dbapi_connection: Any, schema_name: str) -> None:
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    cursor = dbapi_connection.cursor()
    try:
        quoted = '"' + schema_name.replace('"', '""') + '"'
        cursor.execute(f"SET SESSION search_path = {quoted}")
    finally:
        cursor.close()
        dbapi_connection.autocommit = autocommit
