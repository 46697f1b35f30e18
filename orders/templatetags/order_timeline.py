"""``{% order_timeline order as entries %}``: the order page's status timeline (one query), so the
page shows it without its view having to know about it."""

from __future__ import annotations

from django import template

from ..fulfilment import TimelineEntry
from ..fulfilment import order_timeline as timeline_for
from ..models import Order

register = template.Library()


@register.simple_tag
def order_timeline(order: Order) -> list[TimelineEntry]:
    return timeline_for(order)
