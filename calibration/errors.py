"""The project's exception tree.

It lives in the lowest layer (``calibration``) so that ``firmware_bridge``,
``spectro`` and ``training`` can all derive from it without importing upwards.
``spectro.errors`` re-exports it; user code should import from there.
"""

from __future__ import annotations


class SpectroError(Exception):
    """Root of every error this toolkit raises on purpose."""


class CalibrationError(SpectroError, ValueError):
    """A calibration matrix or calibration file is unusable (shape, values, rank, format)."""


class DataError(SpectroError, ValueError):
    """Input data (interferograms, recordings, sweep files) is malformed."""


class OutputExistsError(SpectroError, FileExistsError):
    """An output file exists and overwriting was not asked for."""


class ModelFormatError(SpectroError, ValueError):
    """A model checkpoint or exported model is malformed, tampered with, or for another device."""
