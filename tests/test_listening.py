import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from helpers.listening import (
    AnswerStore,
    Clip,
    ListeningTest,
    ListeningWidget,
    SimulatedRater,
    agreement,
    cohens_kappa,
    preference_summary,
    rating_summary,
)

ROOT = Path(__file__).resolve().parent.parent


def _answer(i, rater="ann"):
    return {"rater": rater, "item": f"item{i}", "kind": "rating", "answer": 1 + i % 5, "system": "s"}


def _clip(id, system, f=440.0, sr=8000):
    t = np.arange(sr // 10) / sr
    return Clip(id, system, (0.2 * np.sin(2 * np.pi * f * t)).astype(np.float32), sr)


def _pairs(n=6):
    return [(_clip(f"real{i}", "real", 300 + 10 * i), _clip(f"markov{i}", "markov", 500 + 10 * i)) for i in range(n)]


# --- the store ---------------------------------------------------------------------------------------------
def test_store_appends_one_line_per_answer_and_loads_them(tmp_path):
    store = AnswerStore(tmp_path / "sub" / "answers.jsonl")
    assert store.load().answers == []
    for i in range(3):
        store.append(_answer(i))
    lines = store.path.read_text().splitlines()
    assert len(lines) == 3 and json.loads(lines[1])["item"] == "item1"
    report = store.load()
    assert report.ok and [a["item"] for a in report.answers] == ["item0", "item1", "item2"]
    assert store.answered("ann") == {"item0", "item1", "item2"} and store.answered("bob") == set()
    with pytest.raises(ValueError, match=r"lacks field\(s\) \['answer'\]"):
        store.append({"rater": "ann", "item": "x", "kind": "rating"})
    with pytest.raises(ValueError, match="JSON-serialisable"):
        store.append({**_answer(9), "audio": object()})
    assert len(store.load().answers) == 3  # nothing half-written by the refused answers


def test_truncated_and_corrupt_lines_are_reported_with_their_numbers_and_the_rest_kept(tmp_path):
    store = AnswerStore(tmp_path / "a.jsonl")
    store.append(_answer(0))
    with open(store.path, "a") as f:
        f.write('{"rater": "ann", "item": "item1", "kind": "rat\n')  # line 2: cut JSON
        f.write("[1, 2]\n")  # line 3: JSON, not an answer
        f.write('{"rater": "ann"}\n')  # line 4: fields missing
        f.write("\n")  # line 5: blank, holds nothing
    store.append(_answer(5))  # line 6
    with open(store.path, "a") as f:
        f.write('{"rater": "ann", "item": "item7", "kind": "rating", "ans')  # line 7: half-written, no newline
    with pytest.warns(UserWarning, match="4 bad line"):
        report = store.load()
    assert [a["item"] for a in report.answers] == ["item0", "item5"]
    assert [b.line for b in report.bad_lines] == [2, 3, 4, 7]
    assert "not JSON" in report.bad_lines[0].error and "missing field" in report.bad_lines[2].error
    assert "line 7" in repr(report)
    store.append(_answer(8))  # after a cut line the next answer goes on a line of its own
    report = store.load(warn=False)
    assert [a["item"] for a in report.answers] == ["item0", "item5", "item8"]
    assert [b.line for b in report.bad_lines] == [2, 3, 4, 7]


WRITER = r"""
import os, sys, time
sys.path.insert(0, sys.argv[1])
from helpers.listening import AnswerStore
store = AnswerStore(sys.argv[2])
mode = sys.argv[3]
if mode == "half":
    for i in range(5):
        store.append({"rater": "ann", "item": f"item{i}", "kind": "rating", "answer": 3, "system": "s"})
    with open(store.path, "ab") as f:  # the start of a sixth answer, then the kill
        f.write(b'{"rater": "ann", "item": "item5", "ki')
        f.flush()
        os.fsync(f.fileno())
    print("ready", flush=True)
    time.sleep(60)
else:  # write as fast as possible until killed
    i = 0
    while True:
        store.append({"rater": "ann", "item": f"item{i}", "kind": "rating", "answer": 3, "system": "s",
                      "padding": "x" * 2000})
        i += 1
"""


def _spawn(tmp_path, path, mode):
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    return subprocess.Popen([sys.executable, str(script), str(ROOT), str(path), mode], stdout=subprocess.PIPE, text=True)


def test_a_writer_killed_mid_answer_loses_only_the_cut_line(tmp_path):
    path = tmp_path / "answers.jsonl"
    proc = _spawn(tmp_path, path, "half")
    assert proc.stdout.readline().strip() == "ready"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    store = AnswerStore(path)
    with pytest.warns(UserWarning, match="line 6"):
        report = store.load()
    assert [a["item"] for a in report.answers] == [f"item{i}" for i in range(5)]
    assert [b.line for b in report.bad_lines] == [6]
    # resuming: a test over 8 clips starts at the first item not answered, and its answer is intact
    clips = [_clip(f"item{i}", "s") for i in range(8)]
    with pytest.warns(UserWarning, match="line 6"):
        test = ListeningTest.rating(clips, store, "ann", seed=0)
    assert test.progress == (5, 8) and test.current.item in {"item5", "item6", "item7"}
    test.record(4)
    report = store.load(warn=False)
    assert len(report.answers) == 6 and [b.line for b in report.bad_lines] == [6]


def test_a_writer_killed_at_a_random_moment_keeps_every_complete_answer(tmp_path):
    path = tmp_path / "answers.jsonl"
    proc = _spawn(tmp_path, path, "loop")
    deadline = time.time() + 30
    while (not path.exists() or path.stat().st_size < 40_000) and time.time() < deadline:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    report = AnswerStore(path).load(warn=False)
    n = len(report.answers)
    assert n >= 15
    assert [a["item"] for a in report.answers] == [f"item{i}" for i in range(n)]  # none lost, none out of order
    lines = path.read_bytes().split(b"\n")
    complete = sum(1 for line in lines[:-1] if line)
    assert complete == n  # every newline-terminated line is a good answer
    assert [b.line for b in report.bad_lines] == ([n + 1] if lines[-1] else [])  # only a cut last line is bad


# --- the test logic ------------------------------------------------------------------------------------------
def test_ab_test_is_blind_seeded_and_resumable(tmp_path):
    store = AnswerStore(tmp_path / "ab.jsonl")
    test = ListeningTest.ab(_pairs(), store, "ann", seed=3)
    again = ListeningTest.ab(_pairs(), AnswerStore(tmp_path / "other.jsonl"), "ann", seed=3)
    order = [(t.item, t.clips[0].system) for t in test.trials]
    assert order == [(t.item, t.clips[0].system) for t in again.trials]  # same seed, same order and sides
    firsts = {t.clips[0].system for t in test.trials}
    assert firsts == {"real", "markov"}  # sides are shuffled
    assert order != [(t.item, t.clips[0].system) for t in ListeningTest.ab(_pairs(), store, "ann", seed=4).trials]
    first = test.current
    rec = test.record("A")
    assert rec["preferred"] == first.clips[0].system and rec["simulated"] is False
    test.record("B")
    with pytest.raises(ValueError, match="'A' or 'B'"):
        test.record("left")
    # a kernel restart: a new test on the same file continues where the rater stopped
    resumed = ListeningTest.ab(_pairs(), store, "ann", seed=3)
    assert resumed.progress == (2, 6) and resumed.current.item == test.current.item
    assert ListeningTest.ab(_pairs(), store, "bob", seed=3).progress == (0, 6)  # another rater starts afresh
    while resumed.current is not None:
        resumed.record("A")
    with pytest.raises(RuntimeError, match="answered all 6"):
        resumed.record("A")
    assert len(store.load().answers) == 6


def test_rating_test_validates_answers_and_raters(tmp_path):
    store = AnswerStore(tmp_path / "r.jsonl")
    clips = [_clip(f"c{i}", "real" if i % 2 else "markov") for i in range(4)]
    test = ListeningTest.rating(clips, store, "ann", seed=0)
    for bad in (0, 6, 2.5, True, "3"):
        with pytest.raises(ValueError, match="1..5"):
            test.record(bad)
    assert test.record(np.int64(4))["answer"] == 4
    with pytest.raises(ValueError, match="reserved for simulated"):
        ListeningTest.rating(clips, store, "simulated-7", seed=0)
    with pytest.raises(ValueError, match="reserved for simulated"):
        ListeningTest.rating(clips, store, "ann", seed=0, simulated=True)
    with pytest.raises(ValueError, match="with itself"):
        ListeningTest.ab([(clips[0], clips[2])], store, "ann", seed=0)
    with pytest.raises(ValueError, match="exceeds 1"):
        Clip("loud", "x", np.full(10, 2.0), 8000)


def test_simulated_rater_is_seeded_labelled_and_follows_its_qualities(tmp_path):
    quality = {"real": 4.5, "markov": 2.0}
    clips = [_clip(f"c{i}", "real" if i % 2 else "markov") for i in range(40)]
    runs = []
    for name in ("a", "b"):
        store = AnswerStore(tmp_path / f"{name}.jsonl")
        sim = SimulatedRater(quality, seed=1)
        assert sim.complete(ListeningTest.rating(clips, store, sim.name, seed=0, simulated=True)) == 40
        runs.append(store.load().answers)
    assert [a["answer"] for a in runs[0]] == [a["answer"] for a in runs[1]]  # seeded
    assert all(a["simulated"] and a["rater"] == "simulated-1" for a in runs[0])
    assert rating_summary(runs[0], np.random.default_rng(0)) == {}  # simulated answers left out by default
    summary = rating_summary(runs[0], np.random.default_rng(0), include_simulated=True)
    assert summary["real"].low > summary["markov"].high  # 4.5 vs 2.0 with noise 1: clearly apart
    with pytest.raises(ValueError, match="simulated=True"):
        SimulatedRater(quality, seed=1).complete(ListeningTest.rating(clips, store, "ann", seed=0))


def test_preference_summary_and_agreement(tmp_path):
    store = AnswerStore(tmp_path / "ab.jsonl")
    pairs = [(_clip(f"real{i}", "real"), _clip(f"markov{i}", "markov")) for i in range(60)]
    human = ListeningTest.ab(pairs, store, "ann", seed=0)
    while human.current is not None:  # a listener who always prefers the real chorale
        human.record("A" if human.current.clips[0].system == "real" else "B")
    sim = SimulatedRater({"real": 1.0, "markov": 0.0}, seed=2, noise=0.5)  # prefers real with p = 0.88
    sim.complete(ListeningTest.ab(pairs, store, sim.name, seed=9, simulated=True))
    answers = store.load().answers
    pref = preference_summary(answers, np.random.default_rng(0))
    assert pref["real"].estimate == 1.0 and pref["markov"].estimate == 0.0  # only the human by default
    both = preference_summary(answers, np.random.default_rng(0), include_simulated=True)
    assert 0 < both["markov"].estimate and both["markov"].high < 0.5 < both["real"].low  # the simulated rater errs
    agree = agreement(answers, "ann", sim.name, np.random.default_rng(0), kind="ab", n_boot=500)
    assert agree["n_items"] == 60 and agree["simulated"] == [sim.name]
    share = np.mean([a["preferred"] == "real" for a in answers if a["rater"] == sim.name])
    assert agree["percent"].estimate == pytest.approx(share)  # the human always says "real"
    assert agree["percent"].low <= share <= agree["percent"].high
    with pytest.raises(ValueError, match="share 0 answered"):
        agreement(answers, "ann", "nobody", np.random.default_rng(0), kind="ab")


def test_cohens_kappa_known_values():
    assert cohens_kappa([1, 1, 0, 0], [1, 0, 0, 0]) == pytest.approx(0.5)  # p_o .75, p_e .5
    assert cohens_kappa([1, 2, 3], [1, 2, 3]) == 1.0
    assert cohens_kappa([1, 2, 1, 2], [2, 1, 2, 1]) == pytest.approx(-1.0)
    assert np.isnan(cohens_kappa([3, 3], [3, 3]))
    with pytest.raises(ValueError, match="equally long"):
        cohens_kappa([1, 2], [1])


# --- the widget ----------------------------------------------------------------------------------------------
def test_widget_constructs_hides_the_systems_and_a_click_records_an_answer(tmp_path):
    import ipywidgets as w

    store = AnswerStore(tmp_path / "w.jsonl")
    test = ListeningTest.ab(_pairs(2), store, "ann", seed=0)
    ui = ListeningWidget(test)
    assert isinstance(ui.widget, w.VBox) and set(ui.buttons) == {"A", "B"}
    players = ui.players.children
    assert len(players) == 2 and all(isinstance(p.children[1], w.Audio) for p in players)
    assert players[0].children[1].value[:4] == b"RIFF"  # a WAV file
    shown = ui.title.value + "".join(p.children[0].value for p in players)
    assert "real" not in shown and "markov" not in shown  # blind
    first = test.current
    ui.buttons["B"].click()
    (rec,) = store.load().answers
    assert rec["item"] == first.item and rec["preferred"] == first.clips[1].system
    assert "Trial 2 of 2" in ui.title.value
    ui.buttons["A"].click()
    assert "Done" in ui.title.value and all(b.disabled for b in ui.buttons.values())
    assert len(store.load().answers) == 2
    rating = ListeningWidget(ListeningTest.rating([_clip("c0", "real")], AnswerStore(tmp_path / "r.jsonl"), "ann", 0))
    assert set(rating.buttons) == {1, 2, 3, 4, 5}
    rating.buttons[5].click()
    assert rating.test.store.load().answers[0]["answer"] == 5
