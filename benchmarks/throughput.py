"""Parts ``train`` and ``tokenize`` of ``benchmarks.run``: training throughput (useful tokens/s, padding excluded)
of the real pipeline against the fused modules' ceiling and a tutorial pipeline, and tokenization against
naive Python tokenizers."""

from __future__ import annotations

import statistics
import time

import numpy as np
import torch
from torch import nn

from benchmarks.targets import TARGETS
from benchmarks.texts import imdb_like_texts
from core.config import CELL_KINDS, ModelConfig, TokenizerConfig, TrainConfig
from core.data import Split, TextDataset
from core.events import StepEvent
from core.model.classifier import build_classifier
from core.text.batching import EncodedSplit, bucketed_order
from core.text.tokenizer import TextTokenizer
from core.train.pipeline import train_model
from core.train.trainer import adamw


# --- 1. training throughput -----------------------------------------------------------------------------
def ours_train(texts: list[str], labels: np.ndarray, kind: str, batches: int, batch_size: int) -> float:
    """The app's pipeline end to end: tokenizer training and encoding, bucketed batches, packed model,
    AdamW, clipping; useful tokens per second over the training steps and the encoding."""
    n = batches * batch_size
    ds = TextDataset("bench", {
        "train": Split(texts[:n], labels[:n]),
        "validation": Split(texts[:8], labels[:8]),
        "test": Split(texts[:8], labels[:8]),
    }, ["negative", "positive"])
    t0 = time.perf_counter()
    gen = train_model(ds, ModelConfig(kind=kind), TrainConfig(epochs=1, batch_size=batch_size, device="cpu"))
    tokens, end = 0, t0
    for event in gen:
        if isinstance(event, StepEvent):
            end = time.perf_counter()
    # useful tokens = the real (truncated) tokens the steps consumed
    tok = TextTokenizer.train(texts[:n])
    tokens = int(tok.encode_batch(texts[:n], details=False).lengths.sum())
    return tokens / (end - t0)


def ceiling_train(split: EncodedSplit, kind: str, batches: int, batch_size: int, vocab_size: int) -> float:
    """The fused module alone on padding-free batches of our batches' shapes: embedding, nn.LSTM/GRU/RNN
    (no packing), mean pooling, linear, and the same fused AdamW the trainer uses (``core.train.trainer.adamw``),
    so the ratio measures the pipeline around the step. Every token is useful."""
    cfg = ModelConfig(kind=kind, vocab_size=vocab_size)
    model = build_classifier(cfg, 0)
    opt = adamw(model, torch.device("cpu"), lr=2e-3)
    order = bucketed_order(split.lengths, batch_size, np.random.default_rng(0))[:batches]
    shapes = [(len(b), int(split.lengths[b].max())) for b in order]
    data = [(torch.randint(2, vocab_size, s), torch.randint(0, 2, (s[0],))) for s in shapes]
    model.train()
    start = time.perf_counter()
    tokens = 0
    for ids, y in data:
        out, _ = model.rnn(model.embed_dropout(model.embedding(ids)))
        logits = model.head(model.out_dropout(out.mean(1)))
        loss = nn.functional.cross_entropy(logits, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        tokens += ids.numel()
    return tokens / (time.perf_counter() - start)


def naive_train(texts: list[str], labels: np.ndarray, kind: str, batches: int, batch_size: int, max_len: int) -> float:
    """A tutorial pipeline: str.split + a Python dict vocabulary, a Dataset returning one item at a time,
    a per-item collate padding every batch to the maximum length, no packing, the last time step."""
    n = batches * batch_size
    vocab: dict[str, int] = {"<pad>": 0, "<unk>": 1}
    for t in texts[:n]:
        for w in t.lower().split():
            vocab.setdefault(w, len(vocab))

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            cfg = ModelConfig(kind=kind)
            self.emb = nn.Embedding(len(vocab), cfg.embed_dim)
            cell = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[kind]
            self.rnn = cell(cfg.embed_dim, cfg.hidden_size, batch_first=True, bidirectional=cfg.bidirectional)
            self.fc = nn.Linear(cfg.hidden_size * 2, 2)

        def forward(self, x):
            out, _ = self.rnn(self.emb(x))
            return self.fc(out[:, -1])

    torch.manual_seed(0)
    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    perm = np.random.default_rng(0).permutation(n)
    useful = 0
    start = time.perf_counter()
    for b in range(batches):
        items = []
        for i in perm[b * batch_size : (b + 1) * batch_size]:  # per-item __getitem__
            ids = [vocab.get(w, 1) for w in texts[i].lower().split()][:max_len]
            useful += len(ids)
            items.append(torch.tensor(ids + [0] * (max_len - len(ids))))
        x = torch.stack(items)
        y = torch.tensor(labels[perm[b * batch_size : (b + 1) * batch_size]])
        loss = nn.functional.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return useful / (time.perf_counter() - start)


def bench_training(quick: bool, results: dict, table: list) -> None:
    texts, labels, source = imdb_like_texts(4000)
    results["train_data"] = source
    batch_size = TrainConfig().batch_size
    # ours runs long enough that its one-off costs (tokenizer training, encoding, model set-up, which
    # belong to the real pipeline) weigh as in a short epoch; the other two are steady-state rates
    batches, side_batches = (12, 6) if quick else (60, 20)
    repeats = 1 if quick else 3
    n = batches * batch_size
    tok = TextTokenizer.train(texts[:n])  # the vocabulary ours_train builds: same embedding size on both sides
    split = EncodedSplit.from_ragged(tok.encode_batch(texts[:n], details=False).ids, labels[:n])
    max_len = TokenizerConfig().max_length
    for key in ("train_tokens_per_s", "ceiling_tokens_per_s", "naive_tokens_per_s", "train_vs_ceiling",
                "train_vs_naive"):
        results.setdefault(key, {})
    for kind in CELL_KINDS:
        ours, ceil, naive = [], [], []
        ours_train(texts, labels, kind, 2, batch_size)  # warm-up
        for _ in range(repeats):  # alternate the sides, so a noisy neighbour hits all of them alike
            ours.append(ours_train(texts, labels, kind, batches, batch_size))
            ceil.append(ceiling_train(split, kind, side_batches, batch_size, tok.vocab_size))
            naive.append(naive_train(texts, labels, kind, side_batches, batch_size, max_len))
        o, c, v = statistics.median(ours), statistics.median(ceil), statistics.median(naive)
        results["train_tokens_per_s"][kind] = round(o)
        results["ceiling_tokens_per_s"][kind] = round(c)
        results["naive_tokens_per_s"][kind] = round(v)
        results["train_vs_ceiling"][kind] = round(o / c, 3)
        results["train_vs_naive"][kind] = round(o / v, 2)
        table.append((f"train {kind}: ours / ceiling", f"{o:,.0f} / {c:,.0f} tok/s", f"{o / c:.2f}x",
                      f">= {TARGETS['train_vs_ceiling']}x"))
        table.append((f"train {kind}: ours / naive", f"{o:,.0f} / {v:,.0f} tok/s", f"{o / v:.2f}x",
                      f">= {TARGETS['train_vs_naive']}x"))


# --- 2. tokenization ------------------------------------------------------------------------------------
def bench_tokenize(quick: bool, results: dict, table: list) -> None:
    """Batch encoding (Rust, parallel) vs the naive tokenizer of item 1b (str.split + dict), and vs a
    naive tokenizer doing our job (NFKC, lowercase, words and punctuation apart, dict lookup)."""
    import re
    import unicodedata

    texts, _, _ = imdb_like_texts(2000 if quick else 12500)
    tok = TextTokenizer.train(texts, TokenizerConfig(max_length=100_000))  # no truncation: count every token
    split_vocab = {w: i for i, w in enumerate({w for t in texts for w in t.lower().split()})}
    words = re.compile(r"\w+|[^\w\s]+")  # the same split as our pre-tokenizer
    same_vocab = {w: i for i, w in enumerate({w for t in texts for w in words.findall(t.lower())})}

    def ours() -> float:
        t0 = time.perf_counter()
        n = int(tok.encode_batch(texts, details=False).lengths.sum())
        return n / (time.perf_counter() - t0)

    def naive() -> float:
        t0 = time.perf_counter()
        n = sum(len([split_vocab.get(w, 1) for w in t.lower().split()]) for t in texts)
        return n / (time.perf_counter() - t0)

    def same_job() -> float:
        t0 = time.perf_counter()
        n = sum(len([same_vocab.get(w, 1) for w in words.findall(unicodedata.normalize("NFKC", t).lower())])
                for t in texts)
        return n / (time.perf_counter() - t0)

    ours(), naive(), same_job()
    o, v, j = [], [], []
    for _ in range(3):
        o.append(ours())
        v.append(naive())
        j.append(same_job())
    o_m, v_m, j_m = statistics.median(o), statistics.median(v), statistics.median(j)
    results["tokenize_tokens_per_s"] = round(o_m)
    results["tokenize_naive_tokens_per_s"] = round(v_m)
    results["tokenize_vs_naive"] = round(o_m / v_m, 2)
    results["tokenize_vs_naive_same_job"] = round(o_m / j_m, 2)
    table.append(("tokenize: ours / naive (str.split)", f"{o_m:,.0f} / {v_m:,.0f} tok/s", f"{o_m / v_m:.2f}x",
                  f">= {TARGETS['tokenize_vs_naive']}x"))
    table.append(("tokenize: ours / naive doing our job", f"{o_m:,.0f} / {j_m:,.0f} tok/s", f"{o_m / j_m:.2f}x", ""))
