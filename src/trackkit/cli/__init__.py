"""The ``trackkit`` command line."""
