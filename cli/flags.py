"""The command line's flags: the parser that errs in one line, one flag per setting of a config (generated
from its fields' metadata, ``core.settings``, as the Train screen's form is), and the arguments and data
loading several commands share."""

from __future__ import annotations

import argparse
import sys

EXIT_USAGE = 2  # arguments the parser refuses (argparse's own status; cli re-exports it with the others)


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


def setting_field(config_cls: type, name: str):
    """The ``SettingField`` of ``config_cls`` named ``name``: for a hand-written flag that reads like it."""
    from core.settings import settings_of

    return next(f for f in settings_of(config_cls) if f.name == name)


def flag_type(field) -> object:
    """The argparse type of a setting's flag: its default's type, refused outside the setting's range."""
    typ, s = type(field.default), field.setting
    return _in_range(typ, *s.range[:2]) if s.range is not None else typ


def range_help(field) -> str:
    """The help's range sentence of a setting (" Range 0 to 2,147,483,647."); none without a range."""
    from core.settings import shown

    s = field.setting
    return f" Range {shown(s.range[0])} to {shown(s.range[1])}." if s.range is not None else ""


def add_setting_flags(parser: argparse.ArgumentParser, config_cls: type, title: str) -> None:
    """One flag per user-facing field of ``config_cls`` (see ``core.settings``): its name, default,
    choices, range and help all come from the field, as the Train screen's form does."""
    from core.settings import settings_of

    group = parser.add_argument_group(title)
    for f in settings_of(config_cls):
        s, kwargs = f.setting, {"dest": f"{config_cls.__name__}.{f.name}", "default": f.default}
        helptext = s.summary.replace("%", "%%")
        if s.choices and s.open_choices:
            helptext += f" E.g. {', '.join(s.choices)}."
        helptext += range_help(f) + " (default: %(default)s)"
        if isinstance(f.default, bool):
            group.add_argument(f.flag, action=argparse.BooleanOptionalAction, help=helptext, **kwargs)
            continue
        if s.choices and not s.open_choices:
            kwargs["choices"] = s.choices
        else:
            kwargs["metavar"] = "PATH" if s.path else f.name.upper()
        group.add_argument(f.flag, type=flag_type(f), help=helptext, **kwargs)


def configs_from(args: argparse.Namespace, *config_classes: type) -> list:
    """The config objects ``add_setting_flags`` flags describe, in the order asked."""
    from core.settings import settings_of

    out = []
    for cls in config_classes:
        values = {f.name: getattr(args, f"{cls.__name__}.{f.name}") for f in settings_of(cls)}
        out.append(cls(**values))
    return out


def data_args(parser: argparse.ArgumentParser) -> None:
    """``--data`` and its columns, read by ``load_data``."""
    parser.add_argument("--data", required=True, metavar="SOURCE",
                        help="a Hub name (imdb, glue:sst2), a CSV/TSV/JSON/Parquet file or folder, or "
                             "builtin:longrange")
    parser.add_argument("--text-column", help="name of the text column (detected when omitted)")
    parser.add_argument("--label-column", help="name of the label column (detected when omitted)")


def load_data(args: argparse.Namespace, log, *, min_classes: int = 2, **carve):
    """The dataset ``data_args`` name, each of its notes passed to ``log``. ``carve``: how missing splits
    are carved (``load_dataset``'s split_seed, validation_fraction, test_fraction; a ``DataConfig``'s)."""
    from core.data import load_dataset

    dataset = load_dataset(args.data, text_column=args.text_column, label_column=args.label_column,
                           min_classes=min_classes, **carve)
    for note in dataset.notes:
        log(f"note: {note}")
    return dataset


def load_as_trained(args: argparse.Namespace, log, record, split_seed: int, *, min_classes: int = 1):
    """The dataset ``data_args`` name, its missing splits carved as a model trained on it was (``record``: its
    ``SplitRecord``, or None): the same seed, shares and columns, or the same fold of the same folds, so a
    carved test split holds none of its training rows. ``split_seed``: the seed to carve with (the record's
    unless overridden). Another source than the model's, or no record: carved with ``split_seed`` and the
    default shares."""
    carve: dict = {"split_seed": split_seed}
    if record is None:
        return load_data(args, log, min_classes=min_classes, **carve)
    args.text_column = args.text_column or record.text_column or None
    args.label_column = args.label_column or record.label_column or None
    if record.folds:
        from core.data.folds import fold_dataset

        pool = load_data(args, log, min_classes=min_classes, validation_fraction=0.0, test_fraction=0.0, **carve)
        return fold_dataset(pool, record.folds, record.fold, record.validation_fraction)
    carve.update(validation_fraction=record.validation_fraction, test_fraction=record.test_fraction)
    return load_data(args, log, min_classes=min_classes, **carve)


def to_stderr(msg: str) -> None:
    print(msg, file=sys.stderr)
