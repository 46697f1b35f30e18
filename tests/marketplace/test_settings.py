"""Production settings mode, checked the way an operator meets it: ``manage.py check --deploy`` in a
fresh process with only the environment set (all runs start at once, to keep the suite fast)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from dataclasses import dataclass

import pytest
from django.conf import settings

DEPLOY_CHECK = ["manage.py", "check", "--deploy", "--fail-level", "WARNING"]
# Everything that could steer the settings, so each run sees only what its scenario sets.
_CLEARED = (
    "DATABASE_URL",
    "REDIS_URL",
    "REDIS_CACHE_URL",
    "PRODUCTION",
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "CELERY_TASK_ALWAYS_EAGER",
    "DJANGO_SETTINGS_MODULE",
    "DJANGO_ALLOW_ASYNC_UNSAFE",  # the browser tests set it for Playwright; a deployment never has it
)
_STRONG_KEY = secrets.token_urlsafe(50)

SCENARIOS: dict[str, dict[str, str]] = {
    "production": {"PRODUCTION": "1", "SECRET_KEY": _STRONG_KEY, "ALLOWED_HOSTS": "shop.example.com"},
    # SECRET_KEY set but empty: also hides any value a local .env file would supply
    "no-secret-key": {"PRODUCTION": "1", "SECRET_KEY": "", "ALLOWED_HOSTS": "shop.example.com"},
    "debug-on": {"PRODUCTION": "1", "DEBUG": "1", "SECRET_KEY": _STRONG_KEY, "ALLOWED_HOSTS": "shop.example.com"},
    "weak-secret-key": {"PRODUCTION": "1", "SECRET_KEY": "short", "ALLOWED_HOSTS": "shop.example.com"},
}


@dataclass(frozen=True)
class Run:
    returncode: int
    output: str


@pytest.fixture(scope="module")
def runs() -> dict[str, Run]:
    base = {key: value for key, value in os.environ.items() if key not in _CLEARED}
    started = {
        name: subprocess.Popen(
            [sys.executable, *DEPLOY_CHECK],
            cwd=settings.BASE_DIR,
            env={**base, **overrides},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for name, overrides in SCENARIOS.items()
    }
    finished = {}
    for name, process in started.items():
        output, _ = process.communicate(timeout=120)
        finished[name] = Run(process.returncode, output)
    return finished


def test_production_mode_passes_the_deploy_checks(runs: dict[str, Run]) -> None:
    # given / when: the run started by the fixture
    run = runs["production"]

    # then
    assert run.returncode == 0, run.output
    assert "System check identified no issues" in run.output


def test_production_mode_refuses_to_start_without_a_secret_key(runs: dict[str, Run]) -> None:
    # given / when: the run started by the fixture
    run = runs["no-secret-key"]

    # then
    assert run.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY must be set" in run.output


def test_production_mode_refuses_to_start_with_debug_on(runs: dict[str, Run]) -> None:
    # given / when: the run started by the fixture
    run = runs["debug-on"]

    # then
    assert run.returncode != 0
    assert "ImproperlyConfigured: DEBUG must be off when PRODUCTION=1." in run.output


def test_the_deploy_checks_are_live_in_production_mode(runs: dict[str, Run]) -> None:
    # given / when: a weak key, which is only a warning
    run = runs["weak-secret-key"]

    # then: failing on warnings shows the checks really run
    assert run.returncode != 0
    assert "security.W009" in run.output
