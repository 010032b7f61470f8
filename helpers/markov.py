"""Smoothed n-gram (Markov chain) models of melodies, and how much of their output is copied.

A Markov chain of order ``k`` predicts the next event from the ``k`` events before it: it is an
``(k+1)``-gram model. Events are either pitches (MIDI numbers) or ``(pitch, duration)`` pairs, where the
duration is the time to the next note's onset (rests are folded into the note before them, so a melody
decodes back to its own onsets). Any 1-D sequence of non-negative ints works too (e.g. chorale-grid tokens).

Vocabulary: closed over the training events plus three reserved ids, ``<s>`` (start padding, never
predicted), ``</s>`` (end of a tune, predicted like a note) and ``<unk>`` (any event not seen in training).
``<unk>`` has no counts: it receives probability only through the uniform distribution at the bottom of the
smoothing recursion, so an unseen held-out event costs a finite (large) number of nats. Sampling never emits it.

Smoothing: interpolated Kneser-Ney with one absolute discount per order, ``D = n1 / (n1 + 2 n2)``,
Chen & Goodman (1998), "An empirical study of smoothing techniques for language modeling", Sec. 2.7 and 3
(Kneser & Ney 1995). Every context interpolates with its shorter suffix context, down to a uniform
distribution, so an unseen context never falls back to uniformly random notes and every held-out melody
gets a finite probability.

Counting is vectorised: contexts get dense ids order by order (``id_m = unique(token * C_{m-1} + id_{m-1})``),
n-grams are int64 codes ``context_id * V + event_id`` counted with ``np.unique``; no Python loop per n-gram.
The same counts and probabilities written with dictionaries and loops, one n-gram at a time, are
:func:`kneser_ney_counts_plain` / :func:`kneser_ney_log_probs_plain`: the readable reference (a test holds the
two equal).

Notebook: 02_markov_chains.ipynb (the chorale-grid baseline built on it is :func:`helpers.chorale.grid_baseline_nll`).
"""
from __future__ import annotations

from collections import defaultdict
from typing import Sequence

import numpy as np

from .data import Piece, make_notes

BOS, EOS, UNK = 0, 1, 2
SPECIALS = ("<s>", "</s>", "<unk>")
DUR_TICKS = 48  # duration resolution of (pitch, duration) events: 1/48 quarter (covers 16th triplets)
_PITCH_STRIDE = 4096  # (pitch, duration) event code = pitch * 4096 + duration in ticks


# --- events ---------------------------------------------------------------------------------------------
def melody_events(piece: Piece, voice: int | str = 0, with_duration: bool = False) -> np.ndarray:
    """The melody of one voice as events: pitches, or ``[pitch, duration]`` rows.

    Where the voice holds a chord, only its top note is kept. The duration of a note is the time to the next
    onset (the last note keeps its own duration), so rests are absorbed into the note before them.

    Args:
        piece: any :class:`~helpers.data.Piece`.
        voice: voice index or name (``'S'`` for a chorale soprano).
        with_duration: return ``(n, 2)`` float rows ``[pitch, duration]`` instead of ``(n,)`` int pitches.

    Returns:
        ``(n,)`` int64 pitches, or ``(n, 2)`` float64 ``[pitch, duration in quarters]``.
    """
    notes = piece.voice(voice)
    if len(notes) == 0:
        raise ValueError(f"melody_events: piece {piece.id!r} has no notes in voice {voice!r}")
    onset = np.asarray(notes["onset"])
    # notes are sorted by (onset, voice, pitch): the last note of each onset group is the highest
    last_of_onset = np.r_[onset[1:] != onset[:-1], True]
    top = notes[last_of_onset]
    pitch = np.asarray(top["pitch"], dtype=np.int64)
    if not with_duration:
        return pitch
    on = np.asarray(top["onset"])
    dur = np.r_[np.diff(on), float(top["duration"][-1])]
    return np.stack([pitch.astype(np.float64), dur], axis=1)  # (n, 2)


def encode_events(melody) -> np.ndarray:
    """Events -> non-negative int64 codes: ints stay as they are, ``[pitch, dur]`` rows become
    ``pitch * 4096 + round(dur * 48)``.

    Raises:
        ValueError: for an array that is neither 1-D nor ``(n, 2)``, negative values, or durations that are
            not positive or longer than 85 quarters.
    """
    arr = np.asarray(melody)
    if arr.ndim == 1:
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            if not np.all(arr == np.round(arr)):
                raise ValueError("encode_events: a 1-D melody must hold whole numbers (pitches or token ids)")
        codes = arr.astype(np.int64)
        if codes.size and codes.min() < 0:
            raise ValueError("encode_events: events must be non-negative")
        return codes
    if arr.ndim == 2 and arr.shape[1] == 2:
        pitch = arr[:, 0].astype(np.int64)
        ticks = np.round(arr[:, 1].astype(np.float64) * DUR_TICKS).astype(np.int64)
        if len(arr) and (ticks.min() <= 0 or ticks.max() >= _PITCH_STRIDE):
            raise ValueError(
                f"encode_events: durations must lie in (0, {(_PITCH_STRIDE - 1) / DUR_TICKS:g}] quarters "
                f"at a resolution of 1/{DUR_TICKS}; got {arr[:, 1].min():g}..{arr[:, 1].max():g}"
            )
        if len(arr) and pitch.min() < 0:
            raise ValueError("encode_events: pitches must be non-negative")
        return pitch * _PITCH_STRIDE + ticks
    raise ValueError(f"encode_events: a melody must be 1-D (events) or (n, 2) [pitch, duration]; got shape {arr.shape}")


def decode_events(codes: np.ndarray, with_duration: bool) -> np.ndarray:
    """Inverse of :func:`encode_events`: ``(n,)`` ints, or ``(n, 2)`` ``[pitch, duration]`` rows."""
    codes = np.asarray(codes, dtype=np.int64)
    if not with_duration:
        return codes
    return np.stack([codes // _PITCH_STRIDE, (codes % _PITCH_STRIDE) / DUR_TICKS], axis=1).astype(np.float64)


def events_to_piece(events, qpm: float = 100.0, duration: float = 0.5, id: str = "markov", **fields) -> Piece:
    """Turn generated events into a one-voice :class:`Piece` to plot and play.

    Args:
        events: ``(n,)`` pitches (each lasts ``duration`` quarters) or ``(n, 2)`` ``[pitch, duration]`` rows.
        qpm: playback tempo; duration: note length for pitch-only events.
    """
    arr = np.asarray(events, dtype=np.float64)
    if arr.ndim == 1:
        arr = np.stack([arr, np.full(len(arr), float(duration))], axis=1)
    if arr.ndim != 2 or arr.shape[1] != 2 or len(arr) == 0:
        raise ValueError(f"events_to_piece: need a non-empty (n,) or (n, 2) array, got shape {np.shape(events)}")
    onset = np.r_[0.0, np.cumsum(arr[:-1, 1])]
    notes = make_notes(arr[:, 0].astype(np.int64), onset, arr[:, 1])
    return Piece(id=id, notes=notes, voice_names=("melody",), qpm=qpm, **fields)


# --- key normalisation and transposition augmentation -------------------------------------------------------
def tonic_shift(piece: Piece) -> int:
    """Semitones (-6..+5) that move the piece's tonic to the nearest C; 0 if the tonic is unknown."""
    if piece.tonic < 0:
        return 0
    return int((-piece.tonic + 6) % 12 - 6)


def normalise_keys(pieces: Sequence[Piece]) -> list[Piece]:
    """Transpose every piece so that its tonic (``piece.tonic``) becomes the nearest C.

    Pieces with an unknown tonic are kept as they are. Tunes in different keys then share statistics.
    """
    return [p.transpose(tonic_shift(p)) if tonic_shift(p) else p for p in pieces]


def augment_transpositions(pieces: Sequence[Piece], semitones: Sequence[int] = range(-5, 7)) -> list[Piece]:
    """Every piece in every transposition of ``semitones`` (the alternative to key normalisation)."""
    return [t for p in pieces for t in p.transpositions(semitones)]


# --- the lesson's model, with its two slips fixed ---------------------------------------------------------
class RawMarkovChain:
    """The lesson's counting Markov chain: no smoothing, a uniform random note for an unseen context.

    Fixed against the lesson: the random generator is passed in by the caller (the lesson seeded inside
    ``generate``, so every call returned the same tune), and ``order`` is named for what it is: a chain of
    order ``k`` conditions on ``k`` previous notes (the lesson's default 2 is second-order, not first-order).
    Kept on purpose: the fallback to uniformly random notes, which :class:`NGramModel` replaces by backoff.

    Notebook: 02_markov_chains.ipynb.
    """

    def __init__(self, order: int = 2, fallback: Sequence[int] = (60, 62, 64, 65, 67)):
        if order < 1:
            raise ValueError(f"RawMarkovChain: order must be >= 1, got {order}")
        self.order = order
        self.fallback = list(fallback)
        self.transitions: dict[tuple, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        self.n_fallbacks = 0

    def train(self, sequences: Sequence[Sequence[int]]) -> "RawMarkovChain":
        for seq in sequences:
            for i in range(len(seq) - self.order):
                self.transitions[tuple(seq[i : i + self.order])][seq[i + self.order]] += 1
        return self

    def probability(self, melody: Sequence[int]) -> float:
        """Probability of the melody's transitions after its first ``order`` notes; 0 if one was never seen."""
        p = 1.0
        for i in range(len(melody) - self.order):
            nexts = self.transitions.get(tuple(melody[i : i + self.order]), {})
            total = sum(nexts.values())
            p *= nexts.get(melody[i + self.order], 0) / total if total else 0.0
        return p

    def generate(self, seed: Sequence[int], length: int, rng: np.random.Generator) -> list[int]:
        """``seed`` followed by ``length`` sampled notes; counts in ``n_fallbacks`` the random guesses."""
        if len(seed) < self.order:
            raise ValueError(f"RawMarkovChain.generate: seed has {len(seed)} notes, the order is {self.order}")
        melody = list(seed)
        for _ in range(length):
            nexts = self.transitions.get(tuple(melody[-self.order :]))
            if not nexts:
                self.n_fallbacks += 1
                melody.append(int(rng.choice(self.fallback)))
                continue
            notes, counts = list(nexts), np.array(list(nexts.values()), dtype=float)
            melody.append(int(rng.choice(notes, p=counts / counts.sum())))
        return melody


# --- the smoothed n-gram model ---------------------------------------------------------------------------
def _discount(counts: np.ndarray) -> float:
    """Kneser-Ney absolute discount ``D = n1 / (n1 + 2 n2)`` (Chen & Goodman 1998, eq. 26), kept in [0.1, 0.9]
    so that a tiny corpus (no count-2 n-grams) neither discards nor keeps all mass."""
    n1, n2 = np.sum(counts == 1), np.sum(counts == 2)
    d = n1 / (n1 + 2 * n2) if n1 + n2 else 0.5
    return float(np.clip(d, 0.1, 0.9))


class NGramModel:
    """Interpolated Kneser-Ney n-gram model of order ``k`` (``k`` previous events predict the next).

    Usage::

        model = NGramModel(order=3).fit([melody_events(p) for p in train])
        model.nll_per_event([melody_events(p) for p in valid])   # nats per event
        tune = model.sample(64, np.random.default_rng(0), temperature=0.9)

    Reference: Chen & Goodman (1998), Sec. 2.7 (interpolated Kneser-Ney); Kneser & Ney (ICASSP 1995).
    Notebook: 02_markov_chains.ipynb.
    """

    def __init__(self, order: int):
        if not isinstance(order, (int, np.integer)) or order < 1:
            raise ValueError(f"NGramModel: order must be an int >= 1, got {order!r}")
        self.order = int(order)
        self.with_duration: bool | None = None

    # --- vocabulary ---
    def _check_melodies(self, melodies, what: str) -> list[np.ndarray]:
        if isinstance(melodies, np.ndarray) and melodies.ndim == 1 and melodies.dtype != object:
            raise ValueError(f"{what}: pass a list of melodies, not a single melody")
        melodies = list(melodies)
        if not melodies:
            raise ValueError(f"{what}: empty corpus; pass at least one melody")
        out = []
        for i, m in enumerate(melodies):
            arr = np.asarray(m)
            with_dur = arr.ndim == 2
            if self.with_duration is not None and with_dur != self.with_duration:
                kind = "(pitch, duration) pairs" if self.with_duration else "1-D events"
                raise ValueError(f"{what}: melody {i} has shape {arr.shape} but the model was fitted on {kind}")
            if len(arr) < self.order:
                raise ValueError(
                    f"{what}: melody {i} has {len(arr)} events, fewer than the order {self.order}; "
                    f"drop melodies shorter than the order"
                )
            self.with_duration = with_dur if self.with_duration is None else self.with_duration
            out.append(encode_events(arr))
        return out

    def encode(self, codes: np.ndarray) -> np.ndarray:
        """Event codes -> vocabulary ids (unseen events -> ``<unk>``)."""
        codes = np.asarray(codes, dtype=np.int64)
        pos = np.clip(np.searchsorted(self.events, codes), 0, len(self.events) - 1)
        return np.where(self.events[pos] == codes, pos + len(SPECIALS), UNK)

    @property
    def vocab_size(self) -> int:
        return len(self.events) + len(SPECIALS)

    def _padded(self, ids_list: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Concatenate ``<s>``*k + ids + ``</s>`` per melody. Returns (tokens (N,), target positions (P,))."""
        k = self.order
        tok = np.concatenate([np.r_[np.full(k, BOS), x, EOS] for x in ids_list]).astype(np.int64)
        is_target = tok != BOS
        return tok, np.flatnonzero(is_target)

    # --- fitting ---
    def fit(self, melodies: Sequence) -> "NGramModel":
        """Count every n-gram of every order up to ``k+1`` and the Kneser-Ney continuation counts.

        Args:
            melodies: list of melodies, each ``(n,)`` ints or ``(n, 2)`` ``[pitch, duration]`` rows, n >= order.
        """
        self.with_duration = None
        codes = self._check_melodies(melodies, "NGramModel.fit")
        self.events = np.unique(np.concatenate(codes))  # (E,) sorted event codes
        V = self.vocab_size
        tok, pos = self._padded([self.encode(c) for c in codes])
        w = tok[pos]  # (P,) targets
        k = self.order
        # dense context ids, order by order: ctx_keys[m][id] = token * C[m-1] + parent id (sorted)
        self.ctx_keys, self.n_ctx = [np.zeros(1, np.int64)], [1]
        h = np.zeros(len(pos), np.int64)
        hs = [h]
        for m in range(1, k + 1):
            keys, h = np.unique(tok[pos - m] * self.n_ctx[m - 1] + h, return_inverse=True)
            h = h.reshape(-1)
            self.ctx_keys.append(keys)
            self.n_ctx.append(len(keys))
            hs.append(h)
        # highest order: raw counts; lower orders: continuation counts N1+(. h w)
        self.ng_keys, self.ng_counts = [None] * (k + 1), [None] * (k + 1)
        self.ng_keys[k], cnt = np.unique(hs[k] * V + w, return_counts=True)
        self.ng_counts[k] = cnt.astype(np.float64)
        for m in range(k - 1, -1, -1):
            upper = self.ng_keys[m + 1]
            parent = self.ctx_keys[m + 1][upper // V] % self.n_ctx[m]  # context id one order down
            self.ng_keys[m], cnt = np.unique(parent * V + upper % V, return_counts=True)
            self.ng_counts[m] = cnt.astype(np.float64)
        self.ctx_total, self.ctx_types, self.discounts = [], [], []
        for m in range(k + 1):
            ctx = self.ng_keys[m] // V
            self.ctx_total.append(np.bincount(ctx, weights=self.ng_counts[m], minlength=self.n_ctx[m]))
            self.ctx_types.append(np.bincount(ctx, minlength=self.n_ctx[m]).astype(np.float64))
            self.discounts.append(_discount(self.ng_counts[m]))
        self.n_train_events = int(len(pos))
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "ng_keys"):
            raise RuntimeError("NGramModel: call fit(melodies) first")

    def _uniform(self) -> np.ndarray:
        u = np.full(self.vocab_size, 1.0 / (self.vocab_size - 1))
        u[BOS] = 0.0
        return u

    def _context_ids(self, tok: np.ndarray, pos: np.ndarray) -> list[np.ndarray]:
        """For each target position, the id of its context of every length 0..k (-1 where unseen)."""
        h = np.zeros(len(pos), np.int64)
        out = [h]
        for m in range(1, self.order + 1):
            code = tok[pos - m] * self.n_ctx[m - 1] + np.maximum(h, 0)
            keys = self.ctx_keys[m]
            j = np.clip(np.searchsorted(keys, code), 0, len(keys) - 1)
            h = np.where((h >= 0) & (keys[j] == code), j, -1)
            out.append(h)
        return out

    # --- probabilities ---
    def token_log_probs(self, melodies: Sequence) -> list[np.ndarray]:
        """Natural-log probability of every event of every melody, ``</s>`` included.

        Returns:
            One ``(n_i + 1,)`` array per melody (the last entry is the end of the tune).
        """
        self._check_fitted()
        codes = self._check_melodies(melodies, "NGramModel.token_log_probs")
        ids = [self.encode(c) for c in codes]
        tok, pos = self._padded(ids)
        w = tok[pos]  # (P,)
        V = self.vocab_size
        p = self._uniform()[w]  # (P,)
        for m, h in enumerate(self._context_ids(tok, pos)):
            seen = h >= 0
            keys = self.ng_keys[m]
            code = np.maximum(h, 0) * V + w
            j = np.clip(np.searchsorted(keys, code), 0, len(keys) - 1)
            c = np.where(seen & (keys[j] == code), self.ng_counts[m][j], 0.0)
            hh = np.maximum(h, 0)
            D = self.discounts[m]
            interp = (np.maximum(c - D, 0.0) + D * self.ctx_types[m][hh] * p) / np.maximum(self.ctx_total[m][hh], 1e-300)
            p = np.where(seen, interp, p)
        logp = np.log(p)
        return np.split(logp, np.cumsum([len(x) + 1 for x in ids])[:-1])

    def log_prob(self, melody) -> float:
        """Natural-log probability of one whole melody, its end included."""
        return float(self.token_log_probs([melody])[0].sum())

    def nll_per_event(self, melodies: Sequence) -> float:
        """Mean negative log-likelihood in nats per event (notes and one ``</s>`` per tune)."""
        lp = np.concatenate(self.token_log_probs(melodies))
        return float(-lp.mean())

    def prob_table(self, context=()) -> np.ndarray:
        """The next-event distribution after ``context`` (events, most recent last), over vocabulary ids.

        Only the last ``k`` events matter; a shorter context is padded with ``<s>`` (the start of a tune).

        Returns:
            ``(V,)`` probabilities summing to one; ``<s>`` has probability 0.
        """
        self._check_fitted()
        ctx = np.asarray(context)
        ids = self.encode(encode_events(ctx)) if len(ctx) else np.zeros(0, np.int64)
        return self._prob_table_ids(ids)

    def _prob_table_ids(self, ids: np.ndarray) -> np.ndarray:
        k, V = self.order, self.vocab_size
        tok = np.r_[np.full(k, BOS), ids[-k:]].astype(np.int64)[-k:]
        tok = np.r_[tok, 0]  # a dummy target at the end
        hs = self._context_ids(tok, np.array([k]))
        p = self._uniform()
        for m, h in enumerate(hs):
            h = int(h[0])
            if h < 0:
                break  # longer contexts are unseen too
            keys = self.ng_keys[m]
            lo, hi = np.searchsorted(keys, [h * V, (h + 1) * V])
            c = np.zeros(V)
            c[keys[lo:hi] - h * V] = self.ng_counts[m][lo:hi]
            D = self.discounts[m]
            p = (np.maximum(c - D, 0.0) + D * self.ctx_types[m][h] * p) / self.ctx_total[m][h]
        return p

    def id_to_event(self, ids: np.ndarray) -> np.ndarray:
        """Vocabulary ids (no specials) -> events in the training format."""
        ids = np.asarray(ids, dtype=np.int64)
        if ids.size and ids.min() < len(SPECIALS):
            raise ValueError("id_to_event: special ids (<s>, </s>, <unk>) are not events")
        return decode_events(self.events[ids - len(SPECIALS)], bool(self.with_duration))

    # --- sampling ---
    def sample(self, length: int, rng: np.random.Generator, temperature: float = 1.0, prompt=None,
               stop_at_end: bool = True) -> np.ndarray:
        """Sample a tune: ``prompt`` (if any) followed by up to ``length`` new events.

        Stops early at ``</s>``; with ``stop_at_end=False`` the end marker is never drawn (exactly ``length`` new
        events, e.g. to compare continuations of one length with another model's). The temperature reshapes the smoothed distribution, ``p ** (1 / T)``
        renormalised (T < 1 sharper, T > 1 flatter); ``<unk>`` is never sampled.

        Args:
            length: maximum number of new events (>= 1).
            rng: a ``np.random.Generator`` from the caller (same seed -> same tune).
            temperature: > 0.
            prompt: optional events to continue, in the training format.

        Returns:
            ``(n,)`` events or ``(n, 2)`` ``[pitch, duration]`` rows, prompt included.
        """
        self._check_fitted()
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"sample: rng must be a np.random.Generator (np.random.default_rng(seed)), got {type(rng).__name__}")
        if temperature <= 0:
            raise ValueError(f"sample: temperature must be > 0, got {temperature}")
        if length < 1:
            raise ValueError(f"sample: length must be >= 1, got {length}")
        ids = []
        if prompt is not None and len(prompt):
            ids = list(self.encode(encode_events(prompt)))
            if UNK in ids:
                raise ValueError("sample: the prompt holds events never seen in training")
        for _ in range(int(length)):
            p = self._prob_table_ids(np.array(ids, dtype=np.int64))
            p[UNK] = 0.0
            if not stop_at_end:
                p[EOS] = 0.0
            if temperature != 1.0:
                p = p ** (1.0 / temperature)
            nxt = int(rng.choice(len(p), p=p / p.sum()))
            if nxt == EOS:
                break
            ids.append(nxt)
        ids = np.array(ids, dtype=np.int64)
        return self.id_to_event(ids) if len(ids) else decode_events(np.zeros(0, np.int64), bool(self.with_duration))

    def generate_ids(self, length: int, rng: np.random.Generator, temperature: float = 1.0) -> np.ndarray:
        """Like :meth:`sample` but returns vocabulary ids (for memorisation measures)."""
        return self.encode(encode_events(self.sample(length, rng, temperature)))


# --- the same model with plain loops: the reference the vectorised NGramModel is held to ----------------
def kneser_ney_counts_plain(train_ids: Sequence[Sequence[int]], order: int) -> list[dict]:
    """Interpolated Kneser-Ney counts with dictionaries and loops, one n-gram at a time.

    Every tune is padded as in :class:`NGramModel`: ``order`` start symbols ``<s>`` before it, ``</s>`` after it.
    For each order ``m`` = 0 .. ``order`` (the context length), one table::

        counts[(context, w)]   highest order: how often w followed the context (raw counts);
                               lower orders: in how many different contexts one note longer, ending in this
                               context, w was seen (continuation counts N1+(. h w), Chen & Goodman Sec. 2.7)
        total[context]         sum of counts[(context, .)]
        types[context]         how many different w follow the context, N1+(h .)
        D                      the discount n1 / (n1 + 2 n2) of this order's counts, clipped to [0.1, 0.9]

    Args:
        train_ids: training tunes as vocabulary ids (``NGramModel.encode``), without padding.
        order: the number of previous events a prediction sees.

    Returns:
        A list of ``order + 1`` dicts with keys ``counts``, ``total``, ``types``, ``D``.

    Notebook: 02_markov_chains.ipynb (shown before the vectorised ``NGramModel``; a test holds them equal).
    """
    k = int(order)
    # 1. raw counts of (k-note context, next event): a context is a tuple of ids, most recent last
    raw = defaultdict(int)
    for tune in train_ids:
        padded = [BOS] * k + [int(t) for t in tune] + [EOS]
        for i in range(k, len(padded)):
            raw[tuple(padded[i - k:i]), padded[i]] += 1
    tables = [None] * (k + 1)
    tables[k] = dict(raw)
    # 2. continuation counts, from the order above: drop the oldest note of every context seen there
    for m in range(k - 1, -1, -1):
        cont = defaultdict(int)
        for (context, w) in tables[m + 1]:  # every distinct (longer context, w): one more left neighbour
            cont[context[1:], w] += 1
        tables[m] = dict(cont)
    out = []
    for m in range(k + 1):
        total, types = defaultdict(float), defaultdict(int)
        for (context, w), c in tables[m].items():
            total[context] += c
            types[context] += 1
        out.append({"counts": tables[m], "total": dict(total), "types": dict(types),
                    "D": _discount(np.array(list(tables[m].values())))})
    return out


def kneser_ney_prob_plain(tables: list[dict], context: Sequence[int], w: int, vocab_size: int) -> float:
    """P(w | context) by the interpolated Kneser-Ney recursion, from the shortest context up.

    ``P_m(w | h) = (max(c(h, w) - D, 0) + D * N1+(h .) * P_{m-1}(w | h')) / c(h)`` where ``h'`` drops the
    oldest note of ``h``; below order 0 a uniform distribution over every id but ``<s>``. A context never seen
    in training keeps the shorter context's probability (and so does every longer one).

    Args:
        tables: from :func:`kneser_ney_counts_plain`.
        context: the ``order`` previous ids (``<s>``-padded), most recent last.
        w: the id whose probability we want.
        vocab_size: V, specials included.
    """
    k = len(tables) - 1
    context = tuple(int(t) for t in context)[-k:] if k else ()
    if len(context) != k:
        raise ValueError(f"kneser_ney_prob_plain: context must hold {k} ids, got {len(context)}")
    p = 0.0 if w == BOS else 1.0 / (vocab_size - 1)  # uniform floor, <s> is never predicted
    for m in range(k + 1):
        h = context[k - m:]  # the m most recent ids
        t = tables[m]
        if h not in t["total"]:
            break  # unseen context: longer ones are unseen too
        c = t["counts"].get((h, w), 0)
        p = (max(c - t["D"], 0.0) + t["D"] * t["types"][h] * p) / t["total"][h]
    return p


def kneser_ney_log_probs_plain(model: "NGramModel", train_melodies: Sequence, melodies: Sequence) -> list[np.ndarray]:
    """What ``model.token_log_probs(melodies)`` returns, recounted from ``train_melodies`` with plain loops.

    Uses only the model's vocabulary (``model.encode``) and order; every count is redone by
    :func:`kneser_ney_counts_plain` and every probability by :func:`kneser_ney_prob_plain`. Slow (a Python
    loop per n-gram), so use it on a few hundred tunes: it is the reference, not the tool.

    Returns:
        One ``(n_i + 1,)`` array of natural-log probabilities per melody, ``</s>`` last.
    """
    model._check_fitted()
    k, V = model.order, model.vocab_size
    train_ids = [model.encode(encode_events(np.asarray(m))) for m in train_melodies]
    tables = kneser_ney_counts_plain(train_ids, k)
    out = []
    for m in melodies:
        padded = [BOS] * k + [int(t) for t in model.encode(encode_events(np.asarray(m)))] + [EOS]
        out.append(np.array([np.log(kneser_ney_prob_plain(tables, padded[i - k:i], padded[i], V))
                             for i in range(k, len(padded))]))
    return out


# --- memorisation: how much of a generated tune is copied from the training set ------------------------
class CorpusIndex:
    """Suffix array of a training corpus, to find the longest stretches of a sequence copied verbatim.

    Built by prefix doubling (Manber & Myers 1993) with NumPy sorts; tunes are separated by a marker that no
    query holds, so a match never crosses from one tune into the next.

    Notebook: 02_markov_chains.ipynb.
    """

    SEP = -1

    def __init__(self, sequences: Sequence[np.ndarray]):
        seqs = [np.asarray(s, dtype=np.int64) for s in sequences]
        if not seqs:
            raise ValueError("CorpusIndex: empty corpus")
        text = np.concatenate([np.r_[s, self.SEP] for s in seqs])  # (N,)
        self.text = text
        self.sa = _suffix_array(text)  # (N,)
        self.first = text[self.sa]  # (N,) first token of each sorted suffix

    def match_lengths(self, query) -> np.ndarray:
        """For each position i, the length of the longest prefix of ``query[i:]`` found in the corpus.

        Every position is searched at once (:meth:`match_lengths_many`); :meth:`match_lengths_plain` is the
        one-position-at-a-time reference it is tested against.
        """
        return self.match_lengths_many([query])[0]

    def match_lengths_many(self, queries: Sequence) -> list[np.ndarray]:
        """:meth:`match_lengths` of several queries in one vectorised search.

        Each position i of each query keeps an interval ``[lo, hi)`` of the sorted suffixes that start with the
        ``n`` tokens of the query read so far; all intervals are narrowed together, one token per round (two
        vectorised binary searches), until they are empty or their query ends. Rounds = the longest match + 1.
        """
        qs = [np.asarray(q, dtype=np.int64).ravel() for q in queries]
        sizes = [len(q) for q in qs]
        if not sum(sizes):
            return [np.zeros(0, np.int64) for _ in qs]
        q = np.concatenate(qs)  # (M,)
        end = np.repeat(np.cumsum(sizes), sizes)  # (M,) one past the last position of each position's query
        out = np.zeros(len(q), np.int64)
        pos = np.arange(len(q))
        lo, hi = np.searchsorted(self.first, q), np.searchsorted(self.first, q + 1)
        n = 0
        while True:
            live = hi > lo
            pos, lo, hi = pos[live], lo[live], hi[live]
            if not len(pos):
                break
            n += 1
            out[pos] = n
            more = pos + n < end[pos]
            pos, lo, hi = pos[more], lo[more], hi[more]
            target = q[np.minimum(pos + n, len(q) - 1)]
            lo, hi = self._bound(lo, hi, n, target, right=False), self._bound(lo, hi, n, target, right=True)
        splits = np.cumsum(sizes)[:-1]
        return np.split(out, splits)

    def _bound(self, lo: np.ndarray, hi: np.ndarray, n: int, target: np.ndarray, right: bool) -> np.ndarray:
        """Vectorised binary search inside each ``[lo, hi)``: first suffix whose token ``n`` is >= target
        (``right``: > target); the tokens at offset ``n`` are sorted inside each interval."""
        a, b = lo.copy(), hi.copy()
        while True:
            open_ = a < b
            if not open_.any():
                return a
            mid = (a + b) // 2
            v = self.text[np.where(open_, self.sa[np.where(open_, mid, 0)] + n, 0)]  # closed: a dummy read
            go_right = open_ & ((v <= target) if right else (v < target))
            a = np.where(go_right, mid + 1, a)
            b = np.where(open_ & ~go_right, mid, b)

    def match_lengths_plain(self, query) -> np.ndarray:
        """:meth:`match_lengths` one position at a time (the reference the vectorised search is tested against)."""
        q = np.asarray(query, dtype=np.int64)
        out = np.zeros(len(q), np.int64)
        for i in range(len(q)):
            lo, hi = np.searchsorted(self.first, [q[i], q[i] + 1])
            n = 0
            while hi > lo:
                n += 1
                if i + n >= len(q):
                    break
                nxt = self.text[self.sa[lo:hi] + n]  # sorted inside the interval
                lo, hi = lo + np.searchsorted(nxt, q[i + n]), lo + np.searchsorted(nxt, q[i + n] + 1)
            out[i] = n
        return out

    def copied_share(self, query, n: int) -> float:
        """Share of the query's n-grams that occur verbatim in the corpus (NaN if the query is shorter than n)."""
        ml = self.match_lengths(query)
        if len(ml) < n:
            return float("nan")
        return float(np.mean(ml[: len(ml) - n + 1] >= n))

    def longest_copy(self, query) -> int:
        """Length of the longest stretch of the query found verbatim in the corpus."""
        ml = self.match_lengths(query)
        return int(ml.max()) if len(ml) else 0


def _suffix_array(text: np.ndarray) -> np.ndarray:
    """Suffix array by prefix doubling: O(N log^2 N) with NumPy sorts."""
    N = len(text)
    _, rank = np.unique(text, return_inverse=True)
    rank = rank.reshape(-1).astype(np.int64)
    k = 1
    while True:
        second = np.full(N, -1, np.int64)
        second[: N - k] = rank[k:] if k < N else second[:0]
        order = np.lexsort((second, rank))
        r, s = rank[order], second[order]
        new = np.r_[0, np.cumsum((r[1:] != r[:-1]) | (s[1:] != s[:-1]))]
        rank = np.empty(N, np.int64)
        rank[order] = new
        if new[-1] == N - 1 or k >= N:
            return order
        k *= 2


def memorisation(model: NGramModel, train_melodies: Sequence, n_tunes: int, length: int, rng: np.random.Generator,
                 n: int | None = None, temperature: float = 1.0, index: CorpusIndex | None = None) -> dict:
    """Sample ``n_tunes`` tunes and measure how much of them is copied from the training set.

    Returns:
        dict with ``share`` (mean share of generated n-grams found in train; n = order + 1 by default),
        ``share8`` (same for 8-grams), ``longest`` (mean longest copied run), ``longest_max``, ``length``.
    """
    n = model.order + 1 if n is None else n
    if index is None:
        index = CorpusIndex([model.encode(encode_events(m)) for m in train_melodies])
    shares, shares8, longest, lens = [], [], [], []
    for _ in range(n_tunes):
        ids = model.generate_ids(length, rng, temperature)
        ml = index.match_lengths(ids)
        lens.append(len(ids))
        longest.append(int(ml.max()) if len(ml) else 0)
        if len(ml) >= n:
            shares.append(np.mean(ml[: len(ml) - n + 1] >= n))
        if len(ml) >= 8:
            shares8.append(np.mean(ml[: len(ml) - 8 + 1] >= 8))
    return {
        "share": float(np.mean(shares)) if shares else float("nan"),
        "share8": float(np.mean(shares8)) if shares8 else float("nan"),
        "longest": float(np.mean(longest)),
        "longest_max": int(max(longest)),
        "length": float(np.mean(lens)),
    }


def longest_self_repeat(seq) -> int:
    """Length of the longest stretch that a sequence repeats inside itself (a returning phrase or theme).

    Compares the sequence with every shift of itself: O(n^2) elementwise, fine for one tune.
    """
    s = np.asarray(seq)
    if s.ndim == 2:
        s = encode_events(s)
    best = 0
    for shift in range(1, len(s)):
        eq = np.r_[False, s[shift:] == s[:-shift], False].astype(np.int8)  # (n - shift + 2,)
        edges = np.flatnonzero(np.diff(eq))  # run starts and ends, alternating
        if len(edges):
            best = max(best, int((edges[1::2] - edges[::2]).max()))
    return best
