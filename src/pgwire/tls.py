"""The client's TLS settings as an ``ssl.SSLContext``, with libpq's meanings.

* The server certificate is verified whenever a root certificate is available: the file
  ``sslrootcert`` (default ``~/.postgresql/root.crt``, used if it exists) or ``system`` (the
  system trust store). ``verify-ca`` and ``verify-full`` demand one; ``verify-full`` also
  checks the host name. As in libpq, ``require`` with a root certificate at hand behaves like
  ``verify-ca``.
* ``sslcrl``/``sslcrldir``: revoked server certificates are refused.
* ``sslcert``/``sslkey`` (default ``~/.postgresql/postgresql.crt``/``.key``, used if they
  exist): the client certificate, its key decrypted with ``sslpassword``; a key that others
  may read is refused, as libpq refuses it.
* TLS 1.2 at least, ALPN ``postgresql`` always offered (PostgreSQL 17+ requires it for
  direct TLS), no compression, no renegotiation.
* :func:`websocket_context`: the TLS of a ``wss://`` WebSocket, with the same files but
  always verify-full (chain and host name), the system roots unless ``sslrootcert`` names a
  file, and ALPN ``http/1.1``.

Only builds contexts and explains TLS failures: the transports run the handshake.
"""

from __future__ import annotations

import dataclasses
import os
import ssl
import stat

from pgwire.conninfo import ConnectInfo
from pgwire.errors import OperationalError

__all__ = [
    "ALPN_PROTOCOL",
    "WEBSOCKET_ALPN_PROTOCOL",
    "client_context",
    "describe_tls_error",
    "verifies_server",
    "websocket_context",
]

#: The ALPN protocol name of PostgreSQL (PostgreSQL 17+).
ALPN_PROTOCOL = "postgresql"
#: What a ``wss://`` client offers: the WebSocket upgrade is an HTTP/1.1 request.
WEBSOCKET_ALPN_PROTOCOL = "http/1.1"

_TLS_VERSIONS = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}


def _default(info: ConnectInfo, explicit: str | None, name: str) -> str | None:
    if explicit is not None:
        return explicit
    return None if info.ssl_dir is None else os.path.join(info.ssl_dir, name)


def _root_certificate(info: ConnectInfo) -> str | None:
    """The root certificate file (or ``system``) to verify the server with, or ``None``."""
    root = _default(info, info.sslrootcert, "root.crt")
    if root == "system" or (root is not None and os.path.exists(root)):
        return root
    if info.sslmode in ("verify-ca", "verify-full"):
        where = f'"{root}"' if root else "(none given, and no home directory)"
        raise OperationalError(
            f"root certificate file {where} does not exist; either provide the file, use "
            "the system's trusted roots with sslrootcert=system, or change sslmode to "
            "disable server certificate verification"
        )
    return None


def verifies_server(info: ConnectInfo) -> bool:
    """Whether TLS connections with these settings verify the server certificate."""
    return _root_certificate(info) is not None


def _check_key_permissions(path: str) -> None:
    try:
        info = os.stat(path)
    except OSError as exc:
        raise OperationalError(
            f'certificate present, but not private key file "{path}": {exc.strerror}'
        ) from None
    if not stat.S_ISREG(info.st_mode):
        raise OperationalError(f'private key file "{path}" is not a regular file')
    mode = info.st_mode
    too_open = (info.st_uid == os.geteuid() and mode & (stat.S_IRWXG | stat.S_IRWXO)) or (
        info.st_uid == 0 and mode & (stat.S_IWGRP | stat.S_IXGRP | stat.S_IRWXO)
    )
    if too_open:
        raise OperationalError(
            f'private key file "{path}" has group or world access; file must have permissions '
            "u=rw (0600) or less if owned by the current user, or permissions u=rw,g=r (0640) "
            "or less if owned by root"
        )


def _load_client_certificate(context: ssl.SSLContext, info: ConnectInfo) -> None:
    if info.sslcertmode == "disable":
        return
    certificate = _default(info, info.sslcert, "postgresql.crt")
    if certificate is None or not os.path.exists(certificate):
        return  # libpq: no certificate file, no client certificate
    key = _default(info, info.sslkey, "postgresql.key")
    if key is None:
        raise OperationalError("certificate present, but no private key file (sslkey)")
    _check_key_permissions(key)
    try:
        # A password, even empty, keeps OpenSSL from prompting on the terminal.
        context.load_cert_chain(certificate, key, password=info.sslpassword or "")
    except ssl.SSLError:
        raise OperationalError(
            f'could not load the client certificate "{certificate}" with private key '
            f'"{key}": a wrong or missing sslpassword, or a key that does not match'
        ) from None
    except OSError as exc:
        raise OperationalError(
            f'could not read the client certificate "{certificate}": {exc.strerror}'
        ) from None


def client_context(info: ConnectInfo) -> ssl.SSLContext:
    """A TLS context for ``info``'s settings (raises ``OperationalError`` when a file it
    names is missing or unusable)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = _TLS_VERSIONS[info.ssl_min_protocol_version]
    if info.ssl_max_protocol_version is not None:
        context.maximum_version = _TLS_VERSIONS[info.ssl_max_protocol_version]
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    context.set_alpn_protocols([ALPN_PROTOCOL])
    root = _root_certificate(info)
    context.check_hostname = False
    if root is None:
        context.verify_mode = ssl.CERT_NONE
    else:
        try:
            if root == "system":
                context.load_default_certs(ssl.Purpose.SERVER_AUTH)
            else:
                context.load_verify_locations(cafile=root)
        except (ssl.SSLError, OSError) as exc:
            raise OperationalError(
                f'could not read root certificate file "{root}": {exc}'
            ) from None
        context.verify_mode = ssl.CERT_REQUIRED
        context.check_hostname = info.sslmode == "verify-full"
        _load_revocation_lists(context, info)
    _load_client_certificate(context, info)
    return context


def websocket_context(info: ConnectInfo) -> ssl.SSLContext:
    """The TLS context of a ``wss://`` WebSocket with ``info``'s TLS settings.

    Always verify-full, whatever ``sslmode`` says (``sslmode`` is about PostgreSQL-level TLS
    inside the tunnel): the chain is checked against ``sslrootcert`` (a file, or ``system``;
    default: the system trust store, not ``~/.postgresql/root.crt``) and the host name
    against the certificate. ``sslcrl``/``sslcrldir`` and the client certificate
    ``sslcert``/``sslkey``/``sslpassword`` apply when given (libpq's default files under
    ``~/.postgresql`` do not). TLS 1.2 at least (``ssl_min_protocol_version``), ALPN
    ``http/1.1``. Raises ``OperationalError`` when a file it names is missing or unusable.
    """
    # Only what the caller named: no defaults from ~/.postgresql at the WebSocket layer.
    explicit = dataclasses.replace(info, ssl_dir=None)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = _TLS_VERSIONS[info.ssl_min_protocol_version]
    if info.ssl_max_protocol_version is not None:
        context.maximum_version = _TLS_VERSIONS[info.ssl_max_protocol_version]
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    context.set_alpn_protocols([WEBSOCKET_ALPN_PROTOCOL])
    root = info.sslrootcert or "system"
    try:
        if root == "system":
            context.load_default_certs(ssl.Purpose.SERVER_AUTH)
        else:
            context.load_verify_locations(cafile=root)
    except (ssl.SSLError, OSError) as exc:
        raise OperationalError(f'could not read root certificate file "{root}": {exc}') from None
    context.verify_mode = ssl.CERT_REQUIRED
    context.check_hostname = True
    _load_revocation_lists(context, explicit)
    _load_client_certificate(context, explicit)
    return context


def _load_revocation_lists(context: ssl.SSLContext, info: ConnectInfo) -> None:
    crl = _default(info, info.sslcrl, "root.crl")
    loaded = False
    if crl is not None and os.path.exists(crl):
        try:
            context.load_verify_locations(cafile=crl)
        except (ssl.SSLError, OSError) as exc:
            raise OperationalError(f'could not read SSL CRL file "{crl}": {exc}') from None
        loaded = True
    elif info.sslcrl is not None:
        # libpq skips a missing file silently; a revocation list asked for by name that
        # is not there is safer as an error.
        raise OperationalError(f'SSL CRL file "{crl}" does not exist')
    if info.sslcrldir is not None:
        if not os.path.isdir(info.sslcrldir):
            raise OperationalError(f'SSL CRL directory "{info.sslcrldir}" does not exist')
        context.load_verify_locations(capath=info.sslcrldir)
        loaded = True
    if loaded:
        context.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF | ssl.VERIFY_CRL_CHECK_CHAIN


def describe_tls_error(exc: BaseException) -> str:
    """What went wrong in a TLS handshake, in words a user can act on."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = exc.verify_message or str(exc)
        return f"the server certificate could not be verified: {reason}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake failed: {getattr(exc, 'reason', None) or exc}"
    return f"TLS handshake failed: {exc}"
