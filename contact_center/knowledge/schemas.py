"""What the knowledge base API takes."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class CategoryIn(BaseModel):
    """A category: its name, the category it sits in (none for a top-level one) and its place there."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: str = Field(min_length=1, max_length=120)
    parent_id: int | None = Field(default=None, ge=1, lt=2**63)
    position: int | None = Field(default=None, ge=0, le=1_000_000, description="Default: after the last.")


class ArticleIn(BaseModel):
    """An article: title, Markdown body, category, tags, and whether agents see it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(default="", max_length=200_000, description="Markdown; raw HTML is shown as text.")
    category_id: int | None = Field(default=None, ge=1, lt=2**63)
    tags: list[str] = Field(default_factory=list, max_length=20)
    published: bool = True

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: list[str]) -> list[str]:
        seen: dict[str, str] = {}
        for tag in tags:
            tag = " ".join(tag.split())
            if not 1 <= len(tag) <= 40:
                raise ValueError("each tag has 1 to 40 characters")
            seen.setdefault(tag.casefold(), tag)
        return list(seen.values())


class ArticleQuery(BaseModel):
    """Search words and a category (its subcategories included)."""

    model_config = ConfigDict(extra="forbid")
    q: str | None = Field(default=None, max_length=500)
    category_id: int | None = Field(default=None, ge=1, lt=2**63)
    limit: int = Field(default=50, ge=1, le=200)


class SuggestQuery(BaseModel):
    """A conversation (its customer's latest messages) and/or a text to suggest articles for."""

    model_config = ConfigDict(extra="forbid")
    conversation_id: int | None = Field(default=None, ge=1, lt=2**63)
    text: str | None = Field(default=None, max_length=5000)
    limit: int = Field(default=5, ge=1, le=20)

    @model_validator(mode="after")
    def _something_to_match(self) -> SuggestQuery:
        if self.conversation_id is None and not (self.text or "").strip():
            raise ValueError("give conversation_id or text")
        return self
