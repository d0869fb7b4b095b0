"""Per-app report lines as CSV or JSON text (what ``rollout report`` writes)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Literal

from ._rows import AppRow

__all__ = ["report_text"]


def report_text(rows: Sequence[AppRow], fmt: Literal["csv", "json"] = "csv") -> str:
    """One line (CSV) or object (JSON) per app: :meth:`AppRow.report`'s fields."""
    data = [row.report() for row in rows]
    if fmt == "json":
        return json.dumps(data, ensure_ascii=False, indent=1) + "\n"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(data[0]) if data else ["appid"])
    writer.writeheader()
    writer.writerows(data)
    return out.getvalue()
