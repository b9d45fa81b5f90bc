"""The bench's users: profile items, a Zipf-distributed sign-in stream, and their events."""

import bisect
import copy
import itertools
import json
import random
from pathlib import Path
from typing import Any

__all__ = ("Population",)

_TEMPLATE = Path(__file__).resolve().parents[1] / "events" / "v2-authentication.json"


class Population:
    """`size` users, `user-00000` the most active, with items and events built from one template."""

    def __init__(self, size: int, zipf_s: float = 1.1) -> None:
        self.size = size
        self.names = [f"user-{i:05d}" for i in range(size)]
        weights = [1 / (rank**zipf_s) for rank in range(1, size + 1)]
        self._cumulative = list(itertools.accumulate(weights))
        self._template = json.loads(_TEMPLATE.read_text())

    def items(self) -> list[dict[str, Any]]:
        """Profile items in DynamoDB JSON: the reference attributes plus one never emitted."""
        return [
            {
                "id": {"S": f"USER#{name}"},
                "first_name": {"S": f"First{i}"},
                "last_name": {"S": f"Last{i}"},
                "interesting_value": {"N": str(i)},
                "notes": {"S": "x" * 200},
            }
            for i, name in enumerate(self.names)
        ]

    def write_items(self, path: Path) -> Path:
        path.write_text(json.dumps(self.items()))
        return path

    def sample(self, count: int, seed: int) -> list[str]:
        """`count` user names drawn by Zipf popularity (the same for the same seed)."""
        draw = random.Random(seed).random
        total = self._cumulative[-1]
        return [
            self.names[bisect.bisect_left(self._cumulative, draw() * total)] for _ in range(count)
        ]

    def event(self, name: str) -> dict[str, Any]:
        """A fresh V2 sign-in event for `name` (a new dict: handlers may mutate theirs)."""
        event: dict[str, Any] = copy.deepcopy(self._template)
        event["userName"] = name
        return event
