"""trackkit: visual object tracking and re-identification.

Multi-object tracking by detection, single-object tracking, person re-identification and
evaluation (MOTChallenge CLEAR/Identity/HOTA, OTB/VOT, CMC/mAP) behind one package and one CLI.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
