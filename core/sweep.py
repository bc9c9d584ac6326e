"""Sweeps: value lists for settings, and the grid of runs they make (for the command line and the app).

A sweep is every combination of the values given per setting (``hidden_size=64,128`` x ``kind=lstm,rnn``
is 4 runs). Every combination is built into configs, and so checked by the configs' own settings, before
any training starts: a bad value fails at once, not after hours of the runs before it.
"""

from __future__ import annotations

import dataclasses
import itertools

from core.classifier import ModelConfig
from core.errors import StudioError
from core.settings import settings_of
from core.tokenizer import TokenizerConfig
from core.trainer import TrainConfig

CONFIGS = (ModelConfig, TokenizerConfig, TrainConfig)


def parse_grid(specs: list[str]) -> list[tuple[int, str, list]]:
    """``["hidden_size=64,128", "kind=lstm,rnn"]`` -> ``[(config index in CONFIGS, field, values)]``, each
    value of its setting's type. A setting is named by its field or its flag (``lr``, ``model``; ``kind`` is
    the model's, the tokenizer's is ``tokenizer``). Raises ``StudioError`` for an unknown setting or value."""
    fields: dict[str, tuple[int, object]] = {}
    for i, cls in enumerate(CONFIGS):
        for f in settings_of(cls):
            fields[f.flag.lstrip("-").replace("-", "_")] = (i, f)
            fields.setdefault(f.name, (i, f))
    out = []
    for spec in specs:
        name, eq, values = spec.partition("=")
        key = name.strip().lstrip("-").replace("-", "_")
        if not eq or key not in fields or not values.strip():
            raise StudioError(f"--grid {spec!r}: write SETTING=V1,V2 with a setting such as hidden_size, kind, lr "
                              "(see sweep --help)")
        index, f = fields[key]
        typ = type(f.default)
        parsed = []
        for text in values.split(","):
            text = text.strip()
            try:
                value = (text.lower() in ("1", "true", "on", "yes")) if typ is bool else typ(text)
            except ValueError:
                raise StudioError(f"--grid {spec!r}: {text!r} is not a {typ.__name__}") from None
            parsed.append(value)
        out.append((index, f.name, parsed))
    return out


def plan_grid(base: tuple | list, grid: list[tuple[int, str, list]]) -> list[tuple[dict, tuple]]:
    """Every combination of ``grid`` applied to the ``base`` configs (model, tokenizer, train):
    ``[({field: value}, (model, tokenizer, train))]``, each checked by the configs as it is built."""
    plans = []
    for combo in itertools.product(*(values for _, _, values in grid)):
        configs = list(base)
        for (index, name, _), value in zip(grid, combo, strict=True):
            configs[index] = dataclasses.replace(configs[index], **{name: value})
        plans.append((dict(zip((name for _, name, _ in grid), combo, strict=True)), tuple(configs)))
    return plans
