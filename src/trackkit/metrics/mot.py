"""MOTChallenge evaluation: HOTA, CLEAR and Identity per sequence and combined.

    data = [load_mot_sequence(...), ...]           # trackkit.io.mot_sequence
    evaluation = evaluate_mot(data)
    evaluation.combined.as_dict()["HOTA"]           # fractions, official field names

Sequences are combined exactly as the official kit (TrackEval) combines them: counts are
summed; HOTA's association and localisation scores are averaged with the per-alpha true
positives as weights; rates are recomputed from the combined counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from trackkit.metrics.clear import CLEARResult, clear_metrics, combine_clear
from trackkit.metrics.hota import HOTAResult, combine_hota, hota_metrics
from trackkit.metrics.identity import IdentityResult, combine_identity, identity_metrics
from trackkit.metrics.mot_data import MOTSequenceData

__all__ = ["MOTEvaluation", "MOTMetrics", "evaluate_mot", "evaluate_mot_sequence"]

#: The fields the CLI's table shows, in order.
SUMMARY_FIELDS = (
    "HOTA",
    "DetA",
    "AssA",
    "LocA",
    "MOTA",
    "MOTP",
    "IDF1",
    "IDSW",
    "Frag",
    "MT",
    "ML",
    "CLR_FP",
    "CLR_FN",
)


@dataclass(frozen=True)
class MOTMetrics:
    """HOTA, CLEAR and Identity results of one sequence or of a combination."""

    hota: HOTAResult
    clear: CLEARResult
    identity: IdentityResult

    def as_dict(self) -> dict[str, float | int]:
        """All fields under their official names (rates as fractions, counts as ints)."""
        out: dict[str, float | int] = {}
        out.update(self.hota.as_dict())
        out.update(self.clear.as_dict())
        out.update(self.identity.as_dict())
        return out


@dataclass(frozen=True)
class MOTEvaluation:
    """Per-sequence metrics (in input order) and their combination."""

    sequences: dict[str, MOTMetrics]
    combined: MOTMetrics

    def as_dict(self) -> dict[str, object]:
        """``{"sequences": {name: {...}}, "combined": {...}}`` with official field names."""
        return {
            "sequences": {name: m.as_dict() for name, m in self.sequences.items()},
            "combined": self.combined.as_dict(),
        }


def evaluate_mot_sequence(
    data: MOTSequenceData, clear_threshold: float = 0.5, identity_threshold: float = 0.5
) -> MOTMetrics:
    """HOTA, CLEAR and Identity of one sequence."""
    return MOTMetrics(
        hota=hota_metrics(data),
        clear=clear_metrics(data, threshold=clear_threshold),
        identity=identity_metrics(data, threshold=identity_threshold),
    )


def combine_mot(results: Sequence[MOTMetrics]) -> MOTMetrics:
    """Combine several sequences' metrics as the official kit does."""
    return MOTMetrics(
        hota=combine_hota([r.hota for r in results]),
        clear=combine_clear([r.clear for r in results]),
        identity=combine_identity([r.identity for r in results]),
    )


def evaluate_mot(
    sequences: Sequence[MOTSequenceData],
    clear_threshold: float = 0.5,
    identity_threshold: float = 0.5,
) -> MOTEvaluation:
    """Evaluate every sequence and combine them.

    Args:
        sequences: the per-sequence data (names must be unique).
        clear_threshold: IoU a CLEAR match needs (official: 0.5).
        identity_threshold: IoU for frames where two trajectories agree (official: 0.5).
    """
    per_seq: dict[str, MOTMetrics] = {}
    for data in sequences:
        if data.name in per_seq:
            raise ValueError(f"sequence {data.name!r} given twice")
        per_seq[data.name] = evaluate_mot_sequence(data, clear_threshold, identity_threshold)
    return MOTEvaluation(per_seq, combine_mot(list(per_seq.values())))
