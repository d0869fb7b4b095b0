"""MessageCrypto against WeChat's published sample vectors, round trips and every rejection."""

from __future__ import annotations

import base64
import pickle
import sys
import tracemalloc
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

import wxa_async.push._crypto as crypto_module
from wxa_async import (
    WxaBodyTooLargeError,
    WxaError,
    WxaSignatureError,
    WxaValidationError,
    WxaXmlError,
)
from wxa_async.push import MessageCrypto, parse_xml

# --- WeChat's published samples (WXBizMsgCrypt sample code, all languages) -------------
SAMPLE_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"

# Java WXBizMsgCryptTest: fixed random prefix "aaaabbbbccccdddd".
A_TOKEN, A_APPID = "pamtest", "wxb11529c136998cb6"
A_TIMESTAMP, A_NONCE = "1409304348", "xxxxxx"
A_PLAINTEXT = "我是中文abcd123"
A_CIPHERTEXT = (
    "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg=="
)

# Python Sample.py (decrypting a pushed text message, compatible-mode body).
C_TOKEN, C_APPID = "spamtest", "wx2c2769f8efd9abc2"
C_TIMESTAMP, C_NONCE = "1409735669", "1320562132"
C_MSG_SIGNATURE = "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
C_ENCRYPT = (
    "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8"
    "PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa"
    "+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8t"
    "COp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvn"
    "hvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE="
)
C_BODY = (
    "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>"
    "<FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName>"
    "<CreateTime>1409735668</CreateTime><MsgType><![CDATA[text]]></MsgType>"
    "<Content><![CDATA[abcdteT]]></Content><MsgId>6054768590064713728</MsgId>"
    f"<Encrypt><![CDATA[{C_ENCRYPT}]]></Encrypt></xml>"
)
C_PLAINTEXT = (
    "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>\n"
    "<FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName>\n"
    "<CreateTime>1409735668</CreateTime>\n"
    "<MsgType><![CDATA[text]]></MsgType>\n"
    "<Content><![CDATA[abcdteT]]></Content>\n"
    "<MsgId>6054768590064713728</MsgId>\n"
    "</xml>"
)

# C++ Sample.cpp (same key and appid, safe-mode envelope).
D_TIMESTAMP, D_NONCE = "1410349438", "298025754"
D_MSG_SIGNATURE = "003fee52ecc56afb46c00b5c7721be87860ce785"
D_ENCRYPT = (
    "mfBCs65c67CeJw22u4VT2TD73q5H06+ocrAIxswCaeZ/d/Lw0msSZFHY0teqgSYiI1zR2gD2DKrB3TIrmX/liNSDrGqS"
    "8jSI/WPeKB5VPr7Ezr7gomZAyGCwJSgT1TRFWPfONGJMxuj2nk4faTuspAuVIFQ6SHwZuJBZC7mcJp7Cgr9cUhATQWDb"
    "OPaE7ukZBTV2YqyzH+UI2AK+J1S47cE79k1RX8t0hcTz/O0hlK8DGXKnvYv88qKQcI7z4iaajqHfRVZKBNyOODabs+It"
    "+ZfM3dWTeFcPgDbGtIEnpt/EDtuuA/zMvtkaKdHdswPnVZQ+xdwbYr3ldGvfT8HlEYEgkgKaThxTFobVlwzu2ZkXCjic"
    "bP3xdr15Iq48ObgzPpqYuZ3IEoyggZDKClquk0u0orMck4GTF/XyE8yGzc4="
)

# URL verification sample (WeCom's sample uses the same scheme; receiveid = appid).
B_TOKEN, B_APPID = "QDG6eK", "wx5823bf96d3bd56c7"
B_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
B_MSG_SIGNATURE, B_TIMESTAMP, B_NONCE = (
    "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3",
    "1409659589",
    "263014780",
)
B_ECHOSTR = (
    "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
)

# Open-platform message-push doc: a component push with the all-"A" key (32 zero bytes).
E_TOKEN, E_KEY, E_APPID = "AAAAA", "A" * 43, "wx134c8103faa5a59e"
E_TIMESTAMP, E_NONCE = "1715943329", "1590219412"
E_MSG_SIGNATURE = "6c12a4205838198b8fa631b3220723bb07f1015c"
E_ENCRYPT = (
    "D7yzvUNAL930rd28wf21s4hvXhz0L6Uit/p2Di6C5DHyYGpEgdBRnKjBec34JwoQXicwaZC7fOVihW80F4VtsdvE//1v"
    "r7oAbqjDv8KenVp+ajKYpJnyQ4zMRhIC+a31fCVOMC03FfzV/QuC94kBP55a+Za3sJgvAn+ZbsNqZI5DkyuzkhQN8OB"
    "qCzFhizGmy0xpM0MEA4agpvE+RuNO1rhHTtuJB5yltw1FiYzecSXJ+y/D2r81VkRn2eYjh2ltsoyfbDR7Is6ookXIFx"
    "TfyeNyeHxMeT4KN5WpCDmSbTcUYrbBUlkGLJ9n/rU8YOywma6G7aTb7KZKOqCxgfoUlYEZPk4FUL/TK7ShriFDMVCLy"
    "jQJ15Ob++agDWtcxhfUfe6HIoIpRW8mKNBQiY/Jd1svvuskA1wLef1RTtzKfMpagSCX/laZINmdnX4zrF6kIaR9P4xQ"
    "rWXbsTFHTYe0Mg=="
)
E_REPLY = "<xml><demo_resp>[CDATA[good luck]]</demo_resp></xml>"
E_REPLY_RANDOM = b"999951349e8ee746"
E_REPLY_ENCRYPT = (
    "hE8R6mGXHkJJjU72KxzKUd1GEkKJaEZq7vRL8XgK3o+00k8JGq6+pZJUIlTSyhsX+bxIBQ72g3GyvDdIZcr6+3HAZbSv"
    "PT9t/o11MI7d6WELwqrGd7jMnV0zv3Zc9Nq7"
)
E_REPLY_TIMESTAMP, E_REPLY_NONCE = "1713424427", "415670741"
E_REPLY_SIGNATURE = "03e0812039325c2712ef5f0f980fd14c70d6e307"


def envelope(encrypt: str, to_user: str = "gh_test") -> str:
    return (
        f"<xml><ToUserName><![CDATA[{to_user}]]></ToUserName>"
        f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    )


# --- published vectors -----------------------------------------------------------------


def test_python_sample_decrypts_to_published_plaintext() -> None:
    crypto = MessageCrypto(C_TOKEN, SAMPLE_KEY, C_APPID)
    plain = crypto.decrypt_message(
        C_BODY, msg_signature=C_MSG_SIGNATURE, timestamp=C_TIMESTAMP, nonce=C_NONCE
    )
    assert plain == C_PLAINTEXT  # byte for byte: the newlines are part of the message


def test_python_sample_signature() -> None:
    crypto = MessageCrypto(C_TOKEN, SAMPLE_KEY, C_APPID)
    assert crypto.sign(C_TIMESTAMP, C_NONCE, C_ENCRYPT) == C_MSG_SIGNATURE


def test_cpp_sample_decrypts_from_bytes_body() -> None:
    crypto = MessageCrypto(C_TOKEN, SAMPLE_KEY, C_APPID)
    plain = crypto.decrypt_message(
        envelope(D_ENCRYPT, "gh_10f6c3c3ac5a").encode(),
        msg_signature=D_MSG_SIGNATURE,
        timestamp=D_TIMESTAMP,
        nonce=D_NONCE,
    )
    assert "<MsgId>6057404712141979648</MsgId>" in plain
    assert plain.startswith("<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>\n")


def test_java_sample_ciphertext_decrypts() -> None:
    crypto = MessageCrypto(A_TOKEN, SAMPLE_KEY, A_APPID)
    signature = crypto.sign(A_TIMESTAMP, A_NONCE, A_CIPHERTEXT)
    plain = crypto.decrypt_message(
        envelope(A_CIPHERTEXT), msg_signature=signature, timestamp=A_TIMESTAMP, nonce=A_NONCE
    )
    assert plain == A_PLAINTEXT


def test_java_sample_encryption_is_reproduced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(crypto_module, "_random_prefix", lambda: b"aaaabbbbccccdddd")
    crypto = MessageCrypto(A_TOKEN, SAMPLE_KEY, A_APPID)
    reply = parse_xml(crypto.encrypt_message(A_PLAINTEXT, timestamp=A_TIMESTAMP, nonce=A_NONCE))
    assert reply["Encrypt"] == A_CIPHERTEXT
    assert reply["MsgSignature"] == crypto.sign(A_TIMESTAMP, A_NONCE, A_CIPHERTEXT)
    assert reply["TimeStamp"] == A_TIMESTAMP
    assert reply["Nonce"] == A_NONCE


def test_url_verification_sample() -> None:
    crypto = MessageCrypto(B_TOKEN, B_KEY, B_APPID)
    echo = crypto.verify_url(B_MSG_SIGNATURE, B_TIMESTAMP, B_NONCE, B_ECHOSTR)
    assert echo == "1616140317555161061"
    with pytest.raises(WxaSignatureError, match="msg_signature"):
        crypto.verify_url(B_MSG_SIGNATURE, B_TIMESTAMP, "other", B_ECHOSTR)


def test_component_push_sample_with_all_a_key() -> None:
    crypto = MessageCrypto(E_TOKEN, E_KEY, E_APPID)
    plain = crypto.decrypt_message(
        envelope(E_ENCRYPT, "gh_97417a04a28d"),
        msg_signature=E_MSG_SIGNATURE,
        timestamp=E_TIMESTAMP,
        nonce=E_NONCE,
    )
    assert len(plain.encode()) == 292
    assert "<Event><![CDATA[debug_demo]]></Event>" in plain
    assert "<debug_str><![CDATA[hello world]]></debug_str>" in plain


def test_component_reply_sample_is_reproduced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(crypto_module, "_random_prefix", lambda: E_REPLY_RANDOM)
    crypto = MessageCrypto(E_TOKEN, E_KEY, E_APPID)
    reply = parse_xml(
        crypto.encrypt_message(E_REPLY, timestamp=int(E_REPLY_TIMESTAMP), nonce=E_REPLY_NONCE)
    )
    assert reply == {
        "Encrypt": E_REPLY_ENCRYPT,
        "MsgSignature": E_REPLY_SIGNATURE,
        "TimeStamp": E_REPLY_TIMESTAMP,
        "Nonce": E_REPLY_NONCE,
    }


# --- round trips -------------------------------------------------------------------------

TOKEN = "tok-SECRET-5a1"
KEY = "S3cr3tK3yS3cr3tK3yS3cr3tK3yS3cr3tK3yS3cr3tK"
APPID = "wxcomponent0001"


@pytest.fixture
def crypto() -> MessageCrypto:
    return MessageCrypto(TOKEN, KEY, APPID)


def test_reply_envelope_round_trip(crypto: MessageCrypto) -> None:
    text = "<xml><Content><![CDATA[审核通过 ✓]]></Content></xml>"
    reply = parse_xml(crypto.encrypt_message(text, timestamp="1700000000", nonce="n0nce"))
    assert set(reply) == {"Encrypt", "MsgSignature", "TimeStamp", "Nonce"}
    plain = crypto.decrypt_message(
        envelope(reply["Encrypt"]),
        msg_signature=reply["MsgSignature"],
        timestamp=reply["TimeStamp"],
        nonce=reply["Nonce"],
    )
    assert plain == text


def test_random_prefix_makes_each_encryption_different(crypto: MessageCrypto) -> None:
    first = parse_xml(crypto.encrypt_message("<xml/>", timestamp=1, nonce="n"))
    second = parse_xml(crypto.encrypt_message("<xml/>", timestamp=1, nonce="n"))
    assert first["Encrypt"] != second["Encrypt"]


@settings(max_examples=60, deadline=None)
@given(message=st.text(max_size=300))
def test_build_push_round_trip(message: str) -> None:
    crypto = MessageCrypto(TOKEN, KEY, APPID)
    body, query = crypto.build_push(message, to_user_name="gh_1", timestamp=1700000000, nonce="x")
    assert query["encrypt_type"] == "aes"
    del query["encrypt_type"]
    assert crypto.decrypt_message(body, **query) == message


def test_signature_is_case_insensitive_hex(crypto: MessageCrypto) -> None:
    body, query = crypto.build_push("<xml/>", to_user_name="gh", timestamp=5, nonce="n")
    assert crypto.decrypt_message(
        body,
        msg_signature=query["msg_signature"].upper(),
        timestamp=query["timestamp"],
        nonce=query["nonce"],
    ) == "<xml/>"


# --- rejections --------------------------------------------------------------------------

SECRET_PLAINTEXT = "<xml><Ticket>ticket@@@PLAINTEXT-SECRET</Ticket></xml>"


def raw_ciphertext(plain: bytes, key_text: str = KEY) -> str:
    """Encrypt an arbitrary (already padded) plaintext, to build malformed messages."""
    key = base64.b64decode(key_text + "=")
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


def pkcs7_32(data: bytes) -> bytes:
    pad = 32 - len(data) % 32
    return data + bytes([pad]) * pad


def signed(crypto: MessageCrypto, encrypt: str) -> dict[str, str]:
    return {
        "msg_signature": crypto.sign("1700000000", "nonce", encrypt),
        "timestamp": "1700000000",
        "nonce": "nonce",
    }


def decrypt_signed(crypto: MessageCrypto, encrypt: str) -> str:
    return crypto.decrypt_message(envelope(encrypt), **signed(crypto, encrypt))


def good_push(crypto: MessageCrypto) -> tuple[str, dict[str, str]]:
    body, query = crypto.build_push(SECRET_PLAINTEXT, to_user_name="gh", timestamp=1, nonce="n")
    del query["encrypt_type"]
    return body, query


def reject_tampered_signature(crypto: MessageCrypto) -> None:
    body, query = good_push(crypto)
    query["msg_signature"] = "0" * 40
    crypto.decrypt_message(body, **query)


def reject_tampered_ciphertext(crypto: MessageCrypto) -> None:
    body, query = good_push(crypto)
    encrypt = parse_xml(body)["Encrypt"]
    flipped = ("B" if encrypt[0] == "A" else "A") + encrypt[1:]
    crypto.decrypt_message(envelope(flipped), **query)


def reject_wrong_token(crypto: MessageCrypto) -> None:
    body, query = MessageCrypto("other-token", KEY, APPID).build_push(
        SECRET_PLAINTEXT, to_user_name="gh", timestamp=1, nonce="n"
    )
    del query["encrypt_type"]
    crypto.decrypt_message(body, **query)


def reject_wrong_appid(crypto: MessageCrypto) -> None:
    other = MessageCrypto(TOKEN, KEY, "wxsomebodyelse")
    body, query = other.build_push(SECRET_PLAINTEXT, to_user_name="gh", timestamp=1, nonce="n")
    del query["encrypt_type"]
    crypto.decrypt_message(body, **query)


def reject_wrong_key(crypto: MessageCrypto) -> None:
    other = MessageCrypto(TOKEN, "B" * 43, APPID)
    body, query = other.build_push(SECRET_PLAINTEXT, to_user_name="gh", timestamp=1, nonce="n")
    del query["encrypt_type"]
    crypto.decrypt_message(body, **query)


def _framed(message: bytes, appid: bytes = APPID.encode()) -> bytes:
    return b"R" * 16 + len(message).to_bytes(4, "big") + message + appid


def reject_zero_padding(crypto: MessageCrypto) -> None:
    plain = _framed(b"<xml/>")
    plain += b"\x00" * (32 - len(plain) % 32)
    decrypt_signed(crypto, raw_ciphertext(plain))


def reject_padding_over_32(crypto: MessageCrypto) -> None:
    plain = _framed(b"<xml/>")
    plain += bytes([33]) * (16 - len(plain) % 16)
    decrypt_signed(crypto, raw_ciphertext(plain))


def reject_inconsistent_padding(crypto: MessageCrypto) -> None:
    padded = bytearray(pkcs7_32(_framed(b"<xml/>")))
    padded[-2] ^= 0xFF
    decrypt_signed(crypto, raw_ciphertext(bytes(padded)))


def reject_length_field_too_big(crypto: MessageCrypto) -> None:
    plain = b"R" * 16 + (10_000).to_bytes(4, "big") + b"<xml/>" + APPID.encode()
    decrypt_signed(crypto, raw_ciphertext(pkcs7_32(plain)))


def reject_too_short(crypto: MessageCrypto) -> None:
    decrypt_signed(crypto, raw_ciphertext(pkcs7_32(b"R" * 10)))


def reject_not_utf8(crypto: MessageCrypto) -> None:
    decrypt_signed(crypto, raw_ciphertext(pkcs7_32(_framed(b"\xff\xfe<xml/>"))))


def reject_partial_block(crypto: MessageCrypto) -> None:
    decrypt_signed(crypto, base64.b64encode(b"x" * 20).decode())


def reject_non_base64(crypto: MessageCrypto) -> None:
    decrypt_signed(crypto, "not*base64!")


def reject_non_ascii_encrypt(crypto: MessageCrypto) -> None:
    decrypt_signed(crypto, "加密")


def reject_missing_encrypt(crypto: MessageCrypto) -> None:
    crypto.decrypt_message(
        "<xml><ToUserName>gh</ToUserName></xml>", msg_signature="a", timestamp="1", nonce="n"
    )


def reject_empty_encrypt(crypto: MessageCrypto) -> None:
    crypto.decrypt_message(
        "<xml><Encrypt></Encrypt></xml>", msg_signature="a", timestamp="1", nonce="n"
    )


def reject_nested_encrypt(crypto: MessageCrypto) -> None:
    crypto.decrypt_message(
        "<xml><Encrypt><A>1</A></Encrypt></xml>", msg_signature="a", timestamp="1", nonce="n"
    )


def reject_missing_signature(crypto: MessageCrypto) -> None:
    body, query = good_push(crypto)
    query["msg_signature"] = None  # type: ignore[assignment]
    crypto.decrypt_message(body, **query)


def reject_non_ascii_signature(crypto: MessageCrypto) -> None:
    body, query = good_push(crypto)
    query["msg_signature"] = "签名\udcff"
    crypto.decrypt_message(body, **query)


def reject_malformed_xml(crypto: MessageCrypto) -> None:
    crypto.decrypt_message("<xml><Encrypt>abc</xml>", msg_signature="a", timestamp="1", nonce="n")


def reject_doctype(crypto: MessageCrypto) -> None:
    body = '<!DOCTYPE xml SYSTEM "http://evil.example/x.dtd"><xml><Encrypt>a</Encrypt></xml>'
    crypto.decrypt_message(body, msg_signature="a", timestamp="1", nonce="n")


def reject_external_entity(crypto: MessageCrypto) -> None:
    body = (
        '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        "<xml><Encrypt>&xxe;</Encrypt></xml>"
    )
    crypto.decrypt_message(body, msg_signature="a", timestamp="1", nonce="n")


def reject_too_big(crypto: MessageCrypto) -> None:
    small = MessageCrypto(TOKEN, KEY, APPID, max_body_bytes=64)
    body, query = good_push(small)
    small.decrypt_message(body, **query)


REJECTIONS: dict[Callable[[MessageCrypto], object], str] = {
    reject_tampered_signature: "msg_signature",
    reject_tampered_ciphertext: "msg_signature",
    reject_wrong_token: "msg_signature",
    reject_wrong_appid: "appid",
    reject_wrong_key: "padding|appid|length|short",
    reject_zero_padding: "padding",
    reject_padding_over_32: "padding",
    reject_inconsistent_padding: "padding",
    reject_length_field_too_big: "length",
    reject_too_short: "too short",
    reject_not_utf8: "UTF-8",
    reject_partial_block: "multiple of the AES block",
    reject_non_base64: "base64",
    reject_non_ascii_encrypt: "base64",
    reject_missing_encrypt: "no Encrypt",
    reject_empty_encrypt: "no Encrypt",
    reject_nested_encrypt: "no Encrypt",
    reject_missing_signature: "msg_signature must be a string",
    reject_non_ascii_signature: "msg_signature does not match",
    reject_malformed_xml: "malformed XML",
    reject_doctype: "DOCTYPE",
    reject_external_entity: "DOCTYPE",
    reject_too_big: "limit",
}


@pytest.mark.parametrize("attempt", list(REJECTIONS), ids=lambda f: f.__name__)
def test_every_rejection_is_a_clean_signature_error(
    attempt: Callable[[MessageCrypto], object], crypto: MessageCrypto
) -> None:
    with pytest.raises(WxaSignatureError, match=REJECTIONS[attempt]) as info:
        attempt(crypto)
    message = str(info.value)
    for secret in (TOKEN, KEY, "PLAINTEXT-SECRET", base64.b64decode(KEY + "=").hex()):
        assert secret not in message
    # Nothing from inside the library leaks as the cause (binascii.Error, KeyError...).
    assert info.value.__cause__ is None


def test_hostile_xml_errors_are_specific(crypto: MessageCrypto) -> None:
    with pytest.raises(WxaXmlError):
        reject_doctype(crypto)
    with pytest.raises(WxaBodyTooLargeError):
        reject_too_big(crypto)


def test_billion_laughs_is_refused_without_expanding(crypto: MessageCrypto) -> None:
    entities = "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    )
    body = (
        f'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY lol0 "lol">{entities}]>'
        "<xml><Encrypt>&lol9;</Encrypt></xml>"
    )
    tracemalloc.start()
    try:
        with pytest.raises(WxaXmlError, match="DOCTYPE"):
            crypto.decrypt_message(body, msg_signature="a", timestamp="1", nonce="n")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20  # 10**9 "lol"s would be 3 GB; nothing near that was built


def test_oversized_str_is_refused_before_encoding(crypto: MessageCrypto) -> None:
    body = "<xml><Encrypt>" + "A" * (2 << 20) + "</Encrypt></xml>"
    with pytest.raises(WxaBodyTooLargeError):
        crypto.decrypt_message(body, msg_signature="a", timestamp="1", nonce="n")


# --- construction and secrecy ----------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "key", "appid", "match"),
    [
        (TOKEN, KEY[:-1], APPID, "43 characters"),
        (TOKEN, KEY + "x", APPID, "43 characters"),
        (TOKEN, "!" * 43, APPID, "base64"),
        ("", KEY, APPID, "token"),
        (TOKEN, KEY, "", "appid"),
    ],
)
def test_bad_configuration_is_refused_at_construction(
    token: str, key: str, appid: str, match: str
) -> None:
    with pytest.raises(WxaValidationError, match=match) as info:
        MessageCrypto(token, key, appid)
    if key:
        assert key not in str(info.value)


def test_repr_and_pickle_keep_secrets(crypto: MessageCrypto) -> None:
    assert repr(crypto) == f"MessageCrypto(appid={APPID!r})"
    assert TOKEN not in repr(crypto) and KEY not in repr(crypto)
    with pytest.raises(TypeError):
        pickle.dumps(crypto)


def test_missing_cryptography_is_a_clear_wxa_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cryptography.hazmat.primitives.ciphers", None)
    with pytest.raises(WxaError, match=r"wxa_async\[crypto\]"):
        MessageCrypto(TOKEN, KEY, APPID)


def test_encrypt_message_validates_arguments(crypto: MessageCrypto) -> None:
    with pytest.raises(WxaValidationError):
        crypto.encrypt_message("<xml/>", timestamp="", nonce="n")
    with pytest.raises(WxaValidationError):
        crypto.encrypt_message("<xml/>", timestamp=1, nonce="")
    with pytest.raises(WxaValidationError):
        crypto.encrypt_message(b"<xml/>", timestamp=1, nonce="n")  # type: ignore[arg-type]
