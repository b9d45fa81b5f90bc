"""Explaining what the mapping did to one event, by position and code: never a value.

The trigger calls in here only for an invocation that is explained (`EXPLAIN_CLIENTS`,
`EXPLAIN_SAMPLE`, or a tool handing `answer` a trace: `make explain`, `make check-mapping`);
otherwise nothing here runs. It observes after the fact what the engine (`shared.claims.engine`)
decided, from the same inputs (the mapping's own claims recomputed without the grants), and
appends `(position, code)` pairs to the trace, in file order:

- a rule, `user.claims[3]`: `emitted`, `default` (its default was sent), `absent` (the
  attribute or its source was missing), `missing_required`, `not_held:<key>` (the first failing
  condition key: `groups_any`, `metadata_equals.tenant`, `attribute_equals.profile.seats`), or
  `dropped:<reason>`: `null`, `wrong_type`, `reserved`, `object_not_allowed`, `over_budget`,
  `suppressed` (a suppression list names it), `overridden_by:<grant>`;
- a grant, `user.grants[1]`: `held`, `denied` (the deny grant that decided), `not_held:<key>`,
  or `not_applied` (no profile: only deny grants are evaluated then);
- what a held grant cancelled: `user.grants[5].scopes_suppress[0]` `suppressed` (the scope was
  there to suppress), `user.grants[1].scopes_add[0]` `suppressed_by:user.grants[5]`,
  `user.grants[6].groups_remove[0]` `removed`, `user.grants[4].groups_add[0]`
  `removed_by:user.grants[6]`, `user.scopes.add[0]` `suppressed_by:user.grants[2]`.

Positions and codes come from the mapping file alone; nothing from the item, the event or
`clientMetadata` is ever written into a trace. Pure: no I/O, no logging.
"""

import functools
from collections.abc import Mapping

import msgspec

from shared.claims.conditions import Condition, Context, build_context, compile_condition
from shared.claims.engine import apply
from shared.claims.from_event import UserCondition, UserFacts
from shared.claims.groups import section_groups
from shared.claims.guard import fits_type
from shared.claims.model import EMPTY_CLAIMS, ClaimRule, ClaimSet, Denial, Grant, Section, Trace
from shared.event import Event
from shared.lookup import PRIMARY
from shared.values import ABSENT, Item, lookup_path

__all__ = ("explain_apply", "explain_denial", "first_failing")

_GUARD_REASONS = ("reserved", "object_not_allowed", "over_budget")
_WITHOUT_GRANTS: dict[int, tuple[Section, Section]] = {}
"""id(section) -> (the section, kept alive so the id stays its own; the section without its
grants): its derived facts computed once, not per explained invocation."""
_KEPT = 16


@functools.cache
def _kind_names() -> dict[int, str]:
    """Each membership kind of `Condition.sets`, by the file's key that makes it."""
    probes = {
        "clients": compile_condition(clients=["x"]),
        "trigger_sources": compile_condition(trigger_sources=["x"]),
        "scopes_any": compile_condition(scopes_any=["x"]),
        "groups_any": compile_condition(groups_any=["x"]),
        "groups_all": compile_condition(groups_all=["x"]),
        "groups_none": compile_condition(groups_none=["x"]),
    }
    return {condition.sets[0][0]: key for key, condition in probes.items()}


@functools.lru_cache(maxsize=4096)
def _alone(
    sets: tuple[tuple[int, frozenset[str]], ...] = (),
    metadata: tuple[tuple[str, str], ...] = (),
    attribute_checks: tuple[tuple[tuple[str, ...], int, object], ...] = (),
) -> Condition:
    """One check of a condition as a condition of its own, compiled once."""
    return Condition(sets, metadata, attribute_checks)


def first_failing(condition: Condition, context: Context) -> str | None:
    """The key of the first check of `condition` that fails, in `holds`' order (memberships,
    `clientMetadata`, the user, the item); None exactly when it holds.

    A membership key (`groups_any`), `metadata_equals.<key>`, `user_attribute_equals.<name>`,
    `federated`, `providers_any` or `attribute_equals.<dotted.path>`: names from the mapping,
    never a value. Each check is asked alone, as a condition of its own (the slow path).
    """
    for kind, names in condition.sets:
        if not _alone(sets=((kind, names),)).holds(context):
            return _kind_names()[kind]
    for pair in condition.metadata:
        if not _alone(metadata=(pair,)).holds(context):
            return f"metadata_equals.{pair[0]}"
    user, facts = condition.user, context.user
    if user is not None and not user.holds(facts):
        for pair in user.attributes:
            if not UserCondition(attributes=(pair,)).holds(facts):
                return f"user_attribute_equals.{pair[0]}"
        if user.federated is not None and not UserCondition(federated=user.federated).holds(facts):
            return "federated"
        return "providers_any"
    for check in condition.attribute_checks:
        if not _alone(attribute_checks=(check,)).holds(context):
            return "attribute_equals." + ".".join(check[0])
    return None


def _value(
    rule: ClaimRule, item: Item, sources: Mapping[str, object] | None, facts: UserFacts
) -> object:
    """What the rule read (as the engine reads it): a value, a list for a query, or ABSENT."""
    if rule.event is not None:
        return rule.event.value(facts)
    if rule.source == PRIMARY:
        return lookup_path(item, rule.path)
    read = sources.get(rule.source) if sources is not None else None
    if isinstance(read, list):
        values = [lookup_path(entry, rule.path) for entry in read]
        folded = [v for v in values if v is not ABSENT and v is not None]
        return ABSENT if rule.required and not folded else folded
    return ABSENT if read is None else lookup_path(read, rule.path)


class _Observer:
    """What the rules are judged against: the inputs, the claim set before and after grants."""

    def __init__(
        self,
        item: Item,
        *,
        sources: Mapping[str, object] | None,
        context: Context,
        mapped: ClaimSet,
        final: ClaimSet | None,
        held: list[Grant],
    ) -> None:
        self.item, self.sources, self.context = item, sources, context
        self.mapped, self.final = mapped, final
        self.overrides: dict[tuple[str, str], str] = {}
        for grant in held:  # a later grant wins, as in `apply_grants`
            for claim, _ in grant.id_claims:
                self.overrides[("id", claim)] = grant.where
            for claim, _ in grant.access_claims:
                self.overrides[("access", claim)] = grant.where

    def placed(self, rule: ClaimRule) -> str | None:
        """Why a rule whose value fits was not sent after all, or None when it was."""
        mapped = self.mapped
        for token in rule.tokens:
            claims = mapped.id_claims if token == "id" else mapped.access_claims
            if rule.claim not in claims:
                reasons = [r for name, r in mapped.dropped if name == rule.claim]
                reason = next((r for r in reasons if r in _GUARD_REASONS), "reserved")
                return f"dropped:{reason}"
            suppress = mapped.id_suppress if token == "id" else mapped.access_suppress
            if rule.claim in suppress:
                return "dropped:suppressed"
            if self.final is not None and (grant := self.overrides.get((token, rule.claim))):
                return f"dropped:overridden_by:{grant}"
        return None

    def rule_code(self, rule: ClaimRule) -> str:
        """What became of one rule."""
        if rule.when is not None and (failing := first_failing(rule.when, self.context)):
            return "not_held:" + failing
        value = _value(rule, self.item, self.sources, self.context.user)
        defaulted = False
        if value is ABSENT or value is None:
            if rule.default is not None:
                value, defaulted = rule.default, True
            elif rule.required:
                return "missing_required"
            else:
                return "dropped:null" if value is None else "absent"
        if rule.type != "any" and not fits_type(value, rule.type):
            return "dropped:wrong_type"
        placed = self.placed(rule)
        if placed is not None:
            return placed
        return "default" if defaulted else "emitted"


def _without_grants(section: Section) -> Section:
    known = _WITHOUT_GRANTS.get(id(section))
    if known is None or known[0] is not section:
        if len(_WITHOUT_GRANTS) >= _KEPT:
            _WITHOUT_GRANTS.clear()
        known = (section, msgspec.structs.replace(section, grants=()))
        _WITHOUT_GRANTS[id(section)] = known
    return known[1]


def _grant_code(grant: Grant, failing: str | None, result: ClaimSet | Denial) -> str:
    if failing is not None:
        return "not_held:" + failing
    if isinstance(result, Denial) and result.grant == grant.where:
        return "denied"
    return "held"


def _cancelled(section: Section, held: list[Grant], context: Context, mapped: ClaimSet) -> Trace:
    """What each held grant's suppressions and removals took away, and from whom."""
    trace: Trace = []
    name = held[0].where.partition(".")[0]
    added_scopes = set(mapped.scopes_add).union(*(g.scopes_add for g in held))
    added_groups = set().union(*(g.groups_add for g in held))
    suppressor: dict[str, str] = {}
    remover: dict[str, str] = {}
    for grant in held:
        for k, scope in enumerate(grant.scopes_suppress):
            suppressor.setdefault(scope, grant.where)
            if scope in context.scopes or scope in added_scopes:
                trace.append((f"{grant.where}.scopes_suppress[{k}]", "suppressed"))
        for k, group in enumerate(grant.groups_remove):
            remover.setdefault(group, grant.where)
            if group in context.groups or group in added_groups:
                trace.append((f"{grant.where}.groups_remove[{k}]", "removed"))
    for k, scope in enumerate(section.scopes.add):
        if scope in suppressor:
            trace.append((f"{name}.scopes.add[{k}]", f"suppressed_by:{suppressor[scope]}"))
    for grant in held:
        for k, scope in enumerate(grant.scopes_add):
            if scope in suppressor:
                by = suppressor[scope]
                trace.append((f"{grant.where}.scopes_add[{k}]", f"suppressed_by:{by}"))
        for k, group in enumerate(grant.groups_add):
            if group in remover:
                trace.append((f"{grant.where}.groups_add[{k}]", f"removed_by:{remover[group]}"))
    return trace


def explain_apply(
    trace: Trace,
    section: Section,
    event: Event,
    item: Item,
    *,
    sources: Mapping[str, Item | list[Item] | None] | None,
    metadata: tuple[dict[str, str], int],
    budget: int,
    result: ClaimSet | Denial,
) -> None:
    """Append to `trace` what `engine.apply` did: each rule, each grant, what grants cancelled.

    The arguments are `apply`'s, and `result` what it returned.
    """
    mapped = apply(
        _without_grants(section), event, item, sources=sources, metadata=metadata, budget=budget
    )
    assert isinstance(mapped, ClaimSet)  # no grant, no denial
    override = mapped.groups.groups if mapped.groups is not None else None
    context = build_context(event, item, group_override=override, metadata=metadata)
    failing = {grant.where: first_failing(grant.when, context) for grant in section.grants}
    held = [grant for grant in section.grants if failing[grant.where] is None]
    final = result if isinstance(result, ClaimSet) else None
    observer = _Observer(
        item, sources=sources, context=context, mapped=mapped, final=final, held=held
    )
    trace += [(rule.where, observer.rule_code(rule)) for rule in section.rules]
    effects = _cancelled(section, held, context, mapped) if final is not None and held else []
    for grant in section.grants:  # each grant, then what its own entries took or lost
        trace.append((grant.where, _grant_code(grant, failing[grant.where], result)))
        trace += [effect for effect in effects if _owner(effect[0]) == grant.where]
    trace += [effect for effect in effects if _owner(effect[0]) not in _positions(section)]


def _positions(section: Section) -> set[str]:
    """The positions of a section's grants."""
    return {grant.where for grant in section.grants}


def _owner(position: str) -> str:
    """`user.grants[5]` for `user.grants[5].scopes_suppress[0]`; a position of its own as is."""
    end = position.find("].")
    return position if end < 0 else position[: end + 1]


def explain_denial(
    trace: Trace,
    section: Section,
    event: Event,
    item: Item | None,
    *,
    metadata: tuple[dict[str, str], int],
    found: Denial | None,
) -> None:
    """Append to `trace` what `engine.denial` did: each deny grant's result, the rest not applied.

    The arguments are `denial`'s, and `found` what it returned. Replaces whatever the trace
    already said about these grants (a profile that lacked a `required` attribute is explained
    first by `explain_apply`, then decided without it).
    """
    override = None
    if section.overrides_groups:
        groups = section_groups(section, event, item, None, [])
        override = groups.groups if groups is not None else None
    context = build_context(event, item, group_override=override, metadata=metadata)
    grants = _positions(section)
    trace[:] = [entry for entry in trace if _owner(entry[0]) not in grants]
    result: ClaimSet | Denial = found if found is not None else EMPTY_CLAIMS
    for grant in section.grants:
        code = "not_applied"
        if grant.deny:
            code = _grant_code(grant, first_failing(grant.when, context), result)
        trace.append((grant.where, code))
