from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .markets import clear_market_cache
from .models import Market


@receiver([post_save, post_delete], sender=Market)
def market_changed(**kwargs: Any) -> None:
    clear_market_cache()
