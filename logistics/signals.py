"""What logistics announces to the apps above it (ARCHITECTURE.md: lower apps send signals).

``shipment_delivered`` is sent once per shipment, after the commit that first records its
delivery, with ``shipment_id``, ``order_number`` (may be '') and ``delivered_at``. Receivers
(orders: complete the order, notify the buyer) must be quick and idempotent: queue a task.

``shipment_packed`` and ``shipment_shipped`` likewise, once per shipment, after the commit that
first marks it packed (``packed_at``) or handed to the carrier (``shipped_at``), with
``shipment_id`` and ``order_number``.

``shipment_refused``: once per shipment, after the commit that records it returned to the sender
without ever being delivered (refused at the door, or undeliverable), with ``shipment_id``,
``order_number`` and ``returned_at``. Payments cancels a cash-on-delivery payment; orders cancels
the order and puts the units back in stock.
"""

from __future__ import annotations

from django.dispatch import Signal

shipment_delivered = Signal()
shipment_packed = Signal()
shipment_shipped = Signal()
shipment_refused = Signal()
