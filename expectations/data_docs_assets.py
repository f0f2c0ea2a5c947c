"""Data Docs that open offline: the CDN files Great Expectations' pages load, served from the site.

Great Expectations 1.24 writes pages that load jQuery, Bootstrap, bootstrap-table, the date picker,
Font Awesome and a dark theme from CDNs; without them the index's tables stay empty. The machines
are offline, so the package ships those files (``assets/data_docs/``, minified, each with its
licence: see its README) and :func:`make_offline` copies them into the site's ``static/vendor/``
and points every page at them. Writing the pages ourselves was the other way; GX's own pages
stay what its users know, and a GX upgrade that changes a URL fails the browser test instead of
silently going back to the network.
"""

from __future__ import annotations

import os
import re
import shutil
from importlib import resources
from pathlib import Path

__all__ = ["ASSETS", "CHART_SCRIPTS", "VENDOR_FOLDER", "external_resources", "make_offline"]

#: Under the site's ``static/`` folder.
VENDOR_FOLDER = "vendor"

#: CDN address used by the GX 1.24 templates → the shipped file (relative to ``assets/data_docs``).
ASSETS: dict[str, str] = {
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery/jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": "popper.js/popper.min.js",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "bootstrap/bootstrap.min.js",
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "bootstrap/bootstrap.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": "bootstrap-table/bootstrap-table.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": "bootstrap-table/bootstrap-table.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js": (
        "bootstrap-table/bootstrap-table-filter-control.min.js"
    ),
    # The templates take the filter-control stylesheet from 1.19.0 (minified on the index, not on
    # the other pages); 1.19.1's is the same extension one patch later.
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css": (
        "bootstrap-table/bootstrap-table-filter-control.min.css"
    ),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css": (
        "bootstrap-table/bootstrap-table-filter-control.min.css"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js": (
        "bootstrap-datepicker/bootstrap-datepicker.min.js"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css": (
        "bootstrap-datepicker/bootstrap-datepicker.min.css"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": "fontawesome/css/all.min.css",
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css": (
        "bootstrap-dark/bootstrap-prefers-dark.min.css"
    ),
}

#: Chart libraries (Vega): only pages that draw a chart need them, and ours draw none.
CHART_SCRIPTS: tuple[str, ...] = (
    "https://cdn.jsdelivr.net/npm/vega@5",
    "https://cdn.jsdelivr.net/npm/vega-lite@5",
    "https://cdn.jsdelivr.net/npm/vega-embed@6",
)

# A <script src=…></script> or a <link … href=…> tag, and the address it loads.
_TAG = re.compile(r"<(?:script|link)\b[^>]*?\b(?:src|href)=\"(?P<url>https?://[^\"]+)\"[^>]*>(?:\s*</script>)?", re.IGNORECASE)
# Subresource integrity and CORS mode name the CDN's copy; a page opened from disk loads the local
# file as an opaque origin, which Chromium refuses for a script marked crossorigin.
_INTEGRITY = re.compile(r"\s+(?:integrity|crossorigin)=\"[^\"]*\"", re.IGNORECASE)
# The navigation bar's logo comes from GX's bucket, with the data context's id in the query (a
# tracking request); GX ships the same images in the site's ``static/images/``.
# GX counts a page's depth from its suite's name, and gets it wrong for some pages (the favicon of
# a validation page points one folder too high): every link into ``static/`` is recomputed.
_STATIC_LINK = re.compile(r"(?P<attr>\b(?:src|href)=)\"(?:\./|(?:\.\./)+)?static/(?P<rest>[^\"]+)\"")
_GX_IMAGE = re.compile(r"(?P<attr>\bsrc=)\"https://great-expectations-web-assets\.s3\.[a-z0-9-]+\.amazonaws\.com/(?P<name>[\w.-]+)(?:\?[^\"]*)?\"")


def _asset_root() -> Path:
    return Path(str(resources.files("proximite.expectations") / "assets" / "data_docs"))


def _copy_assets(site: Path) -> Path:
    """Copy the shipped files (not their README) into ``<site>/static/vendor/``; returns that folder."""
    target = site / "static" / VENDOR_FOLDER
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(_asset_root(), target, ignore=shutil.ignore_patterns("README.md"))
    return target


def _rewrite_page(text: str, *, static: str) -> str:
    """The page with every known CDN tag pointing into ``static`` (the relative URL of ``static/``)."""
    vendor = f"{static}{VENDOR_FOLDER}/"
    draws_charts = "vegaEmbed(" in text

    def replace(match: re.Match[str]) -> str:
        url = match.group("url")
        if url in CHART_SCRIPTS and not draws_charts:
            return ""
        if url not in ASSETS:
            return match.group(0)
        tag = match.group(0).replace(f'"{url}"', f'"{vendor}{ASSETS[url]}"')
        return _INTEGRITY.sub("", tag)

    text = _STATIC_LINK.sub(lambda match: f'{match.group("attr")}"{static}{match.group("rest")}"', text)
    text = _GX_IMAGE.sub(lambda match: f'{match.group("attr")}"{static}images/{match.group("name")}"', text)
    return _TAG.sub(replace, text)


def make_offline(site: str | Path) -> list[Path]:
    """Serve a Data Docs site's CDN files from the site itself.

    Parameters
    ----------
    site : str or Path
        A site written by Great Expectations (``index.html`` and ``static/`` at its root).

    Returns
    -------
    list of Path
        The pages rewritten (every ``*.html`` of the site).

    Notes
    -----
    Each page's URLs are made relative to the page (``../../static/vendor/…``), so the site opens
    from disk (``file:``), from any folder it is copied to, and from any web server.
    """
    root = Path(site)
    vendor_dir = _copy_assets(root)
    pages = sorted(path for path in root.rglob("*.html") if vendor_dir not in path.parents)
    for page in pages:
        relative = Path(os.path.relpath(vendor_dir.parent, page.parent)).as_posix() + "/"
        text = page.read_text(encoding="utf-8")
        rewritten = _rewrite_page(text, static=relative)
        if rewritten != text:
            page.write_text(rewritten, encoding="utf-8")
    return pages


def external_resources(page: str | Path) -> list[str]:
    """The outside addresses a page still loads (scripts, stylesheets, images); empty once offline."""
    text = Path(page).read_text(encoding="utf-8")
    loaded = [match.group("url") for match in _TAG.finditer(text)]
    return loaded + re.findall(r"<img\b[^>]*?\bsrc=\"(https?://[^\"]+)\"", text)
