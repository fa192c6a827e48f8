import numpy as np
import pytest
from scipy.optimize import nnls

from calibration import physics
from spectro import nnls as nnls_module
from spectro.nnls import Dictionary, nnls_batch

BACKENDS = ["numpy", pytest.param("c", marks=pytest.mark.skipif(nnls_module._kernel is None, reason="C kernel not built"))]


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


@pytest.mark.parametrize("backend", BACKENDS)
def test_matches_scipy_on_the_device_matrix(backend, dictionary, ref_params, rng):
    Y = _few_line_batch(ref_params, 24, rng)
    X = nnls_batch(dictionary, Y, backend=backend)
    A = dictionary.A
    for x, y in zip(X, Y):
        ref, _ = nnls(A, y)
        obj, obj_ref = np.sum((A @ x - y) ** 2), np.sum((A @ ref - y) ** 2)
        assert obj <= obj_ref * (1 + 1e-9) + 1e-15
        np.testing.assert_allclose(x, ref, atol=1e-6 * max(1.0, ref.max()))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape", [(20, 7), (30, 60), (64, 200)])
def test_matches_scipy_on_random_problems(backend, shape, rng):
    A = rng.standard_normal(shape)
    Y = rng.standard_normal((10, shape[0]))
    X = nnls_batch(A, Y, backend=backend)
    for x, y in zip(X, Y):
        ref, _ = nnls(A, y)
        assert np.sum((A @ x - y) ** 2) == pytest.approx(np.sum((A @ ref - y) ** 2), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_kkt_conditions(backend, dictionary, ref_params, rng):
    Y = _few_line_batch(ref_params, 16, rng)
    X = nnls_batch(dictionary, Y, backend=backend)
    assert np.all(X >= 0)
    grad = (Y - X @ dictionary.A.T) @ dictionary.A  # −∇ of ½‖Ax−y‖²
    scale = np.sqrt(dictionary.gram.diagonal().max()) * np.linalg.norm(Y, axis=1, keepdims=True)
    assert np.all(grad <= 1e-9 * scale)  # no free column would decrease the objective
    active = X > 0
    assert np.all(np.abs(grad[active]) <= 1e-7 * np.broadcast_to(scale, grad.shape)[active])


@pytest.mark.parametrize("backend", BACKENDS)
def test_early_stops(backend, dictionary, ref_params, rng):
    Y = _few_line_batch(ref_params, 8, rng)
    X = nnls_batch(dictionary, Y, max_active=3, backend=backend)
    assert np.all((X > 0).sum(axis=1) <= 3)
    full = nnls_batch(dictionary, Y, backend=backend)
    r_full = np.sum((full @ dictionary.A.T - Y) ** 2, axis=1)
    target = 4 * r_full
    Xd = nnls_batch(dictionary, Y, residual_target=target, backend=backend)
    r = np.sum((Xd @ dictionary.A.T - Y) ** 2, axis=1)
    assert np.all(r <= target * (1 + 1e-9))
    assert np.all((Xd > 0).sum(axis=1) <= (full > 0).sum(axis=1))


@pytest.mark.parametrize("backend", BACKENDS)
def test_elastic_net_equals_augmented_nnls(backend, rng):
    A = np.abs(rng.standard_normal((15, 40)))
    Y = np.abs(rng.standard_normal((6, 15)))
    alpha, beta = 0.3, 0.05
    X = nnls_batch(A, Y, alpha=alpha, beta=beta, backend=backend)
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


@pytest.mark.skipif(nnls_module._kernel is None, reason="C kernel not built")
def test_backends_agree(dictionary, ref_params, rng):
    Y = _few_line_batch(ref_params, 40, rng, snr=25.0)
    np.testing.assert_allclose(nnls_batch(dictionary, Y, backend="c"), nnls_batch(dictionary, Y, backend="numpy"), atol=1e-7)


@pytest.mark.parametrize("stride", [1, 3, 7])
def test_coarse_pivoting_changes_work_not_answer(dictionary, ref_params, rng, stride, monkeypatch):
    Y = _few_line_batch(ref_params, 16, rng)
    exact = nnls_batch(dictionary, Y, backend="numpy")
    monkeypatch.setattr(nnls_module, "PICK_STRIDE", stride)
    np.testing.assert_allclose(nnls_batch(dictionary, Y), exact, atol=1e-7)


def test_out_parameter(dictionary, ref_params, rng):
    Y = _few_line_batch(ref_params, 5, rng)
    out = np.full((5, dictionary.shape[1]), 7.0, dtype=np.float32)
    res = nnls_batch(dictionary, Y, out=out)
    assert res is out and out.dtype == np.float32
    np.testing.assert_allclose(out, nnls_batch(dictionary, Y), rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="out must have shape"):
        nnls_batch(dictionary, Y, out=np.zeros((4, 3)))


def test_unknown_backend(rng):
    with pytest.raises(ValueError, match="valid: auto, c, numpy"):
        nnls_batch(rng.standard_normal((4, 6)), rng.standard_normal((2, 4)), backend="gpu")
