"""Prediction throughput (code cells/s) of a saved encoder, end to end and against a bare transformer.

Three figures per repeat, taken one after the other in the same process so that a busy
machine weighs on all of them alike:

- end to end: ``coral predict --model MODEL`` as a command (start-up, reading, parsing,
  graph building, inference, writing) over the first ``--notebooks`` notebooks of the corpus;
  the start-up (imports, loading the model: the same command on one notebook) is also
  timed, and the cells/s after it given, which is what a large corpus sees;
- inference: ``predict_proba`` over the same cells, parsed beforehand (graph building and
  the network);
- bare forward (CORAL-kind encoders only): ``torch.nn.TransformerEncoder`` of the model's size (layers, d_model, d_ff,
  heads) in eval mode over random vectors with the same cells' node counts, batched as
  the encoder batches them (cells sorted by size, padded to the largest of each batch,
  a key-padding mask): what the arithmetic of a same-size dense transformer costs.

and the ratio end to end / bare forward, which survives a noisy machine. With ``--device cuda``
all three run on the GPU, under the mixed precision coral uses there (bf16 autocast), and
``--batch-size`` sets the inference and bare-forward batches (the command keeps the model's);
the stages it predicts are compared with float32 on the CPU (agreement bounds any change in
accuracy).
Example:

    python benchmarks/predict.py --corpus GITHUB/part-b-0000.jsonl.gz --notebooks 400 --threads 2
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import subprocess
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path

import numpy as np
import torch
from torch import nn

from coral.encoders import load_encoder
from coral.encoders.runtime import device_name, set_threads, synchronize
from coral.encoders.training import autocast_for
from coral.corpora.cells import read_cells

DEFAULT_MODEL = str(Path(__file__).resolve().parents[1] / "coral" / "data" / "models" / "default")


def first_notebooks(shard: Path, n: int, directory: Path) -> Path:
    """The first ``n`` notebooks (lines) of a JSON Lines shard, as a shard of their own."""
    opener = gzip.open if shard.suffix == ".gz" else open
    directory.mkdir(exist_ok=True)
    out = directory / "notebooks.jsonl.gz"
    with opener(shard, "rt") as source, gzip.open(out, "wt") as sink:
        sink.writelines(islice(source, n))
    return out


def time_command(shard: Path, model: str, threads: int, device: str, out: Path) -> float:
    command = [sys.executable, "-c", "from coral.cli import app; app()", "predict", str(shard), "--model", model,
               "--out", str(out), "--threads", str(threads), "--device", device]
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - started


def bare_encoder(encoder, device: torch.device) -> nn.TransformerEncoder:
    size = encoder.model
    layer = nn.TransformerEncoderLayer(size.d_model, size.heads, size.d_ff, dropout=0.0, batch_first=True)
    return nn.TransformerEncoder(layer, size.layers, enable_nested_tensor=False).to(device).eval()


@torch.inference_mode()
def time_bare_forward(network: nn.TransformerEncoder, sizes: np.ndarray, batch_size: int, d_model: int,
                      device: torch.device) -> float:
    ordered = np.sort(sizes)
    synchronize(device)
    started = time.perf_counter()
    for start in range(0, len(ordered), batch_size):
        batch = ordered[start : start + batch_size]
        x = torch.randn(len(batch), int(batch.max()), d_model, device=device)
        padding = torch.arange(x.shape[1], device=device) >= torch.from_numpy(batch).to(device)[:, None]
        with autocast_for(device):
            network(x, src_key_padding_mask=padding)
    synchronize(device)
    return time.perf_counter() - started


def print_agreement_with_cpu(model: str, cells: list, proba: np.ndarray) -> None:
    """How often the device's stage (mixed precision) is the one float32 on the CPU gives."""
    reference = load_encoder(model, device="cpu").predict_proba(cells)
    same = proba.argmax(axis=1) == reference.argmax(axis=1)
    print(f"agreement with float32 on the CPU: {same.mean():.2%} of {len(cells)} cells "
          f"({(~same).sum()} differ); largest probability difference {np.abs(proba - reference).max():.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, required=True, help="a JSON Lines shard of notebooks (.jsonl or .jsonl.gz)")
    parser.add_argument("--notebooks", type=int, default=400, help="first notebooks of the shard to predict")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="a model directory (an encoder, LFs-first or not)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: coral's choice)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu", help="cpu or cuda (cuda:1...): where all three figures compute")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="cells per batch for inference and the bare forward (default: the model's)")
    args = parser.parse_args()

    threads = set_threads(args.threads)
    device = torch.device(args.device)
    encoder = load_encoder(args.model, device=args.device)
    if args.batch_size:
        encoder.set_params(training__batch_size=args.batch_size)
    # the bare-forward reference is a dense transformer of the model's size: CORAL's kind only
    transformer = hasattr(getattr(encoder, "model", None), "d_ff")
    batch_size = encoder.training.batch_size if transformer else None
    with tempfile.TemporaryDirectory() as tmp:
        shard = first_notebooks(args.corpus, args.notebooks, Path(tmp))
        cells = list(read_cells([shard]))
        sizes = np.array([len(cell.types) for cell in encoder._dataset(cells).encoded]) if transformer else None
        bare = bare_encoder(encoder, device) if transformer else None
        shape = (f"{sizes.mean():.1f} nodes a cell (max {sizes.max()}); batch {batch_size}" if transformer
                 else "no bare-forward reference (not a transformer encoder)")
        print(f"{args.model}: {len(cells)} code cells of {args.notebooks} notebooks of {args.corpus}; "
              f"{shape}; torch threads {threads}; device {device_name(device)}")
        encoder.predict_proba(cells[:128])  # warm-up
        if bare is not None:
            time_bare_forward(bare, sizes[: 4 * batch_size], batch_size, encoder.model.d_model, device)
        one_notebook = first_notebooks(args.corpus, 1, Path(tmp) / "one")
        rows = []
        for repeat in range(args.repeats):
            seconds = time_command(shard, args.model, threads, args.device, Path(tmp) / "predictions.jsonl")
            start_up = time_command(one_notebook, args.model, threads, args.device,
                                    Path(tmp) / "one" / "predictions.jsonl")
            started = time.perf_counter()
            encoder.predict_proba(cells)
            inference = len(cells) / (time.perf_counter() - started)
            end_to_end, after_start = len(cells) / seconds, len(cells) / max(seconds - start_up, 1e-9)
            line = (f"repeat {repeat + 1}: end to end {end_to_end:.0f} cells/s ({seconds:.1f} s, of which start-up "
                    f"{start_up:.1f} s; {after_start:.0f} cells/s after it), encoder inference {inference:.0f} cells/s")
            if bare is not None:
                forward = len(cells) / time_bare_forward(bare, sizes, batch_size, encoder.model.d_model, device)
                line += (f", bare forward {forward:.0f} cells/s; end to end / bare {end_to_end / forward:.2f} "
                         f"(after start-up {after_start / forward:.2f}), inference / bare {inference / forward:.2f}")
                rows.append((end_to_end, after_start, inference, forward))
            else:
                rows.append((end_to_end, after_start, inference))
            print(line, flush=True)
        if device.type != "cpu":
            print_agreement_with_cpu(args.model, cells, encoder.predict_proba(cells))
    columns = [statistics.median(column) for column in zip(*rows)]
    print(f"median cells/s: end to end {columns[0]:.0f}, after start-up {columns[1]:.0f}, encoder inference {columns[2]:.0f}"
          + (f", bare forward {columns[3]:.0f}" if bare is not None else ""))
    if bare is not None:
        ratios = {name: [row[i] / row[3] for row in rows] for i, name in enumerate(("end to end", "after start-up", "inference"))}
        print("ratio to the bare forward: " + "; ".join(
            f"{name} {statistics.median(values):.2f} (range {min(values):.2f}-{max(values):.2f})" for name, values in ratios.items()))


if __name__ == "__main__":
    main()
