"""The deployment package is what the lock says, and runs on its own.

Built once for the running Python and machine, from `requirements.lock`: its `*.dist-info`
versions equal the lock's, name by name, and the dev lock (what the tests run on) holds the same
pins; unzipped into an empty folder, with nothing but the
standard library beside it, the handler answers against a moto server.
"""

import json
import os
import platform
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import ROOT
from tests.integration.conftest import TABLE
from tools.package import LOCK, build, locked_for, read_lock

pytestmark = pytest.mark.integration

ARCH = "arm64" if platform.machine() in ("aarch64", "arm64") else "x86_64"
VERSION = f"{sys.version_info[0]}.{sys.version_info[1]}"

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


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The zip `make package` builds, for this machine's architecture and Python."""
    return build(ARCH, VERSION, tmp_path_factory.mktemp("dist"), compiler=sys.executable)


def _dist_infos(names: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for name in names:
        top = name.split("/", 1)[0]
        if top.endswith(".dist-info"):
            distribution, _, version = top.removesuffix(".dist-info").rpartition("-")
            found[canonicalize_name(distribution)] = version
    return found


def test_lock_pins_every_runtime_dependency_within_its_range() -> None:
    # GIVEN pyproject.toml's runtime dependencies; THEN the lock pins each, inside its range
    # (a dependency added or moved without `make lock` fails here).
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = {pin.name: pin.version for pin in read_lock()}
    stale = []
    for line in declared:
        requirement = Requirement(line)
        version = pins.get(canonicalize_name(requirement.name))
        if version is None or not requirement.specifier.contains(version, prereleases=True):
            stale.append(f"{requirement} (locked: {version})")
    assert not stale, f"{LOCK.name} is stale, run `make lock`: {stale}"


def test_dev_lock_tests_the_runtime_pins() -> None:
    # What `make install` (tests, bench) installs has every runtime pin at the same version.
    dev: dict[str, set[str]] = {}
    for pin in read_lock(ROOT / "requirements-dev.lock"):
        dev.setdefault(pin.name, set()).add(pin.version)
    differ = [
        f"{pin.name}: {pin.version} shipped, {sorted(dev.get(pin.name, ()))} tested"
        for pin in read_lock()
        if pin.version not in dev.get(pin.name, ())
    ]
    assert not differ, f"the locks disagree, run `make lock`: {differ}"


def test_lock_serves_lambda_on_both_architectures() -> None:
    # Lambda's Python 3.13 and this machine's both find every declared dependency in the lock.
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {canonicalize_name(Requirement(line).name) for line in declared}
    for arch in ("arm64", "x86_64"):
        for version in ("3.13", VERSION):
            assert names <= {pin.name for pin in locked_for(arch, version)}, (arch, version)


def test_package_versions_equal_the_lock(package: Path) -> None:
    # GIVEN the zip built from the lock; THEN its dist-info versions are the lock's, name by
    # name, nothing extra and nothing missing.
    with zipfile.ZipFile(package) as archive:
        shipped = _dist_infos(archive.namelist())
    locked = {pin.name: pin.version for pin in locked_for(ARCH, VERSION)}
    assert shipped == locked


def test_package_runs_alone_against_moto(package: Path, endpoint: str, tmp_path: Path) -> None:
    with zipfile.ZipFile(package) as archive:
        names = archive.namelist()
        archive.extractall(tmp_path / "task")
    task = tmp_path / "task"
    # The store runs on aiodynamo's signer and its own transport: no AWS SDK, no aiohttp ships.
    assert not (task / "botocore").exists()
    assert not (task / "aiohttp").exists()
    assert (task / "aiodynamo").is_dir()
    assert (task / "httptools").is_dir()
    # The CA bundle the store verifies TLS against ships with the code.
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


def test_package_ships_the_mapping_at_its_repository_path(tmp_path: Path) -> None:
    mapping = ROOT / "events" / "single-table.toml"
    path = build(ARCH, VERSION, tmp_path, compiler=sys.executable, mapping=mapping)
    with zipfile.ZipFile(path) as archive:
        assert archive.read("events/single-table.toml") == mapping.read_bytes()
    with pytest.raises(ValueError, match="must be a file inside"):
        build(ARCH, VERSION, tmp_path, compiler=sys.executable, mapping=tmp_path / "m.toml")


@pytest.mark.skipif(
    not any(Path(p, "llvm-strip").exists() for p in os.environ.get("PATH", "").split(":")),
    reason="llvm-strip is not on this machine: the package keeps the debug info",
)
def test_package_extension_modules_carry_no_debug_info(package: Path) -> None:
    with zipfile.ZipFile(package) as archive:
        objects = [name for name in archive.namelist() if name.endswith(".so")]
        assert objects
        assert not [name for name in objects if b".debug_info" in archive.read(name)]
