"""The deployment zip's size, for both architectures, as `make package` builds it.

A full run builds both zips afresh from the lock (`tools.package.build`, Python 3.13) in a
temporary folder. A quick run (`BENCH_QUICK=1`) does not build, which is slow: it reads `dist/`
when `make package` left zips there, and says it skipped otherwise.
"""

import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from bench.report import Progress
from tools.package import PLATFORMS, build, find_python

__all__ = ("LAMBDA_PYTHON", "run")

LAMBDA_PYTHON = "3.13"
_DIST = Path(__file__).resolve().parents[1] / "dist"


def _measure(path: Path) -> dict[str, Any]:
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
    return {
        "zipped_bytes": path.stat().st_size,
        "unzipped_bytes": sum(info.file_size for info in infos),
        "files": len(infos),
    }


def run(quick: bool, progress: Progress) -> dict[str, Any]:
    """Zipped and unzipped size of each architecture's package, and where they came from."""
    results: dict[str, Any] = {"python": LAMBDA_PYTHON, "zips": {}}
    if quick:
        for arch in sorted(PLATFORMS):
            path = _DIST / f"cognito-pretoken-{arch}-py{LAMBDA_PYTHON}.zip"
            if path.exists():
                built = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(path.stat().st_mtime))
                results["zips"][arch] = _measure(path)
                results["source"] = f"read from dist/ (built {built}), quick run"
        if not results["zips"]:
            results["skipped"] = "quick run: not built (slow); run `make package` first to see it"
        progress.step("package size")
        return results
    compiler = find_python(LAMBDA_PYTHON)
    if compiler is None:
        results["skipped"] = f"no Python {LAMBDA_PYTHON} here to compile the package's bytecode"
        progress.step("package size")
        return results
    with tempfile.TemporaryDirectory() as folder:
        for arch in sorted(PLATFORMS):
            results["zips"][arch] = _measure(
                build(arch, LAMBDA_PYTHON, Path(folder), compiler=compiler)
            )
    results["source"] = "built now from requirements.lock, as `make package` does"
    progress.step("package size")
    return results
