import pytest


@pytest.fixture(autouse=True)
def _hermetic_state(tmp_path, monkeypatch):
    """Every test gets its own mwaa-cli state folder (token cache, local homes)."""
    monkeypatch.setenv("MWAA_CLI_HOME", str(tmp_path / "mwaa-cli-home"))
