"""The example settings the tests use, in one place: a new required setting is added here once.

PRODUCTION_ENV is what an operator sets for a production deployment (the chart's `settings`,
the CD secrets); ENV=prod and DB_DIALECT=mysql are fixed by the deployment itself
(PRODUCTION_APP adds them for the app's own settings model). TEST_SECRETS are the token keys
of the servers and apps the tests start with ENV=test.
"""

from __future__ import annotations

PRODUCTION_ENV: dict[str, str] = {
    "DB_HOST": "db.internal",
    "DB_USER": "wapang",
    "DB_PASSWORD": "s3cret-Pass_word",
    "DB_DATABASE": "wapang",
    "ACCESS_TOKEN_SECRET": "a" * 40,
    "REFRESH_TOKEN_SECRET": "b" * 40,
}
PRODUCTION_APP: dict[str, str] = {"ENV": "prod", "DB_DIALECT": "mysql", **PRODUCTION_ENV}

TEST_SECRETS: dict[str, str] = {
    "ACCESS_TOKEN_SECRET": "test-access-" + "a" * 40,
    "REFRESH_TOKEN_SECRET": "test-refresh-" + "b" * 40,
}
