"""train, evaluate, export: these hand over to ``training`` (the [train] extra), imported
only inside the commands so the runtime never needs PyTorch."""

from __future__ import annotations

import sys
from pathlib import Path

from spectro.commands import EXIT_OK, UsageError, load_calibration, options


def _need_training(command: str):
    import importlib.util

    missing = [m for m in ("torch", "onnx") if importlib.util.find_spec(m) is None]
    if missing:
        raise UsageError(f"spectro {command} needs the [train] extra: pip install torch==2.13.0 -e '.[train]' (missing: {', '.join(missing)})")


def cmd_train(args) -> int:
    _need_training("train")
    from calibration.noise import REALISTIC
    from training.backbones import REGISTRY
    from training.dataset import DatasetConfig
    from training.models import CAEConfig
    from training.train import TrainConfig, train

    if args.arch not in REGISTRY:
        raise UsageError(f"unknown backbone {args.arch!r}; valid: {', '.join(REGISTRY)}")
    cal = load_calibration(args.calibration)
    data = DatasetConfig(per_k=args.per_k, snrs_db=tuple(args.snr), random_amplitudes=args.random_amplitudes, seed=args.seed)
    overrides = options(args.set)
    if args.arch != "cae" and args.latent is not None:
        overrides["latent" if args.arch != "dcae" else "latent_channels"] = args.latent
    train(
        cal, args.out, model_config=CAEConfig(channels=args.channels, global_hidden=args.global_hidden, window_rank=args.window_rank, select_rank=args.select_rank),
        data_config=data, train_config=TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed, patience=args.patience),
        noise_model=REALISTIC if args.noise == "realistic" else None, overwrite=args.overwrite, threads=args.threads,
        arch=args.arch, objective=args.objective, overrides=overrides,
    )
    return EXIT_OK


def cmd_evaluate(args) -> int:
    _need_training("evaluate")
    from calibration.fileio import atomic_output, check_output
    from calibration.noise import REALISTIC
    from spectro.guard import NoiseGuard
    from training import checkpoint, evaluate

    for path in (args.out, args.png):
        check_output(path, args.overwrite)
    cal = load_calibration(args.calibration)
    if Path(args.model).suffix == ".onnx":
        from spectro.denoiser import Denoiser

        den = Denoiser(args.model, calibration_id=cal.calibration_id, force=args.force, mode="batch")
        model_fn, about = evaluate.onnx_denoiser(den), f"ONNX {den.model_hash[:12]}, {den.metadata.get('quantisation', 'none')}, SNRs {den.metadata['training_snrs_db']}"
    else:
        model, meta = checkpoint.load(args.model, calibration_id=cal.calibration_id, force=args.force)
        model_fn = evaluate.torch_denoiser(model)
        about = f"trained {meta.get('created', '?')}, SNRs {meta.get('training_snrs_db')}, {'realistic' if meta.get('noise_model') else 'white'} noise"
    noise = REALISTIC if args.noise == "realistic" else None
    baselines = evaluate.tuned_baselines(cal, noise=noise)
    denoisers = {name: d for name, (d, _, _) in baselines.items()}
    denoisers["CAE"] = model_fn
    guard = NoiseGuard(cal)
    denoisers["CAE + guard (default pipeline)"] = lambda Y: guard(Y, model_fn(Y))[0]
    notes = {name: ", ".join(f"{k}={v}" for k, v in p.items()) for name, (_, p, _) in baselines.items()}
    results = evaluate.evaluate(cal, denoisers, trials=args.trials, noise=noise, log=lambda s: print(s, file=sys.stderr))
    text = (f"# Denoiser evaluation\n\ncalibration {cal.calibration_id} ({cal.device}); model {args.model} ({about}); "
            f"evaluated with {args.noise} noise; {args.trials} trials per separation\n\n"
            + evaluate.markdown(results, notes))
    with atomic_output(args.out, args.overwrite) as tmp:
        tmp.write_text(text)
    evaluate.figure(results, args.png)
    print(text)
    return EXIT_OK


def cmd_export(args) -> int:
    _need_training("export")
    try:
        from training.export import export
    except ImportError as exc:
        raise UsageError(f"spectro export needs onnx and onnxscript: pip install -e '.[train]' ({exc})") from None
    cal = load_calibration(args.calibration) if (args.calibration or args.int8) else None
    report = export(args.checkpoint, args.out, int8=args.int8, cal=cal, overwrite=args.overwrite, force=args.force,
                    log=lambda s: print(s, file=sys.stderr))
    line = f"wrote {report['path']}: {report['bytes'] / 1e6:.2f} MB, model_sha256 {report['model_sha256'][:16]}…"
    if args.int8:
        loss = ", ".join(f"{snr:g} dB: {v:+.2f}" for snr, v in report["loss_db"].items())
        line += f"; {report['bytes'] / report['float_bytes']:.0%} of the float size; SNR-gain loss vs float {loss}"
    print(line)
    return EXIT_OK


def register(sub) -> None:
    t = sub.add_parser("train", help="train a denoiser or autoencoder backbone for a calibration (needs the [train] extra)")
    t.add_argument("--calibration", help="calibration file (default: the shipped reference device)")
    t.add_argument("--out", required=True, help="checkpoint folder to create")
    t.add_argument("--overwrite", action="store_true", help="replace an existing checkpoint folder")
    t.add_argument("--arch", default="cae", help="backbone: linear, ae, dae, vae, cae (default), dcae")
    t.add_argument("--objective", help="reconstruct, denoise, noise or vae (default: the backbone's own)")
    t.add_argument("--latent", type=int, help="bottleneck size (latent channels for dcae); not for cae")
    t.add_argument("--set", action="append", metavar="KEY=VALUE", help="other backbone config field, e.g. hidden=(128,) beta=0.5 (repeatable)")
    t.add_argument("--epochs", type=int, default=40)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--per-k", type=int, default=10_000, help="samples per line count (the paper: 10,000 × {2, 3, 4})")
    t.add_argument("--snr", type=float, nargs="+", default=[30.0, 36.0], help="training SNRs in dB (the paper: 30 36)")
    t.add_argument("--noise", choices=["white", "realistic"], default="white", help="add the physics model's structured noise")
    t.add_argument("--random-amplitudes", action="store_true", help="line amplitudes U(0.5, 1) instead of 1")
    t.add_argument("--channels", type=int, default=16)
    t.add_argument("--global-hidden", type=int, default=128)
    t.add_argument("--window-rank", type=int, default=7, help="rank of the calibration-window projection fed to the network (0: plain CAE)")
    t.add_argument("--select-rank", type=int, default=3, help="leading window directions whose energy picks the window")
    t.add_argument("--batch-size", type=int, default=256)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--patience", type=int, default=6)
    t.add_argument("--threads", type=int, help="torch threads (default: all cores)")
    t.set_defaults(func=cmd_train)

    v = sub.add_parser("evaluate", help="compare the CAE with classical denoisers and the resolution bound (needs the [train] extra)")
    v.add_argument("--calibration", help="simulated calibration file (default: the shipped reference device)")
    v.add_argument("--model", required=True, help="checkpoint folder from spectro train, or an ONNX file from spectro export")
    v.add_argument("--out", default="evaluation.md", help="Markdown report")
    v.add_argument("--png", default="evaluation.png", help="figure")
    v.add_argument("--trials", type=int, default=32, help="two-line trials per separation")
    v.add_argument("--noise", choices=["white", "realistic"], default="white", help="add the physics model's structured noise under the white noise")
    v.add_argument("--force", action="store_true", help="use a model trained for another calibration")
    v.add_argument("--overwrite", action="store_true")
    v.set_defaults(func=cmd_evaluate)

    x = sub.add_parser("export", help="export a checkpoint to one verified, self-contained ONNX file (needs the [train] extra)")
    x.add_argument("checkpoint", help="checkpoint folder from spectro train")
    x.add_argument("--out", required=True, help="ONNX file to write (never overwritten unless --overwrite)")
    x.add_argument("--int8", action="store_true", help="static int8 quantisation (QDQ, per-channel), calibrated on the training synthesiser")
    x.add_argument("--calibration", help="the model's calibration (default: the shipped reference device; used by --int8)")
    x.add_argument("--force", action="store_true", help="export although the calibration differs from the model's")
    x.add_argument("--overwrite", action="store_true")
    x.set_defaults(func=cmd_export)
