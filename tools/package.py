"""`make package`: the Lambda deployment zip, for arm64 and x86_64.

The runtime dependencies are installed from the lock (`requirements.lock`, written by `make lock`)
with pip for the target platform and Python version (`--platform`, `--only-binary=:all:`), every
hash checked and nothing resolved (`--require-hashes --no-deps`: the lock's environment markers
are evaluated here, for the target, not for the machine building), next to `handler/` and
`shared/`, and the claim mapping `CLAIMS_CONFIG` names (`--mapping`), at its repository path. What
the function never loads is left out: tests, type stubs, caches, C sources, and the debug info
of the extension modules (`llvm-strip --strip-debug`: 4.4 -> 2.4 MiB zipped).
Everything is compiled to bytecode
with `--invalidation-mode unchecked-hash` by an interpreter of the target version, since
`/var/task` is read-only and file times in a zip cannot be trusted. The zip is reproducible.

`python -m tools.package [--arch arm64|x86_64] [--python 3.13] [--out dist]`
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import NamedTuple

from packaging.markers import Marker
from packaging.utils import canonicalize_name

__all__ = ("LOCK", "Locked", "build", "find_python", "locked_for", "read_lock")

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
PLATFORMS = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}
_MACHINES = {"arm64": "aarch64", "x86_64": "x86_64"}
_DROP_DIRS = {"__pycache__", "tests"}
_DROP_SUFFIXES = (".pyi", ".pyc", ".c", ".h", ".pyx", ".md")
_ZIP_TIME = (2020, 1, 1, 0, 0, 0)


def find_python(version: str) -> str | None:
    """A working interpreter of `version` on this machine (PATH, then pyenv), or None."""
    candidates = [shutil.which(f"python{version}")]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    if pyenv.is_dir():
        candidates += [
            str(p / "bin" / f"python{version}") for p in sorted(pyenv.glob(f"{version}.*"))
        ]
    if sys.version_info[:2] == tuple(int(x) for x in version.split(".")):
        candidates.append(sys.executable)
    for candidate in candidates:
        if not candidate or not Path(candidate).exists():
            continue
        # A pyenv shim exists on PATH even where that version is not selected: ask it.
        probe = subprocess.run(
            [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return candidate
    return None


class Locked(NamedTuple):
    """One pinned distribution of the lock: canonical name, version, marker, hashes."""

    name: str
    version: str
    marker: str | None
    hashes: tuple[str, ...]


def read_lock(path: Path = LOCK) -> list[Locked]:
    """The pins of a `uv pip compile --generate-hashes` (or pip-compile) lock file.

    Raises
    ------
    ValueError
        A requirement line is not `name==version [; marker]`, or has no hash.
    """
    pins: list[Locked] = []
    entries = path.read_text().replace("\\\n", " ").splitlines()
    for number, line in enumerate(entries, 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        words = text.split(" --hash=")
        requirement, hashes = words[0].strip(), tuple(h.strip() for h in words[1:])
        spec, _, marker = (part.strip() for part in requirement.partition(";"))
        name, equals, version = spec.partition("==")
        if not equals or not name or not version or not hashes:
            raise ValueError(
                f"{path.name}, entry {number}: expected `name==version [; marker]` with "
                f"`--hash=` options, got `{text[:80]}`; regenerate it with `make lock`"
            )
        pins.append(Locked(canonicalize_name(name), version.strip(), marker or None, hashes))
    return pins


def locked_for(arch: str, python_version: str, path: Path = LOCK) -> list[Locked]:
    """The lock's pins that apply to Lambda's Linux on `arch` with CPython `python_version`."""
    environment = {
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "os_name": "posix",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": _MACHINES[arch],
        "python_version": python_version,
        "python_full_version": f"{python_version}.0",
        "implementation_version": f"{python_version}.0",
    }
    return [
        pin
        for pin in read_lock(path)
        if pin.marker is None or Marker(pin.marker).evaluate(environment)
    ]


def _prune(target: Path) -> None:
    for path in sorted(target.rglob("*"), reverse=True):
        if path.is_dir() and path.name in _DROP_DIRS:
            shutil.rmtree(path, ignore_errors=True)
        elif path.is_file() and path.name.endswith(_DROP_SUFFIXES):
            path.unlink()
    shutil.rmtree(target / "bin", ignore_errors=True)


def _strip_debug_info(target: Path) -> str:
    """Drop the debug sections the wheels' shared objects carry (symbols the loader needs stay).

    Most of the zip is DWARF debug info in the wheels' extension modules (msgspec, orjson,
    multidict, httptools), which nothing reads at run time. `llvm-strip` handles both
    architectures from any machine; without it the objects ship as they came. Returns what was
    done, for the report.
    """
    tool = shutil.which("llvm-strip") or next(
        (found for n in range(20, 10, -1) if (found := shutil.which(f"llvm-strip-{n}"))), None
    )
    objects = sorted(target.rglob("*.so"))
    if tool is None:
        return "debug info kept (no llvm-strip here)"
    subprocess.run([tool, "--strip-debug", *map(str, objects)], check=True)
    return f"debug info stripped from {len(objects)} shared objects"


def build(
    arch: str,
    python_version: str,
    out: Path,
    *,
    compiler: str | None = None,
    lock: Path = LOCK,
    mapping: Path | None = None,
) -> Path:
    """Build `out/cognito-pretoken-<arch>-py<version>.zip` from `lock`; return its path.

    Raises
    ------
    RuntimeError
        No Python `python_version` is here to compile the bytecode.
    subprocess.CalledProcessError
        pip failed: a pin has no wheel for the target, or a hash does not match.
    ValueError
        The lock is malformed, or `mapping` is not inside the repository.
    """
    if mapping is not None and not mapping.resolve().is_relative_to(ROOT):
        raise ValueError(f"the mapping `{mapping}` must be a file inside {ROOT}")
    compiler = compiler or find_python(python_version)
    if compiler is None:
        raise RuntimeError(
            f"no Python {python_version} on this machine to compile bytecode for it: install "
            f"it, or build for this interpreter with --python {sys.version_info[0]}."
            f"{sys.version_info[1]}"
        )
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "package"
        requirements = Path(folder) / "requirements.txt"
        requirements.write_text(
            "".join(
                f"{pin.name}=={pin.version} {' '.join('--hash=' + h for h in pin.hashes)}\n"
                for pin in locked_for(arch, python_version, lock)
            )
        )
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "--target", str(target), "--platform", PLATFORMS[arch], "--implementation", "cp",
             "--python-version", python_version, "--only-binary=:all:", "--no-compile",
             "--require-hashes", "--no-deps", "-r", str(requirements)],
            check=True,
        )  # fmt: skip
        for package in ("handler", "shared"):
            shutil.copytree(
                ROOT / package, target / package, ignore=shutil.ignore_patterns("__pycache__")
            )
        if mapping is not None:
            # CLAIMS_CONFIG is relative to the function's folder: same path as in the repository.
            placed = target / mapping.resolve().relative_to(ROOT)
            placed.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(mapping, placed)
        _prune(target)
        _strip_debug_info(target)
        subprocess.run(
            [compiler, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode",
             "unchecked-hash", str(target)],
            check=True,
        )  # fmt: skip
        out.mkdir(parents=True, exist_ok=True)
        zip_path = out / f"cognito-pretoken-{arch}-py{python_version}.zip"
        with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
            for path in sorted(target.rglob("*")):
                if path.is_file():
                    info = zipfile.ZipInfo(str(path.relative_to(target)), _ZIP_TIME)
                    info.external_attr = 0o644 << 16
                    info.compress_type = zipfile.ZIP_DEFLATED
                    archive.writestr(info, path.read_bytes())
    return zip_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--arch", choices=sorted(PLATFORMS), action="append")
    parser.add_argument("--python", default="3.13", help="the Lambda runtime's Python version")
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    parser.add_argument(
        "--mapping",
        type=Path,
        default=Path(os.environ["CLAIMS_CONFIG"]) if os.environ.get("CLAIMS_CONFIG") else None,
        help="the claim mapping file to ship, at its repository path (default: $CLAIMS_CONFIG)",
    )
    args = parser.parse_args(argv)
    for arch in args.arch or sorted(PLATFORMS):
        path = build(arch, args.python, args.out, mapping=args.mapping)
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
            count = len(archive.infolist())
        print(
            f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: "
            f"{path.stat().st_size / 2**20:.1f} MiB zipped, {unpacked / 2**20:.1f} MiB unpacked, "
            f"{count} files"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
