"""The command line, run as a user runs it: a subprocess of main.py, JSON on stdout, one-line errors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from helpers import run_cli

ROOT = Path(__file__).resolve().parents[1]
LONGRANGE = "builtin:longrange?n=600&gap=2-8"
FAST = ["--epochs", "2", "--embed-dim", "16", "--hidden-size", "16", "--quiet", "--device", "cpu"]


@pytest.fixture(scope="module")
def model_file(main_py, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "m.safetensors"
    r = main_py("train", "--data", LONGRANGE, "--model", "lstm", "--out", str(out), *FAST)
    assert r.returncode == 0, r.stderr.decode()
    summary = json.loads(r.stdout)
    assert summary["out"] == str(out) and 0 <= summary["test_accuracy"] <= 1
    return out


def test_train_writes_a_model_file(model_file):
    assert model_file.stat().st_size > 1000


def test_train_shows_progress_on_stderr(main_py, tmp_path):
    out = tmp_path / "g.safetensors"
    r = main_py("train", "--data", "builtin:longrange?n=300&gap=2-4", "--model", "gru", "--out", str(out),
                "--epochs", "1", "--hidden-size", "8", "--embed-dim", "8", "--no-bidirectional", "--pooling", "last",
                "--tokenizer", "bpe", "--vocab-size", "200", "--device", "cpu")
    assert r.returncode == 0, r.stderr.decode()
    err = r.stderr.decode()
    assert "epoch 1:" in err and "step" in err and "saved" in err


def test_evaluate_prints_the_metrics_json(main_py, model_file):
    r = main_py("evaluate", str(model_file), "--data", LONGRANGE)
    assert r.returncode == 0, r.stderr.decode()
    out = json.loads(r.stdout)
    assert {"accuracy", "macro_f1", "per_class", "confusion_matrix", "count"} <= set(out)
    assert set(out["per_class"]) == {"negative", "positive"}
    assert set(out["per_class"]["positive"]) == {"precision", "recall", "f1"}
    assert sum(map(sum, out["confusion_matrix"])) == out["count"] == 60


def test_predict_arguments_and_stdin(main_py, model_file):
    r = main_py("predict", str(model_file), "the movie was great", "the movie was awful")
    assert r.returncode == 0, r.stderr.decode()
    rows = [json.loads(line) for line in r.stdout.decode().splitlines()]
    assert [row["text"] for row in rows] == ["the movie was great", "the movie was awful"]
    for row in rows:
        assert row["label"] in ("negative", "positive")
        assert sum(row["probabilities"].values()) == pytest.approx(1, abs=1e-5)
    r = main_py("predict", str(model_file), input="first line\n\nsecond line ünïcödé 🙂\n".encode())
    assert r.returncode == 0, r.stderr.decode()
    assert [json.loads(x)["text"] for x in r.stdout.decode().splitlines()] == ["first line", "second line ünïcödé 🙂"]


def test_predict_with_gates(main_py, model_file):
    r = main_py("predict", str(model_file), "--gates", "the movie was great")
    assert r.returncode == 0, r.stderr.decode()
    row = json.loads(r.stdout)
    assert row["tokens"] == ["the", "movie", "was", "great"]
    assert len(row["prefix_probabilities"]) == 4
    cell = row["cells"][0]
    assert {"input", "forget", "candidate", "cell", "output", "hidden"} <= set(cell)
    assert len(cell["forget"]) == 4 and len(cell["forget"][0]) == 16


def test_info(main_py, model_file):
    r = main_py("info", str(model_file))
    assert r.returncode == 0
    assert json.loads(r.stdout)["model_config"]["kind"] == "lstm"


def _one_line_error(r: subprocess.CompletedProcess, *needles: str) -> None:
    err = r.stderr.decode().strip()
    assert r.returncode != 0
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    for n in needles:
        assert n.lower() in err.lower(), err


def test_bad_inputs_end_with_one_clear_line(main_py, tmp_path, model_file):
    out = tmp_path / "x.safetensors"
    _one_line_error(main_py("train", "--data", str(tmp_path / "missing.csv"), "--out", str(out), *FAST), "missing.csv")
    (tmp_path / "empty.csv").write_text("")
    _one_line_error(main_py("train", "--data", str(tmp_path / "empty.csv"), "--out", str(out), *FAST), "empty")
    (tmp_path / "one.csv").write_text("text,label\n" + "".join(f"t{i},pos\n" for i in range(20)))
    _one_line_error(main_py("train", "--data", str(tmp_path / "one.csv"), "--out", str(out), *FAST), "one class")
    (tmp_path / "cols.csv").write_text("a,b,c\n" + "".join(f"x{i},{i},{i}\n" for i in range(20)))
    _one_line_error(main_py("train", "--data", str(tmp_path / "cols.csv"), "--out", str(out), *FAST),
                    "name them with --text-column and --label-column")
    (tmp_path / "ok.csv").write_text("review,stars\n" + "".join(f"x{i},{i % 2}\n" for i in range(20)))
    _one_line_error(main_py("train", "--data", str(tmp_path / "ok.csv"), "--text-column", "body",
                            "--out", str(out), *FAST), 'no text column "body"; the columns are: review, stars; name it '
                    "with --text-column")
    (tmp_path / "bytes.tsv").write_bytes(b"text\tlabel\n\x81\x8d\x8f\x90\x9d bad\t1\nok\t0\n")
    _one_line_error(main_py("train", "--data", str(tmp_path / "bytes.tsv"), "--out", str(out), *FAST), "utf-8")
    assert not out.exists()

    (tmp_path / "not_a_model.safetensors").write_bytes(b"hello world, not a model at all")
    _one_line_error(main_py("predict", str(tmp_path / "not_a_model.safetensors"), "hi"), "not a sentiment studio")
    _one_line_error(main_py("evaluate", str(tmp_path / "missing.safetensors"), "--data", LONGRANGE), "does not exist")
    _one_line_error(main_py("predict", str(model_file), input=b"\xff\xfe\xfa broken\n"), "utf-8")
    _one_line_error(main_py("train", "--data", LONGRANGE, "--out", str(tmp_path / "no" / "dir" / "m.safetensors"),
                            *FAST), "does not exist")
    _one_line_error(main_py("train", "--data", LONGRANGE), "--out")  # usage error, still one line
    _one_line_error(main_py("train", "--data", "builtin:nosuchset", "--out", str(out), *FAST), "nosuchset")


def test_a_model_file_from_a_newer_format(main_py, model_file, tmp_path):
    import struct

    data = model_file.read_bytes()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    header["__metadata__"]["format_version"] = "7"
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    newer = tmp_path / "newer.safetensors"
    newer.write_bytes(struct.pack("<Q", len(raw)) + raw + data[8 + n :])
    _one_line_error(main_py("predict", str(newer), "hi"), "newer")


def test_existing_output_is_untouched_when_input_is_bad(main_py, tmp_path):
    out = tmp_path / "keep.safetensors"
    out.write_bytes(b"precious")
    _one_line_error(main_py("train", "--data", str(tmp_path / "missing.tsv"), "--out", str(out), *FAST))
    assert out.read_bytes() == b"precious"


def test_evaluate_carves_the_splits_the_model_was_trained_with(main_py, tmp_path):
    """A CSV without test rows: ``evaluate`` must score on the rows the model held out, whatever the seeds."""
    from core.data import load_dataset
    from core.store.modelfile import load_model

    rng = __import__("random").Random(0)
    words = {0: ["dull", "bad", "awful"], 1: ["great", "fine", "lovely"]}
    rows = [f"a {rng.choice(words[i % 2])} film {i},{i % 2}" for i in range(300)]
    data = tmp_path / "reviews.csv"
    data.write_text("text,label\n" + "\n".join(rows) + "\n")
    out = tmp_path / "m.safetensors"
    r = main_py("train", "--data", str(data), "--out", str(out), "--seed", "1", "--split-seed", "3", *FAST)
    assert r.returncode == 0, r.stderr.decode()
    model = load_model(out)
    assert (model.info.splits.split_seed, model.info.splits.carved) == (3, ["validation", "test"])

    r = main_py("evaluate", str(out), "--data", str(data))
    assert r.returncode == 0, r.stderr.decode()
    result = json.loads(r.stdout)
    held_out = load_dataset(str(data), split_seed=3)
    assert result["split_seed"] == 3 and result["count"] == len(held_out["test"])
    assert result["accuracy"] == pytest.approx(model.evaluate(held_out["test"]).accuracy)
    assert not set(held_out["test"].texts) & set(held_out["train"].texts)
    # the training seed alone never moves the carve
    assert load_dataset(str(data))["test"].texts == load_dataset(str(data), split_seed=0)["test"].texts


def test_evaluate_says_how_it_carves_for_a_file_without_a_split_record(main_py, tmp_path):
    old = ROOT / "tests" / "data" / "v1-gru-af15710.safetensors"  # written by 0.1, seed 0
    r = main_py("evaluate", str(old), "--data", "builtin:longrange?n=200&gap=2-4")
    assert r.returncode == 0, r.stderr.decode()
    assert "does not record how its splits were carved" in r.stderr.decode()
    assert json.loads(r.stdout)["split_seed"] == 0


def test_data_notes_reach_the_command_line_user(main_py, tmp_path):
    data = tmp_path / "n.csv"
    data.write_text("text,label\n" + "".join(f"t{i} word,{i % 3}\n" for i in range(90)))
    r = main_py("train", "--data", str(data), "--out", str(tmp_path / "m.safetensors"), *FAST)  # notes even if --quiet
    assert r.returncode == 0, r.stderr.decode()
    err = r.stderr.decode()
    assert "note: Named the labels 0, 1, 2 as negative, neutral, positive" in err
    assert "note: Carved validation and test from train (seed 0" in err


def test_every_setting_is_a_flag_described_by_its_dataclass_field():
    """One source for every setting: the flags come from the config fields' metadata (the GUI form too)."""
    import cli as cli_module
    from core.config import DataConfig, ModelConfig, TokenizerConfig, TrainConfig
    from core.settings import settings_of

    parser = cli_module.build_parser()
    train = next(a for a in parser._actions if a.dest == "command").choices["train"]
    flags = {opt: action for action in train._actions for opt in action.option_strings}
    for cls in (DataConfig, ModelConfig, TokenizerConfig, TrainConfig):
        for f in settings_of(cls):
            action = flags[f.flag]
            assert action.default == f.default, f.name
            assert f.setting.summary.split(" (")[0][:30] in action.help.replace("%%", "%"), f.name
    # the knobs one face lacked before the settings had one source
    for flag in ("--lr-decay", "--min-frequency", "--lowercase", "--model", "--layers", "--lr", "--tokenizer"):
        assert flag in flags
    args = train.parse_args(["--data", "x", "--out", "m", "--lr-decay", "0.25", "--no-lowercase", "--layers", "2"])
    model, tokenizer, training = cli_module.configs_from(args, ModelConfig, TokenizerConfig, TrainConfig)
    assert (training.lr_decay, tokenizer.lowercase, model.num_layers) == (0.25, False, 2)


def test_the_data_settings_are_flags_of_train_and_sweep_and_evaluate_keeps_its_override():
    """--split-seed and the carve shares come from DataConfig for train and sweep; evaluate's --split-seed
    overrides the model file's record (default: none), refused outside the same range."""
    import cli as cli_module
    from core.config import DataConfig

    commands = next(a for a in cli_module.build_parser()._actions if a.dest == "command").choices
    for name in ("train", "sweep"):
        flags = {opt: action for action in commands[name]._actions for opt in action.option_strings}
        assert {flag: flags[flag].default for flag in ("--split-seed", "--validation-fraction", "--test-fraction")} \
            == {"--split-seed": 0, "--validation-fraction": 0.1, "--test-fraction": 0.1}
    args = commands["train"].parse_args(["--data", "x", "--out", "m", "--test-fraction", "0.25", "--split-seed", "7"])
    (data,) = cli_module.configs_from(args, DataConfig)
    assert data == DataConfig(split_seed=7, test_fraction=0.25)
    evaluate = {opt: action for action in commands["evaluate"]._actions for opt in action.option_strings}
    assert evaluate["--split-seed"].default is None and "overriding the one the model file records" in \
        evaluate["--split-seed"].help
    for command in (["evaluate", "m.safetensors"], ["train", "--out", "m.safetensors"]):
        code, _, err = run_cli(*command, "--data", "x", "--split-seed", "-1")
        assert code == 2 and "argument --split-seed: -1 is outside 0 to 2,147,483,647" in err, err
    code, _, err = run_cli("train", "--data", "x", "--out", "m.safetensors", "--validation-fraction", "0.6")
    assert code == 2 and "argument --validation-fraction: 0.6 is outside 0 to 0.5" in err, err


def test_train_carves_the_shares_asked_and_records_them_in_the_file_and_the_run_store(tmp_path, monkeypatch):
    from core.store.modelfile import load_model
    from core.store.runs import RunStore

    monkeypatch.setenv("SENTIMENT_STUDIO_HOME", str(tmp_path / "home"))
    data = tmp_path / "reviews.csv"
    data.write_text("text,label\n" + "".join(f"a {('dull', 'great')[i % 2]} film {i},{i % 2}\n" for i in range(300)))
    out = tmp_path / "m.safetensors"
    code, stdout, err = run_cli("train", "--data", str(data), "--out", str(out), "--validation-fraction", "0.2",
                                    "--split-seed", "4", *FAST)
    assert code == 0, err
    splits = load_model(out).info.splits
    assert (splits.split_seed, splits.validation_fraction, splits.test_fraction) == (4, 0.2, 0.1)
    assert splits.sizes == {"train": 210, "validation": 60, "test": 30}  # 20% and 10% of 300 rows
    run = RunStore().get(json.loads(stdout)["run_id"])
    assert run.settings["data"] == {"split_seed": 4, "validation_fraction": 0.2, "test_fraction": 0.1}
    assert {"model", "tokenizer", "train"} <= set(run.settings)
    code, stdout, err = run_cli("evaluate", str(out), "--data", str(data), "--split", "validation")
    assert code == 0 and json.loads(stdout)["count"] == 60, err  # the recorded carve, redone


def test_a_data_setting_is_not_a_sweep_dimension():
    """A sweep loads (and carves) its data once, so --grid refuses the data settings, saying why, in one line."""
    for spec in ("split_seed=0,1", "validation-fraction=0.1,0.2"):
        code, out, err = run_cli("sweep", "--data", LONGRANGE, "--grid", spec, "--quiet")
        assert code == 1 and out == "" and err.count("\n") == 1, err
        assert err.startswith(f"error: --grid {spec!r}: ") and "can't be swept" in err and "loads its data once" in err


def test_a_setting_outside_its_range_is_refused_before_any_work(main_py, tmp_path):
    out = tmp_path / "m.safetensors"
    for flag, value in (("--max-length", "0"), ("--patience", "0"), ("--lr-decay", "5"), ("--vocab-size", "-5")):
        r = main_py("train", "--data", LONGRANGE, "--out", str(out), flag, value)
        err = r.stderr.decode()
        assert r.returncode == 2 and f"argument {flag}: {value} is outside" in err, err
    assert not out.exists()


def test_an_old_scripts_evaluate_seed_is_accepted_and_the_record_wins(main_py, model_file):
    r = main_py("evaluate", str(model_file), "--data", LONGRANGE, "--seed", "5")
    assert r.returncode == 0, r.stderr.decode()
    assert "no longer sets how missing splits are carved" in r.stderr.decode()
    assert json.loads(r.stdout)["split_seed"] == 0


def test_predict_explain_adds_word_attributions(main_py, model_file):
    r = main_py("predict", str(model_file), "--gates", "--explain", "the movie was great")
    assert r.returncode == 0, r.stderr.decode()
    row = json.loads(r.stdout)
    assert row["tokens"] == ["the", "movie", "was", "great"] and len(row["cells"][0]["forget"]) == 4  # one token list
    assert row["attribution_method"] == "ig" and row["attribution_target"] == row["label"]
    assert len(row["attributions"]) == len(row["offsets"]) == 4 and isinstance(row["delta"], float)
    assert [w["word"] for w in row["words"]] == ["the", "movie", "was", "great"]
    assert [(w["start"], w["end"]) for w in row["words"]] == [tuple(o) for o in row["offsets"]]
    other = "negative" if row["label"] == "positive" else "positive"
    r = main_py("predict", str(model_file), "--explain", "--method", "occlusion", "--target", other.upper(),
                "the movie was great")
    assert r.returncode == 0, r.stderr.decode()
    row = json.loads(r.stdout)
    assert row["attribution_method"] == "occlusion" and row["attribution_target"] == other and "delta" not in row
    _one_line_error(main_py("predict", str(model_file), "--target", "neutral", "x"), "--explain")
    _one_line_error(main_py("predict", str(model_file), "--explain", "--target", "neutral", "x"), "neutral", "negative")
    _one_line_error(main_py("predict", str(model_file), "--explain", "--steps", "1", "x"), "--steps", "2")
    _one_line_error(main_py("predict", str(model_file), "--method", "occlusion", "x"), "--explain")


@pytest.mark.parametrize("kind", ["gru", "rnn"])
def test_predict_explain_for_every_kind_adds_up(main_py, kind, tmp_path):
    """Integrated Gradients' completeness from the command line: the attributions' sum differs from the
    change in the output by ``delta``, here under 1% of it at 256 steps."""
    out = tmp_path / f"{kind}.safetensors"
    r = main_py("train", "--data", LONGRANGE, "--model", kind, "--out", str(out), *FAST)
    assert r.returncode == 0, r.stderr.decode()
    r = main_py("predict", str(out), "--explain", "--steps", "256", "at window outstanding next door for and city",
                "that city train dreadful table street")  # the built-in set's words
    assert r.returncode == 0, r.stderr.decode()
    for line in r.stdout.decode().splitlines():
        row = json.loads(line)
        change = sum(row["attributions"]) - row["delta"]  # f(x) - f(padding) for the predicted class
        assert abs(change) > 1e-3 and abs(row["delta"]) <= 0.01 * abs(change) + 1e-5
