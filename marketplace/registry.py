"""Pluggable backends named by dotted paths in settings (STYLE.md, 13).

The registry reads the setting on every call, so overriding it in a test just works, and keeps
one instance per dotted path. A setting may be a list (ordered chain: FX providers) or a dict
(code -> path: payment methods, carriers).
"""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

from django.conf import settings
from django.utils.module_loading import import_string

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, setting_name: str) -> None:
        self.setting_name = setting_name
        self._instances: dict[str, T] = {}
        self._lock = threading.Lock()

    def _paths(self) -> dict[str, str]:
        value = getattr(settings, self.setting_name)
        if isinstance(value, dict):
            return dict(value)
        return {path: path for path in value}

    def _instance(self, path: str) -> T:
        with self._lock:
            if path not in self._instances:
                self._instances[path] = import_string(path)()
            return self._instances[path]

    def all(self) -> list[T]:
        """Every configured backend, in the order of the setting."""
        return [self._instance(path) for path in self._paths().values()]

    def get(self, code: str) -> T:
        """The backend configured under ``code`` (a dict key or a class's ``code``)."""
        paths = self._paths()
        if code in paths:
            return self._instance(paths[code])
        for backend in self.all():
            if getattr(backend, "code", None) == code:
                return backend
        raise KeyError(f"{code!r} is not configured in settings.{self.setting_name}")

    def codes(self) -> list[str]:
        return [getattr(backend, "code", key) for key, backend in zip(self._paths(), self.all(), strict=True)]
