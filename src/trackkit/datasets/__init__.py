"""trackkit.datasets."""
