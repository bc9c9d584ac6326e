"""Settings described once: each config dataclass field carries its label, help, range and choices.

The Train screen's form (``gui.config_form``) and the command line (``cli``) are both built from
this metadata, so they offer the same knobs with the same words, and the help a user reads is the
comment that explains the default. (magicgui builds forms from annotated dataclasses the same way.)
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

_KEY = "setting"


@dataclass(frozen=True)
class Setting:
    """How one config field is shown and explained."""

    label: str  # the form's label, e.g. "Hidden size"
    help: str  # what it does and why its default; the first sentence is the CLI's help line
    range: tuple[float, float, float] | None = None  # (minimum, maximum, step) of a number
    choices: tuple[str, ...] | None = None  # the allowed values of a string
    open_choices: bool = False  # the choices are suggestions; other values are checked where used (cuda:1)
    log_scale: bool = False  # a rate spanning decades: entered as 0.002 or 1e-05, stepped 1-2-5
    flag: str | None = None  # the CLI flag when it is not --field-name (kept for compatibility)
    path: str = ""  # for a file path (empty: none), the file dialog's filter: "Word vectors (*.txt *.bin)"
    special: str = ""  # what the form shows at the range's minimum when it means "automatic" ("auto")

    @property
    def summary(self) -> str:
        """The first sentence of ``help``."""
        first, dot, _ = self.help.partition(". ")
        return first + (dot.strip() or "")


def setting(default: Any, label: str, help: str, **kwargs: Any) -> Any:
    """A dataclass field with a default and its ``Setting`` (see the module docstring)."""
    return dataclasses.field(default=default, metadata={_KEY: Setting(label, help, **kwargs)})


@dataclass(frozen=True)
class SettingField:
    """One user-facing field of a config class: its name, default and description."""

    name: str
    default: Any
    setting: Setting

    @property
    def flag(self) -> str:
        return self.setting.flag or "--" + self.name.replace("_", "-")


def settings_of(cls: type) -> list[SettingField]:
    """The user-facing fields of a config dataclass, in declaration order (fields without a
    ``Setting``, such as sizes the app fills in, are left out)."""
    out = []
    for f in dataclasses.fields(cls):
        s = f.metadata.get(_KEY)
        if s is not None:
            out.append(SettingField(f.name, f.default, s))
    return out


def check_settings(config: Any) -> None:
    """Refuse a config whose user-facing values its own settings forbid, naming the setting.

    Called by each config's ``__post_init__``: the form, the command line, a model file and a test
    all get the same checks (right type, within the range, one of the choices). A whole number given
    for a float setting becomes a float; nothing else is converted.
    """
    from core.errors import SettingError

    for f in settings_of(type(config)):
        value, s = getattr(config, f.name), f.setting
        where = f"{s.label} ({f.flag})"
        kind = type(f.default)
        if kind in (int, float) and isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_):
            if kind is float or isinstance(value, numbers.Integral):  # 1 for a rate; numpy's int64 for a size
                value = kind(value)
                object.__setattr__(config, f.name, value)
        if type(value) is not kind:
            raise SettingError(f"{where} must be {_KIND_WORDS[kind]}, not {_short(value)}", f.name)
        if kind is float and not math.isfinite(value):
            raise SettingError(f"{where} must be a finite number, not {value}", f.name)
        if s.range is not None and not s.range[0] <= value <= s.range[1]:
            lo, hi = shown(s.range[0]), shown(s.range[1])
            raise SettingError(f"{where} must be between {lo} and {hi}, not {_short(value)}", f.name)
        if s.choices and not s.open_choices and value not in s.choices:
            raise SettingError(f"{where} must be one of {', '.join(s.choices)}, not {_short(value)}", f.name)


def from_stored(cls: type, values: dict, training_only: tuple[str, ...] = ()) -> Any:
    """A config from a model file: checked like a new one, except that a setting which only shaped the
    training (a seed, a clip, dropout) and which today's ranges refuse falls back to its default, so a
    file written before the ranges were checked still opens. Settings that decide a prediction (sizes,
    kinds, the maximum length) are never relaxed."""
    from core.errors import SettingError

    values = {k: v for k, v in values.items() if k in cls.__dataclass_fields__}
    while True:
        try:
            return cls(**values)
        except SettingError as e:
            if e.field not in training_only or e.field not in values:
                raise
            values.pop(e.field)


_KIND_WORDS = {bool: "on or off (true/false)", int: "a whole number", float: "a number", str: "text"}


def _short(value: Any) -> str:
    from core.errors import one_line

    return one_line(repr(value) if isinstance(value, str) else value, 40)


def shown(value: Any) -> str:
    """A setting's value as a person reads it: on/off, 0.002, 30,000."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
