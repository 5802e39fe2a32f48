"""Inference throughput (cells/s) of a saved encoder, or of an untrained CORAL network of a given size.

Parsing is not timed: cells are parsed first, then ``predict_proba`` runs over them in
batches, as ``coral predict`` does. Examples:

    python benchmarks/predict.py --model coral/data/models/default --cells 2000
    python benchmarks/predict.py --cells 1000 --d-model 256 --device cpu   # paper-sized, untrained
"""

from __future__ import annotations

import argparse
import time
from itertools import islice

import numpy as np
import torch

from coral.corpora.cells import read_cells
from coral.encoders import load_encoder, make_encoder
from coral.encoders.coral import CoralEncoder
from coral.encoders.vocab import Vocabulary

DEFAULT_CORPUS = "../shared/corpora/github"


def untrained_coral(cells, d_model: int, device: str, batch_size: int) -> CoralEncoder:
    """A CORAL encoder with random weights: same cost as a trained one of that size."""
    encoder = make_encoder("coral", device=device, model__d_model=d_model, model__d_ff=2 * d_model,
                           training__batch_size=batch_size)
    encoder.vocab_ = Vocabulary.build(cells, encoder.graph)
    torch.manual_seed(0)
    encoder.network_ = encoder._build_network(encoder.vocab_)
    return encoder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="a model directory from `coral train` (default: an untrained CORAL network)")
    parser.add_argument("--corpus", default=DEFAULT_CORPUS)
    parser.add_argument("--cells", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--d-model", type=int, default=256)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    cells = list(islice(read_cells([args.corpus]), args.cells))
    if args.model:
        encoder = load_encoder(args.model, device=args.device)
        if hasattr(encoder, "training"):
            encoder.set_params(training__batch_size=args.batch_size)
    else:
        encoder = untrained_coral(cells, args.d_model, args.device, args.batch_size)
    encoder.predict_proba(cells[: args.batch_size])  # warm-up
    started = time.perf_counter()
    proba = encoder.predict_proba(cells)
    seconds = time.perf_counter() - started
    print(f"{args.model or f'untrained coral d_model={args.d_model}'}: {len(cells)} cells from {args.corpus}, "
          f"batch {args.batch_size}, device {args.device}, torch threads {torch.get_num_threads()}")
    print(f"{len(cells) / seconds:.1f} cells/s ({seconds:.1f} s); stage counts {np.bincount(proba.argmax(1), minlength=5).tolist()}")


if __name__ == "__main__":
    main()
