"""Codecs for json and jsonb, built around a configurable loads/dumps pair.

json's binary format is its text; jsonb's binary format is a version byte (1) and then the text.
Decoders hand the JSON text, as bytes, to ``loads`` (``json.loads`` by default; orjson.loads
also takes bytes). Encoders send **every** value through ``dumps``: a dict, a list, a number, a
bool and a str alike, so the str 'abc' is sent as the JSON string "abc". To send JSON text you
already have, pass ``json.loads(text)``, or cast the parameter in SQL (``$1::text::jsonb``). SQL
NULL is ``None`` and never reaches an encoder; the JSON ``null`` cannot be sent as a parameter.

The default dumps writes compact UTF-8 and refuses NaN and the infinities, which are not JSON and
which PostgreSQL would refuse anyway. This module must not import the registry.
"""

import json
from collections.abc import Callable
from typing import Any, NamedTuple

from pgwire.errors import DataError
from pgwire.types.base import Decoder, Encoder

JsonLoads = Callable[[bytes], Any]
JsonDumps = Callable[[Any], "str | bytes"]

default_loads: JsonLoads = json.loads
default_dumps: JsonDumps = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, separators=(",", ":")
).encode


class JsonCodecs(NamedTuple):
    decode_json: Decoder  # json in both formats, jsonb in text format
    decode_jsonb_binary: Decoder
    encode_json: Encoder
    encode_jsonb: Encoder


def json_codecs(loads: JsonLoads, dumps: JsonDumps) -> JsonCodecs:
    """The four json/jsonb codec functions, bound to `loads` and `dumps`."""

    def decode_jsonb_binary(data: bytes) -> Any:
        if data[:1] != b"\x01":
            raise DataError(
                f"unsupported jsonb binary format version {data[:1]!r}: expected b'\\x01'; "
                "read jsonb in text format"
            )
        return loads(data[1:])

    def encode_json(value: Any) -> bytes:
        try:
            text = dumps(value)
        except (TypeError, ValueError) as exc:
            raise DataError(f"cannot encode {type(value).__name__} as json: {exc}") from exc
        if isinstance(text, str):
            try:
                return text.encode()
            except UnicodeEncodeError as exc:
                raise DataError(f"cannot encode json text as UTF-8: {exc}") from None
        return text

    def encode_jsonb(value: Any) -> bytes:
        return b"\x01" + encode_json(value)

    return JsonCodecs(loads, decode_jsonb_binary, encode_json, encode_jsonb)
