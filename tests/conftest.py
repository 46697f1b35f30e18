"""Shared fixtures. Service-backed tests skip without their service, unless REQUIRE_SERVICES=1
(CI), where a missing PostgreSQL, Redis or Chromium is a failure."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.utils import translation

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def _service_available(marker: str) -> tuple[bool, str]:
    if marker == "postgres":
        ok = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
        return ok, "needs PostgreSQL: set DATABASE_URL=postgres://..."
    if marker == "redis":
        return bool(settings.REDIS_URL), "needs Redis: set REDIS_URL=redis://..."
    if marker == "browser":
        return Path(CHROMIUM).exists() and shutil.which(CHROMIUM) is not None, f"needs Chromium at {CHROMIUM}"
    return True, ""


def pytest_configure(config: pytest.Config) -> None:
    if REQUIRE_SERVICES:
        missing = [reason for m in ("postgres", "redis", "browser") for ok, reason in [_service_available(m)] if not ok]
        if missing:
            raise pytest.UsageError("REQUIRE_SERVICES=1 but: " + "; ".join(missing))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        for marker in ("postgres", "redis", "browser"):
            if item.get_closest_marker(marker):
                ok, reason = _service_available(marker)
                if not ok:
                    item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(autouse=True)
def _isolated(settings: object, tmp_path: Path) -> Iterator[None]:
    """Each test: eager Celery, plain static files, a private media folder, an empty cache."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast, tests only
    settings.MEDIA_ROOT = tmp_path / "media"
    from marketplace.celery import app

    app.conf.task_always_eager = True
    cache.clear()
    translation.activate(settings.LANGUAGE_CODE)  # no test inherits another's active language
    yield
    cache.clear()
    translation.activate(settings.LANGUAGE_CODE)
