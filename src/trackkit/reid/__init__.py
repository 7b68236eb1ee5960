"""Person re-identification by deep metric learning.

- :mod:`trackkit.reid.data` — dataset file-name conventions and protocols (torch-free), crops,
  the P x K sampler and augmentations;
- :mod:`trackkit.reid.models` — ResNet-style (last stride 1, BNNeck) and OSNet-like networks,
  OSNet as published (loading torchreid state_dicts), saving, loading, ONNX export (torch);
- :mod:`trackkit.reid.distill` — knowledge distillation from fixed teachers: relational and
  feature losses, the memory-mapped teacher-embedding cache (torch);
- :mod:`trackkit.reid.losses` — contrastive, triplet (batch-all/hard/soft), improved triplet,
  quadruplet, margin sample mining, lifted structure, group loss, label-smoothed softmax,
  center loss, deep mutual learning (torch);
- :mod:`trackkit.reid.objective` — the registered loss terms with their hyper-parameters and
  the ``--loss`` parser (``triplet-hard(margin=0.2)+ce``);
- :mod:`trackkit.reid.training` — the trainer (checkpoints, exact resume; torch);
- :mod:`trackkit.reid.embedder` — crops or boxes -> L2-normalised embeddings (ONNX, torch,
  colour histograms), the appearance model of DeepSORT-style trackers;
- :mod:`trackkit.reid.evaluate` and :mod:`trackkit.reid.rerank` — CMC/mAP/mINP over a
  protocol's trials, k-reciprocal re-ranking (numpy/scipy);
- :mod:`trackkit.reid.adapt` — batch-norm statistics re-estimated on unlabelled images of new
  cameras (AdaBN; torch).

This package imports nothing heavy itself; import the submodules you need.
"""
