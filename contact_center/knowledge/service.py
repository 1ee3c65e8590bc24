"""The knowledge base's articles (the defect library's entries among them), their search, usage counts and
suggestions for a conversation. The category tree is contact_center.knowledge.categories."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from contact_center.db.models import Conversation, KnowledgeArticle, KnowledgeCategory, Message
from contact_center.errors import InvalidInput, NotFound
from contact_center.knowledge import markdown, search
from contact_center.knowledge.categories import with_descendants
from contact_center.knowledge.schemas import ArticleIn
from contact_center.users import service as users

SUGGEST_FROM_MESSAGES = 20


def article_json(row: KnowledgeArticle, *, full: bool = False) -> dict[str, Any]:
    """An article; `full` adds the Markdown texts and the sanitised HTML view (for a defect: its Symptom,
    Cause and Solution sections, then the body)."""
    data: dict[str, Any] = {
        "id": row.id,
        "kind": row.kind,
        "category_id": row.category_id,
        "title": row.title,
        "tags": list(row.tags or []),
        "affected_products": list(row.affected_products or []),
        "published": row.published,
        "usage_count": row.usage_count,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    }
    if full:
        data["body"] = row.body
        if row.kind == "defect":
            data |= {"symptom": row.symptom, "cause": row.cause, "solution": row.solution}
        data["html"] = markdown.sections_to_html(_sections(row)) + markdown.to_html(row.body)
    return data


def _sections(row: KnowledgeArticle) -> list[tuple[str, str]]:
    if row.kind != "defect":
        return []
    return [("Symptom", row.symptom), ("Cause", row.cause), ("Solution", row.solution)]


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
    kind: str | None = None,
    product: str | None = None,
    sort: str | None = None,
) -> list[dict[str, Any]]:
    """Articles in a category (and its subcategories), of a kind, about a product (a name or SKU in their
    affected products, in any case), by title or most used first ("popular"); with `text`, only those
    matching it, each with a score and an excerpt, best first unless `sort` says otherwise."""
    stmt = select(KnowledgeArticle)
    if not include_unpublished:
        stmt = stmt.where(KnowledgeArticle.published.is_(True))
    if category_id is not None:
        stmt = stmt.where(KnowledgeArticle.category_id.in_(await with_descendants(db, category_id)))
    if kind is not None:
        stmt = stmt.where(KnowledgeArticle.kind == kind)
    rows = list((await db.execute(stmt.order_by(KnowledgeArticle.title, KnowledgeArticle.id))).scalars())
    if product is not None and product.strip():
        wanted = _product_key(product)
        rows = [row for row in rows if wanted in {_product_key(p) for p in row.affected_products or []}]
    if not (text or "").strip():
        if sort == "popular":
            rows.sort(key=lambda row: -row.usage_count)  # stable: equally used ones stay by title
        return [article_json(row) for row in rows[:limit]]
    ranked = _ranked(rows, text or "", limit if sort in (None, "relevance") else len(rows))
    if sort == "popular":
        ranked.sort(key=lambda found: -found[0].usage_count)
    elif sort == "title":
        ranked.sort(key=lambda found: (found[0].title, found[0].id))
    return [{**article_json(row), "score": hit.score, "excerpt": excerpt} for row, hit, excerpt in ranked][
        :limit
    ]


def _product_key(name: str) -> str:
    return " ".join(name.split()).casefold()


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
    """Replace an article's title, body, category, tags, published flag and defect fields (its usage count
    stays)."""
    row = await get_article(db, article_id, include_unpublished=True)
    if body.category_id is not None:
        await _existing_category(db, body.category_id)
    for key, value in body.model_dump().items():
        setattr(row, key, value)
    row.updated_at = now
    users.audit(db, actor_id, "kb_article.updated", "kb_article", row.id, _audit_details(row), now)
    return row


async def delete_article(db: AsyncSession, article_id: int, actor_id: int | None, now: datetime) -> None:
    """Delete an article (the audit log keeps its title; its links to tickets go with it)."""
    row = await get_article(db, article_id, include_unpublished=True)
    users.audit(db, actor_id, "kb_article.deleted", "kb_article", row.id, _audit_details(row), now)
    await db.delete(row)


async def count_use(db: AsyncSession, article_id: int) -> int:
    """Add one to an article's usage count (in the database, so uses at the same time all count); the new
    count."""
    statement = (
        update(KnowledgeArticle)
        .where(KnowledgeArticle.id == article_id)
        .values(usage_count=KnowledgeArticle.usage_count + 1)
        .returning(KnowledgeArticle.usage_count)
    )
    return (await db.execute(statement)).scalar_one()


async def _existing_category(db: AsyncSession, category_id: int) -> None:
    if await db.get(KnowledgeCategory, category_id) is None:
        raise InvalidInput(f"category_id {category_id}: no such category")


def _audit_details(row: KnowledgeArticle) -> dict[str, Any]:
    return {
        "title": row.title,
        "kind": row.kind,
        "category_id": row.category_id,
        "tags": list(row.tags or []),
        "affected_products": list(row.affected_products or []),
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
        parts += [conversation.subject or "", *await customer_messages(db, [conversation_id])]
    return await suggest_for_text(db, "\n".join(p for p in parts if p), limit)


async def customer_messages(db: AsyncSession, conversation_ids: list[int]) -> list[str]:
    """The bodies of the latest SUGGEST_FROM_MESSAGES customer messages of these conversations."""
    if not conversation_ids:
        return []
    bodies = await db.execute(
        select(Message.body)
        .where(Message.conversation_id.in_(conversation_ids), Message.direction == "in")
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(SUGGEST_FROM_MESSAGES)
    )
    return [body for body in bodies.scalars() if body]


async def suggest_for_text(db: AsyncSession, text: str, limit: int = 5) -> list[dict[str, Any]]:
    """The published articles that best match a text: `[{"id", "title", "kind", "score", "excerpt"}]`."""
    if not text.strip():
        return []
    rows = list(
        (await db.execute(select(KnowledgeArticle).where(KnowledgeArticle.published.is_(True)))).scalars()
    )
    return [
        {"id": row.id, "title": row.title, "kind": row.kind, "score": hit.score, "excerpt": excerpt}
        for row, hit, excerpt in _ranked(rows, text, limit)
    ]


def _ranked(
    rows: list[KnowledgeArticle], text: str, limit: int
) -> list[tuple[KnowledgeArticle, search.Hit, str]]:
    """Rows matching `text`, best first, each with its hit and an excerpt of its plain text."""
    by_id = {row.id: row for row in rows}
    documents = {row.id: _document(row) for row in rows}
    plain = {
        doc.id: " ".join(t for t in (doc.symptom, doc.cause, doc.solution, doc.body) if t)
        for doc in documents.values()
    }
    index = search.Index.build(documents.values())
    return [
        (by_id[hit.id], hit, search.excerpt(plain[hit.id], hit.terms)) for hit in index.search(text, limit)
    ]


def _document(row: KnowledgeArticle) -> search.Document:
    """An article as search sees it: plain text without Markdown, the defect's fields when it is one."""
    defect = row.kind == "defect"
    return search.Document(
        row.id,
        row.title,
        markdown.to_text(row.body),
        tuple(row.tags or ()),
        symptom=markdown.to_text(row.symptom) if defect else "",
        cause=markdown.to_text(row.cause) if defect else "",
        solution=markdown.to_text(row.solution) if defect else "",
        products=tuple(row.affected_products or ()),
    )
