"""The local DSQL endpoint's certificates: a test CA of its own, and TLS server contexts.

:class:`LocalCertificates` makes a throwaway CA with ``trustme`` (imported only here: it is
needed only to run an endpoint), issues the endpoint's certificate for its host names, and
writes the CA to ``ca.pem`` for clients' ``sslrootcert=``.  Each connection gets a TLS
context that records the SNI name its client sent, which the endpoint then checks.
"""

from __future__ import annotations

import os
import ssl
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["LocalCertificates"]


class LocalCertificates:
    """A test CA and a certificate for ``hostnames``; the CA is written to
    ``<directory>/ca.pem`` (default: a new temporary directory)."""

    def __init__(
        self, hostnames: Sequence[str], directory: str | os.PathLike[str] | None = None
    ) -> None:
        import trustme

        self._ca = trustme.CA(organization_name="pgwire local DSQL test CA")
        self._cert = self._ca.issue_cert(*hostnames)
        folder = Path(directory or tempfile.mkdtemp(prefix="pgwire-dsql-local-"))
        folder.mkdir(parents=True, exist_ok=True)
        #: The CA certificate, for clients' ``sslrootcert``.
        self.ca_file = str(folder / "ca.pem")
        self._ca.cert_pem.write_to_path(self.ca_file)

    def server_context(self, alpn: str, sni: list[str | None]) -> ssl.SSLContext:
        """A TLS 1.2+ server context offering ALPN ``alpn``; the server name each client
        asks for (``None``: none) is appended to ``sni``."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        self._cert.configure_cert(context)
        context.set_alpn_protocols([alpn])

        def remember(_obj: Any, name: str | None, _context: ssl.SSLContext) -> None:
            sni.append(name)

        context.sni_callback = remember
        return context
