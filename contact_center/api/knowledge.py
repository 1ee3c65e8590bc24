"""The knowledge base over HTTP: categories, articles and defects (Markdown and sanitised HTML), search,
suggestions, usage counts, and the articles linked to tickets.

Agents read published articles, link them to tickets and count their uses; administrators see drafts and
change everything (audited).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from contact_center.api.common import caller, caller_id, path_id
from contact_center.auth.roles import Access, Role
from contact_center.knowledge import categories, links, service
from contact_center.knowledge.schemas import (
    ArticleIn,
    ArticleQuery,
    CategoryIn,
    SuggestQuery,
    TicketArticleIn,
    TicketSuggestQuery,
)
from contact_center.tickets.views import visible_ticket
from contact_center.web.appkeys import CLOCK, EVENTS, SESSIONS
from contact_center.web.endpoints import EndpointTable

api = EndpointTable("knowledge")


def _is_admin(request: web.Request) -> bool:
    return caller(request).role == Role.ADMIN


@api.get("/api/knowledge/categories", access=Access.AGENT, summary="The category tree, subcategories nested")
async def list_categories(request: web.Request) -> list[dict[str, Any]]:
    """Top-level categories in order, each with `path`, `children` and `article_count`."""
    async with request.app[SESSIONS]() as db:
        return await categories.category_tree(db)


@api.post(
    "/api/knowledge/categories",
    access=Access.ADMIN,
    body=CategoryIn,
    status=201,
    summary="Add a category (top level or inside another)",
    responses={422: "Unknown parent, or deeper than 6 levels"},
)
async def create_category(request: web.Request, body: CategoryIn) -> dict[str, Any]:
    """A new category."""
    async with request.app[SESSIONS].begin() as db:
        row = await categories.create_category(db, body, caller_id(request), request.app[CLOCK].now())
    return categories.category_json(row)


@api.route(
    "PUT",
    "/api/knowledge/categories/{id}",
    access=Access.ADMIN,
    body=CategoryIn,
    summary="Rename or move a category",
    responses={422: "Unknown parent, a move into itself or a subcategory, or deeper than 6 levels"},
)
async def update_category(request: web.Request, body: CategoryIn) -> dict[str, Any]:
    """Change name, parent (never into itself, never deeper than 6 levels) and position."""
    async with request.app[SESSIONS].begin() as db:
        row = await categories.update_category(
            db, path_id(request), body, caller_id(request), request.app[CLOCK].now()
        )
    return categories.category_json(row)


@api.delete(
    "/api/knowledge/categories/{id}",
    access=Access.ADMIN,
    status=204,
    summary="Delete an empty category",
    responses={409: "The category still holds articles or subcategories"},
)
async def delete_category(request: web.Request) -> None:
    """Delete a category with no articles and no subcategories."""
    async with request.app[SESSIONS].begin() as db:
        await categories.delete_category(db, path_id(request), caller_id(request), request.app[CLOCK].now())


@api.get(
    "/api/knowledge/articles",
    access=Access.AGENT,
    query=ArticleQuery,
    summary="Articles by category, kind and product, or the best matches for `q` with score and excerpt",
)
async def list_articles(request: web.Request, query: ArticleQuery) -> list[dict[str, Any]]:
    """Published ones for agents and supervisors; drafts too for administrators. `sort=popular`: most
    used first."""
    async with request.app[SESSIONS]() as db:
        return await service.list_articles(
            db,
            query.q,
            query.category_id,
            include_unpublished=_is_admin(request),
            limit=query.limit,
            kind=query.kind,
            product=query.product,
            sort=query.sort,
        )


@api.get(
    "/api/knowledge/articles/{id}",
    access=Access.AGENT,
    summary="One article: Markdown `body` (a defect's `symptom`, `cause`, `solution`) and sanitised `html`",
)
async def get_article(request: web.Request) -> dict[str, Any]:
    """Read one (a draft only for administrators)."""
    async with request.app[SESSIONS]() as db:
        row = await service.get_article(db, path_id(request), include_unpublished=_is_admin(request))
    return service.article_json(row, full=True)


@api.post(
    "/api/knowledge/articles", access=Access.ADMIN, body=ArticleIn, status=201, summary="Add an article"
)
async def create_article(request: web.Request, body: ArticleIn) -> dict[str, Any]:
    """A new article (published unless `published: false`)."""
    async with request.app[SESSIONS].begin() as db:
        row = await service.create_article(db, body, caller_id(request), request.app[CLOCK].now())
    return service.article_json(row, full=True)


@api.route(
    "PUT", "/api/knowledge/articles/{id}", access=Access.ADMIN, body=ArticleIn, summary="Replace an article"
)
async def update_article(request: web.Request, body: ArticleIn) -> dict[str, Any]:
    """Change title, body, category, tags, published, kind and the defect's fields."""
    async with request.app[SESSIONS].begin() as db:
        row = await service.update_article(
            db, path_id(request), body, caller_id(request), request.app[CLOCK].now()
        )
    return service.article_json(row, full=True)


@api.delete("/api/knowledge/articles/{id}", access=Access.ADMIN, status=204, summary="Delete an article")
async def delete_article(request: web.Request) -> None:
    """Delete (the audit log keeps its title)."""
    async with request.app[SESSIONS].begin() as db:
        await service.delete_article(db, path_id(request), caller_id(request), request.app[CLOCK].now())


@api.get(
    "/api/knowledge/suggest",
    access=Access.AGENT,
    query=SuggestQuery,
    summary="The best published articles for a conversation's latest customer messages and/or a text",
)
async def suggest_articles(request: web.Request, query: SuggestQuery) -> list[dict[str, Any]]:
    """Up to `limit` (5) articles, each `{id, title, kind, score, excerpt}`; none that share no word."""
    async with request.app[SESSIONS]() as db:
        return await service.suggest(db, query.conversation_id, query.text, query.limit)


@api.post(
    "/api/knowledge/articles/{id}/use",
    access=Access.AGENT,
    summary="Count a use of an article (an agent put it into a reply)",
)
async def use_article(request: web.Request) -> dict[str, Any]:
    """`{"id", "usage_count"}` after adding one."""
    async with request.app[SESSIONS].begin() as db:
        row = await service.get_article(db, path_id(request), include_unpublished=_is_admin(request))
        return {"id": row.id, "usage_count": await service.count_use(db, row.id)}


# Articles on tickets


@api.get(
    "/api/tickets/{ticket_id}/articles",
    access=Access.AGENT,
    summary="The knowledge articles linked to a ticket",
)
async def ticket_articles(request: web.Request) -> list[dict[str, Any]]:
    """First linked first, each as in the article list with `linked_at` and `linked_by`."""
    async with request.app[SESSIONS]() as db:
        ticket_id = await _visible_ticket(request, db)
        return await links.articles_of_ticket(db, ticket_id)


@api.post(
    "/api/tickets/{ticket_id}/articles",
    access=Access.AGENT,
    body=TicketArticleIn,
    summary="Link a knowledge article to a ticket (once: linking again changes nothing)",
)
async def link_ticket_article(request: web.Request, body: TicketArticleIn) -> dict[str, Any]:
    """`{"linked": true}` the first time (a use of the article, a line of the ticket's history), false
    after; with the ticket's `articles`. Drafts only for administrators."""
    async with request.app[SESSIONS].begin() as db:
        ticket_id = await _visible_ticket(request, db)
        await service.get_article(db, body.article_id, include_unpublished=_is_admin(request))
        linked = await links.link_article(
            db, ticket_id, body.article_id, caller_id(request), request.app[CLOCK].now()
        )
        articles = await links.articles_of_ticket(db, ticket_id)
    if linked:
        await _ticket_changed(request, ticket_id, "article_linked")
    return {"linked": linked, "articles": articles}


@api.delete(
    "/api/tickets/{ticket_id}/articles/{article_id}",
    access=Access.AGENT,
    status=204,
    summary="Remove a knowledge article from a ticket (its usage count stays)",
)
async def unlink_ticket_article(request: web.Request) -> None:
    """204 whether or not it was linked; 404 for an unknown ticket or article."""
    async with request.app[SESSIONS].begin() as db:
        ticket_id = await _visible_ticket(request, db)
        unlinked = await links.unlink_article(
            db, ticket_id, path_id(request, "article_id"), caller_id(request), request.app[CLOCK].now()
        )
    if unlinked:
        await _ticket_changed(request, ticket_id, "article_unlinked")


async def _visible_ticket(request: web.Request, db: AsyncSession) -> int:
    """The ticket of the path, if the caller may see it (another team's ticket does not exist for them)."""
    ticket_id = path_id(request, "ticket_id")
    await visible_ticket(db, caller(request), ticket_id)
    return ticket_id


async def _ticket_changed(request: web.Request, ticket_id: int, action: str) -> None:
    """Tell the consoles (after the commit), as the ticket service does for its changes."""
    await request.app[EVENTS].publish("ticket.changed", {"ticket_id": ticket_id, "action": action})


@api.get(
    "/api/tickets/{ticket_id}/suggestions",
    access=Access.AGENT,
    query=TicketSuggestQuery,
    summary="The best published articles for a ticket's text, notes, replies and conversations",
)
async def ticket_suggestions(request: web.Request, query: TicketSuggestQuery) -> list[dict[str, Any]]:
    """Up to `limit` (5): `{id, title, kind, score, excerpt, linked}`; none that share no word."""
    async with request.app[SESSIONS]() as db:
        return await links.suggest_for_ticket(db, await _visible_ticket(request, db), query.limit)
