"""Reviews (contract §9.5, §9.6, §10 and `GET /api/users/me/reviews`)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.api.shop import (
    AUTH_FAILURES,
    ERR_003,
    ERR_013,
    ERR_022,
    ERR_023,
    UUID_PATTERN,
    Shopper,
    assert_error,
    missing_id,
    open_shop,
    sign_up,
    sign_up_many,
)

REVIEW_KEYS = {"review_id", "item_id", "writer_nickname", "is_writer", "rating", "comment"}
ITEM_REVIEW_KEYS = REVIEW_KEYS - {"item_id"}
MY_REVIEW_KEYS = {"review_id", "item_id", "item_name", "comment", "rating"}
VALID_REVIEW = {"rating": 5, "comment": "맛있어요"}


async def reviewer(client: httpx.AsyncClient, nickname: str = "와플이") -> Shopper:
    shopper = await sign_up(client)
    await shopper.set_nickname(nickname)
    return shopper


async def write(
    shopper: Shopper, item_id: str, rating: int = 5, comment: str = "맛있어요"
) -> dict[str, Any]:
    response = await shopper.request(
        "POST", f"/api/items/{item_id}/reviews", json={"rating": rating, "comment": comment}
    )
    assert response.status_code == 201, response.text
    review: dict[str, Any] = response.json()
    return review


@pytest.fixture
async def item(client: httpx.AsyncClient) -> dict[str, Any]:
    _, _, (waffle,) = await open_shop(client, ("와플", 10000, 5))
    return waffle


@pytest.mark.parametrize("path", ["/api/items/{id}/reviews", "/api/reviews/{id}"])
@pytest.mark.parametrize(
    ("case", "header", "status", "code", "message"),
    [failure for failure in AUTH_FAILURES if failure[1] is not None],
)
async def test_optional_auth_rejects_a_bad_header_before_the_lookup(
    client: httpx.AsyncClient,
    path: str,
    case: str,
    header: str,
    status: int,
    code: str,
    message: str,
) -> None:
    response = await client.get(path.format(id=missing_id()), headers={"Authorization": header})

    assert_error(response, status, code, message)


async def test_optional_auth_rejects_a_refresh_token(
    client: httpx.AsyncClient, item: dict[str, Any]
) -> None:
    writer = await reviewer(client)
    review = await write(writer, item["id"])

    for path in (f"/api/items/{item['id']}/reviews", f"/api/reviews/{review['review_id']}"):
        response = await client.get(path, headers=writer.refresh_auth)
        assert_error(response, 401, "ERR_007", "INVALID TOKEN")


# -- POST /api/items/{item_id}/reviews ------------------------------------------------------


async def test_write_review_returns_the_review(
    client: httpx.AsyncClient, item: dict[str, Any]
) -> None:
    writer = await reviewer(client, "리뷰어")

    response = await writer.request(
        "POST", f"/api/items/{item['id']}/reviews", json={"rating": 4, "comment": "괜찮아요"}
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert re.match(UUID_PATTERN, body["review_id"])
    assert body == {
        "review_id": body["review_id"],
        "item_id": item["id"],
        "writer_nickname": "리뷰어",
        "is_writer": True,
        "rating": 4,
        "comment": "괜찮아요",
    }


@pytest.mark.parametrize(
    "body", [{"rating": 1, "comment": ""}, {"rating": 5, "comment": "가" * 500}]
)
async def test_write_review_accepts_the_boundaries(
    client: httpx.AsyncClient, item: dict[str, Any], body: dict[str, Any]
) -> None:
    writer = await reviewer(client)

    response = await writer.request("POST", f"/api/items/{item['id']}/reviews", json=body)

    assert response.status_code == 201, response.text
    assert {key: response.json()[key] for key in body} == body


async def test_store_owner_may_review_own_item(client: httpx.AsyncClient) -> None:
    seller, _, (waffle,) = await open_shop(client, ("와플", 1, 1))
    await seller.set_nickname("사장님")

    review = await write(seller, waffle["id"])

    assert review["writer_nickname"] == "사장님"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"comment": "좋아요"}, id="no-rating"),
        pytest.param({"rating": 5}, id="no-comment"),
        pytest.param({"rating": 9, "unknown": 1}, id="missing-beats-malformed"),
        pytest.param(None, id="no-body"),
    ],
)
async def test_write_review_missing_field_is_err_002(
    client: httpx.AsyncClient, item: dict[str, Any], body: dict[str, Any] | None
) -> None:
    writer = await reviewer(client)

    response = await writer.request("POST", f"/api/items/{item['id']}/reviews", json=body)

    assert_error(response, 400, "ERR_002", "MISSING REQUIRED FIELDS")


BAD_REVIEW_FIELDS = [
    ("rating", 0),
    ("rating", 6),
    ("rating", -1),
    ("rating", "5"),
    ("rating", 4.5),
    ("rating", True),
    ("rating", 10**30),
    ("rating", None),
    ("comment", "x" * 501),
    ("comment", 5),
    ("comment", None),
    ("comment", ["좋아요"]),
]


@pytest.mark.parametrize(("field", "value"), BAD_REVIEW_FIELDS)
async def test_write_review_bad_field_is_err_003(
    client: httpx.AsyncClient, item: dict[str, Any], field: str, value: object
) -> None:
    writer = await reviewer(client)

    response = await writer.request(
        "POST", f"/api/items/{item['id']}/reviews", json={**VALID_REVIEW, field: value}
    )

    assert_error(response, *ERR_003)


async def test_write_review_precedence_003_013_015_016(
    client: httpx.AsyncClient, item: dict[str, Any]
) -> None:
    """Validation, then ERR_013 (even without a nickname), then ERR_015, then ERR_016."""
    anonymous, named = await sign_up_many(client, 2)
    await named.set_nickname()
    unknown = f"/api/items/{missing_id()}/reviews"
    known = f"/api/items/{item['id']}/reviews"

    assert_error(
        await anonymous.request("POST", unknown, json={**VALID_REVIEW, "rating": 0}), *ERR_003
    )
    assert_error(await anonymous.request("POST", unknown, json=VALID_REVIEW), *ERR_013)
    assert_error(
        await anonymous.request("POST", "/api/items/not-a-uuid/reviews", json=VALID_REVIEW),
        *ERR_013,
    )
    assert_error(
        await anonymous.request("POST", known, json=VALID_REVIEW),
        422,
        "ERR_015",
        "NICKNAME NOT SET",
    )
    assert (await named.request("POST", known, json=VALID_REVIEW)).status_code == 201
    assert_error(
        await named.request("POST", known, json={"rating": 1, "comment": "다시"}),
        409,
        "ERR_016",
        "REVIEW ALREADY EXISTS",
    )
    reviews = (await client.get(known)).json()
    assert [review["rating"] for review in reviews] == [5]


async def test_deleting_a_review_allows_reviewing_again(
    client: httpx.AsyncClient, item: dict[str, Any]
) -> None:
    writer = await reviewer(client)
    first = await write(writer, item["id"], rating=1)

    deleted = await writer.request("DELETE", f"/api/reviews/{first['review_id']}")
    second = await write(writer, item["id"], rating=3)

    assert deleted.status_code == 204
    assert second["review_id"] != first["review_id"]
    assert [r["rating"] for r in (await client.get(f"/api/items/{item['id']}/reviews")).json()] == [
        3
    ]


# -- GET /api/items/{item_id}/reviews -------------------------------------------------------


async def test_item_reviews_oldest_first_and_is_writer_only_when_signed_in(
    client: httpx.AsyncClient, item: dict[str, Any]
) -> None:
    first, second, third = await sign_up_many(client, 3)
    written = []
    for shopper, nickname, rating in ((first, "하나", 3), (second, "둘", 1), (third, "셋", 5)):
        await shopper.set_nickname(nickname)
        written.append(await write(shopper, item["id"], rating=rating, comment=nickname))
    path = f"/api/items/{item['id']}/reviews"

    anonymous = await client.get(path)
    as_second = await second.request("GET", path)

    assert anonymous.status_code == 200, anonymous.text
    expected = [
        {key: review[key] for key in ITEM_REVIEW_KEYS - {"is_writer"}} for review in written
    ]
    assert anonymous.json() == expected
    assert as_second.status_code == 200, as_second.text
    assert as_second.json() == [
        {**review, "is_writer": review["writer_nickname"] == "둘"} for review in expected
    ]


async def test_item_without_reviews_lists_none(
    client: httpx.AsyncClient, item: dict[str, Any]
) -> None:
    response = await client.get(f"/api/items/{item['id']}/reviews")

    assert response.status_code == 200
    assert response.json() == []


@pytest.mark.parametrize("item_id", [missing_id(), "not-a-uuid"])
async def test_reviews_of_unknown_item_are_err_013(client: httpx.AsyncClient, item_id: str) -> None:
    assert_error(await client.get(f"/api/items/{item_id}/reviews"), *ERR_013)


# -- GET /api/reviews/{review_id} -----------------------------------------------------------


async def test_read_review_is_writer_depends_on_the_caller(
    client: httpx.AsyncClient, item: dict[str, Any]
) -> None:
    writer, other = await sign_up_many(client, 2)
    await writer.set_nickname("작성자")
    review = await write(writer, item["id"])
    path = f"/api/reviews/{review['review_id']}"

    anonymous = await client.get(path)
    as_writer = await writer.request("GET", path)
    as_other = await other.request("GET", path)

    assert anonymous.status_code == 200, anonymous.text
    assert "is_writer" not in anonymous.json()
    assert anonymous.json() == {key: review[key] for key in REVIEW_KEYS - {"is_writer"}}
    assert as_writer.json() == review
    assert as_other.json() == {**review, "is_writer": False}


@pytest.mark.parametrize("review_id", [missing_id(), "not-a-uuid"])
async def test_read_unknown_review_is_err_022(client: httpx.AsyncClient, review_id: str) -> None:
    assert_error(await client.get(f"/api/reviews/{review_id}"), *ERR_022)


async def test_writer_nickname_is_the_current_nickname(
    client: httpx.AsyncClient, item: dict[str, Any]
) -> None:
    writer = await reviewer(client, "옛이름")
    review = await write(writer, item["id"])

    await writer.set_nickname("새이름")

    assert (await client.get(f"/api/reviews/{review['review_id']}")).json()[
        "writer_nickname"
    ] == "새이름"
    listed = (await client.get(f"/api/items/{item['id']}/reviews")).json()
    assert listed[0]["writer_nickname"] == "새이름"


# -- PATCH /api/reviews/{review_id} ---------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [{"rating": 2}, {"comment": "별로"}, {"rating": 1, "comment": "", "unknown": True}],
)
async def test_edit_review_changes_only_the_given_fields(
    client: httpx.AsyncClient, item: dict[str, Any], changes: dict[str, Any]
) -> None:
    writer = await reviewer(client)
    review = await write(writer, item["id"])
    path = f"/api/reviews/{review['review_id']}"

    response = await writer.request("PATCH", path, json=changes)

    expected = {**review, **changes}
    expected.pop("unknown", None)
    assert response.status_code == 200, response.text
    assert response.json() == expected
    assert (await writer.request("GET", path)).json() == expected


async def test_edit_review_without_body_is_err_002(
    client: httpx.AsyncClient, item: dict[str, Any]
) -> None:
    writer = await reviewer(client)
    review = await write(writer, item["id"])

    response = await writer.request("PATCH", f"/api/reviews/{review['review_id']}")

    assert_error(response, 400, "ERR_002", "MISSING REQUIRED FIELDS")


@pytest.mark.parametrize(
    "body", [{}, {"unknown": 1}, *({field: value} for field, value in BAD_REVIEW_FIELDS)]
)
async def test_edit_review_bad_body_is_err_003(
    client: httpx.AsyncClient, item: dict[str, Any], body: dict[str, Any]
) -> None:
    writer = await reviewer(client)
    review = await write(writer, item["id"])

    response = await writer.request("PATCH", f"/api/reviews/{review['review_id']}", json=body)

    assert_error(response, *ERR_003)


async def test_edit_and_delete_review_precedence_022_then_023(
    client: httpx.AsyncClient, item: dict[str, Any]
) -> None:
    writer, other = await sign_up_many(client, 2)
    await writer.set_nickname()
    review = await write(writer, item["id"])
    theirs = f"/api/reviews/{review['review_id']}"

    assert_error(
        await other.request("PATCH", f"/api/reviews/{missing_id()}", json={"rating": 0}), *ERR_003
    )
    for method, body in (("PATCH", {"rating": 1}), ("DELETE", None)):
        assert_error(
            await other.request(method, f"/api/reviews/{missing_id()}", json=body), *ERR_022
        )
        assert_error(await other.request(method, "/api/reviews/not-a-uuid", json=body), *ERR_022)
        assert_error(await other.request(method, theirs, json=body), *ERR_023)
    assert (await client.get(theirs)).json()["rating"] == review["rating"]


# -- DELETE /api/reviews/{review_id} --------------------------------------------------------


async def test_deleted_review_is_gone(client: httpx.AsyncClient, item: dict[str, Any]) -> None:
    writer = await reviewer(client)
    review = await write(writer, item["id"])
    path = f"/api/reviews/{review['review_id']}"

    response = await writer.request("DELETE", path)

    assert response.status_code == 204
    assert response.content == b""
    assert_error(await client.get(path), *ERR_022)
    assert_error(await writer.request("PATCH", path, json={"rating": 1}), *ERR_022)
    assert_error(await writer.request("DELETE", path), *ERR_022)
    assert (await client.get(f"/api/items/{item['id']}/reviews")).json() == []
    assert (await writer.request("GET", "/api/users/me/reviews")).json() == []


# -- reviews of a deleted item, and GET /api/users/me/reviews -------------------------------


async def test_reviews_outlive_their_item(client: httpx.AsyncClient) -> None:
    seller, _, (waffle,) = await open_shop(client, ("와플", 1, 1))
    writer = await reviewer(client)
    review = await write(writer, waffle["id"], rating=4, comment="처음")
    renamed = await seller.request(
        "PATCH", f"/api/items/{waffle['id']}", json={"item_name": "마지막 이름"}
    )
    assert renamed.status_code == 200
    assert (await seller.request("DELETE", f"/api/items/{waffle['id']}")).status_code == 204
    path = f"/api/reviews/{review['review_id']}"

    read = await client.get(path)
    edited = await writer.request("PATCH", path, json={"comment": "나중"})
    mine = await writer.request("GET", "/api/users/me/reviews")

    assert read.status_code == 200
    assert read.json()["item_id"] == waffle["id"]
    assert edited.status_code == 200, edited.text
    assert edited.json() == {**review, "comment": "나중"}
    assert mine.json() == [
        {
            "review_id": review["review_id"],
            "item_id": waffle["id"],
            "item_name": "마지막 이름",
            "comment": "나중",
            "rating": 4,
        }
    ]
    assert_error(
        await writer.request("POST", f"/api/items/{waffle['id']}/reviews", json=VALID_REVIEW),
        *ERR_013,
    )
    assert (await writer.request("DELETE", path)).status_code == 204
    assert_error(await client.get(path), *ERR_022)
    assert (await writer.request("GET", "/api/users/me/reviews")).json() == []


async def test_my_reviews_oldest_first_and_only_mine(client: httpx.AsyncClient) -> None:
    _, _, items = await open_shop(client, ("하나", 1, 1), ("두울", 1, 1), ("세엣", 1, 1))
    writer, other = await sign_up_many(client, 2)
    await writer.set_nickname()
    await other.set_nickname()
    await write(other, items[0]["id"])
    written = [
        await write(writer, item["id"], rating=rating)
        for item, rating in ((items[2], 3), (items[0], 1), (items[1], 2))
    ]

    response = await writer.request("GET", "/api/users/me/reviews")

    assert response.status_code == 200
    assert [review.keys() for review in response.json()] == [MY_REVIEW_KEYS] * 3
    assert response.json() == [
        {
            "review_id": review["review_id"],
            "item_id": review["item_id"],
            "item_name": name,
            "comment": review["comment"],
            "rating": review["rating"],
        }
        for review, name in zip(written, ("세엣", "하나", "두울"), strict=True)
    ]
