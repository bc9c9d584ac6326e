"""Export bundles: a model that runs anywhere, with ONNX Runtime, ``tokenizers`` and numpy only.

A bundle is a folder: ``model.onnx`` (ids and lengths in, probabilities out), ``tokenizer.json`` (the
``tokenizers`` file, which normalizes, splits, maps unknown words and truncates by itself),
``config.json`` (class names and how a string becomes ``ids``/``lengths``), ``README.md`` (a model
card with a runnable example) and the original ``.safetensors`` file, so the bundle reopens in the app.

The graph uses ONNX's own LSTM, GRU and RNN operators with ``sequence_lens``: each text is read only up
to its own length (the backward direction from its own last word), exactly the packed-sequence
semantics of ``SentimentClassifier``, so padding never changes a prediction. It is written with the
``onnx`` helper API from the weights, not traced, so every cell kind, depth, direction and pooling is
the same few operators. The folder is built beside its destination and renamed into place.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core import __version__
from core.errors import StudioError
from core.events import PhaseEvent, TaskControl, run_to_end
from core.files import safe_file_name, umask
from core.text.tokenizer import PAD_ID, UNK_ID

if TYPE_CHECKING:
    from core.model.sentiment_model import SentimentModel

OPSET = 17
BUNDLE_FORMAT = "sentiment-studio-onnx"
FILES = ("model.onnx", "tokenizer.json", "config.json", "README.md")
# PyTorch's gate blocks in ONNX's order: LSTM i,f,g,o -> i,o,f,c; GRU r,z,n -> z,r,h
_GATE_ORDER = {"lstm": [0, 3, 1, 2], "gru": [1, 0, 2], "rnn": [0]}
_OPS = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}


def _gates(w: np.ndarray, kind: str) -> np.ndarray:
    """Reorder the gate blocks along the first axis from PyTorch's order to ONNX's."""
    blocks = np.split(w, len(_GATE_ORDER[kind]), axis=0)
    return np.concatenate([blocks[i] for i in _GATE_ORDER[kind]], axis=0)


def onnx_graph(model: SentimentModel):
    """The classifier as an ``onnx.ModelProto``: ``ids`` (int64 [batch, time]) and ``lengths`` (int64
    [batch]) in, ``probabilities`` (float32 [batch, classes]) out, batch and time dynamic."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    c = model.config
    state = {k: v.detach().cpu().float().numpy() for k, v in model.classifier.state_dict().items()}
    inits, nodes = [], []

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(op: str, inputs: list[str], outputs: list[str], **attrs) -> None:
        nodes.append(helper.make_node(op, inputs, outputs, name=f"{op}_{len(nodes)}", **attrs))

    const("embedding", state["embedding.weight"])
    node("Gather", ["embedding", "ids"], ["embedded"])  # (batch, time, embed)
    node("Transpose", ["embedded"], ["x0"], perm=[1, 0, 2])  # (time, batch, embed): ONNX's layout
    node("Cast", ["lengths"], ["seq_lens"], to=TensorProto.INT32)
    x = "x0"
    for layer in range(c.num_layers):
        names = [f"_l{layer}" + ("_reverse" if d else "") for d in range(c.num_directions)]
        w = np.stack([_gates(state[f"rnn.weight_ih{s}"], c.kind) for s in names])
        r = np.stack([_gates(state[f"rnn.weight_hh{s}"], c.kind) for s in names])
        b = np.stack([np.concatenate([_gates(state[f"rnn.bias_ih{s}"], c.kind),
                                      _gates(state[f"rnn.bias_hh{s}"], c.kind)]) for s in names])
        attrs = {"hidden_size": c.hidden_size, "direction": "bidirectional" if c.bidirectional else "forward"}
        if c.kind == "gru":
            attrs["linear_before_reset"] = 1  # PyTorch's GRU: r * (W_hn h + b_hn)
        inputs = [x, const(f"W{layer}", w), const(f"R{layer}", r), const(f"B{layer}", b), "seq_lens"]
        node(_OPS[c.kind], inputs, [f"y{layer}", f"h{layer}"], **attrs)  # y (time, dirs, batch, hidden)
        node("Transpose", [f"y{layer}"], [f"yt{layer}"], perm=[0, 2, 1, 3])  # (time, batch, dirs, hidden)
        node("Reshape", [f"yt{layer}", const(f"shape{layer}", np.array([0, 0, -1], np.int64))], [f"x{layer + 1}"])
        x = f"x{layer + 1}"

    if c.pooling == "last":  # forward state after the last word, backward state after the first
        node("Transpose", [f"h{c.num_layers - 1}"], ["h_t"], perm=[1, 0, 2])
        node("Reshape", ["h_t", const("flat", np.array([0, -1], np.int64))], ["pooled"])
    else:  # over each text's own words: (time, 1) < (1, batch)
        node("Shape", ["ids"], ["ids_shape"])
        node("Gather", ["ids_shape", const("one", np.array(1, np.int64))], ["time"])
        node("Range", [const("zero", np.array(0, np.int64)), "time", "one"], ["steps"])
        node("Unsqueeze", ["steps", const("axis1", np.array([1], np.int64))], ["steps_col"])
        node("Unsqueeze", ["lengths", const("axis0", np.array([0], np.int64))], ["lengths_row"])
        node("Less", ["steps_col", "lengths_row"], ["mask"])  # (time, batch)
        node("Unsqueeze", ["mask", const("axis2", np.array([2], np.int64))], ["mask3"])
        if c.pooling == "mean":
            node("Cast", ["mask3"], ["maskf"], to=TensorProto.FLOAT)
            node("Mul", [x, "maskf"], ["masked"])
            node("ReduceSum", ["masked", const("axes0", np.array([0], np.int64))], ["summed"], keepdims=0)
            node("Cast", ["lengths"], ["lengthsf"], to=TensorProto.FLOAT)
            node("Unsqueeze", ["lengthsf", "axis1"], ["lengths_col"])
            node("Div", ["summed", "lengths_col"], ["pooled"])
        else:
            node("Where", ["mask3", x, const("minus_inf", np.array(-np.inf, np.float32))], ["masked"])
            node("ReduceMax", ["masked"], ["pooled"], axes=[0], keepdims=0)
    node("Gemm", ["pooled", const("head_w", state["head.weight"]), const("head_b", state["head.bias"])], ["logits"],
         transB=1)
    node("Softmax", ["logits"], ["probabilities"], axis=1)

    graph = helper.make_graph(
        nodes, f"sentiment_{c.kind}",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", "time"]),
         helper.make_tensor_value_info("lengths", TensorProto.INT64, ["batch"])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", len(model.label_names)])],
        inits,
    )
    onnx_model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                   producer_name="sentiment-studio", producer_version=__version__)
    onnx_model.ir_version = 8  # what ONNX Runtime 1.14 and later read
    onnx.checker.check_model(onnx_model, full_check=True)
    return onnx_model


def bundle_config(model: SentimentModel, model_file: str | None = None) -> dict:
    """config.json: what a program needs to turn strings into ``ids``/``lengths`` and read the output, and
    the bundle's model file (``model_file``: with ``FILES``, what ``--force`` may replace)."""
    tok = model.tokenizer.config
    return {
        "format": BUNDLE_FORMAT,
        "format_version": 1,
        **({"model_file": model_file} if model_file is not None else {}),
        "labels": list(model.label_names),
        "max_length": tok.max_length,
        "truncation_side": tok.truncation_side,
        "pad_id": PAD_ID,
        "unk_id": UNK_ID,  # the id of a text with no tokens at all (the app reads it as one unknown word)
        "inputs": {"ids": "int64 [batch, time]", "lengths": "int64 [batch]"},
        "outputs": {"probabilities": "float32 [batch, classes]"},
        "model": model.config.to_dict(),
        "tokenizer": tok.to_dict(),
        "app_version": __version__,
        "requires": {"onnxruntime": ">=1.17", "tokenizers": ">=0.20", "numpy": ">=1.26"},
    }


@dataclass
class Exported:
    """A bundle was written (the last event of ``export_steps``); ``kept``: the other files and folders that
    were in the folder of the bundle it replaced, kept there."""

    path: str
    kept: list[str] = field(default_factory=list)


def export_steps(model: SentimentModel, out: str | os.PathLike, *, force: bool = False,
                 model_file: str | os.PathLike | None = None,
                 control: TaskControl | None = None) -> Iterator[PhaseEvent | Exported]:
    """Write the bundle for ``model`` as the folder ``out``, as a task.

    The bundle's ``.safetensors`` is ``model_file`` byte for byte when it still holds this model's
    weights (the file it was read from), else the model saved afresh. Refuses a file or a link at
    ``out``, and a folder that is not empty unless ``force`` and it is an earlier bundle (``--force``
    never deletes a folder of other things). ``force`` replaces the earlier bundle's own files only: any
    others (the card's example saved beside it, its output) stay, and ``Exported.kept`` names them; one
    the new bundle would write over is refused. Everything is written to a temporary folder beside
    ``out`` and renamed into place: an interrupted or cancelled export leaves nothing half-written (and
    an old bundle whole), and a folder that appeared at ``out`` meanwhile (another export) is never
    replaced without ``force``.
    """
    control = control or TaskControl()
    out = Path(os.path.abspath(Path(out).expanduser()))  # "." has no name to put a temporary beside
    try:
        _check_bundle_destination(out, force)
    except OSError as e:
        raise StudioError(f"can't use {out} for the bundle: {e.strerror or e}") from None
    file_name, original = _model_file(model, model_file)
    names = {*FILES, file_name}
    if force and out.is_dir() and any(out.iterdir()):
        try:
            _others(out, names)  # refused now, before the work, when the folder holds a file the bundle would take
        except OSError as e:
            raise StudioError(f"can't use {out} for the bundle: {e.strerror or e}") from None
    yield PhaseEvent("export", "building the ONNX graph")
    graph = onnx_graph(model)
    control.check()
    try:
        tmp = Path(tempfile.mkdtemp(prefix=_TEMP_PREFIX, suffix=".tmp", dir=out.parent))
    except OSError as e:
        raise StudioError(f"can't write in {out.parent}: {e.strerror or e}") from None
    try:
        yield PhaseEvent("export", f"writing {out}")
        (tmp / "model.onnx").write_bytes(graph.SerializeToString())
        (tmp / "tokenizer.json").write_text(model.tokenizer.to_json(), encoding="utf-8")
        config = bundle_config(model, file_name)
        (tmp / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        from core.store.model_card import model_card

        (tmp / "README.md").write_text(model_card(model, file_name), encoding="utf-8")
        (tmp / file_name).write_bytes(original)
        control.check()
        tmp.chmod(stat.S_IMODE(out.stat().st_mode) if out.is_dir() else 0o777 & ~umask())  # a replaced folder's mode
        kept = _place(tmp, out, force, names)
    except BaseException as e:
        _discard(tmp, names)
        if isinstance(e, OSError):
            raise StudioError(f"can't write the bundle {out}: {e.strerror or e}") from None
        raise
    yield Exported(str(out), kept)


def export_bundle(model: SentimentModel, out: str | os.PathLike, *, force: bool = False,
                  model_file: str | os.PathLike | None = None) -> Path:
    """``export_steps`` run to its end, for a script: the bundle's folder."""
    return Path(run_to_end(export_steps(model, out, force=force, model_file=model_file)).path)


_TEMP_PREFIX = ".sentiment-studio-export-"  # fixed length: any folder name the file system takes works
# The model file's row in the card's table of files: how a bundle written before config.json named its model
# file (version 0.2) says which .safetensors is its own
_CARD_MODEL_FILE = re.compile(r"^\| `([^`/\\]+\.safetensors)` \| the original model file", re.MULTILINE)


def is_bundle(folder: Path) -> bool:
    """Whether ``folder`` holds an export bundle (its config.json says so): only such a folder is replaced."""
    return _bundle_config(folder) is not None


def _bundle_config(folder: Path) -> dict | None:
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return config if isinstance(config, dict) and config.get("format") == BUNDLE_FORMAT else None


def _check_bundle_destination(out: Path, force: bool) -> None:
    if out.is_symlink():
        raise StudioError(f"{out} is a symbolic link; give the folder itself")
    if out.exists() and not out.is_dir():
        raise StudioError(f"{out} is a file; give a folder for the bundle")
    above = next((p for p in out.parents if os.path.lexists(p)), None)  # the nearest that is there
    if above is not None and not above.is_dir():
        raise StudioError(f"{above} is {'a file, ' if above.is_file() else ''}not a folder: the bundle's folder "
                          "can't be made inside it")
    try:
        here = Path.cwd().resolve()
    except OSError:
        here = None
    if out.exists() and here is not None and (here == out.resolve() or out.resolve() in here.parents):
        # the folder is replaced by renaming: the shell sitting in it would be left in a deleted folder
        raise StudioError(f"{out} is the current folder (or holds it); give the bundle a folder of its own, "
                          "such as ./bundle")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise StudioError(f"folder {out} exists and is not empty; choose a new folder, or replace an earlier "
                              "bundle with --force")
        if not is_bundle(out):
            raise StudioError(f"folder {out} is not an export bundle; --force replaces only an earlier bundle, "
                              "never a folder of other files")
    if not out.parent.is_dir():
        raise StudioError(f"folder {out.parent} does not exist")


def _own_files(folder: Path) -> set[str]:
    """The names in ``folder`` that its bundle wrote (``FILES`` and its model file): what ``--force`` replaces."""
    config = _bundle_config(folder) or {}
    model_file = config.get("model_file")
    if not isinstance(model_file, str):  # a bundle from before config.json named it: the card's table does
        try:
            found = _CARD_MODEL_FILE.search((folder / "README.md").read_text(encoding="utf-8", errors="replace"))
        except OSError:
            found = None
        model_file = found.group(1) if found else None
    names = {*FILES} | ({model_file} if model_file and model_file.endswith(".safetensors") else set())
    # only what a bundle writes: a file (or a link in its place), never a folder, a name with a separator or ".."
    return {n for n in names if os.path.basename(n) == n and n not in (".", "..")
            and ((folder / n).is_symlink() or not (folder / n).is_dir())}


def _others(folder: Path, names: set[str], shown: Path | None = None) -> list[str]:
    """Every entry of the bundle ``folder`` that its bundle did not write: kept by ``--force``. Refuses a
    folder that is no bundle and one whose other files hold a name of the new bundle's (``names``).
    ``shown``: the folder's name in a message (where the bundle is, while ``folder`` is its place aside)."""
    shown = shown or folder
    if folder.is_symlink() or not is_bundle(folder):
        raise StudioError(f"folder {shown} is not an export bundle; --force replaces only an earlier bundle, "
                          "never a folder of other files")
    own = _own_files(folder)
    others = sorted(n for n in os.listdir(folder) if n not in own)
    taken = [n for n in others if n in names]
    if taken:
        raise StudioError(f"folder {shown} holds {', '.join(taken)}, which the earlier bundle did not write; "
                          f"--force replaces only the bundle's own files: move {'them' if len(taken) > 1 else 'it'} "
                          "away first")
    return others


def _model_file(model: SentimentModel, model_file: str | os.PathLike | None) -> tuple[str, bytes]:
    """The bundle's model file: its name and bytes. ``model_file`` as it is when it still holds these
    weights (checked by the digest its header records), else the model saved afresh."""
    from core.store.modelfile import holds_weights_of, read_model_bytes, to_bytes

    if model_file is not None:
        path = Path(model_file)
        try:
            data = read_model_bytes(path)  # read once: its header says whose weights it holds
        except StudioError:
            data = b""
        if holds_weights_of(data, model):
            name = path.name
            stem = (name[: -len(".safetensors")] if name.endswith(".safetensors") else Path(name).stem).strip(".")
            return f"{stem or 'model'}.safetensors", data
    return f"{safe_file_name(model.name)}.safetensors", to_bytes(model)


def _place(new: Path, out: Path, force: bool, names: set[str]) -> list[str]:
    """Rename the built bundle ``new`` to ``out``; with ``force``, in place of an earlier bundle there, whose
    other files move into the new one. The names of those kept."""
    try:
        os.rename(new, out)  # no folder there, or an empty one: nothing is lost. The OS refuses anything else.
        return []
    except OSError as e:
        if e.errno not in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR):
            raise
        bundle = out.is_dir() and not out.is_symlink() and is_bundle(out)
        if not (force and bundle):
            how = "with --force to replace it" if bundle else "to a new folder"
            raise StudioError(f"{out} was made (or filled) while the bundle was being written (another export?) and "
                              f"is left as it is; export again {how}") from None
    return _replace_bundle(new, out, names)


def _replace_bundle(new: Path, out: Path, names: set[str]) -> list[str]:
    """Put the bundle ``new`` in place of the earlier bundle ``out``: the earlier one is moved aside, its
    other files move into the new one, which is renamed into place; then the earlier bundle's own files are
    removed. Anything failing on the way puts everything back. The names of the files kept."""
    old = Path(tempfile.mkdtemp(prefix=_TEMP_PREFIX, suffix=".old", dir=out.parent))
    old.rmdir()
    os.rename(out, old)
    moved: list[str] = []
    try:
        for name in _others(old, names, out):  # listed once it is aside: nothing lands in it by its old path
            os.rename(old / name, new / name)
            moved.append(name)
        os.rename(new, out)  # refused when something took ``out`` meanwhile
    except BaseException:
        if not os.path.lexists(new):  # interrupted just after the last rename: the new bundle is in place
            raise
        try:
            while moved:
                os.rename(new / moved[-1], old / moved[-1])
                moved.pop()
            os.rename(old, out)
        except OSError:
            raise StudioError(f"{out} was taken while the bundle was being replaced; the earlier bundle is kept in "
                              f"{old}" + (f", some of the files beside it in {new}" if moved else "")) from None
        raise
    for name in _own_files(old):
        with contextlib.suppress(OSError):
            (old / name).unlink()
    with contextlib.suppress(OSError):
        # written into the old folder by a program sitting in it, after the listing: joins the others
        for name in sorted(set(os.listdir(old)) - set(os.listdir(out))):
            with contextlib.suppress(OSError):
                os.rename(old / name, out / name)
                moved.append(name)
        old.rmdir()
    return sorted(moved)


def _discard(tmp: Path, names: set[str]) -> None:
    """Remove the temporary bundle ``tmp`` after a failure: the files this export wrote, then the folder if
    nothing else is in it (a user's file an interrupted swap left there stays)."""
    for name in names:
        with contextlib.suppress(OSError):
            (tmp / name).unlink()
    with contextlib.suppress(OSError):
        tmp.rmdir()
