"""``trackkit report``: one self-contained HTML page per evaluation (MOT, SOT, ReID).

- :mod:`~trackkit.report.mot`, :mod:`~trackkit.report.sot`, :mod:`~trackkit.report.reid`
  build each section's data from the same result dataclasses the CLI prints;
- :mod:`~trackkit.report.thumbs` makes the capped, sized JPEG thumbnails;
- :mod:`~trackkit.report.page` writes the page (style, script, data and images inline);
- :mod:`~trackkit.report.browser` opens it in a headless Chromium (tests, ``--check``).
"""

from trackkit.report.page import render_page, write_page
from trackkit.report.thumbs import Thumbnails

__all__ = ["Thumbnails", "render_page", "write_page"]
