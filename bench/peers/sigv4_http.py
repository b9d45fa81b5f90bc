"""The physical limit: one GetItem signed by hand (SigV4) over `http.client`, standard library only.

Not a proposal and never in the package: no retries, no credential refresh, no error mapping,
no deadline beyond the socket timeout. It is what any Python client must at least spend (sign,
send, read, parse JSON), so every other contender is read against it. The request is ours: the
same projection, the same response shape. Credentials and endpoint come from the environment
as Lambda sets them (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
`AWS_REGION`, `AWS_ENDPOINT_URL_DYNAMODB`). Over https it verifies with an `ssl` context of the
system's roots, or of the file `AWS_CA_BUNDLE` names (the bench's TLS mode: its throwaway CA),
built once: the least TLS costs.
"""

import hashlib
import hmac
import http.client
import json
import os
import ssl
import time
import urllib.parse
from typing import Any

__all__ = ("get_item", "handler", "sign")

TABLE_NAME = os.environ["TABLE_NAME"]
REGION = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
_URL = urllib.parse.urlsplit(
    os.environ.get("AWS_ENDPOINT_URL_DYNAMODB")
    or os.environ.get("AWS_ENDPOINT_URL")
    or f"https://dynamodb.{REGION}.amazonaws.com"
)
_HOST = _URL.netloc
_ACCESS_KEY = os.environ["AWS_ACCESS_KEY_ID"]
_SECRET_KEY = os.environ["AWS_SECRET_ACCESS_KEY"]
_TOKEN = os.environ.get("AWS_SESSION_TOKEN")
_TARGET = "DynamoDB_20120810.GetItem"
_CONTENT_TYPE = "application/x-amz-json-1.0"
_ATTRIBUTES = ("id", "first_name", "last_name", "interesting_value")
_NAMES = {f"#a{i}": name for i, name in enumerate(_ATTRIBUTES)}
_PROJECTION = ", ".join(_NAMES)
_SIGNING_KEYS: dict[str, bytes] = {}


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def _signing_key(day: str) -> bytes:
    # Derived once per day: the secret never signs a request directly.
    key = _SIGNING_KEYS.get(day)
    if key is None:
        key = _hmac(("AWS4" + _SECRET_KEY).encode(), day)
        for part in (REGION, "dynamodb", "aws4_request"):
            key = _hmac(key, part)
        _SIGNING_KEYS.clear()
        _SIGNING_KEYS[day] = key
    return key


def sign(body: bytes, now: float) -> dict[str, str]:
    """The headers of a SigV4-signed DynamoDB POST of `body` at `now` (seconds since the epoch)."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    day = stamp[:8]
    headers = {
        "content-type": _CONTENT_TYPE,
        "host": _HOST,
        "x-amz-date": stamp,
        "x-amz-target": _TARGET,
    }
    if _TOKEN:
        headers["x-amz-security-token"] = _TOKEN
    names = sorted(headers)
    signed = ";".join(names)
    canonical = "\n".join(
        (
            "POST",
            "/",
            "",
            "".join(f"{name}:{headers[name]}\n" for name in names),
            signed,
            hashlib.sha256(body).hexdigest(),
        )
    )
    scope = f"{day}/{REGION}/dynamodb/aws4_request"
    to_sign = "\n".join(
        ("AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest())
    )
    signature = hmac.new(_signing_key(day), to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={_ACCESS_KEY}/{scope}, SignedHeaders={signed}, "
        f"Signature={signature}"
    )
    return headers


_TLS = (
    ssl.create_default_context(cafile=os.environ.get("AWS_CA_BUNDLE") or None)
    if _URL.scheme == "https"
    else None
)


def _connect() -> http.client.HTTPConnection:
    if _TLS is not None:
        return http.client.HTTPSConnection(
            _URL.hostname or _HOST, _URL.port, timeout=1.5, context=_TLS
        )
    return http.client.HTTPConnection(_URL.hostname or _HOST, _URL.port, timeout=1.5)


_connection = _connect()


def get_item(key: str) -> dict[str, Any]:
    """POST one GetItem on the kept-alive connection (reopened once if the server closed it)."""
    global _connection  # noqa: PLW0603 (one connection per process, as a client pool of one)
    body = json.dumps(
        {
            "TableName": TABLE_NAME,
            "Key": {"id": {"S": key}},
            "ProjectionExpression": _PROJECTION,
            "ExpressionAttributeNames": _NAMES,
        }
    ).encode()
    for attempt in (1, 2):
        try:
            _connection.request("POST", "/", body, sign(body, time.time()))
            response = _connection.getresponse()
            data = response.read()
            break
        except (ConnectionError, http.client.HTTPException):
            _connection.close()
            _connection = _connect()
            if attempt == 2:
                raise
    if response.status != 200:
        raise RuntimeError(f"GetItem answered HTTP {response.status}: {data[:200]!r}")
    answer: dict[str, Any] = json.loads(data)
    return answer


def _value(attribute: dict[str, Any]) -> Any:
    return next(iter(attribute.values()))


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    item = get_item(f"USER#{event['userName']}").get("Item", {})
    event["response"] = {
        "claimsAndScopeOverrideDetails": {
            "idTokenGeneration": {
                "claimsToAddOrOverride": {
                    k: _value(item[k]) for k in ("first_name", "last_name") if k in item
                }
            },
            "accessTokenGeneration": {
                "claimsToAddOrOverride": {
                    k: _value(item[k]) for k in ("interesting_value",) if k in item
                }
            },
            "groupOverrideDetails": event["request"]["groupConfiguration"],
        }
    }
    return event
