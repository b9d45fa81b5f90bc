"""`make package`: the Lambda deployment zip, for arm64 and x86_64.

The runtime dependencies (`pyproject.toml`) are installed with pip for the target platform and
Python version (`--platform`, `--only-binary=:all:`), next to `handler/` and `shared/`. What the
function never loads is left out: tests, type stubs, caches, C sources. Everything is compiled
to bytecode with `--invalidation-mode unchecked-hash` by an interpreter of the target version, since
`/var/task` is read-only and file times in a zip cannot be trusted. The zip is reproducible.

`python -m tools.package [--arch arm64|x86_64] [--python 3.13] [--out dist]`
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

__all__ = ("build", "find_python")

ROOT = Path(__file__).resolve().parents[1]
PLATFORMS = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}
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


def _requirements() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return list(project["dependencies"])


def _prune(target: Path) -> None:
    for path in sorted(target.rglob("*"), reverse=True):
        if path.is_dir() and path.name in _DROP_DIRS:
            shutil.rmtree(path, ignore_errors=True)
        elif path.is_file() and path.name.endswith(_DROP_SUFFIXES):
            path.unlink()
    shutil.rmtree(target / "bin", ignore_errors=True)


def build(arch: str, python_version: str, out: Path, *, compiler: str | None = None) -> Path:
    """Build `out/cognito-pretoken-<arch>-py<version>.zip`; return its path.

    Raises
    ------
    RuntimeError
        pip failed, or no Python `python_version` is here to compile the bytecode.
    """
    compiler = compiler or find_python(python_version)
    if compiler is None:
        raise RuntimeError(
            f"no Python {python_version} on this machine to compile bytecode for it: install "
            f"it, or build for this interpreter with --python {sys.version_info[0]}."
            f"{sys.version_info[1]}"
        )
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "package"
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "--target", str(target), "--platform", PLATFORMS[arch], "--implementation", "cp",
             "--python-version", python_version, "--only-binary=:all:", "--no-compile",
             *_requirements()],
            check=True,
        )  # fmt: skip
        for package in ("handler", "shared"):
            shutil.copytree(
                ROOT / package, target / package, ignore=shutil.ignore_patterns("__pycache__")
            )
        _prune(target)
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
    args = parser.parse_args(argv)
    for arch in args.arch or sorted(PLATFORMS):
        path = build(arch, args.python, args.out)
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
