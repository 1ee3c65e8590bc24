"""What the knowledge base API takes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ArticleKind = Literal["article", "defect"]
DEFECT_SECTIONS = ("symptom", "cause", "solution")


class CategoryIn(BaseModel):
    """A category: its name, the category it sits in (none for a top-level one) and its place there."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: str = Field(min_length=1, max_length=120)
    parent_id: int | None = Field(default=None, ge=1, lt=2**63)
    position: int | None = Field(default=None, ge=0, le=1_000_000, description="Default: after the last.")


class ArticleIn(BaseModel):
    """An article: title, Markdown body, category, tags, and whether agents see it. A defect (`kind`
    "defect") is an entry of the product defect library and has a symptom, and usually a cause and a
    solution (Markdown too); any article may name the products it is about."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(default="", max_length=200_000, description="Markdown; raw HTML is shown as text.")
    category_id: int | None = Field(default=None, ge=1, lt=2**63)
    tags: list[str] = Field(default_factory=list, max_length=20)
    published: bool = True
    kind: ArticleKind = "article"
    symptom: str = Field(default="", max_length=20_000, description="Defects: what the customer sees.")
    cause: str = Field(default="", max_length=20_000, description="Defects: why it happens.")
    solution: str = Field(default="", max_length=20_000, description="Defects: what to do about it.")
    affected_products: list[str] = Field(
        default_factory=list, max_length=50, description="Product names or SKUs (1-200 characters each)."
    )

    @field_validator("title", "body", "symptom", "cause", "solution")
    @classmethod
    def _no_nul(cls, text: str) -> str:
        if "\x00" in text:
            raise ValueError("must not contain NUL characters")
        return text

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: list[str]) -> list[str]:
        return _short_strings(tags, 40, "each tag")

    @field_validator("affected_products")
    @classmethod
    def _products(cls, products: list[str]) -> list[str]:
        return _short_strings(products, 200, "each product")

    @model_validator(mode="after")
    def _defect_sections(self) -> ArticleIn:
        if self.kind == "defect" and not self.symptom:
            raise ValueError("a defect needs a symptom")
        if self.kind == "article" and any(getattr(self, name) for name in DEFECT_SECTIONS):
            raise ValueError('symptom, cause and solution belong to defects: set "kind": "defect"')
        return self


def _short_strings(values: list[str], longest: int, what: str) -> list[str]:
    """The values with their white space collapsed, duplicates (in any case) dropped, in order."""
    seen: dict[str, str] = {}
    for value in values:
        value = " ".join(value.split())
        if not 1 <= len(value) <= longest:
            raise ValueError(f"{what} has 1 to {longest} characters")
        if not value.isprintable():
            raise ValueError(f"{what} must not contain control characters")
        seen.setdefault(value.casefold(), value)
    return list(seen.values())


class ArticleQuery(BaseModel):
    """Search words, a category (its subcategories included), a kind, a product, and the order."""

    model_config = ConfigDict(extra="forbid")
    q: str | None = Field(default=None, max_length=500)
    category_id: int | None = Field(default=None, ge=1, lt=2**63)
    kind: ArticleKind | None = None
    product: str | None = Field(default=None, max_length=200, description="A product name or SKU.")
    sort: Literal["title", "relevance", "popular"] | None = Field(
        default=None, description="Default: relevance with `q`, else title. popular: most used first."
    )
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


class TicketArticleIn(BaseModel):
    """The article to link to a ticket."""

    model_config = ConfigDict(extra="forbid")
    article_id: int = Field(ge=1, lt=2**63)


class TicketSuggestQuery(BaseModel):
    """How many articles to suggest for a ticket."""

    model_config = ConfigDict(extra="forbid")
    limit: int = Field(default=5, ge=1, le=20)
