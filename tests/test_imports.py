"""What importing the drivers loads: nothing that only a rarer path needs.

The import time of ``from pgwire import connect_async`` is paid by every program that uses
pgwire, so modules for the server role, the integrations and IAM stay out of it until used.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

#: Modules no driver needs until a program asks for them.
RARE = (
    "pgwire.protocol.server",
    "pgwire.protocol.server_startup",
    "pgwire.mockserver",
    "pgwire.proxy",
    "pgwire.trace",
    "pgwire.dsql_local",
    "pgwire.sqlalchemy",
    "pgwire.iam",
    "sqlalchemy",
    "botocore",
)


def loaded_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return set(out.split())


@pytest.mark.parametrize(
    "statement",
    [
        "import pgwire.protocol",
        "from pgwire import connect_async",
        "from pgwire import connect",
        "from pgwire import create_pool, create_blocking_pool",
    ],
)
def test_importing_a_driver_loads_no_module_of_a_rarer_path(statement: str) -> None:
    loaded = loaded_after(statement)
    assert sorted(m for m in loaded if m.startswith(RARE)) == []


def test_the_server_role_is_imported_on_first_use() -> None:
    loaded = loaded_after("from pgwire.protocol import ServerConnection, MAX_STARTUP_PACKET")
    assert "pgwire.protocol.server" in loaded


def test_an_unknown_protocol_name_is_an_attribute_error() -> None:
    import pgwire.protocol

    with pytest.raises(AttributeError, match="no attribute 'ServerConnectio'"):
        pgwire.protocol.ServerConnectio  # noqa: B018
