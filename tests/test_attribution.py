"""Word attributions: Integrated Gradients is complete (its scores add up to the change in the output)
for every cell kind, direction and pooling; leave-one-word-out equals the change measured directly;
sub-word tokens add up to the typed words."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.config import ExplainConfig, ModelConfig
from core.errors import SettingError, StudioError
from core.inspect.attribution import _centred, attribute_ids, explain
from core.model.classifier import SentimentClassifier


def _model(kind: str, bidirectional: bool, pooling: str, classes: int = 2) -> SentimentClassifier:
    """A random model whose outputs move a lot between padding and the text (so errors are visible)."""
    torch.manual_seed(3)
    cfg = ModelConfig(kind=kind, vocab_size=40, num_classes=classes, embed_dim=8, hidden_size=6,
                      bidirectional=bidirectional, pooling=pooling, dropout=0.3, word_dropout=0.2)
    model = SentimentClassifier(cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.7)
        model.embedding.weight.normal_(0.0, 2.0)
        model.head.weight.normal_(0.0, 3.0)
        model.embedding.weight[cfg.pad_id].zero_()
    return model.train()  # attribution must switch to evaluation mode itself, and back


def _output(model: SentimentClassifier, ids: np.ndarray) -> torch.Tensor:
    """The centred logits of one text, computed directly."""
    x = torch.as_tensor(ids)[None]
    with torch.no_grad():
        return _centred(model.eval()(x, torch.tensor([len(ids)])))[0]


IDS = np.array([5, 17, 9, 33, 2, 21, 12, 8, 30, 4], dtype=np.int64)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("pooling", ["mean", "max", "last"])
def test_integrated_gradients_add_up_to_the_change_in_the_output(kind, bidirectional, pooling):
    model = _model(kind, bidirectional, pooling)
    # Max pooling's output has a kink wherever the step holding the maximum changes, so the quadrature
    # converges slowly there: 0.5-5.6% off at 256 steps, up to 1.9% at 1,024; mean and last pooling are
    # smooth (under 0.001% at 256 steps). The bound is 1%, and 3% for max pooling.
    max_pooling = pooling == "max"
    bound = 0.03 if max_pooling else 0.01
    result = attribute_ids(model, IDS, "ig", steps=1024 if max_pooling else 256)
    assert model.training  # left as it was found
    change = float(_output(model, IDS)[result.target] - _output(model, np.zeros_like(IDS))[result.target])
    assert abs(change) > 0.01  # a model whose output moves, or the check below says little
    assert result.scores.shape == IDS.shape
    assert abs(result.scores.sum() - change) <= bound * abs(change)  # completeness, measured here
    assert abs(result.delta) <= bound * abs(change)  # and Captum's own figure agrees
    assert np.abs(result.scores).max() > 1e-4


def test_the_default_target_is_the_predicted_class_and_another_class_mirrors_it():
    model = _model("lstm", True, "mean")
    toward = attribute_ids(model, IDS, "ig", steps=64)
    predicted = int(_output(model, IDS).argmax())
    assert toward.target == predicted == int(toward.probabilities.argmax())
    against = attribute_ids(model, IDS, "ig", target=1 - predicted, steps=64)
    np.testing.assert_allclose(against.scores, -toward.scores, rtol=1e-4, atol=1e-5)  # centred logits


def test_three_classes_attribute_toward_each():
    model = _model("gru", False, "max", classes=3)
    results = [attribute_ids(model, IDS, "ig", target=c, steps=128) for c in range(3)]
    np.testing.assert_allclose(sum(r.scores for r in results), 0.0, atol=1e-3)  # centred: evidence is shared out
    with pytest.raises(StudioError, match="class 3"):
        attribute_ids(model, IDS, "ig", target=3)


@pytest.mark.parametrize("kind", ["lstm", "rnn"])
def test_leaving_a_word_out_scores_the_change_it_makes(kind):
    model = _model(kind, True, "mean")
    groups = [0, 0, 1, 2, 2, 2, 3, 4, 5, 5]  # words of one, two and three tokens
    result = attribute_ids(model, IDS, "occlusion", groups=groups)
    assert result.delta is None
    target = result.target
    full = float(_output(model, IDS)[target])
    for word in range(6):
        members = [t for t, g in enumerate(groups) if g == word]
        left_out = IDS.copy()
        left_out[members] = 0  # the word's tokens become padding
        expected = full - float(_output(model, left_out)[target])
        assert result.scores[members].sum() == pytest.approx(expected, abs=1e-4)
        np.testing.assert_allclose(result.scores[members], expected / len(members), atol=1e-5)  # shared out


def test_sub_word_tokens_add_up_to_the_typed_words():
    model = _bpe_model("lstm")
    text = "The unbelievably  wonderful film!"
    for method in ("ig", "occlusion"):
        a = explain(model, text, ExplainConfig(method=method, steps=16))
        assert len(a.tokens) > len(a.words)  # some words were split into pieces
        assert a.words == ["The", "unbelievably", "wonderful", "film", "!"]
        assert [text[s:e] for s, e in a.word_offsets] == a.words
        for i, score in enumerate(a.word_scores):
            pieces = [t for t, w in enumerate(a.token_words) if w == i]
            assert score == pytest.approx(float(a.token_scores[pieces].sum()), abs=1e-6)
        d = a.to_dict()
        assert d["tokens"] == a.tokens
        assert len(d["attributions"]) == len(d["offsets"]) == len(a.tokens)
        assert ("delta" in d) is (method == "ig")
        assert d["attribution_target"] == a.label_names[a.target]


def test_settings_and_empty_text_are_refused():
    with pytest.raises(SettingError, match="IG steps"):
        ExplainConfig(steps=1)
    with pytest.raises(SettingError, match="Attribution method"):
        ExplainConfig(method="saliency")
    with pytest.raises(StudioError, match="empty"):
        attribute_ids(_model("rnn", False, "mean"), np.array([], dtype=np.int64))


def test_the_words_behind_each_mistake_are_the_ones_it_learned(tiny_model, tiny_dataset):
    from core.data import Split
    from core.inspect.compare import explain_mistakes, score_model

    test = tiny_dataset["test"]
    flipped = Split(test.texts, 1 - test.labels)  # every right answer is now a mistake
    score = score_model("LSTM", tiny_model, flipped)
    explain_mistakes(tiny_model, flipped, score, budget_s=float("inf"))  # all of them, however busy the machine
    wrong = np.flatnonzero(score.predicted != score.truth)
    assert len(wrong) >= 30 and set(score.mistake_words) == set(wrong.tolist())
    sentiment = {"good", "great", "fine", "lovely", "bad", "awful", "poor", "dull"}
    tops = [score.mistake_words[i][0][0] for i in wrong if score.mistake_words[i]]
    assert sum(w in sentiment for w in tops) >= 0.9 * len(wrong)  # the one word that decides each text
    assert all(v > 0 for words in score.mistake_words.values() for _, v in words)
    few = score_model("LSTM", tiny_model, flipped)
    explain_mistakes(tiny_model, flipped, few, limit=5, budget_s=float("inf"))
    assert len(few.mistake_words) == 5 and few.notes == []  # the limit is the design, not a caveat
    late = score_model("LSTM", tiny_model, flipped)
    explain_mistakes(tiny_model, flipped, late, budget_s=0.0)  # out of time at once
    assert late.mistake_words == {} and late.notes == ["the words behind its mistakes were found for 0 of them "
                                                       "(the most confident) in the 0 s allowed"]
    assert set(few.mistake_words) == set(wrong[np.argsort(-score.confidence[wrong], kind="stable")][:5].tolist())


def _bpe_model(kind: str = "gru"):
    """A random model over a small BPE vocabulary, in which longer words are split into pieces."""
    from core.config import TokenizerConfig
    from core.model.sentiment_model import SentimentModel
    from core.text.tokenizer import TextTokenizer

    texts = ["the unbelievably wonderful film", "a dreadful and tedious film", "wonderful acting"] * 30
    tokenizer = TextTokenizer.train(texts, TokenizerConfig(kind="bpe", vocab_size=60))
    torch.manual_seed(0)
    classifier = SentimentClassifier(ModelConfig(kind=kind, vocab_size=tokenizer.vocab_size, embed_dim=8,
                                                 hidden_size=6))
    with torch.no_grad():
        classifier.embedding.weight.normal_(0.0, 2.0)
        classifier.embedding.weight[0].zero_()
    return SentimentModel(classifier.eval(), tokenizer, ["negative", "positive"])


def test_leaving_a_word_out_leaves_all_its_pieces_out():
    model = _bpe_model()
    text = "unbelievably tedious film"
    a = explain(model, text, ExplainConfig(method="occlusion"))
    ids = np.asarray(model.tokenizer.encode(text).ids[0])
    full = float(_output(model.classifier, ids)[a.target])
    for i, word in enumerate(a.words):
        pieces = [t for t, w in enumerate(a.token_words) if w == i]
        left_out = ids.copy()
        left_out[pieces] = 0
        assert a.word_scores[i] == pytest.approx(full - float(_output(model.classifier, left_out)[a.target]),
                                                 abs=1e-4), word
    assert any(sum(w == i for w in a.token_words) > 1 for i in range(len(a.words)))  # a word of several pieces


def test_an_empty_text_has_no_words_and_a_long_one_is_batched():
    model = _bpe_model()
    a = explain(model, "   ")
    assert a.words == [] and len(a.word_scores) == 0 and all(w == -1 for w in a.token_words)
    long = " ".join(["wonderful film"] * 300)  # more tokens than one batch holds at 32 steps
    b = explain(model, long, ExplainConfig(steps=32))
    assert len(b.token_scores) > 8192 // 32 and b.completeness_error is not None
