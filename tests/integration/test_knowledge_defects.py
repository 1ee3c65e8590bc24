"""The defect library, the category tree, articles linked to tickets, usage counts and ticket suggestions,
over HTTP on both databases.

Tickets are stored directly with the Ticket model: what is tested here is the knowledge base's side.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from contact_center.db.models import KnowledgeArticle, Ticket, TicketConversation, TicketEvent
from contact_center.events import Event
from contact_center.web.appkeys import EVENTS
from tests.conftest import bearer
from tests.integration.test_console_lists import conversation_with, get, post, put

KETTLE = {
    "kind": "defect",
    "title": "Kettle trips the circuit breaker",
    "symptom": "The kettle **trips the circuit breaker** (or the fuse box) as soon as it is switched on.",
    "cause": "Water got into the connector of the base.",
    "solution": "Stop using it and replace it under warranty.",
    "affected_products": ["KTL-5", "Kettle with temperature control"],
    "tags": ["breaker"],
}
ARTICLES = [
    {"title": "Warranty repair", "body": "Book the collection of the kettle or machine for a repair."},
    {"title": "Kettle temperature settings", "body": "Switch the kettle on and pick 70 to 100 degrees."},
    {"title": "Delivery times", "body": "Orders arrive within 2-3 working days."},
]


@pytest.fixture
def agent(staff):
    return bearer(staff["agent"]["token"])


@pytest.fixture
def admin(staff):
    return bearer(staff["admin"]["token"])


async def make_library(client, admin) -> dict[str, int]:
    """The kettle defect and three ordinary articles: {title: id}."""
    ids = {}
    for body in [KETTLE, *ARTICLES]:
        ids[body["title"]] = (await post(client, "/api/knowledge/articles", admin, body))["id"]
    return ids


async def make_ticket(sessions, clock, client, agent, subject="Kettle", description="") -> int:
    customer = await post(client, "/api/customers", agent, {"display_name": "Ana"})
    async with sessions.begin() as db:
        ticket = Ticket(
            customer_id=customer["id"],
            subject=subject,
            description=description,
            created_at=clock.now(),
            updated_at=clock.now(),
        )
        db.add(ticket)
        await db.flush()
        return ticket.id


def ticket_changes(app) -> list[dict]:
    """The payloads of "ticket.changed" events from now on."""
    heard: list[dict] = []

    async def listen(event: Event) -> None:
        heard.append(event.payload)

    app[EVENTS].subscribe("ticket.changed", listen)
    return heard


async def history(sessions, ticket_id) -> list[TicketEvent]:
    async with sessions() as db:
        statement = select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)
        return list((await db.execute(statement)).scalars())


# The defect library


async def test_a_defect_round_trips_and_shows_its_sections_as_safe_html(client, agent, admin):
    body = {
        **KETTLE,
        "symptom": KETTLE["symptom"] + " <script>alert(1)</script>",
        "solution": "[Replace it](javascript:alert(1)) under [warranty](https://shop.example/w).",
        "affected_products": [" KTL-5 ", "ktl-5", "Kettle  with temperature control"],
    }
    created = await post(client, "/api/knowledge/articles", admin, body)
    assert created["kind"] == "defect" and created["usage_count"] == 0
    assert created["affected_products"] == ["KTL-5", "Kettle with temperature control"]

    article = await get(client, f"/api/knowledge/articles/{created['id']}", agent)
    assert (article["symptom"], article["cause"]) == (body["symptom"], KETTLE["cause"])
    html = article["html"]
    assert html.index("<h2>Symptom</h2>") < html.index("<h2>Cause</h2>") < html.index("<h2>Solution</h2>")
    assert "<strong>trips the circuit breaker</strong>" in html
    assert "<script" not in html and "&lt;script&gt;" in html and 'href="javascript' not in html
    assert '<a href="https://shop.example/w" rel="noopener noreferrer">warranty</a>' in html

    changed = await put(
        client, f"/api/knowledge/articles/{created['id']}", admin, {**KETTLE, "cause": "A cracked seal."}
    )
    assert changed["cause"] == "A cracked seal." and "<p>A cracked seal.</p>" in changed["html"]
    listed = await get(client, "/api/knowledge/articles", agent)
    assert {k: listed[0][k] for k in ("kind", "affected_products", "usage_count")} == {
        "kind": "defect",
        "affected_products": KETTLE["affected_products"],
        "usage_count": 0,
    }
    assert "symptom" not in listed[0]  # the list stays light; the article has the texts


async def test_an_ordinary_article_has_no_defect_sections(client, agent, admin):
    created = await post(client, "/api/knowledge/articles", admin, {"title": "Plain", "body": "*x*"})
    article = await get(client, f"/api/knowledge/articles/{created['id']}", agent)
    assert article["kind"] == "article" and "symptom" not in article
    assert article["html"] == "<p><em>x</em></p>\n"


@pytest.mark.parametrize(
    "change",
    [
        {"symptom": ""},
        {"kind": "bug"},
        {"kind": "article"},  # symptom, cause and solution belong to defects
        {"affected_products": ["x" * 201]},
        {"affected_products": [""]},
        {"affected_products": ["KTL-5\x07"]},
        {"affected_products": [f"P{n}" for n in range(51)]},
        {"affected_products": "KTL-5"},
        {"symptom": "x" * 20_001},
        {"cause": "nul \x00 byte"},
    ],
)
async def test_invalid_defects_are_422_and_nothing_is_stored(client, admin, sessions, change):
    problem = await post(client, "/api/knowledge/articles", admin, {**KETTLE, **change}, 422)
    assert problem["error"]["details"]["problems"]
    async with sessions() as db:
        assert (await db.execute(select(KnowledgeArticle))).first() is None


async def test_articles_are_filtered_by_kind_and_by_product_name_or_sku(client, agent, admin):
    ids = await make_library(client, admin)

    async def titles(**params):
        return [a["title"] for a in await get(client, "/api/knowledge/articles", agent, **params)]

    assert await titles(kind="defect") == [KETTLE["title"]]
    assert KETTLE["title"] not in await titles(kind="article")
    assert await titles(product="ktl-5") == [KETTLE["title"]]
    assert await titles(product="KETTLE WITH TEMPERATURE CONTROL") == [KETTLE["title"]]
    assert await titles(product="ESP-900") == []
    assert await titles(q="kettle", kind="article") == ["Kettle temperature settings", "Warranty repair"]
    assert await titles(q="kettle", product="KTL-5") == [KETTLE["title"]]
    assert (await client.get("/api/knowledge/articles", headers=agent, params={"kind": "bug"})).status == 422
    assert ids


async def test_a_customer_describing_the_symptom_finds_the_defect_first(client, agent, admin):
    ids = await make_library(client, admin)
    text = "my kettle keeps tripping the fuse box when I switch it on"
    found = await get(client, "/api/knowledge/articles", agent, q=text)
    assert found[0]["id"] == ids[KETTLE["title"]] and len(found) > 1
    assert "trips the circuit breaker" in found[0]["excerpt"]  # the excerpt comes from the symptom
    suggested = await get(client, "/api/knowledge/suggest", agent, text=text)
    assert suggested[0] == {**suggested[0], "id": ids[KETTLE["title"]], "kind": "defect"}


# Categories several levels deep


async def test_the_category_tree_shows_each_categorys_path(client, agent, admin):
    products = await post(client, "/api/knowledge/categories", admin, {"name": "Products"})
    kettles = await post(
        client, "/api/knowledge/categories", admin, {"name": "Kettles", "parent_id": products["id"]}
    )
    await post(client, "/api/knowledge/categories", admin, {"name": "Repairs", "parent_id": kettles["id"]})
    await post(client, "/api/knowledge/categories", admin, {"name": "Orders"})

    tree = await get(client, "/api/knowledge/categories", agent)
    assert [(c["name"], c["path"]) for c in tree] == [("Products", "Products"), ("Orders", "Orders")]
    repairs = tree[0]["children"][0]["children"][0]
    assert repairs["path"] == "Products / Kettles / Repairs" and repairs["children"] == []


async def test_a_move_that_would_make_a_cycle_is_refused(client, agent, admin):
    top = await post(client, "/api/knowledge/categories", admin, {"name": "Products"})
    middle = await post(
        client, "/api/knowledge/categories", admin, {"name": "Kettles", "parent_id": top["id"]}
    )
    low = await post(
        client, "/api/knowledge/categories", admin, {"name": "Repairs", "parent_id": middle["id"]}
    )
    for parent in (low["id"], middle["id"], top["id"]):
        refused = await put(
            client, f"/api/knowledge/categories/{top['id']}", admin, {"name": "P", "parent_id": parent}, 422
        )
        assert "itself or one of its subcategories" in refused["error"]["message"]
    tree = await get(client, "/api/knowledge/categories", agent)
    assert tree[0]["children"][0]["children"][0]["path"] == "Products / Kettles / Repairs"  # unchanged


async def test_categories_nest_at_most_six_levels(client, admin):
    parent = None
    chain = []
    for level in range(1, 7):
        row = await post(
            client, "/api/knowledge/categories", admin, {"name": f"L{level}", "parent_id": parent}
        )
        chain.append(row["id"])
        parent = row["id"]
    too_deep = await post(
        client, "/api/knowledge/categories", admin, {"name": "L7", "parent_id": parent}, 422
    )
    assert "at most 6 levels" in too_deep["error"]["message"]
    assert too_deep["error"]["details"] == {"max_depth": 6, "parent_depth": 6}

    # A category with a subcategory (two levels) fits under level 4, not under level 5.
    branch = await post(client, "/api/knowledge/categories", admin, {"name": "B"})
    await post(client, "/api/knowledge/categories", admin, {"name": "B1", "parent_id": branch["id"]})
    path = f"/api/knowledge/categories/{branch['id']}"
    refused = await put(client, path, admin, {"name": "B", "parent_id": chain[4]}, 422)
    assert "1 level(s) of subcategories" in refused["error"]["message"]
    assert (await put(client, path, admin, {"name": "B", "parent_id": chain[3]}))["parent_id"] == chain[3]


# Articles on tickets


async def test_linking_an_article_twice_counts_one_use_and_writes_one_history_event(
    client, agent, admin, staff, sessions, clock
):
    ids = await make_library(client, admin)
    article = ids[KETTLE["title"]]
    ticket = await make_ticket(sessions, clock, client, agent)
    path = f"/api/tickets/{ticket}/articles"
    heard = ticket_changes(client.server.app)

    first = await post(client, path, agent, {"article_id": article}, 200)
    clock.advance(minutes=1)
    second = await post(client, path, agent, {"article_id": article}, 200)
    assert (first["linked"], second["linked"]) == (True, False)
    assert [a["id"] for a in second["articles"]] == [article]
    assert second["articles"][0]["usage_count"] == 1
    assert second["articles"][0]["linked_by"] == staff["agent"]["id"]
    events = await history(sessions, ticket)
    assert [(e.action, e.data, e.actor_id) for e in events] == [
        ("article_linked", {"article_id": article, "title": KETTLE["title"]}, staff["agent"]["id"])
    ]

    assert (await client.delete(f"{path}/{article}", headers=agent)).status == 204
    assert (await client.delete(f"{path}/{article}", headers=agent)).status == 204  # not linked: no change
    assert await get(client, path, agent) == []
    assert [e.action for e in await history(sessions, ticket)] == ["article_linked", "article_unlinked"]
    kept = await get(client, f"/api/knowledge/articles/{article}", agent)
    assert kept["usage_count"] == 1  # uses are not taken back
    await client.server.app[EVENTS].drain()
    assert heard == [
        {"ticket_id": ticket, "action": "article_linked"},
        {"ticket_id": ticket, "action": "article_unlinked"},
    ]


async def test_ticket_articles_answer_404_for_unknown_tickets_articles_and_drafts_for_agents(
    client, agent, admin, sessions, clock
):
    ids = await make_library(client, admin)
    draft = await post(client, "/api/knowledge/articles", admin, {"title": "Draft", "published": False})
    ticket = await make_ticket(sessions, clock, client, agent)
    article = ids["Warranty repair"]
    for method, path, body in [
        ("GET", "/api/tickets/999/articles", None),
        ("POST", "/api/tickets/999/articles", {"article_id": article}),
        ("POST", f"/api/tickets/{ticket}/articles", {"article_id": 999}),
        ("POST", f"/api/tickets/{ticket}/articles", {"article_id": draft["id"]}),
        ("DELETE", f"/api/tickets/999/articles/{article}", None),
        ("DELETE", f"/api/tickets/{ticket}/articles/999", None),
        ("DELETE", f"/api/tickets/{ticket}/articles/abc", None),
        ("GET", "/api/tickets/999/suggestions", None),
        ("GET", "/api/tickets/abc/suggestions", None),
        ("POST", "/api/knowledge/articles/999/use", None),
        ("POST", f"/api/knowledge/articles/{draft['id']}/use", None),
    ]:
        response = await client.request(method, path, headers=agent, json=body)
        assert response.status == 404, (method, path, await response.text())
    assert await history(sessions, ticket) == []
    linked = await post(client, f"/api/tickets/{ticket}/articles", admin, {"article_id": draft["id"]}, 200)
    assert linked["linked"]  # administrators see drafts, and may link them
    assert (await client.get(f"/api/tickets/{ticket}/articles")).status == 401


async def test_uses_are_counted_and_popular_articles_come_first(client, agent, admin, sessions, clock):
    ids = await make_library(client, admin)
    delivery, repair = ids["Delivery times"], ids["Warranty repair"]
    for _ in range(2):
        used = await post(client, f"/api/knowledge/articles/{delivery}/use", agent, None, 200)
    assert used == {"id": delivery, "usage_count": 2}
    ticket = await make_ticket(sessions, clock, client, agent)
    await post(client, f"/api/tickets/{ticket}/articles", agent, {"article_id": repair}, 200)

    popular = await get(client, "/api/knowledge/articles", agent, sort="popular")
    assert [(a["title"], a["usage_count"]) for a in popular][:3] == [
        ("Delivery times", 2),
        ("Warranty repair", 1),
        ("Kettle temperature settings", 0),  # the unused ones by title
    ]
    searched = await get(client, "/api/knowledge/articles", agent, q="kettle repair", sort="popular")
    assert searched[0]["title"] == "Warranty repair"


async def test_suggestions_for_a_ticket_come_from_its_text_notes_and_conversations(
    client, agent, admin, sessions, clock
):
    ids = await make_library(client, admin)
    defect = ids[KETTLE["title"]]
    ticket = await make_ticket(sessions, clock, client, agent, subject="Kettle", description="Bought in May")
    path = f"/api/tickets/{ticket}/suggestions"
    before = {s["id"]: s["score"] for s in await get(client, path, agent)}  # "kettle" alone: all kettles

    async with sessions.begin() as db:
        customer_id = (await db.get(Ticket, ticket)).customer_id
    conversation = await conversation_with(
        sessions,
        clock,
        customer_id,
        "",
        [("in", "Whenever I switch it on, it trips the fuse box"), ("out", "Delivery takes 2-3 days")],
    )
    async with sessions.begin() as db:
        db.add(TicketConversation(ticket_id=ticket, conversation_id=conversation, linked_at=clock.now()))
        db.add(TicketEvent(ticket_id=ticket, at=clock.now(), action="note", body="Circuit breaker again"))
        db.add(TicketEvent(ticket_id=ticket, at=clock.now(), action="status", body="delivery delivery"))

    suggested = await get(client, path, agent)
    assert suggested[0]["id"] == defect and suggested[0]["score"] > 5 * before[defect]
    assert set(suggested[0]) == {"id", "title", "kind", "score", "excerpt", "linked"}
    assert not suggested[0]["linked"]
    assert ids["Delivery times"] not in {s["id"] for s in suggested}  # agents' words and other events
    await post(client, f"/api/tickets/{ticket}/articles", agent, {"article_id": defect}, 200)
    assert (await get(client, path, agent, limit="1")) == [{**suggested[0], "linked": True}]
    assert (await client.get(path, headers=agent, params={"limit": "0"})).status == 422


# Demo data


async def test_the_demo_has_a_defect_library_that_answers_a_customers_symptom(sessions, ctx):
    from contact_center.demo.seed import seed_demo
    from contact_center.knowledge.categories import category_tree
    from contact_center.knowledge.service import list_articles, suggest_for_text

    assert await seed_demo(sessions, ctx, customers=2)
    async with sessions() as db:
        defects = await list_articles(db, None, None, include_unpublished=False, kind="defect")
        best = await suggest_for_text(db, "my kettle keeps tripping the fuse box when I switch it on")
        repair = await list_articles(db, "waranty repiar", None, include_unpublished=False)
        tree = await category_tree(db)
    assert len(defects) >= 3 and all(d["affected_products"] for d in defects)
    assert best[0]["title"] == "Kettle trips the circuit breaker when switched on"
    assert repair[0]["title"] == "Warranty repair"
    assert "Defect library / Kettles" in {c["path"] for top in tree for c in top["children"]}
