"""Contract §4, §6 and §1.4: sign-in, token rotation, sign-out, the Authorization header and
the token attacks and pitfalls of §13."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import delete, select, update

from tests.api.shop import (
    ERR_001,
    ERR_002,
    ERR_003,
    ERR_005,
    ERR_006,
    ERR_007,
    PASSWORD,
    app_settings,
    assert_error,
    execute,
    fetch,
    forge_token,
    register,
    sign_up,
    unsigned_token,
)
from tests.databases import TEST_SECRETS
from wapang.api.signin.models import BlockedToken
from wapang.api.users.models import User

ACCESS_SECRET = TEST_SECRETS["ACCESS_TOKEN_SECRET"]
REFRESH_SECRET = TEST_SECRETS["REFRESH_TOKEN_SECRET"]

# HS384/HS512 forgeries use a key shorter than PyJWT recommends; that is the point.
pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


ME = ("GET", "/api/users/me")
REFRESH = ("GET", "/api/auth/tokens/refresh")
SIGN_OUT = ("DELETE", "/api/auth/tokens")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def call(http: httpx.AsyncClient, endpoint: tuple[str, str], token: str) -> httpx.Response:
    method, path = endpoint
    return await http.request(method, path, headers=bearer(token))


async def sign_in(http: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await http.post("/api/auth/tokens", json={"email": email, "password": password})


# --- §6.1 sign in -------------------------------------------------------------------------


async def test_sign_in_returns_a_token_pair_for_the_user(client: httpx.AsyncClient) -> None:
    user = await register(client)

    response = await sign_in(client, user["email"])

    assert response.status_code == 200, response.text
    pair = response.json()
    assert set(pair) == {"access_token", "refresh_token"}
    me = await call(client, ME, pair["access_token"])
    assert me.status_code == 200, me.text
    assert me.json()["id"] == user["id"]


@pytest.mark.parametrize(
    "body",
    [
        {"email": "someone@example.com"},
        {"password": PASSWORD},
        {},
        {"email": "not-an-email"},  # missing password beats the malformed e-mail
        {"password": 12345},
    ],
)
async def test_sign_in_without_a_required_field_is_err_002(
    client: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    assert_error(await client.post("/api/auth/tokens", json=body), *ERR_002)


async def test_sign_in_without_a_body_is_err_002(client: httpx.AsyncClient) -> None:
    assert_error(await client.post("/api/auth/tokens"), *ERR_002)


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not-an-email", "password": PASSWORD},
        {"email": "two@@example.com", "password": PASSWORD},
        {"email": None, "password": PASSWORD},
        {"email": "someone@example.com", "password": None},
        {"email": 42, "password": PASSWORD},
        {"email": "someone@example.com", "password": 12345678},
        {"email": {"address": "someone@example.com"}, "password": PASSWORD},
        {"email": "someone@example.com", "password": [PASSWORD]},
        [{"email": "someone@example.com", "password": PASSWORD}],
        "someone@example.com",
    ],
)
async def test_sign_in_with_a_malformed_field_is_err_003(
    client: httpx.AsyncClient, body: Any
) -> None:
    assert_error(await client.post("/api/auth/tokens", json=body), *ERR_003)


async def test_sign_in_with_unparseable_json_is_err_003(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/auth/tokens",
        content=b'{"email": "a@example.com",',
        headers={"Content-Type": "application/json"},
    )
    assert_error(response, *ERR_003)


async def test_wrong_password_and_unknown_email_give_identical_answers(
    client: httpx.AsyncClient,
) -> None:
    user = await register(client)

    wrong_password = await sign_in(client, user["email"], "wrong-pass1")
    unknown_email = await sign_in(client, "nobody@example.com")

    assert_error(wrong_password, *ERR_001)
    assert_error(unknown_email, *ERR_001)
    assert wrong_password.content == unknown_email.content


@pytest.mark.parametrize("password", ["", "short", "x" * 200])
async def test_sign_in_has_no_password_length_rule(
    client: httpx.AsyncClient, password: str
) -> None:
    user = await register(client)
    assert_error(await sign_in(client, user["email"], password), *ERR_001)


async def test_stored_password_is_an_argon2id_hash(client: httpx.AsyncClient) -> None:
    user = await register(client)

    rows = await fetch(client, select(User.hashed_password).where(User.id == user["id"]))

    stored = rows[0][0]
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


@pytest.mark.parametrize(
    "stored_hash",
    [
        "",
        "not-a-hash",
        PASSWORD,
        "$argon2id$v=19$m=19456,t=2,p=1$garbage",
        "$2b$12$C6UzMDM.H6dfI/f/IKcEeO5JP6tjYVF1vHXDbNbeETuyX5Lay7KtS",
        "$pbkdf2-sha256$29000$N2bMmZMyRgjh3BtjbK0VIg$e5FPWAZlDQiN3NfnvIamL2bNrx5nHfjC0xVXgdNa",
    ],
)
async def test_malformed_stored_hash_is_err_001_not_500(
    client: httpx.AsyncClient, stored_hash: str
) -> None:
    user = await register(client)
    await execute(
        client, update(User).where(User.id == user["id"]).values(hashed_password=stored_hash)
    )

    assert_error(await sign_in(client, user["email"]), *ERR_001)


async def test_sign_in_ignores_the_authorization_header(client: httpx.AsyncClient) -> None:
    user = await register(client)

    response = await client.post(
        "/api/auth/tokens",
        json={"email": user["email"], "password": PASSWORD},
        headers={"Authorization": "Basic garbage and more"},
    )

    assert response.status_code == 200, response.text


# --- §4 token shape -----------------------------------------------------------------------


async def test_tokens_are_hs256_with_sub_and_utc_exp(client: httpx.AsyncClient) -> None:
    user = await register(client)
    settings = app_settings(client)

    pair = (await sign_in(client, user["email"])).json()

    for token, secret, minutes in [
        (pair["access_token"], ACCESS_SECRET, settings.SHORT_SESSION_LIFESPAN),
        (pair["refresh_token"], REFRESH_SECRET, settings.LONG_SESSION_LIFESPAN),
    ]:
        assert jwt.get_unverified_header(token)["alg"] == "HS256"
        claims = jwt.decode(token, secret, algorithms=["HS256"])
        assert claims["sub"] == user["id"]
        assert isinstance(claims["exp"], int)
        assert abs(claims["exp"] - (time.time() + minutes * 60)) <= 5


@pytest.fixture
def seoul_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run with the host clock in UTC+9, so naive local time would shift every expiry."""
    monkeypatch.setenv("TZ", "Asia/Seoul")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("seoul_time")
async def test_expiries_are_utc_whatever_the_host_time_zone(client: httpx.AsyncClient) -> None:
    shopper = await sign_up(client)
    lifespan = app_settings(client).LONG_SESSION_LIFESPAN * 60

    rotated = (await call(client, REFRESH, shopper.refresh_token)).json()

    exp = jwt.decode(rotated["refresh_token"], REFRESH_SECRET, algorithms=["HS256"])["exp"]
    assert abs(exp - (time.time() + lifespan)) <= 5
    old_exp = jwt.decode(shopper.refresh_token, REFRESH_SECRET, algorithms=["HS256"])["exp"]
    [(blocked_until,)] = await fetch(client, select(BlockedToken.expires_at))
    assert abs(blocked_until.timestamp() - old_exp) <= 1
    assert_error(await call(client, REFRESH, shopper.refresh_token), *ERR_007)


async def test_each_kind_is_signed_with_its_own_secret(client: httpx.AsyncClient) -> None:
    user = await register(client)
    pair = (await sign_in(client, user["email"])).json()

    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(pair["access_token"], REFRESH_SECRET, algorithms=["HS256"])
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(pair["refresh_token"], ACCESS_SECRET, algorithms=["HS256"])


async def test_tokens_issued_in_the_same_second_differ(client: httpx.AsyncClient) -> None:
    user = await register(client)

    first = (await sign_in(client, user["email"])).json()
    second = (await sign_in(client, user["email"])).json()

    assert first["access_token"] != second["access_token"]
    assert first["refresh_token"] != second["refresh_token"]


# --- §6.2 refresh -------------------------------------------------------------------------


async def test_refresh_returns_a_new_working_pair(client: httpx.AsyncClient) -> None:
    shopper = await sign_up(client)

    response = await call(client, REFRESH, shopper.refresh_token)

    assert response.status_code == 200, response.text
    pair = response.json()
    assert set(pair) == {"access_token", "refresh_token"}
    assert pair["access_token"] != shopper.access_token
    assert pair["refresh_token"] != shopper.refresh_token
    me = await call(client, ME, pair["access_token"])
    assert me.status_code == 200, me.text
    assert me.json()["id"] == shopper.id
    again = await call(client, REFRESH, pair["refresh_token"])
    assert again.status_code == 200, again.text


async def test_rotated_refresh_token_is_rejected_afterwards(client: httpx.AsyncClient) -> None:
    shopper = await sign_up(client)
    assert (await call(client, REFRESH, shopper.refresh_token)).status_code == 200

    assert_error(await call(client, REFRESH, shopper.refresh_token), *ERR_007)
    assert_error(await call(client, SIGN_OUT, shopper.refresh_token), *ERR_007)


async def test_rotation_leaves_other_sessions_alone(client: httpx.AsyncClient) -> None:
    shopper = await sign_up(client)
    other = (await sign_in(client, shopper.email)).json()

    assert (await call(client, REFRESH, shopper.refresh_token)).status_code == 200

    assert (await call(client, REFRESH, other["refresh_token"])).status_code == 200


async def test_access_token_stays_valid_after_rotation(client: httpx.AsyncClient) -> None:
    shopper = await sign_up(client)
    assert (await call(client, REFRESH, shopper.refresh_token)).status_code == 200

    assert (await call(client, ME, shopper.access_token)).status_code == 200


# --- §6.3 sign out ------------------------------------------------------------------------


async def test_sign_out_returns_204_without_body(client: httpx.AsyncClient) -> None:
    shopper = await sign_up(client)

    response = await call(client, SIGN_OUT, shopper.refresh_token)

    assert response.status_code == 204
    assert response.content == b""


async def test_signed_out_refresh_token_is_rejected(client: httpx.AsyncClient) -> None:
    shopper = await sign_up(client)
    assert (await call(client, SIGN_OUT, shopper.refresh_token)).status_code == 204

    assert_error(await call(client, REFRESH, shopper.refresh_token), *ERR_007)


async def test_signing_out_twice_is_err_007_not_500(client: httpx.AsyncClient) -> None:
    shopper = await sign_up(client)
    assert (await call(client, SIGN_OUT, shopper.refresh_token)).status_code == 204

    assert_error(await call(client, SIGN_OUT, shopper.refresh_token), *ERR_007)


async def test_access_token_stays_valid_after_sign_out(client: httpx.AsyncClient) -> None:
    shopper = await sign_up(client)
    assert (await call(client, SIGN_OUT, shopper.refresh_token)).status_code == 204

    assert (await call(client, ME, shopper.access_token)).status_code == 200


async def test_sign_out_ignores_a_body(client: httpx.AsyncClient) -> None:
    shopper = await sign_up(client)

    response = await client.request(
        "DELETE", "/api/auth/tokens", headers=shopper.refresh_auth, content=b"{not json"
    )

    assert response.status_code == 204, response.text


# --- wrong kind of token ------------------------------------------------------------------


async def test_refresh_token_is_rejected_as_access_token(client: httpx.AsyncClient) -> None:
    shopper = await sign_up(client)
    assert_error(await call(client, ME, shopper.refresh_token), *ERR_007)


@pytest.mark.parametrize("endpoint", [REFRESH, SIGN_OUT], ids=["refresh", "sign-out"])
async def test_access_token_is_rejected_as_refresh_token(
    client: httpx.AsyncClient, endpoint: tuple[str, str]
) -> None:
    shopper = await sign_up(client)

    assert_error(await call(client, endpoint, shopper.access_token), *ERR_007)

    # Nothing was blocklisted by the failed attempt.
    assert (await call(client, REFRESH, shopper.refresh_token)).status_code == 200


# --- §1.4 header shape --------------------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    [
        "{token}",
        "Basic {token}",
        "Token {token}",
        "",
        "Bearer",
        "Bearer ",
        "Bearer {token} extra",
        "Bearer Bearer {token}",
        "Bearer{token}",
    ],
    ids=[
        "bare-token",
        "basic-scheme",
        "token-scheme",
        "empty",
        "scheme-only",
        "scheme-and-space",
        "three-parts",
        "double-scheme",
        "no-space",
    ],
)
@pytest.mark.parametrize("endpoint", [ME, REFRESH, SIGN_OUT], ids=["access", "refresh", "sign-out"])
async def test_malformed_authorization_header_is_err_006(
    client: httpx.AsyncClient, endpoint: tuple[str, str], template: str
) -> None:
    shopper = await sign_up(client)
    token = shopper.access_token if endpoint == ME else shopper.refresh_token
    method, path = endpoint

    response = await client.request(
        method, path, headers={"Authorization": template.format(token=token)}
    )

    assert_error(response, *ERR_006)


@pytest.mark.parametrize("endpoint", [ME, REFRESH, SIGN_OUT], ids=["access", "refresh", "sign-out"])
async def test_missing_authorization_header_is_err_005(
    client: httpx.AsyncClient, endpoint: tuple[str, str]
) -> None:
    method, path = endpoint
    assert_error(await client.request(method, path), *ERR_005)


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "BeArEr"])
async def test_bearer_scheme_is_case_insensitive(client: httpx.AsyncClient, scheme: str) -> None:
    shopper = await sign_up(client)

    response = await client.get(
        "/api/users/me", headers={"Authorization": f"{scheme} {shopper.access_token}"}
    )

    assert response.status_code == 200, response.text


async def test_header_parts_split_on_any_whitespace(client: httpx.AsyncClient) -> None:
    shopper = await sign_up(client)

    response = await client.get(
        "/api/users/me", headers={"Authorization": f"Bearer   {shopper.access_token}"}
    )

    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("header", "expected"),
    [("Basic not-a-jwt", ERR_006), ("Bearer not-a-jwt", ERR_007)],
)
async def test_header_shape_is_checked_before_the_token(
    client: httpx.AsyncClient, header: str, expected: tuple[int, str, str]
) -> None:
    assert_error(await client.get("/api/users/me", headers={"Authorization": header}), *expected)


# --- forged, expired and incomplete tokens ------------------------------------------------


def _forgeries(user_id: str, secret: str) -> dict[str, str]:
    now = int(time.time())
    valid: dict[str, Any] = {"sub": user_id, "exp": now + 600}
    return {
        "alg-none": unsigned_token(**valid),
        "alg-none-with-signature": unsigned_token(**valid)
        + forge_token(secret, **valid).rsplit(".", 1)[1],
        "other-key": forge_token("another-key-" + "z" * 40, **valid),
        "hs384": forge_token(secret, "HS384", **valid),
        "hs512": forge_token(secret, "HS512", **valid),
        "expired": forge_token(secret, sub=user_id, exp=now - 30),
        "no-sub": forge_token(secret, exp=now + 600),
        "no-exp": forge_token(secret, sub=user_id),
        "non-integer-exp": forge_token(secret, sub=user_id, exp="tomorrow"),
        "unknown-user": forge_token(secret, sub=str(uuid.uuid4()), exp=now + 600),
        "non-string-sub": forge_token(secret, sub=12345, exp=now + 600),
        "tampered-payload": _swap_payload(forge_token(secret, **valid), str(uuid.uuid4())),
        "garbage": "not.a.jwt",
    }


def _swap_payload(token: str, subject: str) -> str:
    header, _, signature = token.split(".")
    payload = unsigned_token(sub=subject, exp=int(time.time()) + 600).split(".")[1]
    return f"{header}.{payload}.{signature}"


FORGERIES = list(_forgeries("names-only", "k" * 64))
KINDS = {
    "access": (ME, ACCESS_SECRET),
    "refresh": (REFRESH, REFRESH_SECRET),
    "sign-out": (SIGN_OUT, REFRESH_SECRET),
}


@pytest.mark.parametrize("forgery", FORGERIES)
@pytest.mark.parametrize("kind", list(KINDS))
async def test_unacceptable_token_is_err_007(
    client: httpx.AsyncClient, kind: str, forgery: str
) -> None:
    endpoint, secret = KINDS[kind]
    user = await register(client)

    response = await call(client, endpoint, _forgeries(user["id"], secret)[forgery])

    assert_error(response, *ERR_007)


@pytest.mark.parametrize("kind", list(KINDS))
async def test_minimal_hs256_token_with_sub_and_exp_is_accepted(
    client: httpx.AsyncClient, kind: str
) -> None:
    """The positive control for the forgeries above: only `sub` and `exp`, correctly signed."""
    endpoint, secret = KINDS[kind]
    user = await register(client)
    token = forge_token(secret, sub=user["id"], exp=int(time.time()) + 600)

    response = await call(client, endpoint, token)

    assert response.status_code in (200, 204), response.text


@pytest.mark.parametrize("kind", list(KINDS))
async def test_token_of_a_deleted_user_is_err_007(client: httpx.AsyncClient, kind: str) -> None:
    endpoint, _ = KINDS[kind]
    shopper = await sign_up(client)
    await execute(client, delete(User).where(User.id == shopper.id))

    token = shopper.access_token if kind == "access" else shopper.refresh_token
    assert_error(await call(client, endpoint, token), *ERR_007)


# --- §1.6 precedence ----------------------------------------------------------------------


async def test_missing_header_beats_unparseable_body(client: httpx.AsyncClient) -> None:
    response = await client.patch(
        "/api/users/me", content=b"{oops", headers={"Content-Type": "application/json"}
    )
    assert_error(response, *ERR_005)


async def test_malformed_header_beats_invalid_body(client: httpx.AsyncClient) -> None:
    response = await client.patch(
        "/api/users/me", json={"phone_number": "nope"}, headers={"Authorization": "Token x"}
    )
    assert_error(response, *ERR_006)


async def test_invalid_token_beats_missing_body(client: httpx.AsyncClient) -> None:
    response = await client.patch("/api/users/me", headers=bearer("not-a-jwt"))
    assert_error(response, *ERR_007)
