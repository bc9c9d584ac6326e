"""Groups of runs: one setting repeated over seeds or folds (``Run.group``), and their scores together."""

from __future__ import annotations

import math

from core.store.runs import RunStore, StoreError, store_home


def group_scores(group_id: str, store: RunStore | None = None) -> tuple | None:
    """The accuracy and macro-F1 ``GroupSummary`` (``core.uncertainty.summarize``) of a group's finished runs
    in the store (``store``, else the default one, only when it exists: ``info`` and ``export`` create no store),
    or None when it holds none of them or can't be read."""
    from core.uncertainty import summarize

    if store is None and not (store_home() / "runs.sqlite3").is_file():
        return None
    try:
        own = store is None
        store = RunStore() if own else store
        try:
            runs = [r for r in store.group_runs(group_id) if r.status == "finished" and r.test_accuracy is not None]
        finally:
            if own:
                store.close()
    except StoreError:
        return None
    if not runs:
        return None
    kind = runs[0].group.get("kind", "seeds")
    return (summarize([r.test_accuracy for r in runs], kind),
            summarize([r.test_macro_f1 if r.test_macro_f1 is not None else math.nan for r in runs], kind))
