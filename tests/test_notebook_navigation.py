"""Every notebook helps a learner find their way (issue 19): contents, previous/next links that resolve, a measured run
time, papers as links, further reading at the end, and glossary links whose anchors exist."""
import re
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
SOURCES = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))
GLOSSARY = (NOTEBOOKS / "GLOSSARY.md").read_text()
ANCHORS = set(re.findall(r'<a id="([^"]+)"></a>', GLOSSARY))


def test_there_are_notebooks_and_a_glossary():
    assert len(SOURCES) >= 6 and len(ANCHORS) >= 20


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.stem)
def test_notebook_has_contents_links_run_time_and_further_reading(path):
    text = path.read_text()
    head = text[: text.index("# %%\n", 10)]  # the first markdown cell
    assert "**Contents:**" in head
    assert "**Where you are:**" in head and "](GLOSSARY.md)" in head
    assert re.search(r"\*\*Run time:\*\* about \d", head), "state the measured run time in the first cell"
    assert "**Papers cited" in head
    assert "## Further reading" in text[-3000:]
    for target in re.findall(r"\]\(([0-9][0-9]_[a-z_]+\.ipynb)\)", text):
        assert (NOTEBOOKS / target).exists(), f"{path.name} links to {target}, which does not exist"
    for anchor in re.findall(r"\]\(GLOSSARY\.md#([a-z0-9-]+)\)", text):
        assert anchor in ANCHORS, f"{path.name} links to GLOSSARY.md#{anchor}, which has no anchor"


def test_papers_link_to_their_arxiv_abstract_pages():
    for path in SOURCES:
        for link in re.findall(r"https://arxiv\.org/[a-z]+/[^\s)]+", path.read_text()):
            assert re.fullmatch(r"https://arxiv\.org/abs/(\d{4}\.\d{4,5}|[a-z-]+/\d{7})", link), f"{path.name}: {link}"
