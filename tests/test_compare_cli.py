"""``compare``, ``evaluate``'s intervals, and ``train --repeat`` / ``--folds`` / ``sweep --grid seed=``: the JSON
shapes issue 28 spells out, checked against ``core.uncertainty`` and scipy on the models' own predictions."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import binomtest

from tests.helpers import run_cli

WORDS = {0: ["bad", "awful", "poor", "dull"], 1: ["good", "great", "fine", "lovely"]}
FILLER = ["the", "film", "was", "a", "plot", "and", "it", "very", "long", "story"]
QUICK = ["--epochs", "3", "--embed-dim", "16", "--hidden-size", "16", "--dropout", "0", "--lr", "0.01",
         "--batch-size", "16", "--device", "cpu", "--quiet"]


@pytest.fixture(scope="module")
def csv_file(tmp_path_factory):
    """A learnable two-class CSV with no validation or test split of its own (so it is carved, or folded)."""
    rng = np.random.default_rng(0)
    rows = ["text,label"]
    for i in range(360):
        y = i % 2
        words = list(rng.choice(FILLER, size=rng.integers(2, 9)))
        if rng.random() < 0.85:  # some rows hold no sentiment word: models differ on them
            words.insert(int(rng.integers(0, len(words) + 1)), str(rng.choice(WORDS[y])))
        rows.append(f"{' '.join(words)},{'pos' if y else 'neg'}")
    path = tmp_path_factory.mktemp("cmp") / "reviews.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture(scope="module")
def three_models(csv_file, tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    files = []
    for kind, seed in (("lstm", "0"), ("rnn", "0"), ("gru", "1")):
        out = folder / f"{kind}.safetensors"
        ran = run_cli("train", "--data", str(csv_file), "--out", str(out), "--model", kind, "--seed", seed,
                      "--no-record", *QUICK)
        assert ran.code == 0, ran.err
        files.append(str(out))
    return files


def _predictions(files, csv_file):
    """Each model's truth and predictions on the carved test split, straight from the core."""
    from core.data import load_dataset
    from core.store.modelfile import load_model

    dataset = load_dataset(str(csv_file))
    test = dataset["test"]
    out = []
    for f in files:
        model = load_model(f)
        truth = model.align_labels(dataset.label_names, dataset.label_values)[test.labels]
        out.append((truth, model.predict_proba(list(test.texts)).argmax(1)))
    return out


@pytest.mark.parametrize("count", [2, 3])
def test_compare_json_is_the_contract_and_its_numbers_are_the_models(three_models, csv_file, count):
    from core.uncertainty import compare_rows, holm

    files = three_models[:count]
    ran = run_cli("compare", *files, "--data", str(csv_file), "--resamples", "2000", "--seed", "4", "--json")
    assert ran.code == 0, ran.err
    out = json.loads(ran.out)
    assert out["n"] == 36 and out["split"] == "test"
    assert [m["file"] for m in out["models"]] == files
    assert [m["name"] for m in out["models"]] == ["LSTM", "RNN", "GRU"][:count]
    preds = _predictions(files, csv_file)
    expected = compare_rows([t for t, _ in preds], [p for _, p in preds], 2, 2000, 4)
    for got, want in zip(out["models"], expected.models, strict=True):
        assert got["accuracy"] == want.accuracy and tuple(got["accuracy_ci"]) == want.accuracy_ci
        assert got["macro_f1"] == want.macro_f1 and tuple(got["macro_f1_ci"]) == want.macro_f1_ci
        assert got["accuracy_ci"][0] <= got["accuracy"] <= got["accuracy_ci"][1]
    assert len(out["pairs"]) == count * (count - 1) // 2
    for pair, want in zip(out["pairs"], expected.pairs, strict=True):
        assert (pair["a"], pair["b"]) == (files[want.a], files[want.b])
        (ta, pa), (tb, pb) = preds[want.a], preds[want.b]
        a_right, b_right = pa == ta, pb == tb
        assert pair["mcnemar"]["a_only"] == int((a_right & ~b_right).sum())
        assert pair["mcnemar"]["b_only"] == int((b_right & ~a_right).sum())
        assert pair["accuracy_diff"] == pytest.approx(a_right.mean() - b_right.mean())
        b, c = pair["mcnemar"]["a_only"], pair["mcnemar"]["b_only"]
        assert pair["mcnemar"]["p"] == pytest.approx(binomtest(b, b + c).pvalue if b + c else 1.0, abs=1e-12)
        assert tuple(pair["accuracy_diff_ci"]) == want.accuracy_diff_ci
        assert tuple(pair["macro_f1_diff_ci"]) == want.macro_f1_diff_ci
        assert isinstance(pair["significant"], bool) and "p_holm" in pair
    assert [p["p_holm"] for p in out["pairs"]] == pytest.approx(holm([p["mcnemar"]["p"] for p in out["pairs"]]))


def test_compare_says_it_in_words_without_json(three_models, csv_file):
    ran = run_cli("compare", *three_models[:2], "--data", str(csv_file), "--resamples", "1000")
    assert ran.code == 0, ran.err
    assert "LSTM - RNN: " in ran.out and " points [" in ran.out and "on these 36 rows" in ran.out


def test_compare_needs_two_models_and_refuses_models_of_different_carves(three_models, csv_file, tmp_path):
    ran = run_cli("compare", three_models[0], "--data", str(csv_file))
    assert ran.code == 1 and "two or more model files" in ran.err
    other = tmp_path / "other-carve.safetensors"
    trained = run_cli("train", "--data", str(csv_file), "--out", str(other), "--split-seed", "5", "--no-record",
                      *QUICK)
    assert trained.code == 0, trained.err
    ran = run_cli("compare", three_models[0], str(other), "--data", str(csv_file), "--json")
    assert ran.code == 1 and ran.out == ""
    assert "different carves" in ran.err and "split seed 5" in ran.err and "Traceback" not in ran.err


def test_evaluate_gives_each_score_its_interval(three_models, csv_file):
    from core.uncertainty import confusion_interval

    ran = run_cli("evaluate", three_models[0], "--data", str(csv_file), "--resamples", "3000")
    out = json.loads(ran.out)
    want = confusion_interval(out["confusion_matrix"], 3000, 0)
    assert tuple(out["accuracy_ci"]) == want.accuracy_ci and tuple(out["macro_f1_ci"]) == want.macro_f1_ci
    assert out["resamples"] == 3000


def test_train_repeat_keeps_one_group_of_seeds(csv_file, tmp_path):
    from core.store.runs import RunStore

    out = tmp_path / "m.safetensors"
    ran = run_cli("train", "--data", str(csv_file), "--out", str(out), "--repeat", "3", "--seed", "4", *QUICK)
    assert ran.code == 0, ran.err
    summary = json.loads(ran.out)
    group = summary["group"]
    assert group["kind"] == "seeds" and group["n"] == 3 and group["seeds"] == [4, 5, 6]
    assert group["accuracies"] == [r["test_accuracy"] for r in summary["runs"]]
    assert group["accuracy_mean"] == pytest.approx(np.mean(group["accuracies"]))
    assert group["accuracy_sd"] == pytest.approx(np.std(group["accuracies"], ddof=1))
    assert summary["out"] == [str(tmp_path / f"m-seed{s}.safetensors") for s in (4, 5, 6)]
    assert all((tmp_path / f"m-seed{s}.safetensors").is_file() for s in (4, 5, 6)) and not out.exists()
    with RunStore() as store:
        runs = [store.get(i, curves=False) for i in summary["run_id"]]
    assert {r.group["id"] for r in runs} == {group["id"]}
    assert [(r.group["index"], r.group["seed"], r.settings["train"]["seed"]) for r in runs] == [
        (0, 4, 4), (1, 5, 5), (2, 6, 6)]
    assert all(r.test_confusion is not None and np.sum(r.test_confusion) == 36 for r in runs)


def test_train_folds_tests_each_row_once(csv_file, tmp_path):
    from core.data import load_dataset
    from core.store.modelfile import load_model

    out = tmp_path / "f.safetensors"
    ran = run_cli("train", "--data", str(csv_file), "--out", str(out), "--folds", "4", "--no-record", *QUICK)
    assert ran.code == 0, ran.err
    summary = json.loads(ran.out)
    assert summary["group"]["kind"] == "folds" and summary["group"]["n"] == 4 and summary["group"]["folds"] == [1, 2,
                                                                                                               3, 4]
    pool = load_dataset(str(csv_file), validation_fraction=0.0, test_fraction=0.0)["train"]
    tested = []
    for k, path in enumerate(summary["out"]):
        splits = load_model(path).info.splits
        assert (splits.folds, splits.fold) == (4, k)
        assert sum(splits.sizes.values()) == len(pool)
        ev = json.loads(run_cli("evaluate", path, "--data", str(csv_file)).out)
        tested.append(ev["count"])
        assert ev["count"] == splits.sizes["test"]  # evaluate redoes the fold, not the default carve
    assert sum(tested) == len(pool) and max(tested) - min(tested) <= 2
    # two models of one fold compare; models of different folds are refused
    ran = run_cli("compare", summary["out"][0], summary["out"][1], "--data", str(csv_file))
    assert ran.code == 1 and "fold 1 of 4" in ran.err and "fold 2 of 4" in ran.err


def test_folds_are_refused_for_data_with_its_own_test_split_and_with_repeat(tmp_path):
    ran = run_cli("train", "--data", "builtin:reviews?n=200", "--out", str(tmp_path / "x.safetensors"), "--folds", "3",
                  *QUICK)
    assert ran.code == 1 and "test split of its own" in ran.err
    ran = run_cli("train", "--data", "builtin:reviews?n=200", "--out", str(tmp_path / "x.safetensors"), "--folds", "3",
                  "--repeat", "2", *QUICK)
    assert ran.code in (1, 2) and "not both" in ran.err
    ran = run_cli("train", "--data", "builtin:reviews?n=200", "--out", str(tmp_path / "x.safetensors"), "--folds", "1",
                  *QUICK)
    assert ran.code in (1, 2) and "1 fold" in ran.err


def test_a_sweep_over_seeds_groups_the_runs_of_each_other_setting(csv_file):
    from core.store.runs import RunStore

    ran = run_cli("sweep", "--data", str(csv_file), "--grid", "seed=0,1", "--grid", "hidden_size=8,16", *QUICK)
    assert ran.code == 0, ran.err
    lines = [json.loads(line) for line in ran.out.splitlines()]
    with RunStore() as store:
        runs = [store.get(line["run_id"], curves=False) for line in lines]
    by_size: dict[int, set] = {}
    for line, run in zip(lines, runs, strict=True):
        assert run.group["kind"] == "seeds" and run.group["seed"] == line["seed"] and run.group["n"] == 2
        by_size.setdefault(line["hidden_size"], set()).add(run.group["id"])
    assert all(len(ids) == 1 for ids in by_size.values()) and len(set().union(*by_size.values())) == 2


def test_info_and_the_model_card_carry_the_interval_and_the_group(csv_file, tmp_path):
    import yaml

    from core.store.model_card import model_card
    from core.store.modelfile import load_model

    out = tmp_path / "g.safetensors"
    ran = run_cli("train", "--data", str(csv_file), "--out", str(out), "--repeat", "2", *QUICK)
    group = json.loads(ran.out)["group"]
    first = str(tmp_path / "g-seed0.safetensors")
    info = json.loads(run_cli("info", first).out)
    interval = info["test_interval"]
    assert interval["count"] == 36 and interval["accuracy_ci"][0] <= interval["accuracy"] <= interval["accuracy_ci"][1]
    assert interval["text"].startswith(f"accuracy {interval['accuracy']:.3f} [") and interval["text"].endswith(
        "on 36 rows")
    assert info["group"]["kind"] == "seeds" and info["group"]["seed"] == 0 and info["group"]["index"] == 0
    assert info["group"]["accuracies"] == group["accuracies"] and info["group"]["text"].endswith("2 seeds)")
    card = model_card(load_model(first), "g.safetensors")
    front = yaml.safe_load(card.split("---")[1])
    metrics = front["model-index"][0]["results"][0]["metrics"]
    assert [m["type"] for m in metrics] == ["accuracy", "f1"]
    assert metrics[0]["value"] == pytest.approx(interval["accuracy"], abs=1e-4)
    assert metrics[0]["args"]["ci_95"] == pytest.approx(interval["accuracy_ci"], abs=1e-4)
    assert interval["text"] in card and "seed 0, one of 2 runs repeated over seeds" in card


def test_models_of_different_classes_are_not_compared(three_models, csv_file, tmp_path):
    three = tmp_path / "three.csv"
    lines = csv_file.read_text().splitlines()
    three.write_text("\n".join([lines[0], *lines[1:], *(f"the plot was a film {i},neu" for i in range(60))]) + "\n")
    out = tmp_path / "three.safetensors"
    assert run_cli("train", "--data", str(three), "--out", str(out), "--no-record", *QUICK).code == 0
    ran = run_cli("compare", three_models[0], str(out), "--data", str(csv_file))
    assert ran.code == 1 and "has 2 classes" in ran.err and "3" in ran.err and "Traceback" not in ran.err
