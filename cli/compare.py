"""``compare``: two or more model files scored on the same rows, each score with its 95% interval, and every
pair's difference with a paired-bootstrap interval, the exact McNemar test and Holm's correction
(``core.uncertainty.compare_rows``). ``--json`` prints one object (the contract of issue 28); without it,
a table and a sentence per pair."""

from __future__ import annotations

import json
from pathlib import Path

from cli.flags import add_setting_flags, configs_from, data_args, load_as_trained, to_stderr
from core.errors import StudioError


def register(subparsers) -> None:
    from core.config import IntervalConfig

    cp = subparsers.add_parser("compare", help="score models on the same rows: intervals, paired differences, "
                                               "McNemar (JSON with --json)")
    cp.add_argument("model_files", nargs="+", metavar="FILE", help="two or more model files")
    data_args(cp)
    cp.add_argument("--split", choices=("train", "validation", "test"), default="test")
    cp.add_argument("--json", action="store_true", help="one JSON object on stdout")
    add_setting_flags(cp, IntervalConfig, "intervals")
    cp.set_defaults(func=cmd_compare)


def carve_of(record) -> tuple:
    """What decides which rows a model trained on a source held out: seed, shares, fold."""
    if record.folds:
        return record.split_seed, record.folds, record.fold
    return record.split_seed, record.validation_fraction, record.test_fraction


def carve_text(record) -> str:
    if record.folds:
        return f"fold {record.fold + 1} of {record.folds}, split seed {record.split_seed}"
    return (f"split seed {record.split_seed}, validation/test shares "
            f"{record.validation_fraction:g}/{record.test_fraction:g}")


def load_for(models: dict, args):
    """The dataset the models are compared on: carved as the ones trained on it were (``load_as_trained``).
    Raises ``StudioError`` when two of them were trained on different carves of it and its split is carved:
    they were not tested on the same rows."""
    ours = [(f, m.info.splits) for f, m in models.items() if m.info.splits is not None and m.info.dataset == args.data]
    first = ours[0][1] if ours else None
    dataset = load_as_trained(args, to_stderr, first, first.split_seed if first else 0)
    differ = next(((f, r) for f, r in ours if carve_of(r) != carve_of(first)), None)
    if differ is not None and args.split in dataset.carved:  # a split of the data's own is the same rows for all
        raise StudioError(f"{ours[0][0]} and {differ[0]} were trained on different carves of {args.data} "
                          f"({carve_text(first)}; {carve_text(differ[1])}): they were not tested on the same rows. "
                          "Compare models trained on one carve (the same split seed and shares, or the same fold)")
    return dataset


def cmd_compare(args) -> int:
    from core.config import IntervalConfig
    from core.data import Split
    from core.store.modelfile import load_model
    from core.uncertainty import compare_rows

    if len(args.model_files) < 2:
        raise StudioError("compare needs two or more model files")
    (intervals,) = configs_from(args, IntervalConfig)
    models = {f: load_model(f) for f in dict.fromkeys(args.model_files)}  # a file given twice is loaded once
    counts = {f: len(m.label_names) for f, m in models.items()}
    if len(set(counts.values())) > 1:  # macro-F1 averages over the classes: 2 and 3 of them are not comparable
        (fa, ca), (fb, cb) = next((a, b) for a in counts.items() for b in counts.items() if a[1] != b[1])
        raise StudioError(f"{fa} has {ca} classes and {fb} {cb}: their scores are not comparable; compare models "
                          "of the same classes")
    classes = next(iter(counts.values()))
    dataset = load_for(models, args)
    split = dataset[args.split]
    if len(split) == 0:
        raise StudioError(f"the {args.split} split of {args.data} has no rows; choose another --split")
    truths, predictions = {}, {}
    for f, model in models.items():
        truth = model.align_labels(dataset.label_names, dataset.label_values)[split.labels]
        _, probs = model.score(Split(split.texts, truth, split.extra))
        truths[f], predictions[f] = truth, probs.argmax(1)
    files = list(args.model_files)
    result = compare_rows([truths[f] for f in files], [predictions[f] for f in files], classes,
                          intervals.resamples, intervals.seed)
    names = model_names(files, models)
    out = {
        "n": result.count, "split": args.split, "data": args.data, "resamples": intervals.resamples,
        "seed": intervals.seed,
        "models": [{"file": f, "name": names[i], "accuracy": s.accuracy, "accuracy_ci": list(s.accuracy_ci),
                    "macro_f1": s.macro_f1, "macro_f1_ci": list(s.macro_f1_ci)}
                   for i, (f, s) in enumerate(zip(files, result.models, strict=True))],
        "pairs": [{"a": files[p.a], "b": files[p.b], "accuracy_diff": p.accuracy_diff,
                   "accuracy_diff_ci": list(p.accuracy_diff_ci), "macro_f1_diff": p.macro_f1_diff,
                   "macro_f1_diff_ci": list(p.macro_f1_diff_ci),
                   "mcnemar": {"a_only": p.a_only, "b_only": p.b_only, "p": p.p}, "p_holm": p.p_holm,
                   "significant": p.significant, "sentence": p.sentence(names[p.a], names[p.b])}
                  for p in result.pairs],
    }
    if args.json:
        print(json.dumps(out))
        return 0
    width = max(len(n) for n in names)
    print(f"{result.count:,} {args.split} rows of {args.data}; 95% intervals from {intervals.resamples:,} resamples")
    print(f"{'model':<{width}}  {'accuracy':<22}  macro-F1")
    for name, s in zip(names, result.models, strict=True):
        acc = f"{100 * s.accuracy:.1f} [{100 * s.accuracy_ci[0]:.1f}, {100 * s.accuracy_ci[1]:.1f}]"
        f1 = f"{100 * s.macro_f1:.1f} [{100 * s.macro_f1_ci[0]:.1f}, {100 * s.macro_f1_ci[1]:.1f}]"
        print(f"{name:<{width}}  {acc:<22}  {f1}")
    for pair in out["pairs"]:
        print(pair["sentence"])
    return 0


def model_names(files: list[str], models: dict) -> list[str]:
    """Each model's name for the sentences: its kind (LSTM), with its file's name where kinds repeat."""
    kinds = [models[f].kind.upper() for f in files]
    return [k if kinds.count(k) == 1 and files.count(f) == 1 else f"{k} ({Path(f).name})"
            for f, k in zip(files, kinds, strict=True)]
