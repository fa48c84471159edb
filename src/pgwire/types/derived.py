"""Codecs of derived types (arrays, ranges, multiranges, domains, composites, records),
built from the codecs of their parts that a :class:`~pgwire.types.registry.TypeRegistry`
holds. The registry calls :func:`build_derived` once per type and caches the result.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from pgwire.errors import InterfaceError
from pgwire.types import arrays, composite, ranges
from pgwire.types.base import BINARY, TEXT, Decoder, Encoder

if TYPE_CHECKING:
    from pgwire.types.registry import TypeRegistry

__all__ = ["Derived", "build_derived"]


class Derived(NamedTuple):
    """The codecs of a type built from the codecs of other types (array, range, ...)."""

    text_decoder: Decoder
    binary_decoder: Decoder | None
    encoder: tuple[int, Encoder]

    @property
    def binary(self) -> bool:
        return self.binary_decoder is not None and self.encoder[0] == BINARY


def build_derived(
    registry: TypeRegistry, oid: int, name: str, kind: tuple[Any, ...]
) -> Derived | None:
    """The codecs of the derived type ``oid`` called ``name``, from the codecs ``registry``
    has for its parts; ``kind`` is what the registry recorded: ``("array", element,
    delimiter)``, ``("range", subtype)``, ``("multirange", range)``, ``("domain", base)``,
    ``("composite", names, field oids)`` or ``("record",)``. ``None`` if a part is
    missing."""
    tag = kind[0]
    if tag == "array":
        element, delimiter = kind[1], kind[2]
        text_element = registry.decoder(element, TEXT)

        def decode_array_text(data: bytes) -> list[Any]:
            return arrays.parse_array_text(data, text_element, delimiter)

        if registry.has_binary(element):
            return Derived(
                decode_array_text,
                arrays.binary_array_decoder(element, registry.decoder(element, BINARY), name),
                (BINARY, arrays.binary_array_encoder(element, registry.encoder(element)[1], name)),
            )
        encode = arrays.text_array_encoder(registry.text_encoder(element), name, delimiter)
        return Derived(decode_array_text, None, (TEXT, encode))
    if tag in ("range", "multirange"):
        range_oid = oid if tag == "range" else kind[1]
        range_kind = registry.kind(range_oid)
        if range_kind is None or range_kind[0] != "range":
            return None
        subtype = range_kind[1]
        text_bound = registry.decoder(subtype, TEXT)
        many = tag == "multirange"
        text_decoder = (
            ranges.text_multirange_decoder(text_bound, name)
            if many
            else ranges.text_range_decoder(text_bound, name)
        )
        if registry.has_binary(subtype):
            bound_decoder = registry.decoder(subtype, BINARY)
            bound_encoder = registry.encoder(subtype)[1]
            if many:
                return Derived(
                    text_decoder,
                    ranges.binary_multirange_decoder(bound_decoder, name),
                    (BINARY, ranges.binary_multirange_encoder(bound_encoder, name)),
                )
            return Derived(
                text_decoder,
                ranges.binary_range_decoder(bound_decoder, name),
                (BINARY, ranges.binary_range_encoder(bound_encoder, name)),
            )
        text_encoder = ranges.text_range_encoder(registry.text_encoder(subtype), name, many)
        return Derived(text_decoder, None, (TEXT, text_encoder))
    if tag == "domain":
        base = kind[1]
        return Derived(
            registry.decoder(base, TEXT),
            registry.decoder(base, BINARY) if registry.has_binary(base) else None,
            registry.encoder(base),
        )
    if tag == "composite":
        names, field_oids = kind[1], kind[2]
        text_decoder = composite.text_composite_decoder(
            name, names, [registry.decoder(f, TEXT) for f in field_oids]
        )
        if all(registry.has_binary(f) for f in field_oids):
            return Derived(
                text_decoder,
                composite.binary_composite_decoder(
                    name, names, field_oids, [registry.decoder(f, BINARY) for f in field_oids]
                ),
                (
                    BINARY,
                    composite.binary_composite_encoder(
                        name, names, field_oids, [registry.encoder(f)[1] for f in field_oids]
                    ),
                ),
            )
        text_encoder = composite.text_composite_encoder(
            name, names, [registry.text_encoder(f) for f in field_oids]
        )
        return Derived(text_decoder, None, (TEXT, text_encoder))
    if tag == "record":
        field_decoders: dict[int, Decoder] = {}

        def field_decoder(field_oid: int) -> Decoder:
            found = field_decoders.get(field_oid)
            if found is None:
                found = field_decoders[field_oid] = registry.decoder(field_oid, BINARY)
            return found

        return Derived(
            composite.decode_record_text,
            composite.binary_record_decoder(field_decoder),
            (BINARY, composite.encode_record),
        )
    raise InterfaceError(f"unknown kind of type {tag!r} for oid {oid}")
