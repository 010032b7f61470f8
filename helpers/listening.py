"""A listening test that keeps its data: blind A/B and 1-5 ratings, saved answer by answer.

Three layers, each usable without the one above::

    AnswerStore        a JSON-lines file: append = write + flush + fsync; load = good answers + bad lines
        ^
    ListeningTest      the test without a screen: seeded blind order, next trial, record an answer
        ^
    ListeningWidget    ipywidgets: players labelled only "A"/"B", one button per answer

A kernel restart loses nothing that was answered: every answer is on disk before the next trial shows, and a
new :class:`ListeningTest` on the same file skips what this rater already answered. A line that a crash cut
in half is reported by its line number (:class:`LoadReport`), never dropped silently, and the next answer is
written on a line of its own.

:class:`SimulatedRater` is a seeded stand-in listener for demonstrations and tests; its answers are labelled
``"simulated": true`` and its name starts with ``simulated``, and the summaries leave it out unless asked.

Notebook: 06_evaluation.ipynb.
Reference: ITU-R BS.1534 (MUSHRA) and ITU-T P.800 (MOS) for rating tests; Cohen 1960 for kappa.
"""
from __future__ import annotations

import io
import json
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from .intervals import Interval, bootstrap_ci

__all__ = [
    "BadLine",
    "LoadReport",
    "AnswerStore",
    "Clip",
    "Trial",
    "ListeningTest",
    "SimulatedRater",
    "ListeningWidget",
    "rating_summary",
    "preference_summary",
    "cohens_kappa",
    "agreement",
]

REQUIRED_FIELDS = ("rater", "item", "kind", "answer")
KINDS = ("ab", "rating")
SIMULATED_PREFIX = "simulated"


# =====================================================================================================
# The answer file
@dataclass(frozen=True)
class BadLine:
    """A line of the answer file that holds no valid answer: its 1-based number, its start, and why."""

    line: int
    text: str
    error: str


@dataclass
class LoadReport:
    """What :meth:`AnswerStore.load` found: the good answers (in file order) and every bad line."""

    path: Path
    answers: list[dict]
    bad_lines: list[BadLine] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.bad_lines

    def __repr__(self) -> str:
        text = f"{len(self.answers)} answers in {self.path.name}"
        if self.bad_lines:
            text += f"; {len(self.bad_lines)} bad line(s): " + "; ".join(
                f"line {b.line} ({b.error}): {b.text!r}" for b in self.bad_lines
            )
        return text


class AnswerStore:
    """Answers as JSON lines, one per answer, appended and synced to disk at once.

    ``append`` writes one line with a single ``write``, then ``flush`` and ``os.fsync``: when it returns, the
    answer survives a kernel restart or a power cut. If the file does not end with a newline (a writer was
    killed mid-line), a newline is written first, so the cut line stays a bad line on its own and the new answer
    is intact.

    Notebook: 06_evaluation.ipynb.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if self.path.exists() and not self.path.is_file():
            raise ValueError(f"AnswerStore: {self.path} exists and is not a file")

    def __repr__(self) -> str:
        return f"AnswerStore({str(self.path)!r})"

    def append(self, record: Mapping) -> dict:
        """Append one answer (a dict with at least ``rater``, ``item``, ``kind``, ``answer``); returns it."""
        record = dict(record)
        missing = [k for k in REQUIRED_FIELDS if k not in record]
        if missing:
            raise ValueError(f"AnswerStore.append: the answer lacks field(s) {missing}")
        try:
            data = (json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
        except TypeError as err:
            raise ValueError(f"AnswerStore.append: the answer is not JSON-serialisable ({err})") from None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "ab") as f:
            if f.tell() > 0:
                with open(self.path, "rb") as r:
                    r.seek(-1, os.SEEK_END)
                    if r.read(1) != b"\n":
                        data = b"\n" + data  # end the cut line of a killed writer first
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        return record

    def load(self, warn: bool = True) -> LoadReport:
        """Read every answer; lines that are not a complete JSON answer are reported, the rest kept.

        Blank lines hold nothing and are skipped. With ``warn``, a :class:`UserWarning` names the bad lines.
        """
        if not self.path.exists():
            return LoadReport(self.path, [])
        answers, bad = [], []
        for i, raw in enumerate(self.path.read_bytes().split(b"\n"), start=1):
            if not raw.strip():
                continue
            text = raw[:120].decode("utf-8", errors="replace")
            try:
                rec = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as err:
                bad.append(BadLine(i, text, f"not JSON: {err}"))
                continue
            if not isinstance(rec, dict):
                bad.append(BadLine(i, text, f"a JSON {type(rec).__name__}, not an answer object"))
                continue
            missing = [k for k in REQUIRED_FIELDS if k not in rec]
            if missing:
                bad.append(BadLine(i, text, f"missing field(s) {missing}"))
                continue
            answers.append(rec)
        report = LoadReport(self.path, answers, bad)
        if bad and warn:
            warnings.warn(f"AnswerStore.load: {report!r}", UserWarning, stacklevel=2)
        return report

    def answered(self, rater: str) -> set[str]:
        """Items this rater has answered already."""
        return {a["item"] for a in self.load(warn=False).answers if a["rater"] == rater}


# =====================================================================================================
# The test, without a screen
@dataclass(frozen=True, eq=False)
class Clip:
    """One audio clip of the test: a stable id, the system that made it, mono audio (T,) and its sample rate."""

    id: str
    system: str
    audio: np.ndarray
    sr: int

    def __post_init__(self):
        a = np.asarray(self.audio)
        if a.ndim != 1 or not a.size or not np.isfinite(a).all():
            raise ValueError(f"Clip {self.id!r}: audio must be a non-empty finite mono signal (T,), got shape {a.shape}")
        if np.abs(a).max() > 1.0:
            raise ValueError(f"Clip {self.id!r}: audio peak {np.abs(a).max():.3g} exceeds 1; scale all clips alike first")


@dataclass(frozen=True, eq=False)
class Trial:
    """One question: ``item`` (stable id), ``kind`` ('ab' or 'rating') and the clips in the order played."""

    item: str
    kind: str
    clips: tuple[Clip, ...]


class ListeningTest:
    """A blind listening test: seeded order, the next unanswered trial, and answers saved as they come.

    Build it with :meth:`ab` (pairs, answer "A" or "B") or :meth:`rating` (single clips, answer 1..5). The
    order of trials and, for A/B, which clip plays first come from ``seed``; only "A"/"B" are shown, never
    the systems. Constructing a test on a file that already holds answers of ``rater`` skips those items
    (resuming after a restart); ``load_report`` keeps what loading found, bad lines included.

    Notebook: 06_evaluation.ipynb.
    """

    def __init__(self, trials: Sequence[Trial], store: AnswerStore, rater: str, seed: int, simulated: bool = False):
        if not rater or not isinstance(rater, str):
            raise ValueError("ListeningTest: rater must be a non-empty name")
        if simulated != rater.startswith(SIMULATED_PREFIX):
            raise ValueError(
                f"ListeningTest: rater {rater!r}: names starting with {SIMULATED_PREFIX!r} are reserved for simulated "
                "raters, and a simulated rater's name must start with it"
            )
        items = [t.item for t in trials]
        if len(set(items)) != len(items):
            raise ValueError("ListeningTest: two trials judge the same item")
        self.trials = list(trials)
        self.store, self.rater, self.seed, self.simulated = store, rater, int(seed), bool(simulated)
        self.load_report = store.load()
        done = {a["item"] for a in self.load_report.answers if a["rater"] == rater}
        self.remaining = [t for t in self.trials if t.item not in done]

    @classmethod
    def ab(cls, pairs: Sequence[tuple[Clip, Clip]], store: AnswerStore, rater: str, seed: int,
           simulated: bool = False) -> "ListeningTest":
        """Pairs of clips from two different systems; trial order and sides shuffled with ``seed``."""
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(pairs))
        swap = rng.random(len(pairs)) < 0.5
        trials = []
        for i in order:
            a, b = pairs[i]
            if a.system == b.system:
                raise ValueError(f"ListeningTest.ab: pair {i} compares system {a.system!r} with itself")
            item = " vs ".join(sorted((a.id, b.id)))
            trials.append(Trial(item, "ab", (b, a) if swap[i] else (a, b)))
        return cls(trials, store, rater, seed, simulated)

    @classmethod
    def rating(cls, clips: Sequence[Clip], store: AnswerStore, rater: str, seed: int,
               simulated: bool = False) -> "ListeningTest":
        """Single clips rated 1 (bad) .. 5 (excellent), in an order shuffled with ``seed``."""
        order = np.random.default_rng(seed).permutation(len(clips))
        return cls([Trial(clips[i].id, "rating", (clips[i],)) for i in order], store, rater, seed, simulated)

    @property
    def current(self) -> Trial | None:
        """The next trial to answer (None when all are answered)."""
        return self.remaining[0] if self.remaining else None

    @property
    def progress(self) -> tuple[int, int]:
        """(answered, total) for this rater."""
        return len(self.trials) - len(self.remaining), len(self.trials)

    def record(self, answer) -> dict:
        """Save the answer to the current trial (at once, synced) and move to the next; returns the record.

        Raises:
            ValueError: for an answer other than "A"/"B" (A/B) or a whole number 1..5 (rating).
            RuntimeError: when every trial is answered.
        """
        trial = self.current
        if trial is None:
            raise RuntimeError(f"ListeningTest: {self.rater!r} has answered all {len(self.trials)} trials")
        record = {
            "rater": self.rater,
            "item": trial.item,
            "kind": trial.kind,
            "clips": [c.id for c in trial.clips],
            "systems": [c.system for c in trial.clips],
            "simulated": self.simulated,
            "seed": self.seed,
            "time": round(time.time(), 3),
        }
        if trial.kind == "ab":
            if answer not in ("A", "B"):
                raise ValueError(f"ListeningTest.record: an A/B answer is 'A' or 'B', got {answer!r}")
            record["answer"] = answer
            record["preferred"] = trial.clips[0 if answer == "A" else 1].system
        else:
            if isinstance(answer, bool) or not isinstance(answer, (int, np.integer)) or not 1 <= answer <= 5:
                raise ValueError(f"ListeningTest.record: a rating is a whole number 1..5, got {answer!r}")
            record["answer"] = int(answer)
            record["system"] = trial.clips[0].system
        self.store.append(record)
        self.remaining.pop(0)
        return record


class SimulatedRater:
    """A seeded stand-in listener (clearly not a person): answers from a hidden quality per system plus noise.

    Rating: ``clip(round(quality[system] + noise * z), 1, 5)``, ``z ~ N(0, 1)``. A/B: prefers A with probability
    ``1 / (1 + exp(-(q_A - q_B) / noise))``. Its name is ``simulated-<seed>`` and every answer carries
    ``"simulated": true``.

    Notebook: 06_evaluation.ipynb (a second rater to measure agreement with).
    """

    def __init__(self, quality: Mapping[str, float], seed: int, noise: float = 1.0):
        if noise <= 0:
            raise ValueError(f"SimulatedRater: noise must be positive, got {noise}")
        self.quality = dict(quality)
        self.seed, self.noise = int(seed), float(noise)
        self.name = f"{SIMULATED_PREFIX}-{self.seed}"
        self.rng = np.random.default_rng(seed)

    def __repr__(self) -> str:
        return f"SimulatedRater({self.name!r}, quality={self.quality}, noise={self.noise})"

    def _q(self, system: str) -> float:
        if system not in self.quality:
            raise KeyError(f"SimulatedRater: no quality given for system {system!r}")
        return self.quality[system]

    def answer(self, trial: Trial):
        """This rater's answer to one trial."""
        if trial.kind == "ab":
            diff = self._q(trial.clips[0].system) - self._q(trial.clips[1].system)
            return "A" if self.rng.random() < 1.0 / (1.0 + np.exp(-diff / self.noise)) else "B"
        score = self._q(trial.clips[0].system) + self.noise * self.rng.standard_normal()
        return int(np.clip(np.rint(score), 1, 5))

    def complete(self, test: ListeningTest) -> int:
        """Answer every remaining trial of ``test`` (built with ``rater=self.name, simulated=True``)."""
        if not test.simulated or test.rater != self.name:
            raise ValueError(f"SimulatedRater.complete: build the test with rater={self.name!r}, simulated=True")
        n = 0
        while test.current is not None:
            test.record(self.answer(test.current))
            n += 1
        return n


# =====================================================================================================
# The widget
def _wav_bytes(clip: Clip) -> bytes:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.asarray(clip.audio, dtype=np.float32), int(clip.sr), format="WAV", subtype="PCM_16")
    return buf.getvalue()


class ListeningWidget:
    """ipywidgets front of a :class:`ListeningTest`: players labelled "A"/"B" (or one player), answer buttons.

    Clicking a button calls ``test.record`` (the answer is on disk before the next trial shows). Clips are played
    at their own level (no per-clip normalisation, so loudness does not give a system away).
    ``widget.buttons[answer].click()`` does what a click does (tests use it).

    Notebook: 06_evaluation.ipynb.
    """

    def __init__(self, test: ListeningTest):
        import ipywidgets as w

        self.test = test
        self.title = w.HTML()
        self.players = w.HBox()
        self.status = w.HTML()
        kind = test.trials[0].kind if test.trials else "ab"
        labels = {"A": "A sounds better", "B": "B sounds better"} if kind == "ab" else {
            k: str(k) for k in range(1, 6)}
        self.buttons = {}
        for value, label in labels.items():
            b = w.Button(description=label, tooltip=f"answer {value}")
            b.on_click(lambda _, v=value: self.answer(v))
            self.buttons[value] = b
        prompt = "Which sounds better?" if kind == "ab" else "Rate the clip: 1 bad, 2 poor, 3 fair, 4 good, 5 excellent"
        self.widget = w.VBox([self.title, self.players, w.HTML(prompt), w.HBox(list(self.buttons.values())), self.status])
        if not test.load_report.ok:
            self.status.value = f"<b>Note:</b> {test.load_report!r}"
        self.refresh()

    def refresh(self) -> None:
        """Show the current trial (or the end)."""
        import ipywidgets as w

        done, total = self.test.progress
        trial = self.test.current
        if trial is None:
            self.title.value = f"<b>Done:</b> {done} of {total} answered, saved in {self.test.store.path.name}."
            self.players.children = ()
            for b in self.buttons.values():
                b.disabled = True
            return
        self.title.value = f"<b>Trial {done + 1} of {total}</b> (rater {self.test.rater})"
        names = ["A", "B"] if trial.kind == "ab" else ["clip"]
        self.players.children = tuple(
            w.VBox([w.HTML(f"<b>{name}</b>"), w.Audio(value=_wav_bytes(c), format="wav", autoplay=False, loop=False)])
            for name, c in zip(names, trial.clips)
        )

    def answer(self, value) -> dict:
        """Record ``value`` for the current trial and show the next one."""
        record = self.test.record(value)
        self.status.value = f"Saved answer {value!r} ({self.test.progress[0]} of {self.test.progress[1]})."
        self.refresh()
        return record


# =====================================================================================================
# Results
def _select(answers: Sequence[Mapping], kind: str, include_simulated: bool) -> list[Mapping]:
    return [a for a in answers if a["kind"] == kind and (include_simulated or not a.get("simulated", False))]


def rating_summary(answers: Sequence[Mapping], rng: np.random.Generator, include_simulated: bool = False,
                   n_boot: int = 2000) -> dict[str, Interval]:
    """Mean rating per system with a bootstrap 95% interval over its ratings (simulated raters left out by
    default). A system with a single rating gets no interval (it is skipped with a warning).

    Notebook: 06_evaluation.ipynb.
    Reference: ITU-T P.800 (mean opinion score); Efron & Tibshirani 1993, Ch. 13.
    """
    by_system: dict[str, list[float]] = {}
    for a in _select(answers, "rating", include_simulated):
        by_system.setdefault(a["system"], []).append(float(a["answer"]))
    out = {}
    for system, values in sorted(by_system.items()):
        if len(values) < 2:
            warnings.warn(f"rating_summary: system {system!r} has 1 rating; no interval", UserWarning, stacklevel=2)
            continue
        out[system] = bootstrap_ci(values, rng, n_boot=n_boot)
    return out


def preference_summary(answers: Sequence[Mapping], rng: np.random.Generator, include_simulated: bool = False,
                       n_boot: int = 2000) -> dict[str, Interval]:
    """Share of its A/B comparisons each system won, with a bootstrap 95% interval (0.5: no preference).

    Notebook: 06_evaluation.ipynb.
    """
    wins: dict[str, list[float]] = {}
    for a in _select(answers, "ab", include_simulated):
        for system in a["systems"]:
            wins.setdefault(system, []).append(float(system == a["preferred"]))
    out = {}
    for system, values in sorted(wins.items()):
        if len(values) < 2:
            warnings.warn(f"preference_summary: system {system!r} has 1 comparison; no interval", UserWarning,
                          stacklevel=2)
            continue
        out[system] = bootstrap_ci(values, rng, n_boot=n_boot)
    return out


def cohens_kappa(a: Sequence, b: Sequence) -> float:
    """Cohen's kappa of two raters' labels on the same items: ``(p_o - p_e) / (1 - p_e)``.

    ``p_o``: share of items with the same label; ``p_e``: the share expected by chance from each rater's own
    label frequencies. 1: perfect agreement, 0: no better than chance. NaN when ``p_e = 1`` (both raters gave
    one and the same label to everything).

    Reference: Cohen 1960, "A coefficient of agreement for nominal scales".
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.ndim != 1 or not len(a):
        raise ValueError(f"cohens_kappa: need two equally long non-empty label sequences, got {a.shape} and {b.shape}")
    labels = np.unique(np.r_[a, b])
    p_o = float(np.mean(a == b))
    p_e = float(sum(np.mean(a == k) * np.mean(b == k) for k in labels))
    return (p_o - p_e) / (1.0 - p_e) if p_e < 1.0 else float("nan")


def agreement(answers: Sequence[Mapping], rater_a: str, rater_b: str, rng: np.random.Generator, kind: str = "rating",
              n_boot: int = 2000) -> dict:
    """How much two raters agree on the items both answered: percent agreement and Cohen's kappa, each with a
    bootstrap 95% interval over items.

    A/B answers are compared by the system preferred (so the two raters may have heard the sides in different
    orders); ratings by the score. Returns ``{"n_items", "percent": Interval, "kappa": Interval, "simulated": [...]}``
    where ``simulated`` names the raters that are simulated.

    Notebook: 06_evaluation.ipynb ("how much do two listeners agree?").
    Reference: Cohen 1960; Efron & Tibshirani 1993, Ch. 13.
    """
    if kind not in KINDS:
        raise ValueError(f"agreement: kind must be one of {KINDS}, got {kind!r}")
    key = "preferred" if kind == "ab" else "answer"
    per_rater = {}
    simulated = set()
    for r in (rater_a, rater_b):
        rows = [a for a in answers if a["rater"] == r and a["kind"] == kind]
        per_rater[r] = {a["item"]: a[key] for a in rows}  # the last answer to an item counts
        if any(a.get("simulated", False) for a in rows):
            simulated.add(r)
    common = sorted(set(per_rater[rater_a]) & set(per_rater[rater_b]))
    if len(common) < 2:
        raise ValueError(f"agreement: {rater_a!r} and {rater_b!r} share {len(common)} answered item(s); need 2 or more")
    labels = sorted({str(per_rater[r][i]) for r in (rater_a, rater_b) for i in common})
    code = {lab: k for k, lab in enumerate(labels)}
    pairs = np.array([[code[str(per_rater[rater_a][i])], code[str(per_rater[rater_b][i])]] for i in common])  # (n, 2)
    percent = bootstrap_ci(pairs, rng, lambda s: float(np.mean(s[:, 0] == s[:, 1])), n_boot=n_boot)
    kappa = bootstrap_ci(pairs, rng, lambda s: cohens_kappa(s[:, 0], s[:, 1]), n_boot=n_boot)
    return {"n_items": len(common), "percent": percent, "kappa": kappa, "simulated": sorted(simulated)}
