"""Domain errors carry a translatable message and a stable ``code`` (STYLE.md, 5)."""

from __future__ import annotations


class DomainError(Exception):
    code = "error"

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message
