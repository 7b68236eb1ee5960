"""trackkit.io."""
