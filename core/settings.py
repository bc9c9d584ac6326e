"""Settings described once: each config dataclass field carries its label, help, range and choices.

The Train screen's form (``gui.config_form``) and the command line (``cli.py``) are both built from
this metadata, so they offer the same knobs with the same words, and the help a user reads is the
comment that explains the default. (magicgui builds forms from annotated dataclasses the same way.)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

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


def shown(value: Any) -> str:
    """A setting's value as a person reads it: on/off, 0.002, 30,000."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
