"""The local region's parts without Airflow: input checks from botocore's model, MWAA's rules,
the Environment shape, bucket sync (a folder, and moto's S3 server), the registry's
bookkeeping."""

from __future__ import annotations

import time
from pathlib import Path

import boto3
import pytest

from mwaa_cli.local.api.errors import AwsError
from mwaa_cli.local.region import model
from mwaa_cli.local.region.api import _next_token
from mwaa_cli.local.region.registry import Registry
from mwaa_cli.local.region.sources import Buckets, FolderBucket, S3Bucket, SourceError, _relative

VALID = {
    "ExecutionRoleArn": "arn:aws:iam::123456789012:role/service-role/mwaa",
    "SourceBucketArn": "arn:aws:s3:::my-bucket",
    "DagS3Path": "dags",
    "NetworkConfiguration": {"SubnetIds": ["subnet-1", "subnet-2"], "SecurityGroupIds": ["sg-1"]},
}


def _message(operation: str, params: dict) -> str:
    with pytest.raises(AwsError) as caught:
        model.check(operation, params)
    assert caught.value.code == "ValidationException"
    return caught.value.message


def test_a_valid_create_passes():
    model.check("CreateEnvironment", {**VALID, "Tags": {"team": "data"}, "MaxWorkers": 3})
    model.check_mwaa_rules(VALID, creating=True)


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"ExecutionRoleArn": None}, "Value null at 'executionRoleArn'"),
        (
            {"ExecutionRoleArn": "role"},
            "at 'executionRoleArn' failed to satisfy constraint: Member must satisfy regular expression pattern",
        ),
        ({"SourceBucketArn": "arn:aws:s3:::UPPER"}, "'sourceBucketArn'"),
        (
            {"DagS3Path": ""},
            "at 'dagS3Path' failed to satisfy constraint: Member must have length between 1 and 1024",
        ),
        (
            {"MaxWorkers": 0},
            "at 'maxWorkers' failed to satisfy constraint: Member must have value greater than or equal to 1",
        ),
        (
            {"MaxWorkers": "3"},
            "at 'maxWorkers' failed to satisfy constraint: Member must be an integer",
        ),
        ({"Schedulers": 6}, "value less than or equal to 5"),
        (
            {"WebserverAccessMode": "OPEN"},
            "Member must satisfy enum value set: [PRIVATE_ONLY, PUBLIC_ONLY, PUBLIC_AND_PRIVATE]",
        ),
        (
            {"NetworkConfiguration": {"SubnetIds": ["nope", "subnet-2"]}},
            "'networkConfiguration.subnetIds.member'",
        ),
        ({"Tags": {"bad#key": "x"}}, "'tags.key'"),
        (
            {"Tags": {}},
            "'tags' failed to satisfy constraint: Member must have length between 1 and 50",
        ),
        ({"WeeklyMaintenanceWindowStart": "SUN:03:15"}, "'weeklyMaintenanceWindowStart'"),
        (
            {"LoggingConfiguration": {"TaskLogs": {"Enabled": True}}},
            "Value null at 'loggingConfiguration.taskLogs.logLevel'",
        ),
    ],
)
def test_the_model_names_the_member(change, needle):
    assert needle in _message("CreateEnvironment", {**VALID, **change})


def test_every_problem_is_counted():
    message = _message("CreateEnvironment", {**VALID, "MaxWorkers": 0, "MinWorkers": 0})
    assert message.startswith("2 validation errors detected: ")


def test_unknown_members_are_refused():
    with pytest.raises(AwsError, match="does not take SubnetIds"):
        model.unknown_members("CreateEnvironment", {**VALID, "SubnetIds": []})


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"AirflowVersion": "1.10.12"}, "Invalid AirflowVersion '1.10.12'"),
        ({"EnvironmentClass": "mw1.huge"}, "Invalid EnvironmentClass"),
        ({"MinWorkers": 4, "MaxWorkers": 2}, "MinWorkers must be less than or equal"),
        ({"EnvironmentClass": "mw1.micro", "Schedulers": 2}, "mw1.micro"),
        ({"Schedulers": 1}, "between 2 and 5"),
        ({"NetworkConfiguration": {"SubnetIds": ["subnet-1"]}}, "exactly 2 subnets"),
        ({"PluginsS3ObjectVersion": "v1"}, "PluginsS3ObjectVersion needs PluginsS3Path"),
    ],
)
def test_mwaa_rules(change, needle):
    with pytest.raises(AwsError, match=needle.replace("(", r"\(")):
        model.check_mwaa_rules({**VALID, **change}, creating=True)


def test_defaults_follow_the_environment_class():
    assert model.describe_sizes({"EnvironmentClass": "mw1.micro"}) == {
        "MinWorkers": 1, "MaxWorkers": 1, "MinWebservers": 1, "MaxWebservers": 1, "Schedulers": 1,
    }  # fmt: skip
    assert model.describe_sizes({}) == {
        "MinWorkers": 1, "MaxWorkers": 10, "MinWebservers": 2, "MaxWebservers": 2, "Schedulers": 2,
    }  # fmt: skip


def test_an_update_changes_only_security_groups_of_the_network():
    merged = model.merge_update(
        VALID,
        {
            "NetworkConfiguration": {"SecurityGroupIds": ["sg-9"]},
            "WorkerReplacementStrategy": "FORCED",
        },
    )
    assert merged["NetworkConfiguration"] == {
        "SubnetIds": ["subnet-1", "subnet-2"],
        "SecurityGroupIds": ["sg-9"],
    }
    assert "WorkerReplacementStrategy" not in merged


def test_logging_configuration_output_shape():
    out = model.logging_configuration(
        {"LoggingConfiguration": {"SchedulerLogs": {"Enabled": True, "LogLevel": "ERROR"}}},
        "blue",
        "eu-west-1",
        "000000000000",
    )
    assert set(out) == set(model.LOG_MODULES)
    assert out["SchedulerLogs"] == {
        "Enabled": True,
        "LogLevel": "ERROR",
        "CloudWatchLogGroupArn": "arn:aws:logs:eu-west-1:000000000000:log-group:airflow-blue-Scheduler",
    }
    assert out["TaskLogs"] == {"Enabled": False, "LogLevel": "INFO"}


def test_without_a_logging_configuration_task_logs_are_on_as_on_mwaa():
    out = model.logging_configuration({}, "blue", "eu-west-1", "000000000000")
    assert out["TaskLogs"] == {
        "Enabled": True,
        "LogLevel": "INFO",
        "CloudWatchLogGroupArn": "arn:aws:logs:eu-west-1:000000000000:log-group:airflow-blue-Task",
    }
    others = [m for m in model.LOG_MODULES if m != "TaskLogs"]
    assert len(others) == 4
    assert all(out[m] == {"Enabled": False, "LogLevel": "INFO"} for m in others)


def test_next_token_is_checked():
    with pytest.raises(AwsError, match="invalid NextToken"):
        _next_token("not a token")


# -- buckets -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("dags/a.py", "a.py"),
        ("dags/sub/b.py", "sub/b.py"),
        ("dags/", None),
        ("dags/sub/", None),
        ("dags/../evil.py", None),
        ("dags/./a.py", None),
        ("dags//a.py", "a.py"),
        ("dags/a//b.py", None),
    ],
)
def test_keys_never_leave_the_folder(key, expected):
    rel = _relative(key, "dags/")
    assert (None if rel is None else rel.as_posix()) == expected


def test_a_folder_bucket_syncs_adds_changes_and_removals(tmp_path):
    bucket_root = tmp_path / "bucket"
    (bucket_root / "dags" / "sub").mkdir(parents=True)
    (bucket_root / "dags" / "a.py").write_text("a = 1\n")
    (bucket_root / "dags" / "sub" / "b.py").write_text("b = 1\n")
    (bucket_root / "other.txt").write_text("not a DAG\n")
    bucket = FolderBucket("b", bucket_root)
    dest, seen = tmp_path / "dags", {}
    dest.mkdir()
    first = bucket.sync("dags", dest, seen)
    assert (first.changed, first.removed) == (2, 0)
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*.py")) == [
        "a.py",
        "sub/b.py",
    ]
    assert bucket.sync("/dags/", dest, seen).changed == 0  # nothing new
    time.sleep(0.01)
    (bucket_root / "dags" / "a.py").write_text("a = 2\n")
    (bucket_root / "dags" / "sub" / "b.py").unlink()
    again = bucket.sync("dags", dest, seen)
    assert (again.changed, again.removed) == (1, 1)
    assert (dest / "a.py").read_text() == "a = 2\n" and not (dest / "sub").exists()
    with pytest.raises(SourceError, match="no such object"):
        bucket.fetch("missing.txt", tmp_path / "x")


def test_buckets_pick_a_folder_or_s3(tmp_path):
    (tmp_path / "root" / "in-root").mkdir(parents=True)
    buckets = Buckets({"mapped": tmp_path}, tmp_path / "root")
    assert isinstance(buckets.get("arn:aws:s3:::mapped"), FolderBucket)
    assert isinstance(buckets.get("arn:aws:s3:::in-root"), FolderBucket)
    assert isinstance(buckets.get("arn:aws:s3:::elsewhere"), S3Bucket)


@pytest.fixture(scope="module")
def s3():
    from moto.server import ThreadedMotoServer

    from tests.e2e.conftest import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    client = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    yield client
    server.stop()


def test_an_s3_bucket_syncs_and_fetches_versions(s3, tmp_path):
    s3.create_bucket(Bucket="versioned")
    s3.put_bucket_versioning(Bucket="versioned", VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket="versioned", Key="requirements.txt", Body=b"one\n")["VersionId"]
    s3.put_object(Bucket="versioned", Key="requirements.txt", Body=b"two\n")
    s3.put_object(Bucket="versioned", Key="dags/a.py", Body=b"a = 1\n")
    s3.put_object(Bucket="versioned", Key="dags/../../escape.py", Body=b"x\n")
    bucket = S3Bucket("versioned", s3)
    bucket.fetch("requirements.txt", tmp_path / "old.txt", v1)
    bucket.fetch("requirements.txt", tmp_path / "new.txt")
    assert (tmp_path / "old.txt").read_text() == "one\n"
    assert (tmp_path / "new.txt").read_text() == "two\n"
    dest = tmp_path / "dags"
    dest.mkdir()
    assert bucket.sync("dags", dest, {}).changed == 1
    assert [p.name for p in tmp_path.rglob("escape.py")] == []
    with pytest.raises(SourceError, match="NoSuchKey"):
        bucket.fetch("nope.txt", tmp_path / "nope")
    with pytest.raises(SourceError, match="NoSuchBucket"):
        S3Bucket("no-such-bucket", s3).listing("dags/")


# -- the registry's bookkeeping ------------------------------------------------------------------


def _registry(tmp_path: Path) -> Registry:
    (tmp_path / "bucket" / "dags").mkdir(parents=True, exist_ok=True)
    return Registry(
        tmp_path / "region",
        "us-east-1",
        Buckets({"my-bucket": tmp_path / "bucket"}),
        lambda _: None,
    )


def _wait(registry: Registry, name: str) -> dict:
    deadline = time.monotonic() + 30
    while name in registry.busy and time.monotonic() < deadline:
        time.sleep(0.05)
    return registry.describe(name)


def test_a_missing_source_fails_the_create_and_is_kept_on_disk(tmp_path):
    registry = _registry(tmp_path)
    arn = registry.create(
        "blue", {**VALID, "RequirementsS3Path": "requirements.txt", "Tags": {"a": "b"}}
    )
    assert arn == "arn:aws:airflow:us-east-1:000000000000:environment/blue"
    env = _wait(registry, "blue")
    assert env["Status"] == "CREATE_FAILED"
    assert "requirements.txt: no such object" in env["LastUpdate"]["Error"]["ErrorMessage"]
    assert env["LastUpdate"]["Error"]["ErrorCode"] == "SourceUnavailable"
    assert env["Tags"] == {"a": "b"} and "WebserverUrl" not in env
    with pytest.raises(AwsError, match="already exists"):
        registry.create("blue", VALID)
    with pytest.raises(AwsError, match="CREATE_FAILED state"):
        registry.update("blue", {"MaxWorkers": 2})
    with pytest.raises(AwsError, match="is CREATE_FAILED"):
        registry.serving_port("blue")
    # a new registry (the region restarted) reads the same environments
    again = _registry(tmp_path)
    assert again.names() == ["blue"] and again.describe("blue")["Status"] == "CREATE_FAILED"
    assert (
        oct((tmp_path / "region" / "envs" / "blue" / "environment.json").stat().st_mode)[-3:]
        == "600"
    )
    again.tag(arn, {"c": "d"})
    again.untag(arn, ["a"])
    assert again.describe("blue")["Tags"] == {"c": "d"}
    with pytest.raises(AwsError) as caught:
        again.tag("arn:aws:airflow:us-east-1:000000000000:environment/nope", {"x": "y"})
    assert caught.value.code == "ResourceNotFoundException"
    again.delete("blue")
    deadline = time.monotonic() + 30
    while again.names() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert again.names() == [] and not (tmp_path / "region" / "envs" / "blue").exists()


def test_blocked_configuration_options_are_refused_at_create(tmp_path):
    registry = _registry(tmp_path)
    with pytest.raises(AwsError, match=r"core\.executor"):
        registry.create("blue", {**VALID, "AirflowConfigurationOptions": {"core.executor": "x"}})
    assert registry.names() == []


def test_a_child_that_did_not_come_up_reports_the_component_not_just_the_last_lines(tmp_path):
    """CREATE_FAILED's reason is the server's own error: the component that did not come
    up, then its log - not the last dozen lines, which would cut the name off."""
    from mwaa_cli.local.region.children import Child, Launch

    log = tmp_path / "serve.log"
    quoted = "\n".join(f"    scheduler line {i}" for i in range(15))
    log.write_text(
        "\n--- 2026-01-01 00:00:00 starting\nold start\n"
        "\n--- 2026-01-01 00:01:00 starting\n[mwaa local] waiting for scheduler … 0 s\n"
        "mwaa: error: Airflow's scheduler did not come up within 600 s (no heartbeat yet); "
        f"the last lines of /x/logs/scheduler.log:\n{quoted}\n(a slow machine …)\n"
    )
    child = Child(Launch("e", tmp_path, tmp_path, 1, "us-east-1", "3.3.1"), log)
    reason = child.tail()
    assert reason.startswith("mwaa: error: Airflow's scheduler did not come up")
    assert "scheduler line 14" in reason and "old start" not in reason
    log.write_text("\n--- 2026-01-01 00:00:00 starting\n" + "\n".join(map(str, range(30))))
    assert child.tail().splitlines() == [str(i) for i in range(18, 30)]


def test_a_folder_bucket_is_never_left_whatever_the_dag_path(tmp_path):
    """DagS3Path is an S3 key prefix, not a path: '..' in it (or a symlink in the folder)
    must not list, copy or name anything outside the bucket's folder."""
    bucket_root = tmp_path / "buckets" / "b"
    (bucket_root / "dags").mkdir(parents=True)
    (bucket_root / "dags" / "ok.py").write_text("x = 1\n")
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "id_rsa").write_text("PRIVATE\n")
    (bucket_root / "dags" / "leak.py").symlink_to(outside / "id_rsa")
    (bucket_root / "dags" / "out").symlink_to(outside)
    bucket = FolderBucket("b", bucket_root)
    for prefix in ("../../secret/", "dags/../../../secret/", "./dags/", "dags/./"):
        assert bucket.listing(prefix) == {}, prefix
    assert set(bucket.listing("dags/")) == {"dags/ok.py"}
    dest = tmp_path / "dest"
    dest.mkdir()
    result = bucket.sync("../../secret", dest, {})
    assert result.changed == 0 and not any(dest.iterdir())
    assert bucket.sync("dags", dest, {}).changed == 1
    assert sorted(p.name for p in dest.rglob("*")) == ["ok.py"]
    for key in ("../secret/id_rsa", "dags/leak.py", "dags/out/id_rsa"):
        with pytest.raises(SourceError) as caught:
            bucket.fetch(key, tmp_path / "x")
        assert str(outside) not in str(caught.value)


def test_a_bucket_that_never_answers_holds_up_no_other_environment(tmp_path, monkeypatch):
    """One environment's DAG sync hanging on an S3 endpoint that accepts and never answers
    must not delay another environment's crash restart (the watcher did both in one loop:
    3 min 46 s of a dead environment reported AVAILABLE), nor report it AVAILABLE."""
    import socket
    import subprocess
    import threading

    from mwaa_cli.local.region.children import Child, Launch
    from mwaa_cli.local.region.registry import Record, Registry

    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(16)  # accepts, never reads or answers
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{hole.getsockname()[1]}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    said: list[str] = []
    registry = Registry(tmp_path, "us-east-1", Buckets(), said.append, dag_sync_interval=0.2)
    for name, bucket in (("slow", "slow-bucket"), ("ok", "ok-bucket")):
        registry.records[name] = Record(
            name,
            {"SourceBucketArn": f"arn:aws:s3:::{bucket}", "DagS3Path": "dags"},
            "AVAILABLE",
            0.0,
            0,
        )
        (tmp_path / "envs" / name).mkdir(parents=True)
    (tmp_path / "buckets" / "ok-bucket" / "dags").mkdir(parents=True)
    registry.buckets.folders["ok-bucket"] = tmp_path / "buckets" / "ok-bucket"
    server = subprocess.Popen(["sleep", "600"])  # the "ok" environment's server
    child = Child(Launch("ok", tmp_path, tmp_path, 1, "us-east-1", "3.3.1"), tmp_path / "log")
    child.proc = server
    registry.children["ok"] = child
    restarted = threading.Event()
    monkeypatch.setattr(registry, "_restore", lambda record: restarted.set())
    watcher = threading.Thread(target=registry.watch, daemon=True)
    watcher.start()
    try:
        deadline = time.monotonic() + 10
        while "slow" not in registry.syncing:  # the slow bucket's sync has started and hangs
            assert time.monotonic() < deadline, said
            time.sleep(0.05)
        server.kill()
        server.wait()
        assert registry.status(registry.records["ok"]) != "AVAILABLE"  # dead: not AVAILABLE
        killed = time.monotonic()
        assert restarted.wait(10), said
        assert time.monotonic() - killed < 5  # not behind the hanging sync
        assert "slow" in registry.syncing  # which is still hanging on its own
    finally:
        registry.stopping.set()
        hole.close()
        watcher.join(5)


def test_asking_whether_a_home_is_locked_never_creates_its_lock_file(tmp_path):
    """Status polling during a delete used to re-create serve.lock in the deleted home."""
    import fcntl

    from mwaa_cli.local.region.children import is_locked
    from mwaa_cli.local_envs import find

    home = tmp_path / "home"
    home.mkdir()
    assert not is_locked(home) and not (home / "serve.lock").exists()
    assert find("nope") is None
    with open(home / "serve.lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert is_locked(home)  # a read-only look still sees the holder's lock
    assert not is_locked(home)
