"""What the certificate manager tells its operator after each pass of `wapang certs run`: an
event in the log (one JSON object with LOG_FORMAT=json), Prometheus gauges on a small HTTP
exporter (METRICS_PORT), and a push to ALERT_WEBHOOK_URL when a pass fails or the certificate
has under 14 days left. Kept apart from the manager: it reads outcomes and the status, and
never changes what a pass decides."""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import UTC, datetime

import httpx
from prometheus_client import CollectorRegistry, Gauge, start_http_server

from wapang.edge.manager import Manager
from wapang.edge.outcome import Outcome
from wapang.edge.settings import EdgeSettings
from wapang.edge.status import LOW_DAYS_LEFT, Status

logger = logging.getLogger("wapang.edge.events")
WEBHOOK_ATTEMPTS = 3
WEBHOOK_TIMEOUT_SECONDS = 5


class CertificateMetrics:
    """The gauges the exporter serves, set after every pass from the manager's status."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.expiration = Gauge(
            "wapang_certificate_expiration_timestamp_seconds",
            "Not-after of the certificate served, by name, as a Unix time.",
            ["name"],
            registry=self.registry,
        )
        self.last_pass_success = Gauge(
            "wapang_certificate_last_pass_success",
            "1 when the last renewal pass ended well (nothing to do, activated, issued), else 0.",
            registry=self.registry,
        )
        self.last_pass_time = Gauge(
            "wapang_certificate_last_pass_timestamp_seconds",
            "When the last renewal pass ended, as a Unix time.",
            registry=self.registry,
        )
        self.orders_left = Gauge(
            "wapang_certificate_orders_left",
            "Production orders left in the rolling budget window (3 per 168 h by default).",
            registry=self.registry,
        )

    def serve(self, port: int) -> None:
        start_http_server(port, registry=self.registry)

    def record(self, succeeded: bool, status: Status | None) -> None:
        self.last_pass_success.set(1 if succeeded else 0)
        self.last_pass_time.set(time.time())
        if status is None:
            return
        self.orders_left.set(status.budget_left)
        if status.cert is not None:
            for name in status.names:
                self.expiration.labels(name).set(status.cert.not_after.timestamp())


def pass_event(outcome: Outcome | None, status: Status | None) -> None:
    """The pass's decision and the CA's answers (its problem documents) as one event."""
    fields: dict[str, object] = {"event": "certificate_pass"}
    if outcome is None:
        fields |= {"action": "not-run", "ok": False}
    else:
        fields |= {
            "action": outcome.action,
            "ok": outcome.ok,
            "decision": outcome.message,
            "serial": outcome.serial,
            "retry_at": outcome.retry_at.isoformat() if outcome.retry_at else None,
            "ca_problems": outcome.problems,
            "notes": outcome.notes,
        }
    if status is not None:
        fields |= {
            "names": status.names,
            "days_left": None if status.days_left is None else round(status.days_left, 2),
            "orders_left": status.budget_left,
            "next_renewal": status.next_renewal.isoformat() if status.next_renewal else None,
        }
    level = logging.INFO if fields["ok"] else logging.ERROR
    logger.log(level, "certificate pass: %s", fields["action"], extra=fields)


def alert_reasons(outcome: Outcome | None, status: Status | None) -> list[str]:
    reasons = []
    if outcome is None or (not outcome.ok and outcome.action != "refused"):
        detail = "the pass could not run" if outcome is None else outcome.message
        reasons.append(f"certificate renewal pass failed: {detail}")
    if status is not None and status.days_left is not None and status.days_left < LOW_DAYS_LEFT:
        reasons.append(
            f"certificate for {', '.join(status.names)} expires in {status.days_left:.1f} days"
        )
    return reasons


def send_alert(
    url: str, source: str, reasons: list[str], details: dict[str, object]
) -> threading.Thread:
    """POSTs in a background thread, retried; never blocks or fails the caller. The body is
    Slack-compatible (`text`) and plain JSON (`source`, `reasons`, `details`) at once. The URL
    is a secret: it is never logged, only that a delivery failed."""
    body = json.dumps(
        {
            "text": f"wapang {source}: " + "; ".join(reasons),
            "source": source,
            "reasons": reasons,
            "details": details,
            "time": datetime.now(UTC).isoformat(),
        }
    ).encode()

    def deliver() -> None:
        for attempt in range(1, WEBHOOK_ATTEMPTS + 1):
            try:
                response = httpx.post(
                    url,
                    content=body,
                    headers={"Content-Type": "application/json"},
                    timeout=WEBHOOK_TIMEOUT_SECONDS,
                )
                if response.is_success:
                    return
                reason = f"HTTP {response.status_code}"
            except Exception as error:  # any failure: retry, then give up quietly
                reason = type(error).__name__
            time.sleep(float(attempt))
        logger.warning(
            "alert not delivered after %s attempts (%s)",
            WEBHOOK_ATTEMPTS,
            reason,
            extra={"event": "alert_undelivered"},
        )

    thread = threading.Thread(target=deliver, name="alert-webhook", daemon=True)
    thread.start()
    return thread


class PassObserver:
    """Hooked into `wapang certs run`: after each pass, the event, the gauges, the alert."""

    def __init__(self, settings: EdgeSettings) -> None:
        self.settings = settings
        self.metrics = CertificateMetrics()
        self.deliveries: list[threading.Thread] = []
        if settings.metrics_port:
            self.metrics.serve(settings.metrics_port)

    def after_pass(self, outcome: Outcome | None) -> None:
        status = self._status()
        pass_event(outcome, status)
        self.metrics.record(outcome is not None and outcome.ok, status)
        reasons = alert_reasons(outcome, status)
        webhook = self.settings.alert_webhook_url
        if reasons and webhook is not None:
            details: dict[str, object] = {"names": self.settings.domains}
            if outcome is not None:
                details["action"] = outcome.action
            self.deliveries.append(
                send_alert(webhook.get_secret_value(), "certificate manager", reasons, details)
            )
        self.deliveries = [thread for thread in self.deliveries if thread.is_alive()]

    def finish(self, timeout: float = WEBHOOK_ATTEMPTS * (WEBHOOK_TIMEOUT_SECONDS + 3)) -> None:
        """A loop that stops (`--max-passes`) lets its alerts go out first."""
        for thread in self.deliveries:
            thread.join(timeout)

    def _status(self) -> Status | None:
        try:
            return Manager(self.settings).status()
        except Exception as error:  # the status is for the operator: a pass never fails on it
            logger.warning("status unavailable: %s", type(error).__name__)
            return None
