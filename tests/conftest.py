import numpy as np
import pytest

from calibration import reference
from calibration.physics import DeviceParams


@pytest.fixture(scope="session")
def ref_cal():
    return reference.load_reference()


@pytest.fixture(scope="session")
def ref_params() -> DeviceParams:
    return reference.reference_params()


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
