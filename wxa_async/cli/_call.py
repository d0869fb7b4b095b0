"""``wxa-async call APPID ENDPOINT [FIELD=VALUE ...]``: any endpoint of the tables.

The table drives it: the endpoint is looked up by name, each ``field=value`` is coerced
to the request class's field type (JSON for lists and nested objects), the request
class validates as it always does, and the typed answer is printed as JSON.
Credentials come from the environment or a token store, never from the command line
(where ``ps`` would show them).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import os
import sys
import types
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import typer

from .._converter import converter
from ..client import DEFAULT_BASE_URL, WxaClient
from ..endpoints import EndpointSpec
from ..errors import WxaValidationError
from ..tokens import ComponentTokenProvider, StaticTokenProvider, TokenProvider
from ._report import SetupError, UsageError, reporting
from ._table import endpoint_rows, find_endpoint, request_fields

__all__ = ["ENV_VARS", "call", "coerce", "parse_fields"]

#: The environment variables ``call`` reads, and what each one is.
ENV_VARS: Mapping[str, str] = {
    "WXA_ACCESS_TOKEN": "an authorizer access token for APPID (the simplest source)",
    "WXA_COMPONENT_APPID": "your third-party platform's appid (component API)",
    "WXA_COMPONENT_APPSECRET": "its appsecret",
    "WXA_COMPONENT_VERIFY_TICKET": "the latest component_verify_ticket (else the store's)",
    "WXA_AUTHORIZER_REFRESH_TOKEN": "APPID's authorizer refresh token (else the store's)",
    "WXA_TOKEN_STORE": "a token store URL (redis://...) shared with your services",
    "WXA_BASE_URL": "the API's base URL (an emulator's, a proxy's)",
}


# -- field=value ---------------------------------------------------------------------


def coerce(name: str, hint: Any, text: str) -> Any:
    """``text`` from the command line as a value of the field's type ``hint``.

    Strings stay as typed; integers, floats, booleans and literals are parsed; ``null``
    is None where the field allows it; anything else (lists, nested items) is JSON."""
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType):
        members = [a for a in args if a is not type(None)]
        if text == "null" and len(members) < len(args):
            return None
        if len(members) == 1:
            return coerce(name, members[0], text)
        hint, origin, args = Any, None, ()
    if hint is str:
        return text
    if hint is bool:
        if text.lower() in ("true", "1", "yes"):
            return True
        if text.lower() in ("false", "0", "no"):
            return False
        raise WxaValidationError(f"{name}: expected true or false, got {text!r}")
    if hint in (int, float):
        try:
            return hint(text)
        except ValueError:
            kind = "an integer" if hint is int else "a number"
            raise WxaValidationError(f"{name}: expected {kind}, got {text!r}") from None
    if origin is Literal:
        for choice in args:
            if str(choice) == text:
                return choice
        choices = ", ".join(map(str, args))
        raise WxaValidationError(f"{name}: must be one of {choices}, got {text!r}")
    try:
        return json.loads(text)
    except ValueError:
        if hint is Any:
            return text
        raise WxaValidationError(f"{name}: expected a JSON value, got {text!r}") from None


def parse_fields(endpoint: EndpointSpec, pairs: list[str]) -> dict[str, Any]:
    """``["auditid=42", ...]`` as the keyword arguments of ``endpoint``'s request."""
    fields = request_fields(endpoint)
    values: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"{pair!r}: expected FIELD=VALUE")
        if name not in fields:
            known = ", ".join(fields) or "none"
            raise UsageError(f"{endpoint.name} has no field {name!r} (its fields: {known})")
        values[name] = coerce(name, fields[name][0], text)
    missing = [n for n, (_, d) in fields.items() if d is inspect.Parameter.empty
               and n not in values]
    if missing:
        raise UsageError(f"{endpoint.name} needs {', '.join(f'{n}=...' for n in missing)}")
    return values


# -- tokens --------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _provider(appid: str, base_url: str, store_url: str | None) -> Any:
    env = os.environ
    token = env.get("WXA_ACCESS_TOKEN")
    if token:
        yield StaticTokenProvider({appid: token})
        return
    component_appid = env.get("WXA_COMPONENT_APPID")
    secret = env.get("WXA_COMPONENT_APPSECRET")
    if not (component_appid and secret):
        raise SetupError(
            "no credentials: set WXA_ACCESS_TOKEN, or WXA_COMPONENT_APPID and "
            "WXA_COMPONENT_APPSECRET (with WXA_COMPONENT_VERIFY_TICKET and "
            "WXA_AUTHORIZER_REFRESH_TOKEN, or a --token-store holding them)"
        )
    async with contextlib.AsyncExitStack() as stack:
        store = None
        if store_url:
            from ..tokens import RedisTokenStore

            store = RedisTokenStore(store_url)
            stack.push_async_callback(store.aclose)
        refresh = env.get("WXA_AUTHORIZER_REFRESH_TOKEN")
        provider: TokenProvider = await stack.enter_async_context(ComponentTokenProvider(
            component_appid, secret, env.get("WXA_COMPONENT_VERIFY_TICKET") or None,
            {appid: refresh} if refresh else None, base_url=base_url, store=store,
        ))
        yield provider


# -- output --------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    # The typed answer's fields, without the `raw` copy of the whole answer.
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k != "raw"}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


async def _run(
    appid: str, endpoint: EndpointSpec, kwargs: dict[str, Any], base_url: str,
    store_url: str | None, seconds: float, output: str | None, raw: bool,
) -> Any:
    async with _provider(appid, base_url, store_url) as provider, WxaClient(
        provider, base_url, timeout=seconds
    ) as client:
        bound = getattr(client.app(appid), endpoint.name)
        if endpoint.binary:
            if output == "-":
                body = await bound(**kwargs)
                sys.stdout.buffer.write(body)
                sys.stdout.buffer.flush()
                return None
            assert output is not None
            written = await bound.to_file(output, **kwargs)
            return {"bytes": written, "path": output}
        answer = await bound(**kwargs)
        return answer.raw if raw else _plain(converter.unstructure(answer))


def _complete_endpoint(incomplete: str) -> list[str]:
    return [row["name"] for row in endpoint_rows() if row["name"].startswith(incomplete)]


def call(
    appid: Annotated[str, typer.Argument(help="The mini program's (authorizer's) appid.")],
    endpoint: Annotated[
        str, typer.Argument(help="A table name: see `wxa-async endpoints`.",
                            autocompletion=_complete_endpoint)
    ],
    fields: Annotated[
        list[str] | None,
        typer.Argument(metavar="FIELD=VALUE",
                       help="Request fields; lists and nested items as JSON "
                       "(item_list='[{\"address\": ...}]').", show_default=False),
    ] = None,
    base_url: Annotated[
        str, typer.Option(envvar="WXA_BASE_URL", help="The API's base URL, e.g. an emulator's.")
    ] = DEFAULT_BASE_URL,
    token_store: Annotated[
        str | None,
        typer.Option(envvar="WXA_TOKEN_STORE",
                     help="Token store URL (redis://...) with the component provider's "
                     "tokens, ticket and refresh tokens."),
    ] = None,
    output: Annotated[
        str | None,
        typer.Option("--output", "-o",
                     help="Binary endpoints: write the body to this file ('-': stdout)."),
    ] = None,
    raw: Annotated[
        bool,
        typer.Option("--raw", help="Print the service's JSON as received, not the typed answer."),
    ] = False,
    timeout: Annotated[float, typer.Option(min=0.1, help="Seconds per attempt.")] = 30.0,
) -> None:
    """Call any endpoint and print the typed answer as JSON.

    Credentials come from the environment: WXA_ACCESS_TOKEN, or WXA_COMPONENT_APPID and
    WXA_COMPONENT_APPSECRET with WXA_COMPONENT_VERIFY_TICKET and
    WXA_AUTHORIZER_REFRESH_TOKEN (or a --token-store that holds them).

    Example: wxa-async call wx1234567890abcdef get_audit_status auditid=1234567"""
    with reporting():
        spec = find_endpoint(endpoint)
        if spec is None:
            raise UsageError(f"no endpoint {endpoint!r}; `wxa-async endpoints` lists them")
        kwargs = parse_fields(spec, fields or [])
        if spec.binary and output is None:
            raise UsageError(f"{spec.name} answers binary content: give --output FILE "
                             "(or --output - for stdout)")
        result = asyncio.run(_run(appid, spec, kwargs, base_url, token_store, timeout,
                                  output, raw))
        if result is not None:
            typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
