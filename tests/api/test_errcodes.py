"""The errcodes of the current API: typed, and described in Chinese with an English gloss."""

from __future__ import annotations

import pickle
import re

import pytest

from wxa_async import (
    WxaApiError,
    WxaPrivacyScanPendingError,
    WxaQuotaError,
    WxaValidationError,
)
from wxa_async.errors import api_error, describe_errcode

CURRENT = [61039, 61040, 85092, 87011, 85064, 85065, 86069, 86071, 86074, 87072, 44002,
           47001, 40005, 40006, 85058]


@pytest.mark.parametrize("errcode", CURRENT)
def test_every_current_errcode_is_described_in_chinese_with_an_english_gloss(
    errcode: int,
) -> None:
    text = describe_errcode(errcode)
    assert re.search(r"[\u4e00-\u9fff]", text), text
    gloss = re.search(r"\(([^()]*)\)\s*$", text)
    assert gloss and re.search(r"[a-z]{3}", gloss.group(1)), text
    assert str(errcode) in str(api_error(errcode, "msg", "submit_audit"))


def test_61039_has_its_own_class_and_survives_pickling() -> None:
    error = api_error(61039, "not yet", "submit_audit")
    assert type(error) is WxaPrivacyScanPendingError and isinstance(error, WxaApiError)
    assert not isinstance(error, WxaQuotaError)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is WxaPrivacyScanPendingError and copy.errcode == 61039


def test_85085_is_a_monthly_platform_wide_quota() -> None:
    error = api_error(85085, "quota", "submit_audit")
    assert isinstance(error, WxaQuotaError)
    assert "本月" in error.description
    assert "month" in error.description and "platform" in error.description
    assert "7" not in error.description


def test_validation_errors_keep_field_and_errcode_through_pickling() -> None:
    error = WxaValidationError("title: too long", field="title", errcode=85011)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.field, copy.errcode, str(copy)) == ("title", 85011, "title: too long")
    assert isinstance(copy, ValueError)
