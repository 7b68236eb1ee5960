"""trackkit.association."""
