"""The error tree. Every error a caller can see is a :class:`WxaError`.

No credential ever reaches an exception: messages are built from the errcode, the
service's errmsg (which never echoes a token) and the endpoint name, never from a URL.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ERRCODE_DESCRIPTIONS",
    "WxaApiError",
    "WxaBodyTooLargeError",
    "WxaDecodeError",
    "WxaError",
    "WxaMissingExtraError",
    "WxaPrivacyScanPendingError",
    "WxaQuotaError",
    "WxaResponseTooLargeError",
    "WxaSignatureError",
    "WxaStalePushError",
    "WxaStoreError",
    "WxaSystemBusyError",
    "WxaTimeoutError",
    "WxaTokenError",
    "WxaTransportError",
    "WxaValidationError",
    "WxaXmlError",
    "describe_errcode",
    "raise_for_errcode",
]


class WxaError(Exception):
    """Base class of every error raised by wxa_async."""


class WxaValidationError(WxaError, ValueError):
    """An argument breaks one of the service's documented limits; nothing was sent.

    ``field`` names the request field at fault (when one is); ``errcode`` is the code
    the service answers to the same mistake, where WeChat's docs give one (the
    emulator answers it), else None."""

    def __init__(
        self, message: str, *, field: str | None = None, errcode: int | None = None
    ) -> None:
        super().__init__(message)
        self.field = field
        self.errcode = errcode

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_validation_error, (type(self), str(self), self.field, self.errcode))


def _rebuild_validation_error(
    cls: type[WxaValidationError], message: str, field: str | None, errcode: int | None
) -> WxaValidationError:
    return cls(message, field=field, errcode=errcode)


class WxaMissingExtraError(WxaError, ImportError):
    """A feature needs an optional extra that is not installed; the message says what
    to install (``pip install 'wxa_async[aiohttp]'``). ``extras`` names them."""

    def __init__(self, what: str, *extras: str) -> None:
        self.what = what
        self.extras = extras
        super().__init__(
            f"{what} needs the {', '.join(map(repr, extras))} "
            f"extra{'s' if len(extras) > 1 else ''}: pip install 'wxa_async[{','.join(extras)}]'"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.what, *self.extras))


class WxaSignatureError(WxaError):
    """A pushed callback failed decryption, signature or appid checks, or was hostile XML."""


class WxaXmlError(WxaSignatureError):
    """The body is not acceptable XML: malformed, a DTD / entity declaration, too deep,
    too large, or not the shape of a WeChat push."""


class WxaBodyTooLargeError(WxaXmlError):
    """The body is over the size limit; it was refused before parsing."""


class WxaStalePushError(WxaSignatureError):
    """The push's timestamp is further from now than the callback's replay window:
    a replayed or badly delayed push, refused before it is decrypted."""


class WxaStoreError(WxaError):
    """The store cannot be used: bad URL, missing driver, or a schema of another version."""



class WxaTransportError(WxaError):
    """The call did not produce a usable answer: connection failure, timeout, HTTP 5xx,
    or a body that is not what the endpoint promises.

    ``request_sent`` is False only when the request certainly never left this process
    (connection refused, connect timeout): such a failure is safe to retry even for a
    mutation. ``status_code`` is the HTTP status when one was received.
    """

    def __init__(
        self,
        message: str,
        *,
        endpoint: str | None = None,
        status_code: int | None = None,
        request_sent: bool = True,
    ) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.status_code = status_code
        self.request_sent = request_sent


class WxaTimeoutError(WxaTransportError):
    """A connect, read or total timeout elapsed."""


class WxaDecodeError(WxaTransportError):
    """The body was not JSON, or its JSON does not fit the endpoint's response model.

    ``is_json`` tells the two apart: a body that is not JSON at all (a gateway's HTML
    page, a cut-off body) is transient and retried for idempotent reads; JSON of the
    wrong shape would come back the same and is not retried. ``transient`` says whether
    a retry may help (by default: when the body was not JSON); a body that fails the
    same way every time (absurd nesting, NaN, over a size limit) is not transient.
    """

    def __init__(
        self, message: str, *, endpoint: str | None = None, is_json: bool = True,
        transient: bool | None = None,
    ) -> None:
        super().__init__(message, endpoint=endpoint)
        self.is_json = is_json
        self.transient = not is_json if transient is None else transient


class WxaResponseTooLargeError(WxaDecodeError):
    """The answer's body (counted decompressed, as it arrived) passed a size limit:
    ``limit`` names the option (``max_json_bytes``, ``max_binary_bytes`` or
    ``max_file_bytes``), ``max_bytes`` its value. Reading stopped there."""

    def __init__(self, message: str, *, endpoint: str | None = None, limit: str = "",
                 max_bytes: int = 0) -> None:
        super().__init__(message, endpoint=endpoint, is_json=False, transient=False)
        self.limit = limit
        self.max_bytes = max_bytes


#: How much of the service's errmsg goes into an error's text; all of it stays on
#: ``WxaApiError.errmsg``.
ERRMSG_SHOWN = 500


class WxaApiError(WxaError):
    """The service answered with a non-zero ``errcode``."""

    def __init__(
        self,
        errcode: int,
        errmsg: str,
        *,
        endpoint: str | None = None,
        description: str | None = None,
    ) -> None:
        self.errcode = errcode
        self.errmsg = errmsg
        self.endpoint = endpoint
        self.description = (
            description if description is not None else describe_errcode(errcode, endpoint)
        )
        where = f"{endpoint}: " if endpoint else ""
        super().__init__(f"{where}errcode {errcode}: {_gloss(errmsg, self.description)}")

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only arguments need help to survive pickling (multiprocessing, bulk).
        return (
            _rebuild_api_error,
            (type(self), self.errcode, self.errmsg, self.endpoint, self.description),
        )


def _gloss(errmsg: str, description: str) -> str:
    """The service's errmsg, then the description (Chinese, English gloss), each said
    once: an errmsg the description already holds (its gloss) gives way to it."""
    if len(errmsg) > ERRMSG_SHOWN:
        errmsg = f"{errmsg[:ERRMSG_SHOWN]}… ({len(errmsg)} characters)"
    if not description:
        return errmsg
    said = errmsg.strip().casefold()
    if not said or said in description.casefold():
        return description
    return f"{errmsg} — {description}"


def _rebuild_api_error(
    cls: type[WxaApiError], errcode: int, errmsg: str, endpoint: str | None,
    description: str | None = None,
) -> WxaApiError:
    return cls(errcode, errmsg, endpoint=endpoint, description=description)


class WxaTokenError(WxaApiError):
    """The access token is invalid or expired (40001, 40014, 42001)."""


class WxaQuotaError(WxaApiError):
    """A quota or rate limit is exhausted; retrying now only makes it worse."""


class WxaSystemBusyError(WxaApiError):
    """errcode -1: the service is busy; idempotent reads are retried automatically."""


class WxaPrivacyScanPendingError(WxaApiError):
    """errcode 61039: the privacy scan WeChat runs after each commit has not finished.

    Nothing was applied. Wait (usually a minute or so) and call again; the client never
    retries it by itself, so a mutation is never repeated behind the caller's back."""


TOKEN_ERRCODES = frozenset({40001, 40014, 42001})
QUOTA_ERRCODES = frozenset({45009, 45011, 85085, 87013, 45065, 61024})

_FAMILIES: dict[int, type[WxaApiError]] = {
    **{code: WxaTokenError for code in TOKEN_ERRCODES},
    **{code: WxaQuotaError for code in QUOTA_ERRCODES},
    -1: WxaSystemBusyError,
    61039: WxaPrivacyScanPendingError,
}

# errcode -> "中文说明 (English gloss)". Chinese text from WeChat's open-platform docs
# (代码管理, 隐私设置, 代码模板库) and its global return-code page.
ERRCODE_DESCRIPTIONS: dict[int, str] = {
    -1: "系统繁忙 (system busy)",
    40001: "access_token 无效或不是最新的 (access token invalid or not the latest)",
    40014: "不合法的 access_token (illegal access token)",
    42001: "access_token 超时 (access token expired)",
    45009: "接口调用超过限额 (daily API call quota reached)",
    45011: "API 调用太频繁 (API called too frequently)",
    40005: "不合法的文件类型 (file type not accepted)",
    40006: "不合法的文件大小 (file size not accepted)",
    41005: "缺少多媒体文件数据 (the upload's file is missing)",
    44002: "POST 的数据包为空 (empty POST body)",
    47001: "POST 数据包格式错误 (malformed POST data)",
    61004: "当前 IP 未在白名单中 (caller IP not in the platform's whitelist)",
    61005: "component_verify_ticket 已过期 (component verify ticket expired)",
    61006: "component_verify_ticket 无效 (component verify ticket invalid)",
    61023: "refresh_token 无效 (authorizer refresh token invalid)",
    61039: "隐私接口检查任务未完成,请稍等一分钟再重试 "
    "(the privacy scan of the committed code is still running: try again in a minute)",
    61040: "代码使用了隐私接口,但隐私保护指引未声明 "
    "(the code uses privacy interfaces the privacy setting does not declare)",
    85006: "标签格式错误 (malformed tag)",
    85007: "页面路径错误 (wrong page path)",
    85008: "类目填写错误 (wrong category)",
    85009: "已经有正在审核的版本 (a version is already under audit)",
    85010: "item_list 有项目为空 (an item of item_list is empty)",
    85011: "标题填写错误 (wrong title)",
    85012: "无效的审核 id (invalid audit id)",
    85013: "无效的自定义配置 (invalid ext configuration)",
    85014: "无效的模版编号 (invalid template id)",
    85015: "版本输入错误 (malformed version)",
    85019: "没有审核版本 (no audited version)",
    85020: "审核状态未满足发布 (audit status does not allow release)",
    85021: "状态不可变 (visit status cannot change)",
    85022: "action 非法 (illegal action)",
    85023: "审核列表填写的项目数不在 1-5 以内 (item_list must hold 1 to 5 items)",
    85043: "模版错误 (template error)",
    85044: "代码包超过大小限制 (code package too large)",
    85045: "ext_json 有不存在的路径 (ext_json names a page that does not exist)",
    85046: "tabBar 中缺少 path (tabBar lacks path)",
    85047: "pages 字段为空 (pages is empty)",
    85048: "ext_json 解析失败 (ext_json is not valid JSON)",
    85058: "无效的隐私接口或申请参数 (unknown privacy interface or bad application)",
    85064: "找不到草稿或模板 (no such draft or template)",
    85065: "模板库已满 (the template library is full: at most 200 templates)",
    85066: "链接错误 (bad link)",
    85068: "测试链接不是子链接 (debug URL is not under the prefix)",
    85069: "校验文件失败 (verification file check failed)",
    85070: "链接为黑名单 (link is blacklisted)",
    85071: "已添加该链接,请勿重复添加 (link already added)",
    85072: "该链接已被占用 (link is taken)",
    85073: "二维码规则已满 (QR-code rules are full)",
    85074: "小程序未发布, 小程序必须先发布代码才可以发布二维码跳转规则 "
    "(mini program not released yet)",
    85075: "个人类型小程序无法设置二维码规则 (personal mini programs cannot set QR rules)",
    85076: "链接没有 ICP 备案 (link has no ICP filing)",
    85077: "小程序类目信息失效（类目中含有官方下架的类目,请重新选择类目） "
    "(category withdrawn, choose again)",
    85079: "小程序没有线上版本,不能进行灰度 (no online version to gray-release)",
    85080: "小程序提交的审核未审核通过 (the submitted audit has not passed)",
    85081: "无效的发布比例 (invalid gray percentage)",
    85082: "当前的发布比例需要比之前设置的高 (gray percentage must exceed the previous one)",
    85085: "小程序提审数量已达本月上限 (the monthly audit-submission quota of the whole "
    "third-party platform is used up: every authorized mini program draws on it)",
    85086: "提交代码审核之前需提前上传代码 (commit code before submitting an audit)",
    85087: "小程序已使用 api navigateToMiniProgram,请声明跳转 appid 列表后再次提交 "
    "(declare navigateToMiniProgram appids first)",
    85092: "preview_info 格式错误或素材已过期 "
    "(preview_info is malformed or names an unknown or expired media id)",
    86000: "不是由第三方代小程序进行调用 (not called by the third-party platform)",
    86001: "不存在第三方的已经提交的代码 (no committed code)",
    86002: "小程序还未设置昵称. 头像. 简介。请先设置完后再重新提交 "
    "(set nickname, avatar and intro first)",
    86069: "owner_setting 必填字段缺失 (owner_setting lacks a required field)",
    86071: "privacy_key 不合法 (unknown privacy_key)",
    86074: "现网隐私协议不存在 (no released privacy setting to change: privacy_ver=1)",
    87011: "现网已经在灰度发布,不能进行版本回退 (gray release running, cannot revert)",
    87012: "该版本不能回退 (this version cannot be reverted)",
    87013: "撤回次数达到上限（每天一次,每个月 10 次） (undo audit limit: once a day, 10 a month)",
    87072: "隐私协议文件不合法 (privacy ext file rejected: too large or not text)",
}

# Where one code means something else on one endpoint (WeChat's gray-release docs).
_ENDPOINT_DESCRIPTIONS: dict[tuple[str, int], str] = {
    ("gray_release", 86002): "小程序未初始化完成 (mini program not initialised)",
}


def describe_errcode(errcode: int, endpoint: str | None = None) -> str:
    """WeChat's description of ``errcode`` (Chinese with an English gloss), or ''."""
    if endpoint is not None:
        special = _ENDPOINT_DESCRIPTIONS.get((endpoint, errcode))
        if special is not None:
            return special
    return ERRCODE_DESCRIPTIONS.get(errcode, "")


def api_error(errcode: int, errmsg: str, endpoint: str | None = None) -> WxaApiError:
    """Build the most specific :class:`WxaApiError` subclass for ``errcode``."""
    cls = _FAMILIES.get(errcode, WxaApiError)
    return cls(errcode, errmsg, endpoint=endpoint)


def raise_for_errcode(payload: Any, endpoint: str | None = None) -> None:
    """Raise the mapped error if ``payload`` is a JSON object with a non-zero errcode."""
    if not isinstance(payload, dict):
        return
    code = payload.get("errcode", 0)
    if code in (0, None):
        return
    if isinstance(code, bool) or not isinstance(code, (int, str)):
        raise WxaDecodeError(f"errcode is not an integer: {type(code).__name__}",
                             endpoint=endpoint)
    try:
        errcode = int(code)
    except ValueError:
        raise WxaDecodeError("errcode is not an integer", endpoint=endpoint) from None
    if errcode == 0:
        return
    errmsg = payload.get("errmsg", "")
    raise api_error(errcode, errmsg if isinstance(errmsg, str) else str(errmsg), endpoint)
