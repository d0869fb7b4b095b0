"""The platform's code-template library (代码模板库): the draft box and the library.

Setup as WeChat's developer tools would do it (:meth:`TemplateHandlers.add_draft`) or
straight into the library (:meth:`TemplateHandlers.add_template`); the component
handle's endpoints move drafts into the library (at most ``limits.templates``, 85065)
and delete templates. ``commit`` takes only a template in the library (85014).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...models import (
    Draft,
    DraftListResponse,
    TemplateListResponse,
    WxaResponse,
)
from ...models import Template as TemplateInfo
from ._answers import _Reply
from ._core import EmulatorCore
from ._state import Template


class TemplateHandlers(EmulatorCore):
    """Drafts and templates of the third-party platform (one per emulator)."""

    def add_template(
        self, template_id: int, pages: Sequence[str], *, privacy_keys: Sequence[str] = (),
        template_type: int = 0,
    ) -> Template:
        """Put a code template straight into the platform's template library (代码模板库):
        its code pages and the privacy keys its code uses (``privacy_keys``: a submit
        without a privacy setting declaring them answers 61040)."""
        template = Template(template_id, list(pages), list(privacy_keys),
                            create_time=self.clock.time(), template_type=template_type)
        self.templates[template_id] = template
        self._next_template_id = max(self._next_template_id, template_id + 1)
        return template

    def add_draft(
        self, pages: Sequence[str], *, privacy_keys: Sequence[str] = (),
        user_version: str = "1.0.0", user_desc: str = "",
    ) -> int:
        """Upload code to the draft box (草稿箱), as WeChat's developer tools do; the
        draft id (for ``add_to_template``)."""
        draft_id = max(self.drafts, default=0) + 1
        self.drafts[draft_id] = Template(
            draft_id, list(pages), list(privacy_keys), user_version, user_desc,
            create_time=self.clock.time(),
        )
        return draft_id

    def _op_get_template_draft_list(self, app: Any, req: Any) -> WxaResponse:
        return DraftListResponse(draft_list=[
            Draft(draft_id=draft_id, user_version=d.user_version, user_desc=d.user_desc,
                  create_time=d.create_time,
                  source_miniprogram_appid=d.source_miniprogram_appid,
                  source_miniprogram=d.source_miniprogram, developer=d.developer)
            for draft_id, d in self.drafts.items()
        ])

    def _op_add_to_template(self, app: Any, req: Any) -> WxaResponse:
        draft = self.drafts.get(req.draft_id)
        if draft is None:
            raise _Reply(85064)
        if len(self.templates) >= self.limits.templates:
            raise _Reply(85065)
        template_id = self._next_template_id
        self._next_template_id += 1
        self.templates[template_id] = Template(
            template_id, list(draft.pages), list(draft.privacy_keys), draft.user_version,
            draft.user_desc, self.clock.time(), req.template_type or 0,
            draft.source_miniprogram_appid, draft.source_miniprogram, draft.developer,
        )
        return WxaResponse()

    def _op_get_template_list(self, app: Any, req: Any) -> WxaResponse:
        return TemplateListResponse(template_list=[
            TemplateInfo(template_id=t.template_id, user_version=t.user_version,
                         user_desc=t.user_desc, create_time=t.create_time,
                         template_type=t.template_type,
                         source_miniprogram_appid=t.source_miniprogram_appid,
                         source_miniprogram=t.source_miniprogram, developer=t.developer)
            for t in self.templates.values()
            if req.template_type is None or t.template_type == req.template_type
        ])

    def _op_delete_template(self, app: Any, req: Any) -> WxaResponse:
        if self.templates.pop(req.template_id, None) is None:
            raise _Reply(85064)
        return WxaResponse()
