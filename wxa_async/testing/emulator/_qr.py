"""JPEG images for the emulator's ``get_qrcode``.

With the ``emulator`` extra (``qrcode`` and Pillow) the image is a real, scannable QR
code of the text; without it, a tiny valid JPEG stands in, so the emulator never needs
the extra to answer.
"""

from __future__ import annotations

import base64
import functools
import io

__all__ = ["FALLBACK_JPEG", "qr_jpeg"]

# An 8x8 white JPEG (332 bytes), made once with Pillow: valid for any JPEG decoder.
FALLBACK_JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDABALDA4MChAODQ4SERATGCgaGBYWGDEjJR0oOjM9PDkzODdASFxO"
    "QERXRTc4UG1RV19iZ2hnPk1xeXBkeFxlZ2P/wAALCAAIAAgBAREA/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAEC"
    "AwQFBgcICQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAk"
    "M2JyggkKFhcYGRolJicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJ"
    "ipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3"
    "+Pn6/9oACAEBAAA/APQK/9k="
)


@functools.lru_cache(maxsize=512)  # a bulk run asks for the same few images many times
def qr_jpeg(text: str) -> bytes:
    """A JPEG of a QR code encoding ``text`` (or :data:`FALLBACK_JPEG` without the extra)."""
    try:
        import qrcode
    except ImportError:
        return FALLBACK_JPEG
    try:
        code = qrcode.QRCode(border=2, box_size=4)
        code.add_data(text)
        code.make(fit=True)
        image = code.make_image().get_image().convert("RGB")
    except (ImportError, ValueError):  # Pillow missing, or text too long for a QR code
        return FALLBACK_JPEG
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return out.getvalue()
