"""Core types: boxes (xyxy float, continuous pixels), detections and tracks."""

from trackkit.core.boxes import (
    cxcywh_to_xyxy,
    giou_matrix,
    iou_matrix,
    xywh_to_xyxy,
    xyxy_to_cxcywh,
    xyxy_to_xywh,
)
from trackkit.core.detections import Detections
from trackkit.core.tracks import Tracks

__all__ = [
    "Detections",
    "Tracks",
    "cxcywh_to_xyxy",
    "giou_matrix",
    "iou_matrix",
    "xywh_to_xyxy",
    "xyxy_to_cxcywh",
    "xyxy_to_xywh",
]
