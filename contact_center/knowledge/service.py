"""The knowledge base's use cases: the category tree, articles, search and suggestions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from contact_center.db.models import Conversation, KnowledgeArticle, KnowledgeCategory, Message
from contact_center.errors import Conflict, InvalidInput, NotFound
from contact_center.knowledge import markdown, search
from contact_center.knowledge.schemas import ArticleIn, CategoryIn
from contact_center.users import service as users

SUGGEST_FROM_MESSAGES = 20


# Categories


async def category_tree(db: AsyncSession) -> list[dict[str, Any]]:
    """Every category with its subcategories nested, and how many articles each holds directly."""
    rows = list(
        (
            await db.execute(
                select(KnowledgeCategory).order_by(KnowledgeCategory.position, KnowledgeCategory.id)
            )
        ).scalars()
    )
    counts = dict(
        (
            await db.execute(
                select(KnowledgeArticle.category_id, func.count()).group_by(KnowledgeArticle.category_id)
            )
        ).all()
    )
    nodes = {
        row.id: {**category_json(row), "article_count": counts.get(row.id, 0), "children": []} for row in rows
    }
    roots = []
    for row in rows:
        parent = nodes.get(row.parent_id) if row.parent_id is not None else None
        (parent["children"] if parent is not None else roots).append(nodes[row.id])
    return roots


def category_json(row: KnowledgeCategory) -> dict[str, Any]:
    """A category without its children."""
    return {"id": row.id, "parent_id": row.parent_id, "name": row.name, "position": row.position}


async def get_category(db: AsyncSession, category_id: int) -> KnowledgeCategory:
    """A category by id; NotFound otherwise."""
    row = await db.get(KnowledgeCategory, category_id)
    if row is None:
        raise NotFound(f"category {category_id} does not exist")
    return row


async def create_category(
    db: AsyncSession, body: CategoryIn, actor_id: int | None, now: datetime
) -> KnowledgeCategory:
    """A new category, at the top or inside another."""
    await _existing_parent(db, body.parent_id)
    position = body.position if body.position is not None else await _next_position(db, body.parent_id)
    row = KnowledgeCategory(name=body.name, parent_id=body.parent_id, position=position)
    db.add(row)
    await db.flush()
    users.audit(db, actor_id, "kb_category.created", "kb_category", row.id, category_json(row), now)
    return row


async def update_category(
    db: AsyncSession, category_id: int, body: CategoryIn, actor_id: int | None, now: datetime
) -> KnowledgeCategory:
    """Rename a category, move it (never under itself) or change its place."""
    row = await get_category(db, category_id)
    await _existing_parent(db, body.parent_id)
    parent_id = body.parent_id
    while parent_id is not None:
        if parent_id == row.id:
            raise InvalidInput("a category cannot be moved into itself or one of its subcategories")
        parent = await db.get(KnowledgeCategory, parent_id)
        parent_id = parent.parent_id if parent is not None else None
    if body.parent_id != row.parent_id and body.position is None:
        row.position = await _next_position(db, body.parent_id)
    elif body.position is not None:
        row.position = body.position
    row.name, row.parent_id = body.name, body.parent_id
    users.audit(db, actor_id, "kb_category.updated", "kb_category", row.id, category_json(row), now)
    return row


async def delete_category(db: AsyncSession, category_id: int, actor_id: int | None, now: datetime) -> None:
    """Delete an empty category; Conflict while it holds articles or subcategories."""
    row = await get_category(db, category_id)
    children = (
        await db.execute(select(func.count()).where(KnowledgeCategory.parent_id == row.id))
    ).scalar_one()
    articles = (
        await db.execute(select(func.count()).where(KnowledgeArticle.category_id == row.id))
    ).scalar_one()
    if children or articles:
        raise Conflict(
            f"category {row.name!r} still holds {articles} article(s) and {children} subcategorie(s); "
            "move or delete them first",
            articles=articles,
            subcategories=children,
        )
    users.audit(db, actor_id, "kb_category.deleted", "kb_category", row.id, category_json(row), now)
    await db.delete(row)


async def _existing_parent(db: AsyncSession, parent_id: int | None) -> None:
    if parent_id is not None and await db.get(KnowledgeCategory, parent_id) is None:
        raise InvalidInput(f"parent_id {parent_id}: no such category")


async def _next_position(db: AsyncSession, parent_id: int | None) -> int:
    siblings = KnowledgeCategory.parent_id == parent_id  # IS NULL for None
    last = (await db.execute(select(func.max(KnowledgeCategory.position)).where(siblings))).scalar_one()
    return 0 if last is None else last + 1


async def _with_descendants(db: AsyncSession, category_id: int) -> set[int]:
    await get_category(db, category_id)
    children: dict[int | None, list[int]] = {}
    for cid, parent in (await db.execute(select(KnowledgeCategory.id, KnowledgeCategory.parent_id))).all():
        children.setdefault(parent, []).append(cid)
    found, todo = set(), [category_id]
    while todo:
        current = todo.pop()
        if current not in found:
            found.add(current)
            todo += children.get(current, [])
    return found


# Articles


def article_json(row: KnowledgeArticle, *, full: bool = False) -> dict[str, Any]:
    """An article; `full` adds the Markdown body and its sanitised HTML."""
    data: dict[str, Any] = {
        "id": row.id,
        "category_id": row.category_id,
        "title": row.title,
        "tags": list(row.tags or []),
        "published": row.published,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    }
    if full:
        data["body"] = row.body
        data["html"] = markdown.to_html(row.body)
    return data


async def get_article(db: AsyncSession, article_id: int, *, include_unpublished: bool) -> KnowledgeArticle:
    """An article by id; NotFound otherwise (and for a draft unless asked)."""
    row = await db.get(KnowledgeArticle, article_id)
    if row is None or not (row.published or include_unpublished):
        raise NotFound(f"article {article_id} does not exist")
    return row


async def list_articles(
    db: AsyncSession,
    text: str | None,
    category_id: int | None,
    *,
    include_unpublished: bool,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Articles in a category (and its subcategories) by title, or the best matches for `text` with a
    score and an excerpt."""
    stmt = select(KnowledgeArticle)
    if not include_unpublished:
        stmt = stmt.where(KnowledgeArticle.published.is_(True))
    if category_id is not None:
        stmt = stmt.where(KnowledgeArticle.category_id.in_(await _with_descendants(db, category_id)))
    rows = list((await db.execute(stmt.order_by(KnowledgeArticle.title, KnowledgeArticle.id))).scalars())
    if not (text or "").strip():
        return [article_json(row) for row in rows[:limit]]
    return [
        {**article_json(row), "score": hit.score, "excerpt": excerpt}
        for row, hit, excerpt in _ranked(rows, text or "", limit)
    ]


async def create_article(
    db: AsyncSession, body: ArticleIn, actor_id: int | None, now: datetime
) -> KnowledgeArticle:
    """A new article."""
    if body.category_id is not None:
        await _existing_category(db, body.category_id)
    row = KnowledgeArticle(**body.model_dump(), created_at=now, updated_at=now)
    db.add(row)
    await db.flush()
    users.audit(db, actor_id, "kb_article.created", "kb_article", row.id, _audit_details(row), now)
    return row


async def update_article(
    db: AsyncSession, article_id: int, body: ArticleIn, actor_id: int | None, now: datetime
) -> KnowledgeArticle:
    """Replace an article's title, body, category, tags and published flag."""
    row = await get_article(db, article_id, include_unpublished=True)
    if body.category_id is not None:
        await _existing_category(db, body.category_id)
    for key, value in body.model_dump().items():
        setattr(row, key, value)
    row.updated_at = now
    users.audit(db, actor_id, "kb_article.updated", "kb_article", row.id, _audit_details(row), now)
    return row


async def delete_article(db: AsyncSession, article_id: int, actor_id: int | None, now: datetime) -> None:
    """Delete an article (the audit log keeps its title)."""
    row = await get_article(db, article_id, include_unpublished=True)
    users.audit(db, actor_id, "kb_article.deleted", "kb_article", row.id, _audit_details(row), now)
    await db.delete(row)


async def _existing_category(db: AsyncSession, category_id: int) -> None:
    if await db.get(KnowledgeCategory, category_id) is None:
        raise InvalidInput(f"category_id {category_id}: no such category")


def _audit_details(row: KnowledgeArticle) -> dict[str, Any]:
    return {
        "title": row.title,
        "category_id": row.category_id,
        "tags": list(row.tags or []),
        "published": row.published,
        "body_chars": len(row.body),
    }


# Suggestions


async def suggest(
    db: AsyncSession, conversation_id: int | None, text: str | None, limit: int = 5
) -> list[dict[str, Any]]:
    """The published articles that best match a conversation's latest customer messages (and/or a text)."""
    parts = [text or ""]
    if conversation_id is not None:
        conversation = await db.get(Conversation, conversation_id)
        if conversation is None:
            raise NotFound(f"conversation {conversation_id} does not exist")
        bodies = (
            await db.execute(
                select(Message.body)
                .where(Message.conversation_id == conversation_id, Message.direction == "in")
                .order_by(Message.created_at.desc(), Message.id.desc())
                .limit(SUGGEST_FROM_MESSAGES)
            )
        ).scalars()
        parts += [conversation.subject or "", *bodies]
    query = "\n".join(p for p in parts if p)
    if not query.strip():
        return []
    rows = list(
        (await db.execute(select(KnowledgeArticle).where(KnowledgeArticle.published.is_(True)))).scalars()
    )
    return [
        {"id": row.id, "title": row.title, "score": hit.score, "excerpt": excerpt}
        for row, hit, excerpt in _ranked(rows, query, limit)
    ]


def _ranked(
    rows: list[KnowledgeArticle], text: str, limit: int
) -> list[tuple[KnowledgeArticle, search.Hit, str]]:
    """Rows matching `text`, best first, each with its hit and an excerpt of its plain text."""
    by_id = {row.id: row for row in rows}
    plain = {row.id: markdown.to_text(row.body) for row in rows}
    index = search.Index.build(
        search.Document(row.id, row.title, plain[row.id], tuple(row.tags or ())) for row in rows
    )
    return [
        (by_id[hit.id], hit, search.excerpt(plain[hit.id], hit.terms)) for hit in index.search(text, limit)
    ]
