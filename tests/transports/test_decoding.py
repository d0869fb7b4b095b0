"""Bounded decoding of a compressed body (what both transports stream through)."""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wxa_async import WxaDecodeError
from wxa_async.transports import decoded_chunks


def _compress(data: bytes, encoding: str) -> bytes:
    if encoding in ("gzip", "x-gzip"):
        packer = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    elif encoding == "deflate":
        packer = zlib.compressobj(6, zlib.DEFLATED, zlib.MAX_WBITS)
    elif encoding == "raw-deflate":  # what some servers send as "deflate"
        packer = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    else:
        return data
    return packer.compress(data) + packer.flush()


async def _pieces(body: bytes, cuts: list[int]) -> AsyncIterator[bytes]:
    start = 0
    for cut in sorted(set(cuts)):
        if start < cut < len(body):
            yield body[start:cut]
            start = cut
    yield body[start:]


@settings(max_examples=150, deadline=None)
@given(
    data=st.one_of(st.binary(max_size=5000), st.integers(0, 300_000).map(bytes)),
    encoding=st.sampled_from(["", "identity", "gzip", "x-gzip", "deflate", "raw-deflate"]),
    cuts=st.lists(st.integers(0, 6000), max_size=8),
    chunk_size=st.sampled_from([1, 7, 1024, 65536]),
)
async def test_any_body_in_any_pieces_decodes_whole_in_bounded_chunks(
    data: bytes, encoding: str, cuts: list[int], chunk_size: int
) -> None:
    body = _compress(data, encoding)
    name = "deflate" if encoding == "raw-deflate" else encoding
    out = [c async for c in decoded_chunks(_pieces(body, cuts), name, chunk_size)]
    assert b"".join(out) == data
    assert all(0 < len(c) <= chunk_size for c in out)


async def test_a_corrupt_body_and_an_unknown_encoding_are_decode_errors() -> None:
    with pytest.raises(WxaDecodeError, match="corrupt"):
        [c async for c in decoded_chunks(_pieces(b"\x1f\x8b\x08garbage" * 9, []), "gzip")]
    with pytest.raises(WxaDecodeError, match="unsupported Content-Encoding 'br'"):
        decoded_chunks(_pieces(b"x", []), "br")
