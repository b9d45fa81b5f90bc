"""The deployment package runs on its own: unzipped into an empty folder, with nothing but the
standard library beside it, the handler answers against a moto server."""

import json
import os
import platform
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.integration.conftest import TABLE
from tools.package import build

pytestmark = pytest.mark.integration

_RUN = """
import json, sys
sys.path.insert(0, sys.argv[1])
import handler.app as app
event = json.load(open(sys.argv[2]))
answer = app.handler(event, None)
outside = sorted(
    name for name, module in sys.modules.items()
    if getattr(module, "__file__", None) and "-packages" in module.__file__
)
print(json.dumps({"answer": answer, "outside": outside}))
"""


def test_package_runs_alone_against_moto(endpoint: str, tmp_path: Path) -> None:
    arch = "arm64" if platform.machine() in ("aarch64", "arm64") else "x86_64"
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    zip_path = build(arch, version, tmp_path / "dist", compiler=sys.executable)
    with zipfile.ZipFile(zip_path) as archive:
        names = archive.namelist()
        archive.extractall(tmp_path / "task")
    task = tmp_path / "task"
    # The store runs on aiodynamo and aiohttp: no AWS SDK ships.
    assert not (task / "botocore").exists()
    assert (task / "aiodynamo").is_dir()
    # The CA bundle `template.yaml` points SSL_CERT_FILE at ships with the code.
    assert "shared/certs/amazon-trust.pem" in names
    assert not any("/tests/" in n or n.startswith("tests/") for n in names)
    tag = f"cpython-{sys.version_info[0]}{sys.version_info[1]}"
    assert any(n.startswith("handler/__pycache__/app.") and tag in n for n in names)
    event = tmp_path / "event.json"
    event.write_text((ROOT / "events" / "v2-authentication.json").read_text())
    # -S: no site-packages at all, only the standard library and the unzipped package.
    result = subprocess.run(
        [sys.executable, "-S", "-c", _RUN, str(task), str(event)],
        cwd=task,
        env={
            "PATH": os.environ.get("PATH", ""),
            "TABLE_NAME": TABLE,
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
            "PYTHONDONTWRITEBYTECODE": "1",
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["outside"] == []
    details = report["answer"]["response"]["claimsAndScopeOverrideDetails"]
    assert details["idTokenGeneration"]["claimsToAddOrOverride"]["first_name"] == "Jane"
