"""training — PyTorch side of the toolkit: data synthesis, denoiser models, training and
ONNX export. Needs the ``[train]`` extra; nothing in the runtime imports it.

Not built yet: see the training issue.
"""
