"""The Data Docs assets: every CDN file GX's templates load is shipped, and pages are rewritten to it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from proximite.expectations.data_docs_assets import ASSETS, CHART_SCRIPTS, external_resources, make_offline


def _template_urls() -> set[str]:
    """Every script and stylesheet address in the installed GX's Data Docs templates."""
    import great_expectations

    templates = Path(great_expectations.__file__).parent / "render" / "view" / "templates"
    found: set[str] = set()
    for template in templates.glob("*.j2"):
        found.update(re.findall(r"<(?:script|link)\b[^>]*?\b(?:src|href)=\"(https?://[^\"]+)\"", template.read_text(encoding="utf-8")))
    return found


def test_every_cdn_file_of_the_templates_is_shipped_with_its_licence() -> None:
    urls = _template_urls()
    assert urls, "no CDN address found: the templates moved"
    assert urls - set(ASSETS) - set(CHART_SCRIPTS) == set()
    root = Path(__file__).resolve().parents[2] / "expectations" / "assets" / "data_docs"
    for relative in ASSETS.values():
        shipped = root / relative
        assert shipped.is_file() and shipped.stat().st_size > 200, relative
        folder = root / Path(relative).parts[0]
        assert list(folder.glob("LICENSE*")), f"{folder.name} has no licence file"


def test_pages_at_any_depth_point_at_the_site_copy(tmp_path: Path) -> None:
    head = (
        '<link rel="stylesheet" href="https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css"/>\n'
        '<script src="https://cdn.jsdelivr.net/npm/vega@5"></script>\n'
        '<script src="https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js" integrity="sha384-x" crossorigin="anonymous"></script>\n'
        '<link rel="shortcut icon" href="../../../static/images/favicon.ico">\n'
        '<img\n  class="NO-CACHE"\n  src="https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/logo-long.png?d=123"\n/>'
    )
    index = tmp_path / "index.html"
    deep = tmp_path / "validations" / "staged" / "activity" / "run" / "time" / "activity.html"
    for page in (index, deep):
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(f"<html><head>{head}</head></html>", encoding="utf-8")
    assert len(make_offline(tmp_path)) == 2
    for page, prefix in ((index, ""), (deep, "../../../../../")):
        text = page.read_text(encoding="utf-8")
        assert external_resources(page) == []
        assert f'href="{prefix}static/vendor/bootstrap/bootstrap.min.css"' in text
        assert f'src="{prefix}static/vendor/bootstrap/bootstrap.min.js">' in text  # integrity and crossorigin gone
        assert f'href="{prefix}static/images/favicon.ico"' in text
        assert f'src="{prefix}static/images/logo-long.png"' in text
        assert "vega" not in text
    assert (tmp_path / "static" / "vendor" / "fontawesome" / "webfonts" / "fa-solid-900.woff2").is_file()


def test_a_page_that_draws_a_chart_keeps_its_chart_scripts(tmp_path: Path) -> None:
    page = tmp_path / "index.html"
    page.write_text('<script src="https://cdn.jsdelivr.net/npm/vega@5"></script><script>vegaEmbed("#c", spec)</script>', encoding="utf-8")
    make_offline(tmp_path)
    assert external_resources(page) == ["https://cdn.jsdelivr.net/npm/vega@5"]


@pytest.mark.parametrize("name", ["README.md"])
def test_the_readme_stays_in_the_package_not_in_the_site(tmp_path: Path, name: str) -> None:
    (tmp_path / "index.html").write_text("<html></html>", encoding="utf-8")
    make_offline(tmp_path)
    assert not (tmp_path / "static" / "vendor" / name).exists()
