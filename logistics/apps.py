from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LogisticsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "logistics"
    verbose_name = _("Logistics")

    def ready(self) -> None:
        from . import (
            receivers,  # noqa: F401  (customs rules cache follows rate, rule and market changes)
            storefront,  # noqa: F401  (its shipping configuration cache follows warehouse, zone, rate changes)
        )
