"""The model card of an export bundle (README.md), in the Hugging Face convention.

YAML front matter for the metadata a hub reads, then what the model is, what it was trained on, how
it scored (test metrics and per-class figures), its settings, its intended use and limits, and a short
example that needs only ``onnxruntime``, ``tokenizers`` and ``numpy``. Everything comes from the
model's own records, so the card says nothing the file does not know.
"""

from __future__ import annotations

import math

from core import __version__
from core.classifier import CELL_DESCRIPTIONS
from core.sentiment_model import SentimentModel
from core.settings import settings_of, shown

# The example the card shows; tests run this very text in a Python that can't import torch.
EXAMPLE = '''import json, sys, numpy as np, onnxruntime as ort
from tokenizers import Tokenizer  # normalizes, splits, maps unknown words, truncates to max_length
config = json.load(open("config.json"))
tokenizer, session = Tokenizer.from_file("tokenizer.json"), ort.InferenceSession("model.onnx")
texts = sys.argv[1:] or ["A gripping, beautifully acted film.", "Dull, and far too long."]
ids = [enc.ids[: config["max_length"]] or [config["unk_id"]] for enc in tokenizer.encode_batch(texts)]
lengths = np.array([len(seq) for seq in ids], dtype=np.int64)
batch = np.array([seq + [config["pad_id"]] * (lengths.max() - len(seq)) for seq in ids], dtype=np.int64)
probabilities = session.run(["probabilities"], {"ids": batch, "lengths": lengths})[0]
for text, p in zip(texts, probabilities):
    print(json.dumps({"text": text, "probabilities": dict(zip(config["labels"], p.tolist()))}))
'''


def _pct(x: float | None) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{100 * x:.1f}%"


def model_card(model: SentimentModel, file_name: str) -> str:
    """README.md for the bundle of ``model`` (saved beside it as ``file_name``)."""
    info, record, c = model.info, model.record, model.config
    kind = c.kind.upper()
    dataset = info.dataset or "an unrecorded dataset"
    test = record.test
    lines = [
        "---",
        "library_name: onnx",
        "pipeline_tag: text-classification",
        f"tags: [sentiment-analysis, text-classification, {c.kind}, sentiment-studio]",
        "---",
        "",
        f"# {model.name}: {'a' if c.kind == 'gru' else 'an'} {kind} sentiment classifier",
        "",
        f"{CELL_DESCRIPTIONS[c.kind]} Trained with Sentiment Studio {info.versions.get('sentiment_studio', '?')} on "
        f"`{dataset}` to tell {', '.join(f'**{n}**' for n in model.label_names)} apart; exported by version "
        f"{__version__}.",
        "",
        "## Files",
        "",
        "| file | what it is |",
        "|---|---|",
        "| `model.onnx` | the network: `ids` (int64 [batch, time]) and `lengths` (int64 [batch]) in, "
        "`probabilities` (float32 [batch, classes]) out |",
        "| `tokenizer.json` | the `tokenizers` file: text to token ids, unknown words and truncation included |",
        "| `config.json` | class names in output order, `max_length`, `pad_id`, `unk_id`, the settings |",
        f"| `{file_name}` | the original model file: opens in Sentiment Studio (Models, Open) |",
        "",
        "## How to use",
        "",
        "Needs only `pip install onnxruntime tokenizers numpy`; run it in this folder:",
        "",
        "```python",
        EXAMPLE.rstrip(),
        "```",
        "",
        "Each text is read only up to its own length, so padding never changes a prediction. A text with no "
        "tokens at all is one unknown word (`unk_id`), as in the app.",
        "",
        "## Training data",
        "",
    ]
    splits = info.splits
    if splits is not None and splits.sizes:
        sizes = ", ".join(f"{name} {n:,}" for name, n in splits.sizes.items())
        carved = (f"; {' and '.join(splits.carved)} carved from train (split seed {splits.split_seed})"
                  if splits.carved else "")
        lines.append(f"`{dataset}`: {sizes} texts{carved}. Text column `{splits.text_column or 'text'}`, "
                     f"label column `{splits.label_column or 'label'}`.")
    else:
        lines.append(f"`{dataset}` (the model file does not record its splits).")
    lines += ["", "## Evaluation", ""]
    if test is not None:
        lines += [f"On the test split ({test.count:,} texts): accuracy **{_pct(test.accuracy)}**, macro F1 "
                  f"**{_pct(test.macro_f1)}**.", "", "| class | precision | recall | F1 |", "|---|---|---|---|"]
        for i, name in enumerate(model.label_names):
            scores = [s[i] if i < len(s) else None for s in (test.precision, test.recall, test.f1)]
            lines.append(f"| {name} | " + " | ".join(_pct(x) for x in scores) + " |")
    else:
        lines.append("No test score is recorded (the run was cancelled, or the data had no test split).")
    fin = record.finished
    if fin is not None:
        lines += ["", f"Best epoch {fin.best_epoch} of {fin.epochs_run}; {fin.num_parameters:,} parameters; "
                      f"{fin.training_time_s:.0f} s of training."]
    lines += ["", "## Settings", "", "| setting | value |", "|---|---|"]
    for config in (model.config, model.tokenizer.config, model.train_config):
        for f in settings_of(type(config)):
            lines.append(f"| {f.setting.label} | {shown(getattr(config, f.name))} |")
    lines += [
        "",
        "Word vectors: none; the embeddings were learned from the training data alone.",
        "",
        "## Intended use and limits",
        "",
        f"Sentiment of short English texts like those in `{dataset}`. Texts longer than "
        f"{model.tokenizer.config.max_length:,} tokens are cut (the "
        f"{'end' if model.tokenizer.config.truncation_side == 'right' else 'beginning'} is dropped). Words not "
        "seen in training are all one unknown word, so the model knows nothing of new slang, names or other "
        "languages. Its scores hold for data like its test split and may be lower elsewhere; it can carry "
        "the biases of its training texts. Not for decisions about people.",
        "",
    ]
    return "\n".join(lines) + "\n"
