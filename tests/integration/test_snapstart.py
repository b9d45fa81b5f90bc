"""SnapStart hooks: registered with `snapshot_restore_py`, called in order, then invoked again."""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.integration.conftest import TABLE

pytestmark = pytest.mark.integration

_SCRIPT = """
import json, sys
import snapshot_restore_py as hooks
import handler.app as app

event = json.load(open("events/v2-authentication.json"))
before = app.handler(event, None)
assert app.DEPS.cache is not None and len(app.DEPS.cache) == 1
registered = (hooks.get_before_snapshot(), hooks.get_after_restore())
# The runtime runs these around the snapshot; here, in the same order.
for func, args, kwargs in hooks.get_before_snapshot():
    func(*args, **kwargs)
old = app.DEPS
for func, args, kwargs in hooks.get_after_restore():
    func(*args, **kwargs)
after = app.handler(event, None)
print(json.dumps({
    "hooks": [len(registered[0]), len(registered[1])],
    "renewed": app.DEPS is not old,
    "cache_after_restore": len(app.DEPS.cache) if app.DEPS.cache is not None else None,
    "same_answer": before == after,
    "old_transport_closed": old.store.sender.http.closed,
}))
"""


def test_snapstart_hooks_prime_renew_and_invoke_again(endpoint: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _SCRIPT],
        cwd=ROOT,
        env={
            **os.environ,
            "TABLE_NAME": TABLE,
            "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
            "CACHE_TTL_SECONDS": "600",
            "LOG_LEVEL": "ERROR",
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {
        "hooks": [1, 1],
        "renewed": True,
        "cache_after_restore": 1,
        "same_answer": True,
        "old_transport_closed": True,
    }
