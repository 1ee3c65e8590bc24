"""Every route against anonymous, agent, supervisor and admin callers, with the expected status."""

import pytest

from tests.conftest import bearer

# Who may call each route: the lowest role (roles above it may too). Adding a route means adding it here.
EXPECTED = {
    "GET /": "public",
    "GET /healthz": "public",
    "GET /metrics": "public",
    "GET /socket.io/": "public",  # each namespace authenticates the socket itself
    "POST /socket.io/": "public",
    "POST /chat/files": "visitor",  # a chat visitor's token, or 403 for anyone
    "GET /chat/files/{message_id}/{file_id}": "public",  # checks the token or the user itself
    "GET /chat": "public",  # the customers' chat widget
    "GET /chat/widget.js": "public",
    "GET /login": "public",  # the sign-in page
    "GET /agent": "public",  # the console; sends anyone without a session to /login
    "GET /tickets": "public",  # the ticket screens; sends anyone without a session to /login
    "GET /tickets/{id}": "public",
    "GET /wallboard": "public",  # checks the session itself: /login without one, 403 for agents
    "GET /reports": "public",  # as /wallboard
    "GET /api/openapi.json": "public",
    "POST /api/auth/login": "public",
    "POST /api/auth/logout": "agent",
    "GET /api/auth/me": "agent",
    "POST /api/auth/tokens": "agent",
    "GET /api/auth/tokens": "agent",
    "DELETE /api/auth/tokens/{id}": "agent",
    "GET /api/customers": "agent",
    "POST /api/customers": "agent",
    "GET /api/customers/{id}": "agent",
    "PATCH /api/customers/{id}": "agent",
    "GET /api/customers/{id}/360": "agent",
    "GET /api/customers/{id}/history": "agent",
    "POST /api/customers/{id}/identities": "agent",
    "DELETE /api/customers/{id}/identities/{identity_id}": "agent",
    "POST /api/customers/{id}/notes": "agent",
    "GET /api/customers/{id}/orders": "agent",
    "POST /api/customers/{id}/orders": "agent",
    "GET /api/customers/{id}/duplicates": "agent",
    "GET /api/customers/{id}/merges": "agent",
    "POST /api/customers/resolve": "agent",
    "POST /api/customers/merge": "agent",
    "POST /api/merges/{id}/undo": "supervisor",
    "GET /api/orders/{id}": "agent",
    "DELETE /api/orders/{id}": "supervisor",
    "GET /api/value/pyramid": "supervisor",
    "GET /api/value/model": "supervisor",
    "POST /api/value/recompute": "admin",
    "GET /api/users": "supervisor",
    "POST /api/users": "admin",
    "GET /api/users/{id}": "agent",
    "PATCH /api/users/{id}": "admin",
    "GET /api/users/me/notify": "agent",  # the caller's own preferences
    "PUT /api/users/me/notify": "agent",
    "GET /api/notifications": "agent",  # the caller's own
    "POST /api/notifications/{id}/read": "agent",
    "GET /api/teams": "agent",
    "POST /api/teams": "admin",
    "GET /api/teams/{id}": "agent",
    "PATCH /api/teams/{id}": "admin",
    "GET /api/skills": "agent",
    "GET /api/queues": "agent",
    "GET /api/queues/{id}": "agent",
    "POST /api/queues": "admin",
    "PUT /api/queues/{id}": "admin",
    "GET /api/routing/queues": "supervisor",
    "GET /api/reports/intervals": "supervisor",
    "GET /api/reports/reasons": "supervisor",
    "GET /api/reports/complaints": "supervisor",
    "GET /api/reports/conversations": "supervisor",
    "GET /api/reports/staffing": "supervisor",
    "GET /api/routing/me": "agent",
    "GET /api/routing/agents": "agent",
    "POST /api/routing/presence": "agent",
    "POST /api/routing/agents/{id}/presence": "supervisor",
    "POST /api/routing/offers/{reservation_id}/accept": "agent",
    "POST /api/routing/offers/{reservation_id}/reject": "agent",
    "POST /api/routing/tasks/{task_id}/complete": "agent",
    "POST /api/routing/tasks/{task_id}/wrap-up-done": "agent",
    "POST /api/routing/tasks/{task_id}/transfer": "agent",
    "POST /api/contacts": "supervisor",
    "GET /api/dispositions": "agent",
    "POST /api/dispositions": "admin",
    "PUT /api/dispositions/{id}": "admin",
    "DELETE /api/dispositions/{id}": "admin",
    "GET /api/contact-reasons": "agent",
    "POST /api/contact-reasons": "admin",
    "PUT /api/contact-reasons/{id}": "admin",
    "DELETE /api/contact-reasons/{id}": "admin",
    "GET /api/away-reasons": "agent",
    "POST /api/away-reasons": "admin",
    "PUT /api/away-reasons/{id}": "admin",
    "DELETE /api/away-reasons/{id}": "admin",
    "GET /api/canned-replies": "agent",
    "POST /api/canned-replies": "admin",
    "GET /api/canned-replies/{id}": "agent",
    "PUT /api/canned-replies/{id}": "admin",
    "DELETE /api/canned-replies/{id}": "admin",
    "POST /api/canned-replies/{id}/render": "agent",
    "GET /api/knowledge/categories": "agent",
    "POST /api/knowledge/categories": "admin",
    "PUT /api/knowledge/categories/{id}": "admin",
    "DELETE /api/knowledge/categories/{id}": "admin",
    "GET /api/knowledge/articles": "agent",
    "POST /api/knowledge/articles": "admin",
    "GET /api/knowledge/articles/{id}": "agent",
    "PUT /api/knowledge/articles/{id}": "admin",
    "DELETE /api/knowledge/articles/{id}": "admin",
    "GET /api/knowledge/suggest": "agent",
    "POST /api/knowledge/articles/{id}/use": "agent",
    "GET /api/tickets": "agent",  # agents: their own, their team's and unteamed tickets
    "POST /api/tickets": "agent",
    "GET /api/tickets/{id}": "agent",
    "PATCH /api/tickets/{id}": "agent",
    "POST /api/tickets/{id}/actions": "agent",
    "POST /api/tickets/{id}/escalate": "agent",
    "POST /api/tickets/{id}/notes": "agent",
    "POST /api/tickets/{id}/replies": "agent",
    "POST /api/tickets/{id}/conversations": "agent",
    "GET /api/ticket-categories": "agent",
    "POST /api/ticket-categories": "admin",
    "PUT /api/ticket-categories/{id}": "admin",
    "GET /api/ticket-views": "agent",
    "POST /api/ticket-views": "agent",
    "DELETE /api/ticket-views/{id}": "agent",
    "GET /survey/{token}": "public",  # the signed token is the capability
    "POST /survey/{token}": "public",
    "GET /api/tickets/{ticket_id}/articles": "agent",
    "POST /api/tickets/{ticket_id}/articles": "agent",
    "DELETE /api/tickets/{ticket_id}/articles/{article_id}": "agent",
    "GET /api/tickets/{ticket_id}/suggestions": "agent",
    "GET /api/business-calendars": "supervisor",
    "POST /api/business-calendars": "admin",
    "GET /api/business-calendars/{id}": "supervisor",
    "PUT /api/business-calendars/{id}": "admin",
    "DELETE /api/business-calendars/{id}": "admin",
    "GET /api/sla-policies": "supervisor",
    "POST /api/sla-policies": "admin",
    "GET /api/sla-policies/{id}": "supervisor",
    "PUT /api/sla-policies/{id}": "admin",
    "DELETE /api/sla-policies/{id}": "admin",
    "GET /api/audit": "admin",
    "GET /api/voice/token": "agent",
    "POST /api/voice/calls/{conversation_id}/hold": "agent",
    "POST /api/voice/calls/{conversation_id}/consult": "agent",
    "POST /api/voice/calls/{conversation_id}/hangup": "agent",
    "POST /twilio/voice/conference": "twilio",
    "POST /twilio/voice": "twilio",
    "POST /twilio/voice/language": "twilio",
    "POST /twilio/voice/menu": "twilio",
    "POST /twilio/voice/wait": "twilio",
    "POST /twilio/voice/wait/choice": "twilio",
    "POST /twilio/voice/after-dial": "twilio",
    "POST /twilio/voice/voicemail": "twilio",
    "POST /twilio/voice/transcription": "twilio",
    "POST /twilio/voice/status": "twilio",
    "POST /twilio/voice/recording": "twilio",
    "POST /api/conversations/{conversation_id}/sms": "agent",
    "POST /api/conversations/{conversation_id}/email": "agent",
    "POST /twilio/sms": "twilio",
    "POST /twilio/sms/status": "twilio",
}
# "twilio": open to the network but answered only with a valid X-Twilio-Signature (403 for everyone else).
RANK = {"public": 0, "agent": 1, "supervisor": 2, "admin": 3}
CALLERS = ["anonymous", "agent", "supervisor", "admin"]


def app_routes(app) -> set[str]:
    found = set()
    for route in app.router.routes():
        if route.method == "HEAD" or route.resource.canonical.startswith("/static/"):
            continue
        found.add(f"{route.method} {route.resource.canonical}")
    return found


async def test_every_route_is_in_the_expected_table(client):
    assert app_routes(client.server.app) == set(EXPECTED)


def expected_status_class(route: str, who: str) -> str:
    needed = EXPECTED[route]
    if needed in ("twilio", "visitor"):
        return "403"
    if needed == "public":
        return "allowed"
    if who == "anonymous":
        return "401"
    return "allowed" if RANK[who] >= RANK[needed] else "403"


@pytest.mark.parametrize("who", CALLERS)
async def test_each_caller_gets_the_expected_status_on_every_route(client, staff, who):
    customer = await client.post(
        "/api/customers", json={"display_name": "Zed Zulu"}, headers=bearer(staff["admin"]["token"])
    )
    customer_id = (await customer.json())["id"]
    ids = {
        "id": str(customer_id),
        "identity_id": "1",
        "reservation_id": "0" * 32,
        "task_id": "no-such-task",
        "conversation_id": "999999",
        "message_id": "999999",
        "file_id": "0" * 32,
        "ticket_id": "999999",
        "article_id": "999999",
        "token": "no-such-survey",
    }
    for route in sorted(EXPECTED):
        method, path = route.split(" ", 1)
        if path == "/api/users/{id}":
            ids_here = {**ids, "id": str(staff[who]["id"] if who != "anonymous" else 1)}
        elif path == "/api/auth/tokens/{id}":
            ids_here = {**ids, "id": "999999"}  # never the caller's own token
        else:
            ids_here = ids
        url = path.format(**ids_here)
        headers = bearer(staff[who]["token"]) if who != "anonymous" else {}
        kwargs = {"json": {}} if method in {"POST", "PATCH"} else {}
        if route == "POST /api/auth/logout":
            continue  # would not end a bearer caller's access, checked separately
        response = await client.request(method, url, headers=headers, **kwargs)
        expected = expected_status_class(route, who)
        if expected == "allowed":
            assert response.status not in (401, 403), (route, who, response.status, await response.text())
            assert response.status < 500, (route, who, await response.text())
        else:
            assert str(response.status) == expected, (route, who, response.status, await response.text())
        # Twilio and engine.io answer in plain text, the customer's survey page in HTML
        plain_text = (
            EXPECTED[route] == "twilio"
            or "/socket.io/" in route
            or route.startswith(("GET /survey", "POST /survey"))
        )
        if response.status >= 400 and not plain_text:
            body = await response.json()
            assert body["error"]["message"], route
