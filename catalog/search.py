"""Product search over the translated texts of every language.

Each product has one ``SearchDocument`` per language: its texts in that language with English
fallback (name, brand, short and long description, material and care, category and seller names),
rebuilt by ``refresh_search_documents`` whenever the product, its category or its seller changes
(``catalog.signals``; ``refresh_search_documents`` in bulk after ``bulk_create`` or ``update()``).
``search_products`` is the one entry point the views use: it returns the products filtered and
annotated with ``search_rank`` (higher is better), a lazy queryset that ``filter_products`` then
orders and the paginator counts and slices. On PostgreSQL it first asks one small query (an index
probe) whether any word matches as typed; a page's query count stays constant.

On PostgreSQL:

- Languages with word boundaries use full-text search in their own configuration (stemming and
  stop words: "Kopfhörer" finds "Kopfhörern"), weighted name A, brand and short description B,
  the rest C, ranked with ``ts_rank``.
- Chinese and Japanese have no word boundaries: a document matches when it contains every word of
  the query (ILIKE, served by the trigram GIN index on ``text``). It is ranked with ``ts_rank``
  over the characters and character bigrams of the texts (the usual CJK indexing: 假发套 is
  indexed as 假 发 套 假发 发套), so a product named for the words ranks above one whose
  description mentions them.
- The English document is searched too, at half weight, so an English brand or model term finds
  its product in every language.
- Typos: when the words match nothing as typed, each word of three letters or more is matched by
  trigram word similarity to the product's name (pg_trgm ``<%``, threshold
  ``pg_trgm.word_similarity_threshold``, 0.6 by default), so "perruqe" still finds the "Perruque
  lisse". Fuzzy matches are only a fallback: an exact query is not diluted with look-alikes ("tea"
  does not return the "Team shirt").

On SQLite (the embedded default) a document matches when its text contains every word
(``icontains``, ASCII case-insensitive only), ranked by how many of the words the name holds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import reduce
from operator import and_, or_

from django.conf import settings
from django.contrib.postgres.lookups import TrigramWordSimilar
from django.contrib.postgres.search import SearchQuery, SearchRank, TrigramWordSimilarity
from django.db import connection
from django.db.models import (
    Case,
    Exists,
    Expression,
    F,
    FloatField,
    Lookup,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils.translation import get_language

from .models import Product, SearchDocument

DEFAULT_LANGUAGE = "en"
LANGUAGES = [code for code, _name in settings.LANGUAGES]

# PostgreSQL text-search configuration per language. ``arabic`` ships with PostgreSQL 12+ (Django
# 5.2 needs 14+); Vietnamese has no stemmer and Chinese and Japanese no word boundaries: "simple"
# (lower-casing only), which still lets Latin brand and model words in those texts match.
TEXT_SEARCH_CONFIGS = {
    "en": "english",
    "es": "spanish",
    "pt-br": "portuguese",
    "ru": "russian",
    "de": "german",
    "fr": "french",
    "ar": "arabic",
    "vi": "simple",
    "zh-hans": "simple",
    "ja": "simple",
}
CJK_LANGUAGES = frozenset({"zh-hans", "ja"})
ENGLISH_WEIGHT = 0.5  # the English document, searched alongside the active language's
MAX_QUERY_LENGTH = 200  # a longer query is cut: it bounds the SQL built from it
MAX_TERMS = 8
FUZZY_MIN_LENGTH = 3  # shorter words have too few trigrams to compare

# Kana, CJK ideographs (with extension A and compatibility forms) and half-width katakana; the
# katakana middle dot (U+30FB) is punctuation and splits runs.
_CJK_CHARS = "\u3041-\u309f\u30a1-\u30fa\u30fc-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f"
_CJK_RUN = re.compile(f"[{_CJK_CHARS}]+")
_WORD = re.compile(r"[^\W_]+")


class _ILike(Lookup):
    """``lhs ILIKE rhs``: Django's ``icontains`` compiles to ``UPPER(lhs) LIKE UPPER(rhs)`` on
    PostgreSQL, which the trigram index on the bare column cannot serve."""

    lookup_name = "ilike"
    prepare_rhs = False

    def as_sql(self, compiler, connection):  # type: ignore[no-untyped-def]
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} ILIKE {rhs}", [*lhs_params, *rhs_params]


# --- Documents ---------------------------------------------------------------------------------


def _suffix(language: str) -> str:
    return language.replace("-", "_")


def _translated(obj: object, field: str, language: str) -> str:
    """The field in ``language``, else in English (modeltranslation's columns, read directly)."""
    value = getattr(obj, f"{field}_{_suffix(language)}", None) or getattr(obj, f"{field}_{DEFAULT_LANGUAGE}", None)
    return (value or "").strip()


def cjk_index_text(text: str) -> str:
    """Spells each run of CJK characters as its characters and bigrams, separated by spaces, for
    the "simple" configuration's parser; other text is kept as it is."""

    def grams(match: re.Match[str]) -> str:
        run = match.group()
        return " " + " ".join([*run, *(run[i : i + 2] for i in range(len(run) - 1))]) + " "

    return _CJK_RUN.sub(grams, text)


@dataclass(frozen=True)
class _Texts:
    """A product's searchable texts in one language: name (weight A), brand and short description
    (B), the rest (C)."""

    title: str
    summary: str
    body: str

    @property
    def text(self) -> str:
        return f"{self.title}\n{self.summary}\n{self.body}"


def _texts_for(product: Product, language: str) -> _Texts:
    category = product.category
    summary = [product.brand.strip(), _translated(product, "short_description", language)]
    body = [
        _translated(product, "description", language),
        _translated(product, "material_care", language),
        _translated(category, "name", language),
        _translated(category.parent, "name", language) if category.parent_id else "",
        product.seller.name,
    ]
    return _Texts(
        _translated(product, "name", language), "\n".join(filter(None, summary)), "\n".join(filter(None, body))
    )


# One statement per batch, the tsvectors computed by PostgreSQL from arrays of texts (building an
# ORM expression per row costs ~2 ms of Python: 100 s for the bench's 50,000 documents).
_UPSERT_POSTGRES = """
INSERT INTO {table} (product_id, language, title, text, document)
SELECT v.product_id, v.language, v.title, v.text,
       setweight(to_tsvector(v.config::regconfig, v.a), 'A')
       || setweight(to_tsvector(v.config::regconfig, v.b), 'B')
       || setweight(to_tsvector(v.config::regconfig, v.c), 'C')
FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[])
     AS v(product_id, language, title, text, config, a, b, c)
ON CONFLICT (product_id, language)
DO UPDATE SET title = EXCLUDED.title, text = EXCLUDED.text, document = EXCLUDED.document
"""


def _upsert_postgres(rows: list[tuple[Product, str, _Texts]]) -> None:
    columns: list[list[object]] = [[] for _ in range(8)]
    for product, language, texts in rows:
        prepare = cjk_index_text if language in CJK_LANGUAGES else str
        values = (
            product.pk,
            language,
            texts.title,
            texts.text,
            TEXT_SEARCH_CONFIGS.get(language, "simple"),
            prepare(texts.title),
            prepare(texts.summary),
            prepare(texts.body),
        )
        for column, value in zip(columns, values, strict=True):
            column.append(value)
    with connection.cursor() as cursor:
        cursor.execute(_UPSERT_POSTGRES.format(table=connection.ops.quote_name(SearchDocument._meta.db_table)), columns)


def _upsert_portable(rows: list[tuple[Product, str, _Texts]]) -> None:
    SearchDocument.objects.bulk_create(
        [SearchDocument(product=p, language=lang, title=t.title, text=t.text) for p, lang, t in rows],
        update_conflicts=True,
        unique_fields=["product", "language"],
        update_fields=["title", "text"],
    )


def refresh_search_documents(product_ids: Iterable[int], *, batch_size: int = 100) -> int:
    """Rebuilds the search documents of these products in every language; returns how many rows
    were written. Two queries per ``batch_size`` products (read, upsert), so it suits one product
    saved in the admin as well as the bench loader's thousands."""
    ids = sorted(set(product_ids))
    upsert = _upsert_postgres if connection.vendor == "postgresql" else _upsert_portable
    written = 0
    for start in range(0, len(ids), batch_size):
        products = Product.objects.filter(pk__in=ids[start : start + batch_size]).select_related(
            "seller", "category", "category__parent"
        )
        rows = [(p, language, _texts_for(p, language)) for p in products for language in LANGUAGES]
        if rows:
            upsert(rows)
        written += len(rows)
    return written


# --- Queries -----------------------------------------------------------------------------------


def _terms(q: str) -> list[str]:
    return q[:MAX_QUERY_LENGTH].split()[:MAX_TERMS]


def _like_pattern(term: str) -> str:
    return f"%{connection.ops.prep_for_like_query(term)}%"


def _cjk_rank_query(q: str) -> str:
    """A raw tsquery ORing the query's CJK bigrams (a lone character stays a unigram) and its other
    words, quoted: partial overlaps still score, the more the better."""
    tokens: list[str] = []
    for run in _CJK_RUN.findall(q):
        tokens.extend([run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)])
    tokens.extend(_WORD.findall(_CJK_RUN.sub(" ", q)))
    # Tokens are letters, digits and CJK characters only: nothing to escape inside the quotes.
    return " | ".join(f"'{token}'" for token in dict.fromkeys(tokens))


def _exact_match(language: str, q: str, terms: Sequence[str]) -> Q:
    if language in CJK_LANGUAGES:
        return reduce(and_, [Q(_ILike(F("text"), _like_pattern(term))) for term in terms], Q(language=language))
    query = SearchQuery(q, config=TEXT_SEARCH_CONFIGS.get(language, "simple"), search_type="websearch")
    return Q(language=language, document=query)


def _exact_rank(document: F, language: str, q: str) -> Expression:
    if language in CJK_LANGUAGES:
        raw = _cjk_rank_query(q)
        if not raw:
            return Value(0.0)
        return SearchRank(document, SearchQuery(raw, config="simple", search_type="raw"))
    query = SearchQuery(q, config=TEXT_SEARCH_CONFIGS.get(language, "simple"), search_type="websearch")
    return SearchRank(document, query)


def _fuzzy_rank(terms: list[str]) -> Expression:
    """Mean word similarity of the terms to the product's name."""
    similarities = [TrigramWordSimilarity(Value(term), F("title")) for term in terms]
    return reduce(lambda a, b: a + b, similarities) / Value(float(len(terms)))


def _weights(language: str) -> dict[str, float]:
    if language == DEFAULT_LANGUAGE:
        return {language: 1.0}
    return {language: 1.0, DEFAULT_LANGUAGE: ENGLISH_WEIGHT}


def _weighted(per_language: dict[str, Expression], weights: dict[str, float]) -> Case:
    """A document's rank times its language's weight."""
    return Case(
        *[When(language=lang, then=expression * Value(weights[lang])) for lang, expression in per_language.items()],
        default=Value(0.0),
        output_field=FloatField(),
    )


def _search_postgres(products: QuerySet[Product], q: str, terms: list[str], language: str) -> QuerySet[Product]:
    weights = _weights(language)
    languages = list(weights)
    # Which products match: documents found through the GIN indexes (one partial index on
    # ``document`` per language, the trigram index on ``text``), as a semi-join.
    documents = SearchDocument.objects.filter(reduce(or_, [_exact_match(lang, q, terms) for lang in languages]))
    rank = _weighted({lang: _exact_rank(F("document"), lang, q) for lang in languages}, weights)
    fuzzy_terms = [t for t in terms if len(t) >= FUZZY_MIN_LENGTH]
    # Typos, only when nothing matches as typed, and in names: every word must be similar to a word
    # of the name (trigram index on ``title``; the whole text would be 25 times the work, and a
    # typo matching a word deep in a description is seldom what the buyer meant). Asked first, in
    # its own query (an index probe): folded into the main query, the trigram conditions cost more
    # to plan than the search costs to run. The probe looks at every product's documents, so a word
    # found only in archived products still turns typos off: rare, and then nothing is shown.
    if fuzzy_terms and not documents.exists():
        similar = [Q(TrigramWordSimilar(F("title"), Value(term))) for term in fuzzy_terms]
        documents = SearchDocument.objects.filter(*similar, language__in=languages)
        rank = _weighted({lang: _fuzzy_rank(fuzzy_terms) for lang in languages}, weights)

    # How well: summed over the product's documents in the active language and in English (two
    # rows of the (product, language) unique index), for the matching products only.
    per_product = (
        SearchDocument.objects.filter(product=OuterRef("pk"), language__in=languages)
        .values("product")
        .annotate(rank=Sum(rank))
        .values("rank")
    )
    search_rank = Coalesce(Subquery(per_product, output_field=FloatField()), Value(0.0), output_field=FloatField())
    return products.filter(pk__in=documents.values("product_id")).annotate(search_rank=search_rank)


def _search_portable(products: QuerySet[Product], terms: list[str], language: str) -> QuerySet[Product]:
    """Every word somewhere in the text; ranked by how many words the product's name has."""
    languages = list(_weights(language))
    documents = SearchDocument.objects.filter(language__in=languages)
    for term in terms:
        documents = documents.filter(text__icontains=term)
    titles = SearchDocument.objects.filter(product=OuterRef("pk"), language__in=languages)
    in_name = [
        Case(
            When(Exists(titles.filter(title__icontains=t)), then=Value(1.0)),
            default=Value(0.0),
            output_field=FloatField(),
        )
        for t in terms
    ]
    return products.filter(pk__in=documents.values("product_id")).annotate(search_rank=sum(in_name[1:], in_name[0]))


def search_products(products: QuerySet[Product], q: str, language: str | None = None) -> QuerySet[Product]:
    """``products`` that match ``q`` in ``language`` (the active one by default) or in English,
    annotated with ``search_rank``. A query without words leaves ``products`` unfiltered."""
    language = language or get_language() or DEFAULT_LANGUAGE
    if language not in TEXT_SEARCH_CONFIGS:
        language = DEFAULT_LANGUAGE
    terms = _terms(q)
    if not terms:
        return products.annotate(search_rank=Value(0.0))
    if connection.vendor == "postgresql":
        return _search_postgres(products, " ".join(terms), terms, language)
    return _search_portable(products, terms, language)
