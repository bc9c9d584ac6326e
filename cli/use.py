"""Using a model file and the run store: ``evaluate``, ``predict``, ``info``, ``export`` and ``runs``. Results go
to stdout as JSON for scripts to read (``runs list`` as a table unless ``--json``)."""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from cli.flags import (
    _in_range,
    add_setting_flags,
    configs_from,
    data_args,
    flag_type,
    load_as_trained,
    range_help,
    setting_field,
    to_stderr,
)
from core.errors import StudioError

MAX_LINE_BYTES = 16 << 20  # one text of standard input; `predict < /dev/zero` ends here
PREDICT_CHUNK = 1000  # texts predicted at a time from standard input


def register(subparsers) -> None:
    from core.config import DataConfig, ExplainConfig, IntervalConfig

    ev = subparsers.add_parser("evaluate", help="score a model file on a dataset split (JSON on stdout)")
    ev.add_argument("model_file", metavar="FILE")
    data_args(ev)
    ev.add_argument("--split", choices=("train", "validation", "test"), default="test")
    seed = setting_field(DataConfig, "split_seed")  # train's --split-seed, here an override of the file's record
    ev.add_argument("--split-seed", type=flag_type(seed), default=None,
                    help="seed for carving missing splits, overriding the one the model file records (default: the "
                         "record's, so a carved test split holds none of the model's training rows)."
                         + range_help(seed))
    # Before 0.2, evaluate's --seed chose the carve. Now the model file records its carve; an old
    # script's --seed is accepted and, with a note, left to the record (following it would re-create
    # the very mismatch the record prevents).
    ev.add_argument("--seed", dest="legacy_seed", type=int, default=None, help=argparse.SUPPRESS)
    resamples = setting_field(IntervalConfig, "resamples")  # the bootstrap's seed is compare's --seed, here 0
    ev.add_argument("--resamples", type=flag_type(resamples), default=resamples.default,
                    help=resamples.setting.summary + range_help(resamples) + " (default: %(default)s)")
    ev.set_defaults(func=cmd_evaluate)

    # intermixed: texts before, between and after the options; after "--", every argument is a text (one that
    # starts with "-" too: `predict FILE --gates -- "-lrb- ..."`)
    pr = subparsers.add_parser("predict", intermixed=True,
                               help="predict texts (arguments, or stdin one per line); JSON lines on stdout")
    pr.add_argument("model_file", metavar="FILE")
    pr.add_argument("texts", nargs="*", default=[], metavar="TEXT",
                    help='texts to predict (one that starts with "-" goes after "--"); none: one per line on standard '
                         "input")
    pr.add_argument("--gates", action="store_true", help="add tokens and the per-token gate trace")
    pr.add_argument("--explain", action="store_true",
                    help="add word attributions toward the predicted class: tokens, offsets, attributions, words "
                         "(and delta, Integrated Gradients' completeness error)")
    pr.add_argument("--target", metavar="CLASS", help="with --explain: attribute toward this class (a name the "
                                                      "model knows) instead of the predicted one")
    add_setting_flags(pr, ExplainConfig, "attributions (with --explain)")
    pr.set_defaults(func=cmd_predict)

    inf = subparsers.add_parser("info", help="show a model file's config, metrics and versions (JSON)")
    inf.add_argument("model_file", metavar="FILE")
    inf.set_defaults(func=cmd_info)

    runs = subparsers.add_parser("runs", help="the run store: every training run kept (list, show, delete, export)")
    runs.set_defaults(func=cmd_runs)
    runs_sub = runs.add_subparsers(dest="runs_command", required=True)  # its parsers are runs' kind: one-line errors
    rl = runs_sub.add_parser("list", help="every run, newest first")
    rl.add_argument("--json", action="store_true", help="one JSON array of objects")
    run_id = _in_range(int, 1, 2**63 - 1)  # a store's ids: SQLite's 64-bit integers
    rs = runs_sub.add_parser("show", help="one run: settings, metrics, curves")
    rs.add_argument("run_id", type=run_id, metavar="ID")
    rs.add_argument("--json", action="store_true", help="as JSON")
    rd = runs_sub.add_parser("delete", help="delete a run and the model file kept for it")
    rd.add_argument("run_id", type=run_id, metavar="ID")
    re_ = runs_sub.add_parser("export", help="a run's curves as CSV, its record as JSON and its model file")
    re_.add_argument("run_id", type=run_id, metavar="ID")
    re_.add_argument("--out", required=True, metavar="FOLDER", help="folder to write (created; must not exist)")
    re_.add_argument("--without-model", action="store_true",
                     help="leave the model file out: for a run whose model file is gone (refused without this)")

    ex = subparsers.add_parser("export", help="write a bundle that runs without PyTorch: ONNX model, tokenizer, "
                                              "model card")
    ex.add_argument("model_file", metavar="FILE")
    ex.add_argument("--out", required=True, metavar="FOLDER", help="the bundle's folder (created)")
    ex.add_argument("--force", action="store_true",
                    help="replace an earlier bundle in the folder: its own files only; any others stay, named")
    ex.set_defaults(func=cmd_export)


def cmd_runs(args) -> int:
    from core.store.runs import RunStore

    store = RunStore()
    for note in store.notes:
        to_stderr(f"note: {note}")
    if args.runs_command == "list":
        runs = store.runs()
        if args.json:
            print(json.dumps([_finite(r.to_dict()) for r in runs], allow_nan=False))
            return 0
        print(f"{'id':>5}  {'status':<11} {'kind':<5} {'test acc':>8}  {'started':<16}  dataset")
        for r in runs:
            acc = f"{100 * r.test_accuracy:.2f}%" if r.test_accuracy is not None else "-"
            started = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.started))
            print(f"{r.id:>5}  {r.status:<11} {r.kind:<5} {acc:>8}  {started:<16}  {r.dataset}")
        return 0
    if args.runs_command == "show":
        run = store.get(args.run_id)
        d = run.to_dict() | {"epochs": run.epochs, "steps": run.steps}
        print(json.dumps(_finite(d), indent=None if args.json else 2, allow_nan=False))
        return 0
    if args.runs_command == "export":
        from core.store.runs import export_run

        written = export_run(store, args.run_id, args.out, without_model=args.without_model)
        print(json.dumps({"out": args.out, "files": written}))
        return 0
    store.delete(args.run_id)
    to_stderr(f"deleted run {args.run_id}")
    return 0


def evaluation_split_seed(model, asked: int | None, log) -> int:
    """The split seed to carve with: the one asked for, else the model file's; the training seed for old
    files (what the command line carved with then), saying so."""
    if asked is not None:
        return asked
    if model.info.splits is not None:
        return model.info.splits.split_seed
    seed = model.train_config.seed
    log(f"note: this model file does not record how its splits were carved (written before version 0.2); "
        f"carving with its training seed {seed}, as `train` did then (a model trained in the app used 0: pass "
        "--split-seed 0)")
    return seed


def cmd_evaluate(args) -> int:
    from core.data import Split
    from core.store.modelfile import load_model
    from core.uncertainty import confusion_interval

    model = load_model(args.model_file)
    if args.legacy_seed is not None:
        to_stderr("note: evaluate --seed no longer sets how missing splits are carved: the model file records it "
                  "(use --split-seed to override)")
    split_seed = evaluation_split_seed(model, args.split_seed, to_stderr)
    # the same source: redo its carve exactly (shares, columns, fold); one class is a fair test
    same = model.info.splits if model.info.dataset == args.data else None
    dataset = load_as_trained(args, to_stderr, same, split_seed)
    split = dataset[args.split]
    if len(split) == 0:
        raise StudioError(f"the {args.split} split of {args.data} has no rows (the data holds "
                          f"{sum(len(dataset[s]) for s in dataset.splits)} in all); choose another --split")
    split = Split(split.texts, model.align_labels(dataset.label_names, dataset.label_values)[split.labels],
                  split.extra)
    result = model.evaluate(split)
    summary = result.summary()
    interval = confusion_interval(result.confusion, args.resamples)
    summary.update(accuracy_ci=list(interval.accuracy_ci), macro_f1_ci=list(interval.macro_f1_ci),
                   resamples=args.resamples, split=args.split, data=args.data, model_file=str(args.model_file),
                   split_seed=split_seed)
    print(json.dumps(_finite(summary), allow_nan=False))
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


def _texts(args) -> Iterator[list[str]]:
    """The texts to predict, in chunks: the arguments, or standard input streamed line by line, so a
    million lines cost the memory of a thousand and a line with no end (/dev/zero) is refused."""
    if args.texts:
        for t in args.texts:
            try:
                t.encode("utf-8")
            except UnicodeEncodeError as e:
                raise StudioError("a text argument is not valid UTF-8") from e
        yield list(args.texts)
        return
    if sys.stdin is None or sys.stdin.isatty():
        raise StudioError("give texts as arguments, or one per line on standard input")
    chunk: list[str] = []
    for number, raw in enumerate(iter(lambda: sys.stdin.buffer.readline(MAX_LINE_BYTES + 1), b""), 1):
        if len(raw) > MAX_LINE_BYTES:
            raise StudioError(f"line {number} of standard input is longer than {MAX_LINE_BYTES >> 20} MiB")
        try:
            line = raw.decode("utf-8-sig" if number == 1 else "utf-8").rstrip("\r\n")
        except UnicodeDecodeError as e:
            raise StudioError(f"line {number} of standard input is not UTF-8 text (bad byte at column "
                              f"{e.start + 1})") from e
        if line.strip():
            chunk.append(line)
        if len(chunk) == PREDICT_CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


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
    from core.config import ExplainConfig
    from core.inspect.attribution import explain
    from core.store.modelfile import load_model

    model = load_model(args.model_file)
    (explain_config,) = configs_from(args, ExplainConfig)
    target = None
    if not args.explain and (args.target is not None or explain_config != ExplainConfig()):
        raise StudioError("--target, --method and --steps choose what --explain shows: add --explain")
    if args.target is not None:
        target = _class_index(model.label_names, args.target)
    predicted = 0
    for texts in _texts(args):
        for pred in model.predict(texts):
            row = pred.to_dict()
            if args.gates:
                row.update(trace_to_dict(model.trace(pred.text)))
            if args.explain:
                row.update(explain(model, pred.text, explain_config, target).to_dict())  # same tokens as --gates'
            print(json.dumps(_finite(row), ensure_ascii=False, allow_nan=False))
        predicted += len(texts)
    if not predicted:
        raise StudioError("no text to predict")
    return 0


def _class_index(label_names: list[str], wanted: str) -> int:
    lookup = {n.lower(): i for i, n in enumerate(label_names)}
    if wanted.lower() not in lookup:
        raise StudioError(f"--target {wanted!r} is not one of the model's classes ({', '.join(label_names)})")
    return lookup[wanted.lower()]


def cmd_info(args) -> int:
    from core.store.modelfile import read_info

    info = read_info(args.model_file)
    test = info.get("metrics", {}).get("test") if isinstance(info.get("metrics"), dict) else None
    interval = test_interval(test.get("confusion") if isinstance(test, dict) else None)
    if interval is not None:
        info["test_interval"] = interval
    group = info.get("info", {}).get("group") if isinstance(info.get("info"), dict) else None
    if isinstance(group, dict) and isinstance(group.get("id"), str):
        info["group"] = group_of(group)
    print(json.dumps(_finite(info), indent=2, allow_nan=False))
    return 0


def test_interval(confusion) -> dict | None:
    """A model file's test score with its 95% interval (from its confusion matrix), or None when it has none
    (or what it has is not a matrix of counts)."""
    from core.uncertainty import checked_confusion, confusion_interval

    cm = checked_confusion(confusion)
    if cm is None:
        return None
    s = confusion_interval(cm)
    return {"count": s.count, "accuracy": s.accuracy, "accuracy_ci": list(s.accuracy_ci), "macro_f1": s.macro_f1,
            "macro_f1_ci": list(s.macro_f1_ci), "text": s.accuracy_text()}


def group_of(group: dict) -> dict:
    """The group a model file says it is one of, with the group's scores from the run store when it has them."""
    from core.store.groups import group_scores

    out = {k: group.get(k) for k in ("id", "kind", "n", "index", "seed", "fold") if k in group}
    scores = group_scores(group["id"])
    if scores is not None:
        acc, f1 = scores
        out.update(runs_found=acc.n, accuracy_mean=acc.mean, accuracy_sd=acc.sd, accuracy_min=acc.low,
                   accuracy_max=acc.high, accuracies=list(acc.values), macro_f1_mean=f1.mean, macro_f1_sd=f1.sd,
                   text=f"accuracy {acc.text()}")
    return out


def cmd_export(args) -> int:
    from core.events import run_to_end
    from core.store.export import export_steps
    from core.store.modelfile import load_model

    model = load_model(args.model_file)
    done = run_to_end(export_steps(model, args.out, force=args.force, model_file=args.model_file))
    if done.kept:
        to_stderr(f"note: kept what the earlier bundle did not write, in {done.path}: {', '.join(done.kept)}")
    print(json.dumps({"out": done.path, "files": sorted(p.name for p in Path(done.path).iterdir()),
                      "kept": done.kept}))
    return 0
