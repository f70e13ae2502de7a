"""The corpus dashboard (`redline corpus report STORE -o dashboard.html`, and `/corpus` in the web app).

One self-contained HTML page: the charts are Vega-Lite specs made with Altair and drawn
in the browser by Vega, whose JavaScript (vega, vega-lite, vega-embed, from the
`vl-convert-python` package) is inlined, so the page fetches nothing. Vega runs with
its expression interpreter, not `eval`, so the page also works under a strict
Content-Security-Policy.

Figures:

* technique rates per source (per 1,000 words or share of articles), one row per source
  with its 95% interval, against the rate of all sources together;
* monthly series per family, or per technique when one is chosen, with interval bands;
* an actor-by-source heatmap of portrayal (which role most articles of a source give an
  actor, and how many articles name it);
* the most-attacked actors (technique spans aimed at them).

For all sources over the file's period, rates and series are those of
`redline.corpus.stats` (the numbers `corpus stats` prints). The page carries every
article's counts (techniques, the role it gives each heatmap actor, spans aimed at each
attacked actor per technique), so its filters (sources, technique, date range) redraw
every figure offline: for other sources or dates it recomputes rates and intervals by the
same method (ratios of sums, a seeded article-level bootstrap, percentile intervals) in
the page's script, and says so; heatmap and attacked actors are counts. The web app's
"Apply to all figures" recomputes in Python instead. Clicking a mark lists the articles
behind it; each links to its own report (written beside the dashboard, or served).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from redline.corpus.stats import ROLES, Filters, Settings, compute
from redline.doc import Actor, Claim, Document, Mention, Relation, Role

HEATMAP_ACTORS = 20  # rows of the actor-by-source heatmap
HEATMAP_SOURCES = 24  # its columns: the sources with most articles
ATTACKED_ACTORS = 15
# One colour per technique family, in the hue the taxonomy gives its techniques (taxonomy.py).
FAMILY_COLORS = {"Attack on reputation": "#B8283E", "Justification": "#2973C7", "Simplification": "#7A4FB5",
                 "Distraction": "#2E7D4F", "Call": "#5B6770", "Manipulative wording": "#CE7A00", "Other": "#8A8F98"}
ROLE_COLORS = {"Protagonist": "#2E7D4F", "Antagonist": "#B8283E", "Innocent": "#2973C7", "unclear": "#9A8F7E"}


@lru_cache(maxsize=1)
def vega_javascript() -> str:
    """vega, vega-lite and vega-embed as one script (vl-convert ships them; ~0.9 MB)."""
    import vl_convert

    return vl_convert.javascript_bundle()


# --- a Document back from the store (for per-article reports) -------------------------------
def document_from_store(con, doc_id: str) -> Document | None:
    """The stored article and its annotations as a redline Document, or None if unknown.

    What the store does not keep (role probabilities and evidence, claim attributions'
    offsets, hedge offsets) is left empty; the report shows what there is.
    """
    row = con.execute("SELECT doc_id, text, title, source, url, date, path, article_key, version, meta "
                      "FROM documents WHERE doc_id = ?", [doc_id]).fetchone()
    if row is None:
        return None
    _, text, title, source, url, date, path, article_key, version, meta_json = row
    meta: dict[str, Any] = {k: v for k, v in (("title", title), ("source", source), ("url", url),
                                                 ("date", date.isoformat() if date else None), ("path", path))
                            if v}
    try:
        meta.update(json.loads(meta_json) if meta_json else {})
    except (TypeError, ValueError):
        pass
    if version and version > 1:
        meta["version"] = version
    doc = Document(id=str(article_key or doc_id), text=text, meta=meta)
    # A store made before spans had triggers has no such column: its reports show none.
    has_triggers = "triggers" in {r[0] for r in con.execute("DESCRIBE spans").fetchall()}
    for start, end, technique, score, triggers in con.execute(
            f'SELECT start, "end", technique, score, {"triggers" if has_triggers else "NULL"} FROM spans '
            "WHERE doc_id = ? ORDER BY span_id", [doc_id]).fetchall():
        doc.add_span(start, end, technique, score if score is not None else 1.0,
                     triggers=[tuple(t) for t in json.loads(triggers)] if triggers else ())
    span_ids = [r[0] for r in con.execute("SELECT span_id FROM spans WHERE doc_id = ? ORDER BY span_id",
                                          [doc_id]).fetchall()]
    span_index = {sid: i for i, sid in enumerate(span_ids)}
    mentions: dict[str, list[Mention]] = {}
    for actor_id, start, end in con.execute(
            'SELECT actor_id, start, "end" FROM mentions WHERE doc_id = ? ORDER BY actor_id, mention_id',
            [doc_id]).fetchall():
        mentions.setdefault(actor_id, []).append(doc.mention(start, end))
    targets: dict[str, list[int]] = {}
    for span_id, actor_id in con.execute("SELECT span_id, actor_id FROM targets WHERE doc_id = ? ORDER BY span_id",
                                         [doc_id]).fetchall():
        if span_id in span_index:
            targets.setdefault(actor_id, []).append(span_index[span_id])
    for actor_id, name, type_, main, guess, fine, score in con.execute(
            "SELECT actor_id, name, type, role_main, role_guess, role_fine, role_score FROM actors "
            "WHERE doc_id = ? ORDER BY actor_id", [doc_id]).fetchall():
        role = None
        if main or guess:
            role = Role(main=main, fine=[f for f in (fine or "").split(",") if f], score=score or 0.0,
                        guess=guess or main or "")
        doc.actors.append(Actor(actor_id, name, type_, mentions.get(actor_id, []), role,
                                techniques=targets.get(actor_id, [])))
    for subject, predicate, kind, obj, start, end in con.execute(
            'SELECT subject_actor, predicate, kind, object_actor, start, "end" FROM relations WHERE doc_id = ? '
            "ORDER BY relation_id", [doc_id]).fetchall():
        doc.relations.append(Relation(subject, predicate, obj, kind, start, end))
    for n, (start, end, text_, source_, cw) in enumerate(con.execute(
            'SELECT start, "end", text, source, checkworthiness FROM claims WHERE doc_id = ? ORDER BY claim_id',
            [doc_id]).fetchall()):
        doc.claims.append(Claim(start, end, text_, cw or 0.0, source_ or "author"))
        for actor in doc.actors:
            if actor.id == source_:
                actor.claims.append(n)
    return doc


# --- the figures' data ---------------------------------------------------------------------
def _rate_rows(groups: list[dict], key: str) -> list[dict]:
    """Long rows {key, n, small, kind, item, measure, value, lo, hi} for every rate of every group."""
    rows = []
    for g in groups:
        base = {key: g.get(key, "all sources"), "n": g["n_articles"], "small": g["small"]}

        def add(kind, item, measure, rate):
            if rate is not None:
                rows.append(dict(base, kind=kind, item=item, measure=measure, value=rate["value"],
                                 lo=rate["ci_low"], hi=rate["ci_high"]))

        add("all", "All techniques", "per_1000_words", g["techniques_per_1000_words"])
        for label, v in g["techniques"].items():
            add("technique", label, "per_1000_words", v["per_1000_words"])
            add("technique", label, "share_of_articles", v["share_of_articles"])
        for family, v in g["families"].items():
            add("family", family, "per_1000_words", v["per_1000_words"])
            add("family", family, "share_of_articles", v["share_of_articles"])
    return rows


def _top_actor_keys(con, filters: Filters) -> tuple[list[str], list[str], dict[str, str]]:
    """The heatmap's actors (most articles naming them) and the most-attacked ones (most
    spans aimed at them, 3x the bars shown, so that a source filter still fills the chart),
    with each key's most common name."""
    from redline.corpus.stats import canonical_actors, docs_where, technique_where

    canonical_actors(con)
    params: list = []
    docs = f"SELECT d.doc_id FROM documents d WHERE {docs_where(filters, params)}"
    named = [r[0] for r in con.execute(
        f"""SELECT a.actor_key FROM actors_canonical a WHERE a.doc_id IN ({docs}) AND a.actor_key IS NOT NULL
            GROUP BY a.actor_key ORDER BY count(DISTINCT a.doc_id) DESC, a.actor_key LIMIT {HEATMAP_ACTORS}""",
        params).fetchall()]
    p2: list = []
    docs2 = f"SELECT d.doc_id FROM documents d WHERE {docs_where(filters, p2)}"
    tech_where = technique_where(filters, p2)
    attacked = [r[0] for r in con.execute(
        f"""SELECT a.actor_key FROM targets t
            JOIN actors_canonical a ON a.doc_id = t.doc_id AND a.actor_id = t.actor_id
            JOIN spans s ON s.doc_id = t.doc_id AND s.span_id = t.span_id
            WHERE t.doc_id IN ({docs2}) AND a.actor_key IS NOT NULL AND {tech_where}
            GROUP BY a.actor_key ORDER BY count(*) DESC, a.actor_key LIMIT {ATTACKED_ACTORS * 3}""",
        p2).fetchall()]
    keys = sorted(set(named) | set(attacked))
    names = dict(con.execute("SELECT actor_key, mode(name) FROM actors_canonical WHERE actor_key IN (SELECT unnest(?)) "
                             "GROUP BY actor_key", [keys]).fetchall()) if keys else {}
    return named, attacked, names


def _article_rows(con, filters: Filters, href: Callable[[str], str], named: list[str],
                  attacked: list[str]) -> list[dict]:
    """Every article with what the page needs to redraw the figures for any filter and to
    list it behind a figure: technique counts, the role it gives each heatmap actor, and
    the spans it aims at each attacked actor, per technique."""
    from redline.corpus.stats import docs_where, technique_where

    params: list = []
    where = docs_where(filters, params)
    docs = con.execute(f"SELECT d.doc_id, d.title, coalesce(d.source, '(none)'), d.date, d.month, d.n_words, "
                       f"left(d.text, 160) FROM documents d WHERE {where} ORDER BY d.date NULLS LAST, d.doc_id",
                       params).fetchall()
    p2: list = []
    in_docs = f"SELECT d.doc_id FROM documents d WHERE {docs_where(filters, p2)}"
    tech_where = technique_where(filters, p2)
    counts: dict[str, dict[str, int]] = {}
    for doc_id, technique, n in con.execute(
            f"SELECT s.doc_id, s.technique, count(*) FROM spans s WHERE s.doc_id IN ({in_docs}) AND {tech_where} "
            f"GROUP BY ALL", p2).fetchall():
        counts.setdefault(doc_id, {})[technique] = n
    roles: dict[str, dict[str, str]] = {}
    if named:
        p3: list = []
        in_docs = f"SELECT d.doc_id FROM documents d WHERE {docs_where(filters, p3)}"
        for doc_id, key, role in con.execute(
                f"""SELECT a.doc_id, a.actor_key, arg_max(coalesce(a.role_main, 'unclear'), a.n_mentions)
                    FROM actors_canonical a WHERE a.doc_id IN ({in_docs}) AND a.actor_key IN (SELECT unnest(?))
                    GROUP BY ALL""", p3 + [named]).fetchall():
            roles.setdefault(doc_id, {})[key] = role if role in ROLES else "unclear"
    aimed: dict[str, dict[str, dict[str, int]]] = {}
    if attacked:
        p4: list = []
        in_docs = f"SELECT d.doc_id FROM documents d WHERE {docs_where(filters, p4)}"
        tech_where = technique_where(filters, p4)
        for doc_id, key, technique, n in con.execute(
                f"""SELECT t.doc_id, a.actor_key, s.technique, count(DISTINCT t.span_id) FROM targets t
                    JOIN actors_canonical a ON a.doc_id = t.doc_id AND a.actor_id = t.actor_id
                    JOIN spans s ON s.doc_id = t.doc_id AND s.span_id = t.span_id
                    WHERE t.doc_id IN ({in_docs}) AND {tech_where} AND a.actor_key IN (SELECT unnest(?))
                    GROUP BY ALL""", p4 + [attacked]).fetchall():
            aimed.setdefault(doc_id, {}).setdefault(key, {})[technique] = n
    out = []
    for doc_id, title, source, date, month, words, lead in docs:
        out.append({"id": doc_id, "title": title or " ".join((lead or "").split())[:90] or doc_id,
                    "source": source, "date": date.isoformat() if date else "", "month": month or "",
                    "words": words or 0, "href": href(doc_id), "t": counts.get(doc_id, {}),
                    "roles": roles.get(doc_id, {}), "aimed": aimed.get(doc_id, {})})
    return out


def dashboard_data(con, filters: Filters = Filters(), settings: Settings = Settings(), *,
                   article_href: Callable[[str], str] = lambda doc_id: f"articles/{doc_id}.html") -> dict[str, Any]:
    """Everything the page shows, as plain JSON-able data."""
    from redline.report import _tech_info
    from redline.taxonomy import FAMILIES

    overall = compute(con, (), filters, settings)
    by_source = compute(con, ("source",), filters, settings)
    by_month = compute(con, ("month",), filters, settings)
    sources = [{"source": g["source"], "n": g["n_articles"], "small": g["small"]} for g in by_source["groups"]]
    named, attacked, names = _top_actor_keys(con, filters)
    articles = _article_rows(con, filters, article_href, named, attacked)
    dates = [a["date"] for a in articles if a["date"]]
    techniques = []
    for label in (overall["groups"][0]["techniques"] if overall["groups"] else {}):
        info = _tech_info(label)
        techniques.append({"label": label, "name": info.name, "family": info.family, "color": info.color})
    techniques.sort(key=lambda t: (FAMILIES.index(t["family"]) if t["family"] in FAMILIES else 99, t["name"]))
    families = [{"name": f, "color": FAMILY_COLORS[f]} for f in FAMILIES + ["Other"]]
    return {
        "n_articles": overall["n_articles"],
        # Tells an empty store ("no articles yet") from filters that leave nothing.
        "store_articles": con.execute("SELECT count(*) FROM documents").fetchone()[0],
        "period": {"first": min(dates) if dates else None, "last": max(dates) if dates else None},
        "filters": filters.to_json(), "settings": settings.to_json(),
        "overall": overall["groups"][0] if overall["groups"] else None,
        "sources": sources, "heatmap_actors": named, "attacked_actors": attacked, "actor_names": names,
        "heatmap_columns": HEATMAP_SOURCES, "attacked_bars": ATTACKED_ACTORS,
        "techniques": techniques, "families": families, "roles": ROLE_COLORS,
        "months": [g["month"] for g in by_month["groups"]],
        "rates": _rate_rows(by_source["groups"], "source"),
        "overall_rates": _rate_rows(overall["groups"], "source") if overall["groups"] else [],
        "series": [r for r in _rate_rows(by_month["groups"], "month") if r["month"] != "(none)"],
        "articles": articles,
    }


# --- the charts (Altair -> Vega-Lite specs with named data, filled in by the page) -----------------
def chart_specs(data: dict[str, Any]) -> dict[str, dict]:
    import altair as alt

    family_domain = [f["name"] for f in data["families"]]
    family_range = [f["color"] for f in data["families"]]
    tech_domain = [t["label"] for t in data["techniques"]]
    tech_range = [t["color"] for t in data["techniques"]]
    n_sources = max(1, len(data["sources"]))

    # "share" is a signal the page sets when the measure is a share of articles: labels in %.
    share = alt.param(name="share", value=False)
    label_expr = "share ? format(datum.value, '.0%') : format(datum.value, ',')"
    value_axis = alt.Axis(title=None, grid=True, labelFlush=False, labelExpr=label_expr)
    tooltip = [alt.Tooltip("source:N", title="source"), alt.Tooltip("n:Q", title="articles"),
               alt.Tooltip("value:Q", title="rate", format=".3~f"),
               alt.Tooltip("lo:Q", title="95% interval from", format=".3~f"),
               alt.Tooltip("hi:Q", title="to", format=".3~f")]
    base = alt.Chart(alt.NamedData("rates")).encode(
        y=alt.Y("source:N", sort=alt.EncodingSortField("value", order="descending"), title=None,
                axis=alt.Axis(labelLimit=180)))
    interval = base.mark_rule(strokeWidth=2, color="#5B6770").encode(x=alt.X("lo:Q", axis=value_axis), x2="hi:Q",
                                                                      tooltip=tooltip)
    # A hollow dot for a group under the minimum size: shown, but marked.
    point = base.mark_point(size=80, filled=False, strokeWidth=2, color="#B8283E", fillOpacity=1).encode(
        x="value:Q", tooltip=tooltip,
        fill=alt.condition("datum.small", alt.value("white"), alt.value("#B8283E")))
    corpus_rule = alt.Chart(alt.NamedData("overall")).mark_rule(strokeDash=[4, 3], color="#222").encode(
        x="value:Q", tooltip=[alt.Tooltip("value:Q", title="all sources", format=".3~f")])
    rates = alt.layer(interval, point, corpus_rule).add_params(share).properties(width="container", height=min(760, 18 * n_sources + 10))

    series_tooltip = [alt.Tooltip("yearmonth(date):T", title="month"), alt.Tooltip("item:N", title="series"),
                      alt.Tooltip("n:Q", title="articles"), alt.Tooltip("value:Q", title="rate", format=".3~f"),
                      alt.Tooltip("lo:Q", title="95% interval from", format=".3~f"),
                      alt.Tooltip("hi:Q", title="to", format=".3~f")]
    # The legend is the page's own (only the series shown), so the scale can hold every colour.
    color = alt.Color("item:N", title=None, scale=alt.Scale(domain=family_domain + tech_domain,
                                                           range=family_range + tech_range), legend=None)
    sbase = alt.Chart(alt.NamedData("series")).transform_calculate(date="toDate(datum.month + '-15')").encode(
        x=alt.X("date:T", title=None, axis=alt.Axis(format="%b %Y", tickCount=12)), color=color)
    band = sbase.mark_area(opacity=0.13).encode(y=alt.Y("lo:Q", title=None, axis=alt.Axis(labelExpr=label_expr)),
                                                y2="hi:Q")
    line = sbase.mark_line(strokeWidth=2).encode(y="value:Q")
    dots = sbase.mark_point(size=40, filled=False, strokeWidth=2, fillOpacity=1).encode(
        y="value:Q", tooltip=series_tooltip,
        fill=alt.condition("datum.small", alt.value("white"), color))
    series = alt.layer(band, line, dots).add_params(share).properties(width="container", height=300)

    role_scale = alt.Scale(domain=list(ROLE_COLORS), range=list(ROLE_COLORS.values()))
    heat_tooltip = [alt.Tooltip("actor:N"), alt.Tooltip("source:N"), alt.Tooltip("articles:Q", title="articles naming it")] + \
        [alt.Tooltip(f"{r}:Q", title=f"as {r}") for r in ROLES]
    hbase = alt.Chart(alt.NamedData("heatmap")).encode(
        x=alt.X("source:N", title=None, sort=alt.EncodingSortField("total", order="descending"),
                axis=alt.Axis(labelAngle=-40, labelLimit=120,
                                                                                   orient="top")),
        y=alt.Y("actor:N", title=None, sort=alt.EncodingSortField("articles", op="sum", order="descending"),
                axis=alt.Axis(labelLimit=200)))
    cells = hbase.mark_rect(stroke="white", strokeWidth=1).encode(
        color=alt.Color("dominant:N", scale=role_scale, title="most articles cast it as",
                        legend=alt.Legend(orient="top")),
        opacity=alt.Opacity("share:Q", scale=alt.Scale(domain=[0, 1], range=[0.25, 1]), legend=None),
        tooltip=heat_tooltip)
    labels = hbase.mark_text(fontSize=10, color="white", fontWeight="bold").encode(text="articles:Q", tooltip=heat_tooltip)
    heatmap = alt.layer(cells, labels).properties(width="container", height=24 * HEATMAP_ACTORS)

    att_tooltip = [alt.Tooltip("actor:N"), alt.Tooltip("spans:Q", title="technique spans aimed at it"),
                   alt.Tooltip("articles:Q", title="articles")]
    attacked = alt.Chart(alt.NamedData("attacked")).mark_bar(color="#7A1F3D", cornerRadiusEnd=2).encode(
        y=alt.Y("actor:N", sort=alt.EncodingSortField("spans", order="descending"), title=None,
                axis=alt.Axis(labelLimit=220)),
        x=alt.X("spans:Q", title="technique spans aimed at the actor"),
        tooltip=att_tooltip).properties(width="container", height=22 * ATTACKED_ACTORS)

    config = {"font": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "view": {"stroke": None},
              "axis": {"labelFontSize": 11, "titleFontSize": 11, "labelColor": "#333", "gridColor": "#e8e8e8"},
              "legend": {"labelFontSize": 11, "titleFontSize": 11}}
    out = {}
    for name, chart in (("rates", rates), ("series", series), ("heatmap", heatmap), ("attacked", attacked)):
        spec = chart.to_dict()
        spec["config"] = config
        spec["autosize"] = {"type": "fit-x", "contains": "padding"}
        out[name] = spec
    return out


# --- the page --------------------------------------------------------------------------------
def _script_json(value: Any) -> str:
    """JSON safe inside <script type="application/json">: no '<', '>' or '&' as themselves."""
    return (json.dumps(value, ensure_ascii=False, separators=(",", ":"))
            .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def render_dashboard(con, filters: Filters = Filters(), settings: Settings = Settings(), *,
                     title: str = "Corpus dashboard", article_href: Callable[[str], str] | None = None,
                     served: bool = False, stale_note: str | None = None, store_name: str | None = None) -> str:
    """The dashboard page. `served`: the web app's version (its filters can recompute the
    intervals on the server, and it links to the search page). With no article to show,
    the page says why (an empty store, or filters that leave nothing) instead of charting
    nothing; `store_name` goes into its `redline corpus ingest` hint."""
    import redline
    from redline.report import environment

    href = article_href or (lambda doc_id: f"articles/{doc_id}.html")
    data = dashboard_data(con, filters, settings, article_href=href)
    specs = chart_specs(data)
    return environment().get_template("dashboard.html.j2").render(
        title=title, version=redline.__version__, data=data, data_json=_script_json(data),
        specs_json=_script_json(specs), vega_js=vega_javascript().replace("</script", "<\\/script"),
        served=served, stale_note=stale_note, store_name=store_name)


def write_dashboard(store: Path, out: Path, filters: Filters = Filters(), settings: Settings = Settings(), *,
                    article_reports: bool = True, on_report: Callable[[int, int], None] | None = None) -> tuple[Path, int]:
    """Write the dashboard to `out` and, unless told not to, each article's report into
    `<out stem>-articles/` beside it. Returns (articles folder, reports written)."""
    from redline.corpus.store import Store, note_on_stderr
    from redline.errors import InputError
    from redline.report import render_html

    folder = out.parent / f"{out.stem}-articles"
    with Store(store, read_only=True, on_wait=note_on_stderr) as opened:
        con = opened.connect()
        page = render_dashboard(con, filters, settings, article_href=lambda doc_id: f"{folder.name}/{doc_id}.html",
                                store_name=str(store))
        written = 0
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = out.with_name(out.name + ".tmp")
            tmp.write_text(page, encoding="utf-8")
            tmp.replace(out)
            if article_reports:
                from redline.corpus.stats import docs_where
                params: list = []
                ids = [r[0] for r in con.execute(f"SELECT d.doc_id FROM documents d WHERE {docs_where(filters, params)} "
                                                 "ORDER BY d.doc_id", params).fetchall()]
                folder.mkdir(exist_ok=True)
                for i, doc_id in enumerate(ids):
                    doc = document_from_store(con, doc_id)
                    html = render_html([doc], back_link=f"../{out.name}")
                    (folder / f"{doc_id}.html").write_text(html, encoding="utf-8")
                    written += 1
                    if on_report:
                        on_report(i + 1, len(ids))
        except OSError as exc:
            raise InputError(f"{exc.filename or out}: cannot write ({exc.strerror})") from None
    return folder, written
