"""Receivers of the logistics app (registered in ``LogisticsConfig.ready``).

The customs rules of a destination are cached (``logistics.customs.customs_rules``); any change to
its market, rule, duty rates or tiers clears that destination's entry.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from marketplace.models import Market

from .customs import clear_customs_cache
from .models import DutyRate, DutyRateTier, MarketCustomsRule


@receiver([post_save, post_delete], sender=Market)
def market_changed(instance: Market, **kwargs: Any) -> None:
    clear_customs_cache(str(instance.country))


@receiver([post_save, post_delete], sender=MarketCustomsRule)
def customs_rule_changed(instance: MarketCustomsRule, **kwargs: Any) -> None:
    country = Market.objects.filter(pk=instance.market_id).values_list("country", flat=True).first()
    if country:
        clear_customs_cache(str(country))


@receiver([post_save, post_delete], sender=DutyRate)
def duty_rate_changed(instance: DutyRate, **kwargs: Any) -> None:
    clear_customs_cache(str(instance.country))


@receiver([post_save, post_delete], sender=DutyRateTier)
def duty_tier_changed(instance: DutyRateTier, **kwargs: Any) -> None:
    country = DutyRate.objects.filter(pk=instance.duty_rate_id).values_list("country", flat=True).first()
    if country:
        clear_customs_cache(str(country))
