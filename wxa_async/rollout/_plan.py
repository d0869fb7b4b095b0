"""What a rollout releases: :class:`RolloutPlan`, its parts, and the TOML plan file.

A plan is plain data once it is stored: per-app ``ext_json`` given as a callable or a
template is resolved for every app when the rollout is created, and the resolved text
is kept in the store, so a resumed rollout never calls user code to learn what it
committed. Only the health check of a staged release stays code (a callable, or a
``"module:function"`` reference in a plan file).
"""

from __future__ import annotations

import importlib
import json
import re
import tomllib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import attrs

from ..errors import WxaValidationError

__all__ = [
    "ExtJson",
    "HealthCheck",
    "ReleasePolicy",
    "RolloutPlan",
    "SubmitOptions",
    "load_plan",
]

#: ``health_check(appid, percentage)``: True lets the app go on to the next stage.
HealthCheck = Callable[[str, int], Awaitable[bool]]
#: Per-app ext_json: a mapping ``appid -> object or JSON text`` (apps missing from it
#: get ``{}``), a callable ``appid -> object or JSON text``, or one JSON text with
#: ``{appid}``-style placeholders filled from ``ext_vars``.
ExtJson = Mapping[str, Any] | Callable[[str], Any] | str | None

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}\Z")


def _items(value: Sequence[Mapping[str, Any]] | None) -> tuple[Mapping[str, Any], ...] | None:
    return None if value is None else tuple(dict(item) for item in value)


@attrs.frozen(kw_only=True)
class SubmitOptions:
    """Keywords of ``submit_audit`` (the current-API issue's full set); ``None`` leaves
    a keyword out of the request. ``item_list`` items are mappings of
    :class:`~wxa_async.AuditItem` fields."""

    item_list: tuple[Mapping[str, Any], ...] | None = attrs.field(
        default=None, converter=_items)
    feedback_info: str | None = None
    feedback_stuff: str | tuple[str, ...] | None = None
    version_desc: str | None = None
    preview_info: Mapping[str, Any] | None = None
    ugc_declare: Mapping[str, Any] | None = None
    privacy_api_not_use: bool | None = None
    order_path: str | None = None

    def kwargs(self) -> dict[str, Any]:
        """The keywords to pass, without the ``None`` ones."""
        out = {k: v for k, v in attrs.asdict(self, recurse=False).items() if v is not None}
        if "item_list" in out:
            out["item_list"] = [dict(item) for item in out["item_list"]]
        return out


def _stages(value: Sequence[int]) -> tuple[int, ...]:
    stages = tuple(int(v) for v in value)
    if not stages or any(not 1 <= s <= 100 for s in stages):
        raise WxaValidationError("release stages: percentages between 1 and 100")
    if list(stages) != sorted(set(stages)):
        raise WxaValidationError("release stages: strictly increasing percentages")
    return stages if stages[-1] == 100 else (*stages, 100)


@attrs.frozen(kw_only=True)
class ReleasePolicy:
    """What happens after an app's audit passes.

    ``"immediate"`` releases at once. ``"staged"`` gray-releases through ``stages``
    (percentages; 100 is appended when missing, and the 100 step is a full
    ``release``), waiting ``stage_wait`` seconds and asking ``health_check`` (when
    given) before each next stage; an app with no online version yet cannot be
    gray-released (85079) and is released in full directly. ``"approval"`` holds
    passed apps until :meth:`Rollout.approve`, then releases as ``"immediate"``.
    """

    mode: Literal["immediate", "staged", "approval"] = "immediate"
    stages: tuple[int, ...] = attrs.field(default=(10, 50, 100), converter=_stages)
    stage_wait: float = 0.0
    health_check: HealthCheck | str | None = attrs.field(default=None, eq=False)

    def __attrs_post_init__(self) -> None:
        if self.mode not in ("immediate", "staged", "approval"):
            raise WxaValidationError("release mode: immediate, staged or approval")
        if self.stage_wait < 0:
            raise WxaValidationError("release stage_wait: must be >= 0")

    def resolve_health_check(self) -> HealthCheck | None:
        """The health check as a callable (a ``"module:function"`` is imported)."""
        check = self.health_check
        if check is None or callable(check):
            return check
        module, _, attr = check.partition(":")
        if not module or not attr:
            raise WxaValidationError("health_check: 'module:function'")
        resolved: HealthCheck = getattr(importlib.import_module(module), attr)
        return resolved

    def to_data(self) -> dict[str, Any]:
        check = self.health_check
        return {
            "mode": self.mode, "stages": list(self.stages), "stage_wait": self.stage_wait,
            "health_check": check if isinstance(check, str) else None,
        }


def _appids(value: Sequence[str]) -> tuple[str, ...]:
    appids = tuple(dict.fromkeys(str(v) for v in value))
    if any(not a.strip() for a in appids):
        raise WxaValidationError("appids: empty appid")
    return appids


@attrs.frozen(kw_only=True)
class RolloutPlan:
    """What to release to which mini programs.

    ``name`` identifies the rollout in its store (letters, digits, ``_ . -``): running
    a plan whose name exists resumes that rollout. ``ext_json`` is per app (see
    :data:`ExtJson`). ``privacy_setting``, when given, is applied with
    ``set_privacy_setting(**privacy_setting)`` after the commit and before the audit is
    submitted. ``quota_reserve`` audit submissions of the platform's shared quota are
    never spent by this rollout.
    """

    name: str
    template_id: int
    user_version: str
    user_desc: str = ""
    appids: tuple[str, ...] = attrs.field(converter=_appids)
    ext_json: ExtJson = attrs.field(default=None, eq=False)
    ext_vars: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict, eq=False)
    submit: SubmitOptions = attrs.field(factory=SubmitOptions)
    privacy_setting: Mapping[str, Any] | None = None
    release: ReleasePolicy = attrs.field(factory=ReleasePolicy)
    quota_reserve: int = 0

    def __attrs_post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise WxaValidationError("name: 1-128 letters, digits, '_', '.', '-'")
        if self.template_id < 0:
            raise WxaValidationError("template_id: must be >= 0")
        if not self.user_version.strip():
            raise WxaValidationError("user_version: must not be empty")
        if not self.appids:
            raise WxaValidationError("appids: at least one")
        if self.quota_reserve < 0:
            raise WxaValidationError("quota_reserve: must be >= 0")

    def ext_json_for(self, appid: str) -> str:
        """The ext_json text committed to ``appid``."""
        source = self.ext_json
        value: Any
        if source is None:
            value = {}
        elif isinstance(source, str):
            variables = {"appid": appid, **self.ext_vars.get(appid, {})}

            def fill(match: re.Match[str]) -> str:
                key = match.group(1)
                if key not in variables:
                    raise WxaValidationError(f"ext_json: no value for {{{key}}} of {appid}")
                # The value lands inside a JSON string: escape it as one.
                return json.dumps(str(variables[key]), ensure_ascii=False)[1:-1]

            value = _PLACEHOLDER.sub(fill, source)
        elif callable(source):
            value = source(appid)
        else:
            value = source.get(appid, {})
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        try:
            json.loads(text)
        except ValueError:
            raise WxaValidationError(f"ext_json of {appid} is not valid JSON") from None
        return text

    def to_data(self) -> dict[str, Any]:
        """The plan as JSON-ready data (what the store keeps; ext_json is kept per app)."""
        submit = {k: (list(v) if isinstance(v, tuple) else v)
                  for k, v in attrs.asdict(self.submit, recurse=False).items()}
        if submit["item_list"] is not None:
            submit["item_list"] = [dict(i) for i in submit["item_list"]]
        return {
            "name": self.name, "template_id": self.template_id,
            "user_version": self.user_version, "user_desc": self.user_desc,
            "appids": list(self.appids), "submit": submit,
            "privacy_setting": None if self.privacy_setting is None
            else dict(self.privacy_setting),
            "release": self.release.to_data(), "quota_reserve": self.quota_reserve,
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> RolloutPlan:
        """A plan from :meth:`to_data` output or a plan file's tables."""
        known = {"name", "template_id", "user_version", "user_desc", "appids", "ext_json",
                 "ext_vars", "submit", "privacy_setting", "release", "quota_reserve"}
        unknown = set(data) - known
        if unknown:
            raise WxaValidationError(f"unknown plan keys: {', '.join(sorted(unknown))}")
        try:
            kwargs = dict(data)
            kwargs["submit"] = SubmitOptions(**dict(data.get("submit") or {}))
            kwargs["release"] = ReleasePolicy(**dict(data.get("release") or {}))
            return cls(**kwargs)
        except TypeError as exc:
            raise WxaValidationError(f"plan: {exc}") from None

    def same_as(self, other: RolloutPlan) -> bool:
        """Whether ``other`` describes the same release (a resume must not change it)."""
        return self.to_data() == other.to_data()


_SECRETS = frozenset({"secret", "appsecret", "component_appsecret", "access_token",
                      "refresh_token", "authorizer_refresh_token", "token", "password"})


def _secret_keys(data: Any) -> set[str]:
    """Keys anywhere in a plan file's tables that would hold a credential."""
    if isinstance(data, dict):
        found = {k for k in data if str(k).lower() in _SECRETS}
        for value in data.values():
            found |= _secret_keys(value)
        return found
    if isinstance(data, list):
        return set().union(*(_secret_keys(v) for v in data)) if data else set()
    return set()


def load_plan(path: str | Path) -> RolloutPlan:
    """Read a TOML plan file.

    Top-level keys are :class:`RolloutPlan`'s; ``[submit]`` and ``[release]`` tables
    hold :class:`SubmitOptions` and :class:`ReleasePolicy`. Apps come from ``appids``
    (a list) and/or ``appids_file`` (one appid a line, relative to the plan file);
    ``[ext_json]`` may be a table of per-app objects, or ``ext_json`` one JSON string
    with placeholders. Credentials never belong in a plan file: the CLI takes them
    from the environment or the token store.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise WxaValidationError(f"cannot read plan file {path}: {exc}") from None
    appids = list(data.pop("appids", []))
    appids_file = data.pop("appids_file", None)
    if appids_file is not None:
        source = path.parent / str(appids_file)
        try:
            lines = source.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise WxaValidationError(f"cannot read appids_file {source}: {exc}") from None
        appids += [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    data["appids"] = appids
    found = sorted(_secret_keys(data))
    if found:
        raise WxaValidationError(
            f"plan files hold no credentials ({', '.join(found)}): use the environment"
        )
    return RolloutPlan.from_data(data)
