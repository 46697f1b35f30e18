"""What logistics announces to the apps above it (ARCHITECTURE.md: lower apps send signals).

``shipment_delivered`` is sent once per shipment, after the commit that first records its
delivery, with ``shipment_id``, ``order_number`` (may be '') and ``delivered_at``. Receivers
(orders: complete the order, notify the buyer) must be quick and idempotent: queue a task.
"""

from __future__ import annotations

from django.dispatch import Signal

shipment_delivered = Signal()
