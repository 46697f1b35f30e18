from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from logistics.tracking import poll_tracking


class Command(BaseCommand):
    help = "Run one tracking poll now, in this process: ask the carriers about every shipment due."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--batch-size", type=int, default=None, help="Shipments per carrier request batch.")

    def handle(self, *args: Any, **options: Any) -> None:
        result = poll_tracking(batch_size=options["batch_size"])
        self.stdout.write(
            f"shipments: {result.shipments}; new events: {result.events}; batches: {result.batches}; "
            f"failed: {result.failed} (retried later); skipped (carrier not configured): {result.skipped}"
        )
        for error in result.errors:
            self.stderr.write(f"carrier error: {error}")
