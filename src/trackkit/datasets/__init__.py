"""Datasets trackkit makes itself: a synthetic multi-object scene with known ground truth."""

from trackkit.datasets.synthetic import FrameTruth, SceneConfig, SyntheticScene

__all__ = ["FrameTruth", "SceneConfig", "SyntheticScene"]
