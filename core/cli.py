"""The headless command line: ``train``, ``evaluate``, ``predict`` and ``info``.

Every user-caused problem ends with one line on stderr and a non-zero exit status, never a
traceback; results go to stdout as JSON so scripts can read them.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from core.errors import StudioError

EXIT_ERROR, EXIT_USAGE, EXIT_CANCELLED = 1, 2, 130


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one clear line instead of the usage block
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from core.models import CELL_KINDS, POOLINGS, ModelConfig
    from core.tokenizer import TokenizerConfig
    from core.trainer import TrainConfig

    m, t, k = ModelConfig(), TrainConfig(), TokenizerConfig()
    p = _Parser(prog="main.py", description="Sentiment Studio: train, evaluate and inspect recurrent sentiment models.")
    p.add_argument("--debug", action="store_true", help="show full tracebacks for unexpected errors")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def data_args(q: argparse.ArgumentParser, required: bool = True) -> None:
        q.add_argument("--data", required=required, metavar="SOURCE",
                       help="a Hub name (imdb, glue:sst2), a CSV/TSV/JSON/Parquet file or folder, or builtin:longrange")
        q.add_argument("--text-column", help="name of the text column (detected when omitted)")
        q.add_argument("--label-column", help="name of the label column (detected when omitted)")

    tr = sub.add_parser("train", help="train a model and save it to a file")
    data_args(tr)
    tr.add_argument("--model", choices=CELL_KINDS, default=m.kind, help="recurrent cell (default: %(default)s)")
    tr.add_argument("--out", required=True, metavar="FILE", help="model file to write (.safetensors)")
    g = tr.add_argument_group("model")
    g.add_argument("--embed-dim", type=int, default=m.embed_dim, help="default: %(default)s")
    g.add_argument("--hidden-size", type=int, default=m.hidden_size, help="units per direction (default: %(default)s)")
    g.add_argument("--layers", type=int, default=m.num_layers, help="default: %(default)s")
    g.add_argument("--bidirectional", action=argparse.BooleanOptionalAction, default=m.bidirectional,
                   help="read the text in both directions (default: %(default)s)")
    g.add_argument("--dropout", type=float, default=m.dropout, help="default: %(default)s")
    g.add_argument("--pooling", choices=POOLINGS, default=m.pooling, help="default: %(default)s")
    g.add_argument("--word-dropout", type=float, default=m.word_dropout,
                   help="share of words replaced by [UNK] while training (default: %(default)s)")
    g = tr.add_argument_group("tokenizer")
    g.add_argument("--tokenizer", choices=("word", "bpe", "wordpiece"), default=k.kind, help="default: %(default)s")
    g.add_argument("--vocab-size", type=int, default=k.vocab_size, help="default: %(default)s")
    g.add_argument("--min-frequency", type=int, default=k.min_frequency, help="default: %(default)s")
    g.add_argument("--max-length", type=int, default=k.max_length, help="tokens kept per text (default: %(default)s)")
    g.add_argument("--lowercase", action=argparse.BooleanOptionalAction, default=k.lowercase,
                   help="default: %(default)s")
    g = tr.add_argument_group("training")
    g.add_argument("--epochs", type=int, default=t.epochs, help="at most this many (default: %(default)s)")
    g.add_argument("--batch-size", type=int, default=t.batch_size, help="default: %(default)s")
    g.add_argument("--lr", type=float, default=t.learning_rate, help="learning rate (default: %(default)s)")
    g.add_argument("--weight-decay", type=float, default=t.weight_decay, help="default: %(default)s")
    g.add_argument("--grad-clip", type=float, default=t.grad_clip, help="default: %(default)s")
    g.add_argument("--patience", type=int, default=t.patience, help="early stopping (default: %(default)s)")
    g.add_argument("--seed", type=int, default=t.seed, help="default: %(default)s")
    g.add_argument("--device", default=t.device, help="auto, cpu, cuda or mps (default: %(default)s)")
    g.add_argument("--quiet", action="store_true", help="no progress bar")

    ev = sub.add_parser("evaluate", help="score a model file on a dataset split (JSON on stdout)")
    ev.add_argument("model_file", metavar="FILE")
    data_args(ev)
    ev.add_argument("--split", choices=("train", "validation", "test"), default="test")
    ev.add_argument("--seed", type=int, default=0, help="seed for carving missing splits (default: %(default)s)")

    pr = sub.add_parser("predict", help="predict texts (arguments, or stdin one per line); JSON lines on stdout")
    pr.add_argument("model_file", metavar="FILE")
    pr.add_argument("texts", nargs="*", metavar="TEXT")
    pr.add_argument("--gates", action="store_true", help="add tokens and the per-token gate trace")

    inf = sub.add_parser("info", help="show a model file's config, metrics and versions (JSON)")
    inf.add_argument("model_file", metavar="FILE")
    return p


def _load(args):
    from core.data import load_dataset

    return load_dataset(args.data, text_column=args.text_column, label_column=args.label_column,
                        seed=getattr(args, "seed", 0))


def _check_out_path(out: str) -> Path:
    path = Path(out).expanduser()
    if path.is_dir():
        raise StudioError(f"--out {out} is a folder; give a file name such as model.safetensors")
    if not path.parent.exists():
        raise StudioError(f"--out: folder {path.parent} does not exist")
    return path


def cmd_train(args) -> int:
    from core.modelfile import save_model
    from core.models import ModelConfig
    from core.pipeline import train_model
    from core.tokenizer import TokenizerConfig
    from core.trainer import EpochEvent, FinishedEvent, PhaseEvent, StepEvent, TrainConfig

    out = _check_out_path(args.out)
    model_config = ModelConfig(kind=args.model, embed_dim=args.embed_dim, hidden_size=args.hidden_size,
                               num_layers=args.layers, bidirectional=args.bidirectional, dropout=args.dropout,
                               pooling=args.pooling, word_dropout=args.word_dropout)
    tok_config = TokenizerConfig(kind=args.tokenizer, vocab_size=args.vocab_size, min_frequency=args.min_frequency,
                                 max_length=args.max_length, lowercase=args.lowercase)
    train_config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr,
                               weight_decay=args.weight_decay, grad_clip=args.grad_clip, patience=args.patience,
                               seed=args.seed, device=args.device)
    log = (lambda *a: None) if args.quiet else (lambda msg: print(msg, file=sys.stderr))
    log(f"loading {args.data} ...")
    dataset = _load(args)
    log("splits: " + ", ".join(f"{s} {len(dataset[s]):,}" for s in dataset.splits)
        + f"; classes: {', '.join(dataset.label_names)}")
    gen = train_model(dataset, model_config, train_config, tok_config)
    bar = None
    try:
        from tqdm import tqdm

        while True:
            ev = next(gen)
            if isinstance(ev, PhaseEvent) and bar is None:
                log(ev.message)
            elif isinstance(ev, StepEvent):
                if bar is None and not args.quiet:
                    bar = tqdm(total=ev.total_steps, file=sys.stderr, unit="step", dynamic_ncols=True)
                if bar is not None:
                    bar.update(1)
                    if ev.step % 10 == 0:
                        bar.set_postfix(epoch=ev.epoch, loss=f"{ev.loss:.3f}", tok_s=f"{ev.tokens_per_s:,.0f}")
            elif isinstance(ev, EpochEvent):
                msg = (f"epoch {ev.epoch}: train loss {ev.train_loss:.4f} acc {ev.train_accuracy:.4f} | "
                       f"val loss {ev.val_loss:.4f} acc {ev.val_accuracy:.4f} f1 {ev.val_macro_f1:.4f}"
                       + (" *" if ev.improved else ""))
                if bar is not None:
                    bar.write(msg, file=sys.stderr)
                else:
                    log(msg)
            elif isinstance(ev, FinishedEvent) and bar is not None:
                bar.close()
                bar = None
    except StopIteration as stop:
        model = stop.value
    finally:
        if bar is not None:
            bar.close()
    save_model(model, out)
    fin = model.metrics["finished"]
    test = model.metrics.get("test") or {}
    summary = {
        "out": str(out),
        "model": args.model,
        "test_accuracy": test.get("accuracy"),
        "test_macro_f1": test.get("macro_f1"),
        "best_epoch": fin["best_epoch"],
        "epochs_run": fin["epochs_run"],
        "training_time_s": round(fin["training_time_s"], 2),
        "tokens_per_s": round(fin["tokens_per_s"]),
        "parameters": fin["num_parameters"],
    }
    log(f"saved {out}: test accuracy {summary['test_accuracy']:.4f}, macro F1 {summary['test_macro_f1']:.4f}, "
        f"{summary['training_time_s']:.1f} s")
    print(json.dumps(summary))
    return 0


def cmd_evaluate(args) -> int:
    from core.data import Split
    from core.modelfile import load_model

    model = load_model(args.model_file)
    dataset = _load(args)
    split = dataset[args.split]
    split = Split(split.texts, model.align_labels(dataset.label_names)[split.labels], split.extra)
    result = model.evaluate(split)
    summary = result.summary()
    summary.update(split=args.split, data=args.data, model_file=str(args.model_file))
    print(json.dumps(_finite(summary)))
    return 0


def _finite(x):
    """JSON has no NaN: replace non-finite floats with null."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_finite(v) for v in x]
    return x


def _read_texts(args) -> list[str]:
    if args.texts:
        texts = list(args.texts)
        for t in texts:
            try:
                t.encode("utf-8")
            except UnicodeEncodeError as e:
                raise StudioError("a text argument is not valid UTF-8") from e
        return texts
    if sys.stdin is None or sys.stdin.isatty():
        raise StudioError("give texts as arguments, or one per line on standard input")
    raw = sys.stdin.buffer.read()
    try:
        data = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise StudioError(f"standard input is not UTF-8 text (bad byte at offset {e.start})") from e
    return [line for line in data.split("\n") if line.strip()]


def trace_to_dict(trace, digits: int = 5) -> dict:
    return {
        "tokens": trace.tokens,
        "offsets": trace.offsets.tolist(),
        "prefix_probabilities": [
            {n: round(float(v), digits) for n, v in zip(trace.label_names, row, strict=True)}
            for row in trace.prefix_probabilities
        ],
        "cells": [
            {"layer": c.layer, "direction": "forward" if c.direction == 0 else "backward",
             **{name: v.round(digits).tolist() for name, v in c.values.items()}}
            for c in trace.cells
        ],
    }


def cmd_predict(args) -> int:
    from core.modelfile import load_model

    model = load_model(args.model_file)
    texts = _read_texts(args)
    if not texts:
        raise StudioError("no text to predict")
    for pred in model.predict(texts):
        row = pred.to_dict()
        if args.gates:
            row.update(trace_to_dict(model.trace(pred.text)))
        print(json.dumps(row, ensure_ascii=False))
    return 0


def cmd_info(args) -> int:
    from core.modelfile import read_info

    print(json.dumps(_finite(read_info(args.model_file)), indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if args.command == "predict" and rest and not any(r.startswith("-") for r in rest):
        args.texts = [*args.texts, *rest]  # texts after an option: predict FILE --gates "text"
    elif rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    commands = {"train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict, "info": cmd_info}
    try:
        return commands[args.command](args)
    except StudioError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("cancelled", file=sys.stderr)
        return EXIT_CANCELLED
    except BrokenPipeError:
        return 0
    except Exception as e:
        if args.debug:
            raise
        print(f"internal error: {type(e).__name__}: {e} (run with --debug for details)", file=sys.stderr)
        return EXIT_ERROR
