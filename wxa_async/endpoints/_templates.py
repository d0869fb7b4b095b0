"""The code-template library table (代码模板库) of the third-party platform itself.

Code uploaded from WeChat's developer tools lands in the draft box; adding a draft to
the library makes a template whose ``template_id`` ``commit`` takes. These lines send
the **component** access token (as ``access_token``): they are the methods of
``client.component()``.
"""

from __future__ import annotations

from ..models import (
    AddToTemplateRequest,
    DeleteTemplateRequest,
    DraftListResponse,
    NoArguments,
    TemplateListRequest,
    TemplateListResponse,
    WxaResponse,
)
from ._spec import Endpoint

__all__ = ["TemplateEndpoints"]


class TemplateEndpoints:
    """Drafts and templates: list the draft box, add a draft to the library, list and
    delete templates."""

    get_template_draft_list = Endpoint(
        "GET", "wxa/gettemplatedraftlist", NoArguments, DraftListResponse,
        idempotent=True, auth="component",
    )
    # Each call adds another template (the library holds at most 200): a mutation.
    add_to_template = Endpoint(
        "POST", "wxa/addtotemplate", AddToTemplateRequest, WxaResponse,
        idempotent=False, auth="component",
    )
    get_template_list = Endpoint(
        "GET", "wxa/gettemplatelist", TemplateListRequest, TemplateListResponse,
        idempotent=True, auth="component",
    )
    delete_template = Endpoint(
        "POST", "wxa/deletetemplate", DeleteTemplateRequest, WxaResponse,
        idempotent=False, auth="component",
    )
