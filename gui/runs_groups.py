"""The Runs screen's groups: the runs of one setting repeated over seeds or folds (``Run.group``), a row each.

A group's row gives the mean ± sd and the min-max of its runs' test accuracy (``core.uncertainty.
summarize``); its tick overlays its curves as a mean with a band. Two ticked groups run on the same seeds
(or the same folds of the same data) get the exact paired permutation test over the seeds
(``paired_over_seeds``) beside the per-seed accuracies; the per-seed McNemar tests need both models'
predictions on the same rows, so they are Compare's.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, Signal

from core.uncertainty import GroupSummary, p_text, paired_over_seeds, summarize
from gui.runs_table import TickColumn

if TYPE_CHECKING:
    from core.store.runs import Run

GROUP_COLUMNS = ("", "group", "model", "runs", "test accuracy: mean ± sd (min-max)", "dataset")
# what tells a group's runs apart in their names: the app's "seed=2", "fold 3/5"; the command line's "seed 2", "fold 3"
_MEMBER = re.compile(r"\s*\b(seed[= ]\d+|fold \d+(/\d+)?)")


@dataclass
class RunGroup:
    """A group's runs (``Run.group``: id, kind "seeds" or "folds", n, index, seed or fold), by index."""

    id: str
    kind: str  # "seeds" or "folds"
    n: int  # the runs the group was planned with
    runs: list[Run]

    @property
    def label(self) -> str:
        """The first run's name less its seed or fold: "LSTM hidden_size=64"."""
        return _MEMBER.sub("", self.runs[0].name).strip() or self.runs[0].kind.upper()

    @property
    def dataset(self) -> str:
        return self.runs[0].dataset

    def member(self, run: Run) -> int:
        """What a run is of the group: its seed, or its fold (0-based)."""
        g = run.group or {}
        value = g.get("fold", g.get("index")) if self.kind == "folds" else g.get("seed", g.get("index"))
        return value if type(value) is int else run.id  # a store edited by hand: the run's own id, never a crash

    def scores(self) -> dict[int, float]:
        """Test accuracy per seed (or fold) of the runs that have one."""
        return {self.member(r): r.test_accuracy for r in self.runs if r.test_accuracy is not None}

    def summary(self) -> GroupSummary | None:
        scores = self.scores()
        return summarize(list(scores.values()), self.kind) if scores else None

    def summary_text(self) -> str:
        summary = self.summary()
        return "no test accuracy yet" if summary is None else summary.text()

    def split_seed(self):
        return carve(self.runs[0]).get("split_seed")


def carve(run: Run) -> dict:
    """The data settings ``run``'s data was carved with (split seed, validation and test shares; {} before them)."""
    data = (run.settings or {}).get("data")
    return data if isinstance(data, dict) else {}


def groups_of(runs: list[Run]) -> list[RunGroup]:
    """The groups among ``runs``, the newest first; each group's runs by index."""
    found: dict[str, list[Run]] = {}
    for run in runs:
        if run.group and run.group.get("id"):
            found.setdefault(str(run.group["id"]), []).append(run)
    groups = []
    for gid, members in found.items():
        first = members[0].group
        members.sort(key=lambda r: (r.group.get("index") if type(r.group.get("index")) is int else 0, r.id))
        n = first.get("n") if type(first.get("n")) is int and first.get("n") > 0 else len(members)
        groups.append(RunGroup(gid, "folds" if first.get("kind") == "folds" else "seeds", n, members))
    return sorted(groups, key=lambda g: -max(r.id for r in g.runs))


def pair_problem(a: RunGroup, b: RunGroup) -> str:
    """Why ``a`` and ``b`` can't be paired seed by seed ("" when they can)."""
    if a.kind != b.kind:
        return "one is repeated over seeds, the other over folds"
    if a.dataset != b.dataset:
        return "they were trained on different data"
    if a.kind == "folds" and (a.n != b.n or a.split_seed() != b.split_seed()):
        return "their folds are not the same rows (another number of folds or split seed)"
    # seed by seed (fold by fold): the same data, carved with the same split seed and shares, so the same test rows
    ra, rb = {a.member(r): r for r in a.runs}, {b.member(r): r for r in b.runs}
    if any(ra[k].fingerprint != rb[k].fingerprint or carve(ra[k]) != carve(rb[k]) for k in ra.keys() & rb.keys()):
        return "they were not tested on the same rows (the data changed, or it was carved otherwise)"
    if len(set(a.scores()) & set(b.scores())) < 2:
        return f"they share fewer than two {a.kind} with a test accuracy"
    return ""


def group_names(groups: list[RunGroup]) -> dict[str, str]:
    """Each group's name by id: its label, or with its first run where two groups share one (two "LSTM" repeats
    read "LSTM (from run 4)", "LSTM (from run 7)")."""
    labels = [g.label for g in groups]
    return {g.id: g.label if labels.count(g.label) == 1 else f"{g.label} (from run {min(r.id for r in g.runs)})"
            for g in groups}


def paired_html(groups: list[RunGroup]) -> str:
    """Each ticked group's mean ± sd, and for each pair run on the same seeds (or folds) the paired test over
    them with the per-seed accuracies, the better mean first; empty without a ticked group."""
    if not groups:
        return ""
    groups = sorted(groups, key=lambda g: -(g.summary().mean if g.summary() else -1))  # differences best - worse
    names = group_names(groups)
    parts = [f"<p><b>{escape(names[g.id])}</b>: test accuracy {escape(g.summary_text())}</p>" for g in groups]
    for a, b in itertools.combinations(groups, 2):
        problem = pair_problem(a, b)
        if problem:
            parts.append(f"<p>{escape(names[a.id])} and {escape(names[b.id])}: no paired test, {escape(problem)}.</p>")
            continue
        sa, sb = a.scores(), b.scores()
        keys = sorted(set(sa) & set(sb))
        test = paired_over_seeds(keys, [sa[k] for k in keys], [sb[k] for k in keys])
        word = "seed" if a.kind == "seeds" else "fold"
        columns = [str(k) if word == "seed" else str(k + 1) for k in keys]
        head = "".join(f"<th>{word} {c}</th>" for c in columns)
        rows = "".join(f"<tr><td>{escape(names[g.id])}</td>" + "".join(f"<td>{100 * s[k]:.1f}</td>" for k in keys)
                       + "</tr>" for g, s in ((a, sa), (b, sb)))
        diffs = "".join(f"<td>{100 * d:+.1f}</td>" for d in test.diffs)
        floor = 2 / 2 ** len(keys)
        parts.append(
            f"<p><b>{escape(names[a.id])} − {escape(names[b.id])}</b> over the same {len(keys)} {word}s: "
            f"{100 * test.mean_diff:+.1f} points on average, {p_text(test.p)} (exact paired permutation test; "
            f"{len(keys)} {word}s can't give less than {floor:.2g}). Per-{word} McNemar: in Compare (it needs both "
            f"models' predictions on the same rows).</p><table cellspacing='6'><tr><th>test accuracy</th>{head}"
            f"</tr>{rows}<tr><td>difference</td>{diffs}</tr></table>")
    return "".join(parts)


class GroupsTable(TickColumn, QAbstractTableModel):
    """The groups of the store's runs, a row each; column 0 is the tick that overlays a group's mean curves."""

    ticked_changed = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.groups: list[RunGroup] = []
        self.names: dict[str, str] = {}  # group id -> its name in the table (group_names)
        self.ticked: set[str] = set()

    def set_runs(self, runs: list[Run]) -> None:
        groups = groups_of(runs)
        self.names = group_names(groups)
        if groups and [g.id for g in groups] == [g.id for g in self.groups]:  # the same rows, new figures: the
            self.groups = groups  # selection and the view stay (a live refresh every 2 s while a group trains)
            self.dataChanged.emit(self.index(0, 0), self.index(len(groups) - 1, len(GROUP_COLUMNS) - 1))
            return
        self.beginResetModel()
        self.groups = groups
        self.ticked &= {g.id for g in self.groups}
        self.endResetModel()

    def ticked_groups(self) -> list[RunGroup]:
        return [g for g in self.groups if g.id in self.ticked]

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self.groups)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008
        return len(GROUP_COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return GROUP_COLUMNS[section]
        return None

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        group, column = self.groups[index.row()], index.column()
        if role == Qt.ItemDataRole.CheckStateRole and column == 0:
            return Qt.CheckState.Checked if group.id in self.ticked else Qt.CheckState.Unchecked
        if role == Qt.ItemDataRole.ToolTipRole and column == 4:
            return "Mean ± sd (n - 1) of the runs' test accuracy, their lowest and highest, and how many."
        if role != Qt.ItemDataRole.DisplayRole or column == 0:
            return None
        done = sum(r.status == "finished" for r in group.runs)
        return (None, self.names.get(group.id, group.label), group.runs[0].kind, f"{done}/{group.n} {group.kind}",
                group.summary_text(), group.dataset)[column]

    def tick_key(self, row: int) -> str:
        return self.groups[row].id
