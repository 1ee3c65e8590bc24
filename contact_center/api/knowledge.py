"""The knowledge base over HTTP: categories, articles (Markdown and sanitised HTML), search, suggestions.

Agents read published articles; administrators see drafts and change everything (audited).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from contact_center.api.common import caller, caller_id, path_id
from contact_center.auth.roles import Access, Role
from contact_center.knowledge import service
from contact_center.knowledge.schemas import ArticleIn, ArticleQuery, CategoryIn, SuggestQuery
from contact_center.web.appkeys import CLOCK, SESSIONS
from contact_center.web.endpoints import EndpointTable

api = EndpointTable("knowledge")


def _is_admin(request: web.Request) -> bool:
    return caller(request).role == Role.ADMIN


@api.get("/api/knowledge/categories", access=Access.AGENT, summary="The category tree, subcategories nested")
async def list_categories(request: web.Request) -> list[dict[str, Any]]:
    """Top-level categories in order, each with `children` and `article_count`."""
    async with request.app[SESSIONS]() as db:
        return await service.category_tree(db)


@api.post(
    "/api/knowledge/categories",
    access=Access.ADMIN,
    body=CategoryIn,
    status=201,
    summary="Add a category (top level or inside another)",
)
async def create_category(request: web.Request, body: CategoryIn) -> dict[str, Any]:
    """A new category."""
    async with request.app[SESSIONS].begin() as db:
        row = await service.create_category(db, body, caller_id(request), request.app[CLOCK].now())
    return service.category_json(row)


@api.route(
    "PUT",
    "/api/knowledge/categories/{id}",
    access=Access.ADMIN,
    body=CategoryIn,
    summary="Rename or move a category",
)
async def update_category(request: web.Request, body: CategoryIn) -> dict[str, Any]:
    """Change name, parent (never into itself) and position."""
    async with request.app[SESSIONS].begin() as db:
        row = await service.update_category(
            db, path_id(request), body, caller_id(request), request.app[CLOCK].now()
        )
    return service.category_json(row)


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
        await service.delete_category(db, path_id(request), caller_id(request), request.app[CLOCK].now())


@api.get(
    "/api/knowledge/articles",
    access=Access.AGENT,
    query=ArticleQuery,
    summary="Articles by category, or the best matches for `q` with score and excerpt",
)
async def list_articles(request: web.Request, query: ArticleQuery) -> list[dict[str, Any]]:
    """Published ones for agents and supervisors; drafts too for administrators."""
    async with request.app[SESSIONS]() as db:
        return await service.list_articles(
            db, query.q, query.category_id, include_unpublished=_is_admin(request), limit=query.limit
        )


@api.get(
    "/api/knowledge/articles/{id}",
    access=Access.AGENT,
    summary="One article: Markdown `body` and sanitised `html`",
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
    """Change title, body, category, tags, published."""
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
    """Up to `limit` (5) articles, each `{id, title, score, excerpt}`; none that share no word."""
    async with request.app[SESSIONS]() as db:
        return await service.suggest(db, query.conversation_id, query.text, query.limit)
