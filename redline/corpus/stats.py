"""Corpus statistics with article-level bootstrap intervals (`redline corpus stats`).

Reads a redline store (DuckDB, read-only) and sums up, per group of articles (by source,
month, any other column of `documents` or any key of its `meta`):

* articles, words;
* techniques per 1,000 words and the share of articles using each technique and family;
* the share of the text covered by technique spans;
* the top actors, with how the articles portray them (share Protagonist / Antagonist /
  Innocent / unclear among the articles that name them);
* the most-attacked actors: technique spans aimed at them (the `targets` table);
* the share of claims that rest on no source but the author.

Every rate is a ratio of sums over articles (e.g. spans / words) and comes with a 95%
**percentile interval from an article-level bootstrap**: the group's articles are resampled
with replacement `resamples` times, each resample's ratio is recomputed, and the 2.5th and
97.5th percentiles are the interval. Resampling whole articles (not spans) respects that
spans, actors and claims of one article are not independent. The resampling is vectorised:
each block of resamples is a matrix of article weights (how often each article was drawn),
and every numerator and denominator is one matrix product with it. The generator is seeded
per group from `seed` and the group's key, so a group's interval does not change when other
groups are filtered in or out. Groups with fewer than `min_articles` articles are kept and
marked `small`: their intervals are wide and honest, but few readers expect that.

Only the latest version of each article counts (a document that a newer version names as
its `previous_doc_id` is left out).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import warnings
import zlib
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

from redline.errors import InputError

ROLES = ("Protagonist", "Antagonist", "Innocent", "unclear")
NONE_GROUP = "(none)"  # the group of articles without a value for a grouping column
# Columns of `documents` that make no sense as groups (one value per article, or the text).
_NOT_GROUPS = {"doc_id", "text", "meta", "path", "url", "title", "previous_doc_id", "article_key",
               "n_chars", "n_words"}
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,63}$")


@dataclass(frozen=True)
class Filters:
    """Which articles and techniques count. Dates are inclusive; empty tuples mean all."""

    sources: tuple[str, ...] = ()
    since: dt.date | None = None
    until: dt.date | None = None
    techniques: tuple[str, ...] = ()  # PTC labels (resolved by `resolve_techniques`)

    def to_json(self) -> dict[str, Any]:
        return {"sources": list(self.sources), "since": self.since.isoformat() if self.since else None,
                "until": self.until.isoformat() if self.until else None, "techniques": list(self.techniques)}


@dataclass(frozen=True)
class Settings:
    """How the statistics are computed (printed with them, so a figure can be reproduced)."""

    resamples: int = 1000
    seed: int = 0
    confidence: float = 0.95
    min_articles: int = 5
    top_actors: int = 10

    def to_json(self) -> dict[str, Any]:
        return {"resamples": self.resamples, "seed": self.seed, "confidence": self.confidence,
                "min_articles": self.min_articles, "top_actors": self.top_actors,
                "interval": "percentile, article-level bootstrap"}


# --- parsing what a user typed --------------------------------------------------------
def parse_date(value: str | None, what: str) -> dt.date | None:
    """'2018-05-01', '2018-05' (its first day) or '2018' (1 January); None stays None."""
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    for fmt in ("%Y-%m-%d", "%Y-%m", "%Y"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise InputError(f"{what}: {text!r} is not a date (use YYYY-MM-DD, YYYY-MM or YYYY)")


def parse_until(value: str | None) -> dt.date | None:
    """Like parse_date, but 'YYYY-MM' and 'YYYY' mean the last day of that month or year."""
    date = parse_date(value, "--until")
    if date is None:
        return None
    text = str(value).strip()
    if re.fullmatch(r"\d{4}", text):
        return dt.date(date.year, 12, 31)
    if re.fullmatch(r"\d{4}-\d{1,2}", text):
        following = dt.date(date.year + (date.month == 12), date.month % 12 + 1, 1)
        return following - dt.timedelta(days=1)
    return date


def resolve_techniques(names: Iterable[str]) -> tuple[str, ...]:
    """PTC labels for technique labels, readable names or family names (case-insensitive)."""
    from redline import taxonomy

    wanted = [n.strip() for name in names for n in str(name).split(";") if n.strip()]
    if not wanted:
        return ()
    by_key: dict[str, list[str]] = {}
    for label in taxonomy.PTC_TECHNIQUES:
        info = taxonomy.technique_info(label)
        for key in (label, info.name):
            by_key.setdefault(key.lower(), []).append(label)
        by_key.setdefault(info.family.lower(), []).append(label)
    out: list[str] = []
    for name in wanted:
        labels = by_key.get(name.lower())
        if not labels:
            raise InputError(f"--technique: unknown technique {name!r}; `redline techniques` lists them "
                             f"(a label, its name or a family: {', '.join(taxonomy.FAMILIES)})")
        out.extend(label for label in labels if label not in out)
    return tuple(out)


# --- reading the store ------------------------------------------------------------------
@dataclass
class _Articles:
    """The articles that count, one row each, and what the statistics need from them."""

    doc_ids: np.ndarray  # in doc_id order; row i of every array below is article doc_ids[i]
    groups: list[tuple[str, ...]]
    words: np.ndarray
    chars: np.ndarray
    covered: np.ndarray  # characters inside at least one technique span
    techniques: list[str]
    tech_counts: np.ndarray  # (articles, techniques)
    families: list[str]
    family_counts: np.ndarray  # (articles, families)
    claims: np.ndarray
    author_claims: np.ndarray
    actor_keys: list[str] = field(default_factory=list)
    actor_names: dict[str, str] = field(default_factory=dict)
    actor_types: dict[str, str] = field(default_factory=dict)
    # one row per (article, actor_key): article row, actor column, role index (ROLES)
    actor_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    actor_cols: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    actor_roles: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    # one row per (article, attacked actor_key): spans aimed at it in that article
    target_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    target_cols: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    target_spans: np.ndarray = field(default_factory=lambda: np.zeros(0, float))


def document_columns(con) -> list[str]:
    return [row[0] for row in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'documents' "
        "ORDER BY ordinal_position").fetchall()]


def _group_expression(column: str, columns: list[str], params: list) -> str:
    """SQL for one grouping column: a documents column, `year`, or a key of `meta`."""
    if not _KEY.match(column):
        raise InputError(f"--by: {column!r} is not a column name (letters, digits, _ and -)")
    if column in columns and column not in _NOT_GROUPS:
        return f'CAST(d."{column}" AS VARCHAR)'
    if column == "year":
        return "CAST(year(d.date) AS VARCHAR)"
    if column in columns:
        raise InputError(f"--by: {column!r} has one value per article; group by source, month, year, "
                         "a model column or a metadata key")
    params.append(f'$."{column}"')
    return "json_extract_string(d.meta, ?)"


def docs_where(filters: Filters, params: list) -> str:
    """The WHERE clause (on `documents d`) of the articles that count: latest versions
    within the filters. Appends its parameters to `params`."""
    where = ["d.doc_id NOT IN (SELECT previous_doc_id FROM documents WHERE previous_doc_id IS NOT NULL)"]
    if filters.sources:
        where.append(f"lower(d.source) IN ({', '.join('?' for _ in filters.sources)})")
        params.extend(s.lower() for s in filters.sources)
    if filters.since:
        where.append("d.date >= ?")
        params.append(filters.since)
    if filters.until:
        where.append("d.date <= ?")
        params.append(filters.until)
    return " AND ".join(where)


def technique_where(filters: Filters, params: list, alias: str = "s") -> str:
    """The WHERE clause (on `spans s`) of the spans that count; appends its parameters."""
    if not filters.techniques:
        return "TRUE"
    params.extend(filters.techniques)
    return f"{alias}.technique IN ({', '.join('?' for _ in filters.techniques)})"


def load_articles(con, by: tuple[str, ...], filters: Filters) -> _Articles:
    """Everything the statistics need, as arrays indexed by article (a few SQL queries).

    Articles are numbered 0..n-1 in doc_id order by the `docs` CTE, and every other query
    returns that number, so no id is looked up in Python.
    """
    from redline.taxonomy import FAMILIES

    columns = document_columns(con)
    if not columns:
        raise InputError("this file has no redline store in it (no documents table)")
    group_params: list = []
    group_sql = [_group_expression(c, columns, group_params) for c in by]
    where_params: list = []
    where = docs_where(filters, where_params)
    docs_cte = (f"WITH docs AS (SELECT d.doc_id, CAST(row_number() OVER (ORDER BY d.doc_id) - 1 AS INTEGER) AS i "
                f"FROM documents d WHERE {where})")

    def fetch(sql: str, params: list) -> dict[str, np.ndarray]:
        return {k: np.asarray(v) for k, v in con.execute(sql, params).fetchnumpy().items()}

    select_groups = "".join(f", {g} AS g{i}" for i, g in enumerate(group_sql))
    docs = fetch(f"SELECT d.doc_id, coalesce(d.n_words, 0) AS words, coalesce(d.n_chars, 0) AS chars{select_groups} "
                 f"FROM documents d WHERE {where} ORDER BY d.doc_id", group_params + where_params)
    n = len(docs["doc_id"])
    key_columns = [[NONE_GROUP if v is None else str(v) for v in docs[f"g{i}"].tolist()] for i in range(len(by))]
    groups = list(zip(*key_columns)) if by else [()] * n

    # Technique spans per article and technique (and family).
    p: list = list(where_params)
    tech_where = technique_where(filters, p)
    spans = fetch(f"{docs_cte} SELECT docs.i, s.technique, coalesce(s.family, 'Other') AS family, "
                  f"CAST(count(*) AS DOUBLE) AS n FROM spans s JOIN docs USING (doc_id) WHERE {tech_where} "
                  f"GROUP BY ALL", p)
    techniques = sorted(set(spans["technique"].tolist()) | set(filters.techniques))
    present_families = set(spans["family"].tolist())
    families = [f for f in FAMILIES + ["Other"] if f in present_families]
    tech_counts = np.zeros((n, len(techniques)))
    family_counts = np.zeros((n, len(families)))
    if len(spans["i"]):
        t_col = {t: j for j, t in enumerate(techniques)}
        f_col = {f: j for j, f in enumerate(families)}
        t_idx = np.array([t_col[t] for t in spans["technique"].tolist()])
        f_idx = np.array([f_col[f] for f in spans["family"].tolist()])
        np.add.at(tech_counts, (spans["i"], t_idx), spans["n"])
        np.add.at(family_counts, (spans["i"], f_idx), spans["n"])

    # Characters covered by the union of an article's spans (gaps and islands in SQL).
    p = list(where_params)
    tech_where = technique_where(filters, p)
    cov = fetch(
        f"""{docs_cte},
        s AS (SELECT docs.i, s.start, s."end",
                     max(s."end") OVER (PARTITION BY docs.i ORDER BY s.start, s."end"
                                        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reach
              FROM spans s JOIN docs USING (doc_id) WHERE {tech_where}),
        islands AS (SELECT i, start, "end",
                     sum(CASE WHEN reach IS NULL OR start > reach THEN 1 ELSE 0 END)
                         OVER (PARTITION BY i ORDER BY start, "end" ROWS UNBOUNDED PRECEDING) AS island
              FROM s)
        SELECT i, CAST(sum(e - b) AS DOUBLE) AS covered
        FROM (SELECT i, island, min(start) AS b, max("end") AS e FROM islands GROUP BY ALL) GROUP BY i""", p)
    covered = np.zeros(n)
    covered[cov["i"]] = cov["covered"]

    # Claims, and those on no source but the author's word.
    cl = fetch(f"{docs_cte} SELECT docs.i, CAST(count(*) AS DOUBLE) AS n, "
               f"CAST(count(*) FILTER (WHERE c.source = 'author') AS DOUBLE) AS author "
               f"FROM claims c JOIN docs USING (doc_id) GROUP BY docs.i", where_params)
    claims, author_claims = np.zeros(n), np.zeros(n)
    claims[cl["i"]] = cl["n"]
    author_claims[cl["i"]] = cl["author"]

    arts = _Articles(docs["doc_id"], groups, docs["words"].astype(float), docs["chars"].astype(float), covered,
                     techniques, tech_counts, families, family_counts, claims, author_claims)

    # Actors: one row per article and actor key; the role of its most-mentioned actor there.
    canonical_actors(con)
    # The most frequent spelling and type; ties broken by the string, so that every
    # connection (the CLI, the web app's snapshot) names an actor alike ("Liberals" and
    # "liberals" once each: mode() would pick either).
    names = con.execute(
        f"""{docs_cte}, counted AS (
                SELECT a.actor_key, a.name, a.type, count(*) AS n FROM actors_canonical a JOIN docs USING (doc_id)
                WHERE a.actor_key IS NOT NULL GROUP BY ALL)
            SELECT actor_key, first(name ORDER BY n DESC, name), first(type ORDER BY n DESC, type)
            FROM counted GROUP BY actor_key ORDER BY actor_key""", where_params).fetchall()
    arts.actor_names = {k: nm for k, nm, _ in names}
    arts.actor_types = {k: tp for k, _, tp in names}
    arts.actor_keys = [k for k, _, _ in names]
    role_case = " ".join(f"WHEN '{r}' THEN {j}" for j, r in enumerate(ROLES))
    act = fetch(
        f"""{docs_cte}, keys AS (SELECT actor_key, CAST(row_number() OVER (ORDER BY actor_key) - 1 AS INTEGER) AS c
                                 FROM (SELECT DISTINCT a.actor_key FROM actors_canonical a JOIN docs USING (doc_id)
                                       WHERE a.actor_key IS NOT NULL))
            SELECT docs.i, keys.c,
                   CASE arg_max(coalesce(a.role_main, 'unclear'), a.n_mentions) {role_case} ELSE {ROLES.index('unclear')}
                   END AS role
            FROM actors_canonical a JOIN docs USING (doc_id) JOIN keys USING (actor_key) GROUP BY docs.i, keys.c""",
        where_params)
    arts.actor_rows, arts.actor_cols, arts.actor_roles = act["i"], act["c"], act["role"]

    # Technique spans aimed at an actor (targets), per article and actor key.
    p = list(where_params)
    tech_where = technique_where(filters, p)
    tg = fetch(
        f"""{docs_cte}, keys AS (SELECT actor_key, CAST(row_number() OVER (ORDER BY actor_key) - 1 AS INTEGER) AS c
                                 FROM (SELECT DISTINCT a.actor_key FROM actors_canonical a JOIN docs USING (doc_id)
                                       WHERE a.actor_key IS NOT NULL))
            SELECT docs.i, keys.c, CAST(count(DISTINCT t.span_id) AS DOUBLE) AS n
            FROM targets t JOIN docs USING (doc_id)
            JOIN actors_canonical a ON a.doc_id = t.doc_id AND a.actor_id = t.actor_id
            JOIN keys USING (actor_key)
            JOIN spans s ON s.doc_id = t.doc_id AND s.span_id = t.span_id
            WHERE {tech_where} GROUP BY docs.i, keys.c""", p)
    arts.target_rows, arts.target_cols, arts.target_spans = tg["i"], tg["c"], tg["n"]
    return arts


def canonical_actors(con) -> str:
    """Creates (on this connection only) the temporary view `actors_canonical`: the actors
    table with a surname-only person key joined to the one full name that ends with it in
    the whole store ("trump|PERSON" -> "donald-trump|PERSON"), so that an article that only
    says "Trump" counts for Donald Trump. Where two full names share the surname ("Theresa
    May", "Brian May") the short key stays apart: nothing says which is meant. A temporary
    view works on a read-only connection too. Returns the view's name."""
    con.execute("""CREATE OR REPLACE TEMP VIEW actors_canonical AS
        WITH persons AS (SELECT DISTINCT actor_key, split_part(actor_key, '|', 1) AS nm FROM actors
                         WHERE type = 'PERSON' AND actor_key IS NOT NULL),
             short AS (SELECT actor_key, nm FROM persons WHERE position('-' IN nm) = 0),
             fulls AS (SELECT s.actor_key AS short_key, min(p.actor_key) AS full_key, count(*) AS n
                       FROM short s JOIN persons p ON p.nm LIKE '%-' || s.nm GROUP BY s.actor_key)
        SELECT a.* REPLACE (coalesce(f.full_key, a.actor_key) AS actor_key) FROM actors a
        LEFT JOIN (SELECT short_key, full_key FROM fulls WHERE n = 1) f ON a.actor_key = f.short_key""")
    return "actors_canonical"


# --- the bootstrap --------------------------------------------------------------------------
def _group_rng(seed: int, key: tuple[str, ...]) -> np.random.Generator:
    """A generator for one group: the same group key and seed give the same intervals."""
    return np.random.default_rng([seed, zlib.crc32("\x1f".join(key).encode("utf-8"))])


def bootstrap_ratios(numerators: np.ndarray, denominators: np.ndarray, *, resamples: int,
                     rng: np.random.Generator, confidence: float = 0.95,
                     den_of: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """Ratios of sums over articles, each with a percentile interval from an article bootstrap.

    `numerators` is (articles, metrics); `denominators` is (articles, metrics) too, or,
    with `den_of` (metric -> column), (articles, distinct denominators): many metrics
    share one (words, articles, claims), which is then resampled once. Returns (value,
    low, high), each (metrics,); NaN where the denominator sums to 0. Resamples whose
    denominator is 0 are left out of that metric's interval.
    """
    from threadpoolctl import threadpool_limits

    n, m = numerators.shape
    if den_of is None:
        den_of = np.arange(denominators.shape[1])
    with np.errstate(invalid="ignore", divide="ignore"):
        value = numerators.sum(0) / denominators.sum(0)[den_of]
    if n == 0 or m == 0:
        return value, value.copy(), value.copy()
    # Weights in blocks of about 2 million cells so that memory stays flat for big groups.
    block = max(1, min(resamples, 2_000_000 // n))
    ratios = np.empty((resamples, m))
    # Small products: one BLAS thread is faster than several fighting over busy cores.
    with threadpool_limits(1, user_api="blas"):
        for first in range(0, resamples, block):
            b = min(block, resamples - first)
            draws = rng.integers(0, n, size=(b, n), dtype=np.int32)
            draws += (np.arange(b, dtype=np.int32) * n)[:, None]
            weights = np.bincount(draws.ravel(), minlength=b * n).reshape(b, n).astype(float)
            with np.errstate(invalid="ignore", divide="ignore"):
                ratios[first:first + b] = (weights @ numerators) / (weights @ denominators)[:, den_of]
    tail = (1 - confidence) / 2 * 100
    defined = ~np.isnan(ratios)
    if defined.all():
        low, high = np.percentile(ratios, [tail, 100 - tail], axis=0)
    elif defined.any():
        with warnings.catch_warnings():  # a metric with no defined resample (no claims) stays NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            low, high = np.nanpercentile(ratios, [tail, 100 - tail], axis=0)
    else:
        low, high = np.full(m, np.nan), np.full(m, np.nan)
    return value, low, high


def _rate(value: float, low: float, high: float, scale: float = 1.0) -> dict[str, float] | None:
    if not np.isfinite(value):
        return None
    return {"value": round(float(value) * scale, 4), "ci_low": round(float(low) * scale, 4),
            "ci_high": round(float(high) * scale, 4)}


class _Metrics:
    """Collects (name, numerator column, denominator column, scale) for one bootstrap call.

    A denominator passed again as the same array object is stored once (words, articles).
    """

    def __init__(self, n: int):
        self.n = n
        self.names: list[tuple] = []
        self.nums: list[np.ndarray] = []
        self.dens: list[np.ndarray] = []
        self.den_column: dict[int, int] = {}  # id(array) -> column in self.dens
        self.den_of: list[int] = []
        self.scales: list[float] = []

    def add(self, name: tuple, numerator: np.ndarray, denominator: np.ndarray, scale: float = 1.0) -> None:
        if id(denominator) not in self.den_column:
            self.den_column[id(denominator)] = len(self.dens)
            self.dens.append(denominator)
        self.names.append(name)
        self.nums.append(numerator)
        self.den_of.append(self.den_column[id(denominator)])
        self.scales.append(scale)

    def run(self, rng, settings: Settings) -> dict[tuple, dict | None]:
        if not self.names:
            return {}
        value, low, high = bootstrap_ratios(np.column_stack(self.nums), np.column_stack(self.dens),
                                            resamples=settings.resamples, rng=rng,
                                            confidence=settings.confidence, den_of=np.array(self.den_of))
        return {name: _rate(v, lo, hi, s) for name, v, lo, hi, s in zip(self.names, value, low, high, self.scales)}


# --- per group -----------------------------------------------------------------------------
def _group_stats(arts: _Articles, rows: np.ndarray, key: tuple[str, ...], by: tuple[str, ...],
                 settings: Settings) -> dict[str, Any]:
    n = len(rows)
    words, chars = arts.words[rows], arts.chars[rows]
    ones = np.ones(n)
    tech = arts.tech_counts[rows]
    fam = arts.family_counts[rows]
    metrics = _Metrics(n)
    metrics.add(("techniques_per_1000_words",), tech.sum(1), words, 1000)
    metrics.add(("share_of_text_covered",), arts.covered[rows], chars)
    metrics.add(("share_of_claims_author_only",), arts.author_claims[rows], arts.claims[rows])
    for j, label in enumerate(arts.techniques):
        metrics.add(("technique", label, "per_1000_words"), tech[:, j], words, 1000)
        metrics.add(("technique", label, "share_of_articles"), (tech[:, j] > 0).astype(float), ones)
    for j, family in enumerate(arts.families):
        metrics.add(("family", family, "per_1000_words"), fam[:, j], words, 1000)
        metrics.add(("family", family, "share_of_articles"), (fam[:, j] > 0).astype(float), ones)

    # Actors in this group: a dense (articles x actors) block for the top ones only.
    position = np.full(len(arts.doc_ids), -1)
    position[rows] = np.arange(n)
    in_group = position[arts.actor_rows] >= 0 if len(arts.actor_rows) else np.zeros(0, bool)
    a_rows, a_cols, a_roles = (position[arts.actor_rows[in_group]], arts.actor_cols[in_group],
                               arts.actor_roles[in_group])
    counts = np.bincount(a_cols, minlength=len(arts.actor_keys)) if len(a_cols) else np.zeros(0, int)
    top = [int(c) for c in np.lexsort((np.arange(len(counts)), -counts))[:settings.top_actors] if counts[c] > 0]
    for c in top:
        present = np.zeros(n)
        role_of = np.full(n, -1)
        sel = a_cols == c
        present[a_rows[sel]] = 1
        role_of[a_rows[sel]] = a_roles[sel]
        metrics.add(("actor", c, "share_of_articles"), present, ones)
        for r, role in enumerate(ROLES):
            metrics.add(("actor", c, role), (role_of == r).astype(float), present)

    in_group = position[arts.target_rows] >= 0 if len(arts.target_rows) else np.zeros(0, bool)
    t_rows, t_cols, t_spans = (position[arts.target_rows[in_group]], arts.target_cols[in_group],
                               arts.target_spans[in_group])
    span_totals = np.bincount(t_cols, weights=t_spans, minlength=len(arts.actor_keys)) if len(t_cols) \
        else np.zeros(0)
    attacked = [int(c) for c in np.lexsort((np.arange(len(span_totals)), -span_totals))[:settings.top_actors]
                if span_totals[c] > 0]
    for c in attacked:
        aimed = np.zeros(n)
        sel = t_cols == c
        aimed[t_rows[sel]] = t_spans[sel]
        metrics.add(("attacked", c, "per_1000_words"), aimed, words, 1000)
        metrics.add(("attacked", c, "share_of_articles"), (aimed > 0).astype(float), ones)

    rates = metrics.run(_group_rng(settings.seed, key), settings)
    out: dict[str, Any] = dict(zip(by, key))
    out.update({
        "n_articles": n,
        "small": n < settings.min_articles,
        "words": int(words.sum()),
        "spans": int(tech.sum()),
        "claims": int(arts.claims[rows].sum()),
        "techniques_per_1000_words": rates[("techniques_per_1000_words",)],
        "share_of_text_covered": rates[("share_of_text_covered",)],
        "share_of_claims_author_only": rates[("share_of_claims_author_only",)],
        "techniques": {label: {"spans": int(tech[:, j].sum()),
                               "per_1000_words": rates[("technique", label, "per_1000_words")],
                               "share_of_articles": rates[("technique", label, "share_of_articles")]}
                       for j, label in enumerate(arts.techniques)},
        "families": {family: {"spans": int(fam[:, j].sum()),
                              "per_1000_words": rates[("family", family, "per_1000_words")],
                              "share_of_articles": rates[("family", family, "share_of_articles")]}
                     for j, family in enumerate(arts.families)},
        "top_actors": [{"actor_key": arts.actor_keys[c], "name": arts.actor_names[arts.actor_keys[c]],
                        "type": arts.actor_types[arts.actor_keys[c]], "articles": int(counts[c]),
                        "share_of_articles": rates[("actor", c, "share_of_articles")],
                        "portrayal": {role: rates[("actor", c, role)] for role in ROLES}}
                       for c in top],
        "most_attacked": [{"actor_key": arts.actor_keys[c], "name": arts.actor_names[arts.actor_keys[c]],
                           "type": arts.actor_types[arts.actor_keys[c]], "spans": int(span_totals[c]),
                           "articles": int((t_cols == c).sum()),
                           "per_1000_words": rates[("attacked", c, "per_1000_words")],
                           "share_of_articles": rates[("attacked", c, "share_of_articles")]}
                          for c in attacked],
    })
    return out


def compute(con, by: Iterable[str] = ("source",), filters: Filters = Filters(),
            settings: Settings = Settings()) -> dict[str, Any]:
    """The statistics per group: {"by", "filters", "settings", "n_articles", "groups": [...]}.

    `by=()` gives one group, the whole corpus. Groups come sorted by their keys.
    """
    by = tuple(c.strip() for c in by if c and c.strip())
    if settings.resamples < 1:
        raise InputError("--resamples must be at least 1")
    arts = load_articles(con, by, filters)
    members: dict[tuple[str, ...], list[int]] = {}
    for i, key in enumerate(arts.groups):
        members.setdefault(key, []).append(i)
    groups = [_group_stats(arts, np.array(members[key]), key, by, settings) for key in sorted(members)]
    return {"by": list(by), "filters": filters.to_json(), "settings": settings.to_json(),
            "n_articles": len(arts.doc_ids), "groups": groups}


# --- output ----------------------------------------------------------------------------------
def _flat_rows(result: dict[str, Any]) -> Iterable[dict[str, Any]]:
    """One row per group, metric and item: the long table that csv writes."""
    for g in result["groups"]:
        base = {c: g[c] for c in result["by"]}
        base.update(n_articles=g["n_articles"], small=g["small"], words=g["words"])

        def row(metric, item, rate, extra=""):
            r = dict(base, metric=metric, item=item, detail=extra)
            r.update(value=rate["value"] if rate else "", ci_low=rate["ci_low"] if rate else "",
                     ci_high=rate["ci_high"] if rate else "")
            return r

        for metric in ("techniques_per_1000_words", "share_of_text_covered", "share_of_claims_author_only"):
            yield row(metric, "", g[metric])
        for kind in ("techniques", "families"):
            for item, v in g[kind].items():
                yield row(f"{kind[:-1] if kind == 'techniques' else 'family'}_per_1000_words", item,
                          v["per_1000_words"])
                yield row(f"{kind[:-1] if kind == 'techniques' else 'family'}_share_of_articles", item,
                          v["share_of_articles"])
        for a in g["top_actors"]:
            yield row("actor_share_of_articles", a["actor_key"], a["share_of_articles"], a["name"])
            for role, rate in a["portrayal"].items():
                yield row(f"actor_portrayed_{role}", a["actor_key"], rate, a["name"])
        for a in g["most_attacked"]:
            yield row("attacked_per_1000_words", a["actor_key"], a["per_1000_words"], a["name"])


def to_csv(result: dict[str, Any]) -> str:
    buf = io.StringIO()
    fields = list(result["by"]) + ["n_articles", "small", "words", "metric", "item", "detail",
                                   "value", "ci_low", "ci_high"]
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(_flat_rows(result))
    return buf.getvalue()


def _ci(rate: dict | None, digits: int = 2, pct: bool = False) -> str:
    if rate is None:
        return "-"
    k = 100 if pct else 1
    unit = "%" if pct else ""
    d = 0 if pct else digits
    return f"{rate['value'] * k:.{d}f}{unit} [{rate['ci_low'] * k:.{d}f}-{rate['ci_high'] * k:.{d}f}]"


def to_table(result: dict[str, Any], techniques_shown: int = 6) -> str:
    """A readable summary: one block per group (the full figures are in -f json / csv)."""
    lines = [f"{result['n_articles']} articles; 95% intervals from {result['settings']['resamples']} "
             f"article-level bootstrap resamples; * = fewer than {result['settings']['min_articles']} articles"]
    if not result["groups"]:
        lines.append("no articles match")
    for g in result["groups"]:
        key = ", ".join(f"{c}={g[c]}" for c in result["by"]) or "all articles"
        lines.append("")
        lines.append(f"{key}{' *' if g['small'] else ''}  ({g['n_articles']} articles, {g['words']:,} words)")
        lines.append(f"  techniques per 1,000 words  {_ci(g['techniques_per_1000_words'])}")
        lines.append(f"  text covered                {_ci(g['share_of_text_covered'], pct=True)}")
        lines.append(f"  claims on the author alone  {_ci(g['share_of_claims_author_only'], pct=True)}"
                     f"  (of {g['claims']:,} claims)")
        ranked = sorted(g["techniques"].items(), key=lambda kv: -(kv[1]["spans"]))[:techniques_shown]
        if ranked:
            lines.append(f"  {'technique':<36} {'per 1,000 words':<22} articles using it")
            for label, v in ranked:
                lines.append(f"  {label:<36} {_ci(v['per_1000_words']):<22} {_ci(v['share_of_articles'], pct=True)}")
        if g["top_actors"]:
            actors = []
            for a in g["top_actors"][:5]:
                portrayal = a["portrayal"]
                lead = max((r for r in ROLES if portrayal.get(r)), key=lambda r: portrayal[r]["value"], default=None)
                lead_text = f", mostly {lead} {portrayal[lead]['value'] * 100:.0f}%" if lead else ""
                actors.append(f"{a['name']} ({a['articles']}{lead_text})")
            lines.append("  top actors: " + "; ".join(actors))
        if g["most_attacked"]:
            lines.append("  most attacked: " + "; ".join(f"{a['name']} ({a['spans']} spans)"
                                                       for a in g["most_attacked"][:5]))
    return "\n".join(lines) + "\n"
