"""``spectro export``: a checkpoint → one self-contained, verified ONNX file for the device.

The graph takes raw interferograms and returns the predicted noise and the denoised sweep
(contract and metadata keys: :mod:`spectro.denoiser`). Before the file is written it must
pass, in this order: ``onnx.checker`` (full check), onnxruntime against PyTorch at batch 1
and 7, and ``onnx.reference.ReferenceEvaluator`` (an independent implementation of the ONNX
operators) against PyTorch. Any failure leaves no file behind.

``int8=True`` adds static QDQ quantisation with onnxruntime (per-channel weights, activations
calibrated on the training synthesiser's mixtures, after ``quant_pre_process``). The window
bases feed an Einsum, which onnxruntime does not quantise; they are stored as float16 (cast
in the graph) — int8 bases were measured to cost 1.5–7 dB of SNR gain, because a projection
error is proportional to the signal, not to the noise. Only Conv and Gemm are quantised:
int8 activations on the normalisation and projection arithmetic cost up to 10 dB. The int8
model must keep its SNR gain within :data:`INT8_MAX_LOSS_DB` of the float model on fresh
mixtures, or it is not written.
"""

from __future__ import annotations

import hashlib
import inspect
import io
import json
import logging
import os
import tempfile
import warnings
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper

from calibration.errors import ModelFormatError, SpectroError
from calibration.fileio import atomic_output
from calibration.matrix import Calibration
from spectro import __version__
from spectro.denoiser import FORMAT, INPUT, OUTPUTS
from training import checkpoint

OPSET = 18
#: Parity tolerance: max |onnx − torch| per element ≤ PARITY_RTOL · RMS of that sweep. float32
#: has a 6e-8 unit round-off and the graph ~30 layers deep; measured differences are ~1e-6 of
#: the RMS, so 1e-5 leaves a 10× margin and still catches any real deviation (a wrong
#: normalisation or a dropped layer is ≥ 1e-2).
PARITY_RTOL = 1e-5
INT8_MAX_LOSS_DB = 1.0  # refuse an int8 model that loses more SNR gain than this (target ≤ 0.5)


class ExportError(SpectroError):
    """A model failed one of the export checks."""


class _Graph(torch.nn.Module):
    """The device contract around the CAE: interferogram → (noise, denoised)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, interferogram: torch.Tensor):
        out = self.model(interferogram)
        if isinstance(out, torch.Tensor):  # the CAE predicts the noise
            return out, interferogram - out
        return interferogram - out.recon, out.recon  # autoencoders reconstruct the sweep


def graph_sha256(proto: onnx.ModelProto) -> str:
    """The model's identity: SHA-256 of its serialised graph (metadata excluded)."""
    return hashlib.sha256(proto.graph.SerializeToString(deterministic=True)).hexdigest()


def to_onnx_graph(module: torch.nn.Module, length: int, input_name: str, output_names) -> onnx.ModelProto:
    """Trace ``module`` (one (N, length) input) with the dynamo exporter; dynamic batch axis
    (traced at batch 2, so it is not frozen at 1)."""
    module = module.eval()
    example = torch.rand(2, length) + 0.5
    batch = torch.export.Dim("batch", min=1)
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    with redirect_stdout(io.StringIO()), warnings.catch_warnings():  # the exporter narrates its steps on stdout
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            module, (example,), dynamo=True, opset_version=OPSET, input_names=[input_name], output_names=list(output_names),
            dynamic_shapes={next(iter(inspect.signature(module.forward).parameters)): {0: batch}}, external_data=False, verbose=False,
        )
    return program.model_proto


def to_onnx(model) -> onnx.ModelProto:
    """The denoiser contract around a model: interferogram → (noise, denoised)."""
    return to_onnx_graph(_Graph(model), model.config.length, INPUT, OUTPUTS)


def set_metadata(proto: onnx.ModelProto, model, meta: dict, quantisation: str = "none") -> None:
    arch = meta.get("arch", "cae")
    if arch == "cae":
        norm = {"kind": "rms", "noise_gain": model.config.noise_gain,
                "contract": "scale = sqrt(mean(x^2)) per sweep; noise = net(x/scale) * scale / noise_gain; denoised = x - noise (all inside the graph)"}
    else:
        norm = {"kind": model.config.normalise, "scale": model.config.scale,
                "contract": "s = sqrt(mean(x^2)) per sweep (rms) or the fixed scale; denoised = decoder(encoder(x/s)) * s; noise = x - denoised"}
    props = {
        "spectro.format": FORMAT, "calibration_id": str(meta.get("calibration_id", "")), "device": str(meta.get("device", "")),
        "normalisation": json.dumps(norm), "architecture": json.dumps({"arch": arch, "objective": meta.get("objective", "noise"), **model.config.to_dict()}),
        "training_snrs_db": json.dumps(meta.get("training_snrs_db", [])), "package_version": __version__,
        "created": str(meta.get("created", "")), "quantisation": quantisation, "model_sha256": graph_sha256(proto),
    }
    del proto.metadata_props[:]
    helper.set_model_props(proto, props)


def _fresh_interferograms(n: int, length: int, rng: np.random.Generator) -> np.ndarray:
    """Positive, fringe-like random sweeps (not from the training distribution)."""
    v = np.linspace(0.0, 1.0, length)
    freq = rng.uniform(5, 60, (n, 3, 1))
    phase = rng.uniform(0, 2 * np.pi, (n, 3, 1))
    amp = rng.uniform(0.1, 0.5, (n, 3, 1))
    x = 1.0 + (amp * np.cos(2 * np.pi * freq * v**2 + phase)).sum(axis=1) + 0.03 * rng.standard_normal((n, length))
    return x.astype(np.float32)


def _compare(name: str, outputs, got: list[np.ndarray], want: tuple[np.ndarray, ...], x: np.ndarray) -> float:
    # Per-sweep outputs (N, V) are compared against the sweep's RMS; scores and
    # probabilities against max(|value|, 1).
    rms = np.sqrt(np.mean(x.astype(np.float64) ** 2, axis=1, keepdims=True))
    worst = 0.0
    for out, g, w in zip(outputs, got, want):
        if g.shape != w.shape:
            raise ExportError(f"{name}: output {out!r} has shape {g.shape}, PyTorch gives {w.shape}")
        scale = rms if w.shape == x.shape else np.maximum(np.abs(w), 1.0)
        err = float(np.max(np.abs(g.astype(np.float64) - w) / scale))
        if not err <= PARITY_RTOL:
            raise ExportError(f"{name}: output {out!r} differs from PyTorch by {err:.2e} (relative; tolerance {PARITY_RTOL:g}, batch {len(x)})")
        worst = max(worst, err)
    return worst


def verify_outputs(proto: onnx.ModelProto, torch_fn, length: int, input_name: str, output_names, seed: int | None = None) -> dict:
    """The three export checks against ``torch_fn(x) -> tuple of arrays``; raises
    :class:`ExportError` on the first failure, returns the worst relative differences."""
    import onnxruntime as ort
    from onnx.reference import ReferenceEvaluator

    try:
        onnx.checker.check_model(proto, full_check=True)
    except onnx.checker.ValidationError as exc:
        raise ExportError(f"onnx.checker rejected the model: {str(exc).splitlines()[0]}") from None
    seed = int(np.random.SeedSequence().entropy % 2**32) if seed is None else seed
    rng = np.random.default_rng(seed)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    reference = ReferenceEvaluator(proto)
    report = {"seed": seed}
    outs = list(output_names)
    for batch in (1, 7):
        x = _fresh_interferograms(batch, length, rng)
        with torch.no_grad():
            want = torch_fn(x)
        report[f"onnxruntime_batch{batch}"] = _compare(f"onnxruntime (seed {seed})", outs, session.run(outs, {input_name: x}), want, x)
        report[f"reference_batch{batch}"] = _compare(f"onnx.reference (seed {seed})", outs, reference.run(outs, {input_name: x}), want, x)
    return report


def verify(proto: onnx.ModelProto, model, seed: int | None = None) -> dict:
    """The export checks for a denoiser (outputs noise, denoised)."""
    graph = _Graph(model.eval())
    return verify_outputs(proto, lambda x: tuple(t.double().numpy() for t in graph(torch.from_numpy(x))), model.config.length, INPUT, OUTPUTS, seed)


# ---------------------------------------------------------------------------- int8 --

def quantise_int8(float_proto: onnx.ModelProto, cal: Calibration, *, samples: int = 512, seed: int = 12345, op_types=("Conv", "Gemm"), exclude=()) -> onnx.ModelProto:
    """Static QDQ int8 quantisation calibrated on synthesiser mixtures of ``cal``."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from training.dataset import DatasetConfig, synthesize

    data = synthesize(cal, DatasetConfig(per_k=max(1, samples // 6), seed=seed)).noisy

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.batches = iter([{INPUT: data[i:i + 64]} for i in range(0, len(data), 64)])

        def get_next(self):
            return next(self.batches, None)

    with tempfile.TemporaryDirectory() as tmp:
        src, pre, out = (Path(tmp) / n for n in ("float.onnx", "pre.onnx", "int8.onnx"))
        onnx.save(float_proto, src)
        quant_pre_process(os.fspath(src), os.fspath(pre), skip_symbolic_shape=True)
        quantize_static(os.fspath(pre), os.fspath(out), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, op_types_to_quantize=op_types, nodes_to_exclude=exclude)
        proto = onnx.load(os.fspath(out))
    _half_bases(proto)
    onnx.checker.check_model(proto, full_check=True)
    return proto


def snr_gains(proto_bytes: bytes, cal: Calibration, snrs=(25.0, 30.0, 35.0), per_k: int = 200, seed: int = 4242) -> dict[float, float]:
    """SNR gain (dB, the paper's definition) of an ONNX model on fresh mixtures at each SNR."""
    import onnxruntime as ort

    from calibration.noise import snr_db
    from training.dataset import DatasetConfig, synthesize

    session = ort.InferenceSession(proto_bytes, providers=["CPUExecutionProvider"])
    out = {}
    for snr in snrs:
        d = synthesize(cal, DatasetConfig(per_k=per_k, snrs_db=(snr,), seed=seed))
        den = session.run(["denoised"], {INPUT: d.noisy})[0].astype(np.float64)
        clean = d.clean.astype(np.float64)
        out[snr] = float(np.mean(snr_db(clean, den)) - np.mean(snr_db(clean, d.noisy.astype(np.float64))))
    return out


def _half_bases(proto: onnx.ModelProto, min_size: int = 100_000) -> None:
    """Store large float initialisers onnxruntime left float (the window bases) as float16,
    cast back to float32 in the graph."""
    for init in list(proto.graph.initializer):
        if init.data_type != onnx.TensorProto.FLOAT or np.prod(init.dims) < min_size:
            continue
        w = numpy_helper.to_array(init)
        name = init.name
        proto.graph.initializer.remove(init)
        proto.graph.initializer.append(numpy_helper.from_array(w.astype(np.float16), f"{name}_fp16"))
        proto.graph.node.insert(0, helper.make_node("Cast", [f"{name}_fp16"], [name], to=onnx.TensorProto.FLOAT, name=f"{name}_cast"))


# ---------------------------------------------------------------------------- entry --

def export(checkpoint_dir: str | os.PathLike, out: str | os.PathLike, *, int8: bool = False, cal: Calibration | None = None,
           overwrite: bool = False, force: bool = False, log=lambda s: None) -> dict:
    """Export, verify, and write ``out`` atomically; returns a report (checks, sizes, gains).

    ``cal`` (needed for ``int8``: calibration data and the SNR-gain check) must be the
    calibration the model was trained for unless ``force``.
    """
    from calibration.fileio import check_output

    check_output(out, overwrite)
    model, meta = checkpoint.load(checkpoint_dir, calibration_id=cal.calibration_id if cal is not None else None, force=force)
    proto = to_onnx(model)
    set_metadata(proto, model, meta)
    report = {"checks": verify(proto, model)}
    log(f"float model verified: checker, onnxruntime and reference parity ≤ {max(v for k, v in report['checks'].items() if k != 'seed'):.1e} × RMS")
    if int8:
        if cal is None:
            raise SpectroError("--int8 needs the model's calibration (its mixtures calibrate the quantiser)")
        float_bytes = proto.SerializeToString()
        qproto = quantise_int8(proto, cal)
        set_metadata(qproto, model, meta, quantisation="int8-qdq")
        float_gain, int8_gain = snr_gains(float_bytes, cal), snr_gains(qproto.SerializeToString(), cal)
        loss = {snr: float_gain[snr] - int8_gain[snr] for snr in float_gain}
        report.update(float_bytes=len(float_bytes), float_gain_db=float_gain, int8_gain_db=int8_gain, loss_db=loss)
        if max(loss.values()) > INT8_MAX_LOSS_DB:
            raise ExportError(f"the int8 model loses {max(loss.values()):.2f} dB of SNR gain against the float model (limit {INT8_MAX_LOSS_DB} dB); not written")
        proto = qproto
    data = proto.SerializeToString()
    if len(data) > 2**31 - 1:
        raise ModelFormatError("the model exceeds 2 GB and cannot be one self-contained ONNX file")
    with atomic_output(out, overwrite) as tmp:
        Path(tmp).write_bytes(data)
    report.update(path=os.fspath(out), bytes=len(data), model_sha256=graph_sha256(proto))
    return report
