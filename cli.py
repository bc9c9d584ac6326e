"""The headless command line: ``train``, ``evaluate``, ``predict``, ``info`` and ``export``.

A face of the app like ``gui/``: it parses arguments, drives the core's tasks and prints. Every
setting flag of ``train`` is generated from the config dataclasses' field metadata
(``core.settings``), the same source the Train screen's form is built from. Every user-caused
problem ends with one line on stderr and a non-zero exit status, never a traceback; results go to
stdout as JSON so scripts can read them.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from core.errors import ColumnError, StudioError, one_line

EXIT_ERROR, EXIT_USAGE, EXIT_CANCELLED, EXIT_TERMINATED = 1, 2, 130, 143
MAX_LINE_BYTES = 16 << 20  # one text of standard input; `predict < /dev/zero` ends here
PREDICT_CHUNK = 1000  # texts predicted at a time from standard input
SPLIT_SEED_HELP = (
    "seed for carving validation/test rows from train when the data has no such split (default: %(default)s); "
    "separate from --seed, so models trained with different seeds are tested on the same rows"
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one clear line instead of the usage block
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def _in_range(typ: type, lo: float, hi: float):
    """An argparse type: ``typ`` of the text, refused outside [lo, hi] (the setting's range)."""
    from core.settings import shown

    def parse(text: str):
        value = typ(text)
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{text} is outside {shown(lo)} to {shown(hi)}")
        return value
    parse.__name__ = typ.__name__  # argparse names the type in "invalid int value" messages
    return parse


def add_setting_flags(parser: argparse.ArgumentParser, config_cls: type, title: str) -> None:
    """One flag per user-facing field of ``config_cls`` (see ``core.settings``): its name, default,
    choices, range and help all come from the field, as the Train screen's form does."""
    from core.settings import settings_of, shown

    group = parser.add_argument_group(title)
    for f in settings_of(config_cls):
        s, kwargs = f.setting, {"dest": f"{config_cls.__name__}.{f.name}", "default": f.default}
        helptext = s.summary.replace("%", "%%")
        if s.choices and s.open_choices:
            helptext += f" E.g. {', '.join(s.choices)}."
        if s.range is not None:
            helptext += f" Range {shown(s.range[0])} to {shown(s.range[1])}."
        helptext += " (default: %(default)s)"
        if isinstance(f.default, bool):
            group.add_argument(f.flag, action=argparse.BooleanOptionalAction, help=helptext, **kwargs)
            continue
        if s.choices and not s.open_choices:
            kwargs["choices"] = s.choices
        else:
            kwargs["metavar"] = "PATH" if s.path else f.name.upper()
        typ = type(f.default)
        kwargs["type"] = _in_range(typ, *s.range[:2]) if s.range is not None else typ
        group.add_argument(f.flag, help=helptext, **kwargs)


def configs_from(args: argparse.Namespace, *config_classes: type) -> list:
    """The config objects ``add_setting_flags`` flags describe, in the order asked."""
    from core.settings import settings_of

    out = []
    for cls in config_classes:
        values = {f.name: getattr(args, f"{cls.__name__}.{f.name}") for f in settings_of(cls)}
        out.append(cls(**values))
    return out


def build_parser() -> argparse.ArgumentParser:
    from core.config import ExplainConfig, ModelConfig, TokenizerConfig, TrainConfig

    p = _Parser(prog="main.py", description="Sentiment Studio: train, evaluate and inspect recurrent sentiment models.")
    p.add_argument("--debug", action="store_true", help="show full tracebacks for unexpected errors")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def data_args(q: argparse.ArgumentParser) -> None:
        q.add_argument("--data", required=True, metavar="SOURCE",
                       help="a Hub name (imdb, glue:sst2), a CSV/TSV/JSON/Parquet file or folder, or builtin:longrange")
        q.add_argument("--text-column", help="name of the text column (detected when omitted)")
        q.add_argument("--label-column", help="name of the label column (detected when omitted)")

    tr = sub.add_parser("train", help="train a model and save it to a file")
    data_args(tr)
    tr.add_argument("--split-seed", type=int, default=0, help=SPLIT_SEED_HELP)
    tr.add_argument("--out", required=True, metavar="FILE", help="model file to write (.safetensors)")
    tr.add_argument("--quiet", action="store_true", help="no progress bar")
    tr.add_argument("--no-record", action="store_true",
                    help="don't keep this run in the run store (see `runs list`)")
    add_setting_flags(tr, ModelConfig, "model")
    add_setting_flags(tr, TokenizerConfig, "tokenizer")
    add_setting_flags(tr, TrainConfig, "training")

    ev = sub.add_parser("evaluate", help="score a model file on a dataset split (JSON on stdout)")
    ev.add_argument("model_file", metavar="FILE")
    data_args(ev)
    ev.add_argument("--split", choices=("train", "validation", "test"), default="test")
    ev.add_argument("--split-seed", type=int, default=None,
                    help="seed for carving missing splits (default: the one the model file records, so a carved "
                         "test split holds none of its training rows)")
    # Before 0.2, evaluate's --seed chose the carve. Now the model file records its carve; an old
    # script's --seed is accepted and, with a note, left to the record (following it would re-create
    # the very mismatch the record prevents).
    ev.add_argument("--seed", dest="legacy_seed", type=int, default=None, help=argparse.SUPPRESS)

    pr = sub.add_parser("predict", help="predict texts (arguments, or stdin one per line); JSON lines on stdout")
    pr.add_argument("model_file", metavar="FILE")
    pr.add_argument("texts", nargs="*", metavar="TEXT")
    pr.add_argument("--gates", action="store_true", help="add tokens and the per-token gate trace")
    pr.add_argument("--explain", action="store_true",
                    help="add word attributions toward the predicted class: tokens, offsets, attributions, words "
                         "(and delta, Integrated Gradients' completeness error)")
    pr.add_argument("--target", metavar="CLASS", help="with --explain: attribute toward this class (a name the "
                                                      "model knows) instead of the predicted one")
    add_setting_flags(pr, ExplainConfig, "attributions (with --explain)")

    inf = sub.add_parser("info", help="show a model file's config, metrics and versions (JSON)")
    inf.add_argument("model_file", metavar="FILE")

    sw = sub.add_parser("sweep", help="train one run per combination of setting values (kept in the run store)")
    data_args(sw)
    sw.add_argument("--split-seed", type=int, default=0, help=SPLIT_SEED_HELP)
    sw.add_argument("--grid", action="append", required=True, metavar="SETTING=V1,V2",
                    help="values to try for one setting, e.g. hidden_size=64,128 or kind=lstm,rnn (repeatable: "
                         "the runs are every combination)")
    sw.add_argument("--quiet", action="store_true", help="no progress bar")
    add_setting_flags(sw, ModelConfig, "model (fixed for every run unless in a --grid)")
    add_setting_flags(sw, TokenizerConfig, "tokenizer")
    add_setting_flags(sw, TrainConfig, "training")

    runs = sub.add_parser("runs", help="the run store: every training run kept (list, show, delete, export)")
    runs_sub = runs.add_subparsers(dest="runs_command", required=True, parser_class=_Parser)
    rl = runs_sub.add_parser("list", help="every run, newest first")
    rl.add_argument("--json", action="store_true", help="one JSON array of objects")
    rs = runs_sub.add_parser("show", help="one run: settings, metrics, curves")
    rs.add_argument("run_id", type=int, metavar="ID")
    rs.add_argument("--json", action="store_true", help="as JSON")
    rd = runs_sub.add_parser("delete", help="delete a run and the model file kept for it")
    rd.add_argument("run_id", type=int, metavar="ID")
    re_ = runs_sub.add_parser("export", help="a run's curves as CSV, its record as JSON and its model file")
    re_.add_argument("run_id", type=int, metavar="ID")
    re_.add_argument("--out", required=True, metavar="FOLDER", help="folder to write (created; must not exist)")

    ex = sub.add_parser("export", help="write a bundle that runs without PyTorch: ONNX model, tokenizer, model card")
    ex.add_argument("model_file", metavar="FILE")
    ex.add_argument("--out", required=True, metavar="FOLDER", help="the bundle's folder (created)")
    ex.add_argument("--force", action="store_true", help="replace the folder if it exists and is not empty")
    return p


def _load(args, split_seed: int, log, fractions: tuple[float, float] | None = None, min_classes: int = 2):
    from core.data import TEST_FRACTION, VALIDATION_FRACTION, load_dataset

    validation_fraction, test_fraction = fractions or (VALIDATION_FRACTION, TEST_FRACTION)
    dataset = load_dataset(args.data, text_column=args.text_column, label_column=args.label_column,
                           split_seed=split_seed, validation_fraction=validation_fraction,
                           test_fraction=test_fraction, min_classes=min_classes)
    for note in dataset.notes:
        log(f"note: {note}")
    return dataset


def _check_out_path(out: str, data: str) -> Path:
    """The model file to write, checked before any work (see ``core.files.check_destination``)."""
    from core.store.modelfile import check_model_destination

    return check_model_destination(out, data)


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr)


class _Progress:
    """The training events as a tqdm bar and one line per epoch on stderr."""

    def __init__(self, quiet: bool) -> None:
        self.quiet, self.bar = quiet, None
        self.log = (lambda *a: None) if quiet else _stderr

    def __call__(self, event) -> None:
        from core.events import EpochEvent, FinishedEvent, PhaseEvent, StepEvent

        if isinstance(event, PhaseEvent) and event.phase == "warning":
            (self.bar.write if self.bar is not None else _stderr)(f"warning: {event.message}")  # even with --quiet
        elif isinstance(event, PhaseEvent) and self.bar is None:
            self.log(event.message)
        elif isinstance(event, PhaseEvent) and event.phase == "vocabulary" and not self.quiet:
            self.bar.write(event.message, file=sys.stderr)  # after the last epoch: what the vectors' words did
        elif isinstance(event, StepEvent):
            if self.bar is None and not self.quiet:
                from tqdm import tqdm

                self.bar = tqdm(total=event.total_steps, file=sys.stderr, unit="step", dynamic_ncols=True)
            if self.bar is not None:
                self.bar.update(1)
                if event.step % 10 == 0:
                    self.bar.set_postfix(epoch=event.epoch, loss=f"{event.loss:.3f}",
                                         tok_s=f"{event.tokens_per_s:,.0f}")
        elif isinstance(event, EpochEvent):
            msg = (f"epoch {event.epoch}: train loss {event.train_loss:.4f} acc {event.train_accuracy:.4f} | "
                   f"val loss {event.val_loss:.4f} acc {event.val_accuracy:.4f} f1 {event.val_macro_f1:.4f}"
                   + (" *" if event.improved else ""))
            if self.bar is not None:
                self.bar.write(msg, file=sys.stderr)
            else:
                self.log(msg)
        elif isinstance(event, FinishedEvent):
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def cmd_train(args) -> int:
    from core import distributed
    from core.config import ModelConfig, TokenizerConfig, TrainConfig

    out = _check_out_path(args.out, args.data)
    model_config, tok_config, train_config = configs_from(args, ModelConfig, TokenizerConfig, TrainConfig)
    world = distributed.start(train_config.device)  # under torchrun: one process of several (else a world of one)
    try:
        return _train_command(args, out, (model_config, tok_config, train_config), world)
    finally:
        distributed.finish(world)


def _train_command(args, out: Path, configs: tuple, world) -> int:
    """``train`` in this process; under torchrun only rank 0 prints, records the run and writes the file,
    and the others wait for it at a barrier."""
    from core import distributed
    from core.data import arrow_file
    from core.store.modelfile import save_model

    model_config, tok_config, train_config = configs
    if world.distributed:
        train_config = dataclasses.replace(train_config, device=distributed.training_device(world, train_config.device))
    progress = _Progress(args.quiet or not world.main)
    progress.log(f"loading {args.data} ..." + (f" (process 1 of {world.size}, {world.backend})" if world.distributed
                                                else ""))
    # notes are shown even with --quiet; a file for the Arrow cache is converted once, by rank 0
    dataset = distributed.first_on_rank0(
        world, lambda: _load(args, args.split_seed, _stderr if world.main else lambda _note: None),
        when=arrow_file(args.data))
    progress.log("splits: " + ", ".join(f"{s} {len(dataset[s]):,}" for s in dataset.splits)
                 + f"; classes: {', '.join(dataset.label_names)}")
    recording = not args.no_record and world.main
    recorder = _start_recording(dataset, model_config, tok_config, train_config) if recording else None
    model = _train_one(dataset, (model_config, tok_config, train_config), progress, recorder)
    if not world.main:
        # Wait for rank 0's file (up to distributed.TIMEOUT_S). Leaving the group while rank 0 still uses it
        # aborted a rank ("terminate called without an active exception") in 2 of 8 runs on a busy machine.
        distributed.barrier(world)
        return 0
    if recorder is not None:
        model.info.run_id = recorder.run_id  # the file names its run
    try:
        save_model(model, out)  # checks again: the file system may have changed during training
    finally:
        distributed.barrier(world)
    if recorder is not None:
        try:
            recorder.keep(model)
        except (StudioError, OSError) as e:  # the model is saved at --out; the store keeps its record anyway
            _stderr(f"note: the run store could not keep a copy of the model ({e}); it records {out} instead")
            recorder.finished(model, str(out))
            with contextlib.suppress(OSError):
                recorder.store.model_file(recorder.run_id).unlink(missing_ok=True)  # the best epoch kept while training
    fin, test = model.record.finished, model.record.test
    summary = {
        "out": str(out),
        "run_id": recorder.run_id if recorder is not None else None,
        "model": model_config.kind,
        "test_accuracy": test.accuracy if test else None,
        "test_macro_f1": test.macro_f1 if test else None,
        "best_epoch": fin.best_epoch,
        "epochs_run": fin.epochs_run,
        "training_time_s": round(fin.training_time_s, 2),
        "tokens_per_s": round(fin.tokens_per_s or 0),
        "parameters": fin.num_parameters,
        "vectors": model.info.vectors,
        "world_size": model.info.world_size,
    }
    scores = (f"test accuracy {test.accuracy:.4f}, macro F1 {test.macro_f1:.4f}" if test
              else "no test score (the run was cancelled or the test split is empty)")
    progress.log(f"saved {out}: {scores}, {summary['training_time_s']:.1f} s")
    print(json.dumps(summary))
    return 0


def _train_one(dataset, configs: tuple, progress: _Progress, recorder, vectors_cache: dict | None = None) -> object:
    """Train one model (``configs``: model, tokenizer, train), showing progress and feeding ``recorder``
    (or None); a run that stops is recorded as cancelled or failed. The trained ``SentimentModel``.
    ``vectors_cache``: see ``core.train.pipeline.train_model``."""
    from core.events import run_to_end
    from core.train.pipeline import train_model

    model_config, tok_config, train_config = configs

    def on_event(event) -> None:
        progress(event)
        if recorder is not None:
            recorder(event)

    # A recorded run keeps its best epoch so far as its model file: a killed or stopped run loses at most the
    # epoch in progress, and the finished model replaces it there (atomically) when the run is kept.
    checkpoint = None
    if recorder is not None:
        try:
            checkpoint = recorder.store.model_file(recorder.run_id)
        except OSError as e:
            _stderr(f"note: the run store can't keep this run's best epoch as it trains ({e.strerror or e})")
    try:
        events = train_model(dataset, model_config, train_config, tok_config, checkpoint_path=checkpoint,
                             remove_checkpoint=False, vectors_cache=vectors_cache)
        return run_to_end(events, on_event).model
    except BaseException as e:
        if recorder is not None:
            recorder.ended(e)
        raise
    finally:
        progress.close()


def _start_recording(dataset, model_config, tok_config, train_config):
    """Open the run store and record the start of this run (None, with a note, when it can't be kept)."""
    from core.store.runs import RunRecorder, RunStore, StoreError, begin_run

    try:
        store = RunStore()
        for note in store.notes:
            _stderr(f"note: {note}")
        name = model_config.kind.upper()
        return RunRecorder(store, begin_run(store, dataset, name, model_config, tok_config, train_config))
    except StoreError as e:
        _stderr(f"note: this run is not kept in the run store: {e}")
        return None


def cmd_sweep(args) -> int:
    """Every combination of the --grid values, trained one after another and kept in the run store."""
    from core.config import ModelConfig, TokenizerConfig, TrainConfig
    from core.settings import shown
    from core.store.runs import RunRecorder, RunStore, begin_run
    from core.train.sweep import new_sweep_id, parse_grid, plan_grid

    plans = plan_grid(configs_from(args, ModelConfig, TokenizerConfig, TrainConfig), parse_grid(args.grid))
    sweep_id = new_sweep_id()
    store = RunStore()
    for note in store.notes:
        _stderr(f"note: {note}")
    progress = _Progress(args.quiet)
    progress.log(f"loading {args.data} ...")
    dataset = _load(args, args.split_seed, _stderr)
    vectors: dict = {}  # read once per vocabulary, not once per run
    for i, (values, configs) in enumerate(plans, 1):
        model_config, tok_config, train_config = configs
        label = ", ".join(f"{k}={shown(v)}" for k, v in values.items())
        progress.log(f"run {i}/{len(plans)}: {label}")
        recorder = RunRecorder(store, begin_run(store, dataset, f"{model_config.kind.upper()} {label}", model_config,
                                                tok_config, train_config, {"id": sweep_id, "values": values}))
        model = _train_one(dataset, configs, progress, recorder, vectors)
        try:
            kept = recorder.keep(model)
        except BaseException as e:
            recorder.ended(e)  # its best epoch stays the run's model file
            raise
        test = model.record.test
        print(json.dumps({"run_id": recorder.run_id, **values, "test_accuracy": test.accuracy if test else None,
                          "test_macro_f1": test.macro_f1 if test else None, "model_path": kept}), flush=True)
    return 0


def cmd_runs(args) -> int:
    from core.store.runs import RunStore

    store = RunStore()
    for note in store.notes:
        _stderr(f"note: {note}")
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

        written = export_run(store, args.run_id, args.out)
        print(json.dumps({"out": args.out, "files": written}))
        return 0
    store.delete(args.run_id)
    _stderr(f"deleted run {args.run_id}")
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

    model = load_model(args.model_file)
    if args.legacy_seed is not None:
        _stderr("note: evaluate --seed no longer sets how missing splits are carved: the model file records it "
                "(use --split-seed to override)")
    split_seed = evaluation_split_seed(model, args.split_seed, _stderr)
    rec = model.info.splits
    same_data = rec is not None and model.info.dataset == args.data
    if same_data:  # the same source: redo its carve exactly, with the columns it was trained on
        args.text_column = args.text_column or rec.text_column or None
        args.label_column = args.label_column or rec.label_column or None
    fractions = (rec.validation_fraction, rec.test_fraction) if same_data else None
    dataset = _load(args, split_seed, _stderr, fractions, min_classes=1)  # one class is a fair test
    split = dataset[args.split]
    if len(split) == 0:
        raise StudioError(f"the {args.split} split of {args.data} has no rows (the data holds "
                          f"{sum(len(dataset[s]) for s in dataset.splits)} in all); choose another --split")
    split = Split(split.texts, model.align_labels(dataset.label_names, dataset.label_values)[split.labels],
                  split.extra)
    result = model.evaluate(split)
    summary = result.summary()
    summary.update(split=args.split, data=args.data, model_file=str(args.model_file), split_seed=split_seed)
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

    print(json.dumps(_finite(read_info(args.model_file)), indent=2, allow_nan=False))
    return 0


def cmd_export(args) -> int:
    from core.events import run_to_end
    from core.store.export import export_steps
    from core.store.modelfile import load_model

    model = load_model(args.model_file)
    done = run_to_end(export_steps(model, args.out, force=args.force, model_file=args.model_file))
    print(json.dumps({"out": done.path, "files": sorted(p.name for p in Path(done.path).iterdir())}))
    return 0


def column_hint(error: ColumnError) -> str:
    """How to name the columns on the command line."""
    flags = [f"--{role}-column" for role in ("text", "label") if role in error.missing] or ["--text-column",
                                                                                             "--label-column"]
    return f"name {'them' if len(flags) > 1 else 'it'} with {' and '.join(flags)}"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if args.command == "predict" and rest and not any(r.startswith("-") for r in rest):
        args.texts = [*args.texts, *rest]  # texts after an option: predict FILE --gates "text"
    elif rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    commands = {"train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict, "info": cmd_info,
                "export": cmd_export, "runs": cmd_runs, "sweep": cmd_sweep}
    with _sigterm_as_interrupt():
        return _run(commands[args.command], args)


def _run(command, args) -> int:
    """Run one command; every way it can end becomes one line on stderr and an exit status."""
    from core.text.tokenizer import is_rust_panic

    try:
        return command(args)
    except ColumnError as e:
        print(f"error: {str(e).rstrip('.')}; {column_hint(e)}.", file=sys.stderr)
        return EXIT_ERROR
    except StudioError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except _Terminated:
        print("cancelled (terminated)", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print("cancelled", file=sys.stderr)
        return EXIT_CANCELLED
    except BrokenPipeError:
        return 0
    except BaseException as e:  # the last line of defence: a Rust panic is not an Exception
        if isinstance(e, SystemExit | GeneratorExit) or not (isinstance(e, Exception) or is_rust_panic(e)):
            raise
        if args.debug:
            raise
        detail = one_line(e, 300)
        print(f"internal error: {type(e).__name__}: {detail} (run with --debug for details)", file=sys.stderr)
        return EXIT_ERROR


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so it ends like Ctrl+C: cleanly, saying so."""


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """Treat SIGTERM (``kill``, a scheduler stopping the job) like SIGINT: unwind, say "cancelled"."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise _Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
