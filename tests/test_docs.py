"""The docs stay true to the code where the code is the single source: output columns, detectors."""

from pathlib import Path

from rayqa.columns import FINDINGS, item_columns, markdown_tables
from rayqa.detectors import REGISTRY

REPO = Path(__file__).resolve().parent.parent


def test_the_output_page_shows_the_column_list_as_it_is():
    page = (REPO / "docs" / "scanning.md").read_text()
    for c in FINDINGS + item_columns():
        assert f"| `{c.name}` | {c.type} |" in page, c.name
    assert markdown_tables() in page, "docs/scanning.md: paste `python -m rayqa.columns` over its column tables"


def test_the_readme_and_detector_page_name_every_detector():
    readme = (REPO / "README.md").read_text()
    page = (REPO / "docs" / "detectors.md").read_text()
    for name in REGISTRY:
        assert f"`{name}`" in readme and f"`{name}`" in page, name
