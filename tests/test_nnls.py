import numpy as np
import pytest
from scipy.optimize import nnls

from calibration import physics
from spectro.nnls import Dictionary, nnls_batch


@pytest.fixture(scope="module")
def dictionary(ref_params):
    return Dictionary(physics.ideal_matrix(ref_params).T)


def _few_line_batch(params, n, rng, snr=30.0):
    S = np.zeros((n, params.n_wavelengths))
    for i in range(n):
        k = rng.integers(0, params.n_wavelengths - 101)
        S[i, k + rng.choice(101, rng.integers(1, 5), replace=False)] = rng.uniform(0.5, 1.0)
    Y = S @ physics.ideal_matrix(params)
    Y += rng.standard_normal(Y.shape) * np.sqrt(np.mean(Y**2, axis=1, keepdims=True) / 10 ** (snr / 10))
    return Y


def test_matches_scipy_on_the_device_matrix(dictionary, ref_params, rng):
    Y = _few_line_batch(ref_params, 24, rng)
    X = nnls_batch(dictionary, Y)
    A = dictionary.A
    for x, y in zip(X, Y):
        ref, _ = nnls(A, y)
        obj, obj_ref = np.sum((A @ x - y) ** 2), np.sum((A @ ref - y) ** 2)
        assert obj <= obj_ref * (1 + 1e-9) + 1e-15
        np.testing.assert_allclose(x, ref, atol=1e-6 * max(1.0, ref.max()))


@pytest.mark.parametrize("shape", [(20, 7), (30, 60), (64, 200)])
def test_matches_scipy_on_random_problems(shape, rng):
    A = rng.standard_normal(shape)
    Y = rng.standard_normal((10, shape[0]))
    X = nnls_batch(A, Y)
    for x, y in zip(X, Y):
        ref, _ = nnls(A, y)
        assert np.sum((A @ x - y) ** 2) == pytest.approx(np.sum((A @ ref - y) ** 2), rel=1e-9, abs=1e-12)


def test_kkt_conditions(dictionary, ref_params, rng):
    Y = _few_line_batch(ref_params, 16, rng)
    X = nnls_batch(dictionary, Y)
    assert np.all(X >= 0)
    grad = (Y - X @ dictionary.A.T) @ dictionary.A  # −∇ of ½‖Ax−y‖²
    scale = np.sqrt(dictionary.gram.diagonal().max()) * np.linalg.norm(Y, axis=1, keepdims=True)
    assert np.all(grad <= 1e-9 * scale)  # no free column would decrease the objective
    active = X > 0
    assert np.all(np.abs(grad[active]) <= 1e-7 * np.broadcast_to(scale, grad.shape)[active])


def test_early_stops(dictionary, ref_params, rng):
    Y = _few_line_batch(ref_params, 8, rng)
    X = nnls_batch(dictionary, Y, max_active=3)
    assert np.all((X > 0).sum(axis=1) <= 3)
    full = nnls_batch(dictionary, Y)
    r_full = np.sum((full @ dictionary.A.T - Y) ** 2, axis=1)
    target = 4 * r_full
    Xd = nnls_batch(dictionary, Y, residual_target=target)
    r = np.sum((Xd @ dictionary.A.T - Y) ** 2, axis=1)
    assert np.all(r <= target * (1 + 1e-9))
    assert np.all((Xd > 0).sum(axis=1) <= (full > 0).sum(axis=1))


def test_elastic_net_equals_augmented_nnls(rng):
    A = np.abs(rng.standard_normal((15, 40)))
    Y = np.abs(rng.standard_normal((6, 15)))
    alpha, beta = 0.3, 0.05
    X = nnls_batch(A, Y, alpha=alpha, beta=beta)
    # ½‖Ax−y‖² + ½β‖x‖² + αΣx = ½‖[A; √β I]x − [y; −α/√β]‖² + const
    A_aug = np.vstack([A, np.sqrt(beta) * np.eye(40)])
    for x, y in zip(X, Y):
        ref, _ = nnls(A_aug, np.r_[y, np.full(40, -alpha / np.sqrt(beta))])
        np.testing.assert_allclose(x, ref, atol=1e-8)


def test_rejects_bad_arguments(rng):
    A = rng.standard_normal((5, 9))
    with pytest.raises(ValueError, match="shape"):
        nnls_batch(A, rng.standard_normal((3, 4)))
    with pytest.raises(ValueError, match=">= 0"):
        nnls_batch(A, rng.standard_normal((3, 5)), alpha=-1.0)
