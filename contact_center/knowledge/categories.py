"""The knowledge base's category tree: categories nest up to MAX_DEPTH levels, never in a cycle."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from contact_center.db.models import KnowledgeArticle, KnowledgeCategory
from contact_center.errors import Conflict, InvalidInput, NotFound
from contact_center.knowledge.schemas import CategoryIn
from contact_center.users import service as users

MAX_DEPTH = 6  # "Products / Kettles / Repairs" is 3 levels deep
PATH_SEPARATOR = " / "


async def category_tree(db: AsyncSession) -> list[dict[str, Any]]:
    """Every category with its subcategories nested, its path from the top ("Products / Kettles") and how
    many articles it holds directly."""
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
    todo = [(node, "") for node in roots]
    while todo:
        node, above = todo.pop()
        node["path"] = above + node["name"]
        todo += [(child, node["path"] + PATH_SEPARATOR) for child in node["children"]]
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
    """A new category, at the top or inside another (InvalidInput deeper than MAX_DEPTH levels)."""
    if body.parent_id is not None:
        parents = await _parents(db)
        _check_parent(parents, body.parent_id)
        _check_depth(parents, body.parent_id, height=1)
    position = body.position if body.position is not None else await _next_position(db, body.parent_id)
    row = KnowledgeCategory(name=body.name, parent_id=body.parent_id, position=position)
    db.add(row)
    await db.flush()
    users.audit(db, actor_id, "kb_category.created", "kb_category", row.id, category_json(row), now)
    return row


async def update_category(
    db: AsyncSession, category_id: int, body: CategoryIn, actor_id: int | None, now: datetime
) -> KnowledgeCategory:
    """Rename a category, move it (never under itself or one of its subcategories, never so that its
    deepest subcategory ends up deeper than MAX_DEPTH levels) or change its place."""
    row = await get_category(db, category_id)
    if body.parent_id is not None and body.parent_id != row.parent_id:
        parents = await _parents(db)
        _check_parent(parents, body.parent_id)
        if row.id in _ancestors(parents, body.parent_id) | {body.parent_id}:
            raise InvalidInput(
                "a category cannot be moved into itself or one of its subcategories",
                category_id=row.id,
                parent_id=body.parent_id,
            )
        _check_depth(parents, body.parent_id, height=_height(parents, row.id))
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


async def with_descendants(db: AsyncSession, category_id: int) -> set[int]:
    """A category's id and those of all its subcategories, at any depth; NotFound for an unknown one."""
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


async def _parents(db: AsyncSession) -> dict[int, int | None]:
    """Each category's parent. The rows stay locked (PostgreSQL) until the transaction ends, so two
    administrators moving categories at once cannot build a cycle between them (SQLite writes one at
    a time anyway)."""
    statement = select(KnowledgeCategory.id, KnowledgeCategory.parent_id).with_for_update()
    return dict((await db.execute(statement)).all())


def _check_parent(parents: dict[int, int | None], parent_id: int) -> None:
    if parent_id not in parents:
        raise InvalidInput(f"parent_id {parent_id}: no such category")


def _ancestors(parents: dict[int, int | None], category_id: int) -> set[int]:
    """The categories above this one (a cycle already stored ends the walk rather than looping)."""
    found: set[int] = set()
    current = parents.get(category_id)
    while current is not None and current not in found:
        found.add(current)
        current = parents.get(current)
    return found


def _height(parents: dict[int, int | None], category_id: int) -> int:
    """Levels from this category down to its deepest subcategory (1 for a category without any)."""
    children: dict[int | None, list[int]] = {}
    for cid, parent in parents.items():
        children.setdefault(parent, []).append(cid)
    height, level, seen = 0, [category_id], set()
    while level:
        height += 1
        seen.update(level)
        level = [child for cid in level for child in children.get(cid, []) if child not in seen]
    return height


def _check_depth(parents: dict[int, int | None], parent_id: int, height: int) -> None:
    """Refuse to put `height` levels of categories under this parent if the deepest would pass MAX_DEPTH."""
    parent_depth = len(_ancestors(parents, parent_id)) + 1
    if parent_depth + height > MAX_DEPTH:
        raise InvalidInput(
            f"categories nest at most {MAX_DEPTH} levels deep: the parent is at level {parent_depth}"
            + (f" and the category has {height - 1} level(s) of subcategories" if height > 1 else ""),
            max_depth=MAX_DEPTH,
            parent_depth=parent_depth,
        )


async def _next_position(db: AsyncSession, parent_id: int | None) -> int:
    siblings = KnowledgeCategory.parent_id == parent_id  # IS NULL for None
    last = (await db.execute(select(func.max(KnowledgeCategory.position)).where(siblings))).scalar_one()
    return 0 if last is None else last + 1
