"""What payments announce to orders (ARCHITECTURE.md: lower apps send signals, higher apps listen).

Each is sent once per state change, after the commit that made it, with ``payment_id``,
``order_id`` and ``state``. Receivers must be quick and idempotent (queue a task).

- ``payment_pending``: still pending or waiting for the buyer (a provider event arrived): orders
  extends the stock reservation up to its ceiling.
- ``payment_secured``: authorized or captured (cash on delivery: accepted): the order is confirmed.
- ``payment_captured``: money was taken (the ledger records the sale).
- ``payment_failed`` / ``payment_cancelled``: the attempt is over; the buyer may retry.
- ``payment_refunded``: money went back (``refund_id`` too).
"""

from __future__ import annotations

from django.dispatch import Signal

payment_pending = Signal()
payment_secured = Signal()
payment_captured = Signal()
payment_failed = Signal()
payment_cancelled = Signal()
payment_refunded = Signal()
