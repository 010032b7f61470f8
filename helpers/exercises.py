"""Reference solutions of the lesson's three exercises, and the checks that run a learner's answer.

1. Melody complexity: interval categories, pitch range, contour complexity.
2. Chord progressions: a Markov chain over the seven diatonic triads of C major, cadence counts,
   a consonance score from frequency ratios, a sine-wave rendering.
3. Rhythm: inter-onset intervals (IOI), their coefficient of variation, swing ratio, tempo stability.

Every ``check_*`` function runs the learner's function if one is given (else the reference), prints a
table of metrics and a table of properties with ✓/✗, and returns a :class:`CheckReport`. Properties are of
two kinds: *required* ones hold for every correct solution (the scale is 100% steps) and make the check
raise ``AssertionError`` when they fail; *claims* are statements of the lesson about seeded random data
(V→I is the most common cadence for seed 42) that we test and report honestly, true or false.

Randomness: always a ``np.random.Generator`` passed by the caller; the lesson's "seed 42" is
``np.random.default_rng(42)`` here (the lesson used the legacy ``RandomState``, whose numbers differ).

Notebook: 07_exercises.ipynb.
Reference: Learn AI Series #96 (Music Generation), exercises 1-3.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np

from .audio import midi_to_hz
from .data import Piece, piece_from_notes

# ----------------------------------------------------------------------------------------------------
# Reporting properties
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Property:
    """One checked statement.

    Attributes:
        name: the statement, e.g. ``'scale: 100% steps'``.
        holds: whether it holds for the answer that was checked.
        detail: the measured values behind the verdict.
        required: True if every correct solution must satisfy it (the check fails otherwise);
            False for a claim about seeded random data, reported but not enforced.
    """

    name: str
    holds: bool
    detail: str = ""
    required: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "holds", bool(self.holds))  # NumPy booleans print as plain True/False


@dataclass
class CheckReport:
    """What a ``check_*`` function found: the metrics table and the properties."""

    title: str
    source: str  # "your answer" or "reference solution"
    metrics_table: str
    properties: list[Property] = field(default_factory=list)

    @property
    def failed_required(self) -> list[Property]:
        return [p for p in self.properties if p.required and not p.holds]

    def properties_table(self) -> str:
        """One line per property: ✓/✗, name, kind, detail."""
        width = max(len(p.name) for p in self.properties)
        lines = []
        for p in self.properties:
            kind = "required" if p.required else "claim"
            lines.append(f"{'✓' if p.holds else '✗'} {p.name:<{width}}  {'[' + kind + ']':<10}  {p.detail}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return (
            f"{self.title} -- checking the {self.source}\n\n{self.metrics_table}\n\n"
            f"Properties:\n{self.properties_table()}"
        )


def _finish(report: CheckReport, strict: bool) -> CheckReport:
    print(report)
    if strict and report.failed_required:
        names = "; ".join(p.name for p in report.failed_required)
        raise AssertionError(f"{report.title}: required properties fail: {names}")
    return report


def _answer_or_reference(fn: Callable | None, reference: Callable, probe) -> tuple[Callable, bool]:
    """The learner's function, or the reference when none is given or it still returns None on ``probe``."""
    if fn is None or fn(probe) is None:
        return reference, False
    return fn, True


def _run_answer(
    check: str, fn: Callable | None, reference: Callable, inputs: Mapping[str, list], keys: Sequence[str],
    whole: Sequence[str] = (),
) -> tuple[dict[str, dict[str, float]], str]:
    """Run the learner's function (or the reference) on every input and check what it returns.

    Args:
        check: the name of the calling check, for error messages.
        fn: the learner's function ``input -> dict``; None, or a function that still returns None on the first
            input, runs ``reference`` instead (see :func:`_answer_or_reference`).
        reference: the reference solution.
        inputs: ``{name: input}``, each input a plain list (what a learner's function expects).
        keys: the keys every result must have.
        whole: the keys whose values are counts (converted to ``int``; the others to ``float``).

    Returns:
        ``({name: {key: value}}, source)`` with ``source`` ``'your answer'`` or ``'reference solution'``.

    Raises:
        KeyError: naming the input whose result lacks keys.
    """
    fn, own = _answer_or_reference(fn, reference, next(iter(inputs.values())))
    results = {}
    for name, x in inputs.items():
        res = fn(x)
        missing = [k for k in keys if res is None or k not in res]
        if missing:
            raise KeyError(f"{check}: the result for {name!r} lacks keys {missing}")
        results[name] = {k: (int(res[k]) if k in whole else float(res[k])) for k in keys}
    return results, "your answer" if own else "reference solution"


def format_table(rows: Sequence[Sequence], header: Sequence[str], digits: int = 3) -> str:
    """A plain-text table; floats are rounded to ``digits`` decimals so saved outputs are stable.

    Args:
        rows: one sequence of cells per row.
        header: column names.
        digits: decimals for float cells.

    Returns:
        The table as one string (columns right-aligned, first column left-aligned).
    """

    def cell(x) -> str:
        if isinstance(x, (float, np.floating)):
            return "nan" if np.isnan(x) else f"{float(x):.{digits}f}"
        return str(x)

    body = [[cell(x) for x in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in body)) for i, h in enumerate(header)]
    number = (int, float, np.integer, np.floating)
    numeric = [all(isinstance(row[i], number) for row in rows) for i in range(len(header))]
    fmt = lambda r: "  ".join(  # noqa: E731
        (c.rjust(w) if num else c.ljust(w)) for c, w, num in zip(r, widths, numeric)
    )
    return "\n".join([fmt([str(h) for h in header]), "  ".join("-" * w for w in widths), *map(fmt, body)])


# ----------------------------------------------------------------------------------------------------
# Exercise 1: melody complexity
# ----------------------------------------------------------------------------------------------------

C_MAJOR_SCALE = (60, 62, 64, 65, 67, 69, 71, 72)
TWINKLE = (60, 60, 67, 67, 69, 69, 67, 65, 65, 64, 64, 62, 62, 60)

# Category of an interval by its size in semitones: name -> (smallest, largest) inclusive.
INTERVAL_CATEGORIES = {
    "unison": (0, 0),
    "step": (1, 2),
    "skip": (3, 4),
    "leap": (5, 7),
    "large_leap": (8, 127),
}
MELODY_METRICS = (*INTERVAL_CATEGORIES, "range", "direction_changes", "contour_complexity")


def _as_melody(melody: Sequence[int], name: str = "melody") -> np.ndarray:
    arr = np.asarray(melody)
    if arr.ndim != 1 or len(arr) < 2:
        raise ValueError(f"{name} must be a 1-D sequence of at least 2 MIDI pitches, got shape {arr.shape}")
    if not np.all(arr == np.round(arr)) or arr.min() < 0 or arr.max() > 127:
        raise ValueError(f"{name} must hold whole MIDI pitches in 0..127, got {arr.tolist()}")
    return arr.astype(np.int64)


def melodic_intervals(melody: Sequence[int]) -> np.ndarray:
    """Signed intervals in semitones between consecutive notes.

    Args:
        melody: MIDI pitches, at least two.

    Returns:
        int64 array of length ``len(melody) - 1`` (positive = up).
    """
    return np.diff(_as_melody(melody))


def interval_histogram(melody: Sequence[int]) -> dict[int, int]:
    """How often each signed interval occurs, e.g. ``{0: 6, 2: 1, -2: 4, ...}`` (sorted by interval)."""
    values, counts = np.unique(melodic_intervals(melody), return_counts=True)
    return {int(v): int(c) for v, c in zip(values, counts)}


def interval_category_percentages(melody: Sequence[int]) -> dict[str, float]:
    """Percentage of intervals in each size category (unison 0, step 1-2, skip 3-4, leap 5-7, large leap 8+).

    Args:
        melody: MIDI pitches, at least two.

    Returns:
        ``{category: percent}`` over :data:`INTERVAL_CATEGORIES`; the values sum to 100.
    """
    size = np.abs(melodic_intervals(melody))  # (n-1,)
    lows = np.array([lo for lo, _ in INTERVAL_CATEGORIES.values()])
    highs = np.array([hi for _, hi in INTERVAL_CATEGORIES.values()])
    member = (size[:, None] >= lows) & (size[:, None] <= highs)  # (n-1, 5)
    return {name: float(100.0 * pct) for name, pct in zip(INTERVAL_CATEGORIES, member.mean(axis=0))}


def pitch_range(melody: Sequence[int]) -> int:
    """Highest minus lowest pitch, in semitones."""
    arr = _as_melody(melody)
    return int(arr.max() - arr.min())


def direction_changes(melody: Sequence[int]) -> int:
    """Number of times the melody turns (up then down, or down then up).

    Repeated notes (unisons) have no direction: they are skipped, so ``C E E D`` turns once (up, then down
    after the repeat). A documented choice; counting a unison as a change would make Twinkle look zigzag.
    """
    steps = np.sign(melodic_intervals(melody))
    moving = steps[steps != 0]
    return int(np.count_nonzero(moving[1:] != moving[:-1]))


def contour_complexity(melody: Sequence[int]) -> float:
    """Direction changes divided by the number of intervals: 0 for a one-way melody, near 1 for a zigzag.

    The maximum is ``(m - 1) / (n - 1)`` where ``m`` counts the non-unison intervals, so a melody with
    repeated notes can never reach 1.
    """
    return direction_changes(melody) / len(melodic_intervals(melody))


def analyze_melody(melody: Sequence[int]) -> dict[str, float]:
    """Every metric of exercise 1 for one melody (the reference ``MelodyAnalyzer``).

    Args:
        melody: MIDI pitches, at least two.

    Returns:
        A dict with the keys of :data:`MELODY_METRICS`: five category percentages, ``range`` (semitones),
        ``direction_changes`` and ``contour_complexity``.
    """
    out: dict[str, float] = dict(interval_category_percentages(melody))
    out["range"] = pitch_range(melody)
    out["direction_changes"] = direction_changes(melody)
    out["contour_complexity"] = contour_complexity(melody)
    return out


def random_walk_melody(rng: np.random.Generator, n_notes: int = 20, start: int = 60, max_step: int = 5) -> np.ndarray:
    """A random walk: ``start`` then ``n_notes - 1`` steps drawn uniformly from ``-max_step..max_step``.

    Args:
        rng: the random generator (the lesson's "seed 42" is ``np.random.default_rng(42)``).
        n_notes: length of the melody.
        start: first pitch.
        max_step: largest step in semitones (0 is one of the ``2 * max_step + 1`` equally likely steps).

    Returns:
        int64 array of ``n_notes`` pitches.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a np.random.Generator, got {type(rng).__name__}")
    if n_notes < 2:
        raise ValueError(f"n_notes must be at least 2, got {n_notes}")
    steps = rng.integers(-max_step, max_step + 1, size=n_notes - 1)  # (n-1,)
    return start + np.concatenate([[0], np.cumsum(steps)])


def exercise1_melodies(seed: int = 42) -> dict[str, np.ndarray]:
    """The three melodies of exercise 1: the C major scale, Twinkle Twinkle, a seeded random walk."""
    return {
        "scale": np.array(C_MAJOR_SCALE),
        "twinkle": np.array(TWINKLE),
        "random_walk": random_walk_melody(np.random.default_rng(seed)),
    }


def check_melody_analyzer(
    analyzer: Callable[[Sequence[int]], Mapping[str, float]] | None = None, seed: int = 42, strict: bool = True
) -> CheckReport:
    """Run a melody analyser on the three melodies of exercise 1 and check the properties it should show.

    Args:
        analyzer: the learner's function ``melody -> dict`` with the keys of :data:`MELODY_METRICS`;
            None (or a function that still returns None) runs the reference :func:`analyze_melody`.
        seed: seed of the random walk (``np.random.default_rng(seed)``).
        strict: raise ``AssertionError`` if a required property fails.

    Returns:
        The :class:`CheckReport` (also printed).
    """
    melodies = exercise1_melodies(seed)
    results, source = _run_answer(
        "check_melody_analyzer", analyzer, analyze_melody, {name: [int(p) for p in m] for name, m in melodies.items()},
        MELODY_METRICS, whole=("range", "direction_changes"),
    )
    table = format_table(
        [[k, *(results[m][k] for m in melodies)] for k in MELODY_METRICS],
        ["metric (% for categories)", *melodies],
        digits=2,
    )
    s, t, r = results["scale"], results["twinkle"], results["random_walk"]
    pct_sums = [sum(res[k] for k in INTERVAL_CATEGORIES) for res in results.values()]
    props = [
        Property("scale: 100% steps", np.isclose(s["step"], 100.0), f"step = {s['step']:.1f}%"),
        Property("scale: no contour change", s["direction_changes"] == 0 and s["contour_complexity"] == 0,
                 f"changes = {s['direction_changes']:g}"),
        Property("scale: range 12 semitones", s["range"] == 12, f"range = {s['range']:g}"),
        Property("category percentages sum to 100", bool(np.allclose(pct_sums, 100.0)),
                 "sums = " + ", ".join(f"{x:.1f}" for x in pct_sums)),
        Property("twinkle: mixed intervals (>= 3 categories)",
                 sum(t[k] > 0 for k in INTERVAL_CATEGORIES) >= 3,
                 ", ".join(f"{k} {t[k]:.1f}%" for k in INTERVAL_CATEGORIES if t[k] > 0)),
        Property("twinkle: has direction changes", t["direction_changes"] > 0,
                 f"changes = {t['direction_changes']:g}"),
        Property("random walk: contour complexity above twinkle and scale",
                 r["contour_complexity"] > max(t["contour_complexity"], s["contour_complexity"]),
                 f"{r['contour_complexity']:.3f} vs {t['contour_complexity']:.3f}, {s['contour_complexity']:.3f}",
                 required=False),
    ]
    return _finish(CheckReport("Exercise 1: melody complexity", source, table, props), strict)


# ----------------------------------------------------------------------------------------------------
# Exercise 2: chord progressions
# ----------------------------------------------------------------------------------------------------

NUMERALS = ("I", "ii", "iii", "IV", "V", "vi", "vii°")
TRIADS = {
    "I": (60, 64, 67),
    "ii": (62, 65, 69),
    "iii": (64, 67, 71),
    "IV": (65, 69, 72),
    "V": (67, 71, 74),
    "vi": (69, 72, 76),
    "vii°": (71, 74, 77),
}

# Row = current chord, column = next chord, in NUMERALS order. The lesson gives only the allowed moves
# ("I can go to any chord, IV often goes to V or I, V strongly resolves to I or vi, vi goes to IV or ii,
# ii goes to V, iii goes to vi or IV, vii goes to I"); the weights are our documented choice, and so is I -> I = 0
# (we never repeat the tonic; the lesson would allow it, see LESSON_MOVES).
TRANSITIONS = np.array(
    [
        # I     ii    iii   IV    V     vi    vii°
        [0.00, 0.15, 0.10, 0.25, 0.25, 0.20, 0.05],  # I: to any other chord
        [0.00, 0.00, 0.00, 0.00, 1.00, 0.00, 0.00],  # ii -> V
        [0.00, 0.00, 0.00, 0.50, 0.00, 0.50, 0.00],  # iii -> IV or vi
        [0.45, 0.00, 0.00, 0.00, 0.55, 0.00, 0.00],  # IV -> V or I
        [0.80, 0.00, 0.00, 0.00, 0.00, 0.20, 0.00],  # V -> I (strongly) or vi
        [0.00, 0.50, 0.00, 0.50, 0.00, 0.00, 0.00],  # vi -> IV or ii
        [1.00, 0.00, 0.00, 0.00, 0.00, 0.00, 0.00],  # vii° -> I
    ]
)

# The moves the lesson allows, as a boolean matrix (row -> column). A learner's chain may use any of them.
LESSON_MOVES = {
    "I": ("I", "ii", "iii", "IV", "V", "vi", "vii°"),
    "ii": ("V",),
    "iii": ("IV", "vi"),
    "IV": ("V", "I"),
    "V": ("I", "vi"),
    "vi": ("IV", "ii"),
    "vii°": ("I",),
}
ALLOWED_MOVES = np.array([[b in LESSON_MOVES[a] for b in NUMERALS] for a in NUMERALS])

# Chord moves that close a phrase on a tonic-function chord. "Half cadences" (arrivals on V) are left out:
# every move into V would count, which says more about how often V occurs than about resolution.
CADENCES = {
    "V→I": ("V", "I"),  # authentic
    "vii°→I": ("vii°", "I"),  # leading-tone
    "IV→I": ("IV", "I"),  # plagal
    "V→vi": ("V", "vi"),  # deceptive
}
STRONG_RESOLUTIONS = ("V→I", "vii°→I")

# Simple frequency ratios counted as consonant (within one octave), and how close an equal-tempered
# interval must be. 20 cents lets the tempered thirds and sixths (13.7 and 15.6 cents away from 5/4, 6/5,
# 5/3) count, and keeps the tritone (600 cents; nearest listed ratio, 4/3 at 498 cents, 102 cents away) out.
SIMPLE_RATIOS = {
    "1/1": 1.0, "6/5": 6 / 5, "5/4": 5 / 4, "4/3": 4 / 3, "3/2": 3 / 2, "8/5": 8 / 5, "5/3": 5 / 3, "2/1": 2.0,
}
CONSONANCE_TOLERANCE_CENTS = 20.0


def _check_numeral(numeral: str) -> int:
    if numeral not in NUMERALS:
        raise ValueError(f"unknown chord numeral {numeral!r}; choose one of {NUMERALS}")
    return NUMERALS.index(numeral)


def check_transition_matrix(matrix: np.ndarray) -> np.ndarray:
    """Validate a (7, 7) row-stochastic matrix and return it as float64.

    Raises:
        ValueError: naming the shape, a negative entry or the row that does not sum to 1.
    """
    m = np.asarray(matrix, dtype=np.float64)
    if m.shape != (len(NUMERALS), len(NUMERALS)):
        raise ValueError(f"transition matrix must have shape (7, 7), got {m.shape}")
    if (m < 0).any():
        raise ValueError("transition matrix has a negative probability")
    bad = np.flatnonzero(~np.isclose(m.sum(axis=1), 1.0))
    if len(bad):
        raise ValueError(f"row {NUMERALS[bad[0]]!r} of the transition matrix sums to {m[bad[0]].sum():.3f}, not 1")
    return m


def generate_progression(
    rng: np.random.Generator, n_chords: int = 8, start: str = "I", transitions: np.ndarray = TRANSITIONS
) -> list[str]:
    """Sample a chord progression from the first-order Markov chain ``transitions``.

    Args:
        rng: random generator (the lesson's seed 42 is ``np.random.default_rng(42)``).
        n_chords: length of the progression, including the start chord.
        start: the first chord's numeral.
        transitions: (7, 7) row-stochastic matrix in :data:`NUMERALS` order.

    Returns:
        ``n_chords`` numerals, e.g. ``['I', 'IV', 'V', 'I', ...]``.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a np.random.Generator, got {type(rng).__name__}")
    if n_chords < 1:
        raise ValueError(f"n_chords must be at least 1, got {n_chords}")
    m = check_transition_matrix(transitions)
    state = [_check_numeral(start)]
    for _ in range(n_chords - 1):
        state.append(int(rng.choice(len(NUMERALS), p=m[state[-1]])))
    return [NUMERALS[i] for i in state]


def transition_counts(progression: Sequence[str]) -> np.ndarray:
    """(7, 7) counts of consecutive chord pairs, rows = from, columns = to (NUMERALS order)."""
    idx = np.array([_check_numeral(c) for c in progression], dtype=np.int64)
    counts = np.zeros((len(NUMERALS), len(NUMERALS)), dtype=np.int64)
    np.add.at(counts, (idx[:-1], idx[1:]), 1)
    return counts


def cadence_counts(progression: Sequence[str]) -> dict[str, int]:
    """How often each cadence of :data:`CADENCES` occurs in a progression."""
    counts = transition_counts(progression)
    return {name: int(counts[NUMERALS.index(a), NUMERALS.index(b)]) for name, (a, b) in CADENCES.items()}


def strong_resolutions(progression: Sequence[str]) -> int:
    """Number of V→I and vii°→I moves."""
    cad = cadence_counts(progression)
    return sum(cad[name] for name in STRONG_RESOLUTIONS)


def expected_cadence_counts(
    n_chords: int = 8, start: str = "I", transitions: np.ndarray = TRANSITIONS
) -> dict[str, float]:
    """Exact expected cadence counts per progression, from the chain's state distributions (no sampling).

    E[count(a→b)] = sum over positions t < n-1 of P(chord_t = a) * T[a, b].

    Returns:
        ``{cadence: expected count}``.
    """
    m = check_transition_matrix(transitions)
    p = np.zeros(len(NUMERALS))
    p[_check_numeral(start)] = 1.0
    occupancy = np.zeros(len(NUMERALS))  # expected visits to each chord at positions 0..n-2
    for _ in range(n_chords - 1):
        occupancy += p
        p = p @ m
    return {name: float(occupancy[NUMERALS.index(a)] * m[NUMERALS.index(a), NUMERALS.index(b)])
            for name, (a, b) in CADENCES.items()}


def simulated_cadence_counts(rng: np.random.Generator, n_progressions: int = 1000, n_chords: int = 8) -> np.ndarray:
    """Cadence counts of many sampled progressions: int array (n_progressions, len(CADENCES))."""
    return np.array(
        [list(cadence_counts(generate_progression(rng, n_chords)).values()) for _ in range(n_progressions)]
    )


def interval_is_consonant(f_low, f_high, tolerance_cents: float = CONSONANCE_TOLERANCE_CENTS) -> np.ndarray:
    """Whether each frequency ratio, folded into one octave, lies within ``tolerance_cents`` of a simple ratio.

    Args:
        f_low, f_high: frequencies in Hz (broadcastable arrays).
        tolerance_cents: largest distance to a ratio of :data:`SIMPLE_RATIOS` (100 cents = a semitone).

    Returns:
        Boolean array.
    """
    cents = np.abs(1200.0 * np.log2(np.asarray(f_high, dtype=float) / np.asarray(f_low, dtype=float)))
    cents = np.mod(cents, 1200.0)  # fold compound intervals (an octave folds onto 1/1)
    targets = 1200.0 * np.log2(np.array(list(SIMPLE_RATIOS.values())))  # (R,)
    dist = np.abs(cents[..., None] - targets)  # (..., R)
    return dist.min(axis=-1) <= tolerance_cents


def chord_consonance(pitches: Sequence[int], tolerance_cents: float = CONSONANCE_TOLERANCE_CENTS) -> float:
    """Fraction of the chord's note pairs whose frequency ratio is close to a simple fraction.

    Major and minor triads score 1, the diminished triad 2/3 (its tritone is not close to any simple
    ratio), a cluster C-C#-D scores 0. Pairwise ratios cannot tell an augmented triad (C E G#) from a
    consonant one: G# - C is a tempered minor sixth, 14 cents from 8/5.

    Args:
        pitches: MIDI pitches, at least two.
        tolerance_cents: see :func:`interval_is_consonant`.

    Returns:
        A number in [0, 1].
    """
    p = np.asarray(pitches)
    if p.ndim != 1 or len(p) < 2:
        raise ValueError(f"a chord needs at least 2 pitches, got {list(np.atleast_1d(p))}")
    i, j = np.triu_indices(len(p), k=1)  # every pair once
    f = midi_to_hz(p)
    return float(interval_is_consonant(f[i], f[j], tolerance_cents).mean())


def synthesize_chords(
    chords: Sequence[Sequence[int]], seconds: float = 0.5, sr: int = 16000, fade_s: float = 0.005
) -> np.ndarray:
    """Each chord as a sum of sine waves, one after the other (exercise 2d).

    Args:
        chords: MIDI pitches of each chord.
        seconds: length of each chord.
        sr: sample rate in Hz.
        fade_s: raised-cosine fade in and out of each chord, so chord changes do not click.

    Returns:
        float32 mono audio of ``len(chords) * round(seconds * sr)`` samples, peak <= 1.
    """
    n = int(round(seconds * sr))
    t = np.arange(n) / sr  # (n,)
    n_fade = max(1, int(fade_s * sr))
    env = np.ones(n)
    ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(n_fade) / n_fade)
    env[:n_fade], env[-n_fade:] = ramp, ramp[::-1]
    blocks = []
    for chord in chords:
        f = midi_to_hz(chord)  # (k,)
        blocks.append(np.sin(2 * np.pi * f[:, None] * t).mean(axis=0) * env)  # (n,)
    return np.concatenate(blocks).astype(np.float32) if blocks else np.zeros(0, np.float32)


def spectral_peaks(audio: np.ndarray, sr: int, k: int) -> np.ndarray:
    """Frequencies (Hz, ascending) of the ``k`` strongest local maxima of the magnitude spectrum."""
    mag = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    freqs = np.fft.rfftfreq(len(audio), 1.0 / sr)
    is_peak = np.r_[False, (mag[1:-1] > mag[:-2]) & (mag[1:-1] >= mag[2:]), False]
    idx = np.flatnonzero(is_peak)
    return np.sort(freqs[idx[np.argsort(mag[idx])[::-1][:k]]])


def progression_piece(progression: Sequence[str], quarters_per_chord: float = 1.0, qpm: float = 120.0) -> Piece:
    """The progression as a :class:`Piece` (voices root, third, fifth), for ``helpers.audio.play`` and plots."""
    rows = [
        (TRIADS[c][v], i * quarters_per_chord, quarters_per_chord, 80, v)
        for i, c in enumerate(progression)
        for v in range(3)
    ]
    return piece_from_notes(rows, id="progression", voice_names=("root", "third", "fifth"), qpm=qpm,
                            title=" ".join(progression))


def check_chord_progression(
    generate: Callable[[np.random.Generator], Sequence[str]] | None = None,
    consonance: Callable[[Sequence[int]], float] | None = None,
    seed: int = 42,
    strict: bool = True,
) -> CheckReport:
    """Run a progression generator and a consonance function, and check exercise 2's properties.

    Args:
        generate: the learner's ``rng -> list of 8 numerals`` starting on 'I'; None = reference
            :func:`generate_progression`.
        consonance: the learner's ``pitches -> float in [0, 1]``; None = reference :func:`chord_consonance`.
            A function that still returns None counts as None.
        seed: the generator is called with ``np.random.default_rng(seed)``.
        strict: raise ``AssertionError`` if a required property fails.

    Returns:
        The :class:`CheckReport` (also printed).
    """
    generate, own_gen = _answer_or_reference(generate, generate_progression, np.random.default_rng(seed))
    consonance, own_cons = _answer_or_reference(consonance, chord_consonance, list(TRIADS["I"]))
    source = {(True, True): "your answer", (True, False): "your generator and the reference consonance",
              (False, True): "reference generator and your consonance"}.get((own_gen, own_cons), "reference solution")
    prog = list(generate(np.random.default_rng(seed)))
    again = list(generate(np.random.default_rng(seed)))
    unknown = [c for c in prog if c not in NUMERALS]
    if unknown:
        raise ValueError(f"check_chord_progression: unknown numerals {unknown}; use {NUMERALS}")
    audio = synthesize_chords([TRIADS[c] for c in prog], seconds=0.5, sr=16000)
    cons = {c: float(consonance(list(TRIADS[c]))) for c in NUMERALS}
    cad = cadence_counts(prog)
    counts = transition_counts(prog)
    illegal = [f"{NUMERALS[a]}→{NUMERALS[b]}" for a, b in zip(*np.nonzero((counts > 0) & ~ALLOWED_MOVES))]
    others = max(v for k, v in cad.items() if k != "V→I")
    peaks = spectral_peaks(audio[:8000], 16000, 3)
    expected = expected_cadence_counts(len(prog))

    table = "\n".join([
        f"progression (seed {seed}): {' '.join(prog)}",
        f"audio: {len(audio)} samples = {len(audio) / 16000:.2f} s at 16 kHz",
        f"numerals used: {', '.join(c for c in NUMERALS if c in prog)}",
        f"strong resolutions (V→I, vii°→I): {strong_resolutions(prog)}",
        "cadences: " + ", ".join(f"{k} {v}" for k, v in cad.items()),
        "",
        format_table([[c, " ".join(map(str, TRIADS[c])), cons[c], c in prog] for c in NUMERALS],
                     ["chord", "MIDI", "consonance", "in progression"], digits=3),
    ])
    props = [
        Property("8 chords, starting on I", len(prog) == 8 and prog[0] == "I", f"{len(prog)} chords, first {prog[0]}"),
        Property("same seed -> same progression", prog == again, ""),
        Property("only moves the lesson allows", not illegal, "illegal: " + (", ".join(illegal) or "none")),
        Property("audio is 8 x 0.5 s = 4.0 s", len(audio) == 64000, f"{len(audio)} samples"),
        Property("first chord sounds C4 E4 G4 (spectral peaks)",
                 bool(np.allclose(peaks, midi_to_hz(TRIADS[prog[0]]), atol=3.0)),
                 "peaks " + ", ".join(f"{p:.0f}" for p in peaks) + " Hz"),
        Property("major and minor triads fully consonant", cons["I"] == cons["vi"] == 1.0,
                 f"I {cons['I']:.2f}, vi {cons['vi']:.2f}"),
        Property("diminished triad less consonant than major", cons["vii°"] < cons["I"],
                 f"vii° {cons['vii°']:.2f} < I {cons['I']:.2f}"),
        Property(f"seed {seed}: V→I the most common cadence", cad["V→I"] > others,
                 f"V→I {cad['V→I']} vs next best {others}", required=False),
        Property("in expectation: V→I the most common cadence",
                 expected["V→I"] > max(v for k, v in expected.items() if k != "V→I"),
                 ", ".join(f"{k} {v:.2f}" for k, v in expected.items()), required=False),
    ]
    return _finish(CheckReport("Exercise 2: chord progressions", source, table, props), strict)


# ----------------------------------------------------------------------------------------------------
# Exercise 3: rhythm
# ----------------------------------------------------------------------------------------------------

RHYTHM_METRICS = ("n_onsets", "mean_ioi", "ioi_cv", "swing_ratio", "tempo_stability")


def _as_onsets(onsets: Sequence[float], min_len: int = 3) -> np.ndarray:
    arr = np.asarray(onsets, dtype=np.float64)
    if arr.ndim != 1 or len(arr) < min_len:
        raise ValueError(f"onsets must be a 1-D sequence of at least {min_len} times, got shape {arr.shape}")
    if np.any(np.diff(arr) <= 0):
        raise ValueError("onsets must be strictly increasing (sort them first)")
    return arr


def metronome_pattern(seconds: float = 2.0, ioi: float = 0.25) -> np.ndarray:
    """Even onsets every ``ioi`` seconds in [0, seconds): 8th notes at 120 BPM by default (8 onsets)."""
    return np.arange(int(round(seconds / ioi))) * ioi


def swing_pattern(seconds: float = 2.0, long: float = 0.33, short: float = 0.17) -> np.ndarray:
    """Long-short pairs (0.33 s, 0.17 s by default) in [0, seconds): 8 onsets."""
    n_pairs = int(round(seconds / (long + short)))
    starts = np.arange(n_pairs) * (long + short)  # (P,)
    return np.stack([starts, starts + long], axis=1).ravel()  # (2P,)


def human_pattern(
    rng: np.random.Generator, jitter_s: float = 0.015, seconds: float = 2.0, ioi: float = 0.25
) -> np.ndarray:
    """The metronome with Gaussian timing noise (standard deviation ``jitter_s``) on every onset."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a np.random.Generator, got {type(rng).__name__}")
    grid = metronome_pattern(seconds, ioi)
    return grid + rng.normal(0.0, jitter_s, size=len(grid))


def random_pattern(rng: np.random.Generator, n_onsets: int = 16, seconds: float = 2.0) -> np.ndarray:
    """``n_onsets`` uniformly random times in [0, seconds], sorted."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a np.random.Generator, got {type(rng).__name__}")
    return np.sort(rng.uniform(0.0, seconds, size=n_onsets))


def rhythm_patterns(seed: int = 42) -> dict[str, np.ndarray]:
    """The four patterns of exercise 3; the two random ones each use a fresh ``np.random.default_rng(seed)``."""
    return {
        "metronome": metronome_pattern(),
        "swing": swing_pattern(),
        "human": human_pattern(np.random.default_rng(seed)),
        "random": random_pattern(np.random.default_rng(seed)),
    }


def inter_onset_intervals(onsets: Sequence[float]) -> np.ndarray:
    """Time between consecutive onsets, in seconds: (n - 1,)."""
    return np.diff(_as_onsets(onsets, min_len=2))


def ioi_cv(onsets: Sequence[float]) -> float:
    """Coefficient of variation of the IOIs, std / mean (population std): 0 for a perfectly even pattern."""
    ioi = inter_onset_intervals(onsets)
    return float(ioi.std() / ioi.mean())


def swing_ratio(onsets: Sequence[float]) -> float:
    """Mean ratio of each odd IOI (1st, 3rd, ...) to the even IOI after it (2nd, 4th, ...).

    1.0 for straight 8ths, 2.0 for a 2:1 (triplet) swing; the lesson's 0.33/0.17 gives 1.94. An unpaired last
    IOI is dropped.
    """
    ioi = inter_onset_intervals(onsets)
    m = len(ioi) // 2
    if m == 0:
        raise ValueError("swing_ratio needs at least 3 onsets (one long-short pair)")
    return float(np.mean(ioi[0 : 2 * m : 2] / ioi[1 : 2 * m : 2]))


def tempo_stability(onsets: Sequence[float], window: int = 4, method: str = "local_tempo") -> float:
    """1 minus a normalised variance of the IOIs in sliding windows of ``window`` onsets.

    The lesson's wording allows two readings; both are here and the default is the first:

    - ``'local_tempo'``: the local tempo of each window is its mean IOI; stability =
      1 - var(local tempi) / mean(local tempi)^2. Measures drift of the beat, as "tempo" suggests.
    - ``'local_cv'``: 1 - mean over windows of var(IOI) / mean(IOI)^2 (squared CV inside each window).
      Penalises any unevenness, swing included.

    1 means perfectly steady; the value can go below 0 for wildly uneven patterns.

    Args:
        onsets: increasing onset times in seconds, at least ``window`` of them.
        window: onsets per window (``window - 1`` IOIs); windows slide by one onset.
        method: ``'local_tempo'`` or ``'local_cv'``.

    Returns:
        The stability, a float <= 1.
    """
    ioi = inter_onset_intervals(onsets)
    if window < 3 or len(ioi) < window - 1:
        raise ValueError(f"tempo_stability needs window >= 3 and at least {window} onsets, got {len(ioi) + 1}")
    frames = np.lib.stride_tricks.sliding_window_view(ioi, window - 1)  # (W, window-1)
    if method == "local_tempo":
        local = frames.mean(axis=1)  # (W,)
        return float(1.0 - local.var() / local.mean() ** 2)
    if method == "local_cv":
        return float(1.0 - np.mean(frames.var(axis=1) / frames.mean(axis=1) ** 2))
    raise ValueError(f"method must be 'local_tempo' or 'local_cv', got {method!r}")


def evaluate_rhythm(onsets: Sequence[float]) -> dict[str, float]:
    """Every metric of exercise 3 for one pattern (the reference ``RhythmEvaluator``).

    Returns:
        A dict with the keys of :data:`RHYTHM_METRICS`.
    """
    arr = _as_onsets(onsets, min_len=4)
    return {
        "n_onsets": len(arr),
        "mean_ioi": float(inter_onset_intervals(arr).mean()),
        "ioi_cv": ioi_cv(arr),
        "swing_ratio": swing_ratio(arr),
        "tempo_stability": tempo_stability(arr),
    }


def click_track(onsets: Sequence[float], sr: int = 22050, lead_in: float = 0.1, tail: float = 0.3,
                click_hz: float = 1500.0, click_s: float = 0.03) -> np.ndarray:
    """A click (a short decaying sine burst) at every onset, for listening to a rhythm.

    Args:
        onsets: onset times in seconds (may be slightly negative; everything is shifted by ``lead_in``).
        sr: sample rate.
        lead_in, tail: silence before time 0 and after the last onset, in seconds.
        click_hz, click_s: pitch and length of the click.

    Returns:
        float32 mono audio, peak 1 (clicks never overlap for IOIs longer than ``click_s``).
    """
    on = np.asarray(onsets, dtype=np.float64)
    if on.min() + lead_in < 0:
        raise ValueError(f"an onset at {on.min():.3f} s lies before the lead-in of {lead_in} s")
    n = int(np.ceil((on.max() + lead_in + tail) * sr))
    impulses = np.zeros(n)
    np.add.at(impulses, np.round((on + lead_in) * sr).astype(np.int64), 1.0)
    t = np.arange(int(click_s * sr)) / sr
    click = np.sin(2 * np.pi * click_hz * t) * np.exp(-t / (click_s / 5))
    audio = np.convolve(impulses, click)[:n]
    return (audio / np.abs(audio).max()).astype(np.float32)


def check_rhythm_evaluator(
    evaluator: Callable[[Sequence[float]], Mapping[str, float]] | None = None, seed: int = 42, strict: bool = True
) -> CheckReport:
    """Run a rhythm evaluator on the four patterns of exercise 3 and check the properties the lesson lists.

    Args:
        evaluator: the learner's ``onsets -> dict`` with the keys of :data:`RHYTHM_METRICS`; None runs the
            reference :func:`evaluate_rhythm`.
        seed: seed of the human and random patterns.
        strict: raise ``AssertionError`` if a required property fails.

    Returns:
        The :class:`CheckReport` (also printed).
    """
    patterns = rhythm_patterns(seed)
    res, source = _run_answer(
        "check_rhythm_evaluator", evaluator, evaluate_rhythm,
        {name: [float(x) for x in onsets] for name, onsets in patterns.items()}, RHYTHM_METRICS, whole=("n_onsets",),
    )
    table = format_table([[n, *(res[n][k] for k in RHYTHM_METRICS)] for n in patterns], ["pattern", *RHYTHM_METRICS])
    m, s, h, r = res["metronome"], res["swing"], res["human"], res["random"]
    others = [res[n] for n in ("metronome", "swing", "human")]
    props = [
        Property("metronome: CV = 0", abs(m["ioi_cv"]) < 1e-9, f"CV = {m['ioi_cv']:.3g}"),
        Property("metronome: swing ratio = 1.0", abs(m["swing_ratio"] - 1.0) < 1e-9, f"{m['swing_ratio']:.3f}"),
        Property("swing: ratio near 2.0 (0.33/0.17 = 1.94)", abs(s["swing_ratio"] - 2.0) < 0.1,
                 f"{s['swing_ratio']:.3f}"),
        Property("human: small non-zero CV (0 < CV < 0.2)", 1e-6 < h["ioi_cv"] < 0.2, f"CV = {h['ioi_cv']:.3f}",
                 required=False),
        Property("random: highest CV", all(r["ioi_cv"] > o["ioi_cv"] for o in others),
                 f"{r['ioi_cv']:.3f} vs max {max(o['ioi_cv'] for o in others):.3f}", required=False),
        Property("random: lowest tempo stability", all(r["tempo_stability"] < o["tempo_stability"] for o in others),
                 f"{r['tempo_stability']:.3f} vs min {min(o['tempo_stability'] for o in others):.3f}", required=False),
    ]
    return _finish(CheckReport("Exercise 3: rhythm", source, table, props), strict)


def summary_table(reports: Sequence[CheckReport]) -> str:
    """Every property of several reports in one table: exercise, property, kind, holds."""
    rows = [
        [r.title.split(":")[0], p.name, "required" if p.required else "claim",
         "✓ holds" if p.holds else "✗ does not hold"]
        for r in reports
        for p in r.properties
    ]
    return format_table(rows, ["exercise", "property", "kind", "verdict"])
