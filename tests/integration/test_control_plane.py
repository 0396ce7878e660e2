"""Real boto3/botocore against the real server: modeled replies and modeled errors."""

import boto3
import pytest
from botocore.config import Config

from .conftest import KEY


@pytest.fixture
def mwaa(server):
    return boto3.client(
        "mwaa",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id=KEY.access_key_id,
        aws_secret_access_key=KEY.secret_access_key,
        config=Config(inject_host_prefix=False, retries={"max_attempts": 1}),
    )


def test_create_cli_token(mwaa, server):
    reply = mwaa.create_cli_token(Name="itest")
    assert reply["WebServerHostname"] == server.hostname
    assert server.signer.verify(reply["CliToken"], "itest").env == "itest"


def test_get_environment(mwaa):
    env = mwaa.get_environment(Name="itest")["Environment"]
    assert env["Name"] == "itest"
    assert env["Status"] == "AVAILABLE"
    assert env["AirflowVersion"] == "3.3.1"
    assert env["Arn"] == "arn:aws:airflow:us-east-1:000000000000:environment/itest"
    assert env["CreatedAt"].timestamp() == 1_700_000_000.0
    assert ":" in env["WebserverUrl"] and "://" not in env["WebserverUrl"]


def test_list_environments(mwaa):
    assert mwaa.list_environments()["Environments"] == ["itest"]
    pages = mwaa.get_paginator("list_environments").paginate(PaginationConfig={"PageSize": 5})
    assert [n for p in pages for n in p["Environments"]] == ["itest"]


def test_list_environments_validates_max_results(mwaa):
    with pytest.raises(mwaa.exceptions.ValidationException):
        mwaa.list_environments(MaxResults=500)


@pytest.mark.parametrize("op", ["create_cli_token", "get_environment", "create_web_login_token"])
def test_unknown_environment_is_modeled_not_found(mwaa, op):
    with pytest.raises(mwaa.exceptions.ResourceNotFoundException) as info:
        getattr(mwaa, op)(Name="other")
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert "other" in info.value.response["Error"]["Message"]


@pytest.mark.parametrize("name", ["1bad", "has space", "x" * 81, "bad/slash"])
def test_invalid_name_is_validation_exception(mwaa, name):
    with pytest.raises(mwaa.exceptions.ValidationException):
        mwaa.get_environment(Name=name)


def test_host_prefix_injection_is_why_the_env_var_exists(server):
    """Without the opt-out botocore sends to env.127.0.0.1, which cannot resolve."""
    client = boto3.client(
        "mwaa",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id=KEY.access_key_id,
        aws_secret_access_key=KEY.secret_access_key,
        config=Config(inject_host_prefix=True, retries={"max_attempts": 1}),
    )
    with pytest.raises(Exception, match=r"env\.127\.0\.0\.1"):
        client.create_cli_token(Name="itest")
