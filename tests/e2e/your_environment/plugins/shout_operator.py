"""A custom operator, as MWAA users keep them in plugins.zip."""

from __future__ import annotations

try:
    from airflow.sdk import BaseOperator
except ImportError:
    from airflow.models import BaseOperator


class ShoutOperator(BaseOperator):
    template_fields = ("words",)

    def __init__(self, words: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.words = words

    def execute(self, context) -> str:
        return self.words.upper()
