"""Write the demo model's weights (random, tiny) as safetensors, plus a tokenizer vocabulary."""

import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file


def main(target: Path) -> None:
    rng = np.random.default_rng(0)
    hidden, inter, vocab, layers = 16, 32, 64, 2
    tensors = {"bert.embeddings.word_embeddings.weight": rng.standard_normal((vocab, hidden), dtype=np.float32)}
    for i in range(layers):
        p = f"bert.encoder.layer.{i}"
        tensors[f"{p}.attention.self.query.weight"] = rng.standard_normal((hidden, hidden), dtype=np.float32)
        tensors[f"{p}.intermediate.dense.weight"] = rng.standard_normal((inter, hidden), dtype=np.float32)
        tensors[f"{p}.output.dense.weight"] = rng.standard_normal((hidden, inter), dtype=np.float32)
    tensors["classifier.weight"] = rng.standard_normal((2, hidden), dtype=np.float32)
    save_file(tensors, str(target / "model.safetensors"), metadata={"format": "pt"})
    (target / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]"] + [f"w{i}" for i in range(vocab - 4)]) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "model"))
