"""Bad input to every API route gets a 4xx with a reason and writes nothing."""

import json

import pytest
from sqlalchemy import func, select

from contact_center.db.base import Base
from contact_center.web.appkeys import ENDPOINTS
from tests.conftest import bearer

# A valid body for each route that needs one, so an unknown id is reached (bodies are checked first).
VALID_BODIES = {
    "/api/customers/{id}/identities": {"kind": "email", "value": "someone@example.com"},
    "/api/customers/{id}/notes": {"body": "a note"},
    "/api/customers/{id}/orders": {"order_number": "N-1", "ordered_at": "2026-01-01T00:00:00Z"},
    "/api/queues/{id}": {"name": "general"},
    "/api/routing/agents/{id}/presence": {"presence": "available"},
    "/api/conversations/{conversation_id}/sms": {"body": "hello"},
    "/api/conversations/{conversation_id}/email": {"body": "hello"},
    "/api/dispositions/{id}": {"label": "Resolved"},
    "/api/contact-reasons/{id}": {"label": "Billing"},
    "/api/away-reasons/{id}": {"label": "Lunch"},
    "/api/canned-replies/{id}": {"shortcut": "/hello", "title": "Hello", "body": "Hello"},
    "/api/canned-replies/{id}/render": {"conversation_id": 1},
    "/api/knowledge/categories/{id}": {"name": "Machines"},
    "/api/knowledge/articles/{id}": {"title": "Descaling"},
    "/api/tickets/{id}": {"priority": "high"},
    "/api/tickets/{id}/actions": {"action": "start"},
    "/api/tickets/{id}/escalate": {"reason": "angry customer"},
    "/api/tickets/{id}/notes": {"text": "a note"},
    "/api/tickets/{id}/replies": {"text": "hello"},
    "/api/tickets/{id}/conversations": {"conversation_id": 1},
    "/api/ticket-categories/{id}": {
        "code": "warranty",
        "label": "Warranty",
        "tiers": [{"tier": 1, "name": "L1", "queue": "general"}],
    },
    "/api/tickets/{ticket_id}/articles": {"article_id": 1},
    "/api/business-calendars/{id}": {"name": "Office", "hours": {"mon": [["09:00", "17:00"]]}},
    "/api/sla-policies/{id}": {"name": "Standard", "first_response_minutes": 60},
}


async def row_counts(sessions) -> dict[str, int]:
    async with sessions() as db:
        return {
            t.name: (await db.execute(select(func.count()).select_from(t))).scalar_one()
            for t in Base.metadata.sorted_tables
            if t.name not in {"sessions", "api_tokens"}
        }


def concrete(path: str) -> str:
    return (
        path.replace("{identity_id}", "1")
        .replace("{id}", "1")
        .replace("{reservation_id}", "0" * 32)
        .replace("{task_id}", "no-such-task")
        .replace("{conversation_id}", "1")
        .replace("{ticket_id}", "1")
    )


def body_endpoints(client):
    return [e for e in client.server.app[ENDPOINTS] if e.body is not None]


async def test_malformed_wrong_typed_foreign_and_oversized_bodies_on_every_route(
    client, staff, sessions, settings
):
    admin = bearer(staff["admin"]["token"])
    customer = await (
        await client.post("/api/customers", headers=admin, json={"display_name": "Cara"})
    ).json()
    assert customer["id"] == 1
    before = await row_counts(sessions)
    endpoints = body_endpoints(client)
    assert len(endpoints) >= 12
    for endpoint in endpoints:
        url, call = concrete(endpoint.path), client.request
        cases = [
            (400, {"data": b'{"broken": ', "headers": {**admin, "Content-Type": "application/json"}}),
            (422, {"data": b"[1, 2, 3]", "headers": {**admin, "Content-Type": "application/json"}}),
            (
                422,
                {
                    "data": json.dumps({"unexpected_field": True}),
                    "headers": {**admin, "Content-Type": "application/json"},
                },
            ),
            (
                415,
                {
                    "data": b"name=x",
                    "headers": {**admin, "Content-Type": "application/x-www-form-urlencoded"},
                },
            ),
            (
                413,
                {
                    "data": b'{"x": "' + b"y" * settings.max_body_bytes + b'"}',
                    "headers": {**admin, "Content-Type": "application/json"},
                },
            ),
        ]
        for expected, kwargs in cases:
            response = await call(endpoint.method, url, **kwargs)
            assert response.status == expected, (endpoint.method, endpoint.path, await response.text())
            assert (await response.json())["error"]["message"]
    assert await row_counts(sessions) == before


@pytest.mark.parametrize("unknown", ["999999", "0", "abc", "99999999999999999999999"])
async def test_unknown_ids_on_every_route_are_404(client, staff, sessions, unknown):
    admin = bearer(staff["admin"]["token"])
    before = await row_counts(sessions)
    checked = 0
    for endpoint in client.server.app[ENDPOINTS]:
        if "{id}" not in endpoint.path:
            continue
        url = endpoint.path.replace("{identity_id}", unknown).replace("{id}", unknown)
        body = VALID_BODIES.get(endpoint.path, {}) if endpoint.body is not None else None
        response = await client.request(
            endpoint.method, url, headers=admin, **({"json": body} if body is not None else {})
        )
        assert response.status == 404, (endpoint.method, endpoint.path, await response.text())
        checked += 1
    assert checked >= 15
    assert await row_counts(sessions) == before


async def test_inputs_the_api_fuzzer_found_get_a_reason_not_a_server_error(client, staff):
    """Found by tests/integration/test_api_fuzz.py (schemathesis); each was a 500 before."""
    admin = bearer(staff["admin"]["token"])
    huge = await client.post("/api/tickets", json={"customer_id": 2**70, "subject": "x"}, headers=admin)
    assert huge.status == 422
    assert (await huge.json())["error"]["details"]["problems"][0]["field"] == "customer_id"
    empty_identity = await client.post(
        "/api/contacts", json={"channel": "sms", "identities": [["phone", "  "]]}, headers=admin
    )
    assert empty_identity.status == 422
    first = await (
        await client.post("/api/customers", json={"display_name": "Ann One"}, headers=admin)
    ).json()
    second = await (
        await client.post("/api/customers", json={"display_name": "Ann Two"}, headers=admin)
    ).json()
    cleared = await client.patch(f"/api/customers/{second['id']}", json={"attributes": None}, headers=admin)
    assert cleared.status == 200 and (await cleared.json())["attributes"] == {}
    merged = await client.post(
        "/api/customers/merge", json={"survivor_id": first["id"], "merged_id": second["id"]}, headers=admin
    )
    assert merged.status in (200, 201), await merged.text()
    ticket = await (
        await client.post(
            "/api/tickets", json={"customer_id": first["id"], "subject": "Kettle"}, headers=admin
        )
    ).json()
    nulled = await client.patch(f"/api/tickets/{ticket['id']}", json={"subject": None}, headers=admin)
    assert nulled.status == 422 and "subject may not be null" in await nulled.text()
