"""How a command's failure reaches the user: one line on stderr and an exit code."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import typer

from ..errors import (
    WxaApiError,
    WxaError,
    WxaMissingExtraError,
    WxaTransportError,
    WxaValidationError,
)
from ._entry import ExitCode

__all__ = ["SetupError", "UsageError", "reporting"]


class SetupError(Exception):
    """Something the environment must provide is missing (credentials, a setting)."""


class UsageError(Exception):
    """The command line asks for something that does not exist (an endpoint, a field)."""


def _fail(message: str, code: ExitCode) -> typer.Exit:
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(code)


@contextlib.contextmanager
def reporting() -> Iterator[None]:
    """Turn the SDK's errors into ``error: ...`` on stderr and the matching exit code.

    Messages are the errors' own, which never hold a credential."""
    try:
        yield
    except (WxaMissingExtraError, SetupError) as exc:
        raise _fail(str(exc), ExitCode.SETUP) from None
    except (WxaValidationError, UsageError) as exc:
        raise _fail(str(exc), ExitCode.USAGE) from None
    except WxaTransportError as exc:
        raise _fail(str(exc), ExitCode.TRANSPORT) from None
    except (WxaApiError, WxaError) as exc:
        raise _fail(str(exc), ExitCode.FAILED) from None
