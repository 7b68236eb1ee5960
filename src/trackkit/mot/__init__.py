"""trackkit.mot."""
