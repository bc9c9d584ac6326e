"""Data larger than memory: files read through ``datasets``' memory-mapped Arrow cache (``core.data.arrow``)
give the same dataset as the in-memory path, tokenize into a cached Arrow column (``core.text.token_cache``) and
train from it. The 2 M-row memory check is ``benchmarks/large_data.py`` (minutes; not in the suite)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from core.config import TokenizerConfig, TrainConfig
from core.data import ArrowTexts, DataError, describe, load_dataset
from core.data import stats as stats_module
from core.model.events import ModelDone
from core.model.sentiment_model import encode_split
from core.text import token_cache
from core.text.batching import EncodedSplit, PiecedIds, collate
from core.text.tokenizer import TextTokenizer
from core.train.pipeline import train_model
from tests.data_files import write


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    """Each test converts into a cache of its own (never the user's ~/.cache), and starts without the
    layouts an earlier test kept in memory."""
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")
    token_cache._layouts.clear()


def _rows(n: int = 400) -> list[tuple[str, str]]:
    words = ["good", "bad", "film", "plot", "great", "awful", "the", "a", "very", "not"]
    rng = np.random.default_rng(1)
    rows = [(" ".join(rng.choice(words, rng.integers(3, 12))), ("neg", "pos", "Pos")[i % 3]) for i in range(n)]
    rows[5] = ("   ", "pos")  # no text: dropped
    rows[7] = ("a fine one", "NA")  # a missing-value marker: dropped, and said so
    rows[9] = ("  padded text  ", "neg")  # stripped
    return rows


def _write(tmp_path: Path, ext: str, rows: list[tuple[str, str]]) -> Path:
    if ext == ".parquet":
        import pandas as pd

        path = tmp_path / "data.parquet"
        pd.DataFrame(rows, columns=["review", "sentiment"]).to_parquet(path)
        return path
    if ext == ".jsonl":
        lines = "".join(json.dumps({"review": t, "sentiment": s}) + "\n" for t, s in rows)
        return write(tmp_path / "data.jsonl", lines)
    sep = "\t" if ext == ".tsv" else ";"  # a semicolon CSV: the separator is guessed from the header
    return write(tmp_path / f"data{ext}", f"review{sep}sentiment\n" + "".join(f"{t}{sep}{s}\n" for t, s in rows))


@pytest.mark.parametrize("ext", [".csv", ".tsv", ".jsonl", ".parquet"])
def test_the_arrow_path_gives_the_in_memory_dataset(tmp_path, ext):
    path = _write(tmp_path, ext, _rows())
    memory = load_dataset(str(path), memory_mapped=False)
    mapped = load_dataset(str(path), memory_mapped=True)
    assert isinstance(mapped["train"].texts, ArrowTexts) and isinstance(memory["train"].texts, list)
    assert (mapped.label_names, mapped.text_column, mapped.label_column, mapped.carved) == \
           (memory.label_names, memory.text_column, memory.label_column, memory.carved) == \
           (["neg", "Pos"], "review", "sentiment", ("validation", "test"))
    for split in ("train", "validation", "test"):
        assert list(mapped[split].texts) == memory[split].texts
        assert mapped[split].texts[:3] == memory[split].texts[:3] and mapped[split].texts[-1] == memory[split].texts[-1]
        np.testing.assert_array_equal(mapped[split].labels, memory[split].labels)
    assert "padded text" in list(mapped["train"].texts) + list(mapped["validation"].texts) + list(mapped["test"].texts)
    dropped = [n for n in mapped.notes if n.startswith("Dropped")]
    assert dropped == [n for n in memory.notes if n.startswith("Dropped")]
    assert dropped and '"NA" (1)' in dropped[0] and "2 of 400" in dropped[0]
    assert any("Arrow cache" in n for n in mapped.notes)


def test_batches_merge_their_labels_and_drop_what_memory_drops(tmp_path, monkeypatch):
    """Labels found batch by batch (here 7 rows a batch) make the same classes; a label seen only on rows
    dropped for their empty text is no class, as in memory."""
    from core.data import arrow

    monkeypatch.setattr(arrow, "SCAN_ROWS", 7)
    rows = [*_rows(120), ("", "weird")]
    path = _write(tmp_path, ".csv", rows)
    memory, mapped = load_dataset(str(path), memory_mapped=False), load_dataset(str(path), memory_mapped=True)
    assert mapped.label_names == memory.label_names == ["neg", "Pos"] and mapped.notes[1:] == memory.notes
    for split in ("train", "validation", "test"):
        assert list(mapped[split].texts) == memory[split].texts
        np.testing.assert_array_equal(mapped[split].labels, memory[split].labels)


@pytest.mark.filterwarnings("ignore:Length of header:pandas.errors.ParserWarning")
@pytest.mark.parametrize("content", [
    "text,label\n" + "".join(f"text {i},{i % 2},\n" for i in range(60)),  # a spreadsheet's trailing commas
    ",text,label\n" + "".join(f"{i},text {i},{i % 2}\n" for i in range(60)),  # pandas' to_csv() index column
])
def test_csv_files_from_spreadsheets_and_pandas_read_as_in_memory(tmp_path, content):
    path = write(tmp_path / "data.csv", content)
    memory, mapped = load_dataset(str(path), memory_mapped=False), load_dataset(str(path), memory_mapped=True)
    assert (mapped.text_column, mapped.label_column) == (memory.text_column, memory.label_column) == ("text", "label")
    assert list(mapped["train"].texts) == memory["train"].texts and len(memory["train"]) == 48


def test_a_file_that_is_not_utf8_is_refused_in_one_line(tmp_path):
    path = write(tmp_path / "latin.csv", b"text,label\n" + "".join(f"café {i},{i % 2}\n" for i in range(60))
                 .encode("cp1252"))
    with pytest.raises(DataError, match=r"not UTF-8 text.*save it as UTF-8"):
        load_dataset(str(path), memory_mapped=True)
    mixed = tmp_path / "mixed.jsonl"
    write(mixed, "".join(json.dumps({"text": f"t {i}", "label": "1" if i % 2 else 0}) + "\n" for i in range(60)))
    with pytest.raises(DataError, match="mixed or nested kinds") as info:  # in memory "1" and 0 are one label
        load_dataset(str(mixed), memory_mapped=True)
    assert "\n" not in str(info.value)


def test_shapes_only_memory_reads_still_load_when_the_size_chose_arrow(tmp_path, monkeypatch):
    """Over the size threshold the Arrow path is tried first; a file it can't take (a JSON object of rows,
    Windows-1252 text) is read into memory as before, with a note, when it fits."""
    monkeypatch.setenv("SENTIMENT_STUDIO_ARROW_MB", "0")
    rows = [{"text": f"text {i}", "label": i % 2} for i in range(60)]
    wrapped = write(tmp_path / "wrapped.json", json.dumps({"data": rows}))
    latin = write(tmp_path / "latin.csv", b"text,label\n" + "".join(f"caf\u00e9 {i},{i % 2}\n" for i in range(60))
                  .encode("cp1252"))
    for path in (wrapped, latin):
        ds = load_dataset(str(path))
        assert isinstance(ds["train"].texts, list) and len(ds["train"]) == 48
        assert any("was read into memory: the Arrow cache could not take it" in n for n in ds.notes)
    with pytest.raises(DataError):  # asked for explicitly: no second try
        load_dataset(str(wrapped), memory_mapped=True)


def test_a_file_rewritten_with_its_old_time_is_read_again(tmp_path):
    """datasets knows a local file by path and modification time; cp -p and rsync -t keep the time."""
    path = _write(tmp_path, ".csv", _rows(300))
    before = path.stat()
    first = load_dataset(str(path), memory_mapped=True)
    tok = TextTokenizer.train(first["train"].texts)
    old_ids = encode_split(tok, first["train"])
    path.write_text("review;sentiment\n" + "".join(f"brand new text {i};{('neg', 'pos')[i % 2]}\n" for i in range(300)))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    again = load_dataset(str(path), memory_mapped=True)
    assert all(t.startswith("brand new text") for t in again["train"].texts)
    new_ids = encode_split(tok, again["train"])  # the same vocabulary: the ids follow the new texts
    assert new_ids.num_tokens != old_ids.num_tokens


def test_the_arrow_path_refuses_what_the_in_memory_one_does(tmp_path):
    one_class = write(tmp_path / "one.csv", "text,label\n" + "".join(f"text {i},pos\n" for i in range(50)))
    with pytest.raises(DataError, match="Only one class"):
        load_dataset(str(one_class), memory_mapped=True)
    no_label = write(tmp_path / "nolabel.csv", "text,other,more\n" + "".join(f"text {i},x,y\n" for i in range(50)))
    with pytest.raises(DataError, match="label column"):
        load_dataset(str(no_label), memory_mapped=True)
    with pytest.raises(DataError, match="no text column"):
        load_dataset(str(one_class), memory_mapped=True, text_column="body")
    numbers = tmp_path / "numbers.parquet"
    import pandas as pd

    pd.DataFrame({"text": list(range(50)), "label": [0, 1] * 25}).to_parquet(numbers)
    with pytest.raises(DataError, match="not text"):
        load_dataset(str(numbers), memory_mapped=True)


def test_files_over_the_threshold_take_the_arrow_path(tmp_path, monkeypatch):
    path = _write(tmp_path, ".csv", _rows())
    assert isinstance(load_dataset(str(path))["train"].texts, list)  # small: in memory, today's speed
    monkeypatch.setenv("SENTIMENT_STUDIO_ARROW_MB", "0")
    assert isinstance(load_dataset(str(path))["train"].texts, ArrowTexts)


def test_ids_come_from_a_cached_memory_mapped_column(tmp_path):
    ds = load_dataset(str(_write(tmp_path, ".csv", _rows(3000))), memory_mapped=True)
    tok = TextTokenizer.train(ds["train"].texts, TokenizerConfig(max_length=6))  # truncation applies too
    for split in ("train", "test"):
        enc = encode_split(tok, ds[split])
        assert isinstance(enc.flat_ids, PiecedIds) and len(enc.flat_ids.pieces) > 1  # several record batches
        expected = tok.encode_batch(list(ds[split].texts), details=False).ids
        got = [np.asarray(enc.flat_ids[s: s + n]) for s, n in zip(enc.starts, enc.lengths, strict=True)]
        assert [a.tolist() for a in got] == [a.tolist() for a in expected]
        same = EncodedSplit.from_ragged(expected, ds[split].labels)
        np.testing.assert_array_equal(enc.token_counts(tok.vocab_size), same.token_counts(tok.vocab_size))
        index = np.arange(0, len(enc), 7)
        batch, reference = collate(enc, index, _cpu()), collate(same, index, _cpu())
        assert batch.ids.tolist() == reference.ids.tolist() and batch.labels.tolist() == reference.labels.tolist()
    files = {p.name for p in (tmp_path / "hf-cache").rglob("*.arrow")}
    token_cache._layouts.clear()  # as a new process: the ids are found in the cache, not tokenized again
    calls = []
    original = token_cache._encode_rows
    token_cache._encode_rows = lambda *a, **k: calls.append(1) or original(*a, **k)
    try:
        encode_split(tok, ds["validation"])
    finally:
        token_cache._encode_rows = original
    assert not calls and {p.name for p in (tmp_path / "hf-cache").rglob("*.arrow")} == files
    other = TextTokenizer.train(ds["train"].texts, TokenizerConfig(max_length=5))
    small = encode_split(other, ds["validation"])  # a small share, no column for this vocabulary: in memory
    assert isinstance(small.flat_ids, np.ndarray) and small.lengths.max() <= 5
    assert {p.name for p in (tmp_path / "hf-cache").rglob("*.arrow")} == files
    encode_split(other, ds["train"])  # most of the table: another vocabulary or setting, another column
    assert len({p.name for p in (tmp_path / "hf-cache").rglob("*.arrow")}) == len(files) + 1
    assert isinstance(encode_split(other, ds["validation"]).flat_ids, PiecedIds)  # now the column is there


def _cpu():
    import torch

    return torch.device("cpu")


def test_a_model_trains_from_memory_mapped_ids(tmp_path):
    ds = load_dataset(str(_write(tmp_path, ".csv", _rows(1200))), memory_mapped=True)
    events = list(train_model(ds, train_config=TrainConfig(max_steps=30, batch_size=16, device="cpu", seed=0)))
    model = next(e for e in events if isinstance(e, ModelDone)).model
    assert model.record.test is not None and model.record.test.accuracy > 0.6  # "good"/"bad" words decide
    assert model.predict(["good great film"])[0].label in ("neg", "Pos")


def test_statistics_of_texts_on_disk_come_from_a_sample(tmp_path, monkeypatch):
    ds = load_dataset(str(_write(tmp_path, ".csv", _rows(3000))), memory_mapped=True)
    monkeypatch.setattr(stats_module, "STATS_SAMPLE", 500)
    stats = describe(ds)
    assert stats["train"].sampled == 500 and len(stats["train"].lengths) == 500
    assert stats["train"].count == len(ds["train"]) and sum(stats["train"].per_class.values()) == len(ds["train"])
    assert stats["test"].sampled == 0 and len(stats["test"].lengths) == len(ds["test"])  # small: every text
    assert stats["train"].to_dict()["lengths"]["sample"] == 500
    assert 3 <= stats["train"].mean <= 12


def test_a_large_hub_set_stays_in_its_arrow_files(monkeypatch):
    """The Hub path with the network boundary mocked: a ClassLabel set over the row threshold is assembled
    from its Arrow tables (here in memory, as a Hub download's are mapped), its -1 labels dropped."""
    import datasets

    from core.data import hub

    features = datasets.Features({"sentence": datasets.Value("string"),
                                  "label": datasets.ClassLabel(names=["negative", "positive"])})
    train = datasets.Dataset.from_dict({"sentence": [f"text {i}" for i in range(300)], "label": [0, 1, 1] * 100},
                                       features=features)
    test = datasets.Dataset.from_dict({"sentence": [f"t {i}" for i in range(40)], "label": [-1] * 40},
                                      features=features)
    monkeypatch.setattr(hub, "ARROW_HUB_ROWS", 100)
    monkeypatch.setattr(hub, "_hub_online", lambda: False)
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: datasets.DatasetDict(train=train, test=test))
    ds = load_dataset("someone/reviews")
    assert isinstance(ds["train"].texts, ArrowTexts) and ds.label_names == ["negative", "positive"]
    assert ds.carved == ("validation", "test")  # the unlabelled test split is carved from train instead
    assert sum(len(ds[s]) for s in ds.splits) == 300


def test_the_cli_trains_on_a_file_through_the_arrow_cache(main_py, tmp_path):
    data = _write(tmp_path, ".csv", _rows(600))
    out = tmp_path / "m.safetensors"
    env = {**os.environ, "SENTIMENT_STUDIO_ARROW_MB": "0", "HF_DATASETS_CACHE": str(tmp_path / "cache")}
    r = main_py("train", "--data", str(data), "--out", str(out), "--max-steps", "8", "--device", "cpu", "--no-record",
                "--quiet", text=True, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert out.is_file() and json.loads(r.stdout.strip().splitlines()[-1])["test_accuracy"] >= 0
    assert list((tmp_path / "cache").rglob("*.arrow"))  # the table and its ids were cached there


def test_the_vocabulary_learned_from_cached_rows_is_kept_with_them(tmp_path, monkeypatch):
    from core.text.token_cache import learn_vocabulary

    ds = load_dataset(str(_write(tmp_path, ".csv", _rows(600))), memory_mapped=True)
    first = learn_vocabulary(ds["train"].texts, TokenizerConfig())
    monkeypatch.setattr(TextTokenizer, "train", lambda *a, **k: pytest.fail("learned again"))
    again = learn_vocabulary(ds["train"].texts, TokenizerConfig())  # as a second run would
    assert again.to_json() == first.to_json()
    with pytest.raises(pytest.fail.Exception):  # other rows or other settings: learned anew
        learn_vocabulary(ds["train"].texts.take(np.arange(100)), TokenizerConfig())
    with pytest.raises(pytest.fail.Exception):
        learn_vocabulary(ds["train"].texts, TokenizerConfig(lowercase=False))


def test_runs_and_compare_work_from_texts_on_disk(tmp_path):
    from core.inspect.analysis import long_text_ids
    from core.store.runs import fingerprint

    ds = load_dataset(str(_write(tmp_path, ".csv", _rows(600))), memory_mapped=True)
    key = fingerprint(ds)
    assert key == fingerprint(ds) and key["sizes"] == {s: len(ds[s]) for s in ds.splits}
    other = load_dataset(str(_write(tmp_path, ".csv", _rows(600))), memory_mapped=True, split_seed=1)
    assert fingerprint(other)["sha256"] != key["sha256"]  # other rows in each split
    model = next(e for e in train_model(ds, train_config=TrainConfig(max_steps=3, device="cpu"))
                 if isinstance(e, ModelDone)).model
    ids, order = long_text_ids(model, ds["test"].texts, batch=8)
    longest = sorted((len(model.tokenizer.encode(t).ids[0]) for t in ds["test"].texts), reverse=True)[:8]
    assert ids.shape == (8, min(longest)) and len(order) == 8
