"""An Airflow plugin with a macro (macros.mwaa_test_plugin.exclaim)."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin


def exclaim(word: str) -> str:
    return f"{word}!"


class MwaaTestPlugin(AirflowPlugin):
    name = "mwaa_test_plugin"
    macros = [exclaim]
