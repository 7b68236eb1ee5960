"""Helpers shared by the tests of several folders, imported as ``helpers.<module>`` (``tests/``
is on ``sys.path`` through ``tests/conftest.py``)."""
