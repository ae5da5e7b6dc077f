"""The ledger's one writer: every attempt, refusal and repair of the manager is one line,
built here, and a failed certbot run is read here, once, for the CA's reasons."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from wapang.edge.certbot import CertbotResult, FailureInfo, parse_failure
from wapang.edge.ledger import Kind, Ledger, LedgerEntry
from wapang.edge.settings import EdgeSettings

ACME_KINDS = ("order", "dry_run", "renew_dry_run")


class Recorder:
    def __init__(
        self, ledger: Ledger, names_key: str, settings: EdgeSettings, clock: Callable[[], datetime]
    ) -> None:
        self.ledger = ledger
        self.names_key = names_key
        self.settings = settings
        self.clock = clock

    def record(
        self,
        kind: Kind,
        result: CertbotResult | None = None,
        *,
        ok: bool | None = None,
        **fields: Any,
    ) -> FailureInfo | None:
        """Append one line; `ok` defaults to certbot's verdict (or True without a run). The
        failure read from a failed run (problems, Retry-After, rate limit) is returned."""
        succeeded = ok if ok is not None else (result.ok if result else True)
        failure = None
        if result is not None and not succeeded:
            failure = parse_failure(result.output + "\n" + result.log_tail, self.clock())
            fields |= {
                "error": failure.summary,
                "rate_limited": failure.rate_limited,
                "retry_after": failure.retry_after,
                "problems": failure.problems,
            }
        self.ledger.append(self.entry(kind, ok=succeeded, **fields))
        return failure

    def entry(
        self,
        kind: Kind,
        *,
        ok: bool = True,
        production: bool = True,
        server: str | None = None,
        ts: datetime | None = None,
        **fields: Any,
    ) -> LedgerEntry:
        if server is None:  # an ACME attempt names its directory; a repair names none
            settings = self.settings
            acme = settings.acme_server if production else settings.acme_staging_server
            server = acme if kind in ACME_KINDS else ""
        return LedgerEntry(
            ts=ts or self.clock(),
            kind=kind,
            names=self.names_key,
            server=server,
            production=production,
            ok=ok,
            **fields,
        )
