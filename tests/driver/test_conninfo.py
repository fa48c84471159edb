"""Connection parameters: URIs, keyword DSNs, the PG* environment and their precedence.

Unit tests: no server. Every call passes ``environ=`` so the real environment never leaks in.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pgwire.conninfo import ConnectInfo, parse_dsn, resolve
from pgwire.errors import InterfaceError, NotSupportedError

NO_ENV: dict[str, str] = {}


# --------------------------------------------------------------------------------------
# URIs
# --------------------------------------------------------------------------------------


def test_uri_gives_every_part() -> None:
    info = resolve("postgresql://alice:secret@db.example:6543/sales", environ=NO_ENV)
    assert (info.host, info.port, info.user, info.password, info.dbname) == (
        "db.example",
        6543,
        "alice",
        "secret",
        "sales",
    )


def test_postgres_scheme_is_accepted() -> None:
    assert resolve("postgres://alice@h/d", environ=NO_ENV).host == "h"


def test_uri_parts_are_percent_decoded() -> None:
    info = resolve("postgresql://al%20ice:p%40ss%3Aw%2Frd@h/my%20db", environ=NO_ENV)
    assert info.user == "al ice"
    assert info.password == "p@ss:w/rd"
    assert info.dbname == "my db"


def test_uri_password_may_contain_a_colon() -> None:
    assert parse_dsn("postgresql://u:a:b@h/d")["password"] == "a:b"


def test_uri_with_ipv6_host_and_port() -> None:
    info = resolve("postgresql://u@[::1]:5433/d", environ=NO_ENV)
    assert (info.host, info.port) == ("::1", 5433)
    assert not info.is_unix_socket


def test_uri_with_ipv6_host_and_no_port() -> None:
    info = resolve("postgresql://u@[2001:db8::7]/d", environ=NO_ENV)
    assert (info.host, info.port) == ("2001:db8::7", 5432)


def test_uri_with_unix_socket_directory_in_the_query() -> None:
    info = resolve("postgresql://u@/d?host=/run/pg&port=5999", environ=NO_ENV)
    assert info.is_unix_socket
    assert info.host == "/run/pg"
    assert info.socket_path == "/run/pg/.s.PGSQL.5999"


def test_uri_with_percent_encoded_socket_directory_as_host() -> None:
    info = resolve("postgresql://u@%2Frun%2Fpg/d", environ=NO_ENV)
    assert info.host == "/run/pg"
    assert info.is_unix_socket


def test_uri_query_parameters_are_percent_decoded() -> None:
    info = resolve("postgresql://u@h/d?application_name=my%20app&connect_timeout=3", environ=NO_ENV)
    assert info.application_name == "my app"
    assert info.connect_timeout == 3.0


def test_empty_uri_leaves_everything_to_the_defaults() -> None:
    assert parse_dsn("postgresql://") == {}


def test_uri_without_database_uses_the_user_name() -> None:
    assert resolve("postgresql://alice@h", environ=NO_ENV).dbname == "alice"


def test_unsupported_uri_scheme_is_refused() -> None:
    with pytest.raises(InterfaceError, match="mysql"):
        parse_dsn("mysql://u@h/d")


def test_uri_query_item_without_a_value_is_refused() -> None:
    with pytest.raises(InterfaceError, match="key=value"):
        parse_dsn("postgresql://h/d?sslmode")


def test_uri_with_a_bad_port_is_refused() -> None:
    with pytest.raises(InterfaceError, match="invalid port 'abc'"):
        resolve("postgresql://u@h:abc/d", environ=NO_ENV)


# --------------------------------------------------------------------------------------
# Keyword/value DSNs
# --------------------------------------------------------------------------------------


def test_keyword_dsn_gives_every_part() -> None:
    info = resolve("host=h port=5433 user=u password=pw dbname=d", environ=NO_ENV)
    assert (info.host, info.port, info.user, info.password, info.dbname) == (
        "h",
        5433,
        "u",
        "pw",
        "d",
    )


def test_keyword_dsn_allows_spaces_around_equals() -> None:
    assert parse_dsn("host = h   port= 5433") == {"host": "h", "port": "5433"}


def test_keyword_dsn_quoted_values_keep_spaces_and_escaped_quotes() -> None:
    parsed = parse_dsn(r"password='it\'s a secret' options='-c search_path=a\\b'")
    assert parsed == {"password": "it's a secret", "options": "-c search_path=a\\b"}


def test_keyword_dsn_empty_quoted_value() -> None:
    assert parse_dsn("password='' user=u") == {"password": "", "user": "u"}


def test_keyword_dsn_backslash_escapes_a_space_in_an_unquoted_value() -> None:
    assert parse_dsn(r"password=two\ words user=u") == {"password": "two words", "user": "u"}


def test_keyword_dsn_with_an_unterminated_quote_names_the_parameter() -> None:
    with pytest.raises(InterfaceError, match="unterminated quoted value for parameter 'password'"):
        parse_dsn("user=u password='never closed")


def test_malformed_keyword_dsn_does_not_echo_its_text() -> None:
    with pytest.raises(InterfaceError) as caught:
        parse_dsn("=oops password=hunter2")
    assert "hunter2" not in str(caught.value)
    assert "character 1" in str(caught.value)


def test_database_is_an_alias_of_dbname() -> None:
    assert resolve("database=d user=u", environ=NO_ENV).dbname == "d"
    assert resolve(user="u", database="d2", environ=NO_ENV).dbname == "d2"


# --------------------------------------------------------------------------------------
# Environment and precedence
# --------------------------------------------------------------------------------------

ENVIRONMENT = {
    "PGHOST": "env-host",
    "PGPORT": "6001",
    "PGUSER": "env-user",
    "PGPASSWORD": "env-pw",
    "PGDATABASE": "env-db",
    "PGAPPNAME": "env-app",
    "PGCONNECT_TIMEOUT": "9",
    "PGOPTIONS": "-c work_mem=64kB",
    "PGSSLMODE": "disable",
}


def test_environment_fills_in_every_parameter() -> None:
    info = resolve(environ=ENVIRONMENT)
    assert info == ConnectInfo(
        host="env-host",
        port=6001,
        user="env-user",
        dbname="env-db",
        password="env-pw",
        application_name="env-app",
        connect_timeout=9.0,
        options="-c work_mem=64kB",
        sslmode="disable",
    )


def test_empty_environment_variables_are_ignored() -> None:
    info = resolve(environ={"PGHOST": "", "PGUSER": "u", "PGPORT": ""})
    assert info.port == 5432
    assert info.host != ""


def test_dsn_overrides_the_environment() -> None:
    info = resolve("postgresql://dsn-user@dsn-host/dsn-db", environ=ENVIRONMENT)
    assert (info.host, info.user, info.dbname) == ("dsn-host", "dsn-user", "dsn-db")
    assert info.port == 6001  # not in the DSN: from the environment
    assert info.password == "env-pw"


def test_keyword_arguments_override_the_dsn_and_the_environment() -> None:
    info = resolve(
        "postgresql://dsn-user:dsn-pw@dsn-host:7000/dsn-db",
        environ=ENVIRONMENT,
        host="kw-host",
        password="kw-pw",
    )
    assert (info.host, info.password) == ("kw-host", "kw-pw")
    assert (info.user, info.port, info.dbname) == ("dsn-user", 7000, "dsn-db")
    assert info.application_name == "env-app"


def test_keyword_argument_none_does_not_override() -> None:
    info = resolve("user=u password=pw", environ=NO_ENV, password=None)
    assert info.password == "pw"


def test_keyword_argument_port_may_be_an_int() -> None:
    assert resolve(user="u", port=6000, environ=NO_ENV).port == 6000


def test_dbname_defaults_to_the_user() -> None:
    assert resolve(user="bob", host="h", environ=NO_ENV).dbname == "bob"


def test_host_defaults_to_a_socket_directory_or_localhost() -> None:
    host = resolve(user="u", environ=NO_ENV).host
    assert host in ("/var/run/postgresql", "/tmp", "localhost")


def test_hostaddr_is_the_address_connected_to_and_host_the_name_checked() -> None:
    info = resolve(user="u", host="db.example", hostaddr="192.0.2.7", environ=NO_ENV)
    assert (info.host, info.hostaddr) == ("db.example", "192.0.2.7")
    assert info.hosts[0].address == "192.0.2.7"
    assert info.hosts[0].server_name == "db.example"


def test_hostaddr_alone_is_enough() -> None:
    info = resolve(user="u", hostaddr="192.0.2.7", environ=NO_ENV)
    assert info.hosts[0].address == "192.0.2.7"
    assert not info.is_unix_socket


def test_hostaddr_must_be_numeric() -> None:
    with pytest.raises(InterfaceError, match=r"invalid hostaddr 'db\.example'"):
        resolve(user="u", hostaddr="db.example", environ=NO_ENV)


def test_fallback_application_name_applies_only_without_application_name() -> None:
    assert resolve(user="u", fallback_application_name="fb", environ=NO_ENV).application_name == (
        "fb"
    )
    info = resolve(user="u", application_name="app", fallback_application_name="fb", environ={})
    assert info.application_name == "app"


# --------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: resolve("host=h frobnicate=1", environ=NO_ENV),
        lambda: resolve("postgresql://h/d?frobnicate=1", environ=NO_ENV),
        lambda: resolve(host="h", frobnicate=1, environ=NO_ENV),
    ],
    ids=["keyword-dsn", "uri", "keyword-argument"],
)
def test_unknown_parameter_is_refused_by_name(make: object) -> None:
    with pytest.raises(InterfaceError, match="unknown connection parameter 'frobnicate'"):
        make()  # type: ignore[operator]


@pytest.mark.parametrize("port", ["abc", "5432x", "0", "65536", "-1"])
def test_bad_port_is_refused(port: str) -> None:
    with pytest.raises(InterfaceError, match="invalid port"):
        resolve(user="u", host="h", port=port, environ=NO_ENV)


def test_bad_port_from_the_environment_is_refused() -> None:
    with pytest.raises(InterfaceError, match="invalid port 'five'"):
        resolve(environ={"PGPORT": "five", "PGUSER": "u"})


def test_empty_port_means_the_default_port() -> None:
    assert resolve(user="u", host="h", port="", environ=NO_ENV).port == 5432


@pytest.mark.parametrize("sslmode", ["require", "verify-ca", "verify-full"])
def test_sslmode_that_needs_tls_is_accepted(sslmode: str) -> None:
    assert resolve(f"postgresql://u@h/d?sslmode={sslmode}", environ=NO_ENV).sslmode == sslmode


def test_sslmode_defaults_to_prefer_like_libpq() -> None:
    assert resolve(user="u", environ=NO_ENV).sslmode == "prefer"


def test_sslmode_from_the_environment() -> None:
    assert resolve(environ={"PGSSLMODE": "require", "PGUSER": "u"}).sslmode == "require"


@pytest.mark.parametrize("sslmode", ["disable", "allow", "prefer"])
def test_sslmode_that_allows_plaintext_is_accepted(sslmode: str) -> None:
    assert resolve(user="u", sslmode=sslmode, environ=NO_ENV).sslmode == sslmode


def test_unknown_sslmode_is_refused() -> None:
    with pytest.raises(InterfaceError, match="invalid sslmode 'sometimes'"):
        resolve(user="u", sslmode="sometimes", environ=NO_ENV)


def test_several_hosts_with_their_ports_from_a_uri() -> None:
    info = resolve("postgresql://u@h1:5432,h2:5433,[::1]/d", environ=NO_ENV)
    assert [(h.host, h.port) for h in info.hosts] == [("h1", 5432), ("h2", 5433), ("::1", 5432)]
    assert (info.host, info.port) == ("h1", 5432)


def test_several_hosts_share_a_single_port() -> None:
    info = resolve("host=a,b,c port=6000 user=u", environ=NO_ENV)
    assert [h.port for h in info.hosts] == [6000, 6000, 6000]


def test_port_count_must_match_the_host_count() -> None:
    with pytest.raises(InterfaceError, match="could not match 2 port numbers to 3 hosts"):
        resolve("host=a,b,c port=1,2 user=u", environ=NO_ENV)


def test_hostaddr_count_must_match_the_host_count() -> None:
    with pytest.raises(InterfaceError, match="could not match 2 host names to 1 hostaddr values"):
        resolve("host=a,b hostaddr=192.0.2.1 user=u", environ=NO_ENV)


def test_empty_host_in_a_list_means_the_default_host() -> None:
    info = resolve("host=a, port=1,2 user=u", environ=NO_ENV)
    assert info.hosts[1].host in ("/var/run/postgresql", "/tmp", "localhost")


@pytest.mark.parametrize(
    ("value", "seconds"), [("10", 10.0), ("2.5", 2.5), ("0", None), ("-3", None)]
)
def test_connect_timeout_in_seconds_and_zero_means_forever(
    value: str, seconds: float | None
) -> None:
    assert resolve(user="u", connect_timeout=value, environ=NO_ENV).connect_timeout == seconds


def test_bad_connect_timeout_is_refused() -> None:
    with pytest.raises(InterfaceError, match="connect_timeout 'soon'"):
        resolve(user="u", connect_timeout="soon", environ=NO_ENV)


@pytest.mark.parametrize("encoding", ["UTF8", "utf8", "UTF-8", "unicode"])
def test_utf8_client_encoding_is_accepted(encoding: str) -> None:
    resolve(user="u", client_encoding=encoding, environ=NO_ENV)


def test_other_client_encoding_is_not_supported() -> None:
    with pytest.raises(NotSupportedError, match="LATIN1"):
        resolve(user="u", client_encoding="LATIN1", environ=NO_ENV)


# --------------------------------------------------------------------------------------
# ConnectInfo
# --------------------------------------------------------------------------------------


def test_connect_info_repr_hides_the_password() -> None:
    info = resolve("postgresql://alice:s3cr3t-value@h/d", environ=NO_ENV)
    assert "s3cr3t-value" not in repr(info)
    assert "s3cr3t-value" not in str(info)
    assert "alice" in repr(info)


def test_connect_info_repr_hides_a_password_callable() -> None:
    def token() -> str:
        return "s3cr3t-token"

    info = resolve(user="u", password=token, environ=NO_ENV)
    assert info.password is token
    assert "token" not in repr(info)


def test_startup_parameters_fix_the_session_settings_the_codecs_need() -> None:
    info = resolve(user="u", dbname="d", application_name="app", options="-c x=y", environ=NO_ENV)
    assert info.startup_params() == {
        "user": "u",
        "database": "d",
        "client_encoding": "UTF8",
        "application_name": "app",
        "options": "-c x=y",
        "DateStyle": "ISO, MDY",
        "IntervalStyle": "postgres",
    }


def test_startup_parameters_leave_out_what_was_not_given() -> None:
    params = resolve(user="u", environ=NO_ENV).startup_params()
    assert "application_name" not in params
    assert "options" not in params
    assert "password" not in params


# --------------------------------------------------------------------------------------
# TLS, authentication and protocol settings
# --------------------------------------------------------------------------------------


def test_every_tls_setting_from_a_uri() -> None:
    info = resolve(
        "postgresql://u@h/d?sslmode=verify-full&sslnegotiation=direct&sslrootcert=/ca.pem"
        "&sslcert=/c.crt&sslkey=/c.key&sslpassword=kp&sslcrl=/r.crl&sslcrldir=/crls&sslsni=0"
        "&ssl_min_protocol_version=TLSv1.3",
        environ=NO_ENV,
    )
    assert (info.sslmode, info.sslnegotiation, info.sslrootcert) == (
        "verify-full",
        "direct",
        "/ca.pem",
    )
    assert (info.sslcert, info.sslkey, info.sslcrl, info.sslcrldir) == (
        "/c.crt",
        "/c.key",
        "/r.crl",
        "/crls",
    )
    assert info.sslpassword == "kp"
    assert "kp" not in repr(info)
    assert info.sslsni is False
    assert info.ssl_min_protocol_version == "TLSv1.3"


def test_every_environment_variable_of_the_issue() -> None:
    info = resolve(
        environ={
            "PGUSER": "u",
            "PGSSLMODE": "verify-ca",
            "PGSSLNEGOTIATION": "direct",
            "PGSSLROOTCERT": "/ca",
            "PGSSLCERT": "/c",
            "PGSSLKEY": "/k",
            "PGCHANNELBINDING": "require",
            "PGTARGETSESSIONATTRS": "read-write",
            "PGLOADBALANCEHOSTS": "random",
            "PGREQUIREAUTH": "scram-sha-256",
            "PGMINPROTOCOLVERSION": "3.2",
            "PGPASSFILE": "/nonexistent/pgpass",
        }
    )
    assert (info.sslmode, info.sslnegotiation, info.sslrootcert) == ("verify-ca", "direct", "/ca")
    assert (info.sslcert, info.sslkey, info.channel_binding) == ("/c", "/k", "require")
    assert (info.target_session_attrs, info.load_balance_hosts) == ("read-write", "random")
    assert info.require_auth is not None and info.require_auth.allowed == {"scram-sha-256"}
    assert (info.min_protocol_version, info.max_protocol_version) == ((3, 2), (3, 2))
    assert info.passfile == "/nonexistent/pgpass"


def test_ssl_true_in_a_uri_means_require() -> None:
    assert resolve("postgresql://u@h/d?ssl=true", environ=NO_ENV).sslmode == "require"


def test_sslrootcert_system_defaults_to_verify_full() -> None:
    assert resolve(user="u", sslrootcert="system", environ=NO_ENV).sslmode == "verify-full"


def test_sslrootcert_system_refuses_a_weaker_sslmode() -> None:
    with pytest.raises(InterfaceError, match='weak sslmode "verify-ca" may not be used'):
        resolve(user="u", sslrootcert="system", sslmode="verify-ca", environ=NO_ENV)


@pytest.mark.parametrize("sslmode", ["disable", "allow", "prefer"])
def test_direct_negotiation_refuses_a_weak_sslmode(sslmode: str) -> None:
    with pytest.raises(InterfaceError, match=f'weak sslmode "{sslmode}"'):
        resolve(user="u", sslmode=sslmode, sslnegotiation="direct", environ=NO_ENV)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("sslnegotiation", "sometimes"),
        ("channel_binding", "maybe"),
        ("target_session_attrs", "writable"),
        ("load_balance_hosts", "roundrobin"),
        ("min_protocol_version", "3.1"),
        ("ssl_min_protocol_version", "TLSv9"),
        ("sslsni", "yes"),
    ],
)
def test_invalid_values_are_refused_by_name(name: str, value: str) -> None:
    with pytest.raises(InterfaceError, match=f"invalid {name} '{value}'"):
        resolve(user="u", environ=NO_ENV, **{name: value})


def test_tls_below_1_2_is_not_supported() -> None:
    with pytest.raises(NotSupportedError, match=r"TLS 1\.2 and later"):
        resolve(user="u", ssl_min_protocol_version="TLSv1.1", environ=NO_ENV)


def test_tls_version_range_must_be_ordered() -> None:
    with pytest.raises(InterfaceError, match="ssl_min_protocol_version is greater"):
        resolve(
            user="u",
            ssl_min_protocol_version="TLSv1.3",
            ssl_max_protocol_version="TLSv1.2",
            environ=NO_ENV,
        )


def test_protocol_version_defaults_to_3_0_and_latest_means_3_2() -> None:
    info = resolve(user="u", environ=NO_ENV)
    assert (info.min_protocol_version, info.max_protocol_version) == ((3, 0), (3, 0))
    info = resolve(user="u", max_protocol_version="latest", environ=NO_ENV)
    assert info.max_protocol_version == (3, 2)


def test_min_protocol_version_above_max_is_refused() -> None:
    with pytest.raises(InterfaceError, match="min_protocol_version is greater"):
        resolve(user="u", min_protocol_version="3.2", max_protocol_version="3.0", environ=NO_ENV)


def test_require_auth_is_parsed_when_resolving() -> None:
    with pytest.raises(InterfaceError, match="cannot be mixed"):
        resolve(user="u", require_auth="md5,!password", environ=NO_ENV)


@pytest.mark.parametrize("name", ["service", "keepalives", "requirepeer", "replication"])
def test_libpq_parameters_pgwire_does_not_implement_are_refused_by_name(name: str) -> None:
    with pytest.raises(NotSupportedError, match=f"'{name}' is a libpq parameter"):
        resolve(user="u", environ=NO_ENV, **{name: "1"})


def test_gssencmode_require_is_not_supported_but_prefer_is_harmless() -> None:
    resolve(user="u", gssencmode="prefer", environ=NO_ENV)
    with pytest.raises(NotSupportedError, match="GSSAPI"):
        resolve(user="u", gssencmode="require", environ=NO_ENV)


def test_uri_with_an_unclosed_ipv6_bracket_is_refused() -> None:
    with pytest.raises(InterfaceError, match="closing bracket"):
        parse_dsn("postgresql://u@[::1/d")


# --------------------------------------------------------------------------------------
# The password file
# --------------------------------------------------------------------------------------


def _passfile(tmp_path: Path, text: str, mode: int = 0o600) -> str:
    path = tmp_path / "pgpass"
    path.write_text(text)
    path.chmod(mode)
    return str(path)


def _password(passfile: str, dsn: str = "host=db port=5433 dbname=sales user=alice") -> object:
    return resolve(dsn, environ={"PGPASSFILE": passfile}).hosts[0].passfile_password


def test_pgpass_first_matching_line_wins(tmp_path: Path) -> None:
    passfile = _passfile(
        tmp_path,
        "# comment\nother:5433:sales:alice:no\ndb:5433:sales:alice:yes\n*:*:*:*:later\n",
    )
    assert _password(passfile) == "yes"


def test_pgpass_wildcards_match_anything(tmp_path: Path) -> None:
    assert _password(_passfile(tmp_path, "*:*:*:alice:star\n")) == "star"


def test_pgpass_escapes_colons_and_backslashes(tmp_path: Path) -> None:
    passfile = _passfile(tmp_path, "db:5433:sales:alice:a\\:b\\\\c\n")
    assert _password(passfile) == "a:b\\c"


def test_pgpass_escaped_star_is_not_a_wildcard(tmp_path: Path) -> None:
    assert _password(_passfile(tmp_path, "\\*:*:*:*:literal\n")) is None


def test_pgpass_default_socket_directory_matches_localhost(tmp_path: Path) -> None:
    passfile = _passfile(tmp_path, "localhost:5432:*:alice:local\n")
    assert _password(passfile, "host=/tmp user=alice") == "local"


def test_pgpass_is_not_read_when_a_password_is_given(tmp_path: Path) -> None:
    passfile = _passfile(tmp_path, "*:*:*:*:from-file\n")
    info = resolve("user=alice password=given", environ={"PGPASSFILE": passfile})
    assert info.password == "given"
    assert info.hosts[0].passfile_password is None


def test_pgpass_readable_by_others_is_ignored_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    passfile = _passfile(tmp_path, "*:*:*:*:secret-in-file\n", mode=0o644)
    assert _password(passfile) is None
    assert "has group or world access" in caplog.text
    assert "secret-in-file" not in caplog.text


def test_pgpass_in_home_is_the_default(tmp_path: Path) -> None:
    Path(_passfile(tmp_path, "*:*:*:*:home\n")).rename(tmp_path / ".pgpass")
    info = resolve("user=alice host=h", environ={"HOME": str(tmp_path)})
    assert info.hosts[0].passfile_password == "home"


def test_pgpass_is_looked_up_for_each_host(tmp_path: Path) -> None:
    passfile = _passfile(tmp_path, "a:*:*:*:for-a\nb:*:*:*:for-b\n")
    info = resolve("host=a,b user=u", environ={"PGPASSFILE": passfile})
    assert [h.passfile_password for h in info.hosts] == ["for-a", "for-b"]
    assert "for-a" not in repr(info)
