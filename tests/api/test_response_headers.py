"""Contract 14.7 over real HTTP: the request id and the security headers on every answer, the
errors and the unauthenticated ones included."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.api.shop import sign_up


async def test_an_id_from_the_edge_comes_back_and_a_missing_one_is_made(
    http: httpx.AsyncClient,
) -> None:
    kept = await http.get("/api/items", headers={"X-Request-ID": "edge-0a1B.2_c"})
    made = await http.get("/api/items")
    again = await http.get("/api/items")

    assert kept.headers["X-Request-ID"] == "edge-0a1B.2_c"
    assert re.fullmatch(r"[A-Za-z0-9._-]{1,128}", made.headers["X-Request-ID"])
    assert made.headers["X-Request-ID"] != again.headers["X-Request-ID"]


@pytest.mark.parametrize(
    "hostile", ["", "a" * 129, "two words", "id\u00e9", "<script>", "a;b", "../../etc"]
)
async def test_an_id_outside_the_alphabet_or_length_is_replaced(
    http: httpx.AsyncClient, hostile: str
) -> None:
    answered = await http.get("/api/items", headers={"X-Request-ID": hostile.encode("utf-8")})

    returned = answered.headers["X-Request-ID"]
    assert returned != hostile
    assert re.fullmatch(r"[A-Za-z0-9._-]{1,128}", returned)


async def test_every_answer_is_nosniff_and_errors_carry_the_id_too(
    http: httpx.AsyncClient,
) -> None:
    answers = [
        await http.get("/api/items"),  # 200
        await http.get("/api/nowhere"),  # 404 of the framework
        await http.post("/api/users", json={"email": "x"}),  # 400 of validation
        await http.get("/healthz"),
    ]

    assert [answer.status_code for answer in answers] == [200, 404, 400, 200]
    for answer in answers:
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
        assert answer.headers["X-Request-ID"]


async def test_authenticated_answers_are_not_stored_by_caches(http: httpx.AsyncClient) -> None:
    shopper = await sign_up(http)

    mine = await http.get("/api/users/me", headers=shopper.auth)
    refused = await http.get("/api/users/me", headers={"Authorization": "Bearer nonsense"})
    public = await http.get("/api/items")

    assert mine.status_code == 200
    assert mine.headers["Cache-Control"] == "no-store"
    assert refused.headers["Cache-Control"] == "no-store"
    assert "Cache-Control" not in public.headers
