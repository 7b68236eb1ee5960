"""A mixin for the objects of trackkit that hold a file or a decoder open until ``close()``.

Readers and writers that stream (:class:`trackkit.io.mot_txt.MOTResultWriter`,
:class:`trackkit.io.video.VideoReader`, :class:`trackkit.io.video.VideoWriter`,
:class:`trackkit.viz.annotate.AnnotatedVideoWriter`) define ``close()`` and inherit the
context-manager protocol from :class:`Closing`: ``with X(...) as x:`` closes ``x`` on the way
out, also when an exception is raised.
"""

from __future__ import annotations

from types import TracebackType
from typing import TypeVar

__all__ = ["Closing"]

_C = TypeVar("_C", bound="Closing")


class Closing:
    """``with obj:`` returns ``obj`` and calls ``obj.close()`` on exit."""

    def close(self) -> None:
        """Release what the object holds (override; safe to call more than once)."""

    def __enter__(self: _C) -> _C:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
