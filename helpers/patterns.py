"""Codebook interleaving patterns: how K parallel code streams become one sequence a language model can predict.

A codec gives a K x T matrix of codes (K codebooks, T frames). A language model predicts one *step* at a time; a
pattern says which codes (k, t) each step emits. Four patterns, one small abstraction:

- :class:`Pattern` — a ``layout``: for each step, the list of (codebook k, frame t) it emits, each code exactly once,
  at most one code per codebook per step, and each codebook's frames in time order (a layout whose time runs
  backwards is refused, as audiocraft's ``_validate_layout`` does), so a sequence is a K x S matrix (S = steps) with a
  *special* token in the slots that emit nothing. ``build(codes) -> sequence``, ``revert(sequence) -> codes``; the
  fast versions are two gathers, with plain-loop references (:func:`build_reference`, :func:`revert_reference`) held
  equal in tests.
- The pattern owns its *start step*: a language model needs an input before the first step it predicts, so the
  model's sequence is ``start`` steps of special tokens, then the pattern's S steps (audiocraft's layouts begin with
  an empty step the same way). ``to_steps(codes) -> (..., K, start + S)`` and ``from_steps`` are what the LM
  trains on and samples (:mod:`helpers.musicgen`, for any of the four patterns); :func:`max_timesteps` is the
  longest T that fits a model's window.
- :func:`flatten_pattern`, :func:`parallel_pattern`, :func:`delay_pattern`, :func:`valle_pattern` (each drawn in
  its docstring, K = 3 codebooks ``a b c``, T = 4 frames, ``.`` = special token); :func:`make_pattern` by name.
- :func:`decoding_steps` — the number of autoregressive steps per pattern, as a formula; :func:`decoding_steps_table`
  tabulates it (the tests hold the formulas to the layouts).

Which to use? Flatten is exact (every code sees all earlier ones) but K times longer; parallel is K times shorter but
the codebooks of one frame are predicted independently of each other; delay (MusicGen) emits codebook k of frame t
after codebook k-1 of frame t, so each step still emits K codes and the sequence is only K-1 steps longer than
parallel; VALL-E-style predicts the first codebook alone, then the others in parallel.

Notebook: 05_musicgen.ipynb
Reference: Copet et al. 2023, "Simple and Controllable Music Generation" (MusicGen, arXiv:2306.05284), Sec. 2.2
(codebook interleaving patterns; Table 3 compares them); Wang et al. 2023 (VALL-E, arXiv:2301.02111), Sec. 4;
the idea of a pattern with build/revert follows audiocraft's ``modules/codebooks_patterns.py``; our own code.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Sequence

import torch

PATTERNS = ("flatten", "parallel", "delay", "valle")
START_STEPS = 1  # steps of special tokens before a pattern's first step: the model's first input
Coord = tuple[int, int]  # (codebook k, frame t)


@dataclass(frozen=True, eq=False)
class Pattern:
    """A codebook interleaving pattern for K codebooks and T frames.

    Attributes:
        name: the pattern's name.
        n_q: K, the number of codebooks.
        timesteps: T, the number of frames.
        layout: for each step s, the codes (k, t) emitted at that step.
        start: steps of special tokens in front of the layout in the model's sequence (:meth:`to_steps`), >= 1.
    """

    name: str
    n_q: int
    timesteps: int
    layout: tuple[tuple[Coord, ...], ...]
    start: int = START_STEPS

    def __post_init__(self):
        K, T = self.n_q, self.timesteps
        if K < 1 or T < 1:
            raise ValueError(f"a pattern needs n_q >= 1 and timesteps >= 1, got n_q={K}, timesteps={T}")
        if self.start < 1:
            raise ValueError(f"pattern {self.name!r}: start={self.start}, but the model needs at least one start step")
        seen, last = set(), [-1] * K  # last[k]: the latest frame of codebook k emitted so far
        for s, step in enumerate(self.layout):
            ks = [k for k, _ in step]
            if len(set(ks)) != len(ks):
                raise ValueError(f"pattern {self.name!r}: step {s} emits codebook(s) more than once: {step}")
            for k, t in step:
                if not (0 <= k < K and 0 <= t < T):
                    raise ValueError(f"pattern {self.name!r}: step {s} emits ({k}, {t}), outside K={K} x T={T}")
                if (k, t) in seen:
                    raise ValueError(f"pattern {self.name!r}: code ({k}, {t}) is emitted twice")
                if t < last[k]:
                    raise ValueError(f"pattern {self.name!r}: step {s} emits frame {t} of codebook {k} after frame "
                                     f"{last[k]}: time runs backwards")
                seen.add((k, t))
                last[k] = t
        if len(seen) != K * T:
            raise ValueError(f"pattern {self.name!r} emits {len(seen)} codes, but K x T = {K * T}")

    @property
    def n_steps(self) -> int:
        """S, the number of autoregressive steps."""
        return len(self.layout)

    @cached_property
    def frame_of_slot(self) -> torch.Tensor:
        """(K, S) int64: the frame t emitted in slot (k, s), or -1 where the slot holds the special token."""
        out = torch.full((self.n_q, self.n_steps), -1, dtype=torch.long)
        for s, step in enumerate(self.layout):
            for k, t in step:
                out[k, s] = t
        return out

    @cached_property
    def step_of_code(self) -> torch.Tensor:
        """(K, T) int64: the step s at which code (k, t) is emitted."""
        out = torch.empty((self.n_q, self.timesteps), dtype=torch.long)
        for s, step in enumerate(self.layout):
            for k, t in step:
                out[k, t] = s
        return out

    @property
    def mask(self) -> torch.Tensor:
        """(K, S) bool: True where a slot holds a code, False where it holds the special token."""
        return self.frame_of_slot >= 0

    @property
    def sequence_length(self) -> int:
        """``start + S``: the length of the model's sequence (:meth:`to_steps`)."""
        return self.start + self.n_steps

    @property
    def steps_mask(self) -> torch.Tensor:
        """(K, start + S) bool: :attr:`mask` behind the start steps (False there): where the model's sequence holds a
        code, i.e. where a sampler draws and where a loss has a target."""
        return torch.cat([torch.zeros(self.n_q, self.start, dtype=torch.bool), self.mask], dim=1)

    def _check(self, x: torch.Tensor, last: int, what: str) -> None:
        if x.dim() < 2 or x.shape[-2] != self.n_q or x.shape[-1] != last:
            raise ValueError(f"{what} must have shape (..., {self.n_q}, {last}) for pattern {self.name!r} "
                             f"(K={self.n_q}, T={self.timesteps}), got {tuple(x.shape)}")

    def build(self, codes: torch.Tensor, special: int) -> torch.Tensor:
        """Codes (..., K, T) -> sequence (..., K, S), the special token in the empty slots."""
        self._check(codes, self.timesteps, "codes")
        index = self.frame_of_slot.to(codes.device)  # (K, S)
        gathered = codes.gather(-1, index.clamp_min(0).expand(*codes.shape[:-1], -1))  # (..., K, S)
        return torch.where(index >= 0, gathered, torch.full_like(gathered, special))

    def revert(self, sequence: torch.Tensor) -> torch.Tensor:
        """Sequence (..., K, S) -> codes (..., K, T) (the special slots are ignored)."""
        self._check(sequence, self.n_steps, "sequence")
        index = self.step_of_code.to(sequence.device)  # (K, T)
        return sequence.gather(-1, index.expand(*sequence.shape[:-1], -1))

    def to_steps(self, codes: torch.Tensor, special: int) -> torch.Tensor:
        """Codes (..., K, T) -> the model's sequence (..., K, start + S): the start steps, then :meth:`build`."""
        seq = self.build(codes, special)  # (..., K, S)
        first = torch.full((*seq.shape[:-1], self.start), special, dtype=seq.dtype, device=seq.device)
        return torch.cat([first, seq], dim=-1)

    def from_steps(self, steps: torch.Tensor) -> torch.Tensor:
        """The model's sequence (..., K, start + S) -> codes (..., K, T): the start steps dropped, then :meth:`revert`."""
        self._check(steps, self.sequence_length, "steps")
        return self.revert(steps[..., self.start :])

    def draw(self, special: str = ".") -> str:
        """The pattern as a small text matrix: one row per codebook (letters a, b, c, ...), one column per step,
        each code written as its codebook's letter and frame number."""
        width = max(2, len(str(self.timesteps - 1)) + 1)
        rows = ["step " + " ".join(f"{s:>{width}}" for s in range(self.n_steps))]
        for k in range(self.n_q):
            letter = chr(ord("a") + k) if k < 26 else "?"
            cells = [special if t < 0 else f"{letter}{t}" for t in self.frame_of_slot[k].tolist()]
            rows.append(f"k={k:<3}" + " ".join(f"{c:>{width}}" for c in cells))
        return "\n".join(rows)


def build_reference(pattern: Pattern, codes: torch.Tensor, special: int) -> torch.Tensor:
    """Plain form of :meth:`Pattern.build`: fill the sequence code by code, walking the layout."""
    pattern._check(codes, pattern.timesteps, "codes")
    out = torch.full((*codes.shape[:-1], pattern.n_steps), special, dtype=codes.dtype)
    for s, step in enumerate(pattern.layout):
        for k, t in step:
            out[..., k, s] = codes[..., k, t]
    return out


def revert_reference(pattern: Pattern, sequence: torch.Tensor) -> torch.Tensor:
    """Plain form of :meth:`Pattern.revert`."""
    pattern._check(sequence, pattern.n_steps, "sequence")
    out = torch.empty((*sequence.shape[:-1], pattern.timesteps), dtype=sequence.dtype)
    for s, step in enumerate(pattern.layout):
        for k, t in step:
            out[..., k, t] = sequence[..., k, s]
    return out


# --- the four patterns (drawings made by Pattern.draw; a test checks that they match) ----------------------------
def flatten_pattern(n_q: int, timesteps: int) -> Pattern:
    """One code per step, frame by frame: K x T steps, each code sees every earlier one::

        step  0  1  2  3  4  5  6  7  8  9 10 11
        k=0  a0  .  . a1  .  . a2  .  . a3  .  .
        k=1   . b0  .  . b1  .  . b2  .  . b3  .
        k=2   .  . c0  .  . c1  .  . c2  .  . c3
    """
    return Pattern("flatten", n_q, timesteps, tuple(((k, t),) for t in range(timesteps) for k in range(n_q)))


def parallel_pattern(n_q: int, timesteps: int) -> Pattern:
    """All K codes of a frame in one step: T steps, the codebooks of a frame predicted independently::

        step  0  1  2  3
        k=0  a0 a1 a2 a3
        k=1  b0 b1 b2 b3
        k=2  c0 c1 c2 c3
    """
    return Pattern("parallel", n_q, timesteps, tuple(tuple((k, t) for k in range(n_q)) for t in range(timesteps)))


def delay_pattern(n_q: int, timesteps: int, delays: Sequence[int] | None = None) -> Pattern:
    """Codebook k delayed by ``delays[k]`` steps (default k, as in MusicGen): T + max(delays) steps, and codebook k
    of frame t comes one step after codebook k-1 of frame t, so it can depend on it::

        step  0  1  2  3  4  5
        k=0  a0 a1 a2 a3  .  .
        k=1   . b0 b1 b2 b3  .
        k=2   .  . c0 c1 c2 c3
    """
    delays = tuple(range(n_q)) if delays is None else tuple(int(d) for d in delays)
    if len(delays) != n_q or min(delays) < 0:
        raise ValueError(f"delays must be {n_q} non-negative integers, got {delays}")
    steps = timesteps + max(delays)
    layout = tuple(tuple((k, s - delays[k]) for k in range(n_q) if 0 <= s - delays[k] < timesteps) for s in range(steps))
    return Pattern("delay", n_q, timesteps, layout)


def valle_pattern(n_q: int, timesteps: int) -> Pattern:
    """VALL-E-style: the first codebook alone, frame by frame; then the other codebooks of each frame in parallel
    (2T steps for K > 1, T for K = 1). VALL-E itself does the second half with a non-autoregressive model, one pass
    per codebook (T + K - 1 passes); as one autoregressive sequence it takes 2T steps, as in audiocraft's
    ``VALLEPattern``::

        step  0  1  2  3  4  5  6  7
        k=0  a0 a1 a2 a3  .  .  .  .
        k=1   .  .  .  . b0 b1 b2 b3
        k=2   .  .  .  . c0 c1 c2 c3
    """
    first = tuple(((0, t),) for t in range(timesteps))
    rest = tuple(tuple((k, t) for k in range(1, n_q)) for t in range(timesteps)) if n_q > 1 else ()
    return Pattern("valle", n_q, timesteps, first + rest)


_PROVIDERS = {"flatten": flatten_pattern, "parallel": parallel_pattern, "delay": delay_pattern, "valle": valle_pattern}


def make_pattern(name: str, n_q: int, timesteps: int, **kwargs) -> Pattern:
    """The pattern called ``name`` (one of :data:`PATTERNS`) for K = ``n_q`` codebooks and T = ``timesteps`` frames."""
    if name not in _PROVIDERS:
        raise ValueError(f"unknown pattern {name!r}; known patterns are {list(PATTERNS)}")
    return _PROVIDERS[name](n_q, timesteps, **kwargs)


def decoding_steps(name: str, n_q: int, timesteps: int) -> int:
    """Autoregressive steps to generate K x T codes with a pattern, by formula: flatten K T, parallel T,
    delay T + K - 1, VALL-E-style 2T (T when K = 1)."""
    if name not in _PROVIDERS:
        raise ValueError(f"unknown pattern {name!r}; known patterns are {list(PATTERNS)}")
    K, T = n_q, timesteps
    return {"flatten": K * T, "parallel": T, "delay": T + K - 1, "valle": 2 * T if K > 1 else T}[name]


def max_timesteps(name: str, n_q: int, max_len: int, start: int = START_STEPS) -> int:
    """The longest T whose sequence, ``start`` steps plus :func:`decoding_steps`, fits a window of ``max_len``
    steps (0 if not even one frame does): delay ``max_len - start - K + 1``, flatten ``(max_len - start) // K``, ...."""
    if name not in _PROVIDERS:
        raise ValueError(f"unknown pattern {name!r}; known patterns are {list(PATTERNS)}")
    T = 0
    while start + decoding_steps(name, n_q, T + 1) <= max_len:  # the steps grow with T
        T += 1
    return T


def decoding_steps_table(n_qs: Sequence[int] = (1, 2, 4, 8), timesteps: int = 50) -> list[dict]:
    """One row per K: ``{'K': K, 'T': T, pattern: steps, ...}`` (T = 50 frames is one second of MusicGen's codec)."""
    return [dict(K=K, T=timesteps, **{name: decoding_steps(name, K, timesteps) for name in PATTERNS}) for K in n_qs]
