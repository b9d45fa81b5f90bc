"""Sign-in end to end: cognito-local (a Cognito emulator, from npm) calls our handler.

cognito-local's PreTokenGeneration trigger points at a local Lambda Invoke API served here, which
runs the handler under the real `awslambdaric` in its own process, against a moto DynamoDB. The
test creates a pool, an app client and a user, seeds the user's profile, signs in with
USER_PASSWORD_AUTH, decodes the ID token and finds the profile claims in it; then refreshes the
tokens and finds them again. cognito-local sends V1 events (`"version": "0"`), so this proves the
V1 path end to end; V2 is proved on the response in the other tests, since no local emulator
applies access-token claims.
"""

import base64
import json
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.conftest import ROOT
from tests.support.lambda_invoke import LambdaInvokeAPI
from tests.support.runtime_api import LambdaContainer, RuntimeAPI
from tools.local_dynamodb import create_table, moto_server, put_items

pytestmark = pytest.mark.runtime

NODE_TOOLS = Path(__file__).resolve().parent
COGNITO_LOCAL = NODE_TOOLS / "node_modules" / "cognito-local" / "lib" / "bin" / "start.js"
FUNCTION = "cognito-pretoken"
TABLE = f"profiles-e2e-{uuid.uuid4().hex[:8]}"

if shutil.which("node") is None:
    pytest.skip("Node.js is not installed: cognito-local needs it", allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"cognito-local exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError("cognito-local did not start listening")


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """moto + the handler under awslambdaric + the Invoke API + cognito-local, all on loopback."""
    if not COGNITO_LOCAL.exists():
        pytest.fail(
            "cognito-local is not installed: run `npm ci --prefix tests/e2e` (make test does)"
        )
    with moto_server() as dynamodb:
        create_table(dynamodb, TABLE)
        runtime = RuntimeAPI()
        env = {
            "PATH": os.environ.get("PATH", ""),
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "TABLE_NAME": TABLE,
            "AWS_ENDPOINT_URL_DYNAMODB": dynamodb,
        }
        container = LambdaContainer(runtime, env, tmp_path / "lambda.log", cwd=ROOT)
        invoke = LambdaInvokeAPI(runtime, FUNCTION)
        port = _free_port()
        data = tmp_path / "cognito"
        (data / ".cognito").mkdir(parents=True)
        (data / ".cognito" / "config.json").write_text(
            json.dumps(
                {
                    "LambdaClient": {
                        "endpoint": invoke.endpoint,
                        "region": "us-east-1",
                        "credentials": {"accessKeyId": "local", "secretAccessKey": "local"},
                    },
                    "TriggerFunctions": {"PreTokenGeneration": FUNCTION},
                    # Plain user names, as in a pool without email sign-in.
                    "UserPoolDefaults": {"UsernameAttributes": []},
                }
            )
        )
        log = (tmp_path / "cognito-local.log").open("wb")
        cognito = subprocess.Popen(
            ["node", str(COGNITO_LOCAL)],
            cwd=data,
            env={**os.environ, "PORT": str(port), "HOST": "127.0.0.1"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_for_port(port, cognito)
            yield {"dynamodb": dynamodb, "cognito": f"http://127.0.0.1:{port}", "invoke": invoke,
                   "container": container}  # fmt: skip
        finally:
            cognito.terminate()
            cognito.wait(timeout=10)
            log.close()
            invoke.close()
            container.stop()
            runtime.close()


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


def test_signin_and_refresh_carry_profile_claims(stack: dict[str, Any]) -> None:
    idp = boto3.client(
        "cognito-idp",
        endpoint_url=stack["cognito"],
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    pool = idp.create_user_pool(PoolName="e2e")["UserPool"]["Id"]
    client = idp.create_user_pool_client(
        UserPoolId=pool,
        ClientName="web",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    idp.admin_create_user(
        UserPoolId=pool,
        Username="jane.doe",
        TemporaryPassword="Temp-Passw0rd!",
        MessageAction="SUPPRESS",
        UserAttributes=[{"Name": "email", "Value": "jane.doe@example.com"}],
    )
    idp.admin_set_user_password(
        UserPoolId=pool, Username="jane.doe", Password="Real-Passw0rd!", Permanent=True
    )
    put_items(
        stack["dynamodb"],
        TABLE,
        [
            {
                "id": {"S": "USER#jane.doe"},
                "first_name": {"S": "Jane"},
                "last_name": {"S": "Doe"},
                "interesting_value": {"S": "never in a V1 ID token"},
            }
        ],
    )

    signed_in = idp.initiate_auth(
        ClientId=client,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "jane.doe", "PASSWORD": "Real-Passw0rd!"},
    )["AuthenticationResult"]
    id_token = _claims(signed_in["IdToken"])
    assert (id_token["first_name"], id_token["last_name"]) == ("Jane", "Doe")
    assert "interesting_value" not in id_token  # access-token claims never reach a V1 ID token
    assert id_token["cognito:username"] == "jane.doe"

    refreshed = idp.initiate_auth(
        ClientId=client,
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": signed_in["RefreshToken"]},
    )["AuthenticationResult"]
    again = _claims(refreshed["IdToken"])
    assert (again["first_name"], again["last_name"]) == ("Jane", "Doe")

    # Both token issues went through our handler, as V1 events, in one warm container.
    events = stack["invoke"].events
    assert [e["triggerSource"] for e in events] == [
        "TokenGeneration_Authentication",
        "TokenGeneration_RefreshTokens",
    ]
    assert {e["version"] for e in events} == {"0"}
    assert all(r.kind == "response" for r in stack["invoke"].results)
    lines = [x for x in stack["container"].log_lines() if x.get("message") == "pretoken"]
    assert [(x["outcome"], x["shape"], x["cold_start"]) for x in lines] == [
        ("claims_added", "v1", True),
        ("claims_added", "v1", False),
    ]
