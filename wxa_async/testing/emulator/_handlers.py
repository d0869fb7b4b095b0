"""One handler per line of the endpoint tables, named ``_op_<endpoint name>``."""

from __future__ import annotations

import heapq
import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, urlsplit

import attrs

from ...models import (
    AuditItem,
    AuditStatusResponse,
    Category,
    CategoryListResponse,
    ExpInfo,
    GrayReleasePlanResponse,
    HistoryVersion,
    HistoryVersionResponse,
    LatestAuditStatusResponse,
    PageListResponse,
    QrcodeJumpFileResponse,
    QrcodeJumpRule,
    QrcodeJumpRulesResponse,
    QuotaResponse,
    ReleaseInfo,
    SubmitAuditResponse,
    SupportVersionResponse,
    UvInfo,
    UvItem,
    VersionInfoResponse,
    WxaResponse,
)
from ._answers import Answer, _payload, _Reply
from ._core import EmulatorCore
from ._media_handlers import MediaHandlers
from ._privacy_handlers import PrivacyHandlers
from ._qr import qr_jpeg
from ._state import (
    _SUPPORT_VERSIONS,
    _VERSION,
    AppState,
    Audit,
    AuditStatus,
    CodeVersion,
    QrcodeRule,
    _day,
    _month,
)
from ._template_handlers import TemplateHandlers

_AuditAnswer = AuditStatusResponse | LatestAuditStatusResponse


class CodeHandlers(EmulatorCore):
    """Code management (代码管理)."""

    # -- code management: one handler per table entry, named _op_<endpoint name> --------

    def _op_commit(self, app: AppState, req: Any) -> WxaResponse:
        template = self.templates.get(req.template_id)
        if template is None:
            raise _Reply(85014)  # the template library must hold it
        try:
            ext = json.loads(req.ext_json) if req.ext_json.strip() else {}
        except ValueError:
            raise _Reply(85048) from None
        if not isinstance(ext, dict):
            raise _Reply(85048)
        pages = ext.get("pages", template.pages)
        ext_pages = ext.get("extPages", {})
        if not isinstance(pages, list) or not all(isinstance(p, str) for p in pages):
            raise _Reply(85013, "pages must be a list of strings")
        if not isinstance(ext_pages, dict):
            raise _Reply(85013, "extPages must be an object")
        if not pages:
            raise _Reply(85047)
        if any(page not in template.pages for page in [*pages, *ext_pages]):
            raise _Reply(85045)
        tab_bar = ext.get("tabBar")
        if isinstance(tab_bar, dict) and any(
            not isinstance(item, dict) or not item.get("pagePath")
            for item in tab_bar.get("list", [])
        ):
            raise _Reply(85046)
        app.trial = CodeVersion(req.template_id, req.user_version, req.user_desc,
                                list(pages), req.ext_json, self.clock.time(),
                                list(template.privacy_keys))
        # WeChat scans every commit for privacy interfaces before it can be audited.
        app.privacy_scan_until = self.clock.now() + self.limits.privacy_scan_seconds
        return WxaResponse()

    def _op_get_qrcode(self, app: AppState, req: Any) -> Answer:
        if app.trial is None:
            raise _Reply(86001)
        path = req.path or app.trial.pages[0]
        text = (f"https://open.weixin.qq.com/sns/getexpappinfo?appid={app.appid}"
                f"&path={quote(path, safe='')}#wechat-redirect")
        image = qr_jpeg(text)
        return Answer(200, {
            "Content-Type": "image/jpeg",
            "Content-Disposition": 'attachment; filename="QRCode.jpg"',
            "Cache-Control": "no-cache, must-revalidate",
            "Content-Length": str(len(image)),
        }, image)

    def _op_get_category(self, app: AppState, req: Any) -> WxaResponse:
        return CategoryListResponse(category_list=list(app.categories))

    def _op_get_page(self, app: AppState, req: Any) -> WxaResponse:
        if app.trial is None:
            raise _Reply(86001)
        return PageListResponse(page_list=list(app.trial.pages))

    def _op_submit_audit(self, app: AppState, req: Any) -> WxaResponse:
        if not app.nickname_set:
            raise _Reply(86002)
        if app.trial is None:
            raise _Reply(85086)
        latest = app.latest_audit
        if latest is not None and latest.in_progress:
            raise _Reply(85009)
        now = self.clock.now()
        if now < app.privacy_scan_until:
            raise _Reply(61039)
        for item in req.item_list or ():
            values = attrs.astuple(item)
            if all(v is None or v == "" for v in values):
                raise _Reply(85010)
            if item.address not in app.trial.pages:
                raise _Reply(85007)
            if not _category_matches(item, app.categories):
                raise _Reply(85008)
        if self._undeclared_privacy(app) and not req.privacy_api_not_use:
            raise _Reply(61040)
        if req.preview_info is not None:
            for media_id in (*req.preview_info.video_id_list, *req.preview_info.pic_id_list):
                media = self.media.get(media_id)
                if media is None or media.expires_at <= now:
                    raise _Reply(85092)
        month = _month(now)
        window = [t for t in self._submissions if _month(t) == month]
        if len(window) >= self.limits.audit_submissions_per_month:
            raise _Reply(85085)
        self._submissions = [*window, now]
        auditid = self._next_auditid
        self._next_auditid += 1
        audit = Audit(auditid, app.trial, tuple(req.item_list or ()), self.clock.time())
        if self._policy is not None:
            failed = self._policy_rng.random() < self._policy.fail_rate
            audit.outcome = (not failed, self._policy.reason)
            if self._policy.delayed_rate > 0:  # no extra draw otherwise: same sequences
                audit.delayed = self._policy_rng.random() < self._policy.delayed_rate
            audit.due_at = now + self._policy.delay
            heapq.heappush(self._due, (audit.due_at, auditid, app.appid, auditid))
        app.audits[auditid] = audit
        app.latest_auditid = auditid
        return SubmitAuditResponse(auditid=auditid)

    def _op_get_audit_status(self, app: AppState, req: Any) -> WxaResponse | Answer:
        audit = app.audits.get(req.auditid)
        if audit is None:
            raise _Reply(85012)
        return _audit_answer(AuditStatusResponse(status=int(audit.status), reason=audit.reason),
                             audit, "screenshot")

    def _op_get_latest_audit_status(self, app: AppState, req: Any) -> WxaResponse | Answer:
        audit = app.latest_audit
        if audit is None:
            raise _Reply(85012)
        answer = LatestAuditStatusResponse(
            status=int(audit.status), reason=audit.reason, auditid=audit.auditid,
            user_version=audit.version.user_version, user_desc=audit.version.user_desc,
            submit_audit_time=audit.submitted_at,
        )
        # The service spells the field both ways; this answer uses the capitalised one.
        return _audit_answer(answer, audit, "ScreenShot")

    def _op_release(self, app: AppState, req: Any) -> WxaResponse:
        audit = app.latest_audit
        if audit is None or audit.released:
            raise _Reply(85019)
        if audit.status != AuditStatus.PASSED:
            raise _Reply(85020)
        self._publish(app, audit)
        return WxaResponse()

    def _publish(self, app: AppState, audit: Audit) -> None:
        audit.released = True
        version = attrs.evolve(audit.version, app_version=app.next_app_version)
        app.next_app_version += 1
        app.releases.append(version)
        # The privacy guide set for the development version goes live with it.
        if app.privacy_dev is not None:
            app.privacy_live = app.privacy_dev
        app.released_at = self.clock.time()
        app.reverted = False
        if app.gray_plan.status == 1:
            app.gray_plan.status = 3

    def _op_change_visit_status(self, app: AppState, req: Any) -> WxaResponse:
        if app.visit_status == req.action:
            raise _Reply(85021)
        app.visit_status = req.action
        return WxaResponse()

    def _op_revert_code_release(self, app: AppState, req: Any) -> WxaResponse:
        if app.gray_plan.status == 1:
            raise _Reply(87011)
        if len(app.releases) < 2 or app.reverted:
            raise _Reply(87012)
        candidates = self._rollback_candidates(app)
        if req.app_version is None:
            target = len(app.releases) - 2
        else:
            chosen = [i for i in candidates if app.releases[i].app_version == req.app_version]
            if not chosen:
                raise _Reply(87012, "no such version to roll back to")
            target = chosen[0]
        del app.releases[target + 1:]
        app.reverted = True
        app.released_at = self.clock.time()
        return WxaResponse()

    def _rollback_candidates(self, app: AppState) -> list[int]:
        """Indexes in ``app.releases`` of the versions a rollback may go to, newest
        first: the ones before the online version, at most ``limits.history_versions``."""
        before = range(len(app.releases) - 2, -1, -1)
        return list(before)[: self.limits.history_versions]

    def _op_get_history_version(self, app: AppState, req: Any) -> WxaResponse:
        versions = [app.releases[i] for i in self._rollback_candidates(app)]
        return HistoryVersionResponse(version_list=[
            HistoryVersion(app_version=v.app_version, user_version=v.user_version,
                           user_desc=v.user_desc, commit_time=v.committed_at)
            for v in versions
        ])

    def _op_get_support_version(self, app: AppState, req: Any) -> WxaResponse:
        share = round(100 / len(_SUPPORT_VERSIONS), 2)
        items = [UvItem(percentage=share if v >= app.support_version else 0.0, version=v)
                 for v in _SUPPORT_VERSIONS]
        return SupportVersionResponse(now_version=app.support_version, uv_info=UvInfo(items))

    def _op_set_support_version(self, app: AppState, req: Any) -> WxaResponse:
        if not _VERSION.match(req.version):
            raise _Reply(85015)
        app.support_version = req.version
        return WxaResponse()

    def _op_add_qrcode_jump(self, app: AppState, req: Any) -> WxaResponse:
        prefix = urlsplit(req.prefix)
        if prefix.scheme not in ("http", "https") or not prefix.hostname:
            raise _Reply(85066)
        if any(not url.startswith(req.prefix) for url in req.debug_url):
            raise _Reply(85068)
        existing = req.prefix in app.qrcode_rules
        if existing and not req.is_edit:
            raise _Reply(85071)
        if not existing and len(app.qrcode_rules) >= self.limits.qrcode_rules:
            raise _Reply(85073)
        app.qrcode_rules[req.prefix] = QrcodeRule(
            req.prefix, req.permit_sub_rule, req.path, req.open_version, list(req.debug_url))
        return WxaResponse()

    def _op_get_qrcode_jump(self, app: AppState, req: Any) -> WxaResponse:
        rules = [QrcodeJumpRule(prefix=r.prefix, open_version=r.open_version, state=r.state,
                                permit_sub_rule=r.permit_sub_rule, path=r.path,
                                debug_url=list(r.debug_url))
                 for r in app.qrcode_rules.values()]
        return QrcodeJumpRulesResponse(
            rule_list=rules,
            qrcodejump_open=int(any(r.state == 2 for r in app.qrcode_rules.values())),
            list_size=len(rules),
            qrcodejump_pub_quota=self.qrcode_publish_quota(app.appid),
        )

    def _op_download_qrcode_jump_file(self, app: AppState, req: Any) -> WxaResponse:
        app.qrcode_file = (f"{self._rng.getrandbits(40):010x}.txt",
                           f"{self._rng.getrandbits(128):032x}")
        return QrcodeJumpFileResponse(file_name=app.qrcode_file[0],
                                      file_content=app.qrcode_file[1])

    def _op_delete_qrcode_jump(self, app: AppState, req: Any) -> WxaResponse:
        if app.qrcode_rules.pop(req.prefix, None) is None:
            raise _Reply(85066, "no such rule")
        return WxaResponse()

    def _op_publish_qrcode_jump(self, app: AppState, req: Any) -> WxaResponse:
        rule = app.qrcode_rules.get(req.prefix)
        if rule is None:
            raise _Reply(85066, "no such rule")
        if app.online is None:
            raise _Reply(85074)
        if self.qrcode_publish_quota(app.appid) <= 0:
            raise _Reply(45009, "monthly publish quota of QR-code jump rules reached")
        app.qrcode_publishes.append(self.clock.now())
        rule.state = 2
        return WxaResponse()

    def _op_undo_code_audit(self, app: AppState, req: Any) -> WxaResponse:
        now = self.clock.now()
        today = sum(1 for t in app.undo_times if _day(t) == _day(now))
        month = sum(1 for t in app.undo_times if _month(t) == _month(now))
        if today >= self.limits.undo_per_day or month >= self.limits.undo_per_month:
            raise _Reply(87013)
        audit = app.latest_audit
        if audit is None or not audit.in_progress:
            raise _Reply(85012, "no audit under way to withdraw")
        app.undo_times.append(now)
        audit.status = AuditStatus.WITHDRAWN
        audit.resolved_at = self.clock.time()
        return WxaResponse()

    def _op_gray_release(self, app: AppState, req: Any) -> WxaResponse:
        if app.online is None:
            raise _Reply(85079)
        audit = app.latest_audit
        if audit is None or audit.status != AuditStatus.PASSED:
            raise _Reply(85080)
        plan = app.gray_plan
        if plan.status == 1 and req.gray_percentage <= plan.gray_percentage:
            raise _Reply(85082)
        flags = (bool(req.support_debuger_first), bool(req.support_experiencer_first))
        if plan.status != 1:
            plan.create_timestamp = self.clock.time()
        plan.gray_percentage = req.gray_percentage
        plan.support_debuger_first, plan.support_experiencer_first = flags
        plan.status = 1
        if req.gray_percentage == 100:  # everyone has it: the staged version is online
            if not audit.released:
                self._publish(app, audit)
            plan.status = 3
        return WxaResponse()

    def _op_revert_gray_release(self, app: AppState, req: Any) -> WxaResponse:
        if app.gray_plan.status == 1:
            app.gray_plan.status = 4
        return WxaResponse()

    def _op_get_gray_release_plan(self, app: AppState, req: Any) -> WxaResponse:
        plan = app.gray_plan
        return GrayReleasePlanResponse(gray_release_plan=attrs.evolve(plan))

    def _op_speedup_audit(self, app: AppState, req: Any) -> WxaResponse:
        audit = app.audits.get(req.auditid)
        if audit is None or not audit.in_progress:
            raise _Reply(85012)
        month = _month(self.clock.now())
        used = sum(1 for t in app.speedup_times if _month(t) == month)
        if used >= self.limits.speedups_per_month:
            raise _Reply(45009, "speedup quota reached")
        app.speedup_times.append(self.clock.now())
        if audit.due_at is not None:  # a policy-driven audit finishes in half the time left
            audit.due_at = self.clock.now() + (audit.due_at - self.clock.now()) / 2
            heapq.heappush(self._due, (audit.due_at, audit.auditid, app.appid, audit.auditid))
        return WxaResponse()

    def _op_query_quota(self, app: AppState, req: Any) -> WxaResponse:
        now = self.clock.now()
        month = _month(now)
        used = sum(1 for t in self._submissions if _month(t) == month)
        limit = self.limits.audit_submissions_per_month
        sped = sum(1 for t in app.speedup_times if _month(t) == month)
        return QuotaResponse(rest=max(limit - used, 0), limit=limit,
                             speedup_rest=max(self.limits.speedups_per_month - sped, 0),
                             speedup_limit=self.limits.speedups_per_month)

    def _op_get_version_info(self, app: AppState, req: Any) -> WxaResponse:
        trial, online = app.trial, app.online
        return VersionInfoResponse(
            exp_info=ExpInfo(trial.committed_at, trial.user_version, trial.user_desc)
            if trial else None,
            release_info=ReleaseInfo(app.released_at, online.user_version, online.user_desc)
            if online else None,
        )



def _audit_answer(answer: _AuditAnswer, audit: Audit, spelling: str) -> Answer:
    payload = _payload(answer)
    payload.pop("screenshot", None)
    if audit.screenshots:
        payload[spelling] = "|".join(audit.screenshots)  # "|"-joined media ids
    if isinstance(answer, LatestAuditStatusResponse):
        payload["auditid"] = str(audit.auditid)  # the service sends this id as a string
    return Answer.json(payload)


def _category_matches(item: AuditItem, categories: Sequence[Category]) -> bool:
    given = {k: v for k, v in attrs.asdict(item).items()
             if k.endswith(("_class", "_id")) and v not in (None, "")}
    has_first = "first_id" in given or "first_class" in given
    has_second = "second_id" in given or "second_class" in given
    if not (has_first and has_second):
        return False
    return any(all(getattr(c, k) == v for k, v in given.items()) for c in categories)




class Emulator(CodeHandlers, PrivacyHandlers, MediaHandlers, TemplateHandlers):
    __doc__ = EmulatorCore.__doc__
