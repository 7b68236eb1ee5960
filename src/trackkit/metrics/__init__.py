"""trackkit.metrics."""
