"""trackkit.motion."""
