"""ReID datasets: file-name conventions, protocols, crops (torch-free) and, in
:mod:`trackkit.reid.data.sampler` / :mod:`trackkit.reid.data.transforms`, training helpers."""
