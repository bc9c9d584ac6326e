"""Property-based tests: the data loader, the tokenizer's offsets and the model file reader never fail
in any way but their own error type, whatever they are given; and a valid table, in any file format
and encoding, loads with every usable row, every text exactly and one class per written label.

Sized to run in well under 40 s on a laptop CPU under the ``ci`` Hypothesis profile (tests/conftest.py: 400
examples a test, scaled by ``examples`` where a test needs more or fewer; ``dev`` runs 20); no ``deadline``
because the first call of each loader imports pandas.
"""

from __future__ import annotations

import csv
import io
import json
import struct
import tempfile
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from helpers import examples
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from core.config import TokenizerConfig
from core.data import DataError, TextDataset, load_dataset
from core.errors import ModelFileError
from core.text.tokenizer import UNK, TextTokenizer

# ---------------------------------------------------------------------------------------------
# The data loader: random small tables in every text format


COLUMN_POOL = [
    "text", "sentence", "review", "label", "labels", "sentiment", "stars", "Text", " LABEL ", "id", "idx",
    "x", "", "0", "1", "label.1", "Unnamed: 0", "émotion", "col with space", "a,b", 'q"uote',
]  # fmt: skip
CELL = st.one_of(
    st.none(),
    st.integers(-3, 3),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["", " ", "pos", "neg", "Positive", "neutral", "1", "0", "1.0", "0.5", "nan", "NA", "-1"]),
    st.text(max_size=12),
)


def _tables() -> st.SearchStrategy[tuple[list[str], list[list[object]]]]:
    junk = st.integers(1, 4).flatmap(
        lambda ncols: st.tuples(
            st.lists(st.sampled_from(COLUMN_POOL), min_size=ncols, max_size=ncols),
            st.lists(st.lists(CELL, min_size=ncols, max_size=ncols), min_size=0, max_size=12),
        )
    )
    # Nearly loadable tables (a text-like and a label-like column, few label values) so that a good
    # share of examples gets past detection and exercises label mapping and carving too.
    label_values = st.one_of(
        st.lists(st.sampled_from([0, 1, 2, -1, "0", "1", "2.0", 1.0]), min_size=2, max_size=3, unique_by=repr),
        st.lists(st.sampled_from(["pos", "neg", "Positive", "positive", "neutral", "joy", " 5 "]), min_size=2,
                 max_size=3, unique=True),
        st.lists(CELL, min_size=2, max_size=3, unique_by=repr),
    )
    nearly = st.tuples(
        st.sampled_from(["text", "sentence", "review", "Text", "x"]),
        st.sampled_from(["label", "sentiment", "stars", " LABEL ", "y"]),
        st.lists(st.sampled_from(COLUMN_POOL), max_size=1),
        label_values,
    ).flatmap(lambda t: st.tuples(st.just([t[0], t[1], *t[2]]), _nearly_rows(t[3], len(t[2]))))
    return st.one_of(junk, nearly)


def _nearly_rows(label_values: list[object], n_extra: int) -> st.SearchStrategy[list[list[object]]]:
    def row(text: st.SearchStrategy[object], label: st.SearchStrategy[object]) -> st.SearchStrategy[list[object]]:
        return st.tuples(text, label, *[CELL for _ in range(n_extra)]).map(list)

    free = st.lists(
        row(st.one_of(st.text(min_size=1, max_size=20), st.text(min_size=1, max_size=20), CELL),
            st.sampled_from(label_values)),
        min_size=1, max_size=40,
    )  # fmt: skip
    # Three tables in four hold every label value at least once with a real text, in random order: with
    # labels drawn freely, few rows mostly share one label, and "only one class" was most of these
    # tables' errors (the free quarter and the junk tables still reach it).
    text = st.text(min_size=1, max_size=20).filter(str.strip)
    covering = st.tuples(st.tuples(*[row(text, st.just(v)) for v in label_values]), free).flatmap(
        lambda p: st.permutations([*p[0], *p[1]])
    )
    return st.sampled_from([True, True, True, False]).flatmap(lambda cover: covering if cover else free)


def _cell_str(v: object) -> str:
    return "" if v is None else str(v)


def _write_table(path: Path, fmt: str, columns: list[str], rows: list[list[object]]) -> None:
    if fmt in ("csv", "tsv"):
        buf = io.StringIO()
        if fmt == "csv":
            w = csv.writer(buf, lineterminator="\n")
        else:
            w = csv.writer(buf, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\", lineterminator="\n")
        w.writerow(columns)
        w.writerows([[_cell_str(v) for v in r] for r in rows])
        path.write_bytes(buf.getvalue().encode("utf-8", "surrogatepass"))
    elif fmt == "json":  # array of records (duplicate keys collapse, as in any JSON object)
        path.write_text(json.dumps([dict(zip(columns, r, strict=True)) for r in rows]), "utf-8")
    else:  # jsonl
        path.write_text("".join(json.dumps(dict(zip(columns, r, strict=True))) + "\n" for r in rows), "utf-8")


def _check_dataset(ds: TextDataset) -> None:
    names = ds.label_names
    assert len(names) >= 2 and len(set(names)) == len(names)
    assert all(isinstance(n, str) for n in names)
    assert set(ds.splits) == {"train", "validation", "test"}
    assert len(ds["train"]) > 0
    for split in ds.splits.values():
        assert len(split.texts) == len(split.labels)
        assert split.labels.dtype == np.int64
        assert all(0 <= int(y) < ds.num_classes for y in split.labels)
        assert all(isinstance(t, str) and t.strip() for t in split.texts)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=_tables(), fmt=st.sampled_from(["csv", "tsv", "json", "jsonl"]))
def test_loader_returns_a_consistent_dataset_or_a_data_error(table, fmt):
    columns, rows = table
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"data.{fmt}"
        try:
            _write_table(path, fmt, columns, rows)
        except (UnicodeEncodeError, csv.Error, ValueError):
            assume(False)  # hypothesis made something the writer itself refuses (lone surrogates, ...)
        try:
            ds = load_dataset(str(path))
        except DataError as err:
            msg = str(err)
            assert msg and "\n" not in msg, msg
            event("DataError")
            return
        event("loaded")
        _check_dataset(ds)


# ---------------------------------------------------------------------------------------------
# The data loader's success path: tables that must load (valid by construction), and what the
# loaded dataset must say about them (every usable row, every text exactly, one class per label)

# Column names the loader finds by name (a subset of _TEXT_NAMES / _LABEL_NAMES in core/data/labels.py),
# written in any case and with spaces around, which the lookup ignores.
VALID_TEXT_NAMES = ["text", "sentence", "review", "content", "tweet", "comment", "body", "review_text"]
VALID_LABEL_NAMES = ["label", "labels", "sentiment", "polarity", "stars", "rating", "class", "target", "score"]
SENTIMENT_COLUMNS = ("label", "labels", "sentiment", "polarity")  # numbers here may get sentiment-scale names
SCALE_NAMES = {"very negative", "negative", "neutral", "positive", "very positive"}
EXTRA_COLUMNS = ["id", "idx", "note", "Unnamed: 0"]  # neither text- nor label-like
# pandas' missing-value spellings (the loader's _NA_MARKERS), folded: a word label spelled so is no class.
NA_FOLDED = {"na", "n/a", "nan", "null", "none", "<na>", "#n/a", "#na", "-nan", "-1.#ind", "1.#ind"}
KNOWN_VOCABULARIES = [  # some of the loader's known label orders (class id order), and other real ones
    ("neg", "pos"), ("negative", "positive"), ("negative", "neutral", "positive"), ("neg", "neu", "pos"),
    ("very negative", "negative", "neutral", "positive", "very positive"), ("bad", "good"),
    ("objective", "subjective"), ("joy", "anger", "fear", "sadness"), ("👍", "👎"), ("好", "坏", "一般"),
    ("true", "false"), ("sí", "no"), ("très bien", "mal", "straße"),
]  # fmt: skip
KNOWN_ORDERS = [("neg", "pos"), ("negative", "positive"), ("negative", "neutral", "positive")]
INT_EDGES = [2**53, 2**53 + 1, 2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1]

_TEXT_CHARS = st.characters(exclude_categories=("Cs", "Cc"))  # no lone surrogates, no TAB/newline/NUL
_TEXT_WORDS = st.one_of(
    st.text(_TEXT_CHARS, min_size=1, max_size=8),
    st.sampled_from([
        "café", "naïve", "東京", "🙂", "👍🏽", "ÉCOLE", "straße", "e\u0301", "ﬁ", "\u200b", "\u00a0", "\u2028",
        "\ufeff", '"', "'", '""', ",", ";", "|", "\\", "\\n", "#", "“quoted”", "NA", "nan", "null", "None", "1",
        "-2.5", "1e5", "['a'", "{}", "[1]", "Ã©", "=1+1",
    ]),
)  # fmt: skip
VALID_TEXTS = st.lists(_TEXT_WORDS, min_size=1, max_size=4).map(" ".join).filter(lambda s: s.strip())
# Every format but TSV (quoting off) holds multi-line texts and TABs: CSV quotes them, JSON escapes them.
MULTILINE_TEXTS = st.lists(st.one_of(_TEXT_WORDS, st.sampled_from(["\n", "\r\n", "\r", "\t", "\n\n"])),
                           min_size=1, max_size=5).map(" ".join).filter(lambda s: s.strip())  # fmt: skip
_WORD_LABELS = st.text("abcdefghijklmnopqrstuvwxyzéüößçñøœı", min_size=1, max_size=8)
EMPTY_TEXTS = ["", " ", "\u3000", "\u00a0\u2028"]  # empty once stripped: the row is dropped
MISSING_LABELS = ["", " ", "NA", "nan", "NaN", "null", "N/A", "<NA>"]  # a missing label: the row is dropped


def _int_spellings(v: int) -> list[object]:
    """Ways to write the whole number ``v`` that the loader reads as ``v``."""
    out: list[object] = [v, str(v), f" {v} ", f"0{v}" if v >= 0 else f"-0{-v}"]
    if v >= 0:
        out.append(f"+{v}")
    if abs(v) <= 2**53:  # exact as a float
        out += [float(v), f"{v}.0"]
    return out


def _word_spellings(w: str) -> list[str]:
    """Case variants the loader merges into one class (same casefold), and padded with spaces."""
    variants = {w, w.upper(), w.title(), w.capitalize()}
    return sorted({f"{pad}{s}{pad}" for s in variants if s.casefold() == w.casefold() for pad in ("", " ")})


@st.composite
def _valid_tables(draw) -> dict:
    """A table that must load, with what it holds: rows (text, class, label as written, kept?)."""
    fmt = draw(st.sampled_from(["csv", "tsv", "json", "jsonl", "parquet"]))
    text_col, label_col = (
        draw(st.sampled_from(names).flatmap(lambda c: st.sampled_from([c, c.title(), c.upper(), f" {c} "])))
        for names in (VALID_TEXT_NAMES, VALID_LABEL_NAMES)
    )
    kind = draw(st.sampled_from(["int", "digits", "word"]))
    typed = fmt in ("json", "jsonl", "parquet")  # cells have types (a CSV or TSV cell is text either way)
    if kind == "word":
        classes = draw(st.one_of(
            st.sampled_from(KNOWN_VOCABULARIES).flatmap(
                lambda voc: st.lists(st.sampled_from(voc), min_size=2, max_size=min(4, len(voc)), unique=True)),
            st.lists(_WORD_LABELS.filter(lambda w: w.casefold() not in NA_FOLDED), min_size=2, max_size=4,
                     unique_by=str.casefold),
        ))  # fmt: skip
        spell = {c: _word_spellings(c) for c in classes}
    else:
        ints = st.integers(-2, 6)
        if fmt != "parquet":  # Parquet columns are int64: big numbers only in the other formats
            ints = st.one_of(ints, st.integers(-(2**66), 2**66), st.sampled_from(INT_EDGES))
        classes = draw(st.lists(ints, min_size=2, max_size=4, unique=True))
        spell = {c: _int_spellings(c) for c in classes}
        if kind == "int":  # numbers where the format has types
            spell = {c: [c] for c in classes}
        elif fmt == "parquet":  # one type a column: digit strings only
            spell = {c: [s for s in spell[c] if isinstance(s, str)] for c in classes}
        else:  # digit strings, and in JSON whole floats (1.0) too, mixed in one column
            spell = {c: [s for s in spell[c] if not isinstance(s, int)] for c in classes}
    counts = [draw(st.integers(3, 7)) for _ in classes]
    n_dropped = draw(st.integers(0, 3))
    texts = draw(
        st.lists(
            VALID_TEXTS if fmt == "tsv" else st.one_of(VALID_TEXTS, MULTILINE_TEXTS),
            min_size=sum(counts) + n_dropped,
            max_size=sum(counts) + n_dropped,
            unique_by=str.strip,
        )
    )
    rows: list[tuple[object, object, object, bool]] = []  # (text as written, class, label as written, kept)
    it = iter(texts)
    for c, n in zip(classes, counts, strict=True):
        rows += [(next(it), c, draw(st.sampled_from(spell[c])), True) for _ in range(n)]
    rows += draw(st.lists(st.sampled_from(rows), max_size=3))  # a few duplicated rows (same text, same label)
    for text in it:  # rows the loader must drop: an empty text or a missing label
        if draw(st.booleans()):
            c = draw(st.sampled_from(classes))
            empty = draw(st.sampled_from([*EMPTY_TEXTS, None] if typed else EMPTY_TEXTS))
            rows.append((empty, c, draw(st.sampled_from(spell[c])), False))
        else:
            missing = [*MISSING_LABELS, None] if typed else MISSING_LABELS
            if fmt == "parquet" and kind == "int":
                missing = [None]  # a Parquet column of numbers has no strings
            rows.append((text, None, draw(st.sampled_from(missing)), False))
    rows = draw(st.permutations(rows))
    extras = draw(st.lists(st.sampled_from(EXTRA_COLUMNS), max_size=2, unique=True))
    columns = draw(st.permutations([text_col, label_col, *extras]))
    table = {text_col: [r[0] for r in rows], label_col: [r[2] for r in rows]}
    for e in extras:
        if e == "note":
            table[e] = draw(
                st.lists(st.sampled_from(["", "ok", "a,b", 'say "hi"', "ü"]), min_size=len(rows), max_size=len(rows))
            )
        else:
            table[e] = (
                list(range(len(rows)))
                if draw(st.booleans())
                else draw(st.lists(st.integers(-(2**40), 2**40), min_size=len(rows), max_size=len(rows)))
            )
    return {
        "fmt": fmt, "columns": columns, "table": {c: table[c] for c in columns}, "rows": rows,
        "text_col": text_col, "label_col": label_col, "kind": kind,
        "encoding": draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-be"])),
        "newline": draw(st.sampled_from(["\n", "\r\n"])),
        "layout": draw(st.sampled_from(["records", "columns", "wrapped"])),  # JSON only
        "ascii": draw(st.booleans()),  # JSON: \\u escapes (emoji as surrogate pairs) or raw characters
        "quote_all": draw(st.booleans()),  # CSV
        "categorical": draw(st.lists(st.sampled_from([text_col, label_col]), max_size=2, unique=True)),  # Parquet
    }  # fmt: skip


def _encode(text: str, encoding: str) -> bytes:
    if encoding == "utf-16-be":  # big-endian with its byte-order mark (Python's "utf-16" writes little-endian)
        return b"\xfe\xff" + text.encode("utf-16-be")
    return text.encode(encoding)  # "utf-16" and "utf-8-sig" write a byte-order mark


def _write_valid_table(path: Path, t: dict) -> None:
    fmt, columns, table, nl = t["fmt"], t["columns"], t["table"], t["newline"]
    records = [dict(zip(columns, r, strict=True)) for r in zip(*table.values(), strict=True)]
    if fmt == "parquet":
        import pandas as pd

        df = pd.DataFrame(table)
        for c in t["categorical"]:  # stored as a dictionary column, read back as a pandas Categorical
            df[c] = df[c].astype("category")
        df.to_parquet(path)
        return
    if fmt == "csv":
        buf = io.StringIO()
        # QUOTE_MINIMAL quotes a CR only when the line terminator holds one: a lone CR in a cell would end
        # the line (for pandas as for any CSV reader), so such a file is written with every cell quoted.
        lone_cr = nl == "\n" and any("\r" in _cell_str(v) for r in records for v in r.values())
        w = csv.writer(
            buf, lineterminator=nl, quoting=csv.QUOTE_ALL if t["quote_all"] or lone_cr else csv.QUOTE_MINIMAL
        )
        w.writerow(columns)
        w.writerows([[_cell_str(v) for v in r.values()] for r in records])
        text = buf.getvalue()
    elif fmt == "tsv":  # quoting off, as the reader expects: cells written verbatim
        text = "".join("\t".join(map(_cell_str, r)) + nl for r in [columns, *[r.values() for r in records]])
    elif fmt == "jsonl":
        text = "".join(json.dumps(r, ensure_ascii=t["ascii"]) + nl for r in records)
    else:
        data = {"records": records, "columns": table, "wrapped": {"data": records}}[t["layout"]]
        text = json.dumps(data, ensure_ascii=t["ascii"], indent=None if t["ascii"] else 1)
    path.write_bytes(_encode(text, t["encoding"]))


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(t=_valid_tables())
def test_a_valid_table_loads_with_every_row_text_and_class(t):
    event(f"{t['fmt']} {t['kind']} labels")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"data.{t['fmt']}"
        _write_valid_table(path, t)
        ds = load_dataset(str(path))  # any DataError here is a bug: the table is valid
    _check_dataset(ds)
    assert (ds.text_column, ds.label_column) == (t["text_col"], t["label_col"])
    assert ds.carved == ("validation", "test")
    kept = [r for r in t["rows"] if r[3]]
    got = [(text, int(y)) for split in ds.splits.values() for text, y in zip(split.texts, split.labels, strict=True)]
    # Every usable row, every text exactly as written (stripped): no row lost or made up, no repr, no mojibake.
    assert len(got) == len(kept)
    assert sorted(text for text, _ in got) == sorted(r[0].strip() for r in kept)
    if len(kept) < len(t["rows"]):
        assert any(n.startswith(f"Dropped {len(t['rows']) - len(kept)} of {len(t['rows'])} ") for n in ds.notes)
    # One class per written label: same label -> same id, different labels -> different ids.
    class_of_text = {r[0].strip(): r[1] for r in kept}  # texts are unique but for duplicated rows
    ids_of_class: dict[object, set[int]] = {}
    for text, y in got:
        ids_of_class.setdefault(class_of_text[text], set()).add(y)
    assert ds.num_classes == len(ids_of_class) == len({r[1] for r in kept})
    assert all(len(ids) == 1 for ids in ids_of_class.values()), ids_of_class
    id_of = {c: next(iter(ids)) for c, ids in ids_of_class.items()}
    assert sorted(id_of.values()) == list(range(ds.num_classes))
    # Every class is trained on and held out (each has at least 3 rows).
    for split in ("train", "validation"):
        assert set(ds[split].labels.tolist()) == set(range(ds.num_classes)), split
    # Class names: numbers in increasing order, named by their digits (or a sentiment scale in a
    # sentiment-named column); words by one of their spellings, in a known order where there is one.
    names = ds.label_names
    if t["kind"] == "word":
        for c, i in id_of.items():
            assert names[i] in {str(r[2]).strip() for r in kept if r[1] == c}, (c, names)
        order = next((o for o in KNOWN_ORDERS if set(o) == {c.casefold() for c in id_of}), None)
        if order is not None:
            assert [id_of[c] for c in sorted(id_of, key=lambda c: order.index(c.casefold()))] == list(range(len(order)))
    else:
        assert [id_of[c] for c in sorted(id_of)] == list(range(ds.num_classes))
        if names != [str(c) for c in sorted(id_of)]:
            assert t["label_col"].strip().lower() in SENTIMENT_COLUMNS and set(names) <= SCALE_NAMES, names


@pytest.mark.parametrize("other", [0.0, None], ids=["next to a float", "next to a null"])
def test_json_whole_number_labels_beyond_2_53_keep_their_class(tmp_path, other):
    """Labels 2**53 and 2**53 + 1 are two classes; rounded to float64 they would be one (found and
    minimised by hypothesis from the test above)."""
    rows = [{"text": "a", "label": 2**53}, {"text": "b", "label": 2**53 + 1}, {"text": "c", "label": other}]
    (tmp_path / "d.json").write_text(json.dumps(rows), "utf-8")
    ds = load_dataset(str(tmp_path / "d.json"))
    assert ds.num_classes == (3 if other is not None else 2)
    assert ds.label_names[-2:] == [str(2**53), str(2**53 + 1)]


# ---------------------------------------------------------------------------------------------
# The tokenizer: offsets stay inside the text and cover every kept character

CORPUS = ["the film was great", "awful plot , very dull !", "ÉCOLE café naïve 東京 🙂", "i didn't like it"]


@pytest.fixture(scope="module")
def tokenizers() -> dict[str, TextTokenizer]:
    return {
        kind: TextTokenizer.train(CORPUS * 3, TokenizerConfig(kind=kind, vocab_size=120, max_length=100_000))
        for kind in ("word", "bpe", "wordpiece")
    }


def _kept(ch: str) -> bool:
    """Does the normalizer (NFKC, then lowercase) turn ``ch`` into something other than whitespace?

    The property: every character for which this holds lies inside some token's [start, end). A
    character that normalizes only to whitespace (U+00A0 NO-BREAK SPACE, U+2002 EN SPACE, U+3000) is a
    word separator, never part of a token. NFKC deletes no character on its own (zero-width and
    control characters such as U+200B, U+00AD, U+0000 stay and become punctuation tokens), but it
    composes: "A" + U+0300 becomes one character, so the combining mark must be covered by the
    token of the "A" (TextTokenizer widens the offsets for that). Python's ``str.isspace`` is a
    superset of the Unicode White_Space the pre-tokenizer splits on (it adds U+001C..U+001F), so
    skipping what ``isspace`` calls space only weakens the check, never makes it wrong.
    """
    return any(not c.isspace() for c in unicodedata.normalize("NFKC", ch).lower())


TEXTS = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=60),
    st.lists(st.sampled_from(["the", "film", "great", "Ａ", "ﬁ", "e\u0301", "\u200b", "\u00ad", "İ", "ß", " ", "\t",
                              "\x1c", "\u00a0", "🙂", "👍🏽", "ש", "١٢", "\x00", "\u202e", ",", "!!", "\ud800",
                              "\u1100\u1161\u11a8"]),
             max_size=30).map("".join),
)


@settings(max_examples=examples(1.25), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=TEXTS, kind=st.sampled_from(["word", "bpe", "wordpiece"]))
def test_offsets_stay_inside_the_text_and_cover_every_kept_character(tokenizers, text, kind):
    enc = tokenizers[kind].encode(text)
    ids, offsets, tokens = enc.ids[0], enc.offsets[0], enc.tokens[0]
    assert len(ids) == len(offsets) == len(tokens) >= 1
    for (start, end), tok in zip(offsets.tolist(), tokens, strict=True):
        assert 0 <= start <= end <= len(text), (start, end, len(text))
        assert tok == UNK or tok  # no empty token strings
        if tok != UNK and text:
            assert end > start  # a real token spans at least one character of the text
    if kind == "word":
        # Every character the normalizer keeps (see _kept) is inside some token's [start, end).
        covered = np.zeros(len(text) + 1, dtype=bool)
        for start, end in offsets.tolist():
            covered[start:end] = True
        missed = [(i, ch) for i, ch in enumerate(text) if _kept(ch) and not covered[i]]
        assert not missed, missed


# ---------------------------------------------------------------------------------------------
# The model file reader: random bytes and mutations of a real file


@pytest.fixture(scope="module")
def model_bytes() -> bytes:
    """A real, untrained, very small model file (building it takes milliseconds)."""
    from core.config import ModelConfig
    from core.model.classifier import SentimentClassifier
    from core.model.sentiment_model import SentimentModel
    from core.store.modelfile import to_bytes

    tok = TextTokenizer.train(CORPUS, TokenizerConfig(kind="word"))
    config = ModelConfig(kind="gru", vocab_size=tok.vocab_size, embed_dim=4, hidden_size=3, dropout=0.0)
    return to_bytes(SentimentModel(SentimentClassifier(config), tok, ["negative", "positive"]))


def _load(data: bytes) -> None:
    from core.store.modelfile import from_bytes

    try:
        model = from_bytes(data, "fuzz.safetensors")
    except ModelFileError as err:
        assert str(err) and "\n" not in str(err).strip(), str(err)
        return
    probs = model.predict_proba(["the film was great"])
    assert probs.shape == (1, len(model.label_names))


@settings(max_examples=examples(0.5), deadline=None)
@given(data=st.one_of(st.binary(max_size=300),
                      st.binary(max_size=200).map(lambda b: struct.pack("<Q", len(b)) + b),
                      st.builds(lambda h: struct.pack("<Q", len(h)) + h, st.text(max_size=80).map(str.encode))))
def test_random_bytes_are_a_model_file_error(data):
    _load(data)


HEADER_EDITS = [
    ("model_config", "hidden_size", 10**9), ("model_config", "hidden_size", "3"), ("model_config", "kind", "x"),
    ("model_config", "embed_dim", 4.5), ("model_config", "num_layers", 0), ("model_config", "vocab_size", -1),
    ("model_config", "bidirectional", "yes"), ("model_config", "num_classes", 10**12),
    ("model_config", "dropout", "x"), ("model_config", "pooling", None), ("model_config", None, [1, 2]),
    ("tokenizer_config", "max_length", -5), ("tokenizer_config", "max_length", 2**70),
    ("tokenizer_config", "truncation_side", "middle"), ("tokenizer_config", "kind", 7),
    ("tokenizer", None, "{}"), ("tokenizer", None, "[" * 5000), ("label_names", None, "[]"),
    ("label_names", None, '["a", "b", "c"]'), ("label_names", None, "[[1], {}]"), ("label_names", None, "5"),
    ("format_version", None, ["1"]), ("format_version", None, "-1"), ("format_version", None, "1e9"),
    ("weights_sha256", None, 5), ("metrics", None, "NaN"), ("info", None, "[" * 100_000),
    ("train_config", None, '{"epochs": "x"}'), ("__tensor__", "shape", [10**6, 10**6]),
    ("__tensor__", "dtype", "F64"), ("__tensor__", "data_offsets", [0, 10**12]),
]  # fmt: skip


def _edit_header(data: bytes, edit: tuple) -> bytes:
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    meta = header["__metadata__"]
    where, key, value = edit
    if where == "__tensor__":
        name = sorted(k for k in header if k != "__metadata__")[0]
        header[name][key] = value
    elif key is None:
        meta[where] = value
    else:
        d = json.loads(meta[where])
        d[key] = value
        meta[where] = json.dumps(d)
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + data[8 + n :]


@st.composite
def _mutations(draw, data: bytes) -> bytes:
    kind = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "header", "length"]))
    b = bytearray(data)
    n = int.from_bytes(data[:8], "little")
    if kind == "flip":
        for _ in range(draw(st.integers(1, 4))):
            # mostly in the header (8 + n bytes), where a flip changes the meaning, not just the weights
            i = draw(st.one_of(st.integers(0, 8 + n - 1), st.integers(0, len(b) - 1)))
            b[i] ^= 1 << draw(st.integers(0, 7))
    elif kind == "truncate":
        del b[draw(st.integers(0, len(b) - 1)) :]
    elif kind == "insert":
        i = draw(st.integers(0, len(b)))
        b[i:i] = draw(st.binary(min_size=1, max_size=16))
    elif kind == "delete":
        i = draw(st.integers(0, len(b) - 1))
        del b[i : i + draw(st.integers(1, 16))]
    elif kind == "length":
        b[:8] = struct.pack("<Q", draw(st.sampled_from([0, 1, n - 1, n + 1, n + 8, 2**63, 2**64 - 1, len(b)])))
    else:
        return _edit_header(data, draw(st.sampled_from(HEADER_EDITS)))
    return bytes(b)


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_model_files_load_or_are_a_model_file_error(model_bytes, data):
    _load(data.draw(_mutations(model_bytes)))


def test_the_unmutated_file_loads(model_bytes, tmp_path):
    from core.store.modelfile import load_model

    (tmp_path / "m.safetensors").write_bytes(model_bytes)
    assert load_model(tmp_path / "m.safetensors").label_names == ["negative", "positive"]


@pytest.mark.parametrize("edit", HEADER_EDITS, ids=repr)
def test_each_header_edit_loads_or_is_a_model_file_error(model_bytes, edit):
    """Every edit above, deterministically (e.g. hidden_size=10**9 must not try to allocate it)."""
    _load(_edit_header(model_bytes, edit))
