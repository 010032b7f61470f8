"""helpers.memorisation: copied n-grams on a known case and against the brute-force reference."""
import math

import numpy as np
import pytest

from helpers import memorisation


# --- memorisation ---------------------------------------------------------------------------------------
def test_copied_ngrams_known_case():
    res = memorisation.copied_ngrams([[9, 2, 3, 4, 8], [5]], [[1, 2, 3, 4, 5]], n=2)
    assert res.longest.tolist() == [3, 1]
    assert res.share[0] == pytest.approx(2 / 4) and math.isnan(res.share[1])
    assert memorisation.copied_ngrams([[2, 3]], [[1, 2], [3, 4]], n=2).longest.tolist() == [1]  # no match across tunes
    with pytest.raises(ValueError, match="negative token"):
        memorisation.copied_ngrams([[-1, 2]], [[1, 2]])


def test_copied_ngrams_equals_brute_force():
    rng = np.random.default_rng(13)
    for _ in range(10):
        train = [rng.integers(0, 4, int(rng.integers(1, 40))) for _ in range(int(rng.integers(1, 5)))]
        gen = [rng.integers(0, 4, int(rng.integers(0, 30))) for _ in range(3)]
        gen.append(np.r_[train[0][:12], rng.integers(0, 4, 5)])  # a copied stretch
        for n in (1, 3, 5):
            fast, plain = memorisation.copied_ngrams(gen, train, n), memorisation.copied_ngrams_plain(gen, train, n)
            assert fast.longest.tolist() == plain.longest.tolist()
            np.testing.assert_allclose(fast.share, plain.share)
