"""Tokenizer: kinds, normalization, truncation, offsets into the original text, JSON round trip."""

from __future__ import annotations

import numpy as np
import pytest

from core.config import TokenizerConfig
from core.text.tokenizer import PAD_ID, UNK_ID, TextTokenizer

TEXTS = ["I loved this movie!", "What a terrible, boring film.", "Ｆｕｌｌ width and café au lait"] * 5


@pytest.mark.parametrize("kind", ["word", "bpe", "wordpiece"])
def test_offsets_point_at_the_original_text(kind):
    tok = TextTokenizer.train(TEXTS, TokenizerConfig(kind=kind, vocab_size=200))
    texts = ["I LOVED this Movie!!", "ＦＵＬＬ café", "   spaced   out  "]
    enc = tok.encode_batch(texts)
    for text, ids, offs, toks in zip(texts, enc.ids, enc.offsets, enc.tokens, strict=True):
        assert len(ids) == len(offs) == len(toks)
        for (s, e), t in zip(offs, toks, strict=True):
            assert 0 <= s < e <= len(text)
            assert not text[s:e].isspace()
            if kind == "word" and t != "[UNK]":
                import unicodedata

                assert unicodedata.normalize("NFKC", text[s:e]).lower() == t
    assert list(enc.lengths) == [len(i) for i in enc.ids]


def test_word_level_vocabulary_and_specials():
    tok = TextTokenizer.train(TEXTS, TokenizerConfig(kind="word"))
    assert tok.id_to_token(PAD_ID) == "[PAD]" and tok.id_to_token(UNK_ID) == "[UNK]"
    enc = tok.encode_batch(["loved zyzzyva"])
    assert enc.tokens[0] == ["loved", "[UNK]"]
    assert enc.ids[0][1] == UNK_ID


def test_min_frequency_and_vocab_size():
    small = TextTokenizer.train(TEXTS, TokenizerConfig(kind="word", vocab_size=10))
    assert small.vocab_size == 10
    rare = TextTokenizer.train(["a a b", "a c"], TokenizerConfig(kind="word", min_frequency=2))
    assert rare.encode("a b c").tokens[0] == ["a", "[UNK]", "[UNK]"]


def test_truncation_keeps_max_length():
    tok = TextTokenizer.train(TEXTS, TokenizerConfig(max_length=3))
    assert tok.encode("i loved this movie a lot").lengths[0] == 3
    left = TextTokenizer.train(TEXTS, TokenizerConfig(max_length=2, truncation_side="left"))
    assert left.encode("i loved this movie").tokens[0] == ["this", "movie"]


def test_empty_text_gets_one_unknown_token():
    tok = TextTokenizer.train(TEXTS)
    enc = tok.encode_batch(["", "   ", "\u200b"])
    assert all(len(i) == 1 and i[0] == UNK_ID for i in enc.ids)


def test_lowercase_off_keeps_case():
    tok = TextTokenizer.train(["Good good GOOD"], TokenizerConfig(lowercase=False))
    assert tok.encode("Good GOOD").tokens[0] == ["Good", "GOOD"]


def test_json_round_trip_encodes_identically():
    tok = TextTokenizer.train(TEXTS, TokenizerConfig(kind="bpe", vocab_size=120))
    again = TextTokenizer.from_json(tok.to_json(), tok.config)
    a, b = tok.encode_batch(TEXTS), again.encode_batch(TEXTS)
    assert all(np.array_equal(x, y) for x, y in zip(a.ids, b.ids, strict=True))


def test_fast_path_has_the_same_ids():
    tok = TextTokenizer.train(TEXTS)
    a, b = tok.encode_batch(TEXTS), tok.encode_batch(TEXTS, details=False)
    assert b.offsets is None
    assert all(np.array_equal(x, y) for x, y in zip(a.ids, b.ids, strict=True))
