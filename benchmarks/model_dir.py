"""A directory of mixed real-format model files: `scanner scan` against picklescan and modelscan.

    .venv/bin/python benchmarks/model_dir.py [--copies 9] [--runs 3]

The directory is written here by the libraries themselves (torch zip and legacy checkpoints,
joblib, numpy .npy/.npz, a GGUF file with a real-size 150k-token vocabulary, Keras HDF5 files,
ONNX, safetensors, plain pickles), ``--copies`` of each (81 files by default). Goal (issue 19):
`scanner scan` within 1.5x picklescan's time, with every format still checked (picklescan reads
pickles only). Peers are installed in their own venvs under benchmarks/.work/ on first run.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "benchmarks" / ".work"
sys.path.insert(0, str(REPO))

from benchmarks.models import PEERS, run, venv  # noqa: E402


def generate(copies: int) -> Path:
    import gguf
    import h5py
    import joblib
    import numpy as np
    import onnx
    import torch
    from onnx import TensorProto, helper
    from safetensors.numpy import save_file

    root = WORK / f"model-dir-mixed-{copies}"
    if root.exists():
        return root
    tmp = root.with_suffix(".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    keras_config = {
        "class_name": "Sequential",
        "config": {"name": "s", "layers": [{"class_name": "Dense", "config": {"name": "d", "units": 8}}]},
    }
    for i in range(copies):
        torch.save({"w": torch.randn(256, 256), "b": torch.zeros(256)}, tmp / f"zip{i}.pt")
        torch.save({"w": torch.randn(128)}, tmp / f"legacy{i}.bin", _use_new_zipfile_serialization=False)
        joblib.dump({"coef": np.arange(4096.0), "names": ["a", "b"]}, tmp / f"est{i}.joblib")
        np.save(tmp / f"arr{i}.npy", np.arange(1 << 16, dtype=np.float32))
        np.savez(tmp / f"arrs{i}.npz", a=np.arange(1024), b=np.ones(16))
        save_file({"w": np.zeros((512, 512), dtype=np.float32)}, str(tmp / f"w{i}.safetensors"))
        (tmp / f"vocab{i}.pkl").write_bytes(pickle.dumps({"vocab": {str(j): j for j in range(5000)}}, protocol=4))
        with h5py.File(tmp / f"keras{i}.h5", "w") as f:
            f.attrs["model_config"] = json.dumps(keras_config).encode()
            f.create_dataset("w", data=np.zeros((64, 64), dtype=np.float32))
        node = helper.make_node("Relu", ["x"], ["y"])
        graph = helper.make_graph(
            [node],
            "g",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        )
        onnx.save(helper.make_model(graph), str(tmp / f"net{i}.onnx"))
    writer = gguf.GGUFWriter(str(tmp / "llm.gguf"), "llama")
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list([f"tok{j}\u0120x".encode() for j in range(150_000)])
    writer.add_token_scores([0.0] * 150_000)
    writer.add_token_types([1] * 150_000)
    writer.add_tensor("t", np.zeros((256, 256), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    tmp.rename(root)
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--copies", type=int, default=9)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    root = generate(args.copies)
    files = [p for p in root.iterdir() if p.is_file()]
    size = sum(p.stat().st_size for p in files)
    print(f"{len(files)} files, {size / 1e6:.1f} MB in {root}")
    cmds = {
        "scanner scan": [
            sys.executable,
            "-m",
            "scanner",
            "scan",
            str(root),
            "-f",
            "json",
            "-o",
            os.devnull,
            "--fail-on",
            "none",
        ],
        "scanner scan --no-second-opinion": [
            *[sys.executable, "-m", "scanner", "scan", str(root), "-f", "json", "-o", os.devnull, "--fail-on", "none"],
            "--no-second-opinion",
        ],
    }
    for name in ("picklescan", "modelscan"):
        packages, cmd = PEERS[name]
        packages = [*packages, "numpy<2.3"] if "numpy<2.3" not in packages else packages  # picklescan reads .npz
        cmds[name] = [str(venv(name, packages) / cmd[0]), *[c.format(path=root) for c in cmd[1:]]]
    rows: dict[str, tuple[float, int]] = {}
    codes: dict[str, int] = {}
    for name, cmd in cmds.items():
        times, peaks = [], []
        for _ in range(args.runs):
            t, peak, code = run(cmd)
            if name.startswith("scanner") and code not in (0, 1):
                raise SystemExit(f"{name} failed with exit {code}")
            codes[name] = code
            times.append(t)
            peaks.append(peak)
        rows[name] = (statistics.median(times), max(peaks))
    base = rows["picklescan"][0]
    print(f"{'tool':36} {'median s':>9} {'peak MB':>8} {'x picklescan':>13} {'exit':>5}")
    for name, (t, peak) in rows.items():
        print(f"{name:36} {t:9.2f} {peak:8d} {t / base:13.2f} {codes[name]:5d}")
    print("(picklescan exits 2 here: it cannot parse joblib files, whose array data follows the pickle)")
    load = os.getloadavg()[0]
    print(f"goal: scanner scan <= 1.5x picklescan: {rows['scanner scan'][0] / base:.2f}x (load {load:.2f})")


if __name__ == "__main__":
    main()
