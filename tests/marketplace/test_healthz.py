"""/healthz: JSON status of the database, cache and broker; 200 when all answer, 503 otherwise."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import OperationalError
from django.test import Client

from marketplace import views

pytestmark = pytest.mark.django_db

HEALTHZ = "/healthz"


class _BrokenDatabase:
    def cursor(self) -> Any:
        raise OperationalError("connection refused")


class _BrokenCache:
    def set(self, *args: Any, **kwargs: Any) -> None:
        raise ConnectionError("cache server gone")

    def get(self, *args: Any, **kwargs: Any) -> None:
        raise ConnectionError("cache server gone")


class _ForgetfulCache:
    """Answers, but does not keep what it is given."""

    def set(self, *args: Any, **kwargs: Any) -> None:
        pass

    def get(self, *args: Any, **kwargs: Any) -> None:
        return None


def _broker_down() -> bool:
    raise ConnectionRefusedError("broker refused")


def test_all_up_answers_200(client: Client) -> None:
    # when
    response = client.get(HEALTHZ)

    # then
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok", "checks": {"database": "up", "cache": "up", "broker": "up"}}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.parametrize(
    ("target", "replacement", "down"),
    [
        ("connection", _BrokenDatabase(), "database"),
        ("cache", _BrokenCache(), "cache"),
        ("cache", _ForgetfulCache(), "cache"),
        ("_check_broker", _broker_down, "broker"),
    ],
    ids=["database-refuses", "cache-refuses", "cache-loses-data", "broker-refuses"],
)
def test_a_failing_check_answers_503_and_names_it(
    client: Client, monkeypatch: pytest.MonkeyPatch, target: str, replacement: object, down: str
) -> None:
    # given
    monkeypatch.setattr(views, target, replacement)

    # when
    response = client.get(HEALTHZ)

    # then: only the failing check is down
    assert response.status_code == 503
    expected = {name: "up" for name in ("database", "cache", "broker")}
    expected[down] = "down"
    assert response.json() == {"status": "down", "checks": expected}


def test_healthz_only_answers_reads(client: Client) -> None:
    # when / then
    assert client.post(HEALTHZ).status_code == 405
