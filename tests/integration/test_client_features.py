"""Token reuse and caching, batches: the client against the real server."""

import json
import os
import stat
import time

from mwaa_cli import Client
from mwaa_cli.cli import main, parse_batch
from mwaa_cli.client.tokens import CliToken


def test_token_is_reused_within_a_process(aws_env):
    with Client(env="itest") as client:
        first = client.run(["version"])
        token = client.token()
        second = client.run(["version"])
        assert client.token() is token
    assert first.ok and second.ok


def test_token_cache_on_disk_skips_boto3(aws_env, tmp_path):
    with Client(env="itest") as first:
        first.run(["version"])
        value = first.token().value
    files = list((tmp_path / "mwaa-cli-home" / "tokens").iterdir())
    assert len(files) == 1
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    with Client(env="itest") as second:
        assert second.run(["dags", "list"]).ok
        assert second.token().value == value
        assert second.control_plane._client is None  # no boto3 client was needed
    assert value not in repr(second.token())


def test_cache_is_per_env_region_profile_endpoint_and_key(aws_env, monkeypatch):
    base = Client(env="itest")._cache_key()
    assert Client(env="other")._cache_key() != base
    assert Client(env="itest", region="eu-west-1")._cache_key() != base
    assert Client(env="itest", profile="p")._cache_key() != base
    assert Client(env="itest", endpoint_url="http://127.0.0.1:1")._cache_key() != base
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAOTHER")
    assert Client(env="itest")._cache_key() != base


def test_refused_cached_token_is_replaced_once(aws_env):
    with Client(env="itest") as client:
        key = client._cache_key()
        stale = CliToken(
            "bogus.token",
            "x",
            time.time() - 5,
            cli_url=client.cli_url(client.create_cli_token().webserver_hostname),
        )
        client.tokens.cache.put(key, stale)
    with Client(env="itest") as client:
        result = client.run(["variables", "get", "exit=0"])
        assert result.ok
        assert client.token().value != "bogus.token"


def test_world_readable_cache_file_is_ignored(aws_env, tmp_path):
    with Client(env="itest") as client:
        client.run(["version"])
    (path,) = (tmp_path / "mwaa-cli-home" / "tokens").iterdir()
    os.chmod(path, 0o644)
    with Client(env="itest") as client:
        assert client.tokens.cache.get(client._cache_key()) is None


def test_parse_batch():
    text = "# nightly\n\ndags list -o json\n  variables set k 'a b'  \nairflow version\n"
    assert parse_batch(text) == [
        ["dags", "list", "-o", "json"],
        ["variables", "set", "k", "a b"],
        ["version"],
    ]


def test_batch_stops_at_first_failure(aws_env, tmp_path, capfd):
    script = tmp_path / "cmds.txt"
    script.write_text("dags list\nvariables get exit=4\nversion\n")
    assert main(["batch", "--env", "itest", str(script)]) == 4
    out, err = capfd.readouterr()
    assert [json.loads(line) for line in out.splitlines()] == [
        ["dags", "list"],
        ["variables", "get", "exit=4"],
    ]
    assert "==> [1/3] line 1: dags list (exit 0" in err
    assert "==> [2/3] line 2: variables get exit=4 (exit 4" in err
    assert "[3/3]" not in err
    assert "stopped after line 2 failed (exit 4); not run: line 3 (version)" in err


def test_batch_keep_going_runs_everything(aws_env, tmp_path, capfd):
    script = tmp_path / "cmds.txt"
    script.write_text("variables get exit=3\nvariables get exit=5\nversion\n")
    assert main(["batch", "-k", "-q", "--env", "itest", str(script)]) == 3
    out, err = capfd.readouterr()
    assert len(out.splitlines()) == 3
    assert "==>" not in err


def test_batch_bad_line_runs_nothing(aws_env, tmp_path, capfd):
    script = tmp_path / "cmds.txt"
    script.write_text("variables set k v\nvariables set k 'open\n")
    assert main(["batch", "--env", "itest", str(script)]) == 2
    out, err = capfd.readouterr()
    assert out == "" and "line 2" in err
