"""Run a `make` target as an operator would, against a local AWS endpoint (moto's server).

The target runs with this interpreter and without the install step (`STAMP=`, `PY=`), with fake
credentials, the endpoint in the variable asked for, and none of the caller's AWS endpoint or
profile variables, nor the make variables the tools read (`CLAIMS_CONFIG`, `APPLY`,
`ALLOW_WRITABLE`), which a developer's shell could otherwise pass in unseen, nor the variables
an outer make (`make test`) passes down: the target runs as an operator's top-level make.
"""

import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT

__all__ = ("run_make",)

_UNSEEN = (
    "AWS_ENDPOINT_URL",
    "AWS_PROFILE",
    "CLAIMS_CONFIG",
    "APPLY",
    "ALLOW_WRITABLE",
    # Under `make test` these say "you are a sub-make": the target would report `make[1]: ***`.
    "MAKELEVEL",
    "MAKEFLAGS",
    "MFLAGS",
)


def run_make(
    endpoint: str, target: str, *, variable: str = "AWS_ENDPOINT_URL_COGNITO_IDP", **values: str
) -> subprocess.CompletedProcess[str]:
    """`make <target> NAME=value...` pointed at `endpoint` by `variable`; skips without make."""
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed (.ci/run installs it)")
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith(_UNSEEN)
    }
    environment |= {
        variable: endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    command = [make, "-s", "--no-print-directory", target, "STAMP=", f"PY={sys.executable}"]
    command += [f"{name}={value}" for name, value in values.items()]
    return subprocess.run(
        command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120, check=False
    )
