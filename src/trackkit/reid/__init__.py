"""trackkit.reid."""
