"""`redline corpus export`: the store's tables as flat Parquet or CSV files.

One file per table (documents, spans, actors, mentions, relations, claims, targets),
joined on ``doc_id`` (and ``actor_id``, ``span_id``), each in a fixed order (by its ids),
written by DuckDB with one thread, so the same corpus exports to the same bytes however
and in how many runs it was ingested. What depends on the run (``documents.run_id``, the
``runs`` and ``errors`` tables, which carry timestamps) is left out unless ``runs=True``.
Files are written beside the target and renamed into place.
"""

from __future__ import annotations

import os
from pathlib import Path

from redline.corpus.store import CHILD_TABLES, connect_duckdb, note_on_stderr
from redline.errors import InputError

# documents' columns that change with the run, not with the corpus.
RUN_COLUMNS = ("run_id",)


def _ordered_select(con, table: str, order: tuple[str, ...], drop: tuple[str, ...] = ()) -> str:
    cols = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall() if r[0] not in drop]
    quoted = ", ".join(f'"{c}"' for c in cols)
    return f"SELECT {quoted} FROM {table} ORDER BY {', '.join(chr(34) + c + chr(34) for c in order)}"


def export_store(store: Path, out: Path, fmt: str = "parquet", runs: bool = False) -> list[tuple[Path, int]]:
    """Write the tables to `out` (a folder, made if absent); [(file, rows)]."""
    import duckdb

    if fmt not in ("parquet", "csv"):
        raise InputError(f"--format {fmt!r}: choose parquet or csv")
    if not Path(store).is_file():
        raise InputError(f"{store}: no such store")
    con = connect_duckdb(store, read_only=True, on_wait=note_on_stderr)  # waits a while for an ingest to end
    try:
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        if "documents" not in tables:
            raise InputError(f"{store}: not a redline corpus store (no documents table)")
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"{out}: cannot make the folder ({exc.strerror})") from None
        con.execute("SET threads = 1")  # one writer thread: the same bytes every time
        queries = {"documents": _ordered_select(con, "documents", ("doc_id",), () if runs else RUN_COLUMNS)}
        queries |= {t: _ordered_select(con, t, order) for t, order in CHILD_TABLES.items()}
        if runs:
            queries["runs"] = _ordered_select(con, "runs", ("started", "run_id"))
            queries["errors"] = _ordered_select(con, "errors", ("at", "run_id", "source_ref"))
        options = "FORMAT parquet, COMPRESSION zstd" if fmt == "parquet" else "FORMAT csv, HEADER true"
        written = []
        for table, query in queries.items():
            target = out / f"{table}.{fmt}"
            partial = out / f".{table}.{fmt}.partial"
            try:
                con.execute(f"COPY ({query}) TO '{_sql_path(partial)}' ({options})")
                os.replace(partial, target)
            except (duckdb.Error, OSError) as exc:
                partial.unlink(missing_ok=True)
                raise InputError(f"{target}: cannot write ({str(exc).splitlines()[0]})") from None
            written.append((target, con.execute(f"SELECT count(*) FROM ({query})").fetchone()[0]))
        return written
    finally:
        con.close()


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")
