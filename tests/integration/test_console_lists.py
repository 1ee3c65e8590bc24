"""The console's lists over HTTP on both databases: wrap-up codes, canned replies and the knowledge base.

Agents read; administrators write (audited); anonymous callers get 401. Deactivation keeps history.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from contact_center.console.codes import active_code
from contact_center.db.models import Conversation, Message, WrapUpCode
from tests.conftest import bearer

CODE_LISTS = [
    ("/api/dispositions", "disposition"),
    ("/api/contact-reasons", "contact_reason"),
    ("/api/away-reasons", "away_reason"),
]


@pytest.fixture
def agent(staff):
    return bearer(staff["agent"]["token"])


@pytest.fixture
def admin(staff):
    return bearer(staff["admin"]["token"])


async def post(client, path, headers, body, status=201):
    response = await client.post(path, headers=headers, json=body)
    assert response.status == status, await response.text()
    return await response.json()


async def put(client, path, headers, body, status=200):
    response = await client.put(path, headers=headers, json=body)
    assert response.status == status, await response.text()
    return await response.json()


async def get(client, path, headers, status=200, **params):
    response = await client.get(path, headers=headers, params=params)
    assert response.status == status, await response.text()
    return await response.json()


async def audit_actions(client, admin, prefix: str) -> list[str]:
    """The audit log's actions on one kind of thing, oldest first."""
    entries = reversed(await get(client, "/api/audit", admin))
    return [e["action"] for e in entries if e["action"].startswith(prefix)]


async def conversation_with(sessions, clock, customer_id, subject, messages) -> int:
    """A stored conversation with (direction, body) messages, oldest first."""
    async with sessions.begin() as db:
        conversation = Conversation(
            customer_id=customer_id,
            channel="chat",
            subject=subject,
            started_at=clock.now(),
            last_activity_at=clock.now(),
        )
        db.add(conversation)
        await db.flush()
        for n, (direction, body) in enumerate(messages):
            db.add(
                Message(
                    conversation_id=conversation.id,
                    channel="chat",
                    direction=direction,
                    author_kind="customer" if direction == "in" else "agent",
                    body=body,
                    created_at=clock.now() + timedelta(seconds=n),
                )
            )
        return conversation.id


# Wrap-up codes


@pytest.mark.parametrize(("path", "kind"), CODE_LISTS)
async def test_agents_see_active_codes_in_order_and_admins_see_all_with_all_1(
    client, agent, admin, path, kind
):
    second = await post(client, path, admin, {"code": "second", "label": "Second", "position": 20})
    first = await post(client, path, admin, {"code": "first", "label": "First", "position": 10})
    last = await post(client, path, admin, {"code": "appended", "label": "After the others"})
    assert last["position"] == 21 and first["kind"] == kind
    assert (await client.delete(f"{path}/{second['id']}", headers=admin)).status == 204

    listed = await get(client, path, agent)
    assert [c["code"] for c in listed] == ["first", "appended"]
    everything = await get(client, path, admin, all="1")
    assert [(c["code"], c["active"]) for c in everything] == [
        ("first", True),
        ("second", False),
        ("appended", True),
    ]
    assert (await client.get(path, headers=agent, params={"all": "1"})).status == 403


async def test_each_list_holds_only_its_own_kind(client, agent, admin):
    await post(client, "/api/dispositions", admin, {"code": "resolved", "label": "Resolved"})
    reason = await post(client, "/api/contact-reasons", admin, {"code": "resolved", "label": "Also fine"})
    assert [c["label"] for c in await get(client, "/api/dispositions", agent)] == ["Resolved"]
    assert (await client.delete(f"/api/dispositions/{reason['id']}", headers=admin)).status == 404
    assert (
        await client.put(f"/api/away-reasons/{reason['id']}", headers=admin, json={"label": "x"})
    ).status == 404


async def test_agents_cannot_change_codes_and_anonymous_callers_cannot_read_them(client, agent, admin):
    row = await post(client, "/api/dispositions", admin, {"code": "resolved", "label": "Resolved"})
    assert (await client.get("/api/dispositions")).status == 401
    assert (
        await client.post("/api/dispositions", headers=agent, json={"code": "x", "label": "X"})
    ).status == 403
    assert (
        await client.put(f"/api/dispositions/{row['id']}", headers=agent, json={"label": "X"})
    ).status == 403
    assert (await client.delete(f"/api/dispositions/{row['id']}", headers=agent)).status == 403
    assert [c["label"] for c in await get(client, "/api/dispositions", agent)] == ["Resolved"]


async def test_a_duplicate_code_is_409_even_when_the_first_was_deactivated(client, admin):
    row = await post(client, "/api/dispositions", admin, {"code": "resolved", "label": "Resolved"})
    duplicate = await post(client, "/api/dispositions", admin, {"code": "resolved", "label": "Again"}, 409)
    assert duplicate["error"]["code"] == "conflict"
    assert (await client.delete(f"/api/dispositions/{row['id']}", headers=admin)).status == 204
    again = await post(client, "/api/dispositions", admin, {"code": "resolved", "label": "Again"}, 409)
    assert "deactivated" in again["error"]["message"]


@pytest.mark.parametrize(
    "body",
    [
        {"code": "Resolved", "label": "Upper case"},
        {"code": "no answer", "label": "Space"},
        {"code": "x" * 65, "label": "Too long"},
        {"code": "", "label": "Empty"},
        {"code": "ok", "label": ""},
        {"code": "ok"},
        {"code": "ok", "label": "Fine", "colour": "red"},
        {"code": "ok", "label": "Fine", "position": -1},
    ],
)
async def test_invalid_codes_are_422_and_nothing_is_stored(client, admin, sessions, body):
    problem = await post(client, "/api/dispositions", admin, body, 422)
    assert problem["error"]["details"]["problems"]
    async with sessions() as db:
        assert (await db.execute(select(WrapUpCode))).first() is None


async def test_a_code_never_changes_but_its_label_and_place_do_and_it_comes_back(client, agent, admin):
    row = await post(client, "/api/contact-reasons", admin, {"code": "billing", "label": "Billing"})
    path = f"/api/contact-reasons/{row['id']}"
    refused = await put(client, path, admin, {"code": "invoices", "label": "Invoices"}, 409)
    assert "cannot be changed" in refused["error"]["message"]
    changed = await put(
        client, path, admin, {"code": "billing", "label": "Invoices and payments", "position": 5}
    )
    assert (changed["code"], changed["label"], changed["position"]) == ("billing", "Invoices and payments", 5)
    assert (await client.delete(path, headers=admin)).status == 204
    assert (await client.delete(path, headers=admin)).status == 204  # deactivating twice changes nothing
    assert await get(client, "/api/contact-reasons", agent) == []
    back = await put(client, path, admin, {"label": "Billing", "active": True})
    assert back["active"] and back["position"] == 5
    assert await audit_actions(client, admin, "wrap_up_code.") == [
        "wrap_up_code.created",
        "wrap_up_code.updated",
        "wrap_up_code.deactivated",
        "wrap_up_code.updated",
    ]


async def test_active_code_finds_only_active_codes_of_the_kind(client, admin, sessions):
    row = await post(client, "/api/dispositions", admin, {"code": "escalated", "label": "Escalated"})
    async with sessions() as db:
        found = await active_code(db, "disposition", "escalated")
        assert found is not None and found.label == "Escalated"
        assert await active_code(db, "contact_reason", "escalated") is None
        assert await active_code(db, "disposition", "nope") is None
    await client.delete(f"/api/dispositions/{row['id']}", headers=admin)
    async with sessions() as db:
        assert await active_code(db, "disposition", "escalated") is None


# Canned replies


async def test_canned_replies_are_found_by_shortcut_title_or_body_in_any_case(client, agent, admin):
    refund = await post(
        client,
        "/api/canned-replies",
        admin,
        {"shortcut": "refund", "title": "Refund policy", "body": "Refunds take 5 working days."},
    )
    assert refund["shortcut"] == "/refund"
    await post(
        client,
        "/api/canned-replies",
        admin,
        {"shortcut": "/hola", "title": "Saludo", "body": "¡Hola {{customer.first_name}}!", "language": "es"},
    )
    await post(
        client,
        "/api/canned-replies",
        admin,
        {"shortcut": "/delivery", "title": "Delivery", "body": "No refund on delivery costs. ÜBER."},
    )

    async def shortcuts(**params):
        return [r["shortcut"] for r in await get(client, "/api/canned-replies", agent, **params)]

    assert await shortcuts() == ["/delivery", "/hola", "/refund"]
    assert await shortcuts(q="REFUND") == ["/refund", "/delivery"]  # shortcut match before body match
    assert await shortcuts(q="/ref") == ["/refund"]
    assert await shortcuts(q="über") == ["/delivery"]
    assert await shortcuts(language="es") == ["/delivery", "/hola", "/refund"]  # unset language: any
    assert await shortcuts(q="saludo", language="en") == []
    assert (
        await client.get("/api/canned-replies", params={"language": "not a language"}, headers=agent)
    ).status == 422


async def test_canned_reply_rules_duplicates_unknown_placeholders_and_rights(client, agent, admin):
    body = {"shortcut": "/greet", "title": "Greeting", "body": "Hello {{customer.first_name}}"}
    created = await post(client, "/api/canned-replies", admin, body)
    assert created["placeholders"] == ["customer.first_name"]
    assert (await post(client, "/api/canned-replies", admin, {**body, "shortcut": "GREET"}, 409))["error"][
        "code"
    ] == "conflict"
    unknown = await post(
        client, "/api/canned-replies", admin, {**body, "shortcut": "x", "body": "Hi {{customer.age}}"}, 422
    )
    message = unknown["error"]["details"]["problems"][0]["message"]
    assert (
        "customer.age" in message
        and "{{customer.first_name}}" in message
        and "{{conversation.id}}" in message
    )
    assert await post(client, "/api/canned-replies", admin, {**body, "shortcut": "a b"}, 422)
    assert (
        await client.post("/api/canned-replies", headers=agent, json={**body, "shortcut": "y"})
    ).status == 403
    assert (await client.get("/api/canned-replies")).status == 401
    other = await post(client, "/api/canned-replies", admin, {**body, "shortcut": "/other"})
    clash = await put(
        client, f"/api/canned-replies/{other['id']}", admin, {**body, "shortcut": "/greet"}, 409
    )
    assert "taken" in clash["error"]["message"]


async def test_deactivated_canned_reply_is_hidden_from_agents_and_kept(client, agent, admin):
    row = await post(
        client, "/api/canned-replies", admin, {"shortcut": "/old", "title": "Old", "body": "Old text"}
    )
    assert (await client.delete(f"/api/canned-replies/{row['id']}", headers=agent)).status == 403
    assert (await client.delete(f"/api/canned-replies/{row['id']}", headers=admin)).status == 204
    assert await get(client, "/api/canned-replies", agent) == []
    assert (await client.get(f"/api/canned-replies/{row['id']}", headers=agent)).status == 404
    kept = await get(client, "/api/canned-replies", admin, all="1")
    assert [(r["shortcut"], r["active"]) for r in kept] == [("/old", False)]
    edited = await put(
        client, f"/api/canned-replies/{row['id']}", admin, {"shortcut": "/old", "title": "T", "body": "B"}
    )
    assert edited["active"] is False  # an edit leaves the active flag alone unless it is given
    assert await audit_actions(client, admin, "canned_reply.") == [
        "canned_reply.created",
        "canned_reply.deactivated",
        "canned_reply.updated",
    ]


async def test_rendering_fills_customer_agent_and_conversation_and_blanks_what_is_unknown(
    client, agent, admin, sessions, clock
):
    text = (
        "Hi {{customer.first_name}} {{ customer.last_name }} ({{customer.name}}), I'm {{agent.first_name}} "
        "({{agent.name}}), about #{{conversation.id}} '{{conversation.subject}}'."
    )
    reply = await post(
        client, "/api/canned-replies", admin, {"shortcut": "/all", "title": "All", "body": text}
    )
    known = await post(client, "/api/customers", agent, {"given_name": "Ana", "family_name": "García"})
    anonymous = await post(client, "/api/customers", agent, {"display_name": "+1 415 555 0100"})
    first = await conversation_with(sessions, clock, known["id"], "Machine shows E4", [])
    second = await conversation_with(sessions, clock, anonymous["id"], "", [])

    rendered = await post(
        client, f"/api/canned-replies/{reply['id']}/render", agent, {"conversation_id": first}, 200
    )
    assert rendered["text"] == (
        f"Hi Ana García (Ana García), I'm Agent (Agent), about #{first} 'Machine shows E4'."
    )
    blank = await post(
        client, f"/api/canned-replies/{reply['id']}/render", agent, {"conversation_id": second}, 200
    )
    assert blank["text"] == f"Hi   (+1 415 555 0100), I'm Agent (Agent), about #{second} ''."
    assert "{{" not in blank["text"]

    missing = await client.post(
        f"/api/canned-replies/{reply['id']}/render", headers=agent, json={"conversation_id": 999}
    )
    assert missing.status == 404
    assert (
        await client.post("/api/canned-replies/999/render", headers=agent, json={"conversation_id": first})
    ).status == 404
    assert (
        await client.post(f"/api/canned-replies/{reply['id']}/render", headers=agent, json={})
    ).status == 422
    await client.delete(f"/api/canned-replies/{reply['id']}", headers=admin)
    gone = await client.post(
        f"/api/canned-replies/{reply['id']}/render", headers=agent, json={"conversation_id": first}
    )
    assert gone.status == 404


# Knowledge base


ARTICLES = [
    (
        "Descaling your espresso machine",
        "Limescale builds up in every machine.\n\nRun the **descaling programme** every two months. "
        "Error E4 means the machine needs descaling now.",
        ["descale", "E4"],
    ),
    ("Warranty terms", "Every machine has a two-year warranty.", ["warranty"]),
    ("Delivery times", "Orders arrive in 2-3 working days.", ["delivery"]),
    ("Error codes", "E1 means the tank is empty. E2 means the grinder is blocked.", ["errors"]),
]


async def make_kb(client, admin) -> dict:
    machines = await post(client, "/api/knowledge/categories", admin, {"name": "Machines"})
    care = await post(
        client, "/api/knowledge/categories", admin, {"name": "Care", "parent_id": machines["id"]}
    )
    orders = await post(client, "/api/knowledge/categories", admin, {"name": "Orders"})
    ids = []
    for n, (title, body, tags) in enumerate(ARTICLES):
        category = [care, machines, orders, machines][n]["id"]
        row = await post(
            client,
            "/api/knowledge/articles",
            admin,
            {"title": title, "body": body, "tags": tags, "category_id": category},
        )
        ids.append(row["id"])
    draft = await post(
        client,
        "/api/knowledge/articles",
        admin,
        {
            "title": "Descaling E4 draft",
            "body": "descaling E4 descaling",
            "published": False,
            "category_id": care["id"],
        },
    )
    return {"machines": machines, "care": care, "orders": orders, "articles": ids, "draft": draft["id"]}


async def test_category_tree_is_nested_with_article_counts(client, agent, admin):
    kb = await make_kb(client, admin)
    tree = await get(client, "/api/knowledge/categories", agent)
    assert [(c["name"], c["article_count"]) for c in tree] == [("Machines", 2), ("Orders", 1)]
    assert [(c["name"], c["article_count"]) for c in tree[0]["children"]] == [("Care", 2)]
    assert tree[0]["children"][0]["parent_id"] == kb["machines"]["id"]


async def test_category_delete_is_refused_while_it_has_articles_or_children(client, admin):
    kb = await make_kb(client, admin)
    refused = await client.delete(f"/api/knowledge/categories/{kb['machines']['id']}", headers=admin)
    assert refused.status == 409
    assert (await refused.json())["error"]["details"] == {"articles": 2, "subcategories": 1}
    empty = await post(
        client, "/api/knowledge/categories", admin, {"name": "Empty", "parent_id": kb["orders"]["id"]}
    )
    assert (
        await client.delete(f"/api/knowledge/categories/{kb['orders']['id']}", headers=admin)
    ).status == 409
    assert (await client.delete(f"/api/knowledge/categories/{empty['id']}", headers=admin)).status == 204
    assert (await client.delete(f"/api/knowledge/categories/{empty['id']}", headers=admin)).status == 404
    assert (await audit_actions(client, admin, "kb_category."))[-1] == "kb_category.deleted"


async def test_a_category_cannot_move_under_itself_or_a_missing_parent(client, admin):
    kb = await make_kb(client, admin)
    machines = kb["machines"]["id"]
    loop = await put(
        client,
        f"/api/knowledge/categories/{machines}",
        admin,
        {"name": "M", "parent_id": kb["care"]["id"]},
        422,
    )
    assert "itself" in loop["error"]["message"]
    await put(
        client, f"/api/knowledge/categories/{machines}", admin, {"name": "M", "parent_id": machines}, 422
    )
    await put(client, f"/api/knowledge/categories/{machines}", admin, {"name": "M", "parent_id": 999}, 422)
    moved = await put(
        client, f"/api/knowledge/categories/{kb['care']['id']}", admin, {"name": "Care", "parent_id": None}
    )
    assert moved["parent_id"] is None


async def test_agents_see_published_articles_only_and_admins_see_drafts(client, agent, admin):
    kb = await make_kb(client, admin)
    titles = [a["title"] for a in await get(client, "/api/knowledge/articles", agent)]
    assert "Descaling E4 draft" not in titles and len(titles) == 4
    assert (await client.get(f"/api/knowledge/articles/{kb['draft']}", headers=agent)).status == 404
    assert len(await get(client, "/api/knowledge/articles", admin)) == 5
    draft = await get(client, f"/api/knowledge/articles/{kb['draft']}", admin)
    assert draft["published"] is False and draft["body"] == "descaling E4 descaling"


async def test_category_filter_includes_subcategories(client, agent, admin):
    kb = await make_kb(client, admin)
    under_machines = await get(
        client, "/api/knowledge/articles", agent, category_id=str(kb["machines"]["id"])
    )
    assert sorted(a["title"] for a in under_machines) == [
        "Descaling your espresso machine",
        "Error codes",
        "Warranty terms",
    ]
    under_care = await get(client, "/api/knowledge/articles", agent, category_id=str(kb["care"]["id"]))
    assert [a["title"] for a in under_care] == ["Descaling your espresso machine"]
    assert (
        await client.get("/api/knowledge/articles", headers=agent, params={"category_id": "999"})
    ).status == 404


async def test_article_search_ranks_with_scores_and_excerpts(client, agent, admin):
    await make_kb(client, admin)
    found = await get(client, "/api/knowledge/articles", agent, q="warranty machine")
    assert found[0]["title"] == "Warranty terms" and found[0]["score"] > 0
    assert "warranty" in found[0]["excerpt"]
    assert await get(client, "/api/knowledge/articles", agent, q="zebra") == []


async def test_article_html_is_rendered_and_harmless(client, agent, admin):
    body = (
        "# Title\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1))\n\n<img src=x onerror=alert(1)>\n\n"
        "[shop](https://shop.example)"
    )
    row = await post(client, "/api/knowledge/articles", admin, {"title": "XSS", "body": body})
    article = await get(client, f"/api/knowledge/articles/{row['id']}", agent)
    html = article["html"]
    assert article["body"] == body
    assert "<h1>Title</h1>" in html
    assert "<script" not in html and "<img" not in html and 'href="javascript' not in html
    assert "&lt;script&gt;" in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert '<a href="https://shop.example" rel="noopener noreferrer">shop</a>' in html


async def test_article_validation_rights_update_and_delete_are_audited(client, agent, admin):
    assert (await client.post("/api/knowledge/articles", headers=agent, json={"title": "T"})).status == 403
    assert (await client.get("/api/knowledge/articles")).status == 401
    await post(client, "/api/knowledge/articles", admin, {"title": ""}, 422)
    await post(client, "/api/knowledge/articles", admin, {"title": "T", "category_id": 999}, 422)
    await post(client, "/api/knowledge/articles", admin, {"title": "T", "tags": ["x" * 41]}, 422)
    row = await post(
        client, "/api/knowledge/articles", admin, {"title": "T", "tags": ["Descale", "descale ", "E4"]}
    )
    assert row["tags"] == ["Descale", "E4"]
    changed = await put(
        client,
        f"/api/knowledge/articles/{row['id']}",
        admin,
        {"title": "T2", "body": "*b*", "published": False},
    )
    assert changed["title"] == "T2" and changed["html"] == "<p><em>b</em></p>\n" and not changed["published"]
    assert (await client.delete(f"/api/knowledge/articles/{row['id']}", headers=agent)).status == 403
    assert (await client.delete(f"/api/knowledge/articles/{row['id']}", headers=admin)).status == 204
    assert (await client.get(f"/api/knowledge/articles/{row['id']}", headers=admin)).status == 404
    assert await audit_actions(client, admin, "kb_") == [
        "kb_article.created",
        "kb_article.updated",
        "kb_article.deleted",
    ]


async def test_suggestions_for_a_conversation_put_the_descaling_article_first(
    client, agent, admin, sessions, clock
):
    kb = await make_kb(client, admin)
    customer = await post(client, "/api/customers", agent, {"display_name": "Ana"})
    conversation = await conversation_with(
        sessions,
        clock,
        customer["id"],
        "",
        [
            ("in", "Hello, my machine needs descaling, error E4"),
            ("out", "Our warranty and delivery times are on the website."),  # the agent's words do not count
        ],
    )
    suggested = await get(client, "/api/knowledge/suggest", agent, conversation_id=str(conversation))
    assert suggested[0]["id"] == kb["articles"][0]
    assert set(suggested[0]) == {"id", "title", "kind", "score", "excerpt"}
    assert kb["draft"] not in {s["id"] for s in suggested}
    assert kb["articles"][2] not in {s["id"] for s in suggested}  # delivery shares no word with the customer
    assert all(s["score"] > 0 for s in suggested) and len(suggested) <= 5


async def test_suggestions_for_a_text_and_bad_requests(client, agent, admin):
    kb = await make_kb(client, admin)
    by_text = await get(client, "/api/knowledge/suggest", agent, text="How long is the warrenty?")
    assert [s["id"] for s in by_text] == [kb["articles"][1]]
    assert await get(client, "/api/knowledge/suggest", agent, text="zebra") == []
    assert (await client.get("/api/knowledge/suggest", headers=agent)).status == 422
    assert (
        await client.get("/api/knowledge/suggest", headers=agent, params={"conversation_id": "999"})
    ).status == 404
    assert (await client.get("/api/knowledge/suggest", params={"text": "x"})).status == 401


async def test_only_the_last_20_customer_messages_count(client, agent, admin, sessions, clock):
    kb = await make_kb(client, admin)
    customer = await post(client, "/api/customers", agent, {"display_name": "Ana"})
    messages = [("in", "descaling descaling E4")] + [("in", "what about the warranty?")] * 20
    conversation = await conversation_with(sessions, clock, customer["id"], "", messages)
    suggested = await get(client, "/api/knowledge/suggest", agent, conversation_id=str(conversation))
    assert [s["id"] for s in suggested] == [kb["articles"][1]]


# Demo data


async def counts(sessions) -> dict[str, int]:
    from sqlalchemy import func

    from contact_center.db.models import CannedReply, KnowledgeArticle, KnowledgeCategory

    async with sessions() as db:
        return {
            model.__name__: (await db.execute(select(func.count()).select_from(model))).scalar_one()
            for model in (WrapUpCode, CannedReply, KnowledgeCategory, KnowledgeArticle)
        }


async def test_demo_seed_fills_the_console_lists_once(sessions, ctx):
    from contact_center.console.canned import CannedReplyIn
    from contact_center.db.models import CannedReply
    from contact_center.demo.seed import seed_demo
    from contact_center.knowledge.categories import category_tree
    from contact_center.knowledge.service import suggest

    assert await seed_demo(sessions, ctx, customers=2)
    first = await counts(sessions)
    assert not await seed_demo(sessions, ctx, customers=2)
    assert await counts(sessions) == first
    assert 8 <= first["CannedReply"] <= 12 and first["KnowledgeArticle"] >= 10

    async with sessions() as db:
        assert await active_code(db, "away_reason", "missed_offers") is not None
        for kind, code in [("disposition", "callback_promised"), ("contact_reason", "warranty")]:
            assert await active_code(db, kind, code) is not None
        for reply in (await db.execute(select(CannedReply))).scalars():
            CannedReplyIn(shortcut=reply.shortcut, title=reply.title, body=reply.body)  # placeholders known
        tree = await category_tree(db)
        assert any(c["children"] for c in tree)
        best = await suggest(db, None, "my machine needs descaling, error E4")
    assert best[0]["title"] == "Descaling your espresso machine (error E4)"
