"""Which detector runs on a video when the user names none.

The best person detector installed in the model cache (:mod:`trackkit.zoo`), ranked by its
AP50 on the MOT17 frames (``benchmarks/detectors.py``; ``ModelInfo.person_rank``), on the
person class; without one, OpenCV's HOG people detector, with a hint how to get a better one.
Only the cache counts (not ``../shared``): what runs by default is what the user installed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["DefaultDetector", "choose_detector", "default_person_detector"]

#: Recall of visible MOT17 pedestrians (docs/benchmarks.md) quoted by the hint.
_HINT = (
    "for about twice as many people found, install a model: "
    "'trackkit models fetch yolox-nano' (offline: add --from DIR)"
)


@dataclass(frozen=True)
class DefaultDetector:
    """The default choice: ``spec`` for :func:`~trackkit.detectors.build_detector`, its
    ``options`` and a one-line ``note`` saying which and why."""

    spec: str
    options: dict[str, Any] = field(default_factory=dict)
    note: str = ""


def default_person_detector() -> DefaultDetector:
    """The best person detector in the cache, else HOG (see the module docstring)."""
    from trackkit.zoo import MODELS, cache_dir
    from trackkit.zoo.cache import find_installed

    ranked = sorted(
        (m for m in MODELS.values() if m.task == "detect" and m.person_rank > 0),
        key=lambda m: m.person_rank,
    )
    for m in ranked:
        if find_installed(m) is not None:
            return DefaultDetector(
                m.name,
                {"classes": ("person",)},
                f"detector: {m.name}, person class (the best person detector in the model "
                f"cache {cache_dir()}; --detector chooses another)",
            )
    return DefaultDetector(
        "hog", {}, f"detector: hog (OpenCV's people detector: no detector in the cache); {_HINT}"
    )


def choose_detector(
    spec: str | None,
    source_detections: Any,
    options: dict[str, Any],
    *,
    classes: bool = False,
    default: DefaultDetector | None = None,
) -> tuple[str, dict[str, Any], str | None]:
    """The rule of ``trackkit track`` (and ``trackkit batch``) for which detector runs on a
    source: the named ``spec``; else the source's own detections (``source_detections``, a
    MOTChallenge ``det/det.txt``) as ``file:``; else ``default`` (made by
    :func:`default_person_detector` when ``None``), whose options apply unless the user
    chose ``classes``. Returns ``(spec, options, note)``; ``note`` is the line saying which
    default was chosen (``None`` when the user or the source chose)."""
    if spec:
        return spec, dict(options), None
    if source_detections:
        return f"file:{source_detections}", dict(options), None
    chosen = default or default_person_detector()
    merged = dict(options) if classes else {**chosen.options, **options}
    return chosen.spec, merged, chosen.note
