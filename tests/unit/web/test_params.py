"""Parameters read the same whichever body format a client sends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlencode

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from web.api.errors import ApiError
from web.api.params import read_params


async def echo(request: Request) -> JSONResponse:
    try:
        params = await read_params(request)
        return JSONResponse(
            {
                "status": params.text("status"),
                "media_ids": params.strings("media_ids"),
                "sensitive": params.flag("sensitive"),
                "poll": params.mapping("poll"),
                "fields": params.items("fields_attributes"),
            }
        )
    except ApiError as exc:
        return JSONResponse({"error": exc.message}, status_code=exc.status)


app = Starlette(routes=[Route("/echo", echo, methods=["GET", "POST", "DELETE"])])


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


EXPECTED = {
    "status": "Hallo",
    "media_ids": ["1", "2"],
    "sensitive": True,
    "poll": {"options": ["a", "b"], "expires_in": "300"},
    "fields": [{"name": "Team", "value": "HR"}],
}


async def test_mastodon_py_form_with_bracket_arrays_and_numeric_booleans(
    client: httpx.AsyncClient,
) -> None:
    body = [
        ("status", "Hallo"),
        ("media_ids[]", "1"),
        ("media_ids[]", "2"),
        ("sensitive", "1"),
        ("poll[options][]", "a"),
        ("poll[options][]", "b"),
        ("poll[expires_in]", "300"),
        ("fields_attributes[0][name]", "Team"),
        ("fields_attributes[0][value]", "HR"),
    ]
    encoded = urlencode(body).encode()
    headers = {"content-type": "application/x-www-form-urlencoded"}
    response = await client.post("/echo", content=encoded, headers=headers)
    assert response.json() == EXPECTED


async def test_toot_json_with_native_arrays(client: httpx.AsyncClient) -> None:
    body = {
        "status": "Hallo",
        "media_ids": ["1", "2"],
        "sensitive": True,
        "poll": {"options": ["a", "b"], "expires_in": "300"},
        "fields_attributes": [{"name": "Team", "value": "HR"}],
    }
    assert (await client.post("/echo", json=body)).json() == EXPECTED


async def test_query_string_only_like_ice_cubes(client: httpx.AsyncClient) -> None:
    query = (
        "status=Hallo&media_ids[]=1&media_ids[]=2&sensitive=true"
        "&poll[options][]=a&poll[options][]=b&poll[expires_in]=300"
        "&fields_attributes[0][name]=Team&fields_attributes[0][value]=HR"
    )
    assert (await client.post("/echo?" + query)).json() == EXPECTED


async def test_multipart_form(client: httpx.AsyncClient) -> None:
    files = {"status": (None, "Hallo"), "sensitive": (None, "true")}
    got = (await client.post("/echo", files=files)).json()
    assert got["status"] == "Hallo"
    assert got["sensitive"] is True


async def test_delete_with_form_body(client: httpx.AsyncClient) -> None:
    response = await client.request("DELETE", "/echo", data={"status": "Hallo"})
    assert response.json()["status"] == "Hallo"


@pytest.mark.parametrize(
    ("body", "status"),
    [(b"{not json", 400), (b"[1, 2]", 400)],
)
async def test_malformed_json_is_a_4xx(client: httpx.AsyncClient, body: bytes, status: int) -> None:
    response = await client.post(
        "/echo", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == status
    assert "error" in response.json()


async def test_wrong_type_is_a_422(client: httpx.AsyncClient) -> None:
    response = await client.post("/echo", json={"status": {"nested": 1}})
    assert response.status_code == 422
    assert response.json()["error"].startswith("Validation failed")


async def test_unparseable_boolean_is_a_422(client: httpx.AsyncClient) -> None:
    response = await client.post("/echo", data={"sensitive": "perhaps"})
    assert response.status_code == 422
