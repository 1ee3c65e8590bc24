"""Routing over HTTP: queues (admins), agents' presence and offers, supervisors' live view, contact entry."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from contact_center.api.common import caller, caller_id, path_id
from contact_center.auth.roles import RANK, Access, Role
from contact_center.db.models import Queue, User
from contact_center.errors import Conflict, NotFound
from contact_center.intake import InboundContact
from contact_center.routing_service.config import ROUTED_ROLES, QueueIn, TransferIn, queue_json
from contact_center.users import service as users
from contact_center.web.appkeys import CLOCK, INTAKE, ROUTING, SESSIONS
from contact_center.web.endpoints import EndpointTable
from routing.model import Presence

api = EndpointTable("routing")
RESERVATION_ID = re.compile(r"^[0-9a-f]{32}$")
TASK_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


class PresenceIn(BaseModel):
    """Available, away with a reason, or offline."""

    model_config = ConfigDict(extra="forbid")
    presence: Presence
    reason: str | None = Field(default=None, max_length=64)


IdentityValue = Annotated[str, Field(min_length=1, max_length=320)]


class ContactIn(BaseModel):
    """A contact entered by hand or by an integration (a walk-in, a letter, a callback request)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    channel: Literal["voice", "sms", "email", "chat"]
    identities: list[tuple[Literal["phone", "email", "chat", "crm"], IdentityValue]] = Field(
        min_length=1, max_length=10
    )
    name: str | None = Field(default=None, max_length=200)
    text: str = Field(default="", max_length=20_000)
    subject: str | None = Field(default=None, max_length=300)
    queue: str | None = Field(default=None, max_length=64)
    language: str | None = Field(default=None, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
    complaint: bool = False
    external_id: str | None = Field(default=None, max_length=255)


def _string_id(request: web.Request, name: str, pattern: re.Pattern[str]) -> str:
    value = request.match_info.get(name, "")
    if not pattern.match(value):
        raise NotFound(f"{name} {value!r} does not exist")
    return value


def _is_supervisor(request: web.Request) -> bool:
    return RANK[Role(caller(request).role)] >= RANK[Role.SUPERVISOR]


@api.get("/api/queues", access=Access.AGENT, summary="Routing queues with requirements, targets and rules")
async def list_queues(request: web.Request) -> list[dict[str, Any]]:
    """All queues."""
    async with request.app[SESSIONS]() as db:
        return [queue_json(q) for q in (await db.execute(select(Queue).order_by(Queue.name))).scalars()]


@api.get("/api/queues/{id}", access=Access.AGENT, summary="One queue")
async def get_queue(request: web.Request) -> dict[str, Any]:
    """Read a queue."""
    async with request.app[SESSIONS]() as db:
        row = await db.get(Queue, path_id(request))
    if row is None:
        raise NotFound(f"queue {request.match_info['id']} does not exist")
    return queue_json(row)


@api.post(
    "/api/queues",
    access=Access.ADMIN,
    body=QueueIn,
    status=201,
    summary="Create a queue",
    responses={409: "Name taken"},
)
async def create_queue(request: web.Request, body: QueueIn) -> dict[str, Any]:
    """A new queue, live at once."""
    now = request.app[CLOCK].now()
    try:
        async with request.app[SESSIONS].begin() as db:
            row = Queue(**body.model_dump(mode="json"))
            db.add(row)
            await db.flush()
            users.audit(db, caller_id(request), "queue.created", "queue", row.id, {"name": row.name}, now)
    except IntegrityError:
        raise Conflict(f"queue {body.name!r} exists") from None
    await request.app[ROUTING].sync_queue(row.name)
    return queue_json(row)


@api.route(
    "PUT", "/api/queues/{id}", access=Access.ADMIN, body=QueueIn, summary="Replace a queue's definition"
)
async def replace_queue(request: web.Request, body: QueueIn) -> dict[str, Any]:
    """Change requirements, strategy, escalation steps, fallbacks and timers (the name cannot change)."""
    now = request.app[CLOCK].now()
    async with request.app[SESSIONS].begin() as db:
        row = await db.get(Queue, path_id(request))
        if row is None:
            raise NotFound(f"queue {request.match_info['id']} does not exist")
        if body.name != row.name:
            raise Conflict("a queue cannot be renamed; create a new one")
        for key, value in body.model_dump(mode="json").items():
            setattr(row, key, value)
        users.audit(
            db, caller_id(request), "queue.updated", "queue", row.id, body.model_dump(mode="json"), now
        )
    await request.app[ROUTING].sync_queue(row.name)
    return queue_json(row)


@api.get(
    "/api/routing/queues", access=Access.SUPERVISOR, summary="Live queues: waiting, longest wait, figures"
)
async def live_queues(request: web.Request) -> list[dict[str, Any]]:
    """What is waiting now, and this process's counters since it started."""
    return await request.app[ROUTING].queue_view()


@api.get(
    "/api/routing/agents",
    access=Access.AGENT,
    summary="Colleagues who take contacts, with their presence (for transfers)",
)
async def list_agents(request: web.Request) -> list[dict[str, Any]]:
    """Every active routed user: id, name, team and presence; no contact details."""
    async with request.app[SESSIONS]() as db:
        rows = (
            await db.execute(
                select(User)
                .where(User.is_active.is_(True), User.role.in_(ROUTED_ROLES))
                .order_by(User.display_name)
            )
        ).scalars()
        people = [(u.id, u.display_name, u.team_id) for u in rows]
    presence = await request.app[ROUTING].presences()
    return [
        {
            "id": user_id,
            "display_name": name,
            "team_id": team_id,
            "presence": presence.get(user_id, {}).get("presence", "offline"),
            "reason": presence.get(user_id, {}).get("reason"),
        }
        for user_id, name, team_id in people
    ]


@api.get("/api/routing/me", access=Access.AGENT, summary="The caller's routing state: presence, tasks, offer")
async def my_state(request: web.Request) -> dict[str, Any]:
    """Own routing state."""
    return await request.app[ROUTING].agent_view(caller(request).id)


@api.post("/api/routing/presence", access=Access.AGENT, body=PresenceIn, summary="Set the caller's presence")
async def set_my_presence(request: web.Request, body: PresenceIn) -> dict[str, Any]:
    """Available (offers start), away with a reason, or offline."""
    service = request.app[ROUTING]
    await service.set_presence(caller(request).id, body.presence, body.reason)
    return await service.agent_view(caller(request).id)


@api.post(
    "/api/routing/agents/{id}/presence",
    access=Access.SUPERVISOR,
    body=PresenceIn,
    summary="A supervisor changes an agent's presence",
)
async def set_agent_presence(request: web.Request, body: PresenceIn) -> dict[str, Any]:
    """Change another agent's state (e.g. log out an agent who left)."""
    service = request.app[ROUTING]
    agent_id = path_id(request)
    await service.set_presence(agent_id, body.presence, body.reason)
    async with request.app[SESSIONS].begin() as db:
        users.audit(
            db,
            caller_id(request),
            "agent.presence",
            "user",
            agent_id,
            body.model_dump(mode="json"),
            request.app[CLOCK].now(),
        )
    return await service.agent_view(agent_id)


@api.post(
    "/api/routing/offers/{reservation_id}/accept",
    access=Access.AGENT,
    summary="Accept an offer made to the caller",
    responses={409: "The offer is no longer open"},
)
async def accept_offer(request: web.Request) -> dict[str, Any]:
    """Take the offered contact."""
    reservation_id = _string_id(request, "reservation_id", RESERVATION_ID)
    task = await request.app[ROUTING].accept(caller(request).id, reservation_id)
    return {
        "task_id": task.id,
        "state": task.state.value,
        "conversation_id": task.attributes.get("conversation_id"),
    }


@api.post(
    "/api/routing/offers/{reservation_id}/reject",
    access=Access.AGENT,
    status=204,
    summary="Decline an offer made to the caller",
    responses={409: "The offer is no longer open"},
)
async def reject_offer(request: web.Request) -> None:
    """Decline; the contact goes to the next agent."""
    await request.app[ROUTING].reject(
        caller(request).id, _string_id(request, "reservation_id", RESERVATION_ID)
    )


@api.post(
    "/api/routing/tasks/{task_id}/complete",
    access=Access.AGENT,
    status=204,
    summary="End the contact; wrap-up starts",
)
async def complete_task(request: web.Request) -> None:
    """The conversation is over."""
    await request.app[ROUTING].complete(
        caller(request).id, _string_id(request, "task_id", TASK_ID), supervisor=_is_supervisor(request)
    )


@api.post(
    "/api/routing/tasks/{task_id}/wrap-up-done",
    access=Access.AGENT,
    status=204,
    summary="After-contact work done; ready for the next contact",
)
async def wrap_up_done(request: web.Request) -> None:
    """End wrap-up early."""
    await request.app[ROUTING].end_wrap_up(
        caller(request).id, _string_id(request, "task_id", TASK_ID), supervisor=_is_supervisor(request)
    )


@api.post(
    "/api/routing/tasks/{task_id}/transfer",
    access=Access.AGENT,
    body=TransferIn,
    status=204,
    summary="Transfer the contact to a queue or an agent, with a note",
)
async def transfer_task(request: web.Request, body: TransferIn) -> None:
    """Cold transfer keeping history."""
    await request.app[ROUTING].transfer(
        caller(request).id,
        _string_id(request, "task_id", TASK_ID),
        queue=body.queue,
        agent_id=body.agent_id,
        note=body.note,
        supervisor=_is_supervisor(request),
    )


@api.post(
    "/api/contacts",
    access=Access.SUPERVISOR,
    body=ContactIn,
    status=201,
    summary="Enter a contact by hand or from an integration; it is stored, threaded and routed",
)
async def create_contact(request: web.Request, body: ContactIn) -> dict[str, Any]:
    """The same intake every channel uses."""
    result = await request.app[INTAKE].receive(
        InboundContact(
            channel=body.channel,
            identities=list(body.identities),
            external_id=body.external_id,
            name=body.name,
            text=body.text,
            subject=body.subject,
            queue=body.queue,
            language=body.language,
            complaint=body.complaint,
        )
    )
    return dict(result.__dict__)
