import numpy as np
import pytest

from trackkit.core import Detections, Tracks
from trackkit.core.detections import InvalidDetectionsError
from trackkit.errors import TrackkitError


def test_construct_index_and_empty() -> None:
    d = Detections([[0, 0, 1, 1], [2, 2, 4, 5], [1, 1, 2, 2]], [0.9, 0.5, 0.1], class_ids=[0, 1, 0])
    assert len(d) == 3
    assert len(d[1]) == 1 and d[1].scores[0] == 0.5
    assert len(d[d.scores > 0.3]) == 2
    assert d[[2, 0]].class_ids.tolist() == [0, 0]
    assert len(d[1:]) == 2
    e = Detections.empty()
    assert len(e) == 0 and e.xyxy.shape == (0, 4)


def test_arrays_are_read_only_copies() -> None:
    boxes = np.array([[0.0, 0.0, 1.0, 1.0]])
    d = Detections(boxes)
    boxes[0, 0] = 0.5
    assert d.xyxy[0, 0] == 0.0
    with pytest.raises(ValueError):
        d.xyxy[0, 0] = 3.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"xyxy": [[0, 0, 1, np.nan]]},
        {"xyxy": [[0, 0, 1, np.inf]]},
        {"xyxy": [[2, 0, 1, 1]]},
        {"xyxy": [[0, 0, 1]]},
        {"xyxy": [[0, 0, 1, 1]], "scores": [0.1, 0.2]},
        {"xyxy": [[0, 0, 1, 1]], "embeddings": np.zeros((2, 8))},
    ],
)
def test_invalid_input_is_a_clear_error(kwargs: dict) -> None:
    with pytest.raises(InvalidDetectionsError):
        Detections(**kwargs)


def test_concatenate_and_embeddings() -> None:
    a = Detections([[0, 0, 1, 1]], embeddings=np.ones((1, 4)))
    b = Detections([[1, 1, 2, 2]], embeddings=np.zeros((1, 4)))
    c = Detections.concatenate([a, b])
    assert c.embeddings is not None and c.embeddings.shape == (2, 4)
    with pytest.raises(InvalidDetectionsError):
        Detections.concatenate([a, Detections([[0, 0, 1, 1]])])


def test_tracks_rejects_duplicate_ids() -> None:
    t = Tracks([[0, 0, 1, 1], [1, 1, 2, 2]], [3, 4], det_index=[1, -1])
    assert t.det_index.tolist() == [1, -1]
    with pytest.raises(TrackkitError):
        Tracks([[0, 0, 1, 1], [1, 1, 2, 2]], [3, 3])
