"""A pytest plugin that runs every test on uvloop's event loop.

``pytest -p tests.support.uvloop_plugin`` (the ``tests_uvloop`` nox session): async
tests get their loop from uvloop through pytest-asyncio's loop-factory hook, and the
policy is set too, so code calling ``asyncio.run`` or ``new_event_loop`` itself gets
uvloop as well.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import pytest
import uvloop


def pytest_configure(config: pytest.Config) -> None:
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    return {"uvloop": uvloop.new_event_loop}


def pytest_report_header(config: pytest.Config) -> str:
    return f"event loop: uvloop {uvloop.__version__}"


def pytest_unconfigure(config: Any) -> None:
    asyncio.set_event_loop_policy(None)
