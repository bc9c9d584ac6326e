"""One recurrent sentiment classifier over three cell kinds: plain RNN, GRU and LSTM.

The classifier is embedding -> dropout -> fused ``nn.RNN``/``nn.GRU``/``nn.LSTM`` over packed
sequences (padding costs nothing and never leaks into a state) -> pooling -> dropout -> linear.
Keeping the three kinds in one module with one config means any difference the app shows between
them is the cell's, not a difference in the code around it.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import _VF, nn  # _VF: the fused RNN kernels nn.LSTM/GRU/RNN call (see fused_rnn)

from core.config import EMBED_DIM_WITHOUT_VECTORS, ModelConfig

_CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


def fused_rnn(kind: str, x: torch.Tensor, h0: torch.Tensor, params: list[torch.Tensor], training: bool,
              batch_sizes: torch.Tensor | None = None) -> torch.Tensor:
    """One layer, one direction of PyTorch's fused RNN kernel; returns the outputs.

    ``x`` is (batch, time, in) batch-first, or packed data when ``batch_sizes`` is given. The one
    place that calls the private ``torch._VF`` kernels, measured faster than ``nn.LSTM`` over packed
    sequences (see ``SentimentClassifier.run_rnn``).
    """
    state = (h0, h0) if kind == "lstm" else h0
    fn = {"lstm": _VF.lstm, "gru": _VF.gru, "rnn": _VF.rnn_tanh}[kind]
    if batch_sizes is None:
        return fn(x, state, params, True, 1, 0.0, training, False, True)[0]
    return fn(x, batch_sizes, state, params, True, 1, 0.0, training, False)[0]


class SentimentClassifier(nn.Module):
    """``forward(ids, lengths) -> logits`` for a batch of right-padded token ids."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        if not config.embed_dim:  # 0 follows word vectors; without any (here) it is the size without vectors
            config = dataclasses.replace(config, embed_dim=EMBED_DIM_WITHOUT_VECTORS)
        self.config = config
        c = config
        self.embedding = nn.Embedding(c.vocab_size, c.embed_dim, padding_idx=c.pad_id)
        self.embed_dropout = FastDropout(c.dropout)
        extra = {"nonlinearity": "tanh"} if c.kind == "rnn" else {}
        self.rnn = _CELLS[c.kind](
            c.embed_dim,
            c.hidden_size,
            num_layers=c.num_layers,
            batch_first=True,
            bidirectional=c.bidirectional,
            dropout=c.dropout if c.num_layers > 1 else 0.0,
            **extra,
        )
        self.out_dropout = nn.Dropout(c.dropout)
        self.head = nn.Linear(c.hidden_size * c.num_directions, c.num_classes)
        if c.kind == "lstm":
            # forget-gate bias 1: the cell starts out remembering (Jozefowicz et al. 2015)
            for name, p in self.rnn.named_parameters():
                if name.startswith("bias_ih"):
                    with torch.no_grad():
                        p[c.hidden_size : 2 * c.hidden_size].fill_(1.0)

    def run_rnn(self, ids: torch.Tensor, lengths: torch.Tensor, ordered: bool = True):
        """Embed and run the recurrence over a right-padded batch, with packed-sequence semantics.

        Returns (outputs (batch, time, dirs*hidden), zero at padding; h_n (layers*dirs, batch, hidden):
        the state after each text's last real token, for the backward direction after its first).

        Why not ``pack_padded_sequence``: on the CPU, PyTorch's packed RNN slices the packed data once
        per time step, and each slice's backward zero-fills a tensor the size of the whole batch, so a
        step costs O(time^2) (4x slower than the fused module on IMDB-length batches). Batches here are
        bucketed by length, so running the fused kernel over the few padding steps is cheap, and exact:
        a forward direction reads padding only after the real tokens, and a backward direction is run
        on each text reversed within its own length.

        ``ordered=False`` leaves the top layer's backward outputs in reading order (still zero at the
        padding): enough for mean and max pooling, which ignore order, and saves a copy per batch.
        """
        c = self.config
        if self.training and c.word_dropout > 0:  # teaches the model to cope with unseen words
            drop = torch.rand(ids.shape, device=ids.device) < c.word_dropout
            ids = ids.masked_fill(drop & (ids != c.pad_id), c.unk_id)
        return self.run_embedded(self.embedding(ids), lengths, ordered)

    def run_embedded(self, embedded: torch.Tensor, lengths: torch.Tensor, ordered: bool = True,
                     differentiable: bool = False):
        """``run_rnn`` from the embeddings (batch, time, embed) on: attributions start here, without hooks.

        ``differentiable`` runs the fused kernel in its training mode even in evaluation mode (its own
        dropout is 0 here, so the outputs are the same): cuDNN refuses a backward pass otherwise, and
        switching cuDNN off instead would be a process-wide flag that other threads' models share.
        """
        c = self.config
        x = self.embed_dropout(embedded)  # (batch, time, embed)
        time = x.shape[1]
        lengths = lengths.to(x.device)
        steps = torch.arange(time, device=x.device)[None, :]  # (1, time)
        mask = steps < lengths[:, None]  # (batch, time) real tokens
        # index that reverses each row within its length and leaves the padding where it is
        flip = torch.where(mask, lengths[:, None] - 1 - steps, steps)  # (batch, time)
        last = (lengths - 1).clamp(min=0)
        finals = []
        for layer in range(c.num_layers):
            outs = []
            for direction in range(c.num_directions):
                inp = x if direction == 0 else _gather_time(x, flip)
                out, h_last = self._run_direction(inp, layer, direction, last, differentiable)
                keep_reading_order = direction == 1 and not ordered and layer == c.num_layers - 1
                outs.append(out if direction == 0 or keep_reading_order else _gather_time(out, flip))
                finals.append(h_last)
            x = torch.cat(outs, dim=2) if len(outs) > 1 else outs[0]  # (batch, time, dirs*hidden)
            if layer < c.num_layers - 1 and c.dropout > 0:
                x = nn.functional.dropout(x, c.dropout, self.training)  # as nn.LSTM does between layers
        out = x * mask[..., None].to(x.dtype)
        return out, torch.stack(finals)  # h_n ordered like PyTorch's: (layer, direction)

    def _run_direction(self, x: torch.Tensor, layer: int, direction: int, last: torch.Tensor,
                       differentiable: bool = False):
        """One layer, one direction of the fused kernel over (batch, time, in); -> (outputs, state at ``last``)."""
        c = self.config
        suffix = f"_l{layer}" + ("_reverse" if direction else "")
        params = [getattr(self.rnn, f"{name}{suffix}") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        out = fused_rnn(c.kind, x, x.new_zeros(1, x.shape[0], c.hidden_size), params, self.training or differentiable)
        h_last = out[torch.arange(out.shape[0], device=out.device), last]  # (batch, hidden)
        return out, h_last

    def pool(self, out: torch.Tensor, h_n: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(batch, time, features) -> (batch, features) by the configured pooling."""
        c = self.config
        if c.pooling == "last":
            # the forward direction's final state and the backward direction's state after reading
            # the whole text back to its first word: both are in h_n's last layer
            last = h_n[-c.num_directions :]  # (dirs, batch, hidden)
            return last.transpose(0, 1).reshape(out.shape[0], -1)
        if c.pooling == "mean":  # run_rnn's outputs are zero at the padding
            return out.sum(1) / lengths.to(out.device)[:, None].to(out.dtype)
        mask = torch.arange(out.shape[1], device=out.device)[None, :] < lengths.to(out.device)[:, None]
        return out.masked_fill(~mask[..., None], float("-inf")).max(1).values

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """ids (batch, time) int64 right-padded with pad_id; lengths (batch,) >= 1 -> logits (batch, classes)."""
        out, h_n = self.run_rnn(ids, lengths, ordered=self.config.pooling == "last")
        return self.head(self.out_dropout(self.pool(out, h_n, lengths)))

    def forward_embedded(self, embedded: torch.Tensor, lengths: torch.Tensor,
                         differentiable: bool = False) -> torch.Tensor:
        """``forward`` from the embeddings (batch, time, embed) on (no word dropout: that acts on ids);
        ``differentiable``: see ``run_embedded``."""
        out, h_n = self.run_embedded(embedded, lengths, self.config.pooling == "last", differentiable)
        return self.head(self.out_dropout(self.pool(out, h_n, lengths)))

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def _gather_time(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """x (batch, time, features) reordered along time by index (batch, time)."""
    return torch.gather(x, 1, index[..., None].expand(-1, -1, x.shape[2]))


class FastDropout(nn.Module):
    """Inverted dropout, as ``nn.Dropout``, with its mask drawn by ``torch.rand``.

    On the CPU ``nn.Dropout``'s ``bernoulli_`` costs 10 ms for the (32, 250, 128) embeddings of one
    IMDB batch, an eighth of a whole RNN training step; a uniform draw and a compare cost 3.5 ms.
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        mask = torch.rand_like(x).ge_(self.p).mul_(1.0 / (1.0 - self.p))
        return x * mask

    def extra_repr(self) -> str:
        return f"p={self.p}"


def build_classifier(config: ModelConfig, seed: int) -> SentimentClassifier:
    """A freshly initialised classifier; the same seed gives the same weights, without touching
    the caller's random state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return SentimentClassifier(config)
