"""`make attach`, `make detach`: the pre token generation trigger of an existing user pool.

`UpdateUserPool` is not a patch: every updatable setting the call leaves out goes back to its
default (MFA, password policy, email and SMS configuration, the other triggers, ...). So this
tool reads the pool with `DescribeUserPool`, builds the full `UpdateUserPool` request from it,
changes only `LambdaConfig.PreTokenGenerationConfig` (and clears the legacy
`LambdaConfig.PreTokenGeneration`, which the config supersedes), prints the difference and, only
when asked to apply, sends it, reads the pool again and checks that nothing else moved.

A field `DescribeUserPool` returns that this tool cannot place (neither read-only nor accepted
by `UpdateUserPool` in the installed botocore model) stops it before any change: a setting it
cannot repeat would be lost. Attaching first runs `make audit-pool`'s audit (`tools.audit_pool`)
against the mapping `CLAIMS_CONFIG` names and shows what it found beside the change; applying
is refused while an app client can write an attribute the mapping trusts, unless
`ALLOW_WRITABLE=1`. Endpoints and credentials come from boto3 as usual (profiles,
`AWS_ENDPOINT_URL`, and boto3's per-service `AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER`), plus
`AWS_ENDPOINT_URL_COGNITO_IDP` (the service's short name); the region is the pool id's
(`tools.cognito_idp`).
"""

import argparse
import copy
import json
import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from tools.audit_pool import audit_pool, report_lines, trusted_attributes
from tools.cognito_idp import ENDPOINT_VARIABLE, PoolToolError, cognito_client, pool_region

__all__ = (
    "ENDPOINT_VARIABLE",
    "READ_ONLY",
    "RENAMED",
    "AttachError",
    "attached_lambda_config",
    "detached_lambda_config",
    "diff_lines",
    "main",
    "run",
    "update_request",
)

READ_ONLY: Final[Mapping[str, str]] = {
    "Arn": "derived from the id",
    "Status": "reported by Cognito",
    "CreationDate": "reported by Cognito",
    "LastModifiedDate": "reported by Cognito",
    "EstimatedNumberOfUsers": "reported by Cognito",
    "SmsConfigurationFailure": "reported by Cognito",
    "EmailConfigurationFailure": "reported by Cognito",
    "Domain": "set with CreateUserPoolDomain, untouched by UpdateUserPool",
    "CustomDomain": "set with CreateUserPoolDomain, untouched by UpdateUserPool",
    "SchemaAttributes": "set at creation and by AddCustomAttributes, untouched by UpdateUserPool",
    "AliasAttributes": "fixed at creation",
    "UsernameAttributes": "fixed at creation",
    "UsernameConfiguration": "fixed at creation",
}
"""`DescribeUserPool` fields that `UpdateUserPool` does not take, and why they are safe to omit."""

RENAMED: Final[Mapping[str, str]] = {"Id": "UserPoolId", "Name": "PoolName"}
"""`DescribeUserPool` name -> `UpdateUserPool` name, where they differ."""

LAMBDA_VERSIONS: Final = ("V1_0", "V2_0", "V3_0")
_ACCESS_TOKEN_VERSIONS: Final = frozenset({"V2_0", "V3_0"})
_TRIGGER_FIELDS: Final = ("PreTokenGenerationConfig", "PreTokenGeneration")
# What may differ after an update besides the trigger: Cognito's own bookkeeping.
_MOVING: Final = frozenset({"LastModifiedDate", "EstimatedNumberOfUsers", "Status"})
_FUNCTION_ARN: Final = re.compile(
    r"arn:aws[a-z-]*:lambda:([a-z]{2}(?:-[a-z]+)+-\d+):\d{12}:function:[\w-]{1,64}(:[\w$-]+)?"
)


class AttachError(PoolToolError):
    """A refusal or failure, with the message for the operator; nothing was changed."""


def attached_lambda_config(
    current: Mapping[str, Any], function_arn: str, lambda_version: str
) -> dict[str, Any]:
    """Return `current` with the trigger set to `function_arn` and the legacy field cleared."""
    config = copy.deepcopy(dict(current))
    config.pop("PreTokenGeneration", None)
    config["PreTokenGenerationConfig"] = {
        "LambdaArn": function_arn,
        "LambdaVersion": lambda_version,
    }
    return config


def detached_lambda_config(current: Mapping[str, Any]) -> dict[str, Any]:
    """Return `current` without any pre token generation trigger; every other trigger kept."""
    config = copy.deepcopy(dict(current))
    for field in _TRIGGER_FIELDS:
        config.pop(field, None)
    return config


def update_request(
    pool: Mapping[str, Any], lambda_config: Mapping[str, Any], accepted: Sequence[str]
) -> tuple[dict[str, Any], list[str]]:
    """Build the `UpdateUserPool` request repeating every updatable setting of `pool`.

    Parameters
    ----------
    pool
        `DescribeUserPool`'s `UserPool`.
    lambda_config
        The `LambdaConfig` to send instead of the pool's.
    accepted
        The members `UpdateUserPool`'s input takes (from the botocore model).

    Returns
    -------
    The request, and notes on what was left out on purpose.

    Raises
    ------
    AttachError
        The pool holds a field this tool cannot place, so it could not be repeated.
    """
    request: dict[str, Any] = {}
    unknown = []
    for field, value in pool.items():
        name = RENAMED.get(field, field)
        if field in READ_ONLY:
            continue
        if name not in accepted:
            unknown.append(field)
            continue
        request[name] = copy.deepcopy(value)
    if unknown:
        raise AttachError(
            "DescribeUserPool returned "
            + ", ".join(f"`{field}`" for field in sorted(unknown))
            + ", which UpdateUserPool does not take and this tool does not know to be read-only;"
            " nothing was changed (a setting it cannot repeat could be lost). Update boto3, or"
            " this tool's READ_ONLY table if the field is read-only."
        )
    request["LambdaConfig"] = copy.deepcopy(dict(lambda_config))
    notes = []
    admin = request.get("AdminCreateUserConfig")
    password = request.get("Policies", {}).get("PasswordPolicy", {})
    if (
        isinstance(admin, dict)
        and "UnusedAccountValidityDays" in admin
        and "TemporaryPasswordValidityDays" in password
    ):
        # Cognito reports both, but refuses an update that sets both; the password policy's
        # field is the one in force.
        del admin["UnusedAccountValidityDays"]
        notes.append(
            "AdminCreateUserConfig.UnusedAccountValidityDays is not repeated: it is superseded by"
            " Policies.PasswordPolicy.TemporaryPasswordValidityDays, and UpdateUserPool refuses"
            " both"
        )
    return request, notes


def _show(value: object) -> str:
    if value is None:
        return "(absent)"
    return json.dumps(value, sort_keys=True, default=str)


def _without_mirror(config: Mapping[str, Any]) -> dict[str, Any]:
    # Cognito reports the config's function again in the legacy field; that copy is no setting.
    view = dict(config)
    trigger = view.get("PreTokenGenerationConfig")
    if isinstance(trigger, dict) and view.get("PreTokenGeneration") == trigger.get("LambdaArn"):
        del view["PreTokenGeneration"]
    return view


def diff_lines(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """Lines showing each `LambdaConfig` field that differs, as `-` old and `+` new.

    The legacy `PreTokenGeneration` is not shown when it only mirrors the config's function.
    """
    before = _without_mirror(before)
    lines = []
    for field in sorted(set(before) | set(after)):
        old, new = before.get(field), after.get(field)
        if old != new:
            lines += [f"  LambdaConfig.{field}", f"-   {_show(old)}", f"+   {_show(new)}"]
    return lines


def _comparable(pool: Mapping[str, Any]) -> dict[str, Any]:
    view = copy.deepcopy({key: value for key, value in pool.items() if key not in _MOVING})
    view["LambdaConfig"] = detached_lambda_config(pool.get("LambdaConfig", {}))
    # Not repeated on purpose (see `update_request`): Cognito derives it from the password policy.
    view.get("AdminCreateUserConfig", {}).pop("UnusedAccountValidityDays", None)
    return view


def _changed_fields(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    old, new = _comparable(before), _comparable(after)
    return sorted(key for key in set(old) | set(new) if old.get(key) != new.get(key))


def _check_function(function_arn: str, pool_region: str) -> list[str]:
    match = _FUNCTION_ARN.fullmatch(function_arn)
    if match is None:
        raise AttachError(
            "`FUNCTION_ARN` must be a Lambda function ARN (the stack output TriggerAliasArn,"
            f" ending in `:live`), got `{function_arn!r}`"
        )
    notes = []
    if match.group(1) != pool_region:
        notes.append(
            f"the function is in {match.group(1)}, the pool in {pool_region}: Cognito invokes"
            " triggers in the pool's region"
        )
    if match.group(2) is None:
        notes.append(
            "the ARN has no alias: Cognito will invoke $LATEST, without SnapStart; the stack"
            " output TriggerAliasArn is the `live` alias"
        )
    return notes


def run(
    action: str,
    pool_id: str,
    *,
    function_arn: str = "",
    lambda_version: str = "V2_0",
    apply: bool = False,
    claims_config: str | None = None,
    allow_writable: bool = False,
    client: Any = None,
    out: Any = None,
) -> int:
    """Show, and with `apply` make, the change to the pool; return the exit status.

    Attaching first audits the pool's app clients against the user attributes the mapping
    `claims_config` names trusts (`tools.audit_pool`) and prints the findings; with `apply`,
    a finding refuses the change unless `allow_writable`.

    Raises
    ------
    PoolToolError
        A refusal or a failed call (an `AttachError`, or the audit's own); the message says
        which and what to do.
    """
    out = out or sys.stdout
    region = pool_region(pool_id)
    notes = []
    trusted: tuple[str, ...] = ()
    if action == "attach":
        if lambda_version not in LAMBDA_VERSIONS:
            raise AttachError(
                f"`LAMBDA_VERSION` must be one of {', '.join(LAMBDA_VERSIONS)},"
                f" got `{lambda_version!r}`"
            )
        notes += _check_function(function_arn, region)
        trusted = trusted_attributes(claims_config)
    cognito = client or cognito_client(region)
    accepted = list(
        cognito.meta.service_model.operation_model("UpdateUserPool").input_shape.members
    )
    try:
        pool = cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"]
    except (ClientError, BotoCoreError) as exc:
        raise AttachError(f"DescribeUserPool on `{pool_id}` failed: {exc}") from exc
    tier = pool.get("UserPoolTier")
    if action == "attach" and tier == "LITE" and lambda_version in _ACCESS_TOKEN_VERSIONS:
        raise AttachError(
            f"pool `{pool_id}` is on the Lite feature plan: access-token customization"
            f" (LAMBDA_VERSION={lambda_version}) needs the Essentials or Plus plan. Change the"
            " pool's feature plan first, or attach with LAMBDA_VERSION=V1_0 (ID token only)."
            " Nothing was changed."
        )
    writable = 0
    if action == "attach":
        audit = audit_pool(cognito, pool_id, trusted, mapping=claims_config)
        print("\n".join(report_lines(audit)), file=out)
        writable = len(audit.findings)
    current = pool.get("LambdaConfig", {})
    if action == "attach":
        wanted = attached_lambda_config(current, function_arn, lambda_version)
    else:
        wanted = detached_lambda_config(current)
    request, request_notes = update_request(pool, wanted, accepted)
    notes += request_notes
    lines = diff_lines(current, wanted)
    name = pool.get("Name", "?")
    if not lines:
        print(f"pool {pool_id} ({name}): nothing to change", file=out)
        return 0
    repeated = sorted(key for key in request if key not in ("UserPoolId", "LambdaConfig"))
    print(f"pool {pool_id} ({name}, plan {tier or 'not reported'}): UpdateUserPool", file=out)
    print("\n".join(lines), file=out)
    print(f"  repeated as described: {', '.join(repeated)}", file=out)
    kept = sorted(key for key in current if key not in _TRIGGER_FIELDS)
    print(f"  other triggers kept: {', '.join(kept) or '(none)'}", file=out)
    if writable:
        notes.append(
            f"{writable} app client(s) can write a trusted user attribute (audit above):"
            + (
                " applying anyway, as ALLOW_WRITABLE=1 asks"
                if allow_writable
                else " APPLY=1 refuses until their WriteAttributes exclude it, or with"
                " ALLOW_WRITABLE=1"
            )
        )
    for note in notes:
        print(f"  note: {note}", file=out)
    if not apply:
        print("dry run: nothing was changed; run again with APPLY=1 to apply", file=out)
        return 0
    if writable and not allow_writable:
        raise AttachError(
            f"{writable} app client(s) of `{pool_id}` can write a user attribute the mapping"
            " trusts (the audit above names them), so a user could choose the claims taken from"
            " it. Nothing was changed. Exclude those attributes from each client's"
            " WriteAttributes (`make audit-pool` passes once none can), or attach anyway with"
            " ALLOW_WRITABLE=1."
        )
    try:
        cognito.update_user_pool(**request)
        after = cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"]
    except (ClientError, BotoCoreError) as exc:
        raise AttachError(f"UpdateUserPool on `{pool_id}` failed: {exc}") from exc
    moved = _changed_fields(pool, after)
    trigger = after.get("LambdaConfig", {}).get("PreTokenGenerationConfig")
    if moved or trigger != wanted.get("PreTokenGenerationConfig"):
        print(
            f"applied, but the pool now differs beyond the trigger in: {', '.join(moved)};"
            f" before: {_show({key: pool.get(key) for key in moved})}",
            file=out,
        )
        return 1
    print("applied; DescribeUserPool shows every other setting unchanged", file=out)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("action", choices=["attach", "detach"])
    parser.add_argument("--pool-id", required=True, help="the user pool id (POOL_ID)")
    parser.add_argument("--function-arn", default="", help="the trigger's ARN (FUNCTION_ARN)")
    parser.add_argument("--lambda-version", default="V2_0", help="V1_0, V2_0 or V3_0")
    parser.add_argument("--apply", default="", help="1 applies; empty or 0 only shows the diff")
    parser.add_argument(
        "--claims-config", default="", help="the claim mapping (CLAIMS_CONFIG); empty: built-in"
    )
    parser.add_argument(
        "--allow-writable",
        default="",
        help="1 applies even when an app client can write a trusted attribute (ALLOW_WRITABLE)",
    )
    args = parser.parse_args(argv)
    if args.apply not in ("", "0", "1"):
        print(f"`APPLY` must be 1 (apply) or empty (show only), got `{args.apply!r}`")
        return 2
    if args.allow_writable not in ("", "0", "1"):
        print(
            "`ALLOW_WRITABLE` must be 1 (apply despite writable trusted attributes) or empty,"
            f" got `{args.allow_writable!r}`"
        )
        return 2
    try:
        return run(
            args.action,
            args.pool_id,
            function_arn=args.function_arn,
            lambda_version=args.lambda_version or "V2_0",
            apply=args.apply == "1",
            claims_config=args.claims_config or None,
            allow_writable=args.allow_writable == "1",
        )
    except PoolToolError as exc:
        print(f"{args.action}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
