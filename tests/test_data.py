"""Tests for core.data: every source kind, column/label rules, carving, built-in sets and user errors.

No network: the Hub boundary is mocked, and the offline check runs in a subprocess with an empty cache.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.data import DataError, Split, TaskCancelled, describe, load_dataset, parse_source
from core.data import builtin as builtin_module
from core.data import hub as hub_module
from core.data import labels as labels_module
from core.errors import ColumnError

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "datasets"


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def rows_tsv(n: int = 40, labels: tuple = (0, 1), header: str = "text\tlabel") -> str:
    lines = [header] + [f"example number {i} is here\t{labels[i % len(labels)]}" for i in range(n)]
    return "\n".join(lines) + "\n"


def error_of(source: str | Path, **kw) -> str:
    with pytest.raises(DataError) as info:
        load_dataset(str(source), **kw)
    msg = str(info.value)
    assert "\n" not in msg and msg.strip() == msg and len(msg) < 400
    return msg


# ---------------------------------------------------------------------------------------------
# Formats


def test_tsv_keeps_leading_quotes_and_na_text(tmp_path):
    body = 'text\tlabel\n"quoted" start of a review\t1\nNA\t0\nnull\t1\nplain text "inside" quotes\t0\n'
    ds = load_dataset(str(write(tmp_path / "d.tsv", body)), validation_fraction=0, test_fraction=0)
    texts = ds["train"].texts
    assert texts == ['"quoted" start of a review', "NA", "null", 'plain text "inside" quotes']
    assert ds["train"].labels.tolist() == [1, 0, 1, 0]
    assert ds.label_names == ["negative", "positive"]


def test_csv_quoted_newlines_and_bom(tmp_path):
    body = '\ufefftext,label\n"line one\nline two, with comma",pos\n"simple",neg\n'
    body += '"a ""quoted"" word",pos\nok,neg\n'
    ds = load_dataset(str(write(tmp_path / "d.csv", body)), validation_fraction=0, test_fraction=0)
    assert ds["train"].texts[0] == "line one\nline two, with comma"
    assert ds["train"].texts[2] == 'a "quoted" word'
    assert ds.label_names == ["neg", "pos"]
    assert ds["train"].labels.tolist() == [1, 0, 1, 0]


def test_semicolon_csv(tmp_path):
    ds = load_dataset(
        str(write(tmp_path / "d.csv", "text;label\nfine film;1\nbad film;0\n")), test_fraction=0
    )
    assert sorted(ds["train"].texts + ds["validation"].texts) == ["bad film", "fine film"]


@pytest.mark.parametrize("layout", ["array", "lines", "columns", "wrapped"])
def test_json_layouts(tmp_path, layout):
    recs = [{"review": f"text {i}", "sentiment": "positive" if i % 2 else "negative"} for i in range(20)]
    if layout == "array":
        body = json.dumps(recs)
    elif layout == "lines":
        body = "\n".join(json.dumps(r) for r in recs) + "\n\n"
    elif layout == "columns":
        body = json.dumps({k: [r[k] for r in recs] for k in recs[0]})
    else:
        body = json.dumps({"data": recs})
    ds = load_dataset(str(write(tmp_path / "d.json", body)))
    assert ds.text_column == "review" and ds.label_column == "sentiment"
    assert ds.label_names == ["negative", "positive"]
    assert sum(len(s) for s in ds.splits.values()) == 20


def test_jsonl_with_float_labels(tmp_path):
    body = "\n".join(json.dumps({"text": f"t{i}", "label": float(i % 2)}) for i in range(10))
    ds = load_dataset(str(write(tmp_path / "d.jsonl", body)), validation_fraction=0, test_fraction=0)
    assert ds["train"].labels.tolist() == [0, 1] * 5
    assert ds.label_names == ["negative", "positive"]


def test_parquet(tmp_path):
    import pandas as pd

    df = pd.DataFrame({"content": [f"doc {i}" for i in range(30)], "stars": [1 + i % 5 for i in range(30)]})
    df.to_parquet(tmp_path / "d.parquet")
    ds = load_dataset(str(tmp_path / "d.parquet"))
    assert ds.label_names == ["1", "2", "3", "4", "5"]
    assert set(ds["train"].labels.tolist()) == {0, 1, 2, 3, 4}
    first = ds["train"].texts[0]
    assert ds["train"].labels[0] == (int(first.split()[1]) % 5)


def test_utf16_with_bom(tmp_path):
    body = "text\tlabel\ngood\t1\nbad\t0\n".encode("utf-16")
    ds = load_dataset(str(write(tmp_path / "d.tsv", body)), validation_fraction=0, test_fraction=0)
    assert ds["train"].texts == ["good", "bad"]


def test_cp1252_fallback_is_noted(tmp_path):
    body = "text\tlabel\ncafé “great”\t1\nmeh\t0\n".encode("cp1252")
    ds = load_dataset(str(write(tmp_path / "d.tsv", body)), validation_fraction=0, test_fraction=0)
    assert ds["train"].texts[0] == "café “great”"
    assert any("Windows-1252" in n for n in ds.notes)


def test_home_relative_path(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    write(tmp_path / "d.tsv", rows_tsv())
    assert parse_source("~/d.tsv") == ("file", str(tmp_path / "d.tsv"), {})
    assert len(load_dataset("~/d.tsv")["train"]) > 0


# ---------------------------------------------------------------------------------------------
# Folders


def test_folder_with_dev_split(tmp_path):
    write(tmp_path / "train.tsv", rows_tsv(40))
    write(tmp_path / "dev.tsv", rows_tsv(6))
    write(tmp_path / "test.tsv", rows_tsv(8))
    write(tmp_path / "all.tsv", rows_tsv(3, labels=(7,)))  # ignored
    write(tmp_path / "train.source_files.txt", "x\n")  # ignored
    ds = load_dataset(str(tmp_path))
    assert {k: len(v) for k, v in ds.splits.items()} == {"train": 40, "validation": 6, "test": 8}
    assert ds.carved == ()


def test_folder_train_only_is_carved(tmp_path):
    write(tmp_path / "train.csv", "text,label\n" + "".join(f"t{i},{i % 2}\n" for i in range(100)))
    ds = load_dataset(str(tmp_path))
    assert ds.carved == ("validation", "test")
    assert {k: len(v) for k, v in ds.splits.items()} == {"train": 80, "validation": 10, "test": 10}
    all_texts = ds["train"].texts + ds["validation"].texts + ds["test"].texts
    assert sorted(all_texts) == sorted(f"t{i}" for i in range(100))


def test_folder_ambiguous_and_missing_train(tmp_path):
    write(tmp_path / "a" / "train.csv", "text,label\nx,1\ny,0\n")
    write(tmp_path / "a" / "train.tsv", rows_tsv())
    assert "several train files" in error_of(tmp_path / "a")
    write(tmp_path / "b" / "all.tsv", rows_tsv())
    msg = error_of(tmp_path / "b")
    assert "no train file" in msg and "all.tsv" in msg
    (tmp_path / "c").mkdir()
    assert "no train file" in error_of(tmp_path / "c")


# ---------------------------------------------------------------------------------------------
# Columns and labels


@pytest.mark.parametrize(
    ("labels", "names"),
    [
        (["pos", "neg"], ["neg", "pos"]),
        (["Positive", "negative", "positive"], ["negative", "Positive"]),
        (["positive", "neutral", "negative"], ["negative", "neutral", "positive"]),
        (["joy", "anger", "fear"], ["anger", "fear", "joy"]),
        (["5", "1", "2", "3", "4"], ["very negative", "negative", "neutral", "positive", "very positive"]),
        (["-1", "1"], ["negative", "positive"]),
    ],
)
def test_label_names_and_order(tmp_path, labels, names):
    body = "text,label\n" + "".join(f"row {i},{labels[i % len(labels)]}\n" for i in range(10 * len(labels)))
    ds = load_dataset(str(write(tmp_path / "d.csv", body)))
    assert ds.label_names == names
    for sp in ds.splits.values():
        for text, lab in zip(sp.texts, sp.labels.tolist(), strict=True):
            raw = labels[int(text.split()[1]) % len(labels)]
            if raw.lstrip("-").isdigit():  # numbers are named by their rank on the scale
                assert ds.label_names[lab] == names[sorted(int(x) for x in set(labels)).index(int(raw))]
            else:
                assert ds.label_names[lab].lower() == raw.lower()


@pytest.mark.parametrize(
    ("values", "names"),
    [
        ([0, 1], ["negative", "positive"]),
        ([-1, 1], ["negative", "positive"]),
        ([1, 2], ["negative", "positive"]),  # Yelp polarity's CSV
        ([0, 1, 2], ["negative", "neutral", "positive"]),  # tweet_eval
        ([-1, 0, 1], ["negative", "neutral", "positive"]),
        ([0, 1, 2, 3, 4], ["very negative", "negative", "neutral", "positive", "very positive"]),  # SST-5
        ([1, 2, 3, 4, 5], ["very negative", "negative", "neutral", "positive", "very positive"]),
        ([0, 1, 2, 3], ["0", "1", "2", "3"]),  # no sentiment scale has four classes
        ([0, 2], ["0", "2"]),  # not consecutive
    ],
)
def test_numeric_labels_of_a_sentiment_column_are_named_by_one_rule(tmp_path, values, names):
    body = "text,label\n" + "".join(f"r{i},{values[i % len(values)]}\n" for i in range(10 * len(values)))
    ds = load_dataset(str(write(tmp_path / "d.csv", body)))
    assert ds.label_names == names
    named = [n for n in ds.notes if n.startswith("Named the labels")]
    assert bool(named) == (names[0] != str(values[0]))  # a guessed name is always said


def test_column_errors_carry_the_columns_and_the_missing_role(tmp_path):
    with pytest.raises(ColumnError) as caught:
        load_dataset(str(write(tmp_path / "a.csv", "a,b,c\n1,2,3\n4,5,6\n")))
    assert caught.value.columns == ["a", "b", "c"] and caught.value.missing == ("text", "label")
    assert "--" not in str(caught.value)  # each face says how to name them (flags, form fields)
    with pytest.raises(ColumnError) as caught:
        load_dataset(str(write(tmp_path / "b.csv", "review,x,y\nfine,1,2\nok,3,4\n")))
    assert caught.value.missing == ("label",)
    with pytest.raises(ColumnError) as caught:
        load_dataset(str(write(tmp_path / "c.csv", "text,label,z\na,1,2\nb,0,3\n")), text_column="body")
    assert caught.value.missing == ("text",) and caught.value.columns == ["text", "label", "z"]


def test_binary_ints_named_only_for_sentiment_columns(tmp_path):
    body = "text,target\n" + "".join(f"r{i},{i % 2}\n" for i in range(10))
    assert load_dataset(str(write(tmp_path / "d.csv", body))).label_names == ["0", "1"]


def test_explicit_columns(tmp_path):
    body = "id,title,body_text,verdict,score\n" + "".join(
        f"{i},t{i},words {i},{'yes' if i % 2 else 'no'},9\n" for i in range(10)
    )
    path = write(tmp_path / "d.csv", body)
    ds = load_dataset(str(path), text_column="body_text", label_column="Verdict")
    assert ds.text_column == "body_text" and ds.label_column == "verdict"
    assert ds.label_names == ["no", "yes"]
    msg = error_of(path, text_column="review")
    assert 'no text column "review"' in msg and "body_text" in msg and "verdict" in msg


def test_two_columns_are_guessed_with_a_note(tmp_path):
    body = "words,verdict\n" + "".join(
        f"a longer piece of text {i},{'good' if i % 2 else 'bad'}\n" for i in range(10)
    )
    ds = load_dataset(str(write(tmp_path / "d.csv", body)))
    assert (ds.text_column, ds.label_column) == ("words", "verdict")
    assert ds.label_names == ["bad", "good"]
    assert any("Guessed" in n for n in ds.notes)


def test_headerless_file_is_reported(tmp_path):
    body = "".join(f"a review text number {i}\t{i % 2}\n" for i in range(10))
    assert "header" in error_of(write(tmp_path / "d.tsv", body))


def test_rows_with_empty_text_or_label_are_dropped(tmp_path):
    body = "text\tlabel\ngood\t1\n   \t0\nbad\t\nfine\t0\n"
    ds = load_dataset(str(write(tmp_path / "d.tsv", body)), validation_fraction=0, test_fraction=0)
    assert ds["train"].texts == ["good", "fine"]
    assert any("Dropped 2 of 4" in n for n in ds.notes)


# ---------------------------------------------------------------------------------------------
# Carving


def carve_source(tmp_path: Path) -> str:
    body = "text,label\n" + "".join(f"t{i},{'a' if i % 4 == 0 else 'b'}\n" for i in range(400))
    return str(write(tmp_path / "d.csv", body))


def test_carving_is_stratified_and_seeded(tmp_path):
    src = carve_source(tmp_path)
    a = load_dataset(src, split_seed=1, validation_fraction=0.2, test_fraction=0.1)
    b = load_dataset(src, split_seed=1, validation_fraction=0.2, test_fraction=0.1)
    c = load_dataset(src, split_seed=2, validation_fraction=0.2, test_fraction=0.1)
    assert a["validation"].texts == b["validation"].texts and a["test"].texts == b["test"].texts
    assert a["validation"].texts != c["validation"].texts
    assert (a.split_seed, a.validation_fraction, a.test_fraction, a.carved) == (1, 0.2, 0.1, ("validation", "test"))
    assert np.bincount(a["validation"].labels).tolist() == [20, 60]  # 100 a / 300 b -> 20% each
    assert np.bincount(a["test"].labels).tolist() == [10, 30]
    assert len(a["train"]) == 280
    parts = [set(a[s].texts) for s in ("train", "validation", "test")]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=2, max_size=200), st.integers(0, 10**6))
def test_carve_partitions_and_keeps_extra_aligned(labels, seed):
    n = len(labels)
    train = Split(
        texts=[f"t{i}" for i in range(n)],
        labels=np.array(labels, np.int64),
        extra={"idx": np.arange(n, dtype=np.int64)},
    )
    splits, _ = labels_module._carve({"train": train}, ["validation", "test"], {"validation": 0.1, "test": 0.2}, seed)
    seen = np.concatenate([splits[s].extra["idx"] for s in ("train", "validation", "test")])
    assert sorted(seen.tolist()) == list(range(n))
    for sp in splits.values():
        assert [f"t{i}" for i in sp.extra["idx"]] == sp.texts
        assert sp.labels.tolist() == [labels[i] for i in sp.extra["idx"]]
    assert set(splits["train"].labels.tolist()) == set(labels)  # every class keeps a training row


# ---------------------------------------------------------------------------------------------
# Built-in sets


def test_longrange_gap_is_exact_and_balanced():
    ds = load_dataset("builtin:longrange?n=600&gap=3-9&seed=5")
    words = set(builtin_module._POSITIVE) | set(builtin_module._NEGATIVE)
    assert {k: len(v) for k, v in ds.splits.items()} == {"train": 480, "validation": 60, "test": 60}
    for sp in ds.splits.values():
        assert sp.extra["gap"].dtype == np.int64
        assert sp.extra["gap"].min() >= 3 and sp.extra["gap"].max() <= 9
        counts = np.bincount(sp.labels, minlength=2)
        assert abs(int(counts[0]) - int(counts[1])) <= 1
        for text, lab, gap in zip(sp.texts, sp.labels.tolist(), sp.extra["gap"].tolist(), strict=True):
            tokens = text.split()
            hits = [i for i, t in enumerate(tokens) if t in words]
            assert len(hits) == 1
            assert len(tokens) - hits[0] - 1 == gap
            assert (tokens[hits[0]] in builtin_module._POSITIVE) == bool(lab)
            assert text == text.lower()
    assert len(set(ds["train"].extra["gap"].tolist())) == 7


def test_longrange_fixed_gap_defaults_and_determinism():
    ds = load_dataset("builtin:longrange?gap=12&n=100")
    assert set(ds["train"].extra["gap"].tolist()) == {12}
    t = time.perf_counter()
    default = load_dataset("builtin:longrange")
    assert time.perf_counter() - t < 0.5
    assert sum(len(s) for s in default.splits.values()) == 4000
    assert default.label_names == ["negative", "positive"]
    gaps = np.concatenate([s.extra["gap"] for s in default.splits.values()])
    assert gaps.min() >= 5 and gaps.max() <= 50
    seeded = load_dataset("builtin:longrange?seed=3")["test"].texts
    assert seeded == load_dataset("builtin:longrange?seed=3")["test"].texts
    assert seeded != default["test"].texts
    # the split seed is the carve's alone: it never changes what a built-in set generates
    assert load_dataset("builtin:longrange", split_seed=3)["test"].texts == default["test"].texts


def test_longrange_log_spread_covers_every_octave_evenly():
    gaps = load_dataset("builtin:longrange?n=20000&gap=0-200&spread=log")["train"].extra["gap"]
    assert gaps.min() == 0 and gaps.max() == 200
    octaves = np.histogram(gaps + 1, bins=[1, 4, 16, 64, 202])[0] / len(gaps)  # log-uniform: ~even shares
    assert octaves.min() > 0.2, octaves
    uniform = load_dataset("builtin:longrange?n=20000&gap=0-200")["train"].extra["gap"]
    assert (uniform < 15).mean() < 0.1 < (gaps < 15).mean()
    with pytest.raises(DataError, match="spread"):
        load_dataset("builtin:longrange?spread=cubic")


def test_reviews_builtin():
    ds = load_dataset("builtin:reviews?n=200&seed=1")
    assert ds.label_names == ["negative", "positive"]
    assert sum(len(s) for s in ds.splits.values()) == 200
    assert ds["train"].texts == load_dataset("builtin:reviews?n=200&seed=1")["train"].texts


@pytest.mark.parametrize(
    ("source", "needle"),
    [
        ("builtin:nope", "builtin:longrange"),
        ("builtin:longrange?size=3", "valid options are: n, gap, spread, seed"),
        ("builtin:longrange?gap=9-3", "MIN-MAX"),
        ("builtin:longrange?gap=abc", "range such as 5-50"),
        ("builtin:longrange?n=x", "whole number"),
        ("builtin:longrange?n=5", "between 20"),
        ("builtin:longrange?n", "key=value"),
    ],
)
def test_builtin_bad_options(source, needle):
    assert needle in error_of(source)


# ---------------------------------------------------------------------------------------------
# User errors


def test_missing_path(tmp_path):
    assert "No such file or folder" in error_of(tmp_path / "nope.csv")
    assert "No such file or folder" in error_of("./nowhere/data")
    assert "No dataset given" in error_of("  ")


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("empty.csv", "", "is empty"),
        ("blank.tsv", "\n\n  \n", "is empty"),
        ("header.csv", "text,label\n", "header but no rows"),
        ("header.jsonl", "", "is empty"),
        ("cols.csv", "a,b,c\n1,2,3\n4,5,6\n", "Can't find the text and label columns (columns: a, b, c)"),
        ("one.csv", "text,label\nx,1\ny,1\n", "Only one class"),
        ("mixed.csv", "text,label\nx,1\ny,good\nz,0\n", "mixes numbers and words"),
        ("float.csv", "text,label\nx,0.5\ny,1\n", "non-whole"),
        ("bad.json", '[{"text": "x", "label": 1}, {"text": ', "not valid JSON"),
        ("bad.jsonl", '{"text": "x", "label": 1}\n{"text": oops}\n', "line 2"),
        ("scalar.json", "[1, 2, 3]", "array of objects"),
        ("notparquet.parquet", "text,label\nx,1\n", "not a Parquet file"),
        ("data.xlsx", "whatever", "Unsupported file type"),
        ("nolabel.csv", "text\nx\ny\n", "label column"),
        ("many.csv", "text,label\n" + "".join(f"x{i},{i}\n" for i in range(60)), "really the label"),
    ],
)
def test_bad_files(tmp_path, name, content, needle):
    msg = error_of(write(tmp_path / name, content))
    assert needle in msg, msg


def test_undecodable_and_nul_bytes(tmp_path):
    msg = error_of(write(tmp_path / "bad.tsv", b"text\tlabel\nabc\x81\x8d\t1\n"))
    assert "not UTF-8" in msg and "0x81" in msg and "offset 14" in msg
    msg = error_of(write(tmp_path / "nul.csv", b"text,label\nab\x00c,1\n"))
    assert "NUL" in msg


def test_damaged_parquet(tmp_path):
    assert "Parquet" in error_of(write(tmp_path / "d.parquet", b"PAR1" + b"\x07" * 64 + b"PAR1"))


def test_tsv_with_extra_tab_is_reported(tmp_path):
    msg = error_of(write(tmp_path / "d.tsv", "text\tlabel\na\t1\nb\tc\t0\n"))
    assert "TSV" in msg and "TAB" in msg


def test_unseen_test_label(tmp_path):
    write(tmp_path / "train.csv", "text,label\na,neg\nb,pos\nc,neg\n")
    write(tmp_path / "test.csv", "text,label\nd,neutral\n")
    msg = error_of(tmp_path)
    assert '"neutral"' in msg and "never appears in the training data" in msg


def test_split_missing_label_column_in_folder(tmp_path):
    write(tmp_path / "train.csv", "text,label\na,neg\nb,pos\n")
    write(tmp_path / "test.csv", "text\nd\n")
    assert 'test data has no "label" column' in error_of(tmp_path)


def test_bad_fractions(tmp_path):
    src = carve_source(tmp_path)
    assert "fraction" in error_of(src, validation_fraction=1.5)
    assert "at least 10%" in error_of(src, validation_fraction=0.5, test_fraction=0.45)


def test_cancel(tmp_path):
    with pytest.raises(TaskCancelled):
        load_dataset("builtin:longrange", should_cancel=lambda: True)
    write(tmp_path / "train.tsv", rows_tsv())
    write(tmp_path / "test.tsv", rows_tsv())
    calls = iter([False, False, True] + [True] * 50)
    with pytest.raises(TaskCancelled):
        load_dataset(str(tmp_path), should_cancel=lambda: next(calls))


# ---------------------------------------------------------------------------------------------
# Source parsing and the Hub


def test_parse_source(tmp_path):
    assert parse_source("builtin:LongRange?gap=5-9&n=10") == (
        "builtin",
        "longrange",
        {"gap": "5-9", "n": "10"},
    )
    assert parse_source("imdb") == ("hub", "imdb", {})
    assert parse_source("stanfordnlp/sst2") == ("hub", "stanfordnlp/sst2", {})
    assert parse_source("glue:sst2") == ("hub", "glue", {"config": "sst2"})
    assert parse_source(str(tmp_path)) == ("folder", str(tmp_path), {})
    with pytest.raises(DataError):
        parse_source("not a name with spaces")


def fake_hub() -> object:
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

    feats = Features(
        {"sentence": Value("string"), "label": ClassLabel(names=["neg", "pos"]), "idx": Value("int32")}
    )
    train = {
        "sentence": [f"s{i}" for i in range(50)],
        "label": [i % 2 for i in range(50)],
        "idx": list(range(50)),
    }
    return DatasetDict(
        {
            "train": Dataset.from_dict(train, features=feats),
            "validation": Dataset.from_dict(
                {"sentence": ["v0", "v1"], "label": [0, 1], "idx": [0, 1]}, features=feats
            ),
            "test": Dataset.from_dict(
                {"sentence": ["u0", "u1"], "label": [-1, -1], "idx": [0, 1]}, features=feats
            ),
            "unsupervised": Dataset.from_dict({"sentence": ["z"], "label": [-1], "idx": [0]}, features=feats),
        }
    )


@pytest.fixture
def hub_env(monkeypatch):
    """Isolate the offline switches that core.data may flip."""
    import datasets
    import huggingface_hub

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", datasets.config.HF_HUB_OFFLINE)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", datasets.config.HF_DATASETS_OFFLINE)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", huggingface_hub.constants.HF_HUB_OFFLINE)
    return datasets


def test_hub_mocked(hub_env, monkeypatch):
    calls = []

    def fake_load(name, config=None, **kw):
        calls.append((name, config))
        return fake_hub()

    monkeypatch.setattr(hub_env, "load_dataset", fake_load)
    ds = load_dataset("glue:sst2")
    assert calls == [("glue", "sst2")]
    assert ds.label_names == ["neg", "pos"] and ds.text_column == "sentence"
    assert ds["validation"].texts == ["v0", "v1"]
    assert ds.carved == ("test",) and len(ds["test"]) == 4  # unlabelled test (-1) -> carved from train
    assert any("no labelled rows" in n for n in ds.notes)


def test_hub_errors_are_one_line(hub_env, monkeypatch):
    from datasets.exceptions import DatasetNotFoundError

    def not_found(*a, **kw):
        raise DatasetNotFoundError("Dataset 'nope/nope' doesn't exist on the Hub")

    monkeypatch.setattr(hub_env, "load_dataset", not_found)
    assert "not in the local cache" in error_of("nope/nope")  # offline: can't tell missing from uncached
    monkeypatch.setattr(hub_module, "_hub_online", lambda: True)
    assert 'There is no dataset "nope/nope"' in error_of("nope/nope")

    def bad_config(*a, **kw):
        raise ValueError("BuilderConfig 'xx' not found. Available: ['sst2', 'cola']")

    monkeypatch.setattr(hub_env, "load_dataset", bad_config)
    assert "NAME:CONFIG" in error_of("glue:xx")


@pytest.mark.parametrize("env", [{"HF_HUB_OFFLINE": "1"}, {"HF_ENDPOINT": "http://127.0.0.1:9"}])
def test_hub_offline_not_cached_message(tmp_path, env):
    """Real ``datasets``, empty cache: the env var or a failed probe (closed port) must make it fail fast."""
    code = textwrap.dedent(
        """
        import sys
        from core.data import load_dataset, DataError
        try:
            load_dataset("imdb")
        except DataError as err:
            print("MSG:" + str(err))
        """
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE"))}
    clean.update({"HF_HOME": str(tmp_path / "hf"), "HF_DATASETS_CACHE": str(tmp_path / "hf" / "ds"), **env})
    t = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=clean, capture_output=True, text=True, timeout=60
    )
    assert time.perf_counter() - t < 30
    msg = next((line[4:] for line in out.stdout.splitlines() if line.startswith("MSG:")), out.stderr[-2000:])
    assert msg == (
        'Can\'t reach the Hugging Face Hub and "imdb" is not in the local cache. Use a local file '
        "(CSV/TSV/JSON/Parquet) or a built-in set such as builtin:longrange."
    )


def test_import_is_light():
    code = "import sys, core.data; print([m for m in ('pandas', 'pyarrow', 'datasets') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr


# ---------------------------------------------------------------------------------------------
# describe()


def test_describe():
    ds = load_dataset("builtin:longrange?n=200&gap=10")
    stats = describe(ds)
    tr = stats["train"]
    assert tr.count == 160 and sum(tr.per_class.values()) == 160
    assert set(tr.per_class) == {"negative", "positive"}
    lengths = [len(t.split()) for t in ds["train"].texts]
    assert tr.lengths.tolist() == lengths
    assert tr.max == max(lengths) and tr.min == min(lengths)
    assert tr.mean == pytest.approx(np.mean(lengths))
    assert tr.p95 == sorted(lengths)[math.ceil(0.95 * len(lengths)) - 1]  # nearest rank
    json.dumps({s: v.to_dict() for s, v in stats.items()})
    ds.splits["test"] = Split(texts=[], labels=np.zeros(0, np.int64))
    empty = describe(ds)["test"]
    assert empty.count == 0 and empty.p95 == 0 and empty.mean == 0


# ---------------------------------------------------------------------------------------------
# Real data in ../shared/datasets (skipped when absent)


def shared(name: str) -> Path:
    path = SHARED / name
    if not path.exists():
        pytest.skip(f"{path} is not available")
    return path


@pytest.mark.shared_data
def test_real_sst2():
    ds = load_dataset(str(shared("sst2")))
    assert {k: len(v) for k, v in ds.splits.items()} == {"train": 6920, "validation": 872, "test": 1821}
    assert ds.label_names == ["negative", "positive"] and ds.carved == ()
    st_ = describe(ds)["train"]
    assert st_.per_class == {"negative": 3310, "positive": 3610} and st_.p95 == 36


@pytest.mark.shared_data
def test_real_mr_keeps_leading_quotes():
    ds = load_dataset(str(shared("mr") / "all.tsv"))
    texts = [t for sp in ds.splits.values() for t in sp.texts]
    assert len(texts) == 10662
    assert sum(t.startswith('"') for t in texts) == 56


@pytest.mark.shared_data
def test_real_imdb_is_fast():
    path = shared("imdb")
    load_dataset(str(shared("sst2")))  # warm the pandas import
    t = time.perf_counter()
    ds = load_dataset(str(path))
    assert time.perf_counter() - t < 4  # target is < 2 s; slack for slow CI machines
    assert {k: len(v) for k, v in ds.splits.items()} == {"train": 12500, "validation": 2500, "test": 12500}
