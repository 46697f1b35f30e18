"""Schema operations the catalog's migrations share."""

from __future__ import annotations

from typing import Any

from django.db import migrations


class PostgresOnly(migrations.operations.base.Operation):
    """Runs the wrapped schema operation on PostgreSQL only and leaves the project state alone.

    For indexes SQLite cannot build (GIN, ``NULLS LAST``): the models do not declare them, so
    ``makemigrations`` stays quiet and the embedded default still migrates.
    """

    reduces_to_sql = True
    reversible = True

    def __init__(self, operation: migrations.operations.base.Operation) -> None:
        self.operation = operation

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (self.__class__.__name__, [self.operation], {})

    def state_forwards(self, app_label: str, state: Any) -> None:
        pass

    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            self.operation.database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            self.operation.database_backwards(app_label, schema_editor, from_state, to_state)

    def describe(self) -> str:
        return f"On PostgreSQL only: {self.operation.describe()}"
