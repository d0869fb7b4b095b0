"""Suite-wide hooks. The summary below says plainly which tests were skipped and why."""

from __future__ import annotations

import collections
from typing import Any


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: Any) -> None:
    skipped = terminalreporter.stats.get("skipped", [])
    if not skipped:
        return
    reasons: collections.Counter[str] = collections.Counter()
    for report in skipped:
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        reasons[reason.removeprefix("Skipped: ")] += 1
    terminalreporter.section("skipped tests, and why", yellow=True)
    for reason, count in reasons.most_common():
        terminalreporter.write_line(f"{count:4d} skipped: {reason}")
    terminalreporter.write_line(
        "A test skipped for a missing server or package runs once it is installed "
        "(e.g. apt-get install redis-server); with CI set, such tests fail instead."
    )
