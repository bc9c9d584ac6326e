"""Pretrained word vectors: every reader on small generated files, the row copy, coverage, freezing, bad input.

The 76 MB GloVe package is never used here: each test writes the few vectors it needs.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import run_cli

import cli
from core.config import ModelConfig, TokenizerConfig, TrainConfig
from core.data import load_dataset
from core.events import PhaseEvent, run_to_end
from core.model.classifier import build_classifier
from core.model.sentiment_model import encode_split
from core.store.modelfile import load_model
from core.text.embedding import expand_vocabulary, start_from_vectors
from core.text.tokenizer import PAD_ID, UNK_ID, TextTokenizer
from core.text.vectors import VectorsError, WordVectors, read_vectors
from core.train.pipeline import train_model

WORDS = ["the", "good", "bad", "movie", "Paris", "not"]
RNG = np.random.default_rng(0)
VECS = {w: RNG.normal(size=4).astype(np.float32) for w in WORDS}
DATA = "builtin:reviews?n=200"


def _text(vectors: dict[str, np.ndarray], header: bool = False) -> str:
    lines = [f"{len(vectors)} {len(next(iter(vectors.values())))}"] if header else []
    lines += [w + " " + " ".join(repr(float(x)) for x in v) for w, v in vectors.items()]
    return "\n".join(lines) + "\n"


def _word2vec(vectors: dict[str, np.ndarray]) -> bytes:
    out = f"{len(vectors)} {len(next(iter(vectors.values())))}\n".encode()
    for w, v in vectors.items():
        out += w.encode() + b" " + struct.pack(f"<{len(v)}f", *v) + b"\n"
    return out


def read(path, wanted=frozenset(WORDS)) -> WordVectors:
    items = list(read_vectors(path, set(wanted)))
    assert all(isinstance(i, PhaseEvent) for i in items[:-1])
    return items[-1]


def _files(tmp_path: Path) -> dict[str, Path]:
    tmp_path.mkdir(exist_ok=True)
    text = _text(VECS)
    files = {"txt": tmp_path / "glove.txt", "vec": tmp_path / "wiki.vec", "gz": tmp_path / "glove.txt.gz",
             "zip": tmp_path / "glove.zip", "bin": tmp_path / "w2v.bin", "bin.gz": tmp_path / "news.bin.gz",
             "npy-txt": tmp_path / "pair" / "emb.npy",
             "npy-parquet": tmp_path / "pq" / "emb.npy", "folder": tmp_path / "pq"}
    files["txt"].write_text(text)
    files["vec"].write_text(_text(VECS, header=True))
    files["gz"].write_bytes(gzip.compress(text.encode()))
    with zipfile.ZipFile(files["zip"], "w") as z:
        z.writestr("readme.md", "vectors")
        z.writestr("glove.txt", text)
    files["bin"].write_bytes(_word2vec(VECS))
    files["bin.gz"].write_bytes(gzip.compress(_word2vec(VECS)))
    matrix = np.stack(list(VECS.values()))
    for folder in ("pair", "pq"):
        (tmp_path / folder).mkdir()
        np.save(tmp_path / folder / "emb.npy", matrix)
    (tmp_path / "pair" / "emb.txt").write_text("\n".join(WORDS) + "\n")
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"index": WORDS}), tmp_path / "pq" / "words_index.parquet")
    return files


@pytest.mark.parametrize("kind", ["txt", "vec", "gz", "zip", "bin", "bin.gz", "npy-txt", "npy-parquet", "folder"])
def test_each_reader_keeps_the_rows_asked_for(tmp_path, kind):
    path = _files(tmp_path)[kind]
    vectors = read(path, {"good", "Paris", "absent"})
    assert vectors.dim == 4 and sorted(vectors.rows) == ["Paris", "good"] and vectors.file_words == len(WORDS)
    for word in ("good", "Paris"):
        np.testing.assert_allclose(vectors.rows[word], VECS[word], rtol=1e-6)
    assert not vectors.lowercase and len(vectors.sha256) == 64
    assert vectors.name == {"folder": "emb.npy", "zip": "glove.zip:glove.txt"}.get(kind, path.name)


def test_a_word_with_spaces_and_a_lowercase_file(tmp_path):
    path = tmp_path / "840b.txt"
    path.write_text("at name@domain.com 0.5 0.5\nthe 1 2\ngood 3 4\n")
    vectors = read(path, {"good", "at name@domain.com"})
    assert vectors.file_words == 3 and vectors.lowercase and sorted(vectors.rows) == ["at name@domain.com", "good"]


def test_what_real_files_hold_a_bom_tabs_runs_of_spaces_crlf_a_plain_gz(tmp_path):
    cases = {
        "bom.txt": "\ufeffthe 1 2\ngood 3 4\n".encode(),
        "tabs.txt": b"the\t1\t2\ngood\t3\t4\n",
        "spaced.txt": b"the  1  2\ngood 3 4 \r\n",
        "plain.txt.gz": b"the 1 2\ngood 3 4\n",
        "bom.vec": "\ufeff2 2\nthe 1 2\ngood 3 4\n".encode(),
    }
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        vectors = read(tmp_path / name, {"the", "good"})
        assert sorted(vectors.rows) == ["good", "the"] and vectors.dim == 2, name
        np.testing.assert_allclose(vectors.rows["good"], [3, 4])
    crlf = tmp_path / "crlf.bin"
    crlf.write_bytes(b"6 4\n" + b"".join(w.encode() + b" " + struct.pack("<4f", *v) + b"\r\n" for w, v in VECS.items()))
    assert sorted(read(crlf).rows) == sorted(WORDS)
    np.save(tmp_path / "emb.npy", np.ones((2, 3), dtype=np.float32))
    (tmp_path / "emb.txt").write_text("\ufeffthe \ngood\t12\n\n", encoding="utf-8")
    assert sorted(read(tmp_path / "emb.npy", {"the", "good"}).rows) == ["good", "the"]


def test_a_zip_with_several_vectors_files_and_an_endless_line_are_refused(tmp_path):
    with zipfile.ZipFile(tmp_path / "glove.6B.zip", "w") as z:
        z.writestr("glove.6B.50d.txt", "the 1 2\n")
        z.writestr("glove.6B.100d.txt", "the 1 2 3\n")
        z.writestr("LICENSE.txt", "public domain " * 1000)
    with pytest.raises(VectorsError, match=r"holds 2 vectors files .*unzip the one you want"):
        read(tmp_path / "glove.6B.zip")
    (tmp_path / "one.json").write_bytes(b"the " + b"1 " * 600_000)
    with pytest.raises(VectorsError, match="line 1 is over 1 MB"):
        read(tmp_path / "one.json")


def _tokenizer(words: list[str], lowercase: bool = True) -> TextTokenizer:
    return TextTokenizer.train([" ".join(words)] * 2, TokenizerConfig(lowercase=lowercase, min_frequency=1))


def test_rows_are_copied_unknown_words_stay_random_padding_zero_and_coverage_is_counted(tmp_path):
    path = _files(tmp_path)["txt"]
    dataset = load_dataset(DATA)
    events = list(train_model(dataset, ModelConfig(kind="lstm", hidden_size=8),
                              TrainConfig(epochs=1, device="cpu", vectors=str(path), freeze_vectors=True)))
    model = events[-1].model
    tok, weight = model.tokenizer, model.classifier.embedding.weight.detach()
    assert weight.shape[1] == 4  # the embedding size follows the vectors
    ids = {tok.id_to_token(i): i for i in range(tok.vocab_size)}
    for word in ("the", "good", "bad", "movie", "not"):  # the built-in reviews use these
        if word in ids:
            np.testing.assert_allclose(weight[ids[word]].numpy(), VECS[word], rtol=1e-6)  # frozen: unchanged
    assert torch.count_nonzero(weight[PAD_ID]) == 0
    covered = [w for w in ("the", "good", "bad", "movie", "not") if w in ids]
    others = [i for w, i in ids.items() if w not in covered and i not in (PAD_ID, UNK_ID)]
    assert others and all(torch.count_nonzero(weight[i]) > 0 for i in others)  # random, not zero
    info = model.info.vectors
    assert info["words_found"] == len(covered) and info["words"] == tok.vocab_size - 2 and info["frozen"]
    counts = np.bincount(np.concatenate(tok.encode_batch(dataset["train"].texts, details=False).ids),
                         minlength=tok.vocab_size)
    expected = sum(counts[ids[w]] for w in covered) / counts.sum()
    assert info["tokens_covered"] == pytest.approx(expected)
    coverage = next(e for e in events if isinstance(e, PhaseEvent) and e.phase == "coverage")
    assert f"{len(covered)} of {info['words']}" in coverage.message


def test_a_case_keeping_tokenizer_finds_words_by_their_lowercase_form():

    tok = _tokenizer(["Good", "Movie", "Zebra"], lowercase=False)
    vectors = WordVectors(4, {"good": VECS["good"], "movie": VECS["movie"]}, "v.txt", "0" * 64, 2, True)
    classifier = build_classifier(ModelConfig(vocab_size=tok.vocab_size, embed_dim=4, hidden_size=4), 0)
    encoded = encode_split(tok, load_dataset(DATA)["train"])
    coverage = start_from_vectors(classifier.embedding, tok, vectors, encoded, freeze=False)
    assert coverage.words_found == 2 and coverage.lowercase_matches == 2 and not coverage.frozen
    ids = {tok.id_to_token(i): i for i in range(tok.vocab_size)}
    np.testing.assert_allclose(classifier.embedding.weight[ids["Good"]].detach().numpy(), VECS["good"], rtol=1e-6)


def test_fine_tuned_rows_move_frozen_rows_do_not(tmp_path):
    path = _files(tmp_path)["txt"]
    dataset = load_dataset(DATA)
    moved = {}
    for freeze in (False, True):
        model = run_to_end(train_model(dataset, ModelConfig(hidden_size=8), TrainConfig(
            epochs=1, device="cpu", vectors=str(path), freeze_vectors=freeze))).model
        ids = {model.tokenizer.id_to_token(i): i for i in range(model.tokenizer.vocab_size)}
        row = model.classifier.embedding.weight[ids["good"]].detach().numpy()
        moved[freeze] = float(np.abs(row - VECS["good"]).max())
    assert moved[True] == 0.0 and moved[False] > 1e-4


def test_a_larger_embedding_keeps_the_vectors_first_a_smaller_one_is_refused(tmp_path):
    import core.train.pipeline as pipeline
    from core.events import TaskControl

    path = _files(tmp_path)["txt"]
    dataset = load_dataset(DATA)
    model = run_to_end(train_model(dataset, ModelConfig(embed_dim=6, hidden_size=8), TrainConfig(
        epochs=1, device="cpu", vectors=str(path), freeze_vectors=True))).model
    ids = {model.tokenizer.id_to_token(i): i for i in range(model.tokenizer.vocab_size)}
    row = model.classifier.embedding.weight[ids["good"]].detach().numpy()
    assert row.shape == (6,) and np.allclose(row[:4], VECS["good"]) and np.count_nonzero(row[4:]) == 2
    with pytest.raises(VectorsError, match=r"Embedding size .* 3 is smaller than the vectors' 4 dimensions"):
        run_to_end(train_model(dataset, ModelConfig(embed_dim=3), TrainConfig(epochs=1, vectors=str(path))))
    # refused at the first line, before the rest of the file is read (here a broken second line)
    broken = tmp_path / "broken.txt"
    broken.write_text("the 1 2 3 4\ngood 1 x\n" + "movie 1 2 3 4\n" * 1000)
    for configs in ([ModelConfig(embed_dim=3)], [ModelConfig(), ModelConfig(embed_dim=3)]):
        with pytest.raises(VectorsError, match="is smaller than the vectors' 4 dimensions"):
            run_to_end(pipeline.train_models(dataset, [(c.kind, c) for c in configs], TrainConfig(
                epochs=1, vectors=str(broken)), TokenizerConfig(), TaskControl()))


@pytest.mark.parametrize(("content", "name", "needle"), [
    (b"", "empty.txt", "is empty"),
    (b"the 1 2 3\ngood 1 2\n", "short.txt", "line 2: 2 values where the first line has 3"),
    (b"the 1 2 3\ngood 1 2 3 4\n", "long.txt", "line 2: 4 values where the first line has 3"),
    (b"the 1 2\ngood nan 2\n", "nan.txt", "the vector of 'good' holds NaN or infinite values"),
    (b"the 1 2\ngood inf 2\n", "inf.txt", "the vector of 'good' holds NaN or infinite values"),
    (b"the 1 x\n", "words.txt", "line 1: not a word followed by numbers"),
    (b"the 1 2\ngood 1 x\n", "letters.txt", "the values of 'good' are not all numbers"),
    (b"just some words in a file\n", "prose.txt", "not a word followed by numbers"),
    (b"\x00\x01\x02garbage" * 10, "junk.bin", "not a word2vec binary file"),
    (b"3 4\ngood " + b"\x00" * 8, "cut.bin", "the file ends at word 1 of the 3"),
    (pickle.dumps({"good": [1.0, 2.0]}), "vectors.kv", "is a pickle"),
    (pickle.dumps({"good": [1.0, 2.0]}), "vectors.dat", "is a pickle"),
    (b"PK\x03\x04broken", "broken.zip", "not a readable zip file"),
    (b"\x1f\x8b\x08broken", "broken.txt.gz", "can't read vectors file"),
])
def test_bad_vectors_files_get_one_clear_error(tmp_path, content, name, needle):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(VectorsError) as caught:
        read(path, {"good", "the"})
    assert needle in str(caught.value), caught.value
    if "pickle" in needle:
        assert "word2vec binary" in str(caught.value)  # names the formats accepted


def test_bad_npy_pairs(tmp_path):
    np.save(tmp_path / "emb.npy", np.ones((3, 2), dtype=np.float32))
    with pytest.raises(VectorsError, match="can't tell which file holds the words"):
        read(tmp_path / "emb.npy")
    (tmp_path / "emb.txt").write_text("a\nb\n")
    with pytest.raises(VectorsError, match=r"has 2 words but emb\.npy has 3 rows"):
        read(tmp_path / "emb.npy")
    np.save(tmp_path / "emb.npy", np.array([[1, 2]], dtype=object), allow_pickle=True)
    with pytest.raises(VectorsError, match=r"not a \.npy matrix of numbers"):
        read(tmp_path / "emb.npy")
    with pytest.raises(VectorsError, match="does not exist"):
        read(tmp_path / "nothing.txt")


def test_train_with_vectors_reports_coverage_and_the_file_records_it(tmp_path):
    path = _files(tmp_path)["bin"]
    out = tmp_path / "m.safetensors"
    code, stdout, err = run_cli("train", "--data", DATA, "--out", str(out), "--epochs", "1", "--hidden-size", "8",
                                "--device", "cpu", "--vectors", str(path), "--no-record")
    assert code == 0, err
    summary = json.loads(stdout)
    assert summary["vectors"]["file"] == "w2v.bin" and summary["vectors"]["dim"] == 4
    assert "word vectors w2v.bin (4-d):" in err and "fine-tuned" in err
    model = load_model(out)
    assert model.info.vectors == summary["vectors"] and model.classifier.config.embed_dim == 4
    assert model.train_config.vectors == "w2v.bin"  # the file's name, never the user's folders
    assert out.stat().st_size < 200_000  # only its own vocabulary's rows
    code, stdout, _ = run_cli("info", str(out))
    assert json.loads(stdout)["info"]["vectors"]["sha256"] == summary["vectors"]["sha256"]


def test_zero_coverage_warns_loudly_even_when_quiet(tmp_path):
    path = tmp_path / "other.txt"
    path.write_text("zebra 1 2\nyak 3 4\n")
    code, stdout, err = run_cli("train", "--data", DATA, "--out", str(tmp_path / "m.safetensors"), "--epochs", "1",
                                "--hidden-size", "8", "--device", "cpu", "--vectors", str(path), "--no-record",
                                "--quiet")
    assert code == 0 and "warning: none of the" in err and "has a vector in other.txt" in err
    assert json.loads(stdout)["vectors"]["words_found"] == 0


def test_a_bad_vectors_file_fails_the_cli_with_one_line(tmp_path):
    path = tmp_path / "model.kv"
    path.write_bytes(pickle.dumps([1]))
    code, _, err = run_cli("train", "--data", DATA, "--out", str(tmp_path / "m.safetensors"), "--epochs", "1",
                           "--vectors", str(path), "--no-record", "--quiet")
    assert code == cli.EXIT_ERROR and "is a pickle" in err and "Traceback" not in err
    assert not (tmp_path / "m.safetensors").exists()


# --- words from the vectors beyond the training vocabulary (TrainConfig.vectors_words) ---------------------

@pytest.mark.parametrize("kind", ["txt", "vec", "gz", "zip", "bin", "bin.gz", "npy-txt", "npy-parquet"])
def test_each_reader_also_keeps_the_files_first_words_in_order(tmp_path, kind):
    items = list(read_vectors(_files(tmp_path)[kind], {"Paris"}, first=3))
    vectors = items[-1]
    assert vectors.leading == WORDS[:3] and sorted(vectors.rows) == sorted([*WORDS[:3], "Paris"])
    np.testing.assert_allclose(vectors.rows["bad"], VECS["bad"], rtol=1e-6)
    assert read(_files(tmp_path / "again")[kind]).leading == []  # not asked for: none kept


def test_a_word_tokenizer_grows_by_the_words_it_can_produce_a_subword_one_does_not():
    tok = _tokenizer(["good", "movie"])
    grown, added = tok.with_words(["the", "good", "Paris", "don't", "paris", "ＡＢ", "x y", ""])
    assert added == ["the", "Paris", "ＡＢ"]  # "good" known, "don't" three tokens, "paris" = "Paris" lowercased
    ids = grown.encode("Paris don't ab").ids[0]
    assert [grown.id_to_token(int(i)) for i in ids] == ["paris", "[UNK]", "[UNK]", "[UNK]", "ab"]
    assert grown.vocab_size == tok.vocab_size + 3
    assert [grown.id_to_token(i) for i in range(tok.vocab_size)] == [tok.id_to_token(i) for i in range(tok.vocab_size)]
    bpe = TextTokenizer.train(["good movie"] * 2, TokenizerConfig(kind="bpe"))
    assert bpe.with_words(["paris"]) == (bpe, [])


def test_new_words_get_their_vectors_mapped_into_the_trained_embedding():

    rng = np.random.default_rng(1)
    known = [f"known{i}" for i in range(30)]
    new = ["fresh", "novel"]
    tok = _tokenizer(known)
    rows = {w: rng.normal(size=4).astype(np.float32) for w in known + new}
    vectors = WordVectors(4, rows, "v.txt", "0" * 64, 32, True, leading=new + known[:3])
    classifier = build_classifier(ModelConfig(vocab_size=tok.vocab_size, embed_dim=6, hidden_size=4), 0)
    mapping, shift = rng.normal(size=(4, 6)), rng.normal(size=6)  # what "fine-tuning" did to every row
    with torch.no_grad():
        for w in known:
            i = tok.encode(w).ids[0][0]
            classifier.embedding.weight[i] = torch.as_tensor(rows[w] @ mapping + shift)
    expansion = expand_vocabulary(classifier.embedding, classifier.config, tok, vectors)
    grown, embedding = expansion.tokenizer, expansion.embedding
    assert expansion.added == 2 and embedding.weight.shape == (tok.vocab_size + 2, 6)
    for w in new:
        i = int(grown.encode(w).ids[0][0])
        np.testing.assert_allclose(embedding.weight[i].detach().numpy(), rows[w] @ mapping + shift, atol=1e-4)
    torch.testing.assert_close(embedding.weight[:tok.vocab_size], classifier.embedding.weight)
    few = WordVectors(4, {w: rows[w] for w in known[:5] + new}, "v.txt", "0" * 64, 7, True, leading=new)
    # 5 words cannot fit a 5 x 6 map
    assert "too few to map" in expand_vocabulary(classifier.embedding, classifier.config, tok, few)


def _vectors_for(tmp_path: Path, extra: list[str]) -> Path:
    """A text vectors file with every word of the built-in reviews, then ``extra`` words, the latter first."""
    tok = TextTokenizer.train(load_dataset(DATA)["train"].texts, TokenizerConfig())
    words = extra + [tok.id_to_token(i) for i in range(2, tok.vocab_size)]
    rng = np.random.default_rng(2)
    path = tmp_path / "vectors.txt"
    path.write_text(_text({w: rng.normal(size=8).astype(np.float32) for w in words}))
    return path


def _with_unseen_words(tmp_path: Path, words: dict[int, str]) -> str:
    """The built-in reviews as a TSV folder whose validation and test texts end with a word of their class
    that no training text holds (``words``: label -> word), so adding it changes their scores."""
    dataset = load_dataset(DATA)
    folder = tmp_path / "unseen"
    folder.mkdir()
    for split, name in (("train", "train"), ("validation", "dev"), ("test", "test")):
        part = dataset[split]
        rows = [f"{t} {words[int(y)]}" if split != "train" else t for t, y in zip(part.texts, part.labels, strict=True)]
        lines = ["text\tlabel", *(f"{t}\t{int(y)}" for t, y in zip(rows, part.labels, strict=True))]
        (folder / f"{name}.tsv").write_text("\n".join(lines) + "\n")
    return str(folder)


def test_a_trained_model_keeps_the_new_words_when_validation_does_not_drop(tmp_path):
    path = _vectors_for(tmp_path, ["splendid", "dreadful"])
    dataset = load_dataset(_with_unseen_words(tmp_path, {0: "dreadful", 1: "splendid"}))
    train = TrainConfig(epochs=1, device="cpu", vectors=str(path))
    events = list(train_model(dataset, ModelConfig(hidden_size=8), train))
    model = events[-1].model
    phases = [e.message for e in events if isinstance(e, PhaseEvent) and e.phase == "vocabulary"]
    assert any("2 more words from vectors.txt joined the vocabulary" in m for m in phases), phases
    assert model.tokenizer.id_to_token(int(model.tokenizer.encode("splendid").ids[0][0])) == "splendid"
    assert model.classifier.config.vocab_size == model.tokenizer.vocab_size == model.classifier.embedding.num_embeddings
    assert model.info.vectors["added_words"] == 2
    from core.store.model_card import model_card

    card = model_card(model, "m.onnx")
    assert "Word vectors: vectors.txt (8-d), fine-tuned; they covered 100.0% of the training vocabulary" in card
    assert "2 more of their words joined the vocabulary" in card and "and 2 words from the word vectors" in card
    # the scores recorded are the grown model's (every validation and test text holds an added word)
    off = run_to_end(train_model(dataset, ModelConfig(hidden_size=8), dataclasses.replace(train, vectors_words=0)))
    off = off.model
    assert off.tokenizer.vocab_size == model.tokenizer.vocab_size - 2 and off.info.vectors["added_words"] == 0
    for split in ("validation", "test"):
        grown, plain = model.evaluate(dataset[split]), off.evaluate(dataset[split])
        recorded = getattr(model.record, split)
        assert recorded.loss == pytest.approx(grown.loss) and recorded.loss != pytest.approx(plain.loss)
    assert off.record.test.loss == pytest.approx(off.evaluate(dataset["test"]).loss)
    # and it survives a save and load
    out = tmp_path / "m.safetensors"
    from core.store.modelfile import save_model

    save_model(model, out)
    loaded = load_model(out)
    assert loaded.tokenizer.vocab_size == model.tokenizer.vocab_size
    np.testing.assert_allclose(loaded.predict_proba(["splendid"]), model.predict_proba(["splendid"]), rtol=1e-5)


def test_the_new_words_are_dropped_when_validation_accuracy_drops(tmp_path, monkeypatch):
    import core.train.pipeline as pipeline

    path = _vectors_for(tmp_path, ["splendid"])
    real = pipeline.Trainer.evaluate
    calls = []

    def worse_after_training(self, split, label_names=None):
        result = real(self, split, label_names)
        if self.model.embedding.num_embeddings > self.model.config.vocab_size:  # the grown model
            calls.append(result)
            return dataclasses.replace(result, accuracy=-1.0)
        return result

    monkeypatch.setattr(pipeline.Trainer, "evaluate", worse_after_training)
    events = list(train_model(load_dataset(DATA), ModelConfig(hidden_size=8), TrainConfig(
        epochs=1, device="cpu", vectors=str(path))))
    model = events[-1].model
    assert calls and "not kept" in [e.message for e in events if isinstance(e, PhaseEvent)][-1]
    assert model.tokenizer.encode("splendid").ids[0][0] == UNK_ID and model.info.vectors["added_words"] == 0
    assert model.classifier.embedding.num_embeddings == model.tokenizer.vocab_size


def test_a_sweep_reads_the_vectors_once_per_vocabulary(tmp_path, monkeypatch):
    from core.text import embedding

    monkeypatch.setenv("SENTIMENT_STUDIO_HOME", str(tmp_path / "home"))
    reads = []
    real = embedding.read_vectors_for

    def counting(tokenizer, *args):
        reads.append(tokenizer.vocab_size)
        return real(tokenizer, *args)

    monkeypatch.setattr(embedding, "read_vectors_for", counting)
    path = _files(tmp_path)["txt"]
    code, out, err = run_cli("sweep", "--data", DATA, "--grid", "hidden_size=4,8", "--grid", "vocab_size=20,40",
                             "--epochs", "1", "--device", "cpu", "--vectors", str(path), "--quiet")
    assert code == 0, err
    assert len(out.splitlines()) == 4 and sorted(reads) == [20, 40]  # 4 runs, 2 vocabularies, 2 readings
