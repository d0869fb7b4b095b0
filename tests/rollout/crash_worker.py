"""A rollout worker process for the crash test: ``python -m tests.rollout.crash_worker``.

Arguments: store URL, emulator base URL, tokens file (JSON ``{appid: token}``). With
``WXA_CRASH_AFTER=N`` and ``WXA_CRASH_ON=submit_audit`` (or ``release``) in the
environment the process SIGKILLs itself right after its Nth such request has been
answered and before the answer is used: the intent is in the store, the service has
applied the call, the outcome is not written. The worst moment there is.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from tests.rollout.support import plan
from wxa_async import HttpxTransport, StaticTokenProvider, WxaClient
from wxa_async.rollout import Rollout, RolloutOptions


class Crashing(HttpxTransport):
    def __init__(self, after: int | None, on: str) -> None:
        super().__init__()
        self.after = after
        self.on = "wxa/" + on
        self.seen = 0

    async def send(self, request: Any) -> Any:
        response = await super().send(request)
        if self.after is not None and request.url.endswith(self.on):
            self.seen += 1
            if self.seen >= self.after:
                os.kill(os.getpid(), signal.SIGKILL)
        return response


async def main(store: str, base_url: str, tokens_file: str) -> None:
    tokens = json.loads(Path(tokens_file).read_text())
    after = os.environ.get("WXA_CRASH_AFTER")
    transport = Crashing(int(after) if after else None,
                         os.environ.get("WXA_CRASH_ON", "submit_audit"))
    client = WxaClient(StaticTokenProvider(tokens), base_url, transport, max_retries=2,
                       retry_deadline=2.0, timeout=5.0)
    options = RolloutOptions(worker_id="crash-worker", poll_interval=0.05, poll_jitter=0.5,
                             lease_ttl=30.0, idle_sleep=0.05, coalesce=0.0, retry_base=0.05,
                             retry_cap=0.5, max_attempts=50, concurrency=4)
    async with client, await Rollout.open(store, client, plan(sorted(tokens)),
                                          options=options) as rollout:
        summary = await rollout.run()
    print(json.dumps(summary.counts), flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
