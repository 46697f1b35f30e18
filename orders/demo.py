"""Demo orders and feedback threads for ``seed_demo`` (after the marketplace, catalog and logistics demo)."""

from __future__ import annotations

from typing import IO

from . import demo_orders, demo_threads


def seed(stdout: IO[str] | None = None) -> None:
    demo_orders.seed(stdout)
    demo_threads.seed(stdout)
