"""The corpus counts the README states are the counts of the shipped data (issue 19: every count comes from the data)."""
import re
from pathlib import Path

from helpers.data import load_chorales, load_folk

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def number(text: str) -> int:
    return int(text.replace(",", ""))


def test_readme_chorale_counts_match_the_data():
    m = re.search(r"\(([\d,]+) Bach chorales on the canonical JSB split, ([\d,]+) train\s*/ ([\d,]+) valid / ([\d,]+) test,"
                  r"\s*plus ([\d,]+) further harmonisations", README)
    assert m, "README: the sentence with the chorale counts changed; update this test with it"
    total, train, valid, test, extra = map(number, m.groups())
    sizes = {s: len(load_chorales(s)) for s in ("train", "valid", "test", "extra")}
    assert (train, valid, test, extra) == (sizes["train"], sizes["valid"], sizes["test"], sizes["extra"])
    assert total == train + valid + test


def test_readme_folk_counts_match_the_data():
    m = re.search(r"([\d,]+) folk songs from the Essen collection, ([\d,]+) /\s*([\d,]+) / ([\d,]+); and ([\d,]+) tunes of "
                  r"O'Neill's", README)
    assert m, "README: the sentence with the folk counts changed; update this test with it"
    essen_total, train, valid, test, oneills = map(number, m.groups())
    assert [train, valid, test] == [len(load_folk("essen", s)) for s in ("train", "valid", "test")]
    assert essen_total == train + valid + test
    assert oneills == sum(len(load_folk("oneills", s)) for s in ("train", "valid", "test"))
