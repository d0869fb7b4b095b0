"""WeChat's message encryption (安全模式), used by every third-party platform callback.

The scheme, as WeChat publishes it: AES-256-CBC with key = base64(EncodingAESKey + "=")
and IV = the key's first 16 bytes; plaintext = 16 random bytes + 4-byte big-endian
message length + message + appid, PKCS#7-padded to a 32-byte block; ``msg_signature``
= SHA-1 hex of the sorted concatenation of token, timestamp, nonce and the Encrypt text.

Every failure raises :class:`~wxa_async.WxaSignatureError` naming the problem; no
message, log line or ``repr`` ever holds the token, the key or decrypted text.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from typing import TYPE_CHECKING, Any

from ..errors import WxaMissingExtraError, WxaSignatureError, WxaValidationError
from ._xml import DEFAULT_MAX_BODY_BYTES, parse_xml, to_xml

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers import Cipher, modes

__all__ = ["MessageCrypto"]

_PAD_BLOCK = 32  # WeChat pads to 32 bytes, not AES's 16
_AES_BLOCK = 16
_HEADER = 16 + 4  # random prefix + length


def _random_prefix() -> bytes:
    return secrets.token_bytes(16)


def _utf8(text: str) -> bytes:
    # surrogatepass: a hostile query string must fail the signature check, not encoding.
    return text.encode("utf-8", "surrogatepass")


def _aes_cbc(key: bytes) -> Cipher[modes.CBC]:
    # Imported here so that wxa_async works without the optional 'crypto' extra.
    try:
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    except ImportError:
        raise WxaMissingExtraError("MessageCrypto", "crypto") from None
    return Cipher(algorithms.AES(key), modes.CBC(key[:_AES_BLOCK]))


class MessageCrypto:
    """Decrypts and verifies pushed callbacks, and encrypts replies, for one platform.

    ``appid`` is the third-party platform's own appid (component appid): WeChat appends
    it to every plaintext and :meth:`decrypt_message` insists on it. A bad
    ``encoding_aes_key`` (not 43 base64 characters) or an empty token or appid raises
    :class:`~wxa_async.WxaValidationError` here, at construction, not on the first push.
    """

    __slots__ = ("_appid", "_cipher", "_token", "max_body_bytes")

    def __init__(
        self,
        token: str,
        encoding_aes_key: str,
        appid: str,
        *,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        if not isinstance(token, str) or not token:
            raise WxaValidationError("token must be a non-empty string")
        if not isinstance(appid, str) or not appid:
            raise WxaValidationError("appid must be a non-empty string")
        if not isinstance(encoding_aes_key, str) or len(encoding_aes_key) != 43:
            raise WxaValidationError("encoding_aes_key must be exactly 43 characters")
        try:
            key = base64.b64decode(encoding_aes_key + "=", validate=True)
        except (binascii.Error, ValueError):
            raise WxaValidationError("encoding_aes_key is not base64") from None
        self._token = token
        self._appid = appid
        self._cipher = _aes_cbc(key)
        self.max_body_bytes = max_body_bytes

    @property
    def appid(self) -> str:
        return self._appid

    def __repr__(self) -> str:  # token and key are never shown
        return f"MessageCrypto(appid={getattr(self, '_appid', None)!r})"

    def __reduce__(self) -> Any:
        raise TypeError("MessageCrypto holds secrets and is not picklable")

    # -- signatures -------------------------------------------------------------------

    def sign(self, timestamp: str | int, nonce: str, encrypt: str) -> str:
        """The ``msg_signature`` WeChat computes for ``encrypt`` (SHA-1 hex)."""
        parts = sorted([self._token, str(timestamp), nonce, encrypt])
        return hashlib.sha1(_utf8("".join(parts)), usedforsecurity=False).hexdigest()

    def _check_signature(
        self, msg_signature: object, timestamp: object, nonce: object, encrypt: str
    ) -> None:
        for name, value in (
            ("msg_signature", msg_signature),
            ("timestamp", timestamp),
            ("nonce", nonce),
        ):
            if not isinstance(value, str):
                raise WxaSignatureError(f"{name} must be a string")
        assert isinstance(msg_signature, str) and isinstance(timestamp, str)
        assert isinstance(nonce, str)
        expected = self.sign(timestamp, nonce, encrypt).encode("ascii")
        if not hmac.compare_digest(expected, _utf8(msg_signature.lower())):
            raise WxaSignatureError("msg_signature does not match the message")

    # -- decrypting -------------------------------------------------------------------

    def decrypt_message(
        self,
        body: str | bytes,
        *,
        msg_signature: str,
        timestamp: str,
        nonce: str,
    ) -> str:
        """Verify and decrypt a POSTed envelope (``<xml>...<Encrypt>..</Encrypt></xml>``)
        and return the plaintext XML. The query parameters of the push give
        ``msg_signature``, ``timestamp`` and ``nonce``."""
        fields = parse_xml(body, max_bytes=self.max_body_bytes)
        encrypt = fields.get("Encrypt")
        if not isinstance(encrypt, str) or not encrypt:
            raise WxaSignatureError("the callback body has no Encrypt element")
        self._check_signature(msg_signature, timestamp, nonce, encrypt)
        return self._decrypt(encrypt)

    def verify_url(self, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        """Check a URL-verification request (signature over ``echostr``) and return the
        decrypted echo string the endpoint must answer with."""
        if not isinstance(echostr, str) or not echostr:
            raise WxaSignatureError("echostr is missing")
        self._check_signature(msg_signature, timestamp, nonce, echostr)
        return self._decrypt(echostr)

    def _decrypt(self, encrypt: str) -> str:
        try:
            data = base64.b64decode(encrypt, validate=True)
        except (binascii.Error, ValueError):
            raise WxaSignatureError("Encrypt is not valid base64") from None
        if not data or len(data) % _AES_BLOCK:
            raise WxaSignatureError("ciphertext length is not a multiple of the AES block")
        decryptor = self._cipher.decryptor()
        plain = decryptor.update(data) + decryptor.finalize()
        pad = plain[-1]
        if not 1 <= pad <= _PAD_BLOCK or pad > len(plain) or plain[-pad:] != bytes([pad]) * pad:
            raise WxaSignatureError("bad padding after decryption (wrong key?)")
        if len(plain) - pad < _HEADER:
            raise WxaSignatureError("decrypted text is too short")
        content = plain[_HEADER:-pad]
        length = int.from_bytes(plain[16:_HEADER], "big")
        if length > len(content):
            raise WxaSignatureError("decrypted length field exceeds the message")
        message, appid = content[:length], content[length:]
        if not hmac.compare_digest(appid, _utf8(self._appid)):
            raise WxaSignatureError(
                f"the message was not encrypted for appid {self._appid!r}"
            )
        try:
            return message.decode("utf-8")
        except UnicodeDecodeError:
            raise WxaSignatureError("decrypted message is not valid UTF-8") from None

    # -- encrypting -------------------------------------------------------------------

    def _encrypt(self, message: str) -> str:
        raw = _utf8(message)
        plain = _random_prefix() + len(raw).to_bytes(4, "big") + raw + _utf8(self._appid)
        pad = _PAD_BLOCK - len(plain) % _PAD_BLOCK
        plain += bytes([pad]) * pad
        encryptor = self._cipher.encryptor()
        return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode("ascii")

    def encrypt_message(self, xml: str, *, timestamp: str | int, nonce: str) -> str:
        """Encrypt a reply and wrap it as WeChat expects::

            <xml><Encrypt>..</Encrypt><MsgSignature>..</MsgSignature>
            <TimeStamp>..</TimeStamp><Nonce>..</Nonce></xml>
        """
        if not isinstance(xml, str):
            raise WxaValidationError("the message to encrypt must be a str")
        stamp = _timestamp_value(timestamp)
        if not isinstance(nonce, str) or not nonce:
            raise WxaValidationError("nonce must be a non-empty string")
        encrypt = self._encrypt(xml)
        return to_xml(
            {
                "Encrypt": encrypt,
                "MsgSignature": self.sign(timestamp, nonce, encrypt),
                "TimeStamp": stamp,
                "Nonce": nonce,
            }
        )

    def build_push(
        self, xml: str, *, to_user_name: str, timestamp: str | int, nonce: str
    ) -> tuple[str, dict[str, str]]:
        """What WeChat would POST for ``xml``: the envelope body and the query parameters.
        For emulators and tests of a callback endpoint."""
        _timestamp_value(timestamp)
        if not isinstance(nonce, str) or not nonce:
            raise WxaValidationError("nonce must be a non-empty string")
        encrypt = self._encrypt(xml)
        body = to_xml({"ToUserName": to_user_name, "Encrypt": encrypt})
        query = {
            "timestamp": str(timestamp),
            "nonce": nonce,
            "encrypt_type": "aes",
            "msg_signature": self.sign(timestamp, nonce, encrypt),
        }
        return body, query


def _timestamp_value(timestamp: str | int) -> int | str:
    """The value to render in ``<TimeStamp>``: bare when it is a plain decimal."""
    if isinstance(timestamp, bool) or not isinstance(timestamp, (str, int)):
        raise WxaValidationError("timestamp must be a str or int")
    if isinstance(timestamp, int):
        return timestamp
    if not timestamp:
        raise WxaValidationError("timestamp must not be empty")
    if timestamp.isascii() and timestamp.isdigit() and str(int(timestamp)) == timestamp:
        return int(timestamp)
    return timestamp
