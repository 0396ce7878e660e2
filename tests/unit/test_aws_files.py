"""The user's AWS files are sacred: the profile writer changes only its own sections, keeps
every other byte, writes atomically under a lock, follows symlinks and refuses what it
cannot edit safely - checked on messy real-world files read back by botocore itself."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import botocore.configloader
import botocore.session
import pytest

from mwaa_cli.aws_files import NotEditable, sections, split_lines
from mwaa_cli.local.auth import AccessKey
from mwaa_cli.local.client_setup import write_aws_profile
from mwaa_cli.settings import is_local_profile

KEY = AccessKey("AKIALOCALTEST0000000", "local-secret")

# a config file as people really have them: comments everywhere, an inline comment on a
# header, [default], sso-session, a nested s3 block, services, odd spacing, no final newline
CONFIG = """\
# ~/.aws/config - managed by hand
[default]
region = eu-west-1\t
output = json
; old style comment

[profile prod] # main account
sso_session = corp
sso_account_id = 111122223333
sso_role_name = Admin
region = eu-west-1
s3 =
  max_concurrent_requests = 20
  addressing_style = path

# the tool's own profile, with a comment someone added on its header
[profile mwaa-local] # do not edit
# mwaa-cli local environment 'local' (written by mwaa local serve)
region = us-east-1
services = mwaa-local-services

# the corporate SSO session, keep!
[sso-session corp]
sso_start_url = https://corp.awsapps.example/start
sso_region = eu-west-1
sso_registration_scopes = sso:account:access

[services mwaa-local-services]
mwaa =
  endpoint_url = https://127.0.0.1:1

[profile   dev]
region=us-west-2
role_arn = arn:aws:iam::111122223333:role/dev
source_profile = prod"""

CREDENTIALS = """\
[mwaa-local]
aws_access_key_id = AKIAOLDLOCALKEY00000
aws_secret_access_key = old

[prod] # main account
aws_access_key_id = AKIAREALPRODKEY00000
aws_secret_access_key = real-prod-secret
aws_session_token = tok

[default]
aws_access_key_id = AKIADEFAULTKEY000000
aws_secret_access_key = default-secret
"""


@pytest.fixture
def aws(tmp_path, monkeypatch):
    config, creds = tmp_path / "config", tmp_path / "credentials"
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    for var in ("AWS_PROFILE", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_CA_BUNDLE"):
        monkeypatch.delenv(var, raising=False)
    return config, creds


def botocore_view(config: Path, creds: Path) -> tuple[dict, dict]:
    """What botocore reads from the two files (ConfigParseError on a broken file)."""
    return (
        botocore.configloader.load_config(str(config)),
        botocore.configloader.raw_config_parse(str(creds)),
    )


def others(text: str, ours: set[str]) -> list[str]:
    """The lines of every section but ours, and what lies outside sections."""
    lines = split_lines(text)
    mine = [s for s in sections(lines) if s.header.split("#")[0].strip() in ours]
    drop = {i for s in mine for i in range(s.start, s.end)}
    return [line for i, line in enumerate(lines) if i not in drop]


OURS = {"profile mwaa-local", "services mwaa-local-services", "mwaa-local"}


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["LF", "CRLF"])
def test_only_our_sections_change_and_every_other_byte_stays(aws, newline):
    config, creds = aws
    config.write_bytes(CONFIG.replace("\n", newline).encode())
    creds.write_bytes(CREDENTIALS.replace("\n", newline).encode())
    before_config, before_creds = botocore_view(config, creds)
    write_aws_profile("mwaa-local", "https://127.0.0.1:8780", "us-east-1", KEY, None)
    after_config, after_creds = botocore_view(config, creds)  # still parses: no duplicates
    new_config, new_creds = config.read_bytes().decode(), creds.read_bytes().decode()
    # byte for byte outside our sections, line endings included
    assert others(new_config, OURS) == others(CONFIG.replace("\n", newline), OURS)
    assert others(new_creds, OURS) == others(CREDENTIALS.replace("\n", newline), OURS)
    if newline == "\r\n":
        assert "\n" not in new_config.replace("\r\n", "")
    # every other profile as botocore saw it before
    for name in ("default", "prod", "dev"):
        assert after_config["profiles"][name] == before_config["profiles"][name]
    assert after_config["sso_sessions"] == before_config["sso_sessions"]
    assert after_config["profiles"]["prod"]["s3"] == {
        "max_concurrent_requests": "20",
        "addressing_style": "path",
    }
    assert after_creds["prod"] == before_creds["prod"]  # the key behind "[prod] # main account"
    assert after_creds["prod"]["aws_secret_access_key"] == "real-prod-secret"
    assert after_creds["default"] == before_creds["default"]
    # ours: replaced in place, once
    assert after_creds["mwaa-local"]["aws_access_key_id"] == KEY.access_key_id
    assert new_config.count("mwaa-local]") == 1 and new_creds.count("[mwaa-local]") == 1
    assert new_config.index("[profile mwaa-local]") < new_config.index("[sso-session corp]")
    session = botocore.session.Session(profile="mwaa-local")
    assert session.create_client("mwaa").meta.endpoint_url == "https://127.0.0.1:8780"
    assert session.get_credentials().secret_key == KEY.secret_access_key
    # the comment that introduces the next section stays with it
    assert "# the corporate SSO session, keep!" + newline + "[sso-session corp]" in new_config
    assert is_local_profile("mwaa-local") and not is_local_profile("prod")


def test_writing_again_changes_nothing(aws):
    config, creds = aws
    config.write_text(CONFIG)
    creds.write_text(CREDENTIALS)
    write_aws_profile("mwaa-local", "https://127.0.0.1:8780", "us-east-1", KEY, None)
    first = config.read_bytes(), creds.read_bytes()
    inode = config.stat().st_ino
    write_aws_profile("mwaa-local", "https://127.0.0.1:8780", "us-east-1", KEY, None)
    assert (config.read_bytes(), creds.read_bytes()) == first
    assert config.stat().st_ino == inode  # not even rewritten


def test_a_new_profile_is_appended_after_everything(aws):
    config, creds = aws
    config.write_text(CONFIG)  # no final newline
    write_aws_profile("mwaa-local-b", "https://127.0.0.1:9", "us-east-2", KEY, None)
    text = config.read_text()
    assert text.startswith(CONFIG + "\n\n[profile mwaa-local-b]\n")
    assert botocore_view(config, creds)[0]["profiles"]["mwaa-local-b"]["region"] == "us-east-2"
    assert creds.stat().st_mode & 0o777 == 0o600  # a new credentials file is private


def test_symlinks_are_followed_and_kept(aws, tmp_path):
    config, _ = aws
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    (dotfiles / "config").write_text("[default]\nregion = eu-west-1\n")
    (dotfiles / "config").chmod(0o644)
    config.symlink_to(dotfiles / "config")
    write_aws_profile("mwaa-local", "https://127.0.0.1:8780", "us-east-1", KEY, None)
    assert config.is_symlink() and "[profile mwaa-local]" in (dotfiles / "config").read_text()
    assert (dotfiles / "config").stat().st_mode & 0o777 == 0o644  # its mode kept


def test_read_only_and_broken_files_are_refused_and_left_alone(aws):
    config, creds = aws
    config.write_text(CONFIG)
    creds.write_text(CREDENTIALS)
    config.chmod(0o444)
    with pytest.raises(NotEditable, match="read-only"):
        write_aws_profile("mwaa-local", "https://127.0.0.1:8780", "us-east-1", KEY, None)
    assert config.read_text() == CONFIG and creds.read_text() == CREDENTIALS  # neither touched
    config.chmod(0o600)
    creds.write_text(CREDENTIALS + "[prod]\nregion = x\n")  # already broken: a duplicate
    broken = creds.read_text()
    with pytest.raises(NotEditable, match="cannot be read as the AWS CLI and boto3 read it"):
        write_aws_profile("mwaa-local", "https://127.0.0.1:8780", "us-east-1", KEY, None)
    assert config.read_text() == CONFIG and creds.read_text() == broken


def test_a_refused_file_leaves_serve_without_a_profile_not_stopped(aws, tmp_path):
    """`mwaa local serve` says why and exports the endpoint and keys in env.sh instead."""
    from mwaa_cli.aws_files import check_editable

    config, _ = aws
    config.mkdir()  # not a regular file
    with pytest.raises(NotEditable, match="not a regular file"):
        check_editable(config)


WRITER = """
import sys
from mwaa_cli.local.auth import AccessKey
from mwaa_cli.local.client_setup import write_aws_profile
for i in sys.argv[1:]:
    write_aws_profile(f"p{i}", f"https://127.0.0.1:{9000 + int(i)}", "us-east-1",
                      AccessKey(f"AKIAPARALLEL{int(i):08d}", f"s{i}"), None, f"e{i}")
"""


def test_fifty_concurrent_writers_lose_nothing(aws):
    config, creds = aws
    config.write_text(CONFIG)
    creds.write_text(CREDENTIALS)
    env = dict(os.environ)
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(i)], env=env) for i in range(50)]
    assert [w.wait(120) for w in writers] == [0] * 50
    profiles, keys = botocore_view(config, creds)
    for i in range(50):
        assert profiles["profiles"][f"p{i}"]["region"] == "us-east-1"
        assert keys[f"p{i}"]["aws_secret_access_key"] == f"s{i}"
    assert profiles["profiles"]["prod"]["sso_account_id"] == "111122223333"
    assert keys["prod"]["aws_secret_access_key"] == "real-prod-secret"
    assert not list(config.parent.glob(".config.*")) and not list(config.parent.glob(".cred*"))
