"""Assemble the report page: one HTML file with its style, script, data and images inline.

The page holds the sections' data once, as JSON in a ``<script type="application/json">``
element, and the thumbnails once, as JPEG data URIs in that JSON (``thumbs``: key -> URI); the
script (``static/report.js``) draws tables, SVG plots and canvas timelines from it. Nothing is
fetched: no network, no CDN, so the file opens anywhere.
"""

from __future__ import annotations

import datetime
import html
import json
import math
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["render_page", "write_page"]


def _static(name: str) -> str:
    return (resources.files("trackkit.report") / "static" / name).read_text("utf-8")


def _finite(value: Any) -> Any:
    """``value`` with non-finite floats replaced by ``None`` (JSON has no NaN/inf)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def render_page(
    sections: Sequence[Mapping[str, Any]], thumbs: Mapping[str, str], title: str = "trackkit report"
) -> str:
    """The HTML text of a report of ``sections`` (the ``*_section`` dictionaries) with the
    thumbnails ``thumbs`` (key -> data URI)."""
    payload = {"sections": list(sections), "thumbs": dict(thumbs)}
    # "<" escaped so that no "</script>" can end the data element early; still valid JSON.
    data = json.dumps(_finite(payload), separators=(",", ":"), allow_nan=False)
    data = data.replace("<", "\\u003c")
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    from trackkit import __version__

    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n"
        '<link rel="icon" href="data:,">\n'
        f"<style>\n{_static('report.css')}</style>\n</head>\n<body>\n"
        f"<header><h1>{html.escape(title)}</h1>"
        f'<div class="meta">trackkit {html.escape(__version__)}, {now}</div>'
        '<nav id="tk-nav"></nav></header>\n<main id="tk-main"></main>\n'
        f'<script id="tk-data" type="application/json">{data}</script>\n'
        f"<script>\n{_static('report.js')}</script>\n</body>\n</html>\n"
    )


def write_page(
    path: str | Path,
    sections: Sequence[Mapping[str, Any]],
    thumbs: Mapping[str, str],
    title: str = "trackkit report",
) -> int:
    """Write the page to ``path`` atomically (folders created); returns its size in bytes."""
    from trackkit.io.atomic import write_text

    out = write_text(path, render_page(sections, thumbs, title))
    return out.stat().st_size
