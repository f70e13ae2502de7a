"""Exchange formats: redline's findings out to the tools people annotate with, and their
annotations (or corrections) back in as redline Documents.

Writers (the `analyze -f` choices csv, brat, labelstudio, conll):

* CSV: one row per technique span, with the document's id, path and metadata (a JSON
  object). A document without spans still gets one row, with the span columns empty, so
  every document analysed is listed.
* brat standoff: per document a `ID.txt` (the text, exactly) and an `ID.ann` with one
  text-bound annotation per technique span (`T1<TAB>Type START END<TAB>text`) and its score
  as an AnnotatorNotes line; an `annotation.conf` lists the types. brat counts offsets in
  characters, as redline does. Type names keep to letters, digits, '_' and '-' (a comma
  separates arguments in brat's annotation.conf), so "Name_Calling,Labeling" is written
  "Name_Calling__Labeling" and read back with its comma. A span
  running over a line break is written as fragments that skip the break (brat's rule for
  text-bound annotations) and read back whole.
* Label Studio: a JSON list of tasks, `{"data": {"text": ...}, "predictions": [{"result":
  [...]}]}`, each result a `labels` region for the span-labelling template that
  `labelstudio_config()` writes (README). Label Studio's editor counts offsets in UTF-16
  code units (JavaScript strings), so a character outside the Basic Multilingual Plane (an
  emoji) counts two: offsets are converted both ways.
* CoNLL-style BIO: a token per line with its offsets and tags (see `to_conll`), for
  token-classification tools.

Readers (`read_documents`): a brat folder (or one .ann file), a Label Studio JSON export
(the latest submitted annotation of each task, else its predictions) and redline's own
JSONL (with `text`, or a `path` to the text, checked against `text_sha256`). Each returns
Documents whose spans are the annotations, checked against the text: offsets are sacred,
and a span whose recorded text is not what its offsets slice is an error naming where.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional

from redline.doc import Document, OffsetError
from redline.errors import InputError

# Told of a document that could not be read, so that a reader can go on with the next.
OnError = Optional[Callable[[InputError], None]]


def _each(items: Iterable[tuple], make: Callable[..., Document], on_error: OnError) -> Iterator[Document]:
    """make(*item) for each item; an InputError is raised, or handed to `on_error` and skipped."""
    for item in items:
        try:
            doc = make(*item)
        except InputError as exc:
            if on_error is None:
                raise
            on_error(exc)
            continue
        yield doc


# --------------------------------------------------------------------------- CSV

CSV_COLUMNS = ("id", "path", "start", "end", "technique", "score", "text", "meta")


def csv_header() -> str:
    return _csv_line(CSV_COLUMNS)


def to_csv_rows(doc: Document) -> str:
    """A document's rows (no header): one per technique span, or one empty row if none."""
    path = doc.meta.get("path", "")
    meta = json.dumps({k: v for k, v in doc.meta.items() if k != "path"}, ensure_ascii=False, sort_keys=True)
    if not doc.spans:
        return _csv_line((doc.id, path, "", "", "", "", "", meta))
    return "".join(_csv_line((doc.id, path, s.start, s.end, s.technique, f"{s.score:.4f}", s.text, meta))
                   for s in doc.spans)


def to_csv(docs: Iterable[Document]) -> str:
    return csv_header() + "".join(to_csv_rows(d) for d in docs)


def _csv_line(values: Iterable[Any]) -> str:
    buf = io.StringIO()
    # "\n" line ends, as every other redline output; fields with line breaks are quoted.
    csv.writer(buf, lineterminator="\n").writerow(values)
    return buf.getvalue()


# --------------------------------------------------------------------------- CoNLL BIO

# Words and single punctuation marks, with their offsets: what a token tagger reads.
_CONLL_TOKEN_RE = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]")


def to_conll(doc: Document) -> str:
    """Token-per-line BIO tags: `token<TAB>start<TAB>end<TAB>tags`, a blank line at each
    line break of the text, `# id = ...` / `# path = ...` before each document.

    Techniques overlap (PTC spans often do), so a token's tags column lists every span
    over it, joined by '|' in span order ("B-Loaded_Language|I-Doubt"), or "O". A span
    that starts or ends inside a token tags the whole token.
    """
    lines = [f"# id = {doc.id}"]
    if doc.meta.get("path"):
        lines.append(f"# path = {doc.meta['path']}")
    started: set[int] = set()
    previous_end = None
    for m in _CONLL_TOKEN_RE.finditer(doc.text):
        if previous_end is not None and "\n" in doc.text[previous_end:m.start()]:
            lines.append("")
        previous_end = m.end()
        tags = []
        for k, s in enumerate(doc.spans):
            if s.start < m.end() and m.start() < s.end:
                tags.append(("I-" if k in started else "B-") + s.technique)
                started.add(k)
        lines.append(f"{m.group()}\t{m.start()}\t{m.end()}\t{'|'.join(tags) or 'O'}")
    return "\n".join(lines).rstrip("\n") + "\n\n"


# --------------------------------------------------------------------------- brat

_BRAT_COMMA = "__"  # what a comma in a label becomes in a brat type name
_BRAT_TYPE_RE = re.compile(r"[A-Za-z0-9_-]+")


def brat_type(label: str) -> str:
    name = label.replace(",", _BRAT_COMMA)
    if not _BRAT_TYPE_RE.fullmatch(name):
        raise InputError(f"label {label!r} cannot be a brat type name (letters, digits, '_', '-' and ',' only)")
    return name


def label_from_brat(name: str) -> str:
    return name.replace(_BRAT_COMMA, ",")


def _fragments(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The span cut at line breaks, without them (brat's text-bound annotations hold no newline)."""
    out, pos = [], start
    for m in re.finditer(r"[\r\n]+", text[start:end]):
        if start + m.start() > pos:
            out.append((pos, start + m.start()))
        pos = start + m.end()
    if pos < end:
        out.append((pos, end))
    return out or [(start, end)]


def to_brat_ann(doc: Document) -> str:
    """The .ann standoff of a document's technique spans (scores as AnnotatorNotes)."""
    lines = []
    for i, s in enumerate(doc.spans, 1):
        frags = _fragments(doc.text, s.start, s.end)
        where = ";".join(f"{a} {b}" for a, b in frags)
        shown = " ".join(doc.text[a:b] for a, b in frags)
        lines.append(f"T{i}\t{brat_type(s.technique)} {where}\t{shown}")
        lines.append(f"#{i}\tAnnotatorNotes T{i}\tscore={s.score:.4f}")
    return "".join(line + "\n" for line in lines)


def brat_conf(labels: Iterable[str]) -> str:
    """annotation.conf for brat: the entity types, no relations, events or attributes."""
    types = "\n".join(brat_type(label) for label in labels)
    return f"[entities]\n{types}\n\n[relations]\n\n[events]\n\n[attributes]\n"


def safe_file_stem(doc_id: str) -> str:
    """A file name for a document id: path separators and odd characters become '-'."""
    stem = re.sub(r"[^\w.-]+|\.\.+", "-", doc_id)  # no separators, no ".."
    stem = re.sub(r"-+", "-", stem).strip(".-")
    return stem or "doc"


class BratWriter:
    """Writes `ID.txt` / `ID.ann` pairs into a folder, one document at a time."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.stems: set[str] = set()
        self.labels: list[str] = []

    def open(self) -> None:
        if self.folder.exists() and not self.folder.is_dir():
            raise InputError(f"{self.folder}: not a folder; brat output needs -o FOLDER")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"{self.folder}: cannot create the folder ({exc.strerror})") from None

    def add(self, doc: Document) -> Path:
        from redline.taxonomy import PTC_TECHNIQUES

        stem = safe_file_stem(doc.id)
        n = 2
        while stem in self.stems:  # two documents with one id: keep both
            stem = f"{safe_file_stem(doc.id)}-{n}"
            n += 1
        self.stems.add(stem)
        ann = to_brat_ann(doc)
        # newline="": the text is written exactly, so the offsets still slice it.
        with open(self.folder / f"{stem}.txt", "w", encoding="utf-8", newline="") as fh:
            fh.write(doc.text)
        with open(self.folder / f"{stem}.ann", "w", encoding="utf-8", newline="") as fh:
            fh.write(ann)
        new = [s.technique for s in doc.spans if s.technique not in self.labels]
        if new or not self.labels:
            self.labels = list(dict.fromkeys([*PTC_TECHNIQUES, *self.labels, *new]))
            (self.folder / "annotation.conf").write_text(brat_conf(self.labels), encoding="utf-8")
        return self.folder / f"{stem}.ann"


def read_brat_pair(ann_path: Path) -> Document:
    """A .ann file and the .txt beside it as a Document with the annotations as spans."""
    from redline.io.inputs import MAX_TABLE_BYTES, read_path, read_text_limited

    ann_path = Path(ann_path)
    txt_path = ann_path.with_suffix(".txt")
    if not txt_path.exists():
        raise InputError(f"{ann_path}: no {txt_path.name} beside it (brat keeps the text in ID.txt)")
    text = read_path(txt_path)
    doc = Document(id=ann_path.stem, text=text, meta={"path": str(txt_path)})
    scores: dict[str, float] = {}
    pending = []
    for n, line in enumerate(read_text_limited(ann_path, MAX_TABLE_BYTES, "the brat file").split("\n"), 1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        where = f"{ann_path}:{n}"
        if line.startswith("#"):
            parts = line.split("\t")
            if len(parts) == 3 and parts[1].startswith("AnnotatorNotes "):
                m = re.fullmatch(r"score=([0-9.]+)", parts[2].strip())
                if m:
                    scores[parts[1].split(" ", 1)[1]] = float(m.group(1))
            continue
        if not line.startswith("T"):
            continue  # relations, events, attributes: not spans
        parts = line.split("\t")
        if len(parts) < 2 or " " not in parts[1]:
            raise InputError(f"{where}: expected 'T<n><TAB>Type START END<TAB>text'")
        kind, _, offsets = parts[1].partition(" ")
        try:
            frags = [tuple(int(x) for x in frag.split()) for frag in offsets.split(";")]
            if not frags or any(len(f) != 2 for f in frags):
                raise ValueError
        except ValueError:
            raise InputError(f"{where}: bad offsets {offsets!r}; expected 'START END' (';' between fragments)") \
                from None
        start, end = min(f[0] for f in frags), max(f[1] for f in frags)
        shown = parts[2] if len(parts) > 2 else None
        if shown is not None:
            expected = " ".join(text[a:b] for a, b in frags)
            if shown != expected and 0 <= start < end <= len(text):
                raise InputError(f"{where}: the annotation's text {shown[:60]!r} is not what its offsets slice "
                                 f"from {txt_path.name} ({expected[:60]!r})")
        pending.append((where, parts[0], start, end, label_from_brat(kind)))
    for where, tid, start, end, label in pending:
        try:
            doc.add_span(start, end, label, scores.get(tid, 1.0), source="brat")
        except OffsetError as exc:
            raise InputError(f"{where}: {exc}") from None
    doc.sort_spans()
    return doc


def read_brat(path: Path, on_error: OnError = None) -> Iterator[Document]:
    """Every .ann (with its .txt) in a folder, sorted, or one .ann file."""
    path = Path(path)
    files = sorted(path.glob("*.ann")) if path.is_dir() else [path]
    if not files:
        raise InputError(f"{path}: no .ann files (not a brat folder)")
    yield from _each([(ann,) for ann in files], read_brat_pair, on_error)


# --------------------------------------------------------------------------- Label Studio

LS_FROM_NAME = "technique"  # the <Labels name=...> of the template
LS_TO_NAME = "text"  # the <Text name=...> of the template; the task's text is data.text


def labelstudio_config(labels: Iterable[str] | None = None) -> str:
    """Label Studio's span-labelling template for redline's techniques (the README shows it)."""
    from redline.taxonomy import PTC_TECHNIQUES

    from xml.sax.saxutils import quoteattr

    items = "".join(f"    <Label value={quoteattr(label)}/>\n" for label in (labels or PTC_TECHNIQUES))
    return (f'<View>\n  <Labels name="{LS_FROM_NAME}" toName="{LS_TO_NAME}">\n{items}  </Labels>\n'
            f'  <Text name="{LS_TO_NAME}" value="$text"/>\n</View>\n')


class Utf16Offsets:
    """Python character offsets <-> UTF-16 code units (what JavaScript, and so Label Studio,
    counts: a character above U+FFFF is two units)."""

    def __init__(self, text: str):
        self.text = text
        self._units: list[int] | None = None  # the unit offset of each character boundary
        if any(ord(c) > 0xFFFF for c in text):
            units, n = [0], 0
            for c in text:
                n += 2 if ord(c) > 0xFFFF else 1
                units.append(n)
            self._units = units
            self._chars = {u: i for i, u in enumerate(units)}

    def to_units(self, char_offset: int) -> int:
        return char_offset if self._units is None else self._units[char_offset]

    def to_chars(self, unit_offset: int) -> int | None:
        """The character offset, or None when the unit offset falls inside a surrogate pair."""
        if self._units is None:
            return unit_offset
        return self._chars.get(unit_offset)


def labelstudio_task(doc: Document) -> dict[str, Any]:
    """One Label Studio task: the text and the technique spans as a prediction."""
    conv = Utf16Offsets(doc.text)
    results = []
    for i, s in enumerate(doc.spans, 1):
        results.append({
            "id": f"redline-{i}",
            "from_name": LS_FROM_NAME,
            "to_name": LS_TO_NAME,
            "type": "labels",
            "origin": "prediction",
            "value": {"start": conv.to_units(s.start), "end": conv.to_units(s.end), "text": s.text,
                      "labels": [s.technique]},
            "score": round(float(s.score), 4),
        })
    tagger = doc.model.get("tagger") or {}
    prediction: dict[str, Any] = {"model_version": str(tagger.get("name") or "redline"), "result": results}
    if doc.spans:
        prediction["score"] = round(sum(float(s.score) for s in doc.spans) / len(doc.spans), 4)
    data: dict[str, Any] = {"text": doc.text, "redline_id": doc.id}
    if doc.meta.get("path"):
        data["path"] = doc.meta["path"]
    meta = {k: v for k, v in doc.meta.items() if k != "path"}
    if meta:
        data["meta"] = meta
    return {"data": data, "predictions": [prediction]}


def to_labelstudio(docs: Iterable[Document]) -> str:
    return json.dumps([labelstudio_task(d) for d in docs], ensure_ascii=False, indent=1) + "\n"


def _ls_results(task: dict[str, Any]) -> tuple[list, str]:
    """The regions to read from a task: its latest submitted annotation, else its latest prediction."""
    annotations = [a for a in task.get("annotations") or [] if isinstance(a, dict) and not a.get("was_cancelled")]
    if annotations:
        # The latest by time; on equal (or missing) times, the later one in the list.
        order = {id(a): i for i, a in enumerate(annotations)}
        latest = max(annotations, key=lambda a: (str(a.get("updated_at") or a.get("created_at") or ""), order[id(a)]))
        return latest.get("result") or [], "annotation"
    predictions = [p for p in task.get("predictions") or [] if isinstance(p, dict)]
    if predictions:
        return predictions[-1].get("result") or [], "prediction"
    return [], "none"


def _check_json_text(text: str, doc_id: str, where: str) -> None:
    """JSON may carry "\\ud800": a lone surrogate is not text (it fails when hashed or
    written), so the record is refused here, naming where (issue 18, found by bench/fuzz.py)."""
    from redline.pipeline import check_unicode
    check_unicode(text, f"{where}: the text")
    check_unicode(doc_id, f"{where}: the id")


def labelstudio_document(task: Any, where: str) -> Document:
    """A Label Studio task (exported or as redline wrote it) as a Document."""
    if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
        raise InputError(f"{where}: not a Label Studio task (no 'data' object)")
    data = task["data"]
    text = data.get("text")
    if not isinstance(text, str):
        raise InputError(f"{where}: the task has no data.text (redline's template reads the text from $text)")
    doc_id = str(data.get("redline_id") or task.get("id") or where.rsplit("#", 1)[-1])
    _check_json_text(text, doc_id, where)
    meta = dict(data["meta"]) if isinstance(data.get("meta"), dict) else {}
    if data.get("path"):
        meta["path"] = data["path"]
    doc = Document(id=doc_id, text=text, meta=meta)
    conv = Utf16Offsets(text)
    results, origin = _ls_results(task)
    for r, region in enumerate(results):
        if not isinstance(region, dict) or region.get("type") != "labels":
            continue  # choices, relations, other tools: not spans
        value = region.get("value") or {}
        labels = value.get("labels") or []
        try:
            start, end = int(value["start"]), int(value["end"])
        except (KeyError, TypeError, ValueError):
            raise InputError(f"{where}: {origin} region {r}: no integer value.start / value.end") from None
        c_start, c_end = conv.to_chars(start), conv.to_chars(end)
        shown = value.get("text")
        if shown is not None and (c_start is None or c_end is None or text[c_start:c_end] != shown) \
                and text[start:end] == shown:
            c_start, c_end = start, end  # written in characters (older tools): the text says so
        if c_start is None or c_end is None:
            raise InputError(f"{where}: {origin} region {r}: offset {start}-{end} falls inside a character "
                             "(UTF-16 units)")
        if shown is not None and text[c_start:c_end] != shown:
            raise InputError(f"{where}: {origin} region {r}: value.text {shown[:60]!r} is not what its offsets "
                             f"slice ({text[c_start:c_end][:60]!r})")
        score = region.get("score")
        for label in labels:
            try:
                doc.add_span(c_start, c_end, str(label), float(score) if score is not None else 1.0,
                             source="labelstudio")
            except OffsetError as exc:
                raise InputError(f"{where}: {origin} region {r}: {exc}") from None
    doc.sort_spans()
    return doc


def read_labelstudio(path: Path, on_error: OnError = None) -> Iterator[Document]:
    """A Label Studio JSON export (a list of tasks, or one task) as Documents."""
    from redline.io.inputs import MAX_TABLE_BYTES, read_text_limited

    raw = read_text_limited(path, MAX_TABLE_BYTES, "the Label Studio export")
    try:
        tasks = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    if isinstance(tasks, dict):
        tasks = [tasks]
    if not isinstance(tasks, list):
        raise InputError(f"{path}: expected a list of Label Studio tasks")
    yield from _each([(task, f"{path}#{i}") for i, task in enumerate(tasks)], labelstudio_document, on_error)


# --------------------------------------------------------------------------- redline JSONL

def labeled_record(doc: Document) -> dict[str, Any]:
    """A JSONL record that carries its text: what `redline import` writes, and what
    `read_jsonl` (and so training on one's own labels) reads without the original files."""
    from redline.io.formats import jsonl_record

    rec = jsonl_record(doc)
    out = {k: rec[k] for k in ("schema_version", "id", "path", "meta")}
    out["text"] = doc.text
    return out | {k: v for k, v in rec.items() if k not in out}


def read_jsonl(path: Path, on_error: OnError = None) -> Iterator[Document]:
    """redline JSONL (from `analyze -f jsonl` or `import`, or written by hand: `id`, `text`
    and `techniques` [{start, end, technique}]) as Documents. A record without `text` is
    read from its `path` (as given, else beside the JSONL file), checked by `text_sha256`."""
    from redline.io.inputs import MAX_TABLE_BYTES, read_text_limited

    path = Path(path)
    raw = read_text_limited(path, MAX_TABLE_BYTES, "the JSONL file")
    lines = [(line, path, n) for n, line in enumerate(raw.split("\n"), 1) if line.strip()]
    yield from _each(lines, _jsonl_document, on_error)


def _jsonl_document(line: str, path: Path, n: int) -> Document:
    import hashlib

    from redline.io.inputs import Source, read_source

    where = f"{path}:{n}"
    try:
        rec = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: not JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(rec, dict):
        raise InputError(f"{where}: expected a JSON object per line")
    text = rec.get("text")
    src = rec.get("path")
    if not isinstance(text, str):
        if not src:
            raise InputError(f"{where}: the record has neither 'text' nor a 'path' to read it from")
        candidates = [Path(src), path.parent / src]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            raise InputError(f"{where}: no 'text', and its path {src!r} is not a readable file")
        # Read as `analyze` read it (an HTML file: its article text), so the SHA-256 can match.
        source = read_source(Source(str(rec.get("id") or ""), str(found)))
        if source.error:
            raise InputError(f"{where}: no 'text', and its path cannot be read: {source.error}")
        text = source.text
        sha = rec.get("text_sha256")
        if sha and hashlib.sha256(text.encode("utf-8")).hexdigest() != sha:
            raise InputError(f"{where}: {found} is not the text this record was made from (SHA-256 differs)")
    meta = dict(rec["meta"]) if isinstance(rec.get("meta"), dict) else {}
    if src:
        meta["path"] = src
    doc_id = str(rec.get("id") or f"{path.stem}-{n}")
    _check_json_text(text, doc_id, where)
    doc = Document(id=doc_id, text=text, meta=meta)
    spans = rec.get("techniques", [])
    if not isinstance(spans, list):
        raise InputError(f"{where}: 'techniques' must be a list")
    for k, s in enumerate(spans):
        try:
            start, end, label = int(s["start"]), int(s["end"]), str(s["technique"])
        except (KeyError, TypeError, ValueError):
            raise InputError(f"{where}: techniques[{k}] needs integer start, end and a technique") from None
        try:
            span = doc.add_span(start, end, label, float(s.get("score", 1.0)), source="jsonl")
        except OffsetError as exc:
            raise InputError(f"{where}: techniques[{k}]: {exc}") from None
        if "text" in s and s["text"] != span.text:
            raise InputError(f"{where}: techniques[{k}]: its text {s['text'][:60]!r} is not what "
                             f"[{start}, {end}) slices ({span.text[:60]!r})")
    doc.sort_spans()
    return doc


# --------------------------------------------------------------------------- any of them

def annotation_format(path: Path) -> str:
    """'brat', 'labelstudio', 'jsonl' or 'ptc', by what the path holds.

    A file is known by its suffix (.ann, .json, .jsonl); any other file is taken for PTC
    label lines, whose files have any name (`pred`, `/dev/stdin`): their reader then says
    what is wrong with it, line by line."""
    path = Path(path)
    if path.is_dir():
        if any(path.glob("*.ann")):
            return "brat"
        if any(path.glob("*.labels")):
            return "ptc"
        raise InputError(f"{path}: a folder with neither brat .ann files nor PTC .labels files")
    suffix = path.suffix.lower()
    if suffix == ".ann":
        return "brat"
    if suffix == ".json":
        return "labelstudio"
    if suffix == ".jsonl":
        return "jsonl"
    return "ptc"


def read_documents(path: Path, on_error: OnError = None) -> Iterator[Document]:
    """The annotated documents in a brat folder, a Label Studio export or redline JSONL.

    A document that cannot be read raises InputError; with `on_error`, the error goes to
    it instead and the reading goes on with the next document."""
    path = Path(path)
    fmt = annotation_format(path)
    if fmt == "brat":
        return read_brat(path, on_error)
    if fmt == "labelstudio":
        return read_labelstudio(path, on_error)
    if fmt == "jsonl":
        return read_jsonl(path, on_error)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    raise InputError(f"{path}: not a brat folder or .ann file, a Label Studio export (.json) or redline JSONL "
                     "(.jsonl); PTC label files, the other format redline reads, hold no article texts to import")


def read_labels_any(path: Path, techniques=None):
    """PTC Label rows from any annotation format (what `redline evaluate` scores).

    With `techniques`, a label outside it is an error naming the document."""
    from redline.io.ptc import Label, read_labels

    if annotation_format(path) == "ptc":
        return read_labels(path, techniques)
    labels = []
    for doc in read_documents(path):
        for s in doc.spans:
            if techniques is not None and s.technique not in techniques:
                raise InputError(f"{path}: document {doc.id}: unknown technique {s.technique[:60]!r}; "
                                 "see `redline techniques` for the 14 PTC names")
            labels.append(Label(doc.id, s.technique, s.start, s.end))
    return labels


def render(docs: list[Document], fmt: str) -> str:
    """The whole-text exchange formats (brat writes a folder: see BratWriter)."""
    if fmt == "csv":
        return to_csv(docs)
    if fmt == "labelstudio":
        return to_labelstudio(docs)
    if fmt == "conll":
        return "".join(to_conll(d) for d in docs)
    raise ValueError(f"unknown exchange format {fmt!r}")
