"""trackkit.detectors."""
