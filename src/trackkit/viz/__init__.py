"""trackkit.viz."""
