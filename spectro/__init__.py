"""spectro — the runtime of the MEMS computational spectrometer toolkit.

Reconstruction (:mod:`spectro.reconstruct`), metrics (:mod:`spectro.metrics`), recording
files (:mod:`spectro.recording`) and the ``spectro`` command line (:mod:`spectro.cli`).
Never imports torch: bench PCs and devices run numpy, scipy, h5py, onnxruntime.
"""

__version__ = "0.1.0"

from spectro.errors import CalibrationError, DataError, OutputExistsError, SpectroError  # noqa: E402
from spectro.reconstruct import DEFAULT_METHOD, METHODS, Reconstructor  # noqa: E402

__all__ = [
    "__version__", "CalibrationError", "DataError", "DEFAULT_METHOD", "METHODS", "OutputExistsError",
    "Reconstructor", "SpectroError",
]
