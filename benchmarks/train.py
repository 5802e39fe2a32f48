"""Training throughput (cells/s) of the CORAL encoder at the shipped model's size, against a bare transformer.

Per repeat, one after the other in the same process so that a busy machine weighs on all
of them alike:

- ``fit``: one epoch of ``CoralEncoder.fit`` with the shipped model's parameters (forward,
  losses, backward, gradient clipping, AdamW, lr schedule), as ``coral train`` runs it; the
  figure is the epoch's own cells/s (``metrics.csv``), so vocabulary and graph building are
  not in it;
- bare: the same number of training steps of ``torch.nn.TransformerEncoder`` of the same
  size (dropout included) with a linear head on the first node, on random vectors of the
  same batches' padded shapes, with AdamW;
- with ``--reference``, also ``fit`` with the edge-wise PyG attention instead of the padded path.

With ``--device cuda`` both train on the GPU under coral's mixed precision there (bf16
autocast); ``--batch-size`` overrides the shipped batch size for both.

Example:

    python benchmarks/train.py --corpus GITHUB/part-b-0000.jsonl.gz --cells 2000 --threads 2
"""

from __future__ import annotations

import argparse
import statistics
import time
from itertools import islice
from pathlib import Path

import numpy as np
import torch
from torch import nn

from coral.encoders import make_encoder
from coral.encoders.base import N_STAGES, read_encoder_meta
from coral.encoders.runtime import device_name, set_threads, synchronize
from coral.encoders.training import autocast_for
from coral.corpora.cells import read_cells

DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "coral" / "data" / "models" / "default"


def shipped_encoder(padded: bool, device: str, batch_size: int | None):
    """A CORAL encoder with the shipped model's parameters, for one epoch without validation."""
    encoder = make_encoder("coral", device=device, **read_encoder_meta(DEFAULT_MODEL)["params"])
    encoder.set_params(training__epochs=1, training__val_fraction=0.0)
    if batch_size:
        encoder.set_params(training__batch_size=batch_size)
    encoder.padded_batches = padded
    return encoder


def fit_cells_per_s(encoder, cells, y) -> float:
    encoder.fit(cells, y)
    return encoder.history_[0]["cells_per_s"]


def bare_cells_per_s(encoder, shapes: list[tuple[int, ...]], device: torch.device) -> float:
    """Training steps of a same-size nn.TransformerEncoder over batches of the given padded shapes."""
    size = encoder.model
    layer = nn.TransformerEncoderLayer(size.d_model, size.heads, size.d_ff, dropout=size.dropout, batch_first=True)
    network = nn.TransformerEncoder(layer, size.layers, enable_nested_tensor=False).to(device)
    head = nn.Linear(size.d_model, N_STAGES + 1).to(device)
    optimizer = torch.optim.AdamW([*network.parameters(), *head.parameters()], lr=1e-3)
    cells, started = 0, time.perf_counter()
    for lengths in shapes:
        lengths = torch.tensor(lengths, device=device)
        x = torch.randn(len(lengths), int(lengths.max()), size.d_model, device=device)
        padding = torch.arange(x.shape[1], device=device) >= lengths[:, None]
        with autocast_for(device):
            logits = head(network(x, src_key_padding_mask=padding)[:, 0])
        loss = nn.functional.cross_entropy(logits.float(), torch.zeros(len(lengths), dtype=torch.long, device=device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        cells += len(lengths)
    synchronize(device)
    return cells / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, required=True, help="a corpus file or folder")
    parser.add_argument("--cells", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: coral's choice)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--reference", action="store_true", help="also time the edge-wise PyG attention")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (cuda:1...)")
    parser.add_argument("--batch-size", type=int, default=None, help="cells per batch (default: the shipped model's)")
    args = parser.parse_args()

    threads = set_threads(args.threads)
    device = torch.device(args.device)
    cells = list(islice(read_cells([args.corpus]), args.cells))
    y = np.random.default_rng(0).dirichlet(np.ones(N_STAGES), len(cells)).astype(np.float32)
    encoder = shipped_encoder(True, args.device, args.batch_size)
    encoder.fit(cells[:64], y[:64])  # warm-up; also builds a vocabulary for the shapes below
    dataset = encoder._dataset(cells, y)
    shapes = [[len(dataset.encoded[i].types) for i in batch.cell_index.tolist()]
              for batch in dataset.batches(encoder.training.batch_size, shuffle=True, generator=torch.Generator())]
    sizes = np.array([len(cell.types) for cell in dataset.encoded])
    print(f"{len(cells)} cells from {args.corpus}, {sizes.mean():.1f} nodes a cell; shipped size "
          f"(d_model {encoder.model.d_model}, d_ff {encoder.model.d_ff}, {encoder.model.layers} layers), "
          f"batch {encoder.training.batch_size}; torch threads {threads}; "
          f"device {device_name(device)}")
    rows = []
    for repeat in range(args.repeats):
        fit = fit_cells_per_s(shipped_encoder(True, args.device, args.batch_size), cells, y)
        bare = bare_cells_per_s(encoder, shapes, device)
        line = f"repeat {repeat + 1}: fit {fit:.0f} cells/s, bare {bare:.0f} cells/s, fit / bare {fit / bare:.2f}"
        if args.reference:
            line += f"; edge-wise reference {fit_cells_per_s(shipped_encoder(False, args.device, args.batch_size), cells, y):.0f} cells/s"
        rows.append((fit, bare))
        print(line, flush=True)
    fit, bare = (statistics.median(column) for column in zip(*rows))
    print(f"median: fit {fit:.0f} cells/s, bare {bare:.0f} cells/s, fit / bare {statistics.median(f / b for f, b in rows):.2f}")


if __name__ == "__main__":
    main()
