"""One cold start, in a fresh process: import, init, first invocation. Run by `bench.coldstart`.

`python -m bench.coldstart_child VARIANT`: imports the variant's libraries (import), then its
handler module, which builds its clients at module level as Lambda handlers do (init), then calls
the handler once against the configured DynamoDB (first call). The last line of standard output is
`BENCH {json}` with the three times in milliseconds.
"""

import importlib
import json
import sys
import time

from bench.variants import VARIANTS


class _Context:
    aws_request_id = "cold-start"

    def __init__(self) -> None:
        self._deadline = time.monotonic() + 5.0

    def get_remaining_time_in_millis(self) -> int:
        return int((self._deadline - time.monotonic()) * 1000)


def main() -> None:
    variant = VARIANTS[sys.argv[1]]
    event = json.loads(sys.argv[2])
    started = time.perf_counter()
    for module in variant.libraries:
        importlib.import_module(module)
    imported = time.perf_counter()
    handler = importlib.import_module(variant.module).handler
    initialised = time.perf_counter()
    handler(event, _Context())
    called = time.perf_counter()
    result = {
        "import_ms": (imported - started) * 1000,
        "init_ms": (initialised - imported) * 1000,
        "first_call_ms": (called - initialised) * 1000,
    }
    sys.stdout.write("\nBENCH " + json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
