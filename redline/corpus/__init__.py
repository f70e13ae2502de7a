"""The corpus: many articles analysed into one DuckDB store, summed up across them.

`store` holds the tables (their layout is documented there), `sources` reads folders,
JSONL, CSV, Parquet and URL lists into articles with metadata, `ingest` runs the pipeline
over them into the store (resumably), `engines` runs the pipeline locally or on Ray,
`export` writes the tables out as Parquet or CSV, and `cli` is `redline corpus`.
"""
