"""Evaluation metrics as pure functions (no file IO).

MOT: :func:`evaluate_mot` over :class:`MOTSequenceData` (HOTA, CLEAR, Identity).
"""

from trackkit.metrics.clear import CLEARResult, clear_metrics
from trackkit.metrics.hota import ALPHAS, HOTAResult, hota_metrics
from trackkit.metrics.identity import IdentityResult, identity_metrics
from trackkit.metrics.mot import MOTEvaluation, MOTMetrics, evaluate_mot, evaluate_mot_sequence
from trackkit.metrics.mot_data import MOTSequenceData
from trackkit.metrics.mot_preprocess import MOT_BENCHMARKS, MOTPreprocessing, preprocess_mot

__all__ = [
    "ALPHAS",
    "CLEARResult",
    "HOTAResult",
    "IdentityResult",
    "MOTEvaluation",
    "MOTMetrics",
    "MOTPreprocessing",
    "MOTSequenceData",
    "MOT_BENCHMARKS",
    "clear_metrics",
    "evaluate_mot",
    "evaluate_mot_sequence",
    "hota_metrics",
    "identity_metrics",
    "preprocess_mot",
]
