"""What the manager's jobs share for one name set: its settings and clock, the ledger and its
one writer, the order limits, certbot, and the lineage chosen to serve (repairs.py may adopt a
`-000N` sibling, so it is chosen again during a pass)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from wapang.edge.certbot import Certbot
from wapang.edge.certificates import CertInfo
from wapang.edge.ledger import Ledger, LedgerEntry, Limits, backoff_until, name_set_key, utcnow
from wapang.edge.lineage import Lineage
from wapang.edge.recorder import Recorder
from wapang.edge.settings import EdgeSettings


class Context:
    def __init__(self, settings: EdgeSettings, clock: Callable[[], datetime] = utcnow) -> None:
        self.settings = settings
        self._certbot: Certbot | None = None
        self.clock = clock
        self.ledger = Ledger(*settings.ledger_paths)
        self.names_key = name_set_key(settings.domains)
        self.lineage = Lineage(settings.lineage, settings.certbot_config_dir)
        self.recorder = Recorder(self.ledger, self.names_key, settings, clock)
        self.limits = Limits(
            max_orders=settings.budget_max_orders,
            window=timedelta(hours=settings.budget_window_hours),
            backoff_base=timedelta(seconds=settings.backoff_base_seconds),
            backoff_max=timedelta(seconds=settings.backoff_max_seconds),
        )

    @property
    def certbot(self) -> Certbot:
        if self._certbot is None:  # resolved lazily: `status` must work without certbot
            self._certbot = Certbot(self.settings)
        return self._certbot

    def entries(self) -> list[LedgerEntry]:
        return self.ledger.read().entries

    def current_cert(self) -> CertInfo | None:
        return self.lineage.cert()

    def backoff(self) -> datetime | None:
        """When the backoff after this name set's failures in a row ends (None: no failures)."""
        limits = self.limits
        return backoff_until(
            self.entries(), self.names_key, limits.backoff_base, limits.backoff_max
        )
