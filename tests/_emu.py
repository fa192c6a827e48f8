"""An emulated spectrometer served from a thread, for the bridge and acquisition tests."""

import contextlib
import threading

from calibration import reference, sources
from calibration.noise import NoiseModel
from firmware_bridge.emulator import EmulatedDevice, EmulatorConfig
from firmware_bridge.serve import Faults, serve

SOURCE = "lines:1530@0.5,1531.2@0.4,1600@0.3"


def device(seed=0, source=SOURCE, snr=35.0):
    params = reference.reference_params()
    spectrum, _ = sources.parse_source(source, params.wavelengths_nm())
    return EmulatedDevice(params, spectrum, NoiseModel(white_snr_db=snr), EmulatorConfig(seed=seed))


@contextlib.contextmanager
def served(transport, faults=Faults(), rate=1000.0, seed=0, source=SOURCE):
    dev, stop = device(seed, source), threading.Event()
    th = threading.Thread(target=serve, args=(dev, transport), kwargs=dict(rate_hz=rate, faults=faults, stop=stop), daemon=True)
    th.start()
    try:
        yield dev
    finally:
        stop.set()
        th.join(5)
        transport.close()
