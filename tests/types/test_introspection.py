"""Types the database defines, looked up in the catalog once per registry (real PostgreSQL 18).

`TypedConnection` (conftest) runs `IntrospectTypes` for the OIDs a statement uses that the
registry does not know, as the drivers will.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

import pgwire
from pgwire.errors import DataError
from pgwire.record import Record
from pgwire.types import Range, default_registry
from pgwire.types.introspect import IntrospectTypes, introspection_query
from tests.pg import TRUST_USER, PostgresServer
from tests.types.conftest import TypedConnection


@pytest.fixture(scope="module")
def schema(pg_server: PostgresServer) -> Iterator[str]:
    """A schema of user types: an enum, a domain, composites, a range, and hstore."""
    name = f"s_{uuid.uuid4().hex[:8]}"
    pg_server.psql(
        f"""CREATE EXTENSION IF NOT EXISTS hstore;
        CREATE SCHEMA {name}; GRANT USAGE ON SCHEMA {name} TO PUBLIC;
        CREATE TYPE {name}.mood AS ENUM ('sad', 'ok', 'happy');
        CREATE DOMAIN {name}.posint AS int CHECK (VALUE > 0);
        CREATE DOMAIN {name}.tags AS text[];
        CREATE TYPE {name}.inner_t AS (x int, tags text[]);
        CREATE TYPE {name}.outer_t AS (id int, m {name}.mood, i {name}.inner_t, h hstore,
                                       p {name}.posint, dropme int);
        ALTER TYPE {name}.outer_t DROP ATTRIBUTE dropme;
        CREATE TYPE {name}.floatrange AS RANGE (subtype = float8);
        CREATE TYPE {name}.moodrange AS RANGE (subtype = {name}.mood);"""
    )
    yield name
    pg_server.psql(f"DROP SCHEMA {name} CASCADE")


def test_enum_domain_and_composite_values_decode_and_encode(
    tconn: TypedConnection, schema: str
) -> None:
    row = tconn.fetchrow(
        f"SELECT 'ok'::{schema}.mood, 5::{schema}.posint, ARRAY[5, 6]::{schema}.posint[],"
        f" ROW(1, 'happy', ROW(2, ARRAY['a', NULL]), 'k=>v', 3)::{schema}.outer_t"
    )
    assert row is not None
    mood, posint, posints, outer = row
    assert (mood, posint, posints) == ("ok", 5, [5, 6])
    assert isinstance(outer, Record)
    assert outer == (1, "happy", (2, ["a", None]), {"k": "v"}, 3)
    assert outer["i"]["tags"] == ["a", None]
    sent = (7, "sad", (8, ["b"]), {"a": None}, 9)
    assert tconn.fetchval(f"SELECT $1::{schema}.outer_t", sent) == sent
    by_name = {"id": 1, "m": "ok", "i": {"x": 2, "tags": []}, "h": {}, "p": 1}
    assert tconn.fetchval(f"SELECT $1::{schema}.outer_t", by_name) == (1, "ok", (2, []), {}, 1)
    assert tconn.fetchval(f"SELECT $1::{schema}.mood[]", ["sad", "happy"]) == ["sad", "happy"]


def test_each_unknown_oid_is_looked_up_once_per_registry(
    tconn: TypedConnection, schema: str
) -> None:
    tconn.fetchval(f"SELECT 'ok'::{schema}.mood")
    tconn.fetchval(f"SELECT 'sad'::{schema}.mood")
    tconn.fetchval(f"SELECT ARRAY['sad'::{schema}.mood]")  # the array type came with the enum?
    assert tconn.introspections <= 2
    before = tconn.introspections
    tconn.fetchval(f"SELECT ARRAY['sad'::{schema}.mood], 'ok'::{schema}.mood")
    assert tconn.introspections == before


def test_ranges_and_multiranges_of_user_types(tconn: TypedConnection, schema: str) -> None:
    row = tconn.fetchrow(
        f"SELECT '[1.5,2.5)'::{schema}.floatrange, '{{[1,2), [3,4]}}'::{schema}.floatmultirange,"
        f" '[sad,happy]'::{schema}.moodrange"
    )
    assert row is not None
    assert row[0] == Range(1.5, 2.5)
    assert row[1] == [Range(1.0, 2.0), Range(3.0, 4.0, "[]")]
    assert row[2] == Range("sad", "happy", "[]")
    assert tconn.fetchval(f"SELECT $1::{schema}.moodrange", Range("ok", None)) == Range("ok", None)


def test_hstore_is_found_by_name(tconn: TypedConnection, schema: str) -> None:
    value = {"a": "1", "b": None, 'quote"s': "back\\slash", "": "ü"}
    assert tconn.fetchval("SELECT $1::hstore", value) == value
    assert tconn.fetchval("SELECT ARRAY[$1::hstore]", value) == [value]
    text = tconn.fetchval("SELECT $1::hstore::text", value)
    oid = tconn.registry._oids_by_name["hstore"]
    assert tconn.registry.decoder(oid, 0)(text.encode()) == value


def test_register_by_name_overrides_codecs_before_and_after_the_lookup(
    pg_server: PostgresServer, schema: str
) -> None:
    registry = default_registry()
    registry.register_by_name(f"{schema}.mood", binary_decoder=lambda b: b.decode().upper())
    with pgwire.connect(pg_server.dsn(TRUST_USER.name), registry=registry) as conn:
        typed = TypedConnection(conn)
        assert typed.fetchval(f"SELECT 'ok'::{schema}.mood") == "OK"
        registry.register_by_name("hstore", binary_decoder=lambda b: "custom")
        typed.fetchval("SELECT 'a=>b'::hstore")  # already resolved: applied at once
        assert typed.fetchval("SELECT 'a=>c'::hstore") == "custom"


def test_copies_of_a_registry_are_independent(pg_server: PostgresServer, schema: str) -> None:
    template = default_registry()
    template.register_by_name(f"{schema}.mood", binary_decoder=lambda b: ("mood", b.decode()))
    first, second = template.copy(), template.copy()
    second.register_by_name(f"{schema}.mood", binary_decoder=lambda b: ("second", b.decode()))
    values = []
    for registry in (first, second, template.copy()):
        with pgwire.connect(pg_server.dsn(TRUST_USER.name), registry=registry) as conn:
            values.append(TypedConnection(conn).fetchval(f"SELECT 'ok'::{schema}.mood"))
    assert values == [("mood", "ok"), ("second", "ok"), ("mood", "ok")]
    assert template.unknown(
        [first._oids_by_name[f"{schema}.mood"]]
    )  # the template looked nothing up


def test_a_base_type_without_codec_reads_as_text_and_is_not_looked_up_again(
    tconn: TypedConnection, schema: str
) -> None:
    tconn.conn.execute("CREATE TEMP TABLE cube_free (v tsvector)")
    assert tconn.fetchval("SELECT 'a b'::tsvector") == "'a' 'b'"  # built-in: no lookup at all
    assert tconn.introspections == 0


def test_introspection_failure_is_logged_and_leaves_text(
    tconn: TypedConnection, caplog: pytest.LogCaptureFixture
) -> None:
    operation = IntrospectTypes([123456], tconn.registry)
    operation._messages = [type(operation.messages[0])("SELECT no_such_column FROM pg_type")]
    tconn.conn._run(operation)
    assert "could not look up types [123456]" in caplog.text
    assert not tconn.registry.unknown([123456])


def test_introspection_query_takes_only_oids() -> None:
    assert "'{1,2}'" in introspection_query([2, 1, 2])
    with pytest.raises(ValueError):
        introspection_query([0])


def test_anonymous_record_cannot_be_a_parameter(tconn: TypedConnection) -> None:
    with pytest.raises(DataError, match="anonymous record"):
        tconn.conn.fetchval("SELECT ARRAY[$1::record]", (1, 2))


def test_record_fields_of_types_without_binary_codec_come_back_as_bytes(
    tconn: TypedConnection,
) -> None:
    value: Any = tconn.fetchval("SELECT ROW(1, 'a b'::tsvector)")
    assert value[0] == 1 and isinstance(value[1], bytes)
