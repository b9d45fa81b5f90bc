"""The bench's users: profile items, a Zipf-distributed sign-in stream, and their events."""

import bisect
import copy
import itertools
import json
import random
from pathlib import Path
from typing import Any

__all__ = ("ModelPopulation", "Population")

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


class ModelPopulation(Population):
    """The same users in a single-table design (`bench/data_model.toml`), across `tenants`.

    Table `profiles` (pk, sk): `USER#<sub>`/`PROFILE` names the user's tenant, and one or two
    `USER#<sub>`/`MEMBERSHIP#<tenant>` items; table `tenants` (pk, sk): `TENANT#<id>`/`METADATA`
    holds the plan and tier. A user's sub is `sub-<userName>`; users are spread over the tenants
    by a fixed stride, so the Zipf-popular users do not all share one tenant.
    """

    def __init__(self, size: int, tenants: int = 200, zipf_s: float = 1.1) -> None:
        super().__init__(size, zipf_s)
        self.tenants = tenants

    def tenant_of(self, index: int) -> int:
        return (index * 7919) % self.tenants

    def layout(self) -> dict[str, Any]:
        """Both tables, laid out as `tools.ddb_stub --tables` reads them."""
        profiles: list[dict[str, Any]] = []
        for i, name in enumerate(self.names):
            pk = {"S": f"USER#sub-{name}"}
            tenant = self.tenant_of(i)
            profiles.append({
                "pk": pk, "sk": {"S": "PROFILE"}, "display_name": {"S": f"First{i} Last{i}"},
                "tenant_id": {"N": str(tenant)}, "notes": {"S": "x" * 200},
            })  # fmt: skip
            for member in {tenant, (tenant + i) % self.tenants} if i % 3 == 0 else {tenant}:
                profiles.append({
                    "pk": pk, "sk": {"S": f"MEMBERSHIP#t{member:03d}"},
                    "tenant_id": {"S": f"t{member:03d}"},
                })  # fmt: skip
        tenants = [
            {
                "pk": {"S": f"TENANT#{t}"},
                "sk": {"S": "METADATA"},
                "plan": {"S": ("free", "pro", "enterprise")[t % 3]},
                "tier": {"N": str(t % 4)},
            }
            for t in range(self.tenants)
        ]
        return {
            "profiles": {"key": "pk", "sort_key": "sk", "items": profiles},
            "tenants": {"key": "pk", "sort_key": "sk", "items": tenants},
        }

    def write_layout(self, path: Path) -> Path:
        path.write_text(json.dumps(self.layout()))
        return path

    def event(self, name: str) -> dict[str, Any]:
        event = super().event(name)
        event["request"]["userAttributes"]["sub"] = f"sub-{name}"
        return event
