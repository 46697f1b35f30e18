from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from marketplace.fx.providers import FxProviderError
from marketplace.fx.services import current_rates, refresh_fx_rates


class Command(BaseCommand):
    help = "Refresh FX rates now from the providers in FX_PROVIDERS."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            refresh = refresh_fx_rates()
        except FxProviderError as exc:
            raise CommandError(f"FX refresh failed, previous rates kept: {exc}") from exc
        table = current_rates()
        as_of = table.as_of()
        self.stdout.write(
            f"provider: {', '.join(refresh.providers)}; rates: {len(table.rates)}; "
            f"as of: {as_of.isoformat() if as_of else '-'}; checked at: {refresh.checked_at.isoformat()}"
        )
