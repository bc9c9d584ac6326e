"""core.data's sources: every file format, folders, built-in sets, user errors, the Hub (mocked) and real data.

No network: the Hub boundary is mocked, and the offline check runs in a subprocess with an empty cache.
Columns, labels, carving and statistics are in tests/test_data_labels.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import headless

from core.data import DataError, describe, load_dataset, parse_source
from core.data import builtin as builtin_module
from core.data import hub as hub_module
from core.events import TaskCancelled, TaskControl

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "datasets"


from data_files import error_of, rows_tsv, write  # noqa: E402

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
    assert "not UTF-8" in msg and "0x81" in msg and "Line 2 of bad.tsv" in msg
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


class CancelAfter(TaskControl):
    """A TaskControl that turns cancelled after ``n`` checks."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.left = n

    @property
    def cancelled(self) -> bool:
        self.left -= 1
        return self.left < 0


def test_cancel(tmp_path):
    with pytest.raises(TaskCancelled):
        load_dataset("builtin:longrange", control=CancelAfter(0))
    write(tmp_path / "train.tsv", rows_tsv())
    write(tmp_path / "test.tsv", rows_tsv())
    with pytest.raises(TaskCancelled):
        load_dataset(str(tmp_path), control=CancelAfter(2))


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
        [sys.executable, "-c", code], cwd=REPO, env=headless(clean), capture_output=True, text=True, timeout=60
    )
    assert time.perf_counter() - t < 30
    msg = next((line[4:] for line in out.stdout.splitlines() if line.startswith("MSG:")), out.stderr[-2000:])
    assert msg == (
        'Can\'t reach the Hugging Face Hub and "imdb" is not in the local cache. Use a local file '
        "(CSV/TSV/JSON/Parquet) or a built-in set such as builtin:longrange."
    )


def test_import_is_light():
    code = "import sys, core.data; print([m for m in ('pandas', 'pyarrow', 'datasets') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60,
                         env=headless())
    assert out.stdout.strip() == "[]", out.stderr


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

