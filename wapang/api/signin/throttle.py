"""Per-account sign-in back-off (contract 14.2): after 5 failed sign-ins in a row for one
e-mail, known or not, sign-ins for it are refused (ERR_025) until a back-off has passed,
doubling from SIGN_IN_BACKOFF_SECONDS up to SIGN_IN_BACKOFF_MAX_SECONDS.

The count is a row of `sign_in_failures`, so every worker and replica sees one count; a failure
is counted by one upsert (`failures + 1` in the database), so concurrent failures all count.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Insert, bindparam, case, delete, select
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from wapang.api.auth.errors import TooManyRequests
from wapang.api.signin.models import SignInFailures
from wapang.config import Settings
from wapang.db.base import table_of, utc_now

FAILURES_BEFORE_BACKOFF = 5
# Failures further apart than this are not "in a row": the count starts again.
FAILURE_MEMORY = timedelta(days=1)
_MAX_DOUBLINGS = 30

_FAILURES = select(SignInFailures.failures, SignInFailures.last_failed_at).where(
    SignInFailures.account == bindparam("account")
)


def account_key(email: str) -> str:
    """The e-mail as the database compares it (case aside), digested: the table keeps no
    addresses, and `A@x.com` and `a@x.com` share one count."""
    normalised = unicodedata.normalize("NFKC", email.strip()).casefold()
    return hashlib.sha256(normalised.encode()).hexdigest()


@dataclass(frozen=True)
class Failures:
    count: int
    last_failed_at: datetime


@dataclass(frozen=True)
class SignInBackoff:
    base: timedelta
    cap: timedelta

    @classmethod
    def of(cls, settings: Settings) -> SignInBackoff:
        return cls(
            timedelta(seconds=settings.SIGN_IN_BACKOFF_SECONDS),
            timedelta(seconds=settings.SIGN_IN_BACKOFF_MAX_SECONDS),
        )

    def backoff(self, failures: int) -> timedelta:
        if failures < FAILURES_BEFORE_BACKOFF:
            return timedelta(0)
        doublings = min(failures - FAILURES_BEFORE_BACKOFF, _MAX_DOUBLINGS)
        backoff: timedelta = min(self.base * 2**doublings, self.cap)
        return backoff

    async def failures(self, session: AsyncSession, account: str) -> Failures | None:
        row = (await session.execute(_FAILURES, {"account": account})).first()
        if row is None or utc_now() - row.last_failed_at > FAILURE_MEMORY:
            return None
        return Failures(row.failures, row.last_failed_at)

    def check(self, failures: Failures | None) -> None:
        """ERR_025 while the account's back-off runs, whatever the password."""
        if failures is None:
            return
        remaining = failures.last_failed_at + self.backoff(failures.count) - utc_now()
        if remaining > timedelta(0):
            raise TooManyRequests(retry_after=remaining.total_seconds())


async def count_failure(session: AsyncSession, account: str) -> None:
    await session.execute(_failure_upsert(session, account, utc_now()))


async def forget_failures(session: AsyncSession, account: str) -> None:
    await session.execute(delete(SignInFailures).where(SignInFailures.account == account))


def _failure_upsert(session: AsyncSession, account: str, now: datetime) -> Insert:
    table = table_of(SignInFailures)
    row = {"account": account, "failures": 1, "last_failed_at": now}
    # Evaluated against the row's old values: MySQL assigns left to right (so `failures` comes
    # before `last_failed_at`), SQLite reads the old row throughout.
    counted = case((table.c.last_failed_at < now - FAILURE_MEMORY, 1), else_=table.c.failures + 1)
    if session.get_bind().dialect.name == "sqlite":
        sqlite_upsert = sqlite.insert(table).values(row)
        return sqlite_upsert.on_conflict_do_update(
            index_elements=[table.c.account],
            set_={"failures": counted, "last_failed_at": now},
        )
    mysql_upsert = mysql.insert(table).values(row)
    return mysql_upsert.on_duplicate_key_update([("failures", counted), ("last_failed_at", now)])
