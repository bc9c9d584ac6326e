"""The GPU path in under 5 minutes: training throughput on the CPU and the GPU, and the gate trace of a
model that lives on the GPU against the GPU's own fused kernels and the CPU.

bf16 is not offered yet: PyTorch's autocast runs cuDNN's RNN kernels in float16 whatever dtype it is
asked for (aten/src/ATen/cudnn/AutocastRNN.cpp), so a bf16 path needs explicit casts, to be measured
where a GPU is lent.

    bash benchmarks/gpu_check.sh            # or: .venv/bin/python -m benchmarks.gpu_check [--json FILE]

Without a CUDA GPU it says so and exits 0 (nothing to check). Throughput is the trainer's own useful
tokens per second (padding excluded) over ``--steps`` optimizer steps of the default BiLSTM on
IMDB-like reviews (generated unless ../shared/datasets/imdb is there), batch 32 and 128.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.texts import imdb_like_texts
from core.config import ModelConfig, TrainConfig
from core.events import FinishedEvent
from core.model.classifier import build_classifier
from core.model.sentiment_model import SentimentModel
from core.text.batching import EncodedSplit
from core.text.tokenizer import TextTokenizer
from core.train.trainer import Trainer


def throughput(split: EncodedSplit, vocab: int, device: str, batch: int, steps: int) -> float:
    model = build_classifier(ModelConfig(vocab_size=vocab), seed=0)
    config = TrainConfig(device=device, batch_size=batch, epochs=1, max_steps=steps)
    small = split.take(np.arange(64))
    finished = [e for e in Trainer(model, config).fit(split, small) if isinstance(e, FinishedEvent)][-1]
    return float(finished.tokens_per_s)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu_check", description=__doc__,
                                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=150, help="optimizer steps per GPU measurement (CPU: a fifth)")
    parser.add_argument("--json", metavar="FILE")
    parser.add_argument("--dry-run", action="store_true", help="no GPU: the CPU in its place (checks the script "
                                                                "itself, in seconds)")
    args = parser.parse_args()
    gpu = "cpu" if args.dry_run else "cuda"
    if not args.dry_run and not torch.cuda.is_available():
        print("no CUDA GPU here: nothing to check (torch", torch.__version__, ")")
        return 0
    name = "none (dry run)" if args.dry_run else torch.cuda.get_device_name(0)
    print(f"GPU: {name}, torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN "
          f"{torch.backends.cudnn.version()}; CPU threads {torch.get_num_threads()}", flush=True)
    texts, labels, source = imdb_like_texts(600 if args.dry_run else 6000)
    tok = TextTokenizer.train(texts)
    split = EncodedSplit.from_ragged(tok.encode_batch(texts, details=False).ids, labels)
    results: dict = {"gpu": name, "data": source, "throughput": []}
    cases = [("cpu", 32, max(10, args.steps // 5)), (gpu, 32, args.steps), (gpu, 128, args.steps),
             (gpu, 512, args.steps)]
    if args.dry_run:
        cases = [(d, b, 5) for d, b, _ in cases[:3]]
    print(f"{'device':>6} {'batch':>5} {'steps':>5} {'tokens/s':>10}")
    for device, batch, steps in cases:
        t0 = time.perf_counter()
        tps = throughput(split, tok.vocab_size, device, batch, steps)
        results["throughput"].append({"device": device, "batch": batch, "steps": steps,
                                      "tokens_per_s": round(tps), "seconds": round(time.perf_counter() - t0, 1)})
        print(f"{device:>6} {batch:>5} {steps:>5} {tps:>10,.0f}", flush=True)

    # the trace of a model on the GPU: the same numbers as on the CPU, and as the GPU's fused kernels
    worst = {}
    for kind in ("lstm", "gru", "rnn"):
        on = build_classifier(ModelConfig(kind=kind, vocab_size=tok.vocab_size), seed=1).to(gpu).eval()
        gpu_model = SentimentModel(on, tok, ["negative", "positive"])
        cpu = SentimentModel(build_classifier(ModelConfig(kind=kind, vocab_size=tok.vocab_size), seed=1).eval(),
                             tok, ["negative", "positive"])
        diffs = []
        for text in texts[:20]:
            sentence = " ".join(text.split()[:60])
            on_gpu, on_cpu = gpu_model.trace(sentence), cpu.trace(sentence)
            fused = gpu_model.predict_proba([sentence])[0]  # cuDNN's kernels
            assert on_gpu.cells[0].values["hidden"].dtype == np.float32
            diffs.append(max(float(np.abs(on_gpu.probabilities - on_cpu.probabilities).max()),
                             max(float(np.abs(a.values[n] - b.values[n]).max())
                                 for a, b in zip(on_gpu.cells, on_cpu.cells, strict=True) for n in a.values),
                             float(np.abs(on_gpu.probabilities - fused).max())))
        worst[kind] = max(diffs)
        print(f"trace {kind}: largest difference GPU trace / CPU trace / GPU fused kernels {worst[kind]:.2e}",
              flush=True)
    results["trace_max_abs_diff"] = worst
    ok = all(v <= 1e-4 for v in worst.values())
    print("trace on the GPU equals the CPU one (<= 1e-4):", "yes" if ok else "NO")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
