"""Which words made the decision: word attributions for every cell kind, direction and pooling.

Both methods come from Captum, the well-kept library for this (no hand-written gradients):

- ``ig``: Integrated Gradients on the embeddings (``IntegratedGradients`` with the classifier run from
  its embedding output on, so no hook is put into a model that other threads use). The baseline is
  the padding embedding at every position (the text's length kept), and the steps run batched (one
  forward and one backward pass for a sentence; ``IG_BATCH_TOKENS`` at a time). Its completeness error
  (Captum's convergence delta: the attributions' sum minus f(x) - f(baseline)) comes back with it.
- ``occlusion``: leave one word out (``FeatureAblation`` over the words' token groups): how much the
  output falls when a word's tokens are replaced by padding. Gradient-free; all words in one batch.
  It reads the text once per word, so its cost grows with the square of the length: it looks at
  ``OCCLUSION_TOKENS`` of a longer text's tokens (on the side the tokenizer keeps) and says so in the
  result's ``note``.

The function attributed is the target class's *centred* logit (its logit minus the mean of the
logits). Softmax is unchanged by the centring, and evidence for one class is then evidence against
the others: in a two-class model a word's score toward "negative" is minus its score toward
"positive", so one signed colour scale reads the same whichever class is chosen.

Sub-word tokens are summed back to the typed words, whose offsets index the text.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from core.config import METHODS, ExplainConfig, Method
from core.errors import StudioError
from core.heap import import_quietly
from core.model.classifier import SentimentClassifier

IG_BATCH_TOKENS = 8192  # tokens per batch (IG steps, or texts with a word left out): 32 steps of 256 tokens
# The most tokens leaving each word out looks at: it reads the text once per word (words x tokens steps),
# so 20,000 words took ~9 minutes. 400 is the default max_length, so a model trained with the defaults is
# always explained whole, at 160,000 token steps (the default model: about 1 s on 2 cores; the Try screen
# calls it as the user types). Integrated Gradients is linear in the length and explains every token.
OCCLUSION_TOKENS = 400


@dataclass
class TokenAttribution:
    """Scores per model token for one text, toward ``target``."""

    scores: np.ndarray  # (tokens,) float32, signed: positive pushes toward the target class
    target: int
    probabilities: np.ndarray  # (classes,) the model's prediction for the whole text
    delta: float | None  # Integrated Gradients' completeness error; None for occlusion


@dataclass
class Attribution:
    """One text explained: per token and per typed word, signed toward ``target``."""

    text: str
    method: Method
    target: int
    label_names: list[str]
    tokens: list[str]
    offsets: np.ndarray  # (tokens, 2) [start, end) into ``text``
    token_scores: np.ndarray  # (tokens,)
    token_words: list[int]  # index into ``words`` of each token (-1: a token of no typed word)
    words: list[str]  # the typed words, as written in ``text``
    word_offsets: np.ndarray  # (words, 2)
    word_scores: np.ndarray  # (words,): the sum of the word's tokens
    probabilities: np.ndarray
    delta: float | None
    # why only part of the text was explained ("" when all of it was), and where that part starts among
    # the tokens the model reads (above 0: occlusion looked at the last OCCLUSION_TOKENS of a long text)
    note: str = ""
    first_token: int = 0

    @property
    def target_name(self) -> str:
        return self.label_names[self.target]

    @property
    def completeness_error(self) -> float | None:
        """Integrated Gradients' |delta| as a share of the output's change f(x) - f(padding) it splits up."""
        if self.delta is None:
            return None
        change = float(self.token_scores.sum()) - self.delta
        return abs(self.delta) / max(abs(change), 1e-9)

    def to_dict(self, digits: int = 5) -> dict:
        """What ``predict --explain`` adds to a JSON line (the tokens line up with ``--gates``' tokens)."""
        out = {
            "attribution_method": self.method,
            "attribution_target": self.target_name,
            "tokens": self.tokens,
            "offsets": self.offsets.tolist(),
            "attributions": [round(float(v), digits) for v in self.token_scores],
            "words": [
                {"word": w, "start": int(s), "end": int(e), "attribution": round(float(v), digits)}
                for w, (s, e), v in zip(self.words, self.word_offsets, self.word_scores, strict=True)
            ],
        }
        if self.delta is not None:
            out["delta"] = round(self.delta, digits)
        if self.note:
            out["attribution_note"] = self.note
        return out


def load_captum() -> None:
    """Import Captum (0.4 s: it imports matplotlib) without the collector's long pauses; the app's
    warm-up calls it so that the first explanation is quick. Only attributions need it."""
    import_quietly("captum.attr")


def _centred(logits: torch.Tensor) -> torch.Tensor:
    """Logits minus their mean: the function every attribution here explains (see the module docstring)."""
    return logits - logits.mean(dim=1, keepdim=True)


def attribute_ids(classifier: SentimentClassifier, ids: list[int] | np.ndarray, method: Method = "ig",
                  target: int | None = None, steps: int = 32, groups: list[int] | None = None) -> TokenAttribution:
    """Attributions of one text's token ids toward ``target`` (default: the predicted class).

    ``groups`` gives each token's word (tokens of one word are left out together by occlusion;
    default: each token alone). Safe beside other threads using the same classifier (the app predicts
    on its GUI thread while a worker explains): nothing is hooked into the model or written to it,
    and gradients are taken with respect to the inputs only. A classifier in training mode is switched
    to evaluation mode for the call (that one change is not safe beside other threads).
    """
    load_captum()
    from captum.attr import FeatureAblation, IntegratedGradients

    if method not in METHODS:
        raise StudioError(f"unknown attribution method {method!r}: use one of {', '.join(METHODS)}")
    if len(ids) == 0:
        raise StudioError("there is no token to attribute: the text is empty")
    cfg = classifier.config
    device = next(classifier.parameters()).device
    x = torch.as_tensor(np.asarray(ids, dtype=np.int64), device=device)[None, :]
    lengths = torch.tensor([x.shape[1]], dtype=torch.long)
    was_training = classifier.training
    if was_training:
        classifier.eval()
    try:
        with torch.no_grad():
            embedded = classifier.embedding(x)
            probabilities = torch.softmax(classifier.forward_embedded(embedded, lengths), dim=1)[0]
            probabilities = probabilities.cpu().double().numpy()  # (MPS has no float64)
        if not np.isfinite(probabilities).all():
            raise StudioError("the model's outputs are not finite numbers (its weights overflow); it can't explain")
        chosen = int(probabilities.argmax()) if target is None else int(target)
        if not 0 <= chosen < cfg.num_classes:
            raise StudioError(f"class {chosen} is not one of the model's {cfg.num_classes} classes")
        if method == "ig":
            padding = classifier.embedding.weight[cfg.pad_id].detach()
            ig = IntegratedGradients(lambda e, n: _centred(classifier.forward_embedded(e, n, differentiable=True)))
            attributions, delta = ig.attribute(
                embedded, baselines=padding.expand_as(embedded).contiguous(), target=chosen,
                additional_forward_args=(lengths,), n_steps=steps, return_convergence_delta=True,
                internal_batch_size=max(1, min(steps, IG_BATCH_TOKENS // x.shape[1])))
            scores = attributions[0].sum(dim=-1)
            delta_value: float | None = float(delta[0])
        else:
            mask = torch.tensor([groups if groups is not None else list(range(x.shape[1]))], device=device)
            ablation = FeatureAblation(lambda i, n: _centred(classifier(i, n)))
            groups_n = int(mask.max()) + 1
            per_batch = max(1, min(groups_n, IG_BATCH_TOKENS // x.shape[1]))
            per_group = ablation.attribute(x, baselines=cfg.pad_id, target=chosen, additional_forward_args=(lengths,),
                                           feature_mask=mask, perturbations_per_eval=per_batch)[0]
            # every token of a word holds the word's score: share it out, so tokens sum to the word
            sizes = torch.bincount(mask[0], minlength=groups_n).to(per_group.dtype)
            scores = per_group / sizes[mask[0]]
            delta_value = None
    finally:
        if was_training:
            classifier.train()
    return TokenAttribution(scores.detach().float().cpu().numpy(), chosen, probabilities.astype(np.float32),
                            delta_value)


def explain(model, text: str, config: ExplainConfig | None = None, target: int | None = None) -> Attribution:
    """Attributions for ``text`` from a ``SentimentModel``, per token and per typed word (occlusion: of at
    most ``OCCLUSION_TOKENS`` tokens, with a ``note`` when the text has more)."""
    config = config or ExplainConfig()
    enc = model.tokenizer.encode(text)
    ids, offsets, tokens, word_ids = enc.ids[0], enc.offsets[0], enc.tokens[0], enc.word_ids[0]
    note, first, total = "", 0, len(ids)
    if config.method == "occlusion" and total > OCCLUSION_TOKENS:
        right = model.tokenizer.config.truncation_side == "right"  # the side a longer text keeps
        first = 0 if right else total - OCCLUSION_TOKENS
        kept = slice(first, first + OCCLUSION_TOKENS)
        ids, offsets, tokens, word_ids = ids[kept], offsets[kept], tokens[kept], word_ids[kept]
        note = (f"leaving each word out looked at the {'first' if right else 'last'} {OCCLUSION_TOKENS:,} of the "
                f"{total:,} tokens the model reads (its cost grows with the square of the length), and explains "
                "the prediction for that part")
    spans: dict[int, list[int]] = {}
    for t, w in enumerate(word_ids):
        if w >= 0 and offsets[t, 1] > offsets[t, 0]:  # a word with text (not the [UNK] of an empty text)
            spans.setdefault(w, []).append(t)
    order = list(spans)  # the typed words, in reading order
    token_words = [-1] * len(word_ids)
    for i, w in enumerate(order):
        for t in spans[w]:
            token_words[t] = i
    groups = [g if g >= 0 else len(order) + t for t, g in enumerate(token_words)]  # lone tokens alone
    groups = _dense(groups)
    result = attribute_ids(model.classifier, ids, config.method, target, config.steps, groups)
    # each word's score is the sum of its tokens', its span from its first token's start to its last's end
    word_of = np.asarray(token_words, dtype=np.int64)
    inside = word_of >= 0
    word_scores = np.zeros(len(order), dtype=np.float32)
    np.add.at(word_scores, word_of[inside], result.scores[inside])
    word_offsets = np.zeros((len(order), 2), dtype=np.int64)
    word_offsets[:, 0] = np.iinfo(np.int64).max
    np.minimum.at(word_offsets[:, 0], word_of[inside], offsets[inside, 0])
    np.maximum.at(word_offsets[:, 1], word_of[inside], offsets[inside, 1])
    return Attribution(
        text=text, method=config.method, target=result.target, label_names=list(model.label_names),
        tokens=list(tokens), offsets=np.asarray(offsets), token_scores=result.scores, token_words=token_words,
        words=[text[s:e] for s, e in word_offsets], word_offsets=word_offsets, word_scores=word_scores,
        probabilities=result.probabilities, delta=result.delta, note=note, first_token=first)


def _dense(groups: list[int]) -> list[int]:
    """Renumber group ids 0..n-1 in order of first appearance (Captum wants them dense)."""
    seen: dict[int, int] = {}
    return [seen.setdefault(g, len(seen)) for g in groups]
