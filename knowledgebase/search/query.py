"""Ranked search over the translations a viewer may read.

Ranking every full-text match does not scale (at 100,000 articles a common word matches tens of
thousands, and ts_rank over them takes ~50 ms), so a search first collects a bounded candidate
set from three index scans, each stopped after CANDIDATES rows:

1. every query word present (GIN on search_vector, AND query): the precise matches;
2. any query word present (GIN, OR query): partial matches;
3. a query word similar to a word of the title (trigram GIN on search_title, `<%`): typos
   ("pasword") and titles that say the word, found even when (2) stopped early.

and ranks only those, in one statement. Snippets are computed for the final rows only."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import psycopg
from django.conf import settings
from django.db import connection, transaction
from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL
from django.urls import NoReverseMatch, reverse
from django.utils.http import RFC3986_SUBDELIMS

from knowledgebase.models import SearchQuery
from knowledgebase.search.segment import contains_han, normalize_query, segment, to_simplified
from knowledgebase.selectors import readable_translations

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from tickets.models import User

# Candidates ranked per search: up to ALL_WORDS_CANDIDATES articles matching the words (all of
# them first, then any), plus up to TITLE_CANDIDATES with a title word like a query word. Scoring
# one candidate costs ~30 µs (its tsvector is read from TOAST), so this is most of the budget.
ALL_WORDS_CANDIDATES = 150
TITLE_CANDIDATES = 60
# A word in most articles makes GIN build a bitmap of tens of thousands of rows only for the scan
# to keep the first few hundred; past this many, GIN returns a random subset instead
# (PostgreSQL's gin_fuzzy_search_limit), which is all a bounded candidate set needs.
GIN_FUZZY_SEARCH_LIMIT = 5000
# ts_rank_cd walks every position of every matched word: it only scores the best SHORTLIST
# candidates by word coverage and title similarity.
SHORTLIST = 40
MAX_TERMS = 8
# psycopg prepares a statement after this many executions without prepare=True: never, in effect.
PREPARE_ONLY_WHEN_ASKED = 2**31 - 1
MAX_LIMIT = 50
SNIPPET_CHARS = 160
# How much of an article body the snippet is looked for in (Chinese text is folded to Simplified
# in Python to find the words: about 1 ms per 1,000 characters).
SNIPPET_SOURCE_CHARS = 2_000
CHINESE_LANGUAGES = frozenset({"zh-hans", "zh-hant"})
WORD_SIMILARITY_THRESHOLD = 0.5
# Trigram search needs at least one whole trigram: a 2-letter Latin word has none beyond its
# padded ends and would visit a large part of the index. A 2-character Chinese word is fine:
# search_title holds it as a separate (segmented) word.
MIN_TRIGRAM_LATIN = 3
MIN_TRIGRAM_HAN = 2

# PostgreSQL's english stopword list: such a word never reaches an `english` tsvector, so it must
# not be required in the all-words query.
_ENGLISH_STOPWORDS_TEXT = (
    "i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she "
    "her hers herself it its itself they them their theirs themselves what which who whom this that "
    "these those am is are was were be been being have has had having do does did doing a an the and "
    "but if or because as until while of at by for with about against between into through during "
    "before after above below to from up down in out on off over under again further then once here "
    "there when where why how all any both each few more most other some such no nor not only own "
    "same so than too very s t can will just don should now"
)
ENGLISH_STOPWORDS = frozenset(_ENGLISH_STOPWORDS_TEXT.split())

@dataclass(frozen=True)
class SearchHit:
    translation_id: int
    article_id: int
    title: str
    url: str
    snippet_html: str
    category_name: str
    language: str
    score: float


@dataclass
class SearchResults:
    query_id: int | None
    hits: list[SearchHit] = field(default_factory=list)


@dataclass(frozen=True)
class ParsedQuery:
    normalized: str
    terms: tuple[str, ...]

    @property
    def latin_terms(self) -> tuple[str, ...]:
        return tuple(term for term in self.terms if not contains_han(term))

    @property
    def required_terms(self) -> tuple[str, ...]:
        """Terms an article must contain to match every word: English stopwords are left out
        because English articles do not index them."""
        return tuple(term for term in self.terms if contains_han(term) or term not in ENGLISH_STOPWORDS)

    @property
    def trigram_terms(self) -> tuple[str, ...]:
        return tuple(
            term for term in self.required_terms
            if len(term) >= (MIN_TRIGRAM_HAN if contains_han(term) else MIN_TRIGRAM_LATIN)
        )


def parse_query(text: str) -> ParsedQuery:
    normalized = normalize_query(text)
    terms: list[str] = []
    for term in segment(normalized):
        if term not in terms:
            terms.append(term)
    return ParsedQuery(normalized=normalized, terms=tuple(terms[:MAX_TERMS]))


def _quote(term: str) -> str:
    """A term as one quoted operand of to_tsquery (the configuration's parser still splits it)."""
    return "'" + term.replace("\\", "\\\\").replace("'", "''") + "'"


def _configs(term: str, language: str | None) -> tuple[str, ...]:
    """Text search configurations a term is looked up in: Chinese articles are indexed with
    `simple` (English words in them unstemmed), English ones with `english`."""
    if contains_han(term) or language in CHINESE_LANGUAGES:
        return ("simple",)
    if language == "en":
        return ("english",)
    return ("english", "simple")


def _any_term_sql(parsed: ParsedQuery, language: str | None) -> tuple[str, list[Any]]:
    """tsquery matching any query word."""
    by_config: dict[str, list[str]] = {}
    for term in parsed.terms:
        for config in _configs(term, language):
            by_config.setdefault(config, []).append(_quote(term))
    sql = " || ".join(f"to_tsquery('{config}', %s)" for config in by_config)
    return f"({sql})", [" | ".join(quoted) for quoted in by_config.values()]


def _term_sql(term: str, language: str | None) -> tuple[str, list[Any]]:
    configs = _configs(term, language)
    return "(" + " || ".join(f"to_tsquery('{config}', %s)" for config in configs) + ")", [_quote(term)] * len(configs)


def _compiled(queryset: QuerySet) -> tuple[str, tuple[Any, ...]]:
    return queryset.query.sql_with_params()


# Stands in the WHERE clause of the viewer's readable translations, compiled once per search, for
# each scan's own condition: compiling the queryset three times took 2–3 ms of a search.
_SCAN_CONDITION = "kb_search_scan_condition"
_SEARCH_TITLE = '"knowledgebase_articletranslation"."search_title"'


def _scan(template: tuple[str, tuple[Any, ...]], condition: str, condition_params: list[Any]) -> tuple[str, list[Any]]:
    """`template` (the ids of readable translations, compiled with _SCAN_CONDITION) restricted by
    `condition`, with its parameters at the condition's place."""
    sql, params = template
    position = sql.index(_SCAN_CONDITION)
    before = sql[:position].replace("%%", "").count("%s")
    return (sql[:position] + condition + sql[position + len(_SCAN_CONDITION):],
            [*params[:before], *condition_params, *params[before:]])


def _candidates(base: QuerySet, parsed: ParsedQuery, language: str | None) -> tuple[str, list[Any]]:
    """WITH-clause entries (SQL, params) of the bounded candidate scans, each a subset of `base`,
    ending with `candidate(id)`: their union. The any-word scan only fills what the all-words
    scan left of ALL_WORDS_CANDIDATES, so a precise query does not pay for a broad one."""
    # The SQL fragments below are built from constant SQL only; every query word is a parameter.
    none = "SELECT NULL::integer WHERE false"
    all_words: tuple[str, list[Any]] = (none, [])
    any_word: tuple[str, list[Any]] = (none, [])
    similar_title: tuple[str, list[Any]] = (none, [])
    template = _compiled(
        base.filter(RawSQL(_SCAN_CONDITION, [], output_field=BooleanField())).values("id")  # noqa: S611
    )
    if parsed.terms:
        required = parsed.required_terms
        if required:
            all_parts = [_term_sql(term, language) for term in required]
            all_sql = "(" + " && ".join(sql for sql, _ in all_parts) + ")"
            all_params = [param for _, params in all_parts for param in params]
            all_words = _scan(template, f"search_vector @@ {all_sql}", all_params)
            all_words = (f"{all_words[0]} LIMIT {ALL_WORDS_CANDIDATES}", all_words[1])
        any_sql, any_params = _any_term_sql(parsed, language)
        any_word = _scan(template, f"search_vector @@ {any_sql}", any_params)
        any_word = (
            f"{any_word[0]} LIMIT (SELECT greatest(0, {ALL_WORDS_CANDIDATES} - count(*)) FROM all_words)",  # noqa: S608
            any_word[1],
        )
    trigram_terms = parsed.trigram_terms or (
        (parsed.normalized,) if len(parsed.normalized) >= MIN_TRIGRAM_LATIN else ()
    )
    if trigram_terms:
        # search_title %> term: word_similarity(term, search_title) at least the threshold, as
        # the trigram_word_similar lookup writes it (the trigram GIN index serves it).
        similar_sql = " OR ".join(f"{_SEARCH_TITLE} %%> %s" for _ in trigram_terms)
        similar_title = _scan(template, similar_sql, list(trigram_terms))
        # Only while the word scans have room: when every query word is in more articles than
        # the candidate set holds, titles like the query are just as arbitrary a subset, and the
        # trigram scan costs as much as the word scans; a typo leaves the all-words scan short.
        similar_title = (
            f"{similar_title[0]} LIMIT (SELECT CASE WHEN count(*) < {ALL_WORDS_CANDIDATES} THEN {TITLE_CANDIDATES}"  # noqa: S608
            " ELSE 0 END FROM all_words)",
            similar_title[1],
        )
    elif not parsed.terms:
        return "", []
    sql = (
        f"all_words(id) AS MATERIALIZED ({all_words[0]}),\n"  # noqa: S608 - compiled querysets
        f"any_word(id) AS ({any_word[0]}),\n"
        f"similar_title(id) AS ({similar_title[0]}),\n"
        "candidate(id, has_all_words) AS (SELECT id, bool_or(has_all_words) FROM ("
        " SELECT id, true AS has_all_words FROM all_words UNION ALL SELECT id, false FROM any_word"
        " UNION ALL SELECT id, false FROM similar_title) AS scans GROUP BY id)"
    )
    return sql, [*all_words[1], *any_word[1], *similar_title[1]]


# Weights: how many of the words an article contains matters most (a Chinese query is cut into
# several words and any one of them matches many articles); then full-text rank (title A 1.0, tags
# B 0.4, body C 0.2, length-normalised); then how close the title is to the query (catches typos);
# then small nudges for fresh, helpful and much-read articles, enough to order near-ties only.
# Reading an article's tsvector (3 KB, in TOAST) is the dearest step, so it is read only where
# needed: not for the coverage of the all-words matches (1 by definition), once (decompressed in a
# sub-select) for the other candidates, and once more for the shortlist's ts_rank_cd.
_RANK_SQL = """
WITH {candidates},
prescored AS (
    SELECT t.id,
           CASE WHEN candidate.has_all_words THEN 1.0
                ELSE (SELECT {coverage} FROM (SELECT t.search_vector || ''::tsvector AS sv) AS vector) END
             AS coverage,
           word_similarity(%s, t.search_title) AS title_similarity,
           exp(-extract(epoch FROM (now() - coalesce(t.published_at, t.created_at))) / (86400 * 365.0))
             AS freshness,
           (t.helpful_yes + 1.0) / (t.helpful_yes + t.helpful_no + 2.0) AS helpfulness,
           ln(1 + t.view_count) / ln(1 + 1000000.0) AS popularity
    FROM candidate JOIN knowledgebase_articletranslation t ON t.id = candidate.id
),
shortlist AS (
    SELECT * FROM prescored
    ORDER BY 0.45 * coverage + 0.20 * title_similarity DESC, id DESC
    LIMIT %s
),
ranked AS (
    SELECT shortlist.id,
           0.45 * coverage + 0.60 * ts_rank_cd('{{0.1, 0.2, 0.4, 1.0}}', t.search_vector, {any_sql}, 1 | 32)
           + 0.20 * title_similarity + 0.02 * freshness + 0.02 * (helpfulness - 0.5) + 0.01 * popularity AS score
    FROM shortlist JOIN knowledgebase_articletranslation t USING (id)
    ORDER BY score DESC, shortlist.id DESC
    LIMIT %s
)
SELECT t.id, t.article_id, t.title, t.slug, t.language,
       coalesce(nullif(c.names ->> t.language, ''), nullif(c.names ->> 'en', ''), c.slug), ranked.score,
       left(regexp_replace(t.body_html, '<[^>]+>', ' ', 'g'), %s) AS snippet_text, t.summary,
       tsvector_to_array(to_tsvector('english', %s)) AS english_stems
FROM ranked
JOIN knowledgebase_articletranslation t ON t.id = ranked.id
JOIN knowledgebase_article a ON a.id = t.article_id
JOIN knowledgebase_category c ON c.id = a.category_id
ORDER BY ranked.score DESC, ranked.id DESC
"""


def _coverage_sql(parsed: ParsedQuery, language: str | None) -> tuple[str, list[Any]]:
    """Share of the (required) query words the article contains, 0..1."""
    required = parsed.required_terms or parsed.terms
    if not required:
        return "0.0", []
    parts = [_term_sql(term, language) for term in required]
    sql = " + ".join(f"(sv @@ {part_sql})::int" for part_sql, _ in parts)
    params = [param for _, part_params in parts for param in part_params]
    return f"({sql})::numeric / {len(required)}", params


def rank(*, viewer: User | AnonymousUser | None, parsed: ParsedQuery, language: str | None, limit: int) -> list[tuple]:
    """Rows (id, article_id, title, slug, language, category name, score, snippet text, summary,
    English stems of the query) of the best `limit` readable translations, best first."""
    base = readable_translations(viewer)
    if language:
        # Compared as an expression, not the column: otherwise the planner ANDs the GIN bitmap
        # with a bitmap of every article in the language (kb_translation_popular, 33,000 rows at
        # 100k articles), which costs more than the match itself.
        base = base.filter(RawSQL(  # noqa: S611 - constant SQL, the language is a parameter
            "(knowledgebase_articletranslation.language || '') = %s", [language], output_field=BooleanField(),
        ))
    candidates_sql, candidate_params = _candidates(base, parsed, language)
    if not candidates_sql:
        return []
    coverage_sql, coverage_params = _coverage_sql(parsed, language)
    if parsed.terms:
        any_sql, any_params = _any_term_sql(parsed, language)
    else:
        any_sql, any_params = "''::tsquery", []
    sql = _RANK_SQL.format(candidates=candidates_sql, coverage=coverage_sql, any_sql=any_sql)
    params = [
        *candidate_params, *coverage_params, " ".join(parsed.terms) or parsed.normalized,
        max(SHORTLIST, limit), *any_params, limit,
        SNIPPET_SOURCE_CHARS, " ".join(parsed.latin_terms),
    ]
    with transaction.atomic(savepoint=False), _search_cursor() as cursor:
        # pg_trgm's default word-similarity threshold (0.6) misses a dropped letter in a short
        # word ("refnd" is 0.5 like "refund"); local to this transaction.
        # synchronous_commit off: the search log written in this transaction (kb_search) need
        # not wait for the WAL flush; losing the last searches in a crash is acceptable.
        # With LIMIT the planner expects a sequential scan to find enough matches early; for a
        # rare word or a title trigram it reads most of the table instead (130 ms at 100k
        # articles against 2 ms through the GIN indexes).
        cursor.execute(
            "SELECT set_config('pg_trgm.word_similarity_threshold', %s, true), set_config('enable_seqscan', 'off', true),"
            " set_config('gin_fuzzy_search_limit', %s, true), set_config('synchronous_commit', 'off', true)",
            [str(WORD_SIMILARITY_THRESHOLD), str(GIN_FUZZY_SEARCH_LIMIT)],
            prepare=True,
        )
        cursor.execute(sql, params, prepare=True)
        return cursor.fetchall()


def prepared_statements_enabled() -> bool:
    """Whether the search statements are prepared on the server (KB_SEARCH_PREPARED_STATEMENTS,
    on unless the database sits behind a transaction-pooling pgbouncer: DISABLE_SERVER_SIDE_CURSORS,
    Django's setting for that case, turns it off too). pgbouncer before 1.21, or without
    max_prepared_statements, would run an EXECUTE on a server connection that never saw the PREPARE."""
    database = settings.DATABASES[connection.alias]
    return bool(getattr(settings, "KB_SEARCH_PREPARED_STATEMENTS", True)) and not database.get(
        "DISABLE_SERVER_SIDE_CURSORS", False)


@contextmanager
def _search_cursor() -> Iterator[Any]:
    """A cursor whose execute(..., prepare=True) prepares the statement once per connection.

    Planning the ranking statement costs 5–15 ms at 100,000 articles, as much as running it.
    Django's cursors bind parameters on the client (the server sees a new text every time and
    plans it anew), and Django turns psycopg's automatic preparation off for poolers. Here the
    statement text depends only on the query's shape (number of words, language, the viewer's
    role), so a server-side-binding psycopg cursor prepares each shape once per connection
    (psycopg keeps up to 100 per connection; CONN_MAX_AGE keeps the connection), and after five
    executions PostgreSQL reuses a generic plan when it costs no more than the custom ones."""
    if not prepared_statements_enabled():
        with connection.cursor() as cursor:
            yield _ClientCursor(cursor)
        return
    connection.ensure_connection()
    raw = connection.connection
    # Django leaves psycopg's threshold at None, which turns preparation off on the whole
    # connection, even for an explicit prepare=True; any number turns it on for cursors that ask
    # (Django's own client-binding cursors never prepare). Restored afterwards.
    threshold = raw.prepare_threshold
    if threshold is None:
        raw.prepare_threshold = PREPARE_ONLY_WHEN_ASKED
    try:
        with connection.wrap_database_errors, psycopg.Cursor(raw) as cursor:
            yield cursor
    finally:
        if threshold is None:
            raw.prepare_threshold = None


class _ClientCursor:
    """Django's cursor, ignoring the prepare argument (prepared statements are off)."""

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def execute(self, sql: str, params: list[Any], *, prepare: bool | None = None) -> None:
        self._cursor.execute(sql, params)

    def fetchall(self) -> list[tuple]:
        return self._cursor.fetchall()




class _SimplifiedChars(dict):
    """str.translate table folding each character to Simplified on its own (zhconv's character
    table, filled as characters are met): the same positions as the text, at str.translate's
    speed. Converting a 2,000-character zh-Hant excerpt with zhconv's phrase table takes 1–2 ms,
    and the character-by-character fallback 2–3 ms more, for each of the ten results."""

    def __missing__(self, code: int) -> str | int:
        char = chr(code)
        simplified = to_simplified(char) if contains_han(char) else char
        value: str | int = simplified if len(simplified) == 1 and simplified != char else code
        self[code] = value
        return value


_SIMPLIFIED_CHARS = _SimplifiedChars()


def _simplified_same_length(text: str) -> str:
    """A Simplified copy of `text` with the same character positions, to find query words in a
    zh-Hant text and highlight them in the original: character by character."""
    return text.translate(_SIMPLIFIED_CHARS) if contains_han(text) else text


def _simplified_phrases_same_length(text: str) -> str | None:
    """`text` through zhconv's phrase table (Taiwan wording 網路 becomes Mainland 网络, as a query
    is folded), when that keeps every position; None otherwise."""
    simplified = to_simplified(text)
    return simplified if len(simplified) == len(text) else None


def match_pattern(terms: tuple[str, ...], english_stems: list[str] | tuple[str, ...] = ()) -> re.Pattern[str] | None:
    """What to highlight: Chinese words anywhere (no spaces between words), Latin words and the
    English stems of the query at the start of a word and with any ending ("reset" marks
    "resetting"; the stem "polici" marks "policy" through "polic")."""
    alternatives = set()
    for term in (*terms, *english_stems):
        if contains_han(term):
            alternatives.add(re.escape(term))
        elif term:
            prefix = term[:-1] if term.endswith("i") and len(term) > 3 else term
            alternatives.add(r"(?<![a-z0-9])" + re.escape(prefix) + r"[a-z0-9]*")
    if not alternatives:
        return None
    return re.compile("|".join(sorted(alternatives, key=len, reverse=True)))


def highlight(text: str, pattern: re.Pattern[str] | None, *, width: int = SNIPPET_CHARS) -> str:
    """An escaped excerpt of `text` around the first match of `pattern`, every match in it
    wrapped in <mark>. Matches on a Simplified, lower-case copy, so zh-Hant text is marked for
    a Simplified query word."""
    text = " ".join(html.unescape(text).split())
    if not text:
        return ""
    spans: list[tuple[int, int]] = []
    if pattern is not None:
        folded = _simplified_same_length(text).lower()
        spans = [(match.start(), match.end()) for match in pattern.finditer(folded)]
        if not spans and contains_han(text):
            # Only a phrase-level fold may match (網路 for a query 网络): the slower conversion.
            phrases = _simplified_phrases_same_length(text)
            if phrases is not None:
                spans = [(match.start(), match.end()) for match in pattern.finditer(phrases.lower())]
    start = 0
    if spans and spans[0][0] > width // 2:
        start = spans[0][0] - width // 4
        # Begin at a word when there are spaces to find one.
        space = text.rfind(" ", start - 15, start)
        start = space + 1 if space > 0 else start
    end = min(len(text), start + width)
    pieces: list[str] = ["…" if start > 0 else ""]
    cursor = start
    for span_start, span_end in spans:
        if span_end <= start or span_start < cursor:
            continue
        if span_start >= end:
            break
        pieces.append(html.escape(text[cursor:span_start], quote=False))
        pieces.append(f"<mark>{html.escape(text[span_start:span_end], quote=False)}</mark>")
        cursor = span_end
    pieces.append(html.escape(text[cursor:max(end, cursor)], quote=False))
    if end < len(text):
        pieces.append("…")
    return "".join(pieces)


def _article_url(language: str, slug: str) -> str:
    try:
        return reverse("help:article", kwargs={"language": language, "slug": slug})
    except NoReverseMatch:
        # The help center routes are not mounted (a deployment without it): the documented path.
        return f"/help/{language}/articles/{slug}/"


_SLUG_STANDIN = "kb-search-slug"


class _ArticleUrls:
    """Article URLs of one search's results: reverse() once per language (0.1 ms a call) with a
    stand-in slug replaced by each slug, quoted as reverse() quotes it."""

    def __init__(self) -> None:
        self._patterns: dict[str, str] = {}

    def __call__(self, language: str, slug: str) -> str:
        if "/" in slug or _SLUG_STANDIN in slug:
            return _article_url(language, slug)
        if language not in self._patterns:
            self._patterns[language] = _article_url(language, _SLUG_STANDIN)
        return self._patterns[language].replace(_SLUG_STANDIN, quote(slug, safe=RFC3986_SUBDELIMS + "/~:@"))


def kb_search(*, query: str, language: str | None, viewer: User | AnonymousUser | None, limit: int = 10,
              source: str = SearchQuery.Source.API, session_key: str = "") -> SearchResults:
    """The best `limit` published translations `viewer` may read for `query` (in `language`
    when given), with highlighted snippets; logs the search unless the query is empty."""
    limit = max(1, min(int(limit), MAX_LIMIT))
    parsed = parse_query(query or "")
    if not parsed.normalized:
        return SearchResults(query_id=None)
    with transaction.atomic(savepoint=False):
        return _search_and_log(parsed=parsed, query=query, language=language, viewer=viewer, limit=limit,
                               source=source, session_key=session_key)


def _search_and_log(*, parsed: ParsedQuery, query: str, language: str | None,
                    viewer: User | AnonymousUser | None, limit: int, source: str, session_key: str) -> SearchResults:
    rows = rank(viewer=viewer, parsed=parsed, language=language, limit=limit)
    hits = []
    article_url = _ArticleUrls()
    for pk, article_id, title, slug, row_language, category_name, score, snippet_text, summary, stems in rows:
        pattern = match_pattern(parsed.terms, stems if row_language == "en" else ())
        snippet = highlight(snippet_text or "", pattern) or highlight(summary or "", pattern)
        hits.append(SearchHit(
            translation_id=pk, article_id=article_id, title=title, url=article_url(row_language, slug),
            snippet_html=snippet, category_name=category_name,
            language=row_language, score=float(score),
        ))
    if source not in SearchQuery.Source.values:
        source = SearchQuery.Source.API
    logged = SearchQuery.objects.create(
        query=query.strip()[:200], normalized_query=parsed.normalized, source=source, result_count=len(hits),
        language=language or ("zh-hans" if contains_han(parsed.normalized) else "en"),
        session_key=session_key[:64],
    )
    return SearchResults(query_id=logged.pk, hits=hits)
