"""Helpers shared by the core.data tests: write a file, expect a one-line DataError."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.data import DataError, load_dataset


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def rows_tsv(n: int = 40, labels: tuple = (0, 1), header: str = "text\tlabel") -> str:
    lines = [header] + [f"example number {i} is here\t{labels[i % len(labels)]}" for i in range(n)]
    return "\n".join(lines) + "\n"


def error_of(source: str | Path, **kw) -> str:
    with pytest.raises(DataError) as info:
        load_dataset(str(source), **kw)
    msg = str(info.value)
    assert "\n" not in msg and msg.strip() == msg and len(msg) < 400
    return msg
