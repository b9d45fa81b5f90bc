"""`make attach` and `make detach` against moto's Cognito server over HTTP: no setting is lost.

A pool is created with as many settings as the API takes (MFA, password and sign-in policy,
email and SMS configuration, device tracking, other triggers, custom attributes, deletion
protection, tags, ...). The exact `make` interface is run in a subprocess, pointed at the
server by `AWS_ENDPOINT_URL_COGNITO_IDP` (or `AWS_ENDPOINT_URL`) as boto3 reads it, and
`DescribeUserPool` before and after is compared field by field.

What moto does not model, and so this test cannot show: moto stores the update request as sent
(it does reset every field left out, like Cognito, which is what gives the test its teeth), so
Cognito's own derivations are not exercised: Cognito reports
`AdminCreateUserConfig.UnusedAccountValidityDays` from the password policy and mirrors a
`PreTokenGenerationConfig` into the legacy `PreTokenGeneration`; moto does neither, and does not
advance `LastModifiedDate` on an update. And moto forgets the creation-only settings
(`UsernameAttributes`, `AliasAttributes`, `UsernameConfiguration`) on any UpdateUserPool, which
cannot repeat them (its input has no such fields) and in Cognito leaves them as they are: the
pool here has none of them, or every update would look lossy (the tool's own check after an
update reports exactly that against moto).
"""

import copy
from typing import Any

import boto3
import pytest

from tests.support.make import run_make
from tools.attach import (
    READ_ONLY,
    RENAMED,
    AttachError,
    attached_lambda_config,
    detached_lambda_config,
    diff_lines,
    update_request,
)
from tools.local_dynamodb import FAKE_CREDENTIALS

pytestmark = pytest.mark.integration

REGION = "us-east-1"
ACCOUNT = "123456789012"
FUNCTION = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:adopt-pretoken:live"
OLD_FUNCTION = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:old-pretoken"


def _lambda(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


OTHER_TRIGGERS = {
    "PreSignUp": _lambda("pre-sign-up"),
    "CustomMessage": _lambda("custom-message"),
    "PostConfirmation": _lambda("post-confirmation"),
    "PreAuthentication": _lambda("pre-authentication"),
    "PostAuthentication": _lambda("post-authentication"),
    "DefineAuthChallenge": _lambda("define-auth"),
    "CreateAuthChallenge": _lambda("create-auth"),
    "VerifyAuthChallengeResponse": _lambda("verify-auth"),
    "UserMigration": _lambda("user-migration"),
    "CustomEmailSender": {"LambdaVersion": "V1_0", "LambdaArn": _lambda("email-sender")},
    "CustomSMSSender": {"LambdaVersion": "V1_0", "LambdaArn": _lambda("sms-sender")},
    "KMSKeyID": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0f6a3c1e-1111-2222-3333-444455556666",
}

RICH_POOL: dict[str, Any] = {
    "Policies": {
        "PasswordPolicy": {
            "MinimumLength": 14,
            "RequireUppercase": True,
            "RequireLowercase": False,
            "RequireNumbers": True,
            "RequireSymbols": False,
            "PasswordHistorySize": 5,
            "TemporaryPasswordValidityDays": 3,
        },
        "SignInPolicy": {"AllowedFirstAuthFactors": ["PASSWORD", "EMAIL_OTP"]},
    },
    "DeletionProtection": "ACTIVE",
    # The legacy field alone, as pools set up before PreTokenGenerationConfig have it.
    "LambdaConfig": {**OTHER_TRIGGERS, "PreTokenGeneration": OLD_FUNCTION},
    "AutoVerifiedAttributes": ["email", "phone_number"],
    "SmsVerificationMessage": "Code {####} (sms)",
    "EmailVerificationMessage": "Your code is {####}.",
    "EmailVerificationSubject": "Verify your account",
    "VerificationMessageTemplate": {
        "SmsMessage": "Code {####} (sms)",
        "EmailMessage": "Your code is {####}.",
        "EmailSubject": "Verify your account",
        "EmailMessageByLink": "Click {##here##}",
        "EmailSubjectByLink": "Verify by link",
        "DefaultEmailOption": "CONFIRM_WITH_LINK",
    },
    "SmsAuthenticationMessage": "Sign-in code {####}",
    "MfaConfiguration": "OPTIONAL",
    "UserAttributeUpdateSettings": {"AttributesRequireVerificationBeforeUpdate": ["email"]},
    "DeviceConfiguration": {
        "ChallengeRequiredOnNewDevice": True,
        "DeviceOnlyRememberedOnUserPrompt": True,
    },
    "EmailConfiguration": {
        "SourceArn": f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/no-reply@example.com",
        "ReplyToEmailAddress": "support@example.com",
        "EmailSendingAccount": "DEVELOPER",
        "From": "Example <no-reply@example.com>",
        "ConfigurationSet": "auth-mail",
    },
    "SmsConfiguration": {
        "SnsCallerArn": f"arn:aws:iam::{ACCOUNT}:role/cognito-sms",
        "ExternalId": "external-42",
        "SnsRegion": REGION,
    },
    "UserPoolTags": {"team": "identity", "env": "prod"},
    "AdminCreateUserConfig": {
        "AllowAdminCreateUserOnly": True,
        "UnusedAccountValidityDays": 3,
        "InviteMessageTemplate": {
            "SMSMessage": "User {username}, password {####}",
            "EmailMessage": "User {username}, password {####}",
            "EmailSubject": "Welcome",
        },
    },
    "Schema": [
        {
            "Name": "tenant_id",
            "AttributeDataType": "String",
            "Mutable": True,
            "StringAttributeConstraints": {"MinLength": "1", "MaxLength": "64"},
        },
        {
            "Name": "seats",
            "AttributeDataType": "Number",
            "Mutable": True,
            "NumberAttributeConstraints": {"MinValue": "0", "MaxValue": "1000"},
        },
    ],
    "UserPoolAddOns": {"AdvancedSecurityMode": "ENFORCED"},
    "AccountRecoverySetting": {
        "RecoveryMechanisms": [
            {"Priority": 1, "Name": "verified_email"},
            {"Priority": 2, "Name": "verified_phone_number"},
        ]
    },
    "UserPoolTier": "PLUS",
}


@pytest.fixture
def cognito(endpoint: str) -> Any:
    return boto3.client(
        "cognito-idp", endpoint_url=endpoint, region_name=REGION, **FAKE_CREDENTIALS
    )


@pytest.fixture
def pool_id(cognito: Any) -> str:
    # A new pool per test on the session's server; deletion protection keeps it to the end.
    created = cognito.create_user_pool(PoolName="adopt-users", **copy.deepcopy(RICH_POOL))
    pool: str = created["UserPool"]["Id"]
    return pool


def _describe(cognito: Any, pool_id: str) -> dict[str, Any]:
    pool = cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"]
    assert isinstance(pool, dict)
    return pool


def _trigger_free(pool: dict[str, Any]) -> dict[str, Any]:
    """The pool without the fields attach/detach may change (and Cognito's timestamps)."""
    view = copy.deepcopy(pool)
    for field in ("PreTokenGenerationConfig", "PreTokenGeneration"):
        view["LambdaConfig"].pop(field, None)
    view.pop("LastModifiedDate", None)
    # Not sent on purpose (UpdateUserPool refuses it beside TemporaryPasswordValidityDays, which
    # holds the same setting); Cognito reports it again from the password policy, moto does not.
    view["AdminCreateUserConfig"].pop("UnusedAccountValidityDays", None)
    return view


def _assert_same_fields(before: dict[str, Any], after: dict[str, Any]) -> None:
    old, new = _trigger_free(before), _trigger_free(after)
    assert sorted(old) == sorted(new)
    for field in old:
        assert old[field] == new[field], field


def test_rich_pool_holds_every_setting(cognito: Any, pool_id: str) -> None:
    # The fixture is only worth something if the server reports what was set.
    pool = _describe(cognito, pool_id)
    for field, value in RICH_POOL.items():
        if field == "Schema":
            names = {attribute["Name"] for attribute in pool["SchemaAttributes"]}
            assert {"custom:tenant_id", "custom:seats"} <= names
        else:
            assert pool[field] == value, field


def test_a_bare_update_user_pool_loses_settings(cognito: Any, pool_id: str) -> None:
    # The trap this tool exists for, shown on the same server: an update that repeats only the
    # LambdaConfig resets the rest. If the server did not, the tests below would prove nothing.
    before = _describe(cognito, pool_id)
    cognito.update_user_pool(
        UserPoolId=pool_id,
        LambdaConfig={"PreTokenGenerationConfig": {"LambdaArn": FUNCTION, "LambdaVersion": "V2_0"}},
    )
    after = _describe(cognito, pool_id)

    lost = [field for field in before if field in RICH_POOL and before[field] != after.get(field)]
    assert {"Policies", "EmailConfiguration", "DeletionProtection", "UserPoolTier"} <= set(lost)
    assert "PreSignUp" not in after["LambdaConfig"]


def test_attach_then_detach_keep_every_other_setting(
    endpoint: str, cognito: Any, pool_id: str
) -> None:
    before = _describe(cognito, pool_id)

    attached = run_make(
        endpoint, "attach", POOL_ID=pool_id, FUNCTION_ARN=FUNCTION, LAMBDA_VERSION="V3_0", APPLY="1"
    )
    assert attached.returncode == 0, attached.stderr + attached.stdout
    assert "applied; DescribeUserPool shows every other setting unchanged" in attached.stdout
    after_attach = _describe(cognito, pool_id)

    assert after_attach["LambdaConfig"] == {
        **OTHER_TRIGGERS,
        "PreTokenGenerationConfig": {"LambdaArn": FUNCTION, "LambdaVersion": "V3_0"},
    }
    _assert_same_fields(before, after_attach)

    detached = run_make(endpoint, "detach", POOL_ID=pool_id, APPLY="1")
    assert detached.returncode == 0, detached.stderr + detached.stdout
    after_detach = _describe(cognito, pool_id)

    assert after_detach["LambdaConfig"] == OTHER_TRIGGERS
    _assert_same_fields(before, after_detach)
    # Once more: nothing left to remove, so no update is sent.
    again = run_make(endpoint, "detach", POOL_ID=pool_id, APPLY="1")
    assert again.returncode == 0
    assert "nothing to change" in again.stdout


def test_attach_dry_run_shows_the_diff_and_changes_nothing(
    endpoint: str, cognito: Any, pool_id: str
) -> None:
    before = _describe(cognito, pool_id)

    shown = run_make(endpoint, "attach", POOL_ID=pool_id, FUNCTION_ARN=FUNCTION)

    assert shown.returncode == 0, shown.stderr
    assert _describe(cognito, pool_id) == before
    lines = shown.stdout.splitlines()
    config = lines.index("  LambdaConfig.PreTokenGenerationConfig")
    assert lines[config + 1] == "-   (absent)"
    assert lines[config + 2] == (f'+   {{"LambdaArn": "{FUNCTION}", "LambdaVersion": "V2_0"}}')
    legacy = lines.index("  LambdaConfig.PreTokenGeneration")
    assert lines[legacy + 1 : legacy + 3] == [f'-   "{OLD_FUNCTION}"', "+   (absent)"]
    # Only the trigger fields appear in the diff.
    changed = [line for line in lines if line.startswith("  LambdaConfig.")]
    assert len(changed) == 2
    assert lines[-1] == "dry run: nothing was changed; run again with APPLY=1 to apply"


def test_detach_dry_run_changes_nothing(endpoint: str, cognito: Any, pool_id: str) -> None:
    before = _describe(cognito, pool_id)

    shown = run_make(endpoint, "detach", POOL_ID=pool_id, APPLY="0")

    assert shown.returncode == 0, shown.stderr
    assert f'-   "{OLD_FUNCTION}"' in shown.stdout
    assert _describe(cognito, pool_id) == before


@pytest.mark.parametrize(
    "variable",
    [
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER",
        "AWS_ENDPOINT_URL_COGNITO_IDP",
    ],
)
def test_attach_honours_each_endpoint_variable(
    endpoint: str, cognito: Any, pool_id: str, variable: str
) -> None:
    shown = run_make(endpoint, "attach", variable=variable, POOL_ID=pool_id, FUNCTION_ARN=FUNCTION)

    assert shown.returncode == 0, shown.stderr
    assert "LambdaConfig.PreTokenGenerationConfig" in shown.stdout


def test_attach_again_on_a_pool_reporting_the_legacy_mirror_changes_nothing(
    endpoint: str, cognito: Any
) -> None:
    # Cognito reports an attached config's function again as `PreTokenGeneration`; moto does
    # not, so the pool is created the way Cognito describes it.
    mirrored = {
        "PreTokenGeneration": FUNCTION,
        "PreTokenGenerationConfig": {"LambdaArn": FUNCTION, "LambdaVersion": "V2_0"},
    }
    pool_id = cognito.create_user_pool(PoolName="attached", LambdaConfig=mirrored)["UserPool"]["Id"]

    again = run_make(endpoint, "attach", POOL_ID=pool_id, FUNCTION_ARN=FUNCTION, APPLY="1")
    removed = run_make(endpoint, "detach", POOL_ID=pool_id)

    assert again.returncode == 0, again.stderr
    assert "nothing to change" in again.stdout
    # Detach shows the config going; its mirror is no setting of its own.
    lines = removed.stdout.splitlines()
    assert "  LambdaConfig.PreTokenGenerationConfig" in lines
    assert "  LambdaConfig.PreTokenGeneration" not in lines


def test_diff_lines_show_only_what_changes() -> None:
    others = {"PreSignUp": OTHER_TRIGGERS["PreSignUp"], "KMSKeyID": OTHER_TRIGGERS["KMSKeyID"]}
    legacy = {**others, "PreTokenGeneration": OLD_FUNCTION}

    attached = attached_lambda_config(legacy, FUNCTION, "V2_0")

    assert attached == {
        **others,
        "PreTokenGenerationConfig": {"LambdaArn": FUNCTION, "LambdaVersion": "V2_0"},
    }
    assert diff_lines(legacy, attached) == [
        "  LambdaConfig.PreTokenGeneration",
        f'-   "{OLD_FUNCTION}"',
        "+   (absent)",
        "  LambdaConfig.PreTokenGenerationConfig",
        "-   (absent)",
        f'+   {{"LambdaArn": "{FUNCTION}", "LambdaVersion": "V2_0"}}',
    ]
    assert detached_lambda_config(attached) == others
    assert diff_lines(attached, attached) == []
    assert diff_lines(others, detached_lambda_config(others)) == []


@pytest.mark.parametrize("version", ["V2_0", "V3_0"])
def test_attach_refuses_access_token_versions_on_a_lite_pool(
    endpoint: str, cognito: Any, version: str
) -> None:
    pool_id = cognito.create_user_pool(PoolName="lite", UserPoolTier="LITE")["UserPool"]["Id"]
    before = _describe(cognito, pool_id)

    refused = run_make(
        endpoint,
        "attach",
        POOL_ID=pool_id,
        FUNCTION_ARN=FUNCTION,
        LAMBDA_VERSION=version,
        APPLY="1",
    )

    assert refused.returncode != 0
    assert "Lite feature plan" in refused.stderr
    assert "access-token customization" in refused.stderr
    assert "needs the Essentials or Plus plan" in refused.stderr
    assert _describe(cognito, pool_id) == before


def test_attach_v1_on_a_lite_pool_is_allowed(endpoint: str, cognito: Any) -> None:
    pool_id = cognito.create_user_pool(PoolName="lite", UserPoolTier="LITE")["UserPool"]["Id"]

    applied = run_make(
        endpoint, "attach", POOL_ID=pool_id, FUNCTION_ARN=FUNCTION, LAMBDA_VERSION="V1_0", APPLY="1"
    )

    assert applied.returncode == 0, applied.stderr
    config = _describe(cognito, pool_id)["LambdaConfig"]["PreTokenGenerationConfig"]
    assert config == {"LambdaArn": FUNCTION, "LambdaVersion": "V1_0"}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"POOL_ID": "", "FUNCTION_ARN": FUNCTION}, "`POOL_ID` must be a user pool id"),
        ({"POOL_ID": "us-east-1_x", "FUNCTION_ARN": ""}, "`FUNCTION_ARN` must be a Lambda"),
        (
            {"POOL_ID": "us-east-1_x", "FUNCTION_ARN": FUNCTION, "LAMBDA_VERSION": "V4"},
            "`LAMBDA_VERSION` must be one of V1_0, V2_0, V3_0",
        ),
        ({"POOL_ID": "us-east-1_x", "FUNCTION_ARN": FUNCTION, "APPLY": "yes"}, "`APPLY` must be 1"),
    ],
)
def test_attach_refuses_bad_arguments(endpoint: str, values: dict[str, str], message: str) -> None:
    refused = run_make(endpoint, "attach", **values)

    assert refused.returncode != 0
    assert message in refused.stderr + refused.stdout


def test_attach_names_a_missing_pool(endpoint: str) -> None:
    refused = run_make(endpoint, "attach", POOL_ID="us-east-1_missing", FUNCTION_ARN=FUNCTION)

    assert refused.returncode != 0
    assert "DescribeUserPool on `us-east-1_missing` failed" in refused.stderr


# --- the mapping between DescribeUserPool and UpdateUserPool -----------------------------------


def test_every_described_field_is_repeated_or_known_read_only(cognito: Any) -> None:
    # Against the installed botocore model: a new DescribeUserPool field must be placed in
    # READ_ONLY or be accepted by UpdateUserPool, or the tool refuses to run.
    model = cognito.meta.service_model
    described = set(model.shape_for("UserPoolType").members)
    accepted = set(model.operation_model("UpdateUserPool").input_shape.members)
    repeated = {RENAMED.get(field, field) for field in described - set(READ_ONLY)}
    assert repeated <= accepted
    # And nothing UpdateUserPool takes is missing from what DescribeUserPool tells.
    assert accepted <= repeated
    assert set(READ_ONLY) <= described


def test_update_request_refuses_a_field_it_cannot_place() -> None:
    pool = {"Id": "us-east-1_x", "Name": "p", "SomethingNew": {"On": True}, "LambdaConfig": {}}

    with pytest.raises(AttachError, match="`SomethingNew`, which UpdateUserPool does not take"):
        update_request(pool, {}, ["UserPoolId", "PoolName", "LambdaConfig"])
