"""The model card of an export bundle (README.md), in the Hugging Face convention.

YAML front matter for the metadata a hub reads, then what the model is, what it was trained on, how
it scored (test metrics and per-class figures), its settings, its intended use and limits, and a short
example that needs only ``onnxruntime``, ``tokenizers`` and ``numpy``. Everything comes from the
model's own records, so the card says nothing the file does not know.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from core import __version__
from core.config import CELL_DESCRIPTIONS
from core.data import parse_source
from core.errors import StudioError
from core.model.sentiment_model import SentimentModel
from core.settings import settings_of, shown
from core.text.vectors import added_words
from core.uncertainty import ScoreInterval, checked_confusion, confusion_interval

# The example the card shows; tests run this very text in a Python that can't import torch.
EXAMPLE = '''import json, sys, numpy as np, onnxruntime as ort, tokenizers
config = json.load(open("config.json"))
tokenizer, session = tokenizers.Tokenizer.from_file("tokenizer.json"), ort.InferenceSession("model.onnx")
texts = sys.argv[1:] or ["A gripping, beautifully acted film.", "Dull, and far too long."]
ids = [enc.ids[: config["max_length"]] or [config["unk_id"]] for enc in tokenizer.encode_batch(texts)]
lengths = np.array([len(seq) for seq in ids], dtype=np.int64)
batch = np.array([seq + [config["pad_id"]] * (lengths.max() - len(seq)) for seq in ids], dtype=np.int64)
probabilities = session.run(["probabilities"], {"ids": batch, "lengths": lengths})[0]
rows = [{"text": t, "probabilities": dict(zip(config["labels"], p.tolist()))} for t, p in zip(texts, probabilities)]
print("\\n".join(map(json.dumps, rows)))
'''


_TOKENIZERS_MIN = "0.20"  # the JSON format this file is written in (BPE merges as pairs)
_UNSEEN = {
    "word": "Words not seen in training are all one unknown word, so the model knows nothing of new slang, names "
            "or other languages.",
    "bpe": "Words not seen in training are split into known pieces; the model has learned nothing about such "
           "words as wholes, nor about other languages.",
    "wordpiece": "Words not seen in training are split into known pieces (or one unknown word when no pieces fit); "
                 "the model has learned nothing about such words as wholes, nor about other languages.",
}


def _is_hub(source: str) -> bool:
    try:
        return parse_source(source)[0] == "hub"
    except StudioError:
        return False


def _pct(x: float | None) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{100 * x:.1f}%"


def _md(text: object) -> str:
    """Text safe inside Markdown tables and prose: no column breaks, emphasis or code spans from a name."""
    return re.sub(r"([\\`*_|<>\[\]])", r"\\\1", " ".join(str(text).split()))


def dataset_name(source: str) -> str:
    """How the card names the training data: a Hub or built-in name as it is, a local path by its file or
    folder name only (a published card should not carry the trainer's folders)."""
    if not source:
        return "an unrecorded dataset"
    try:
        kind, target, _ = parse_source(source)
    except StudioError:
        kind, target = "file", source
    return source if kind in ("hub", "builtin") else f"{Path(target).name or target} (local data)"


_UNSEEN_WITH_VECTORS = ("A word not seen in training keeps the meaning its word vector gives it when it is among the "
                        "vectors' words added after training; other new words are all one unknown word.")


def _vectors_line(vectors: dict | None) -> str:
    """The word vectors a model started from, in a sentence (whatever a file holds: never a crash)."""
    if not vectors:
        return "Word vectors: none; the embeddings were learned from the training data alone."
    how = "kept fixed" if vectors.get("frozen") else "fine-tuned"
    line = f"Word vectors: {_md(str(vectors.get('file')))} ({_md(str(vectors.get('dim')))}-d), {how}"
    try:
        line += (f"; they covered {_pct(float(vectors['words_covered']))} of the training vocabulary and "
                 f"{_pct(float(vectors['tokens_covered']))} of the training tokens")
    except (KeyError, TypeError, ValueError):
        pass
    added = added_words(vectors)
    return line + (f"; {added:,} more of their words joined the vocabulary after training." if added else ".")


def _model_index(model: SentimentModel, interval: ScoreInterval | None, hub: str) -> list[str]:
    """The test scores in the Hugging Face ``model-index`` form, each metric's 95% interval in its name and args."""
    if interval is None or not interval.count:
        return []
    lines = ["model-index:", f"- name: {json.dumps(model.name)}", "  results:", "  - task:",
             "      type: text-classification", "      name: Text Classification", "    dataset:",
             f"      name: {json.dumps(dataset_name(model.info.dataset))}", f"      type: {json.dumps(hub or 'local')}",
             "      split: test", "    metrics:"]
    for kind, label, value, (lo, hi) in (("accuracy", "Accuracy", interval.accuracy, interval.accuracy_ci),
                                         ("f1", "Macro F1", interval.macro_f1, interval.macro_f1_ci)):
        lines += [f"    - type: {kind}", f"      value: {value:.4f}",
                  f'      name: "{label} (95% CI {lo:.4f}-{hi:.4f}, {interval.count:,} rows)"',
                  f"      args: {{average: macro, ci_95: [{lo:.4f}, {hi:.4f}], rows: {interval.count}}}"
                  if kind == "f1" else f"      args: {{ci_95: [{lo:.4f}, {hi:.4f}], rows: {interval.count}}}",
                  "      verified: false"]
    return lines


def _group_lines(group: dict | None) -> list[str]:
    """The group of runs the model is one of, with the group's scores when the run store has them."""
    if not group:
        return []
    from core.store.groups import group_scores

    which = f"seed {group.get('seed')}" if group["kind"] == "seeds" else f"fold {group.get('fold', 0) + 1}"
    line = f"This model is {which}, one of {group['n']} runs repeated over {group['kind']}"
    scores = group_scores(group["id"])
    if scores is not None:
        line += f": the group's test accuracy is {scores[0].text()}"
    return ["", line + "."]


def model_card(model: SentimentModel, file_name: str) -> str:
    """README.md for the bundle of ``model`` (saved beside it as ``file_name``)."""
    info, record, c = model.info, model.record, model.config
    kind = c.kind.upper()
    dataset = _md(dataset_name(info.dataset))
    test = record.test
    matrix = checked_confusion(test.confusion) if test is not None else None  # the file's record, as it is
    interval = confusion_interval(matrix) if matrix is not None else None
    hub = [info.dataset.partition(":")[0]] if _is_hub(info.dataset) else []
    lines = [
        "---",
        "library_name: onnx",
        "pipeline_tag: text-classification",
        f"tags: [sentiment-analysis, text-classification, {c.kind}, sentiment-studio]",
        "metrics: [accuracy, f1]",
        *([f"datasets: [{hub[0]}]"] if hub else []),
        *_model_index(model, interval, hub[0] if hub else ""),
        "---",
        "",
        f"# {model.name}: {'a' if c.kind == 'gru' else 'an'} {kind} sentiment classifier",
        "",
        f"{CELL_DESCRIPTIONS[c.kind]} Trained with Sentiment Studio {info.versions.get('sentiment_studio', '?')} on "
        f"{dataset} to tell {', '.join(f'**{_md(n)}**' for n in model.label_names)} apart; exported by version "
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
        f"Needs only `pip install onnxruntime \"tokenizers>={_TOKENIZERS_MIN}\" numpy`; run it in this folder "
        "(texts as arguments, or two examples):",
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
        lines.append(f"{dataset}: {sizes} texts{carved}. Text column \"{_md(splits.text_column or 'text')}\", "
                     f"label column \"{_md(splits.label_column or 'label')}\".")
    else:
        lines.append(f"{dataset} (the model file does not record its splits).")
    lines += ["", "## Evaluation", ""]
    if test is not None:
        lines += [f"On the test split ({test.count:,} texts): accuracy **{_pct(test.accuracy)}**, macro F1 "
                  f"**{_pct(test.macro_f1)}**."]
        if interval is not None and interval.count:
            lo, hi = interval.macro_f1_ci
            lines += ["", f"With 95% intervals (bootstrap over the test rows): {interval.accuracy_text()}; macro F1 "
                          f"{interval.macro_f1:.3f} [{lo:.3f}, {hi:.3f}]."]
        lines += [*_group_lines(info.group), "", "| class | precision | recall | F1 |", "|---|---|---|---|"]
        for i, name in enumerate(model.label_names):
            scores = [s[i] if i < len(s) else None for s in (test.precision, test.recall, test.f1)]
            lines.append(f"| {_md(name)} | " + " | ".join(_pct(x) for x in scores) + " |")
    else:
        lines.append("No test score is recorded (the run was cancelled, or the data had no test split).")
    fin = record.finished
    if fin is not None:
        lines += ["", f"Best epoch {fin.best_epoch} of {fin.epochs_run}; {fin.num_parameters:,} parameters; "
                      f"{fin.training_time_s:.0f} s of training."]
    lines += ["", "## Settings", "", "| setting | value |", "|---|---|"]
    for config in (model.config, model.tokenizer.config, model.train_config):
        for f in settings_of(type(config)):
            value = shown(getattr(config, f.name))
            if f.name == "vocab_size" and config is model.tokenizer.config:
                added = added_words(info.vectors)
                more = f", and {added:,} words from the word vectors" if added else ""
                value = f"{model.tokenizer.vocab_size:,} (at most {value} from the training texts{more})"
            lines.append(f"| {f.setting.label} | {_md(value)} |")
    lines += [
        "",
        _vectors_line(info.vectors),
        "",
        "## Intended use and limits",
        "",
        f"Sentiment of short texts like those in {dataset}. Texts longer than "
        f"{model.tokenizer.config.max_length:,} tokens are cut (the "
        f"{'end' if model.tokenizer.config.truncation_side == 'right' else 'beginning'} is dropped). "
        + (_UNSEEN_WITH_VECTORS if added_words(info.vectors) else _UNSEEN[model.tokenizer.config.kind])
        + " Its scores hold for data like its test split and may be lower elsewhere; it can carry "
        "the biases of its training texts. Not for decisions about people.",
        "",
    ]
    return "\n".join(lines) + "\n"
