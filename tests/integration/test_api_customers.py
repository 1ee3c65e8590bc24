"""The customer API: happy paths, and bad input that gets a 4xx with a reason and writes nothing."""

import pytest
from sqlalchemy import func, select

from contact_center.db.models import Customer, CustomerIdentity
from tests.conftest import bearer


@pytest.fixture
def agent(staff):
    return bearer(staff["agent"]["token"])


async def count(sessions, model):
    async with sessions() as db:
        return (await db.execute(select(func.count()).select_from(model))).scalar_one()


async def test_create_then_find_by_phone_email_and_misspelt_name(client, agent):
    created = await client.post(
        "/api/customers",
        headers=agent,
        json={
            "given_name": "Alice",
            "family_name": "Smith",
            "identities": [
                {"kind": "phone", "value": "+1 (415) 555-0100"},
                {"kind": "email", "value": "Alice@Example.COM"},
            ],
        },
    )
    assert created.status == 201
    alice = await created.json()
    assert alice["display_name"] == "Alice Smith"
    for q in ["415-555-0100", "alice@example.com", "ALICE@example.com"]:
        found = await (await client.get("/api/customers", params={"q": q}, headers=agent)).json()
        assert found["match"] == "identity" and found["items"][0]["id"] == alice["id"], q
    fuzzy = await (await client.get("/api/customers", params={"q": "Alica Smith"}, headers=agent)).json()
    assert fuzzy["match"] == "fuzzy" and fuzzy["items"][0]["customer_id"] == alice["id"]


async def test_screen_pop_resolve_merge_and_undo_over_http(client, staff, agent):
    a = await (
        await client.post(
            "/api/customers",
            headers=agent,
            json={"display_name": "Bob Stone", "identities": [{"kind": "phone", "value": "4155550111"}]},
        )
    ).json()
    b = await (
        await client.post(
            "/api/customers",
            headers=agent,
            json={
                "display_name": "Bob Stoner",
                "identities": [{"kind": "email", "value": "bob@example.com"}],
            },
        )
    ).json()
    order = await client.post(
        f"/api/customers/{b['id']}/orders",
        headers=agent,
        json={
            "order_number": "SO-1",
            "ordered_at": "2025-12-01T10:00:00Z",
            "items": [
                {
                    "sku": "K1",
                    "product_name": "Kettle",
                    "unit_price": "79.00",
                    "warranty_ends_on": "2027-12-01",
                }
            ],
        },
    )
    assert order.status == 201 and (await order.json())["total"] == "79.00"
    pop = await (await client.get(f"/api/customers/{a['id']}/360", headers=agent)).json()
    assert pop["possible_duplicates"][0]["customer_id"] == b["id"]
    resolved = await (
        await client.post(
            "/api/customers/resolve",
            headers=agent,
            json={"identities": [{"kind": "phone", "value": "tel:+14155550111"}]},
        )
    ).json()
    assert resolved["customer"]["id"] == a["id"]
    merged = await client.post(
        "/api/customers/merge", headers=agent, json={"survivor_id": a["id"], "merged_id": b["id"]}
    )
    assert merged.status == 201
    merge_id = (await merged.json())["id"]
    assert (await client.get(f"/api/customers/{b['id']}", headers=agent)).status == 404
    assert (await client.post(f"/api/merges/{merge_id}/undo", headers=agent)).status == 403
    undone = await client.post(f"/api/merges/{merge_id}/undo", headers=bearer(staff["supervisor"]["token"]))
    assert undone.status == 200
    back = await (await client.get(f"/api/customers/{b['id']}/orders", headers=agent)).json()
    assert [o["order_number"] for o in back] == ["SO-1"]


async def test_malformed_json_is_400(client, agent, sessions):
    response = await client.post(
        "/api/customers", headers={**agent, "Content-Type": "application/json"}, data=b'{"display_name": '
    )
    assert response.status == 400
    assert "malformed JSON" in (await response.json())["error"]["message"]
    assert await count(sessions, Customer) == 0


async def test_wrong_types_and_unknown_fields_are_422_naming_the_field(client, agent, sessions):
    response = await client.post("/api/customers", headers=agent, json={"display_name": 42, "shoe_size": 9})
    assert response.status == 422
    fields = {p["field"] for p in (await response.json())["error"]["details"]["problems"]}
    assert fields == {"display_name", "shoe_size"}
    assert await count(sessions, Customer) == 0


async def test_body_that_is_not_json_is_415(client, agent):
    response = await client.post("/api/customers", headers=agent, data={"display_name": "x"})
    assert response.status == 415


async def test_oversized_body_is_413(client, agent, sessions, settings):
    huge = {"display_name": "x", "attributes": {"blob": "y" * (settings.max_body_bytes + 10)}}
    response = await client.post("/api/customers", headers=agent, json=huge)
    assert response.status == 413
    assert "larger than" in (await response.json())["error"]["message"]
    assert await count(sessions, Customer) == 0


@pytest.mark.parametrize(
    "path",
    [
        "/api/customers/999",
        "/api/customers/abc",
        "/api/customers/999/360",
        "/api/orders/5",
        "/api/customers/-1",
        "/api/users/99999999999999999999",
    ],
)
async def test_unknown_ids_are_404(client, staff, path):
    response = await client.get(path, headers=bearer(staff["admin"]["token"]))
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "not_found"


async def test_duplicate_identity_is_409_and_nothing_partial_is_written(client, agent, sessions):
    await client.post(
        "/api/customers",
        headers=agent,
        json={"display_name": "First", "identities": [{"kind": "phone", "value": "4155550100"}]},
    )
    response = await client.post(
        "/api/customers",
        headers=agent,
        json={
            "display_name": "Second",
            "identities": [
                {"kind": "email", "value": "second@example.com"},
                {"kind": "phone", "value": "+1 415 555 0100"},
            ],
        },
    )
    assert response.status == 409
    assert "already belongs to customer" in (await response.json())["error"]["message"]
    assert await count(sessions, Customer) == 1
    assert await count(sessions, CustomerIdentity) == 1


async def test_invalid_identity_is_422_with_reason(client, agent, sessions):
    response = await client.post(
        "/api/customers",
        headers=agent,
        json={"display_name": "X", "identities": [{"kind": "phone", "value": "call me maybe"}]},
    )
    assert response.status == 422
    assert "phone" in (await response.json())["error"]["message"]
    assert await count(sessions, Customer) == 0


async def test_duplicate_order_number_is_409(client, agent):
    c = await (await client.post("/api/customers", headers=agent, json={"display_name": "O"})).json()
    body = {"order_number": "X-1", "ordered_at": "2026-01-01T00:00:00Z", "total": "10.00"}
    assert (await client.post(f"/api/customers/{c['id']}/orders", headers=agent, json=body)).status == 201
    assert (await client.post(f"/api/customers/{c['id']}/orders", headers=agent, json=body)).status == 409


async def test_order_without_time_zone_is_422(client, agent):
    c = await (await client.post("/api/customers", headers=agent, json={"display_name": "O"})).json()
    response = await client.post(
        f"/api/customers/{c['id']}/orders",
        headers=agent,
        json={"order_number": "X-2", "ordered_at": "2026-01-01T00:00:00"},
    )
    assert response.status == 422


async def test_query_parameters_are_validated(client, agent):
    response = await client.get("/api/customers", params={"limit": "many"}, headers=agent)
    assert response.status == 422
    response = await client.get("/api/customers", params={"limit": "1000"}, headers=agent)
    assert response.status == 422


async def test_listing_pages_with_after_id(client, agent):
    for n in range(5):
        await client.post("/api/customers", headers=agent, json={"display_name": f"Person {n}"})
    first = await (await client.get("/api/customers", params={"limit": "3"}, headers=agent)).json()
    second = await (
        await client.get(
            "/api/customers", params={"limit": "3", "after_id": first["next_after_id"]}, headers=agent
        )
    ).json()
    assert len(first["items"]) == 3 and len(second["items"]) == 2
    assert second["next_after_id"] is None


async def test_customer_history_records_the_acting_user(client, staff, agent):
    c = await (await client.post("/api/customers", headers=agent, json={"display_name": "H"})).json()
    await client.patch(f"/api/customers/{c['id']}", headers=agent, json={"language": "FR"})
    history = await (await client.get(f"/api/customers/{c['id']}/history", headers=agent)).json()
    assert history[0]["action"] == "updated" and history[0]["actor_id"] == staff["agent"]["id"]
    assert history[0]["details"]["changes"]["language"] == [None, "fr"]
