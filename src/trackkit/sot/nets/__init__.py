"""Networks of the deep single-object trackers (PyTorch modules and ONNX helpers).

Importing this package does not import torch or onnxruntime; each module imports them itself.
"""
