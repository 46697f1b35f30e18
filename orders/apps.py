from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrdersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "orders"
    verbose_name = _("Orders")

    def ready(self) -> None:
        from . import (
            cancellation,  # noqa: F401  (refused cash-on-delivery parcels, refund restocking)
            receivers,  # noqa: F401  (connects the sign-in cart merge)
            receivers_fulfilment,  # noqa: F401  (parcels move orders; timeline; buyer e-mails)
        )
