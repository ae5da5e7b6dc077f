"""One decision pass of the certificate manager (`wapang certs ensure`; the loop repeats it).

Manager only runs the steps in order; each is one module's job:
1. nginx can always start: the directories are checked (preflight.py) and a placeholder
   certificate put behind the `current` link (serving.py `bootstrap`).
2. Repairs before any decision (repairs.py), so no loss re-orders or resets the budget: the
   ledger's copies are merged and completed from the certificates archive/ still holds, broken
   live/ links are relinked, a `-000N` sibling certbot made is adopted, and a renewal conf
   that is not webroot is rewritten and the renewal path proved.
3. A valid certificate for exactly DOMAINS with more than a third of its lifetime left (or
   before the CA's renewal window, ARI), from production: nothing to order (decision.py);
   nginx is made to serve it (serving.py `sync_nginx`).
4. Otherwise Retry-After, backoff and the budget are checked from the ledger (`check_gates`
   in ledger.py), so a restart loop orders nothing new; `--force` skips them, loudly.
5. The order (ordering.py): the preflight proves DNS, the webroot and CAA for each name
   before every order, so a failure costs nothing at the CA; a name set's first production
   order follows a staging dry run that passed; inside the CA's renewal window the order
   carries `replaces` (exempt from the CA's limits), otherwise certbot orders with the
   webroot. Success is read from certbot's exit status and the lineage on disk.
6. nginx serves the new certificate (`nginx -t` + reload) and the pass waits until it serves
   the serial on disk (serving.py `activate`).
Every attempt, refusal and repair is one ledger line (recorder.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from wapang.edge.context import Context
from wapang.edge.decision import ari_exempt, order_reason
from wapang.edge.errors import OrderRefused
from wapang.edge.ledger import LedgerEntry, check_gates, utcnow
from wapang.edge.ordering import order
from wapang.edge.outcome import Outcome
from wapang.edge.preflight import check_directories
from wapang.edge.repairs import reconcile_ledger, repair_renewal_conf, resolve_lineage
from wapang.edge.serving import bootstrap, sync_nginx
from wapang.edge.settings import EdgeSettings
from wapang.edge.status import Status, read_status

log = logging.getLogger("wapang.edge")


class Manager:
    def __init__(self, settings: EdgeSettings, clock: Callable[[], datetime] = utcnow) -> None:
        self.context = Context(settings, clock)

    def status(self) -> Status:
        return read_status(self.context)

    def bootstrap(self) -> None:
        bootstrap(self.context.settings)

    def ensure(self, force: bool = False) -> Outcome:
        context = self.context
        check_directories(context.settings)  # 1. nginx can start
        bootstrap(context.settings)
        notes = reconcile_ledger(context)  # 2. repairs
        notes += resolve_lineage(context, repair=True)
        notes += repair_renewal_conf(context)
        entries = context.entries()
        cert = context.current_cert()
        reason = order_reason(context, cert) or ("forced renewal" if force else None)  # 3.
        if reason is None:
            assert cert is not None
            outcome = sync_nginx(context, cert)
        elif force:
            log.warning(
                "FORCED order for %s: budget, Retry-After and backoff are IGNORED (%s)",
                context.names_key,
                reason,
            )
            outcome = order(context, reason, entries, forced=True)  # 5. and 6.
        else:
            outcome = self._order_if_allowed(reason, entries)  # 4., then 5. and 6.
        outcome.notes[:0] = notes
        return outcome

    def _order_if_allowed(self, reason: str, entries: list[LedgerEntry]) -> Outcome:
        """The ledger's gates (Retry-After, backoff, budget) first: a refusal orders nothing."""
        context = self.context
        try:
            check_gates(
                entries, context.names_key, context.clock(), context.limits, ari_exempt(context)
            )
        except OrderRefused as refused:
            return Outcome("refused", f"{reason}, but {refused}", retry_at=refused.until)
        return order(context, reason, entries)
