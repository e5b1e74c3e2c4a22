"""Verification time of a model-signing signature over a ~1 GB model directory (goal: at least
1 GB/s with the files in page cache; hashing dominates).

Builds the model once under benchmarks/.work/verify-model (4 x 256 MiB of random bytes plus a
config), signs it with model-signing and a throwaway EC key (sha256, and blake3 for comparison),
warms the page cache, then times:
  - ``scanner verify DIR --key PUB`` end to end (a fresh process, as users run it),
  - the same verification in-process (``scanner.verify.modelsig.verify_model``),
  - model-signing's own CLI (``model_signing verify key``) on the same input, as the peer (it has
    no hashing option when verifying, so it cannot verify the blake3-signed copy),
  - ``openssl dgst -sha256`` over the same files: the single-core hashing floor.

Usage: python benchmarks/verify.py [--size-mib 1024] [--runs 3]   (run with the project's venv python)
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

WORK = Path(__file__).resolve().parent / ".work" / "verify-model"


def build(size_mib: int) -> tuple[Path, Path, Path]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    model, key, pub = WORK / "model", WORK / "key.pem", WORK / "pub.pem"
    parts = 4
    each = size_mib // parts << 20
    marker = WORK / f".built-{size_mib}"
    if not marker.exists():
        shutil.rmtree(WORK, ignore_errors=True)
        model.mkdir(parents=True)
        (model / "config.json").write_text('{"model_type": "llama"}')
        for i in range(parts):
            with (model / f"model-{i:05d}-of-{parts:05d}.safetensors").open("wb") as fh:
                for _ in range(each >> 24):
                    fh.write(os.urandom(1 << 24))
        k = ec.generate_private_key(ec.SECP256R1())
        key.write_bytes(
            k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        )
        pub.write_bytes(
            k.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
        marker.touch()
    return model, key, pub


def sign(model: Path, key: Path, algorithm: str) -> Path:
    from model_signing import hashing, signing

    sig = WORK / f"model-{algorithm}.sig"
    if not sig.exists():
        config = signing.Config().use_elliptic_key_signer(private_key=key)
        config.set_hashing_config(hashing.Config().use_file_serialization(hashing_algorithm=algorithm))  # type: ignore[arg-type]
        config.sign(model, sig)
    return sig


def timed(fn, runs: int) -> float | str:
    """Median seconds, or the failure's first line."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        try:
            fn()
        except SystemExit as exc:
            return str(exc).splitlines()[-1][:60]
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{(proc.stdout + proc.stderr).strip()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from scanner.verify.modelsig import verify_model

    model, key, pub = build(args.size_mib)
    files = sorted(p for p in model.iterdir() if p.is_file())
    size = sum(p.stat().st_size for p in files)
    sigs = {alg: sign(model, key, alg) for alg in ("sha256", "blake3")}
    for f in files:  # warm the page cache
        with f.open("rb") as fh:
            while fh.read(1 << 24):
                pass
    bindir = Path(sys.executable).parent
    rows = []
    for alg, sig in sigs.items():
        rows.append(
            (
                f"scanner verify ({alg}), CLI",
                timed(
                    lambda s=sig: run(
                        [str(bindir / "scanner"), "verify", str(model), "--bundle", str(s), "--key", str(pub)]
                    ),
                    args.runs,
                ),
            )
        )

        def in_process(s: Path = sig) -> None:
            result = verify_model(model, s, key=pub)
            assert result.verified, result.error

        rows.append((f"verify_model ({alg}), in-process", timed(in_process, args.runs)))
        peer = bindir / "model_signing"
        if peer.exists():
            rows.append(
                (
                    f"model_signing verify key ({alg})",
                    timed(
                        lambda s=sig, peer=peer: run(
                            [str(peer), "verify", "key", str(model), "--signature", str(s), "--public_key", str(pub)]
                        ),
                        args.runs,
                    ),
                )
            )
    if shutil.which("openssl"):
        rows.append(
            (
                "openssl dgst -sha256 (floor)",
                timed(lambda: run(["openssl", "dgst", "-sha256", *map(str, files)]), args.runs),
            )
        )
    print(f"model: {model} ({size / 1e9:.2f} GB in {len(files)} files, page cache warm), median of {args.runs}")
    print(f"{'what':<40}{'seconds':>9}{'GB/s':>8}")
    for label, t in rows:
        if isinstance(t, str):
            print(f"{label:<40}  FAILED: {t}")
        else:
            print(f"{label:<40}{t:>9.2f}{size / 1e9 / t:>8.2f}")


if __name__ == "__main__":
    main()
