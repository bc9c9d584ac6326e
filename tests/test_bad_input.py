"""Bad input, end to end: every bad dataset is one clear ``DataError`` from ``load_dataset`` AND one line
on stderr from ``main.py train`` (non-zero exit, no traceback, input file untouched, no --out file);
every odd sentence gives a valid prediction or a ``StudioError``.

Complements tests/test_data.py (messages in detail) and tests/test_cli.py (a few CLI errors): the
cases here are the ones those files do not run through the CLI.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from core.data import DataError, load_dataset
from core.errors import StudioError

TINY = ["--epochs", "1", "--embed-dim", "8", "--hidden-size", "8", "--device", "cpu", "--quiet"]
BIG_LINE = 50_000_000  # characters in the single-line file


def rows(n: int = 20, labels=("neg", "pos")) -> str:
    return "".join(f"example {i},{labels[i % len(labels)]}\n" for i in range(n))


# name -> (files to write: relative path -> bytes/str, the source relative to tmp_path, needle in message)
CASES: dict[str, tuple[dict[str, str | bytes], str, str]] = {
    "header only": ({"h.csv": "text,label\n"}, "h.csv", "header but no rows"),
    "mixed label types": ({"m.csv": "text,label\n" + rows(10) + rows(10, (0, 1))}, "m.csv", "mixes numbers and words"),
    "one class by case": ({"c.csv": "text,label\n" + rows(20, ("Positive", "positive"))}, "c.csv", "Only one class"),
    "unknown label in test": ({"d/train.csv": "text,label\n" + rows(), "d/test.csv": "text,label\nx,neutral\n"},
                              "d", '"neutral", which never appears'),
    "unknown label in validation": ({"v/train.csv": "text,label\n" + rows(),
                                     "v/dev.csv": "text,label\nx,pos\ny,meh\n"}, "v", '"meh"'),
    "no usable text or label column": ({"n.json": json.dumps([{"id": i, "score2": i % 2} for i in range(20)])},
                                       "n.json", "text and label columns"),
    "NUL bytes": ({"z.csv": b"text,label\nab\x00c,pos\nd,neg\n"}, "z.csv", "NUL bytes"),
    "UTF-16 without a BOM": ({"u.csv": ("text,label\n" + rows()).encode("utf-16-le")}, "u.csv", "NUL bytes"),
    "undecodable bytes": ({"b.csv": b"text,label\ncaf\xe9 \x81,pos\nd,neg\n"}, "b.csv", "not UTF-8"),
    "malformed JSON": ({"j.json": '[{"text": "a", "label": 1},'}, "j.json", "not valid JSON"),
    "malformed JSONL": ({"j.jsonl": '{"text": "a", "label": 1}\n{"text": "b", label: 0}\n'}, "j.jsonl", "line 2"),
    "JSON nested too deep": ({"deep.json": "[" * 100_000 + "]" * 100_000}, "deep.json", "nested too deeply"),
    "JSONL line nested too deep": ({"deep.jsonl": "[" * 100_000 + "\n"}, "deep.jsonl", "nested too deeply"),
    "not Parquet": ({"p.parquet": b"PAR1 this is not really parquet"}, "p.parquet", "not a Parquet file"),
    "folder with no split files": ({"f/readme.txt": "hi", "f/notes.csv": "text,label\n" + rows()}, "f",
                                   "has no train file"),
    "missing path": ({}, "nope/missing.csv", "No such file"),
}


def _snapshot(paths: list[Path]) -> dict[Path, tuple[bytes, int]]:
    return {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in paths}


def _write(tmp: Path, files: dict[str, str | bytes]) -> list[Path]:
    written = []
    for rel, content in files.items():
        p = tmp / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content if isinstance(content, bytes) else content.encode())
        written.append(p)
    return written


def assert_clean_failure(main_py, source: str, needle: str, inputs: list[Path], out: Path,
                         env: dict | None = None) -> None:
    """load_dataset -> DataError with ``needle``; the CLI (``main_py``) -> one stderr line, nothing changed or
    created."""
    before = _snapshot(inputs)
    with pytest.raises(DataError) as info:
        load_dataset(source)
    msg = str(info.value)
    assert needle.lower() in msg.lower() and "\n" not in msg and len(msg) < 400, msg

    r = main_py("train", "--data", source, "--out", str(out), *TINY, env=env)
    err = r.stderr.decode()
    assert r.returncode == 1, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert err.startswith("error: ") and needle.lower() in err.lower(), err
    assert r.stdout == b""
    assert not out.exists()
    assert _snapshot(inputs) == before  # same bytes, same mtime


@pytest.mark.parametrize("case", list(CASES))
def test_bad_dataset(main_py, tmp_path, case):
    files, source, needle = CASES[case]
    inputs = _write(tmp_path, files)
    assert_clean_failure(main_py, str(tmp_path / source), needle, inputs, tmp_path / "m.safetensors")


def test_a_50_mb_single_line_is_quick_and_clear(main_py, tmp_path):
    """Decision: read it (50 MB is a legal, if odd, table) and report what it is: a header with no
    rows when it has no newline, or one huge row. Both must finish in seconds, not hang."""
    big = tmp_path / "big.csv"
    big.write_bytes(b"a" * BIG_LINE)
    t = time.perf_counter()
    assert_clean_failure(main_py, str(big), "header but no rows", [big], tmp_path / "m.safetensors")
    assert time.perf_counter() - t < 30
    row = tmp_path / "row.csv"
    row.write_bytes(b"text,label\n" + b"word " * (BIG_LINE // 5) + b",pos\n")
    t = time.perf_counter()
    with pytest.raises(DataError, match="Only one class"):
        load_dataset(str(row))
    assert time.perf_counter() - t < 15


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root reads a chmod 000 file anyway (CI runs as root), so there is no error to test")
def test_unreadable_file(main_py, tmp_path):
    p = tmp_path / "secret.csv"
    p.write_text("text,label\n" + rows())
    p.chmod(0)
    try:
        assert_clean_failure(main_py, str(p), "Can't read", [], tmp_path / "m.safetensors")
    finally:
        p.chmod(0o600)


def test_unreadable_file_even_as_root(tmp_path, monkeypatch):
    """The same path as above, with the OS refusal simulated, so it runs where tests run as root."""
    p = tmp_path / "secret.csv"
    p.write_text("text,label\n" + rows())

    real_open = os.open

    def refuse(path, *args, **kwargs):
        if str(path).endswith("secret.csv"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(DataError, match=r"Can.t read .*secret\.csv: Permission denied"):
        load_dataset(str(p))


def test_hub_name_that_does_not_exist_offline(main_py, tmp_path):
    """No network: HF_HUB_OFFLINE is the boundary; an empty cache gives the clear offline message."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE"))}
    env.update(HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf"), HF_DATASETS_CACHE=str(tmp_path / "hf" / "ds"))
    r = main_py("train", "--data", "no-such-user/no-such-dataset", "--out", str(tmp_path / "m.safetensors"), *TINY,
                env=env)
    err = r.stderr.decode()
    assert r.returncode == 1 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "not in the local cache" in err and '"no-such-user/no-such-dataset"' in err
    assert not (tmp_path / "m.safetensors").exists()


def test_quoted_newlines_load_through_the_cli_loader(tmp_path):
    p = tmp_path / "q.csv"
    p.write_text('text,label\n"first line\nsecond line",pos\n"a, b",neg\n' + rows(20))
    ds = load_dataset(str(p))
    texts = [t for s in ds.splits.values() for t in s.texts]
    assert "first line\nsecond line" in texts and "a, b" in texts and len(texts) == 22


# ---------------------------------------------------------------------------------------------
# Odd sentences

ODD_TEXTS = {
    "empty": "",
    "whitespace": " \t\n\u00a0\u3000 ",
    "unknown words": "zzxq qqwv blorft",
    "100k characters": ("the film was great " * 6000)[:100_000],
    "emoji": "🙂🙂 great 👍🏽 film 🎬",
    "right to left": "הסרט היה נהדר great فيلم رائع",
    "control characters": "great\x00film\x07\x1b[31m awful\x7f\u200b\u202e",
    "combining": "A\u0300 e\u0301 \u1100\u1161\u11a8 great",
    "lone surrogate": "great \ud800 film",
}


@pytest.mark.parametrize("name", list(ODD_TEXTS))
def test_odd_texts_predict_and_trace(tiny_model, name):
    text = ODD_TEXTS[name]
    try:
        (pred,) = tiny_model.predict([text])
    except StudioError as err:  # allowed, but must be a clear one-liner
        assert str(err) and "\n" not in str(err)
        return
    assert pred.text == text
    p = np.array(list(pred.probabilities.values()))
    assert pred.label in tiny_model.label_names and np.all(p >= 0) and p.sum() == pytest.approx(1, abs=1e-5)
    trace = tiny_model.trace(text[:2000])  # the trace runs cell by cell: keep it short
    assert len(trace.tokens) == len(trace.offsets) >= 1
    assert np.all(trace.offsets >= 0) and np.all(trace.offsets[:, 0] <= trace.offsets[:, 1])
    assert np.all(trace.offsets[:, 1] <= len(text[:2000]))
    assert np.allclose(trace.probabilities.sum(), 1, atol=1e-5)


def test_odd_texts_through_cli_predict(main_py, tiny_model_file):
    texts = [t for n, t in ODD_TEXTS.items() if n not in ("empty", "lone surrogate")]
    r = main_py("predict", str(tiny_model_file), "--gates", *[t.replace("\x00", "") for t in texts])  # no NUL in argv
    assert r.returncode == 0, r.stderr.decode()
    lines = r.stdout.decode("utf-8").splitlines()
    assert len(lines) == len(texts)
    for line in lines:
        row = json.loads(line)
        assert sum(row["probabilities"].values()) == pytest.approx(1, abs=1e-4)
        assert all(0 <= s <= e <= len(row["text"]) for s, e in row["offsets"])


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ((b"great \xff\xfe film",), "not valid UTF-8"),  # undecodable bytes: a lone surrogate in sys.argv
    ],
)
def test_cli_predict_bad_arguments(main_py, tiny_model_file, args, needle):
    r = main_py("predict", str(tiny_model_file), *args)
    err = r.stderr.decode()
    assert r.returncode == 1 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert needle in err


def test_cli_predict_empty_argument_is_a_valid_prediction(main_py, tiny_model_file):
    r = main_py("predict", str(tiny_model_file), "")
    assert r.returncode == 0, r.stderr.decode()
    row = json.loads(r.stdout)
    assert row["text"] == "" and sum(row["probabilities"].values()) == pytest.approx(1, abs=1e-4)
