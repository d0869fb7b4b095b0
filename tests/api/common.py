"""Helpers the endpoint tests share."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.core import APPID, FakeService, make_client
from wxa_async import WxaValidationError


async def refused(name: str, *args: Any, **kwargs: Any) -> WxaValidationError:
    """Call ``client.app(APPID).<name>`` expecting WxaValidationError; nothing sent."""
    service = FakeService()
    async with make_client(service) as client:
        with pytest.raises(WxaValidationError) as caught:
            await getattr(client.app(APPID), name)(*args, **kwargs)
    assert service.requests == []  # refused before anything was sent
    return caught.value
