"""Tests of helpers.markov: smoothing is a proper distribution, sampling is reproducible, copying is measured."""
import numpy as np
import pytest

from helpers import markov
from helpers.data import piece_from_notes
from helpers.markov import BOS, UNK, CorpusIndex, NGramModel, RawMarkovChain


def random_walks(n, seed=0, lo=12, hi=40):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        steps = rng.choice([-2, -1, 0, 1, 2, 4, -3], size=rng.integers(lo, hi))
        out.append(np.clip(60 + np.cumsum(steps), 48, 84))
    return out


@pytest.fixture(scope="module")
def train():
    return random_walks(200, seed=1)


@pytest.mark.parametrize("order", [1, 2, 3, 5])
def test_prob_table_sums_to_one_for_seen_and_unseen_contexts(train, order):
    model = NGramModel(order).fit(train)
    contexts = [m[max(0, i - order) : i] for m in train[:20] for i in range(len(m))]  # seen (incl. the start)
    contexts += [[], [200], [61, 200, 61], [84, 48, 84, 48, 84, 48], [127] * order]  # unseen events / contexts
    for ctx in contexts:
        p = model.prob_table(ctx)
        assert p.shape == (model.vocab_size,)
        assert np.all(p >= 0)
        assert p.sum() == pytest.approx(1.0, abs=1e-9)
        assert p[BOS] == 0.0
        assert np.all(p[1:] > 0), "smoothing must leave mass on every event"


def test_log_probs_agree_with_prob_table(train):
    model = NGramModel(3).fit(train)
    melody = np.r_[train[5][:7], 99, train[6][:5]]  # 99 is unseen
    lp = model.token_log_probs([melody])[0]
    ids = model.encode(markov.encode_events(melody))
    assert ids[7] == UNK
    expected = [np.log(model._prob_table_ids(ids[:i])[ids[i]]) for i in range(len(ids))]
    expected.append(np.log(model._prob_table_ids(ids)[markov.EOS]))
    np.testing.assert_allclose(lp, expected, rtol=1e-10)


def test_unseen_data_has_finite_nll_and_training_data_scores_better(train):
    held_out = random_walks(30, seed=2)
    held_out.append(np.array([20, 21, 22, 23, 110, 111]))  # events outside the training vocabulary
    for order in (1, 4):
        model = NGramModel(order).fit(train)
        nll_valid = model.nll_per_event(held_out)
        assert np.isfinite(nll_valid)
        assert np.isfinite(model.log_prob(held_out[-1]))
        assert model.nll_per_event(train) < nll_valid
    # a higher order memorises more: lower training NLL
    assert NGramModel(5).fit(train).nll_per_event(train) < NGramModel(1).fit(train).nll_per_event(train)


def test_kneser_ney_prefers_real_continuations_over_unigram_frequency():
    # 'b' follows only 'a' (frequent but in one context); 'c' follows many words: after an unseen context,
    # KN should give 'c' more probability than 'b' although 'b' is counted more often.
    melodies = [[1, 2]] * 20 + [[3, 4], [5, 4], [6, 4], [7, 4], [8, 4]]
    model = NGramModel(1).fit(melodies)
    p = model.prob_table([9])  # 9 unseen -> back off to the continuation unigram
    b, c = model.encode(np.array([2, 4]))
    assert p[c] > p[b]


def test_pitch_duration_events_round_trip():
    piece = piece_from_notes([(60, 0, 1), (62, 1, 0.5), (64, 2, 1), (65, 3, 1 / 3)], id="t")
    ev = markov.melody_events(piece, with_duration=True)
    np.testing.assert_allclose(ev[:, 1], [1, 1, 1, 1 / 3])  # the rest after 62 is folded into it
    codes = markov.encode_events(ev)
    np.testing.assert_allclose(markov.decode_events(codes, True), ev, atol=1e-9)
    back = markov.events_to_piece(ev)
    np.testing.assert_allclose(back.notes.onset, piece.notes.onset)


def test_sampling_is_reproducible_per_seed_and_differs_across_seeds(train):
    model = NGramModel(2).fit(train)
    a = model.sample(40, np.random.default_rng(7))
    b = model.sample(40, np.random.default_rng(7))
    c = model.sample(40, np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    rng = np.random.default_rng(3)  # one generator, two calls: two different tunes (the lesson's bug)
    assert not np.array_equal(model.sample(40, rng), model.sample(40, rng))
    assert len(a) <= 40 and set(a.tolist()) <= set(np.concatenate(train).tolist())


def test_temperature_and_prompt(train):
    model = NGramModel(2).fit(train)
    prompt = train[0][:4]
    out = model.sample(10, np.random.default_rng(0), temperature=0.5, prompt=prompt)
    np.testing.assert_array_equal(out[:4], prompt)
    # a cold sampler picks the mode more often than a hot one
    def distinct(t):
        rng = np.random.default_rng(0)
        return len({tuple(model.sample(12, rng, temperature=t).tolist()) for _ in range(30)})
    assert distinct(0.1) < distinct(3.0)
    with pytest.raises(ValueError, match="prompt"):
        model.sample(5, np.random.default_rng(0), prompt=[1, 2, 3])


def test_bad_input_raises_clear_errors(train):
    with pytest.raises(ValueError, match="order"):
        NGramModel(0)
    with pytest.raises(ValueError, match="empty corpus"):
        NGramModel(2).fit([])
    with pytest.raises(ValueError, match="melody 1 has 2 events, fewer than the order 3"):
        NGramModel(3).fit([train[0], [60, 62]])
    with pytest.raises(ValueError, match="not a single melody"):
        NGramModel(1).fit(np.array([60, 62, 64]))
    model = NGramModel(2).fit(train)
    with pytest.raises(ValueError, match="fewer than the order"):
        model.log_prob([60])
    with pytest.raises(TypeError, match="rng"):
        model.sample(5, 42)
    with pytest.raises(ValueError, match="temperature"):
        model.sample(5, np.random.default_rng(0), temperature=0)
    with pytest.raises(RuntimeError, match="fit"):
        NGramModel(2).prob_table([60])
    with pytest.raises(ValueError, match="shape"):
        markov.encode_events(np.zeros((3, 3)))


def test_match_lengths_equal_brute_force():
    rng = np.random.default_rng(0)
    corpus = [rng.integers(0, 4, size=rng.integers(5, 30)) for _ in range(40)]
    index = CorpusIndex(corpus)
    texts = [c.tolist() for c in corpus]

    def brute(q, i):
        best = 0
        for n in range(1, len(q) - i + 1):
            sub = q[i : i + n]
            if any(t[j : j + n] == sub for t in texts for j in range(len(t) - n + 1)):
                best = n
            else:
                break
        return best

    for _ in range(20):
        q = rng.integers(0, 5, size=25).tolist()
        np.testing.assert_array_equal(index.match_lengths(q), [brute(q, i) for i in range(len(q))])
    whole = corpus[3]
    assert index.longest_copy(whole) == len(whole)
    assert index.copied_share(whole, 3) == 1.0


def test_high_order_model_copies_more_than_low_order(train):
    idx = CorpusIndex([NGramModel(1).fit(train).encode(m) for m in train])
    low = markov.memorisation(NGramModel(1).fit(train), train, 10, 40, np.random.default_rng(0), n=5)
    high = markov.memorisation(NGramModel(6).fit(train), train, 10, 40, np.random.default_rng(0), n=5)
    assert high["share"] > low["share"] and high["longest"] > low["longest"]
    assert idx.longest_copy(NGramModel(1).fit(train).encode(train[0])) == len(train[0])


def test_key_normalisation_moves_tonic_to_nearest_c():
    p = piece_from_notes([(67, 0, 1), (71, 1, 1)], id="g", tonic=7, mode="major", key="G major")
    q = markov.normalise_keys([p])[0]
    assert q.tonic == 0 and q.pitches.tolist() == [72, 76]  # G -> up 5 to C (nearest)
    d = piece_from_notes([(62, 0, 1)], id="d", tonic=2, mode="minor")
    assert markov.normalise_keys([d])[0].pitches.tolist() == [60]
    assert len(markov.augment_transpositions([p], range(-2, 3))) == 5


def test_raw_chain_fixes_the_lessons_slips():
    melodies = [[60, 62, 64, 65, 67, 65, 64, 62, 60], [60, 64, 67, 64, 60]]
    chain = RawMarkovChain(order=2).train(melodies)
    rng = np.random.default_rng(0)
    a, b = chain.generate([60, 64], 16, rng), chain.generate([60, 64], 16, rng)
    assert a[:2] == [60, 64] and len(a) == 18
    assert a != b  # the generator advances between calls
    assert chain.generate([60, 64], 16, np.random.default_rng(0)) == a
    assert chain.n_fallbacks > 0  # dead ends fall back to random notes
    with pytest.raises(ValueError, match="order"):
        RawMarkovChain(order=0)


def test_longest_self_repeat_finds_returning_phrase():
    phrase = [60, 62, 64, 65, 67]
    assert markov.longest_self_repeat(phrase + [70, 71] + phrase) == 5
    assert markov.longest_self_repeat([60, 62, 64, 65]) == 0
    with_dur = np.array([[60, 1.0], [62, 0.5], [60, 1.0], [62, 1.0]])  # the durations differ: no repeat of 2
    assert markov.longest_self_repeat(with_dur) == 1


@pytest.mark.parametrize("order", [1, 2, 3, 5])
@pytest.mark.parametrize("with_duration", [False, True])
def test_vectorised_kneser_ney_equals_the_plain_loops(order, with_duration):
    from helpers.markov import kneser_ney_log_probs_plain

    rng = np.random.default_rng(order)

    def tune(lo, hi):
        n = int(rng.integers(order, 25))
        pitches = rng.integers(lo, hi, size=n)
        return np.stack([pitches, rng.choice([0.5, 1.0, 1.5], size=n)], 1) if with_duration else pitches

    train = [tune(60, 70) for _ in range(30)]
    held_out = [tune(58, 72) for _ in range(8)]  # 58, 59, 70, 71 never seen: <unk>, and unseen contexts
    model = NGramModel(order).fit(train)
    fast = model.token_log_probs(held_out)
    plain = kneser_ney_log_probs_plain(model, train, held_out)
    assert [len(x) for x in fast] == [len(x) for x in plain]
    np.testing.assert_allclose(np.concatenate(fast), np.concatenate(plain), rtol=0, atol=1e-12)


def test_plain_kneser_ney_tables_sum_to_one_and_count_continuations():
    from helpers.markov import BOS, EOS, kneser_ney_counts_plain, kneser_ney_prob_plain

    tables = kneser_ney_counts_plain([[3, 4, 3], [5, 4, 3]], order=1)
    # order 0: in how many different one-note contexts each id was seen: 3 after <s> and 4 (three times in
    # all, but after two different notes), 4 after 3 and 5, 5 after <s>, </s> after 3
    assert tables[0]["counts"] == {((), 3): 2, ((), 4): 2, ((), 5): 1, ((), EOS): 1}
    assert tables[1]["counts"][(4,), 3] == 2 and tables[1]["types"][(BOS,)] == 2
    for context in ((BOS,), (3,), (4,), (7,)):  # (7,) never seen: the shorter context's distribution
        assert abs(sum(kneser_ney_prob_plain(tables, context, w, 8) for w in range(8)) - 1) < 1e-12
    with pytest.raises(ValueError, match="context"):
        kneser_ney_prob_plain(tables, (), 3, 8)


def test_match_lengths_vectorised_equals_plain_search():
    rng = np.random.default_rng(1)
    for _ in range(200):
        corpus = [rng.integers(0, 3, rng.integers(1, 30)) for _ in range(rng.integers(1, 5))]
        index = CorpusIndex(corpus)
        queries = [rng.integers(0, 4, rng.integers(0, 20)) for _ in range(3)]
        for q, ml in zip(queries, index.match_lengths_many(queries)):
            np.testing.assert_array_equal(ml, index.match_lengths_plain(q))
            np.testing.assert_array_equal(index.match_lengths(q), ml)


def test_sample_without_end_marker_has_the_asked_length():
    model = NGramModel(2).fit([[60, 62], [64, 65]])  # short tunes: </s> is likely everywhere
    rng = np.random.default_rng(0)
    assert min(len(model.sample(30, rng)) for _ in range(20)) < 30
    assert all(len(model.sample(30, rng, stop_at_end=False)) == 30 for _ in range(20))
