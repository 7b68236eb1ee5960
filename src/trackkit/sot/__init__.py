"""trackkit.sot."""
