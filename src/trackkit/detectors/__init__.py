"""Object detectors behind one protocol: ``detect(frame) -> Detections``.

Built in (see :func:`build_detector`): ``hog`` (OpenCV's HOG people detector), ``bgsub``
(background-subtraction blobs), ``yolox:PATH`` (YOLOX ONNX through onnxruntime) and
``file:PATH`` (MOTChallenge ``det.txt``); any callable works through :func:`as_detector`.
The package exports :mod:`trackkit.detectors.base`'s API.
"""

from trackkit.detectors.base import (
    DETECTORS,
    CallableDetector,
    ClassFilter,
    Detector,
    Embedder,
    EmbeddingDetector,
    as_detector,
    build_detector,
    resolve_classes,
)

__all__ = [
    "DETECTORS",
    "CallableDetector",
    "ClassFilter",
    "Detector",
    "EmbeddingDetector",
    "Embedder",
    "as_detector",
    "build_detector",
    "resolve_classes",
]
