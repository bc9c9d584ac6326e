"""``train`` and ``sweep``: training from the command line, its progress on stderr, each run recorded in
the run store, ``train`` under torchrun (several processes, one model), and ``train --repeat N`` and
``--folds K``: one setting trained several times, kept as one group (each run a model file of its own,
``--out``'s name with ``-seed<S>`` or ``-fold<K>``, and a run in the store carrying ``Run.group``; the one
JSON object printed at the end is the summary with the runs and the group's mean ± sd)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sys
from pathlib import Path

from cli.flags import add_setting_flags, configs_from, data_args, load_data, to_stderr
from core.errors import StudioError


def register(subparsers) -> None:
    from core.config import DataConfig, ModelConfig, RepeatConfig, TokenizerConfig, TrainConfig

    tr = subparsers.add_parser("train", help="train a model and save it to a file")
    data_args(tr)
    tr.add_argument("--out", required=True, metavar="FILE", help="model file to write (.safetensors)")
    tr.add_argument("--quiet", action="store_true", help="no progress bar")
    tr.add_argument("--no-record", action="store_true",
                    help="don't keep this run in the run store (see `runs list`)")
    add_setting_flags(tr, DataConfig, "data")
    add_setting_flags(tr, ModelConfig, "model")
    add_setting_flags(tr, TokenizerConfig, "tokenizer")
    add_setting_flags(tr, TrainConfig, "training")
    add_setting_flags(tr, RepeatConfig, "repeats (each run its own model file: --out's name with -seed<S> or -fold<K>)")
    tr.set_defaults(func=cmd_train)

    sw = subparsers.add_parser("sweep", help="train one run per combination of setting values (kept in the run store)")
    data_args(sw)
    sw.add_argument("--grid", action="append", required=True, metavar="SETTING=V1,V2",
                    help="values to try for one setting, e.g. hidden_size=64,128 or kind=lstm,rnn (repeatable: "
                         "the runs are every combination)")
    sw.add_argument("--quiet", action="store_true", help="no progress bar")
    add_setting_flags(sw, DataConfig, "data (loaded once: the same for every run, never in a --grid)")
    add_setting_flags(sw, ModelConfig, "model (fixed for every run unless in a --grid)")
    add_setting_flags(sw, TokenizerConfig, "tokenizer")
    add_setting_flags(sw, TrainConfig, "training")
    sw.set_defaults(func=cmd_sweep)


def _check_out_path(out: str, data: str) -> Path:
    """The model file to write, checked before any work (see ``core.files.check_destination``)."""
    from core.store.modelfile import check_model_destination

    return check_model_destination(out, data)


class _Progress:
    """The training events as a tqdm bar and one line per epoch on stderr."""

    def __init__(self, quiet: bool) -> None:
        self.quiet, self.bar = quiet, None
        self.log = (lambda *a: None) if quiet else to_stderr

    def __call__(self, event) -> None:
        from core.events import EpochEvent, FinishedEvent, PhaseEvent, StepEvent

        if isinstance(event, PhaseEvent) and event.phase == "warning":
            (self.bar.write if self.bar is not None else to_stderr)(f"warning: {event.message}")  # even with --quiet
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
    from core.config import DataConfig, ModelConfig, RepeatConfig, TokenizerConfig, TrainConfig

    out = _check_out_path(args.out, args.data)
    data_config, model_config, tok_config, train_config, repeats = configs_from(
        args, DataConfig, ModelConfig, TokenizerConfig, TrainConfig, RepeatConfig)
    if repeats.repeat > 1 or repeats.folds:
        if distributed.launched_size() > 1:
            raise StudioError("--repeat and --folds run in one process, not under torchrun: run `main.py train` "
                              "without torchrun, or torchrun it once per seed or fold")
        return train_group(args, out, data_config, (model_config, tok_config, train_config), repeats)
    world = distributed.start(train_config.device)  # under torchrun: one process of several (else a world of one)
    try:
        return _train_command(args, out, data_config, (model_config, tok_config, train_config), world)
    finally:
        distributed.finish(world)


def _train_command(args, out: Path, data_config, configs: tuple, world) -> int:
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
        world, lambda: load_data(args, to_stderr if world.main else lambda _note: None, **data_config.to_dict()),
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
    if recorder is not None and recorder.lost is None:
        model.info.run_id = recorder.run_id  # the file names its run
    try:
        save_model(model, out)  # checks again: the file system may have changed during training
    finally:
        distributed.barrier(world)
    if recorder is not None:
        _keep(recorder, model, out)
        recorder.store.close()
    summary = run_summary(out, recorder, model)
    progress.log(f"saved {out}: {scores_text(model)}, {summary['training_time_s']:.1f} s")
    print(json.dumps(summary))
    return 0


def run_summary(out: Path, recorder, model) -> dict:
    """What ``train`` prints of one trained model (a JSON object on stdout)."""
    fin, test = model.record.finished, model.record.test
    return {
        "out": str(out),
        "run_id": recorder.run_id if recorder is not None and recorder.lost is None else None,
        "model": model.kind,
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


def scores_text(model) -> str:
    test = model.record.test
    return (f"test accuracy {test.accuracy:.4f}, macro F1 {test.macro_f1:.4f}" if test
            else "no test score (the run was cancelled or the test split is empty)")


def _train_one(dataset, configs: tuple, progress: _Progress, recorder, vectors_cache: dict | None = None) -> object:
    """Train one model (``configs``: model, tokenizer, train), showing progress and feeding ``recorder``
    (or None); a run that stops is recorded as cancelled or failed. The trained ``SentimentModel``.
    ``vectors_cache``: see ``core.train.pipeline.train_model``."""
    from core.events import run_to_end
    from core.store.runs import StoreError
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
            checkpoint = recorder.model_file()
        except StoreError as e:
            to_stderr(f"note: the run store can't keep this run's best epoch as it trains ({e})")
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


def _start_recording(dataset, model_config, tok_config, train_config, store=None, name: str = "",
                     sweep: dict | None = None, group: dict | None = None):
    """Open the run store (unless given) and record the start of this run: its ``RunRecorder``, or None with
    a note when the run can't be kept. The store failing later stops the recording, never the training."""
    from core.store.runs import RunRecorder, RunStore, StoreError, begin_run

    try:
        if store is None:
            store = RunStore()
            for note in store.notes:
                to_stderr(f"note: {note}")
        run_id = begin_run(store, dataset, name or model_config.kind.upper(), model_config, tok_config, train_config,
                           sweep, group)
    except StoreError as e:
        to_stderr(f"note: this run is not kept in the run store: {e}")
        return None
    return RunRecorder(store, run_id, on_lost=lambda message: to_stderr(f"note: {message}"))


def _keep(recorder, model, out: Path | None) -> str | None:
    """Keep ``model`` as the recorded run's model file in the store; the kept path, or None (said) when the
    store lost the run or can't take the file, then recording ``out`` (the model saved there) instead."""
    if recorder.lost is not None:
        return None  # said when it was lost
    from core.errors import ModelFileError
    from core.store.runs import StoreError

    try:
        return recorder.keep(model)
    except (StoreError, ModelFileError) as e:  # no file for it in the store, or the copy can't be written
        if out is None:
            to_stderr(f"note: run {recorder.run_id}'s model is not kept in the run store ({e})")
            recorder.ended(e)
            return None
        to_stderr(f"note: the run store could not keep a copy of the model ({e}); it records {out} instead")
        recorder.finished(model, str(out))
        if recorder.kept_file is not None:  # the best epoch kept while training: the run's own file
            with contextlib.suppress(OSError):
                recorder.kept_file.unlink(missing_ok=True)
        return None


def cmd_sweep(args) -> int:
    """Every combination of the --grid values, trained one after another and kept in the run store (a store
    that can't be used is said, and the sweep trains anyway)."""
    from core import distributed
    from core.config import DataConfig, ModelConfig, TokenizerConfig, TrainConfig
    from core.settings import shown
    from core.store.runs import RunStore, StoreError
    from core.train.sweep import check_runs, new_sweep_id, parse_grid, plan_grid, seed_groups

    if distributed.launched_size() > 1:  # every process would train the whole grid and record it again
        raise StudioError("sweep runs in one process, not under torchrun: run `main.py sweep` without torchrun, or "
                          "torchrun `main.py train` once per combination")
    data_config, *base = configs_from(args, DataConfig, ModelConfig, TokenizerConfig, TrainConfig)
    plans = plan_grid(base, parse_grid(args.grid))
    check_runs([(values, [model], train) for values, (model, _, train) in plans])  # devices, vectors: before training
    sweep_id = new_sweep_id()
    groups = seed_groups([values for values, _ in plans], sweep_id)
    try:
        store = RunStore()
    except StoreError as e:
        to_stderr(f"note: these runs are not kept in the run store: {e}")
        store = None
    for note in store.notes if store is not None else ():
        to_stderr(f"note: {note}")
    progress = _Progress(args.quiet)
    progress.log(f"loading {args.data} ...")
    dataset = load_data(args, to_stderr, **data_config.to_dict())
    vectors: dict = {}  # read once per vocabulary, not once per run
    for i, ((values, configs), group) in enumerate(zip(plans, groups, strict=True), 1):
        model_config, tok_config, train_config = configs
        label = ", ".join(f"{k}={shown(v)}" for k, v in values.items())
        progress.log(f"run {i}/{len(plans)}: {label}")
        member = group and {**group, "id": f"{group['id']}:{model_config.kind}"}
        recorder = None if store is None else _start_recording(
            dataset, model_config, tok_config, train_config, store, f"{model_config.kind.upper()} {label}",
            {"id": sweep_id, "values": values}, member)
        model = _train_one(dataset, configs, progress, recorder, vectors)
        model.info.group = member  # its model file says which group it is one of
        kept = None
        if recorder is not None:
            try:
                kept = _keep(recorder, model, None)
            except BaseException as e:
                recorder.ended(e)  # its best epoch stays the run's model file
                raise
        test = model.record.test
        print(json.dumps({"run_id": recorder.run_id if kept is not None else None, **values,
                          "test_accuracy": test.accuracy if test else None,
                          "test_macro_f1": test.macro_f1 if test else None, "model_path": kept}), flush=True)
    if store is not None:
        store.close()
    return 0


def member_path(out: Path, kind: str, value: int) -> Path:
    """The model file of one run of a group: ``model.safetensors`` -> ``model-seed2.safetensors``, ``-fold3``."""
    return out.with_name(f"{out.stem}-{'seed' if kind == 'seeds' else 'fold'}{value}{out.suffix}")


def train_group(args, out: Path, data_config, configs: tuple, repeats) -> int:
    from core.data.folds import check_folds, fold_dataset
    from core.store.modelfile import check_model_destination, save_model
    from core.train.sweep import check_runs, new_sweep_id

    model_config, tok_config, train_config = configs
    kind = "folds" if repeats.folds else "seeds"
    n = repeats.folds or repeats.repeat
    # seeds: the training seed and the ones after it; folds: 1..K in the names, 0..K-1 in the records
    values = list(range(1, n + 1)) if kind == "folds" else list(range(train_config.seed, train_config.seed + n))
    if kind == "seeds" and values[-1] > 2**31 - 1:
        raise StudioError(f"--seed {train_config.seed} with --repeat {n} goes past the largest seed, 2147483647")
    outs = [check_model_destination(member_path(out, kind, v), args.data) for v in values]
    check_runs([({}, [model_config], train_config)])  # the device and the vectors file, before any training
    progress = _Progress(args.quiet)
    progress.log(f"loading {args.data} ...")
    if kind == "folds":  # nothing carved: the folds are the test splits, validation is carved from each fold's rest
        pool = load_data(args, to_stderr, split_seed=data_config.split_seed, validation_fraction=0.0,
                         test_fraction=0.0)
        check_folds(pool, n)
    else:
        dataset = load_data(args, to_stderr, **data_config.to_dict())
    group_id = f"{new_sweep_id()}:{model_config.kind}"
    store, runs, vectors = None, [], {}
    try:
        for index, (value, path) in enumerate(zip(values, outs, strict=True)):
            if kind == "folds":
                dataset = fold_dataset(pool, n, index, data_config.validation_fraction)
                config = train_config
                progress.log(f"fold {value} of {n}: training on {len(dataset['train']):,} rows, testing on "
                             f"{len(dataset['test']):,}")
            else:
                config = dataclasses.replace(train_config, seed=value)
                progress.log(f"seed {value} ({index + 1} of {n})")
            group = {"id": group_id, "kind": kind, "n": n, "index": index,
                     **({"fold": index} if kind == "folds" else {"seed": value})}
            recorder = None
            if not args.no_record:
                recorder = _start_recording(dataset, model_config, tok_config, config, store,
                                            f"{model_config.kind.upper()} {kind[:-1]} {value}", group=group)
                store = recorder.store if recorder is not None else store
            model = _train_one(dataset, (model_config, tok_config, config), progress, recorder, vectors)
            if recorder is not None and recorder.lost is None:
                model.info.run_id = recorder.run_id
            model.info.group = group
            save_model(model, path)
            if recorder is not None:
                _keep(recorder, model, path)
            progress.log(f"saved {path}: {scores_text(model)}")
            runs.append(run_summary(path, recorder, model) | {kind[:-1]: value})
    finally:
        if store is not None:
            store.close()
    print(json.dumps(group_summary(runs, kind, group_id)))
    return 0


def group_summary(runs: list[dict], kind: str, group_id: str) -> dict:
    """``train``'s summary of a group: the first run's keys where they are one for all (model, parameters),
    the means where they are per run, every run under "runs", and "group" (the contract of issue 28:
    kind, n, accuracy_mean, accuracy_sd, accuracies, with the macro-F1 alike; "seeds" lists the seeds, "folds"
    the fold numbers as the files name them, 1..K, where the records count from 0)."""
    from core.uncertainty import summarize

    accuracies = [r["test_accuracy"] for r in runs]
    f1s = [r["test_macro_f1"] for r in runs]
    scored = all(a is not None for a in accuracies)
    acc = summarize(accuracies, kind) if scored else None
    f1 = summarize(f1s, kind) if scored else None
    first = runs[0]

    def finite(x: float | None) -> float | None:
        return None if x is None or x != x else x

    return {
        "out": [r["out"] for r in runs],
        "run_id": [r["run_id"] for r in runs],
        "model": first["model"],
        "test_accuracy": acc.mean if acc else None,
        "test_macro_f1": f1.mean if f1 else None,
        "training_time_s": round(sum(r["training_time_s"] for r in runs), 2),
        "parameters": first["parameters"],
        "vectors": first["vectors"],
        "world_size": first["world_size"],
        "runs": runs,
        "group": {
            "id": group_id, "kind": kind, "n": len(runs),
            "accuracy_mean": acc.mean if acc else None, "accuracy_sd": finite(acc.sd) if acc else None,
            "accuracy_min": acc.low if acc else None, "accuracy_max": acc.high if acc else None,
            "accuracies": accuracies,
            "macro_f1_mean": f1.mean if f1 else None, "macro_f1_sd": finite(f1.sd) if f1 else None,
            "macro_f1s": f1s,
            (kind[:-1] + "s"): [r[kind[:-1]] for r in runs],
        },
    }
