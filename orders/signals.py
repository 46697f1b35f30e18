"""What orders announces (receivers must be quick and idempotent: queue a task).

``order_cancelled``: sent once per order, after the commit that cancelled it (by the buyer before
shipping, by an operator, or because a cash-on-delivery parcel was refused), with ``order_id``,
``order_number`` and ``reason`` ("buyer", "operator", "refused"). The buyer's e-mail listens.
"""

from __future__ import annotations

from django.dispatch import Signal

order_cancelled = Signal()
