import pytest

from helpers.landscape import COLUMNS, LANDSCAPE, landscape_markdown, landscape_rows


def test_every_row_has_every_column_and_a_source():
    for row in LANDSCAPE:
        assert set(COLUMNS) <= set(row), row["system"]
        assert "arXiv" in row["source"] or "blog" in row["source"] or "NeurIPS" in row["source"]


def test_rows_sorted_by_year_and_markdown_shape():
    years = [r["year"] for r in landscape_rows()]
    assert years == sorted(years)
    md = landscape_markdown(("system", "year"))
    assert md.count("\n") == len(LANDSCAPE) + 1
    with pytest.raises(KeyError, match="unknown column"):
        landscape_markdown(("params",))
