"""`make audit-pool`: can a user write an attribute the claim mapping trusts?

A claim taken from the event (`source = "event"`, `"identity"`, `[user.groups] from_attribute`,
a `user_attribute_equals` condition) is only as good as the attribute it reads. Cognito lets a
signed-in user change any attribute their app client may write (`UpdateUserAttributes` with
their own access token), so a claim from a writable attribute is a privilege escalation. The
attributes a mapping trusts are the ones it lists in `[request] user_attributes`, read by the
function's own loader (`Rules.user_attributes`), which refuses a mapping that reads one it does
not list.

This tool reads every app client of the pool (`ListUserPoolClients`, every page, then
`DescribeUserPoolClient` for each; read-only) and names each one whose `WriteAttributes` holds a
trusted attribute, and each one with no write list at all: Cognito then lets the client write
every standard attribute, and has been seen to allow all, so such a client counts as writing
every trusted attribute. `identities` cannot be written through `UpdateUserAttributes` in
Cognito, but a write list that names it is reported all the same.

Exit status: 0 when no client can write a trusted attribute (or the mapping trusts none, in which
case no client is read), 1 when one can, 2 when the audit could not be made (a bad argument,
an unreadable mapping, a failed call); the message says which. `make attach` runs the same
audit (`audit_pool`, `report_lines`). Endpoints and credentials as `tools.cognito_idp` finds
them.
"""

import argparse
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from shared.claims import load_rules
from shared.errors import ConfigError
from tools.cognito_idp import PoolToolError, cognito_client, pool_region

__all__ = (
    "PAGE_SIZE",
    "Audit",
    "Finding",
    "app_clients",
    "audit_pool",
    "check_client",
    "main",
    "report_lines",
    "run",
    "trusted_attributes",
)

PAGE_SIZE: Final = 60
"""`ListUserPoolClients`'s largest page."""

_NO_LIST: Final = (
    "has no WriteAttributes list: Cognito then lets it write every standard attribute, and has"
    " been seen to allow all, so it counts as writing every trusted attribute"
)


def trusted_attributes(path: str | None) -> tuple[str, ...]:
    """The user attributes the mapping at `path` trusts: `Rules.user_attributes`.

    The mapping is loaded exactly as the function loads it (`shared.claims.load_rules`), so
    every check the loader makes applies here too: a mapping the function would refuse at init
    cannot be audited either, and the list is the one the loader holds every rule, condition
    and group rule to (`[request] user_attributes`).

    Parameters
    ----------
    path
        The mapping file (`CLAIMS_CONFIG`); None or empty for the built-in mapping, which
        trusts no user attribute.

    Returns
    -------
    The attribute names, each once, in the file's order.

    Raises
    ------
    PoolToolError
        The file cannot be read, or the loader refuses it; the message is the loader's.
    """
    if not path:
        return ()
    try:
        return load_rules(path).user_attributes
    except ConfigError as exc:
        raise PoolToolError(str(exc)) from exc


@dataclass(frozen=True, slots=True)
class Finding:
    """An app client that can write trusted attributes."""

    client_id: str
    client_name: str
    writable: tuple[str, ...]
    """The trusted attributes it can write, in the trust list's order."""
    listed: bool
    """True: its `WriteAttributes` names them; False: it has no write list (counts as all)."""


@dataclass(frozen=True, slots=True)
class Audit:
    """What the audit of one pool found."""

    pool_id: str
    mapping: str | None
    trusted: tuple[str, ...]
    clients: int
    """App clients read; 0 when nothing is trusted (none is read then)."""
    findings: tuple[Finding, ...]


def check_client(client: Mapping[str, Any], trusted: Sequence[str]) -> Finding | None:
    """The finding for one `DescribeUserPoolClient` answer's `UserPoolClient`, if any.

    A missing or empty `WriteAttributes` is Cognito's default write access (it reports the list
    only when one was set), so it counts as writing every trusted attribute.
    """
    if not trusted:
        return None
    write = client.get("WriteAttributes") or []
    listed = bool(write)
    writable = tuple(name for name in trusted if name in write) if listed else tuple(trusted)
    if not writable:
        return None
    return Finding(
        client_id=str(client.get("ClientId", "?")),
        client_name=str(client.get("ClientName") or ""),
        writable=writable,
        listed=listed,
    )


def app_clients(cognito: Any, pool_id: str, *, page_size: int = PAGE_SIZE) -> Iterator[Any]:
    """Every app client of the pool, described: every page of `ListUserPoolClients`.

    Raises
    ------
    PoolToolError
        A call failed; the message names it.
    """
    token = None
    seen: set[str] = set()
    while True:
        page_request: dict[str, Any] = {"UserPoolId": pool_id, "MaxResults": page_size}
        if token:
            page_request["NextToken"] = token
        try:
            page = cognito.list_user_pool_clients(**page_request)
        except (ClientError, BotoCoreError) as exc:
            raise PoolToolError(f"ListUserPoolClients on `{pool_id}` failed: {exc}") from exc
        for summary in page.get("UserPoolClients", []):
            client_id = summary["ClientId"]
            try:
                answer = cognito.describe_user_pool_client(UserPoolId=pool_id, ClientId=client_id)
            except (ClientError, BotoCoreError) as exc:
                raise PoolToolError(
                    f"DescribeUserPoolClient on `{client_id}` of `{pool_id}` failed: {exc}"
                ) from exc
            yield answer["UserPoolClient"]
        token = page.get("NextToken")
        if not token:
            return
        if token in seen:
            raise PoolToolError(f"ListUserPoolClients on `{pool_id}` repeated a NextToken")
        seen.add(token)


def audit_pool(
    cognito: Any,
    pool_id: str,
    trusted: Sequence[str],
    *,
    mapping: str | None = None,
    page_size: int = PAGE_SIZE,
) -> Audit:
    """Audit every app client of `pool_id` against `trusted`; read none when it is empty.

    Raises
    ------
    PoolToolError
        A call failed; the message names it.
    """
    trusted = tuple(trusted)
    if not trusted:
        return Audit(pool_id, mapping or None, trusted, 0, ())
    findings = []
    count = 0
    for client in app_clients(cognito, pool_id, page_size=page_size):
        count += 1
        if (finding := check_client(client, trusted)) is not None:
            findings.append(finding)
    return Audit(pool_id, mapping or None, trusted, count, tuple(findings))


def report_lines(audit: Audit) -> list[str]:
    """The audit as lines for the operator: what is trusted, each finding, the verdict."""
    mapping = f"the mapping `{audit.mapping}`" if audit.mapping else "the built-in mapping"
    if not audit.trusted:
        return [
            f"audit of pool {audit.pool_id}: {mapping} trusts no user attribute"
            " (`[request] user_attributes`); no app client was read"
        ]
    lines = [
        f"audit of pool {audit.pool_id}: {mapping} trusts the user attributes "
        + ", ".join(audit.trusted)
    ]
    for finding in audit.findings:
        client = f"{finding.client_id} ({finding.client_name or 'no name'})"
        if finding.listed:
            lines.append(f"  app client {client} can write {', '.join(finding.writable)}")
        else:
            lines.append(f"  app client {client} {_NO_LIST}")
    if not audit.findings:
        lines.append(f"  none of its {audit.clients} app clients can write a trusted attribute")
        return lines
    lines.append(
        f"  {len(audit.findings)} of {audit.clients} app clients let a signed-in user change a"
        " trusted attribute (UpdateUserAttributes with their own access token), so a claim"
        " taken from it is theirs to choose. Give each a WriteAttributes list without those"
        " attributes (UpdateUserPoolClient, which resets every setting it leaves out: repeat"
        " the client's others)."
    )
    return lines


def run(pool_id: str, claims_config: str | None, *, client: Any = None, out: Any = None) -> int:
    """Audit the pool against the mapping `claims_config` names; print it; return the status.

    Raises
    ------
    PoolToolError
        The audit could not be made; the message says why.
    """
    out = out or sys.stdout
    region = pool_region(pool_id)
    trusted = trusted_attributes(claims_config)
    cognito = client or (cognito_client(region) if trusted else None)
    audit = audit_pool(cognito, pool_id, trusted, mapping=claims_config)
    print("\n".join(report_lines(audit)), file=out)
    return 1 if audit.findings else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pool-id", required=True, help="the user pool id (POOL_ID)")
    parser.add_argument(
        "--claims-config", default="", help="the claim mapping (CLAIMS_CONFIG); empty: built-in"
    )
    args = parser.parse_args(argv)
    try:
        return run(args.pool_id, args.claims_config or None)
    except PoolToolError as exc:
        print(f"audit-pool: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
