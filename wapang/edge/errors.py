"""Typed errors of the HTTPS edge; the CLI turns each into a clear message and exit code."""

from __future__ import annotations

from datetime import UTC, datetime


class EdgeError(Exception):
    """Base class: anything the edge refuses or fails to do."""


class EdgeConfigError(EdgeError):
    """Settings are missing or invalid; carries every problem at once."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid edge settings:\n  " + "\n  ".join(problems))


class TemplateError(EdgeError):
    """An nginx template uses a ${VAR} the renderer was not given."""


class NginxConfigError(EdgeError):
    """`nginx -t` rejected a configuration; nothing was reloaded."""


class NginxReloadError(EdgeError):
    """nginx could not be signalled to reload."""


class ServedCertificateMismatch(EdgeError):
    """nginx still serves another certificate than the one on disk after the timeout."""


class CertbotError(EdgeError):
    """certbot exited non-zero or timed out."""


class CertbotNotFound(CertbotError):
    """No certbot binary at the configured path, on PATH or next to the interpreter."""


class OrderRefused(EdgeError):
    """The manager will not order now (budget, Retry-After or backoff); says until when."""

    def __init__(self, message: str, until: datetime) -> None:
        self.until = until
        super().__init__(message)

    @classmethod
    def until_time(cls, why: str, until: datetime) -> OrderRefused:
        when = until.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        return cls(f"{why}; next order allowed at {when}", until)
