"""`make check-mapping CASES=...`: run a mapping's test cases, with coverage and JUnit XML.

Each case runs through `shared.trigger.answer`, the function the Lambda handler runs, in a
`tools.container.Container` whose store is the case's items (`tools.memory_store.MemoryStore`,
at the store's seam: no server), so the tokens are the ones production would issue. The tokens
are then built as Cognito would issue them (`tools.token_preview`), the outcome and reason read
from the invocation's log line, and which grants held and which rules were dropped from the
mapping's trace (`shared.claims.explain`).

Output: one line per failing case (the case, what was expected, what came), the coverage (rules
never emitted, grants never held, grants never failed, by position), and a last line `N passed,
M failed`. Exit status: 0 when every case passes (and, with `--coverage`, everything is
covered), 1 when one fails, 2 when a case file or the mapping is invalid.

`python -m tools.check_mapping FILE... [--coverage] [--junit out.xml]`
"""

import argparse
import sys
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

from shared.claims import Trace
from shared.values import encode_json
from tools.cases import Case, Cases, load_cases, positions
from tools.cli import run
from tools.container import Call, Container
from tools.memory_store import MemoryStore
from tools.token_preview import preview_tokens

__all__ = (
    "Coverage",
    "Outcome",
    "check_case",
    "held_grants",
    "main",
    "run_case",
    "run_cases",
    "same_value",
)


class Outcome(NamedTuple):
    """One case's run: what came out, its trace, and every way it differs from the case."""

    case: Case
    call: Call
    trace: Trace
    problems: list[str]


def run_case(case: Case) -> tuple[Call, Trace]:
    """Run one case through the trigger, its store replaced by the case's items."""
    source = MemoryStore(case.items, case.tables, case.store)
    trace: Trace = []
    with Container(case.settings, source=source) as container:
        call = container.call(case.event, trace=trace)
    return call, trace


def _text(value: object) -> str:
    try:
        return encode_json(value).decode()
    except TypeError:
        return repr(value)


def same_value(expected: object, actual: object) -> bool:
    """Equal as JSON values: numbers exactly (25 is 25.0, never `true`), lists in order."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, int | float | Decimal) and isinstance(actual, int | float | Decimal):
        return Decimal(repr(expected) if isinstance(expected, float) else expected) == Decimal(
            repr(actual) if isinstance(actual, float) else actual
        )
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(map(same_value, expected, actual))
    if isinstance(expected, dict) and isinstance(actual, dict):
        return expected.keys() == actual.keys() and all(
            same_value(value, actual[key]) for key, value in expected.items()
        )
    return type(expected) is type(actual) and expected == actual


def held_grants(trace: Trace) -> set[str]:
    """The grants whose `when` held (the last word on each position)."""
    last = dict(trace)
    return {position for position, code in last.items() if code in ("held", "denied")}


def _dropped_rules(trace: Trace) -> set[str]:
    last = dict(trace)
    return {position for position, code in last.items() if code.startswith("dropped:")}


def _claims(token_name: str, token: dict[str, Any] | None, expect: dict[str, Any]) -> list[str]:
    problems = []
    for claim, wanted in expect.items():
        if token is None:
            problems.append(f"{token_name} claim `{claim}`: expected {_text(wanted)}, no token")
        elif claim not in token:
            problems.append(f"{token_name} claim `{claim}`: expected {_text(wanted)}, got none")
        elif not same_value(wanted, token[claim]):
            problems.append(
                f"{token_name} claim `{claim}`: expected {_text(wanted)}, got {_text(token[claim])}"
            )
    return problems


def _absent(token_name: str, token: dict[str, Any] | None, names: list[str]) -> list[str]:
    return [
        f"{token_name} claim `{claim}`: expected absent, got {_text(token[claim])}"
        for claim in names
        if token is not None and claim in token
    ]


def _scopes(issued: list[str], case: Case) -> list[str]:
    expect = case.expect
    problems = []
    if expect.scopes is not None and sorted(set(expect.scopes)) != sorted(set(issued)):
        problems.append(f"scopes: expected {_text(sorted(expect.scopes))}, got {_text(issued)}")
    if missing := [scope for scope in expect.scopes_include if scope not in issued]:
        problems.append(f"scopes: expected to include {_text(missing)}, got {_text(issued)}")
    if present := [scope for scope in expect.scopes_exclude if scope in issued]:
        problems.append(f"scopes: expected to exclude {_text(present)}, got {_text(issued)}")
    return problems


def _tokens(case: Case, call: Call) -> list[str]:
    expect = case.expect
    assert call.response is not None
    tokens = preview_tokens(case.event, call.response["response"])
    id_token, access = tokens["id_token"], tokens["access_token"]
    problems = _claims("ID token", id_token, expect.id)
    problems += _claims("access token", access, expect.access)
    problems += _absent("ID token", id_token, expect.id_absent)
    problems += _absent("access token", access, expect.access_absent)
    problems += _scopes(str(access.get("scope", "")).split(), case)
    if expect.groups is not None:
        groups = (id_token or access).get("cognito:groups") or []
        if groups != expect.groups:
            problems.append(f"groups: expected {_text(expect.groups)}, got {_text(groups)}")
    return problems


def check_case(case: Case, call: Call, trace: Trace) -> list[str]:
    """Every way what came out differs from what the case expects; empty when it passes."""
    expect = case.expect
    outcome, reason = call.log.get("outcome"), call.log.get("reason")
    problems = []
    if outcome != expect.outcome:
        by = f", by {call.log['denied_by']}" if call.log.get("denied_by") else ""
        problems.append(f"outcome: expected `{expect.outcome}`, got `{outcome}` ({reason}{by})")
    if expect.reason is not None and reason != expect.reason:
        problems.append(f"reason: expected `{expect.reason}`, got `{reason}`")
    if call.response is not None and not problems:
        problems += _tokens(case, call)
    for field, came in (("grants", held_grants(trace)), ("dropped", _dropped_rules(trace))):
        wanted = getattr(expect, field)
        if wanted is not None and set(wanted) != came:
            problems.append(f"{field}: expected {_text(sorted(wanted))}, got {_text(sorted(came))}")
    return problems


class Coverage(NamedTuple):
    """Positions never covered by a file's cases."""

    never_emitted: list[str]
    never_held: list[str]
    never_failed: list[str]

    @property
    def complete(self) -> bool:
        return not (self.never_emitted or self.never_held or self.never_failed)

    def lines(self, label: str) -> list[str]:
        if self.complete:
            return [f"{label}: coverage: every rule emitted, every grant held and failed"]
        parts = [
            (what, found)
            for what, found in (
                ("never emitted", self.never_emitted),
                ("never held", self.never_held),
                ("never failed", self.never_failed),
            )
            if found
        ]
        return [f"{label}: coverage: {what}: {', '.join(found)}" for what, found in parts]


def _coverage(cases: Cases, traces: Sequence[Trace]) -> Coverage:
    rules, grants = positions(cases.sections)
    codes: dict[str, set[str]] = {}
    for trace in traces:
        for position, code in trace:
            codes.setdefault(position, set()).add(code.partition(":")[0])
    return Coverage(
        never_emitted=[p for p in rules if not codes.get(p, set()) & {"emitted", "default"}],
        never_held=[p for p in grants if not codes.get(p, set()) & {"held", "denied"}],
        never_failed=[p for p in grants if "not_held" not in codes.get(p, set())],
    )


def run_cases(cases: Cases) -> tuple[list[Outcome], Coverage]:
    """Run every case of a file; what came of each, and the file's coverage."""
    outcomes = []
    for case in cases.cases:
        call, trace = run_case(case)
        outcomes.append(Outcome(case, call, trace, check_case(case, call, trace)))
    return outcomes, _coverage(cases, [outcome.trace for outcome in outcomes])


def _junit(path: Path, results: list[tuple[Cases, list[Outcome]]]) -> None:
    suites = ET.Element("testsuites")
    for cases, outcomes in results:
        failed = [outcome for outcome in outcomes if outcome.problems]
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=str(cases.path),
            tests=str(len(outcomes)),
            failures=str(len(failed)),
            errors="0",
        )
        for outcome in outcomes:
            testcase = ET.SubElement(
                suite, "testcase", classname=str(cases.path), name=outcome.case.name
            )
            if outcome.problems:
                failure = ET.SubElement(testcase, "failure", message=outcome.problems[0])
                failure.text = "\n".join(outcome.problems)
    ET.indent(suites)
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="+", type=Path, help="case files (*.cases.toml)")
    parser.add_argument("--coverage", action="store_true", help="uncovered positions fail")
    parser.add_argument("--junit", type=Path, help="write JUnit XML here")
    args = parser.parse_args(argv)

    def check() -> int:
        loaded = [load_cases(path) for path in args.cases]  # every file valid before any runs
        results = []
        passed = failed = 0
        uncovered = False
        for cases in loaded:
            outcomes, coverage = run_cases(cases)
            results.append((cases, outcomes))
            for outcome in outcomes:
                if outcome.problems:
                    failed += 1
                    print(
                        f'{cases.path}: FAIL "{outcome.case.name}": ' + "; ".join(outcome.problems)
                    )
                else:
                    passed += 1
            for line in coverage.lines(str(cases.path)):
                print(line)
            uncovered = uncovered or not coverage.complete
        if args.junit is not None:
            _junit(args.junit, results)
        print(f"{passed} passed, {failed} failed")
        if uncovered and args.coverage:
            print("coverage is incomplete (COVERAGE=1)")
        return 1 if failed or (uncovered and args.coverage) else 0

    return run(check)


if __name__ == "__main__":
    sys.exit(main())
