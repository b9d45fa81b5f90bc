"""Run a loopback server module in its own process and wait for the endpoint it announces."""

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ("endpoint_process",)

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def endpoint_process(module: str, *args: str) -> Iterator[str]:
    """`python -m module args...`, which prints its `http(s)://` endpoint first; stop at exit.

    Raises
    ------
    RuntimeError
        The server exited or printed something else first.
    """
    process = subprocess.Popen(
        [sys.executable, "-m", module, *args], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        endpoint = process.stdout.readline().strip()
        if not endpoint.startswith(("http://", "https://")):
            raise RuntimeError(f"{module} did not start (exit code {process.poll()})")
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
