"""Compare's groups (issue 28): models of one group of runs repeated over seeds, scored on one split, as a mean
± sd with min-max; two groups on the same seeds get the paired test over the seeds, and beside it each seed's
McNemar test from the pairs. Tiny models that disagree (helpers.leaning) stand in for trained seeds."""

from __future__ import annotations

import pytest
from helpers import leaning

from core.config import IntervalConfig
from core.events import TaskControl

INTERVALS = IntervalConfig(resamples=500, seed=7)
SHIFTS = {"LSTM": (0.0, -1.5, 2.0), "RNN": (-4.0, -3.0, 3.5)}  # per seed 0, 1, 2: models that disagree


def grouped(model, label: str, kind: str = "seeds", shifts=None) -> dict:
    """Three models of one group, named as the app names them ("LSTM seed=0"), with ModelInfo.group set."""
    out = {}
    for k, shift in enumerate(shifts or SHIFTS[label]):
        m = leaning(model, shift)
        key, name = ("fold", f"{label} fold {k + 1}/3") if kind == "folds" else ("seed", f"{label} seed={k}")
        m.info.group = {"id": f"sweep-1:{label.lower()}", "kind": kind, "n": 3, "index": k, key: k}
        out[name] = m
    return out


def scored(models, dataset):
    from core.inspect.compare import score_models
    from core.inspect.scores import ModelScore

    out = list(score_models(models, dataset, "test", TaskControl(), INTERVALS))
    return {e.name: e for e in out if isinstance(e, ModelScore)}, out[-1]


def test_two_groups_on_the_same_seeds_get_summaries_and_the_paired_test(tiny_model, tiny_dataset):
    from core.inspect.scores import PairScores
    from core.uncertainty import paired_over_seeds, summarize

    models = {**grouped(tiny_model, "LSTM"), "Alone": tiny_model, **grouped(tiny_model, "RNN")}
    scores, pairs = scored(models, tiny_dataset)
    assert isinstance(pairs, PairScores) and scores["Alone"].group is None
    assert scores["RNN seed=1"].group == models["RNN seed=1"].info.group
    assert scores["RNN seed=1"].group is not models["RNN seed=1"].info.group  # a copy

    lstm, rnn = pairs.groups
    assert (lstm.label, rnn.label, lstm.kind) == ("LSTM", "RNN", "seeds")
    assert lstm.members == {0: "LSTM seed=0", 1: "LSTM seed=1", 2: "LSTM seed=2"}
    acc = {g: [scores[f"{g} seed={s}"].result.accuracy for s in range(3)] for g in ("LSTM", "RNN")}
    f1 = {g: [scores[f"{g} seed={s}"].result.macro_f1 for s in range(3)] for g in ("LSTM", "RNN")}
    assert len(set(acc["RNN"])) > 1  # the seeds differ: a real spread
    assert lstm.accuracy == summarize(acc["LSTM"], "seeds") and rnn.accuracy == summarize(acc["RNN"], "seeds")
    assert lstm.macro_f1 == summarize(f1["LSTM"], "seeds") and rnn.macro_f1 == summarize(f1["RNN"], "seeds")
    s = rnn.accuracy
    assert rnn.line() == (f"RNN, 3 seeds: {100 * s.mean:.1f} ± {100 * s.sd:.1f} "
                          f"({100 * s.low:.1f}-{100 * s.high:.1f})")

    (pair,) = pairs.group_pairs
    assert (pair.a, pair.b, pair.members) == (0, 1, (0, 1, 2))
    assert pair.test == paired_over_seeds([0, 1, 2], acc["LSTM"], acc["RNN"])
    assert pair.test.p >= 0.25  # three seeds can say no less
    # each seed's McNemar p is the pair test's between that seed's two models
    names = pairs.names
    for seed in range(3):
        a, b = names.index(f"LSTM seed={seed}"), names.index(f"RNN seed={seed}")
        (test,) = [p for p in pairs.comparison.pairs if (p.a, p.b) == (min(a, b), max(a, b))]
        assert pair.mcnemar[seed] == test.p
    (sentence,) = pairs.group_sentences()
    assert sentence.startswith(f"LSTM - RNN over seeds 0, 1, 2: mean {100 * pair.test.mean_diff:+.1f} points, p = ")
    assert "(exact paired permutation test; 3 seeds can say no less than 0.25); per seed McNemar: seed 0 p = " \
        in sentence


def test_a_group_needs_two_models_and_a_seed_counts_once(tiny_model, tiny_dataset):
    from core.inspect.compare import compare_scores, model_groups

    models = grouped(tiny_model, "LSTM")
    twice = leaning(tiny_model, 0.0)
    twice.info.group = dict(models["LSTM seed=0"].info.group)
    models["LSTM seed=0 (2)"] = twice  # the same model opened twice
    models["RNN seed=0"] = grouped(tiny_model, "RNN")["RNN seed=0"]  # one of its group here: no group
    scores, pairs = scored(models, tiny_dataset)
    (group,) = pairs.groups
    assert list(group.members.values()) == ["LSTM seed=0", "LSTM seed=1", "LSTM seed=2"]
    assert "LSTM seed=0 (2) is seed 0 again (as LSTM seed=0)" in group.notes[0] and not pairs.group_pairs
    some = [scores["LSTM seed=0"], scores["LSTM seed=2"]]
    (two,) = model_groups(some)
    assert two.count_text == "2 of 3 seeds" and two.members == {0: "LSTM seed=0", 2: "LSTM seed=2"}
    assert not compare_scores([scores["LSTM seed=0"], scores["RNN seed=0"]], INTERVALS).groups


def test_fold_groups_are_summarized_but_get_no_paired_test_here(tiny_model, tiny_dataset):
    """Each fold's model was tested on its own fold: scoring them all on one split is no test over the folds."""
    from core.inspect.scores import FOLDS_CAVEAT
    from core.uncertainty import summarize

    models = {**grouped(tiny_model, "LSTM", "folds"), **grouped(tiny_model, "RNN", "folds")}
    scores, pairs = scored(models, tiny_dataset)
    lstm, rnn = pairs.groups
    assert (lstm.label, lstm.kind, list(lstm.members)) == ("LSTM", "folds", [0, 1, 2])
    assert rnn.accuracy == summarize([scores[f"RNN fold {k}/3"].result.accuracy for k in (1, 2, 3)], "folds")
    assert FOLDS_CAVEAT in lstm.notes
    (pair,) = pairs.group_pairs
    assert pair.test is None and not pair.mcnemar and pair.note == FOLDS_CAVEAT
    assert pairs.group_sentences() == [f"LSTM - RNN over folds 1, 2, 3: no paired test here ({FOLDS_CAVEAT})"]


@pytest.mark.parametrize("n, words", [(2, "2 seeds can say no less than 0.5"), (5, "no less than 0.0625")])
def test_the_sentence_says_how_small_p_can_be(n, words):
    from core.inspect.scores import GroupPair
    from core.uncertainty import paired_over_seeds

    seeds = tuple(range(n))
    test = paired_over_seeds(seeds, [0.8] * n, [0.7] * n)
    pair = GroupPair(0, 1, seeds, test, {s: 0.5 for s in seeds})
    assert words in pair.sentence("GRU", "RNN", "seeds") and "mean +10.0 points" in pair.sentence("A", "B", "seeds")
