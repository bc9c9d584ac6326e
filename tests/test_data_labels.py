"""core.data's columns and labels: column detection, class names, carving missing splits, statistics."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from data_files import error_of, write
from helpers import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from core.data import Split, describe, load_dataset
from core.data import labels as labels_module
from core.errors import ColumnError

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


def test_bad_fractions(tmp_path):
    src = carve_source(tmp_path)
    assert "fraction" in error_of(src, validation_fraction=1.5)
    assert "at least 10%" in error_of(src, validation_fraction=0.5, test_fraction=0.45)


@settings(max_examples=examples(0.1), deadline=None)
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


