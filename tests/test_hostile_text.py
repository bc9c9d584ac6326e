"""Hostile input, the text classes (issue 27): a model file's tokenizer is checked as strictly as its weights;
a long text is cut on its kept side before the tokenizer sees it (memory follows the tokens kept, not the text);
leaving each word out is bounded, and says so; the Arrow path and the in-memory path read one file one way; the
Arrow threshold's setting is checked.

Each test covers a class of inputs (parametrized), and each failed before its fix.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import ROOT, headless, run_cli
from safetensors import safe_open
from safetensors.torch import save as st_save

import cli
from core.config import ExplainConfig, TokenizerConfig
from core.data import ArrowTexts, DataError, load_dataset
from core.errors import ModelFileError
from core.inspect import attribution
from core.inspect.attribution import explain
from core.store.modelfile import _weights_digest, load_model, save_model
from core.text import tokenizer as tokenizer_module
from core.text.tokenizer import TextTokenizer
from tests.data_files import write

TINY = ["--epochs", "1", "--embed-dim", "8", "--hidden-size", "8", "--device", "cpu", "--quiet", "--no-record"]


@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    """Arrow conversions into a cache of the test's own (never the user's ~/.cache)."""
    import datasets

    from core.text import token_cache

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")
    token_cache._layouts.clear()


# ---------------------------------------------------------------------------------------------
# A model file's tokenizer: only what the app itself writes (round two's two held-out failures)


def _crafted(source: Path, out: Path, edit) -> Path:
    """A copy of a model file with its tokenizer JSON edited, and a valid checksum."""
    with safe_open(str(source), "pt") as f:
        metadata = dict(f.metadata())
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    spec = json.loads(metadata["tokenizer"])
    edit(spec)
    metadata["tokenizer"] = json.dumps(spec)
    metadata["weights_sha256"] = _weights_digest(tensors)
    out.write_bytes(st_save(tensors, metadata=metadata))
    return out


BACKTRACKING = {"type": "Split", "pattern": {"Regex": "(a+)+$"}, "behavior": "Isolated", "invert": False}
TEMPLATE = {  # [X] before every text, as token 999999 (the vocabulary has about 20)
    "type": "TemplateProcessing",
    "single": [{"SpecialToken": {"id": "[X]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
    "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
    "special_tokens": {"[X]": {"id": "[X]", "ids": [999999], "tokens": ["[X]"]}},
}
CRAFTED = {
    "a post-processor naming token 999999": lambda s: s.update(post_processor=TEMPLATE),
    "a pre-tokenizer regex that backtracks": lambda s: s.update(pre_tokenizer=BACKTRACKING),
    "that regex inside a sequence": lambda s: s.update(pre_tokenizer={
        "type": "Sequence", "pretokenizers": [{"type": "Whitespace"}, BACKTRACKING]}),
    "a normalizer regex": lambda s: s["normalizer"]["normalizers"].append(
        {"type": "Replace", "pattern": {"Regex": "(a+)+$"}, "content": "b"}),
    "a normalizer its settings don't name": lambda s: s.update(normalizer={"type": "Sequence", "normalizers": [
        {"type": "NFKC"}, {"type": "Lowercase"}, {"type": "StripAccents"}]}),
    "its settings' normalizer left out": lambda s: s.update(normalizer=None),
    "a decoder": lambda s: s.update(decoder={"type": "Replace", "pattern": {"String": "good"}, "content": "bad"}),
    "padding with token 999999": lambda s: s.update(padding={
        "strategy": "BatchLongest", "direction": "Right", "pad_to_multiple_of": None, "pad_id": 999999,
        "pad_type_id": 0, "pad_token": "[PAD]"}),
    "a special token's id outside the vocabulary": lambda s: s["added_tokens"][1].update(id=999999),
    "a special token under another id": lambda s: s["added_tokens"][0].update(id=1),
    "a pipeline step of an unknown kind": lambda s: s.update(pre_tokenizer={"type": "Python", "code": "1"}),
}


@pytest.mark.parametrize("case", list(CRAFTED))
def test_a_model_files_tokenizer_may_hold_only_what_the_app_writes(tiny_model_file, tmp_path, case):
    bad = _crafted(tiny_model_file, tmp_path / "crafted.safetensors", CRAFTED[case])
    with pytest.raises(ModelFileError, match="has a damaged tokenizer") as info:
        load_model(bad)
    assert "\n" not in str(info.value) and len(str(info.value)) < 400
    start = time.monotonic()
    code, out, err = run_cli("predict", str(bad), "a" * 5000 + "b")  # what the regex backtracks on
    assert code == cli.EXIT_ERROR and not out and err.startswith("error: ") and err.count("\n") == 1, err
    assert "internal error" not in err and time.monotonic() - start < 30


@pytest.mark.parametrize("kind", ["word", "bpe", "wordpiece"])
@pytest.mark.parametrize("lowercase, normalization, side", [(True, "nfkc", "right"), (False, "none", "left"),
                                                           (True, "none", "right"), (False, "nfkc", "left")])
def test_every_tokenizer_the_app_writes_passes_the_check(kind, lowercase, normalization, side, tmp_path):
    config = TokenizerConfig(kind=kind, vocab_size=120, lowercase=lowercase, unicode_normalization=normalization,
                             truncation_side=side, max_length=7)
    texts = ["I loved this movie!", "What a terrible, boring film.", "Ｆｕｌｌ width and café au lait"] * 5
    tok = TextTokenizer.train(texts, config)
    tok, added = tok.with_words(["zyzzyva", "Quokka"])  # words added for word vectors (word kind only)
    assert bool(added) == (kind == "word")
    again = TextTokenizer.from_json(tok.to_json(), config)
    probe = ["I LOVED zyzzyva, a terrible quokka film", "café"]
    assert [a.tolist() for a in again.encode_batch(probe).ids] == [a.tolist() for a in tok.encode_batch(probe).ids]


# ---------------------------------------------------------------------------------------------
# Cause 9: a long text is cut on its kept side before it reaches the tokenizer


# The peak is the process's own: VmHWM. getrusage's ru_maxrss would start at the test process's size,
# which Linux carries over fork and exec.
MEMORY_SCRIPT = r"""
import sys
from core.config import TokenizerConfig
from core.text.tokenizer import TextTokenizer

kind, side = sys.argv[1:3]
rows = [f"the film was {'good' if i % 2 else 'bad'} number {i}" for i in range(200)]
huge = ("a long review that goes on and on, " * 600_000)[:20_000_000]  # 20 MB, 3.4 M words
config = TokenizerConfig(kind=kind, truncation_side=side, vocab_size=500)
tok = TextTokenizer.train(rows[:100] + [huge] + rows[100:], config)  # learning
ids = tok.encode_batch(rows + [huge], details=False).ids  # encoding (training, the Arrow map)
enc = tok.encode(huge)  # with offsets (the Try screen, --gates, --explain)
assert len(ids[-1]) == len(enc.ids[0]) == config.max_length
assert ids[-1].tolist() == enc.ids[0].tolist()
start, end = enc.offsets[0][0][0], enc.offsets[0][-1][1]
assert (end < 2_000) if side == "right" else (start > len(huge) - 2_000), (start, end)
with open("/proc/self/status") as f:
    print(next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) // 1024)
"""


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="reads the peak from /proc")
@pytest.mark.parametrize("kind, side", [("word", "right"), ("bpe", "left")])
def test_a_20_mb_text_costs_the_tokens_kept_not_the_text(kind, side):
    """One 20 MB review peaked at 1.6-2.4 GB for 400 kept tokens (and 100 MB aborted the process in Rust)."""
    r = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, kind, side], cwd=ROOT, env=headless(),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    peak_mb = int(r.stdout.split()[-1])
    assert peak_mb < 400, f"peak {peak_mb} MB"


WORDS = ("the film was good bad not great awful plot acting Café cafe\u0301 ﬁlm ＦＵＬＬ naïve don't 2024 $12.50 !!! "
         "... e-mail 東京の映画 ΣΟΦΟΣ x").split(" ")
GAPS = [" "] * 12 + ["  ", "\n", "\t", ", ", ". ", "\u3000", "\u00a0", "\n\n   ", " " * 300]


def _normal_texts(seed: int, n: int = 40) -> list[str]:
    """Texts as people write them, some long, with accents to compose, full-width forms, runs of spaces."""
    rng = np.random.default_rng(seed)
    texts = []
    for _ in range(n):
        words = rng.choice(WORDS, int(rng.integers(1, 600)))
        gaps = rng.choice(GAPS, len(words))
        texts.append("".join(w + g for w, g in zip(words, gaps, strict=True)).strip())
    return [*texts, "good " + " " * 5000 + "bad film " * 40, "\n" * 4000 + "great", "東京" * 3000 + " fine"]


def _encoded(tok: TextTokenizer, texts: list[str]) -> tuple:
    full, fast = tok.encode_batch(texts), tok.encode_batch(texts, details=False)
    assert [a.tolist() for a in fast.ids] == [a.tolist() for a in full.ids]
    steps = [np.diff(w).tolist() for w in full.word_ids]  # which tokens share a word
    return ([a.tolist() for a in full.ids], [o.tolist() for o in full.offsets], full.tokens, steps)


@pytest.mark.parametrize("kind", ["word", "bpe", "wordpiece"])
@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("max_length", [1, 9, 120])
@pytest.mark.parametrize("normalized", [True, False])
def test_cutting_changes_nothing_for_normal_texts(monkeypatch, kind, side, max_length, normalized):
    """The same ids, offsets into the whole text, tokens and words, whether the tokenizer saw the whole
    text or a cut one; here the first cut is as short as it can be (one character a token), so nearly every
    text is cut, and cut again longer when that was too short."""
    config = TokenizerConfig(kind=kind, vocab_size=300, truncation_side=side, max_length=max_length,
                             lowercase=normalized, unicode_normalization="nfkc" if normalized else "none")
    tok = TextTokenizer.train(_normal_texts(0), config)
    texts = _normal_texts(1)
    monkeypatch.setattr(tokenizer_module, "FIRST_CHARS_PER_TOKEN", 10**9)  # nothing is cut: the reference
    whole = _encoded(tok, texts)
    monkeypatch.setattr(tokenizer_module, "FIRST_CHARS_PER_TOKEN", 1)
    assert _encoded(tok, texts) == whole


@pytest.mark.parametrize("side", ["right", "left"])
def test_learning_reads_the_kept_side_of_a_text(side):
    """A text longer than ``kept_chars`` is learned from its kept side only: the words past it never reach a
    model's input, and the whole of a huge text would cost the tokenizer gigabytes."""
    config = TokenizerConfig(max_length=50, truncation_side=side)
    limit = tokenizer_module.kept_chars(config)
    filler = "plain words " * (limit // 12 + 10)
    tok = TextTokenizer.train([f"beginning {filler} ending", "other text"], config)
    vocab = tok._tok.get_vocab()
    assert ("beginning" in vocab, "ending" in vocab) == ((True, False) if side == "right" else (False, True))
    normal = [f"beginning {'plain words ' * 2000} ending"]  # shorter than the bound: all of it learned
    assert {"beginning", "ending"} <= set(TextTokenizer.train(normal, config)._tok.get_vocab())


def test_a_long_text_in_the_arrow_cache_is_cut_as_in_memory(tmp_path, own_cache):
    """The batched map over the Arrow table and the learning from its rows cut texts as in memory."""
    from core.model.sentiment_model import encode_split
    from core.text.token_cache import learn_vocabulary

    config = TokenizerConfig(max_length=20)
    long_text = "opening words " + "and so on " * (tokenizer_module.kept_chars(config) // 10) + "closing words"
    rows = [(f"review number {i} was {'good' if i % 2 else 'bad'}", i % 2) for i in range(300)]
    for i in range(7, 300, 15):  # some land in each split
        rows[i] = (long_text, 1)
    path = write(tmp_path / "d.csv", "text;label\n" + "".join(f"{t};{y}\n" for t, y in rows))
    mapped, memory = load_dataset(str(path), memory_mapped=True), load_dataset(str(path), memory_mapped=False)
    assert isinstance(mapped["train"].texts, ArrowTexts)
    assert learn_vocabulary(mapped["train"].texts, config).to_json() == TextTokenizer.train(
        memory["train"].texts, config).to_json()
    tok = TextTokenizer.train(memory["train"].texts, config)
    assert "opening" in tok._tok.get_vocab() and "closing" not in tok._tok.get_vocab()
    for split in mapped.splits:
        a, b = encode_split(tok, mapped[split]), encode_split(tok, memory[split])
        assert a.lengths.tolist() == b.lengths.tolist()
        assert [np.asarray(a.flat_ids[s:s + n]).tolist() for s, n in zip(a.starts, a.lengths, strict=True)] == \
               [np.asarray(b.flat_ids[s:s + n]).tolist() for s, n in zip(b.starts, b.lengths, strict=True)]


# ---------------------------------------------------------------------------------------------
# Cause 10: leaving each word out costs words x tokens: it looks at a bounded number of tokens


@pytest.fixture
def long_reader(tiny_model):
    """The tiny model, reading texts of up to 3,000 tokens."""
    config = dataclasses.replace(tiny_model.tokenizer.config, max_length=3000)
    tiny_model.tokenizer = TextTokenizer.from_json(tiny_model.tokenizer.to_json(), config)
    return tiny_model


def _long_text(words: int) -> str:
    pool = ["the", "film", "was", "good", "bad", "plot", "and", "very", "fine", "dull"]
    return " ".join(pool[(i * 7) % len(pool)] for i in range(words))


@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("words", [1000, 2500])
def test_occlusion_explains_a_bounded_number_of_tokens_and_says_so(long_reader, side, words, monkeypatch):
    model = long_reader
    model.tokenizer = TextTokenizer.from_json(model.tokenizer.to_json(), dataclasses.replace(
        model.tokenizer.config, truncation_side=side))
    widths = []
    forward = type(model.classifier).forward
    monkeypatch.setattr(type(model.classifier), "forward",
                        lambda self, ids, lengths, **k: widths.append(ids.shape[1]) or forward(self, ids, lengths, **k))
    text = _long_text(words)
    bound = attribution.OCCLUSION_TOKENS
    a = explain(model, text, ExplainConfig(method="occlusion"))
    assert max(widths) == bound < words  # the model never read more than the bound
    full = model.tokenizer.encode(text)
    kept = slice(0, bound) if side == "right" else slice(words - bound, words)
    assert a.tokens == full.tokens[0][kept] and a.offsets.tolist() == full.offsets[0][kept].tolist()
    assert a.words == text.split()[kept] and len(a.word_scores) == bound
    where = "first" if side == "right" else "last"
    assert a.note == (f"leaving each word out looked at the {where} {bound:,} of the {words:,} tokens the model reads "
                      "(its cost grows with the square of the length), and explains the prediction for that part")
    assert a.first_token == (0 if side == "right" else words - bound)
    assert a.to_dict()["attribution_note"] == a.note
    gradients = explain(model, text, ExplainConfig(method="ig"))  # linear in the length: the whole text
    assert len(gradients.tokens) == words and gradients.note == "" and "attribution_note" not in gradients.to_dict()


def test_the_cli_says_when_occlusion_looked_at_part_of_a_text(long_reader, tmp_path):
    path = save_model(long_reader, tmp_path / "long.safetensors")
    text = _long_text(1200)
    code, out, err = run_cli("predict", "--explain", "--method", "occlusion", str(path), text)
    assert code == 0, err
    row = json.loads(out)
    assert "looked at the first 400 of the 1,200 tokens" in row["attribution_note"]
    assert len(row["tokens"]) == attribution.OCCLUSION_TOKENS
    code, out, err = run_cli("predict", "--explain", "--method", "occlusion", str(path), "a good film")
    assert code == 0 and "attribution_note" not in json.loads(out)


# ---------------------------------------------------------------------------------------------
# Cause 12: one file, one reading, whichever path reads it


def _rows(sep: str, n: int = 80) -> str:
    quote = '"' if sep == "," else ""
    return "".join(f"{quote}good, not bad, film number {i}{quote}{sep}{('neg', 'pos')[i % 2]}\n" for i in range(n))


@pytest.mark.parametrize("sep", [";", "|", "\t"])
def test_a_csv_separated_otherwise_with_commas_in_its_texts_reads_one_way(tmp_path, own_cache, monkeypatch, sep):
    """What a European spreadsheet writes (semicolons, commas in the texts): the separator comes from the header
    first, by one rule for both paths."""
    path = write(tmp_path / "data.csv", f"text{sep}label\n" + _rows(sep))
    memory = load_dataset(str(path), memory_mapped=False)
    mapped = load_dataset(str(path), memory_mapped=True)
    monkeypatch.setenv("SENTIMENT_STUDIO_ARROW_MB", "0")  # the size chooses the Arrow path
    chosen = load_dataset(str(path))
    assert isinstance(mapped["train"].texts, ArrowTexts) and isinstance(chosen["train"].texts, ArrowTexts)
    for split in ("train", "validation", "test"):
        assert list(mapped[split].texts) == list(chosen[split].texts) == memory[split].texts
        np.testing.assert_array_equal(mapped[split].labels, memory[split].labels)
    assert memory["train"].texts[0].startswith("good, not bad, film number")
    assert memory.label_names == mapped.label_names == ["neg", "pos"]


@pytest.mark.parametrize("name, content", [
    ("data.csv", b"text,label\n" + _rows(",").encode() + b"a nul\x00 inside,pos\n"),
    ("data.tsv", b"text\tlabel\n" + _rows("\t").encode() + b"a nul\x00 inside\tpos\n"),
    ("data.jsonl", b"".join(json.dumps({"text": f"text {i}", "label": i % 2}).encode() + b"\n" for i in range(80))
     + b'{"text": "a nul\x00 inside", "label": 1}\n'),
    ("data.csv", b"\x00" * 3 + b"text,label\n" + _rows(",").encode()),
])
def test_nul_bytes_are_refused_whichever_path_reads_the_file(tmp_path, own_cache, monkeypatch, name, content):
    path = write(tmp_path / name, content)
    messages = []
    for memory_mapped in (False, True, None):
        if memory_mapped is None:
            monkeypatch.setenv("SENTIMENT_STUDIO_ARROW_MB", "0")
        with pytest.raises(DataError) as info:
            load_dataset(str(path), memory_mapped=memory_mapped)
        messages.append(str(info.value))
    assert len(set(messages)) == 1 and "contains NUL bytes" in messages[0] and "\n" not in messages[0], messages


# ---------------------------------------------------------------------------------------------
# Cause 13 (the Arrow part): an odd SENTIMENT_STUDIO_ARROW_MB is one clear line


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "-1", "lots", "1e400", "0x40", "64 MB"])
def test_an_odd_arrow_threshold_is_one_clear_line(tmp_path, monkeypatch, value):
    monkeypatch.setenv("SENTIMENT_STUDIO_ARROW_MB", value)
    data = write(tmp_path / "d.csv", "text,label\n" + _rows(","))
    code, _, err = run_cli("train", "--data", str(data), "--out", str(tmp_path / "m.safetensors"), *TINY)
    assert code == cli.EXIT_ERROR and err.startswith("error: ") and err.count("\n") == 1, err
    assert "SENTIMENT_STUDIO_ARROW_MB" in err and repr(value) in err and not (tmp_path / "m.safetensors").exists()
    with pytest.raises(DataError, match="SENTIMENT_STUDIO_ARROW_MB"):
        load_dataset(str(data))


@pytest.mark.parametrize("value, arrow", [("0", True), (" 0.0 ", True), ("64", False), ("", False), ("1e6", False)])
def test_a_sound_arrow_threshold_still_chooses_the_path(tmp_path, own_cache, monkeypatch, value, arrow):
    monkeypatch.setenv("SENTIMENT_STUDIO_ARROW_MB", value)
    data = write(tmp_path / "d.csv", "text,label\n" + _rows(","))
    assert isinstance(load_dataset(str(data))["train"].texts, ArrowTexts) == arrow
