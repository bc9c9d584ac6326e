"""Sweeps: value lists for settings, and the grid of runs they make (for the command line and the app).

A sweep is every combination of the values given per setting (``hidden_size=64,128`` x ``kind=lstm,rnn``
is 4 runs). Every combination is built into configs, and so checked by the configs' own settings, and its
device and vectors file are checked (``check_runs``), before any training starts: a bad value fails at
once, not after hours of the runs before it.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
import time
import uuid
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

from core.config import DataConfig, ModelConfig, TokenizerConfig, TrainConfig
from core.errors import StudioError
from core.events import PhaseEvent, TaskControl
from core.model.events import ModelEvent
from core.settings import settings_of, shown

CONFIGS = (ModelConfig, TokenizerConfig, TrainConfig)


# the Train screen's sweep field, "hidden_size=64,128 lr=0.001,0.003": settings split at ";" or at a space
# before the next "name="
_SPEC_SPLIT = re.compile(r"\s*;\s*|\s+(?=[A-Za-z_-]+\s*=)")
MAX_COMBINATIONS = 1000  # a grid larger than this is surely a typo (and would take weeks on a laptop)
_TRUE, _FALSE = ("1", "true", "on", "yes"), ("0", "false", "off", "no")


def parse_grid(specs: list[str]) -> list[tuple[int, str, list]]:
    """``["hidden_size=64,128", "kind=lstm,rnn"]`` -> ``[(config index in CONFIGS, field, values)]``, each
    value of its setting's type. A setting is named by its field or its flag (``lr``, ``model``; ``kind`` is
    the model's, the tokenizer's is ``tokenizer``). Raises ``StudioError`` for an unknown setting or value,
    a data setting (``DataConfig``'s), a setting or a value given twice, or more than ``MAX_COMBINATIONS``
    combinations."""
    data = {key: f for f in settings_of(DataConfig) for key in (f.name, f.flag.lstrip("-").replace("-", "_"))}
    fields: dict[str, tuple[int, object]] = {}
    for i, cls in enumerate(CONFIGS):
        for f in settings_of(cls):
            fields[f.flag.lstrip("-").replace("-", "_")] = (i, f)
            fields.setdefault(f.name, (i, f))
    out: list[tuple[int, str, list]] = []
    for spec in specs:
        name, eq, values = spec.partition("=")
        key = name.strip().lstrip("-").replace("-", "_")
        if key in data:  # the data is loaded, and its splits carved, once for the whole sweep
            raise StudioError(f"--grid {spec!r}: {key} can't be swept: it changes the rows every run is trained and "
                              f"tested on, and a sweep loads its data once; give {data[key].flag} once, or run one "
                              "sweep per value")
        if not eq or key not in fields or not values.strip():
            raise StudioError(f"--grid {spec!r}: write SETTING=V1,V2 with a setting such as hidden_size, kind, lr "
                              "(see sweep --help)")
        index, f = fields[key]
        if any(i == index and name == f.name for i, name, _ in out):
            raise StudioError(f"--grid {spec!r}: {f.name} is swept twice; give all its values in one list")
        typ = type(f.default)
        parsed = []
        for text in values.split(","):
            text = text.strip()
            try:
                if typ is bool:
                    if text.lower() not in _TRUE + _FALSE:
                        raise ValueError(text)
                    value = text.lower() in _TRUE
                else:
                    value = typ(text)
            except ValueError:
                raise StudioError(f"--grid {spec!r}: {text!r} is not a {typ.__name__}") from None
            if value in parsed:  # a typo more likely than a wish to train the same run twice
                raise StudioError(f"--grid {spec!r}: {text!r} is given twice; each value is trained once, so give it "
                                  "once")
            parsed.append(value)
        out.append((index, f.name, parsed))
    count = math.prod(len(values) for _, _, values in out)
    if count > MAX_COMBINATIONS:
        raise StudioError(f"the grid has {count:,} combinations; at most {MAX_COMBINATIONS:,} are trained in one sweep")
    return out


def sweep_specs(text: str) -> list[str]:
    """One line of sweep text, as the Train screen's Sweep field takes it, as ``--grid`` specs for
    ``parse_grid`` (spaces around ``,`` and ``=`` allowed); raises ``StudioError`` for a space inside a value
    list (``hidden_size=8 16`` is not 816, nor 8 and 16)."""
    specs = []
    for spec in _SPEC_SPLIT.split(text.strip()):
        spec = re.sub(r"\s*([,=])\s*", r"\1", spec.strip())
        if re.search(r"\s", spec):
            raise StudioError(f"{spec!r}: separate the values with commas (hidden_size=64,128)")
        if spec:
            specs.append(spec)
    return specs


def label(index: int, name: str) -> str:
    """How a swept setting is named in run names and records: its field, or for a field an earlier config
    has too (``kind``: the model's), its flag (the tokenizer's kind is ``tokenizer``)."""
    if not any(name in cls.__dataclass_fields__ for cls in CONFIGS[:index]):
        return name
    f = next(f for f in settings_of(CONFIGS[index]) if f.name == name)
    return f.flag.lstrip("-").replace("-", "_")


def plan_grid(base: tuple | list, grid: list[tuple[int, str, list]]) -> list[tuple[dict, tuple]]:
    """Every combination of ``grid`` applied to the ``base`` configs (model, tokenizer, train):
    ``[({field: value}, (model, tokenizer, train))]``, each checked by the configs as it is built."""
    plans = []
    for combo in itertools.product(*(values for _, _, values in grid)):
        configs = list(base)
        for (index, name, _), value in zip(grid, combo, strict=True):
            configs[index] = dataclasses.replace(configs[index], **{name: value})
        plans.append((dict(zip((label(i, name) for i, name, _ in grid), combo, strict=True)), tuple(configs)))
    return plans


def with_seeds(grid: list[tuple[int, str, list]], repeat: int, first_seed: int) -> list[tuple[int, str, list]]:
    """``grid`` with the seeds ``first_seed`` .. ``first_seed + repeat - 1`` swept ("Repeat with N seeds"): each
    combination is trained once per seed, and the runs of a combination are a group (``seed_groups``)."""
    if repeat <= 1:
        return grid
    seed_index = CONFIGS.index(TrainConfig)
    if any(index == seed_index and name == "seed" for index, name, _ in grid):
        raise StudioError("the seeds are swept already (seed=...): repeat with 1 seed, or take seed out of the sweep")
    return [*grid, (seed_index, "seed", list(range(first_seed, first_seed + repeat)))]


def seed_groups(values: list[dict], sweep_id: str) -> list[dict | None]:
    """For each combination's swept ``values``, the group of runs repeated over seeds it is one of: the runs
    whose other values are the same (``Run.group``: id, kind "seeds", n, index, seed); None when fewer
    than two seeds are swept. A caller training several model kinds per combination adds the kind to the id."""
    seeds = sorted({v["seed"] for v in values if "seed" in v})
    if len(seeds) < 2:
        return [None] * len(values)
    out = []
    for v in values:
        others = ", ".join(f"{k}={shown(x)}" for k, x in v.items() if k != "seed")
        out.append({"id": f"{sweep_id}:{others}", "kind": "seeds", "n": len(seeds), "index": seeds.index(v["seed"]),
                    "seed": v["seed"]})
    return out


def new_sweep_id() -> str:
    """A name for a new sweep, unique across processes and sweeps: its start time and a random part."""
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"


@dataclass
class Combination:
    """One combination of a sweep's values and the models it trains side by side on one vocabulary (each
    model one run in the run store)."""

    values: dict
    plan: list[tuple[str, ModelConfig]]
    tokenizer: TokenizerConfig
    train: TrainConfig


def check_app_grid(grid: list[tuple[int, str, list]]) -> None:
    """In the app the model kinds are the ticked boxes, not a swept setting."""
    if any(CONFIGS[index] is ModelConfig and name == "kind" for index, name, _ in grid):
        raise StudioError("the model kinds are the ticked boxes; sweep other settings")


def combinations(models: list[ModelConfig], tokenizer: TokenizerConfig, train: TrainConfig,
                 grid: list[tuple[int, str, list]], name: Callable[[str, dict], str]) -> list[Combination]:
    """The app's sweep: each combination of ``grid`` trains every one of ``models`` (the ticked kinds).
    ``name(kind, values)`` names each model. No grid: one combination with no swept values.
    Raises ``StudioError`` for a combination the configs reject, before anything trains."""
    if not models:
        raise StudioError("tick at least one model to train")
    check_app_grid(grid)
    out = []
    for values, (_, tok, tr) in plan_grid((models[0], tokenizer, train), grid):
        model_values = {k: values[label(index, k)] for index, k, _ in grid if CONFIGS[index] is ModelConfig}
        plan = [(name(m.kind, values), dataclasses.replace(m, **model_values)) for m in models]
        out.append(Combination(values, plan, tok, tr))
    return out


def check_runs(runs: list[tuple[dict, list[ModelConfig], TrainConfig]]) -> None:
    """What would stop a sweep after its first runs have trained, checked before any: each run's device is
    here (``core.device.choose_device``), and each vectors file opens as one of the formats, its header
    fits its first vector, and its dimension fits every model that uses it (only its start is read: the
    rows are read when a run needs them). ``runs``: ``(swept values, models, train config)`` per
    combination. Raises ``StudioError`` naming the combination."""
    from core.device import choose_device
    from core.text.embedding import sized_for_vectors
    from core.text.vectors import vectors_dimension

    devices, dims = set(), {}
    for i, (values, models, train) in enumerate(runs, 1):
        try:
            if train.device not in devices:
                choose_device(train.device)
                devices.add(train.device)
            if train.vectors:
                if train.vectors not in dims:
                    dims[train.vectors] = vectors_dimension(train.vectors)
                for model in models:
                    sized_for_vectors(model, dims[train.vectors])
        except StudioError as e:
            if not values:
                raise
            swept = ", ".join(f"{k}={shown(v)}" for k, v in values.items())
            raise StudioError(f"run {i} of {len(runs)} ({swept}): {e}") from None


def open_store(folder: Path | None) -> Generator[ModelEvent, None, object]:
    """The run store at ``folder`` (None: not kept), this thread's own connection, for a training task:
    ``store = yield from open_store(folder)``. One that is busy past its wait or unusable is None, said in a
    warning: the runs train anyway."""
    from core.store.runs import RunStore, StoreError

    if folder is None:
        return None
    try:
        return RunStore(folder)
    except StoreError as e:
        yield ModelEvent("", "", PhaseEvent("warning", f"these runs are not kept in the run store: {e}"))
        return None


def train_grid(dataset, combinations: list[Combination], control: TaskControl, checkpoint_dir: Path | None = None,
               store_folder: Path | None = None, sweep_id: str | None = None) -> Iterator:
    """Train ``combinations`` one after another (``train_models``' events, one stream), each model recorded as
    a run in the store at ``store_folder`` when given (with the sweep it belongs to when there are several
    combinations). Pause and cancel act through ``control`` as for one; a cancel stops the whole sweep. Every
    combination's device and vectors file are checked first (``check_runs``): none trains if one would fail."""
    from core.store.runs import recorded_runs
    from core.train.pipeline import train_models

    check_runs([(one.values, [config for _, config in one.plan], one.train) for one in combinations])
    store = yield from open_store(store_folder)
    vectors: dict = {}  # read once for the runs that share a vectors file and a vocabulary
    sweep_id = sweep_id or new_sweep_id()
    groups = seed_groups([one.values for one in combinations], sweep_id)
    try:
        for one, group in zip(combinations, groups, strict=True):
            if control.cancelled:
                break
            events = train_models(dataset, one.plan, one.train, one.tokenizer, control, checkpoint_dir, vectors)
            if store is not None:
                sweep = {"id": sweep_id, "values": one.values} if one.values else None
                by_model = {name: {**group, "id": f"{group['id']}:{config.kind}"} for name, config in one.plan
                            } if group else None
                events = recorded_runs(events, store, dataset, one.plan, one.tokenizer, one.train, sweep, by_model)
            yield from events
    finally:
        if store is not None:
            store.close()
