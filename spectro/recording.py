"""The recording file (HDF5, NeXus-style), owned here. See docs/formats.md.

    /                       @default="entry", @creator, @file_time, @schema_version
    /entry                  NXentry, @default = "spectra" when present, else "sweeps"
    /entry/sweeps           NXdata, @signal="interferogram", @axes=[".", "voltage_v"]
        interferogram (N, V)  raw detector readings, dtype kept as recorded   @units
        sequence      (N,)    int64 sweep sequence numbers
        voltage_v     (V,)    float64                                          @units="V"
    /entry/spectra          NXdata, @signal="spectrum", @axes=[".", "wavelength_nm"]
        spectrum      (N, W)  float32 reconstructed power per wavelength bin
        wavelength_nm (W,)    float64                                          @units="nm"
    /entry/truth            NXdata (simulated recordings only): the source spectrum
    /entry/process          NXprocess: program, version, date, method, calibration_id, input

The smallest readable recording holds only /entry/sweeps/interferogram.
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Iterator

import h5py
import numpy as np

from calibration.errors import DataError

SCHEMA_VERSION = 1
SWEEPS = "entry/sweeps"
INTERFEROGRAM = "entry/sweeps/interferogram"
SEQUENCE = "entry/sweeps/sequence"
SPECTRA = "entry/spectra"
#: Attributes of the optional per-sweep datasets (docs/formats.md).
COLUMN_ATTRS = {
    "denoised": {"units": "a.u.", "long_name": "denoised detector signal (raw where denoise_bypassed)"},
    "denoise_bypassed": {"long_name": "1 = the noise guard passed the raw sweep through undenoised"},
    "host_time": {"units": "s", "long_name": "host receive time, seconds since the Unix epoch (UTC)"},
    "device_time_us": {"units": "us", "long_name": "device timestamp, microseconds since device boot"},
    "status": {"long_name": "device status flags (docs/protocol.md)"},
    "anomaly_score": {"long_name": "fault detector score (reconstruction error / input scale², + level penalty)"},
    "anomaly_flag": {"long_name": "1 = the fault detector flagged this sweep"},
    "fault_class": {"long_name": "index into fault_classes (JSON on /entry or in /entry/process) of a flagged sweep's likely fault; -1 = not flagged"},
}
READ_CHUNK = 4096  # sweeps per read slab: 1 MiB of float32 interferograms


def now_iso() -> str:
    """Current time, ISO 8601 with the local zone offset."""
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")


def attr_value(v):
    """Attribute values every HDF5 reader understands: booleans as 0/1 (h5py writes bool as
    an enum type that HDF5 1.10 tools such as Debian's h5dump cannot read)."""
    return int(v) if isinstance(v, (bool, np.bool_)) else v


def _nx(group: h5py.Group, nx_class: str, **attrs) -> h5py.Group:
    group.attrs["NX_class"] = nx_class
    for k, v in attrs.items():
        group.attrs[k] = v
    return group


def _open_read(path: str) -> h5py.File:
    """Open for reading. A file still being written by ``spectro acquire``, or whose writer
    was killed, carries "open for write" flags that a plain open refuses; those are opened as
    an SWMR reader. (Not first: on a truncated file an SWMR reader retries for minutes.)"""
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        if "already open for write" not in str(exc):
            raise
    return h5py.File(path, "r", swmr=True)


class RecordingReader:
    """Open a recording for streaming reads; validates the layout up front.

    >>> with RecordingReader("rec.h5") as rec:
    ...     for start, ifg, seq in rec.iter_chunks():
    ...         ...
    """

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        if not os.path.isfile(self.path):
            raise DataError(f"recording {self.path} does not exist")
        if not h5py.is_hdf5(self.path):
            raise DataError(f"{self.path} is not an HDF5 file (expected a recording with /{INTERFEROGRAM})")
        try:
            self._f = _open_read(self.path)
        except OSError as exc:
            raise DataError(f"{self.path}: cannot open recording, the file is truncated or corrupt ({exc})") from exc
        try:
            self._validate()
        except Exception:
            self._f.close()
            raise

    def _validate(self) -> None:
        f = self._f
        if INTERFEROGRAM not in f or not isinstance(f[INTERFEROGRAM], h5py.Dataset):
            raise DataError(f"{self.path}: no /{INTERFEROGRAM} dataset; a recording needs at least that (N × voltages)")
        ds = f[INTERFEROGRAM]
        if ds.ndim != 2:
            raise DataError(f"{self.path}: /{INTERFEROGRAM} must be 2-D (sweeps × voltages), got shape {ds.shape}")
        if not (np.issubdtype(ds.dtype, np.floating) or np.issubdtype(ds.dtype, np.integer)):
            raise DataError(f"{self.path}: /{INTERFEROGRAM} must be numeric, got dtype {ds.dtype}")
        self.interferogram = ds
        self.sequence = f[SEQUENCE] if SEQUENCE in f else None
        if self.sequence is not None and self.sequence.shape != (ds.shape[0],):
            raise DataError(f"{self.path}: /{SEQUENCE} has shape {self.sequence.shape}, expected ({ds.shape[0]},)")

    @property
    def n_sweeps(self) -> int:
        return int(self.interferogram.shape[0])

    @property
    def n_voltages(self) -> int:
        return int(self.interferogram.shape[1])

    @property
    def voltage_v(self) -> np.ndarray | None:
        key = f"{SWEEPS}/voltage_v"
        return self._f[key][()] if key in self._f else None

    def attrs(self, group: str = "entry") -> dict:
        return dict(self._f[group].attrs) if group in self._f else {}

    def spectra(self) -> np.ndarray | None:
        """All reconstructed spectra (N, W) of an output recording, or None (small files only:
        use iter_chunks-style slabs of /entry/spectra/spectrum for large ones)."""
        key = f"{SPECTRA}/spectrum"
        return self._f[key][()] if key in self._f else None

    def column(self, name: str) -> np.ndarray | None:
        """A per-sweep dataset of /entry/sweeps (e.g. ``denoised``, ``host_time``), or None
        (whole dataset: small files only)."""
        key = f"{SWEEPS}/{name}"
        return self._f[key][()] if key in self._f else None

    def truth(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(wavelength_nm, source spectrum) of a simulated recording, else None."""
        if "entry/truth/spectrum" not in self._f:
            return None
        return self._f["entry/truth/wavelength_nm"][()], self._f["entry/truth/spectrum"][()]

    def iter_chunks(self, size: int = READ_CHUNK) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """Yield (start, interferograms (n, V), sequence (n,)) slabs; memory stays bounded."""
        n = self.n_sweeps
        for start in range(0, n, size):
            stop = min(start + size, n)
            try:
                ifg = self.interferogram[start:stop]
                seq = self.sequence[start:stop] if self.sequence is not None else np.arange(start, stop)
            except OSError as exc:
                raise DataError(f"{self.path}: cannot read sweeps {start}–{stop - 1}, the file is truncated or corrupt ({exc})") from exc
            yield start, ifg, np.asarray(seq, dtype=np.int64)

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> RecordingReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class RecordingWriter:
    """Create a recording and append sweeps (and spectra) to resizable, chunked datasets.

    Datasets: interferogram in ``ifg_dtype``, spectra float32 (gzip + shuffle). Write to a
    temporary path and move it into place (:func:`calibration.fileio.atomic_output`).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        n_voltages: int,
        voltage_v: np.ndarray | None = None,
        wavelength_nm: np.ndarray | None = None,
        ifg_dtype=np.float32,
        entry_attrs: dict | None = None,
        columns: dict[str, tuple] | None = None,
        swmr: bool = False,
    ):
        from spectro import __version__

        # 1.10 object formats: SWMR needs them, and HDF5 1.10 tools (Debian's h5dump) still read them.
        self._f = h5py.File(path, "w-", libver=("v110", "v110"))
        self._swmr = swmr
        f = self._f
        f.attrs.update({"default": "entry", "creator": f"spectro {__version__}", "file_time": now_iso(), "schema_version": SCHEMA_VERSION})
        entry = _nx(f.create_group("entry"), "NXentry", default="spectra" if wavelength_nm is not None else "sweeps")
        for k, v in (entry_attrs or {}).items():
            entry.attrs[k] = attr_value(v)
        sweeps = _nx(entry.create_group("sweeps"), "NXdata", signal="interferogram", axes=[".", "voltage_v"])
        v = int(n_voltages)
        rows = max(1, 65536 // (v * np.dtype(ifg_dtype).itemsize))
        self.ifg = sweeps.create_dataset("interferogram", shape=(0, v), maxshape=(None, v), dtype=ifg_dtype, chunks=(rows, v))
        self.ifg.attrs.update({"units": "a.u.", "long_name": "detector signal"})
        self.seq = sweeps.create_dataset("sequence", shape=(0,), maxshape=(None,), dtype=np.int64, chunks=(4096,))
        # Further per-sweep datasets beside the interferogram: name → (dtype, width or None).
        self.columns: dict[str, h5py.Dataset] = {}
        for name, (dtype, width) in (columns or {}).items():
            shape, chunks = ((0, width), (rows, width)) if width else ((0,), (4096,))
            ds = sweeps.create_dataset(name, shape=shape, maxshape=(None, *shape[1:]), dtype=dtype, chunks=chunks)
            ds.attrs.update(COLUMN_ATTRS.get(name, {}))
            self.columns[name] = ds
        if voltage_v is not None:
            sweeps.create_dataset("voltage_v", data=np.asarray(voltage_v, np.float64)).attrs["units"] = "V"
        self.spec = None
        if wavelength_nm is not None:
            spectra = _nx(entry.create_group("spectra"), "NXdata", signal="spectrum", axes=[".", "wavelength_nm"])
            w = len(wavelength_nm)
            self.spec = spectra.create_dataset(
                "spectrum", shape=(0, w), maxshape=(None, w), dtype=np.float32, chunks=(max(1, 65536 // (4 * w)), w),
                compression="gzip", compression_opts=1, shuffle=True,
            )
            self.spec.attrs.update({"units": "a.u./bin", "long_name": "reconstructed spectrum"})
            spectra.create_dataset("wavelength_nm", data=np.asarray(wavelength_nm, np.float64)).attrs["units"] = "nm"

        if swmr:
            # Readers may open the file while it grows; from here on no new objects or
            # attributes, only appends (finish() adds the closing metadata after SWMR ends).
            self._f.swmr_mode = True

    @property
    def file(self) -> h5py.File:
        return self._f

    @property
    def n_sweeps(self) -> int:
        return int(self.ifg.shape[0])

    def append(self, interferogram: np.ndarray, sequence: np.ndarray, spectrum: np.ndarray | None = None, **columns: np.ndarray) -> None:
        """Append n sweeps: every declared column needs n rows."""
        unknown = set(columns) - set(self.columns)
        if unknown:
            raise ValueError(f"unknown sweep columns {sorted(unknown)}; declared: {sorted(self.columns)}")
        n = len(interferogram)
        start = self.ifg.shape[0]
        pairs = [(self.ifg, interferogram), (self.seq, sequence), (self.spec, spectrum)] + [(ds, columns.get(k)) for k, ds in self.columns.items()]
        for ds, data in pairs:
            if ds is None:
                continue
            if data is None or len(data) != n:
                raise ValueError(f"append needs {n} rows for {ds.name}, got {None if data is None else len(data)}")
        for ds, data in pairs:
            if ds is not None:
                ds.resize(start + n, axis=0)
                ds[start:start + n] = data

    def flush(self) -> None:
        """Make everything appended so far durable and visible to SWMR readers."""
        self._f.flush()

    def add_truth(self, wavelength_nm: np.ndarray, spectrum: np.ndarray, lines_nm: np.ndarray | None = None) -> None:
        g = _nx(self._f["entry"].create_group("truth"), "NXdata", signal="spectrum", axes=["wavelength_nm"])
        g.create_dataset("spectrum", data=np.asarray(spectrum, np.float64)).attrs["units"] = "a.u./bin"
        g.create_dataset("wavelength_nm", data=np.asarray(wavelength_nm, np.float64)).attrs["units"] = "nm"
        if lines_nm is not None:
            g.create_dataset("lines_nm", data=np.asarray(lines_nm, np.float64)).attrs["units"] = "nm"

    def add_process(self, **fields) -> None:
        from spectro import __version__

        g = _nx(self._f["entry"].create_group("process"), "NXprocess")
        g.create_dataset("program", data="spectro")
        g.create_dataset("version", data=__version__)
        g.create_dataset("date", data=now_iso())
        for k, v in fields.items():
            g.create_dataset(k, data=v if v is not None else "")

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
