"""The orjson model loader must make botocore behave exactly as its stock loader does."""

import asyncio

import pytest
from aiobotocore.session import AioSession
from botocore.exceptions import UnknownServiceError

from shared.store import create_session

REGIONS = [
    "us-east-1",
    "eu-west-1",
    "ap-southeast-2",
    "cn-north-1",
    "us-gov-west-1",
    "il-central-1",
]


@pytest.mark.parametrize("name", ["endpoints", "partitions", "sdk-default-configuration", "_retry"])
def test_loader_reads_the_same_data(name: str) -> None:
    stock = AioSession().get_component("data_loader").load_data(name)
    fast = create_session().get_component("data_loader").load_data(name)
    assert fast == stock


def test_loader_reads_the_same_dynamodb_model() -> None:
    stock = AioSession().get_component("data_loader")
    fast = create_session().get_component("data_loader")
    for type_name in ("service-2", "endpoint-rule-set-1"):
        assert fast.load_service_model("dynamodb", type_name) == stock.load_service_model(
            "dynamodb", type_name
        )


@pytest.mark.parametrize("region", REGIONS)
def test_loader_resolves_the_same_endpoints(region: str) -> None:
    async def endpoint(session: AioSession) -> str:
        async with session.create_client(
            "dynamodb", region_name=region, aws_access_key_id="x", aws_secret_access_key="x"
        ) as client:
            url: str = client.meta.endpoint_url
            return url

    loop = asyncio.new_event_loop()
    try:
        stock = loop.run_until_complete(endpoint(AioSession()))
        fast = loop.run_until_complete(endpoint(create_session()))
        assert fast == stock
        assert fast.startswith("https://dynamodb.")
    finally:
        loop.close()


def test_loader_still_rejects_unknown_services() -> None:
    loader = create_session().get_component("data_loader")
    with pytest.raises(UnknownServiceError):
        loader.load_service_model("no-such-service", "service-2")


def test_loader_lists_the_same_services() -> None:
    stock = AioSession().get_available_services()
    fast = create_session().get_available_services()
    assert list(fast) == list(stock)
    assert "dynamodb" in fast
    assert "no-such-service" not in fast
