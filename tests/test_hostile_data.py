"""Hostile input, the data and run classes: no silent wrong result, no runaway size, clear errors.

Each test covers a class of failure (issue 11): a cell that is not text is never learned as its Python
spelling; one bad byte never re-decodes a whole file; a missing-value marker is never a class; every
setting is checked where it is defined, so the form, the command line and a model file refuse the same
values in the same words; a run that diverged is never saved as a success; and the command line ends
every way it can end (SIGTERM, a Rust panic) with one line.
"""

from __future__ import annotations

import json
import math
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import headless, run_cli

import cli
from core.config import ModelConfig, TokenizerConfig, TrainConfig
from core.data import DataError, load_dataset
from core.errors import SettingError, StudioError, TrainingError
from core.settings import settings_of

ROOT = Path(__file__).resolve().parents[1]
WORDS = ["good", "bad", "the", "film", "plot", "was", "not", "very"]


def texts_and_labels(n: int = 60) -> tuple[list[list[str]], list[int]]:
    rng = np.random.default_rng(0)
    return [list(rng.choice(WORDS, size=4)) for _ in range(n)], [i % 2 for i in range(n)]


def all_texts(dataset) -> list[str]:
    return [t for s in dataset.splits for t in dataset[s].texts]


# ---------------------------------------------------------------------------------------------
# Cells that are not text: joined when they are lists of words, refused otherwise, never str()


def _write(path: Path, rows: list[dict]) -> Path:
    if path.suffix == ".parquet":
        pd.DataFrame(rows).to_parquet(path)
    elif path.suffix == ".jsonl":
        path.write_text("\n".join(json.dumps(r) for r in rows))
    else:
        path.write_text(json.dumps(rows))
    return path


@pytest.mark.parametrize("ext", [".parquet", ".jsonl", ".json"])
def test_a_list_of_words_is_joined_never_its_python_spelling(tmp_path, ext):
    words, labels = texts_and_labels()
    path = _write(tmp_path / f"lists{ext}", [{"text": w, "label": y} for w, y in zip(words, labels, strict=True)])
    dataset = load_dataset(str(path))
    assert sorted(all_texts(dataset)) == sorted(" ".join(w) for w in words)
    assert not any(ch in t for t in all_texts(dataset) for ch in "[]'\"")
    assert any("Joined the words of 60 list cell(s)" in n for n in dataset.notes)


@pytest.mark.parametrize("ext", [".parquet", ".jsonl"])
@pytest.mark.parametrize("cell, needle", [
    ({"title": "good", "body": "film"}, "an object"),
    ([1, 2, 3], "a list of non-text values"),
])
def test_any_other_structure_in_the_text_column_is_refused_naming_the_row(tmp_path, ext, cell, needle):
    words, labels = texts_and_labels()
    rows = [{"text": " ".join(w), "label": y} for w, y in zip(words, labels, strict=True)]
    if ext == ".parquet":  # a Parquet column holds one type: every cell the structure
        rows = [{"text": cell, "label": y} for y in labels]
    else:
        rows[6]["text"] = cell
    path = _write(tmp_path / f"nested{ext}", rows)
    with pytest.raises(DataError, match=f"Row {1 if ext == '.parquet' else 7} of the text column \"text\" holds "
                                        f"{needle}"):
        load_dataset(str(path))


def test_a_lone_surrogate_escape_in_json_loads_as_the_replacement_character(tmp_path):
    lines = [json.dumps({"text": f"film {w}", "label": i % 2}) for i, w in enumerate(["good", "bad"] * 20)]
    lines[3] = '{"text": "broken emoji \\ud83d here", "label": 1}'
    path = tmp_path / "s.jsonl"
    path.write_text("\n".join(lines))
    dataset = load_dataset(str(path))
    assert "broken emoji \ufffd here" in all_texts(dataset)


# ---------------------------------------------------------------------------------------------
# Encodings: one bad byte stays one line; byte-order marks are told apart


def test_a_stray_latin1_byte_changes_only_its_own_line(tmp_path):
    good = [f"café numéro {i},{i % 2}" for i in range(40)]
    raw = ("text,label\n" + "\n".join(good[:20])).encode() + "\nnaïve déjà,0\n".encode("cp1252")
    raw += "\n".join(good[20:]).encode() + b"\n"
    path = tmp_path / "mixed.csv"
    path.write_bytes(raw)
    dataset = load_dataset(str(path))
    texts = all_texts(dataset)
    assert "naïve déjà" in texts and sum("café numéro" in t for t in texts) == 40  # no mojibake anywhere
    assert any("line(s) (22)" in n and "Windows-1252" in n for n in dataset.notes)


def test_a_line_in_neither_encoding_is_refused_with_its_number(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(b"text,label\nfine,0\nbad \x81 byte \xe9,1\n")
    with pytest.raises(DataError, match=r"Line 3 of bad.csv is not UTF-8 or Windows-1252 text \(byte 0x81\)"):
        load_dataset(str(path))


@pytest.mark.parametrize("codec", ["utf-32", "utf-32-be", "utf-16", "utf-16-be", "utf-8-sig"])
def test_every_byte_order_mark_gives_the_right_text(tmp_path, codec):
    body = "text,label\n" + "".join(f"wörd {i},{'pos' if i % 2 else 'neg'}\n" for i in range(40))
    data = body.encode(codec)
    if codec.endswith("-be"):  # the codec writes no mark for an explicit byte order: add it
        data = {"utf-32-be": b"\x00\x00\xfe\xff", "utf-16-be": b"\xfe\xff"}[codec] + data
    path = tmp_path / "bom.csv"
    path.write_bytes(data)
    dataset = load_dataset(str(path))
    assert dataset.label_names == ["neg", "pos"] and dataset.text_column == "text"
    assert sorted(all_texts(dataset)) == sorted(f"wörd {i}" for i in range(40))


def test_a_row_with_more_fields_than_the_header_is_refused_not_cut(tmp_path):
    """pandas cuts the fields past the header's with only a warning: "a, b,1" under "text,label" would be the
    text "a" labelled "b" (found by the fuzzing as a ParserWarning). Trailing empty fields stay harmless."""
    path = tmp_path / "commas.csv"
    # the first row decides pandas' shape: a later one with extra fields is a parse error already
    path.write_text("text,label\ngood, really good,1\n" + "".join(f"film {i},{i % 2}\n" for i in range(40)))
    with pytest.raises(DataError, match=r"Line 2 of commas\.csv has 3 fields but the header has 2; quote a text"):
        load_dataset(str(path))
    path.write_text("text,label\n" + "".join(f"film {i},{i % 2},\n" for i in range(40)))  # spreadsheet commas
    assert sum(len(s) for s in load_dataset(str(path)).splits.values()) == 40


def test_shards_with_different_columns_are_refused_not_dropped(tmp_path):
    (tmp_path / "train-00000-of-00002.csv").write_text("text,label\n" + "a good film,1\n" * 20)
    (tmp_path / "train-00001-of-00002.csv").write_text("review,stars\n" + "a bad film,0\n" * 20)
    with pytest.raises(DataError, match=r"The train files of .* have different columns: train-00000-of-00002.csv "
                                        r"has text, label, train-00001-of-00002.csv has review, stars"):
        load_dataset(str(tmp_path))


def test_shards_with_the_same_columns_in_another_order_are_one_table(tmp_path):
    (tmp_path / "train-00000-of-00002.jsonl").write_text("\n".join(
        json.dumps({"text": f"good film {i}", "label": 1}) for i in range(20)))
    (tmp_path / "train-00001-of-00002.jsonl").write_text("\n".join(
        json.dumps({"label": 0, "text": f"bad film {i}"}) for i in range(20)))
    dataset = load_dataset(str(tmp_path))
    expected = [f"good film {i}" for i in range(20)] + [f"bad film {i}" for i in range(20)]
    assert sorted(all_texts(dataset)) == sorted(expected)


@pytest.mark.parametrize("ext", [".parquet", ".json"])
def test_whole_number_labels_beyond_2_53_beside_a_null_keep_their_class(tmp_path, ext):
    """pandas makes an int column with a null float64, which would round 2**53 + 1 into 2**53's class."""
    labels = [2**53, 2**53 + 1, 7, None] * 10
    rows = [{"text": f"text {i}", "label": y} for i, y in enumerate(labels)]
    path = tmp_path / f"big{ext}"
    if ext == ".parquet":
        pd.DataFrame({"text": [r["text"] for r in rows], "label": pd.array(labels, dtype="Int64")}).to_parquet(path)
    else:
        path.write_text(json.dumps(rows))
    assert load_dataset(str(path)).label_names == ["7", str(2**53), str(2**53 + 1)]


def test_old_mac_line_endings_decode_line_by_line(tmp_path):
    path = tmp_path / "cr.csv"
    path.write_bytes(b"text,label\r" + "".join(f"caf\u00e9 {i},{i % 2}\r" for i in range(40)).encode()
                     + "na\u00efve,0\r".encode("cp1252"))
    dataset = load_dataset(str(path))
    assert sum("café" in t for t in all_texts(dataset)) == 40 and "naïve" in all_texts(dataset)


def test_data_notes_reach_the_command_line_even_when_quiet(tmp_path):
    path = tmp_path / "notes.csv"
    path.write_bytes(b"text,label\n" + b"".join(f"fil\u00e9 {i},{i % 2}\n".encode() for i in range(40))
                     + "caf\xe9 bon,1\n".encode("latin-1"))
    code, _, err = run_cli("train", "--data", str(path), "--out", str(tmp_path / "m.safetensors"), "--epochs", "1",
                           "--embed-dim", "8", "--hidden-size", "8", "--device", "cpu", "--quiet")
    assert code == 0 and "note: notes.csv is UTF-8 except 1 line(s) (42)" in err


# ---------------------------------------------------------------------------------------------
# Missing-value markers are not classes


@pytest.mark.parametrize("marker", ["NA", "N/A", "null", "NaN", "NULL", "#N/A", "<NA>"])
def test_a_missing_value_marker_in_a_word_label_column_is_no_class(tmp_path, marker):
    labels = ["pos", "neg", marker]
    path = tmp_path / "na.csv"
    path.write_text("text,label\n" + "".join(f"film {i},{labels[i % 3]}\n" for i in range(60)))
    dataset = load_dataset(str(path))
    assert dataset.label_names == ["neg", "pos"]
    assert sum(len(dataset[s]) for s in dataset.splits) == 40
    assert any(f'Dropped 20 of 60 train rows with an empty text or label, or a label that marks a missing value: '
               f'"{marker}" (20).' in n for n in dataset.notes)


@pytest.mark.parametrize("none", ["none", "None", "na"])
def test_a_class_called_none_keeps_its_rows(tmp_path, none):
    """"None" is a real class in some sets (no emotion, no aspect); it is never read as a missing value."""
    path = tmp_path / "none.csv"
    labels = ["Positive", "Negative", none]
    path.write_text("text,label\n" + "".join(f"film {i},{labels[i % 3]}\n" for i in range(60)))
    dataset = load_dataset(str(path))
    assert sorted(dataset.label_names) == sorted(labels) and sum(len(dataset[s]) for s in dataset.splits) == 60


# ---------------------------------------------------------------------------------------------
# Every setting is checked where it is defined: type, range, choices, for every face


CONFIGS = (ModelConfig, TokenizerConfig, TrainConfig)


def _bad_values(field) -> list:
    """Values each setting must refuse: just outside its range, the wrong type, not finite, not a choice."""
    s, default = field.setting, field.default
    bad: list = []
    if s.range is not None:
        lo, hi, _ = s.range
        bad += [int(lo) - 1, int(hi) + 1] if isinstance(default, int) else [lo - 1e-3 * max(1.0, hi), hi * 1.5 + 1]
    if isinstance(default, bool):
        bad += [1, "yes"]
    elif isinstance(default, int):
        bad += [2.5, "3"]
    elif isinstance(default, float):
        bad += [math.nan, math.inf, "0.1"]
    elif isinstance(default, str):
        bad += [3] + ([] if s.open_choices or s.path else ["no-such-choice"])
    return bad


@pytest.mark.parametrize("config_cls", CONFIGS, ids=lambda c: c.__name__)
def test_every_setting_refuses_values_outside_what_it_allows_naming_its_flag(config_cls):
    checked = 0
    for field in settings_of(config_cls):
        for value in _bad_values(field):
            with pytest.raises(SettingError) as info:
                config_cls(**{field.name: value})
            assert info.value.field == field.name and field.flag in str(info.value), (field.name, value)
            checked += 1
        config_cls(**{field.name: field.default})  # and the default is fine
    assert checked >= 2 * len(settings_of(config_cls))


@pytest.mark.parametrize("device", ["meta", "cuda:x", "tpu", "", "cpu; rm -rf"])
def test_a_device_outside_the_known_kinds_is_refused(device):
    with pytest.raises(SettingError, match=r"Device \(--device\)"):
        TrainConfig(device=device)


def test_whole_numbers_become_floats_and_numpy_sizes_are_accepted():
    assert TrainConfig(learning_rate=1).learning_rate == 1.0
    assert type(ModelConfig(hidden_size=np.int64(16)).hidden_size) is int


@pytest.mark.parametrize("flag, value", [
    ("--vocab-size", "0"), ("--vocab-size", "-5"), ("--min-frequency", "-1"), ("--max-length", "1e20"),
    ("--weight-decay", "-1"), ("--seed", "-1"), ("--device", "meta"), ("--lr", "1e9"), ("--grad-clip", "-1"),
    ("--layers", "100000"), ("--hidden-size", "100000"),
])
def test_cli_options_out_of_range_end_in_one_line_naming_the_option(tmp_path, flag, value):
    code, _, err = run_cli("train", "--data", "builtin:reviews?n=100", "--out", str(tmp_path / "m.safetensors"),
                           flag, value, "--epochs", "1", "--quiet")
    assert code != 0 and flag in err and "internal error" not in err and err.count("\n") == 1, err


def test_options_bounded_one_by_one_are_bounded_together():
    with pytest.raises(DataError, match=r"would generate up to [\d,]+ words; the most is 50,000,000"):
        load_dataset("builtin:longrange?n=2000000&gap=100000")
    with pytest.raises(StudioError, match="million parameters; the most is 500 million"):
        ModelConfig(embed_dim=2048, vocab_size=1_000_000)  # refused from arithmetic: nothing is built
    with pytest.raises(StudioError, match="million parameters"):
        ModelConfig(hidden_size=2048, num_layers=8)


# ---------------------------------------------------------------------------------------------
# Training that diverged is not a success


def test_the_divergence_rule():
    from core.train.trainer import _check_not_diverging, reference_loss

    # one lucky small batch can start far below chance; the reference never does
    assert reference_loss(0.19, 2) == pytest.approx(math.log(2)) and reference_loss(1.9, 2) == 1.9
    _check_not_diverging(0.722, reference_loss(0.187, 2), "the best epoch's validation loss", TrainConfig(), factor=3)

    cfg = TrainConfig()
    _check_not_diverging(0.2, 0.69, "loss", cfg)  # learning
    _check_not_diverging(0.69, 0.69, "loss", cfg)  # not learning is not diverging
    _check_not_diverging(2.0, 0.69, "loss", cfg, factor=3)
    for loss in (7.0, 1e29, math.inf, math.nan):
        with pytest.raises(TrainingError):
            _check_not_diverging(loss, 0.69, "loss", cfg)


def test_a_diverging_run_through_the_cli_saves_nothing(tmp_path):
    out = tmp_path / "m.safetensors"
    code, _, err = run_cli("train", "--data", "builtin:reviews?n=300", "--out", str(out), "--lr", "1",
                           "--grad-clip", "1000000", "--epochs", "2", "--device", "cpu", "--quiet")
    assert code == cli.EXIT_ERROR and not out.exists()
    assert re.search(r"training diverged: .* far above the .* it started at; the model was not kept\. Lower the "
                     r"learning rate \(it was 1\)", err), err


# ---------------------------------------------------------------------------------------------
# Evaluating on one class; ending by signal


def test_evaluating_on_a_file_of_one_class_is_legitimate(main_py, tmp_path):
    model = tmp_path / "m.safetensors"
    assert run_cli("train", "--data", "builtin:reviews?n=200", "--out", str(model), "--epochs", "1",
                   "--embed-dim", "8", "--hidden-size", "8", "--device", "cpu", "--quiet")[0] == 0
    one = tmp_path / "positive-only.csv"
    one.write_text("text,label\n" + "".join(f"the movie was great {i},positive\n" for i in range(40)))
    r = main_py("evaluate", str(model), "--data", str(one))
    assert r.returncode == 0, r.stderr.decode()
    result = json.loads(r.stdout)
    assert result["count"] == 4 and result["confusion_matrix"][0] == [0, 0]  # no negative rows
    with pytest.raises(DataError, match="Only one class"):  # training still needs two
        load_dataset(str(one))


def _stars_file(path: Path, stars: list[int], n: int = 60) -> Path:
    words = {1: "awful", 2: "poor", 3: "fine", 4: "good", 5: "superb"}
    path.write_text("text,label\n" + "".join(f"the film was {words[s]} {i},{s}\n" for i, s in enumerate(stars * n)))
    return path


def test_numbered_labels_map_by_number_not_by_position_or_scale_name(main_py, tmp_path):
    """A model of 1-5 stars (named by the sentiment scale) evaluated on a file of stars 1 and 2 only (which
    the scale alone would name negative and positive) must map 1 to 1 and 2 to 2; so must a file of one
    star, which carries no name at all."""
    model_path = tmp_path / "stars.safetensors"
    code, _, err = run_cli("train", "--data", str(_stars_file(tmp_path / "all.csv", [1, 2, 3, 4, 5])), "--out",
                           str(model_path), "--epochs", "6", "--embed-dim", "16", "--hidden-size", "16", "--device",
                           "cpu", "--quiet", "--lr", "0.01")
    assert code == 0, err
    from core.store.modelfile import load_model

    model = load_model(model_path)
    assert model.info.label_values == [1, 2, 3, 4, 5] and model.label_names[0] == "very negative"
    for stars in ([1, 2], [2], [5]):
        data = load_dataset(str(_stars_file(tmp_path / f"{stars}.csv", stars)), min_classes=1)
        assert list(model.align_labels(data.label_names, data.label_values)) == [s - 1 for s in stars]
    r = main_py("evaluate", str(model_path), "--data", str(tmp_path / "[2].csv"))
    assert r.returncode == 0, r.stderr.decode()
    result = json.loads(r.stdout)
    assert result["accuracy"] == 1.0 and result["per_class"]["negative"]["recall"] == 1.0


def test_a_model_without_recorded_numbers_refuses_to_guess(tiny_model):
    tiny_model.info.label_values = None  # a file from before the record
    with pytest.raises(StudioError, match="don't match"):
        tiny_model.align_labels(["1"], [1])
    assert list(tiny_model.align_labels(["0", "1"], [0, 1])) == [0, 1]  # same count: by position, as before


def test_evaluating_a_split_with_no_rows_says_so(tmp_path):
    model = tmp_path / "m.safetensors"
    assert run_cli("train", "--data", "builtin:reviews?n=200", "--out", str(model), "--epochs", "1",
                   "--embed-dim", "8", "--hidden-size", "8", "--device", "cpu", "--quiet")[0] == 0
    three = tmp_path / "three.csv"
    three.write_text("text,label\ngood,positive\nfine,positive\nbad,negative\n")
    code, _, err = run_cli("evaluate", str(model), "--data", str(three))
    assert code == cli.EXIT_ERROR and "the test split of" in err and "has no rows" in err


def test_predict_streams_standard_input_in_chunks(main_py, tmp_path):
    """Lines are read and predicted a chunk at a time (memory bounded by the chunk, not the input), in order,
    with Windows line ends and blank lines handled as before."""
    model = tmp_path / "m.safetensors"
    assert run_cli("train", "--data", "builtin:reviews?n=200", "--out", str(model), "--epochs", "1",
                   "--embed-dim", "8", "--hidden-size", "8", "--device", "cpu", "--quiet")[0] == 0
    lines = [f"review number {i} was {'good' if i % 2 else 'bad'}" for i in range(2 * cli.PREDICT_CHUNK + 7)]
    stdin = ("\ufeff" + "\r\n\n".join(lines) + "\n").encode()
    r = main_py("predict", str(model), input=stdin)
    assert r.returncode == 0, r.stderr.decode()
    assert [json.loads(row)["text"] for row in r.stdout.decode().splitlines()] == lines


def test_sigterm_during_training_ends_like_ctrl_c(tmp_path):
    out = tmp_path / "m.safetensors"
    proc = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "train", "--data", "builtin:reviews?n=20000",
                             "--out", str(out), "--epochs", "50", "--device", "cpu"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=headless())
    deadline = time.monotonic() + 60
    line = b""
    while b"splits:" not in line and time.monotonic() < deadline:  # loaded: training starts now
        line = proc.stderr.readline()
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == cli.EXIT_TERMINATED, err.decode()[-500:]
    assert err.decode().rstrip().endswith("cancelled (terminated)") and not out.exists()

