"""training — PyTorch side of the toolkit (the ``[train]`` extra; the runtime never imports it).

* :mod:`training.dataset` — the paper's synthetic data set (numpy);
* :mod:`training.models` — the noise-predicting CAE;
* :mod:`training.train`, :mod:`training.checkpoint` — training and verified checkpoints;
* :mod:`training.baselines`, :mod:`training.evaluate` — classical denoisers and the
  side-by-side evaluation against the resolution bound;
* :mod:`training.default_model` — the shipped model for the reference device.
"""
