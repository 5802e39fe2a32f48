"""Training throughput of the CORAL encoder (cells/s), sparse edge attention vs a dense M x M mask.

Both paths run the same network weights on the same batches (forward + backward + AdamW
step); the dense path replaces each layer's edge attention by ``dense_forward`` (padded
batch, B x M x M boolean mask). Example:

    python benchmarks/train.py --cells 256 --device cpu
"""

from __future__ import annotations

import argparse
import statistics
import time
from itertools import islice

import torch
from torch_geometric.loader import DataLoader

from coral.corpora.cells import read_cells
from coral.encoders.coral import CoralEncoder
from coral.encoders.graphs import CellGraphDataset
from coral.encoders.training import autocast_for, resolve_device
from coral.encoders.vocab import Vocabulary

DEFAULT_CORPUS = "../shared/corpora/coral-ucsd-sample/train.txt"


def dense_network_forward(network, batch):
    """CoralNetwork.forward with every layer run as padded dense masked attention."""
    x = network.embed(batch.node_type, batch.node_tokens, batch.node_kind)
    for layer in network.layers:
        x = layer.dense_forward(x, batch.edge_index, batch.batch)
    z = x[batch.ptr[:-1]]
    p_topic = network.topic(z).float().softmax(dim=-1)
    return {"z": z, "p_topic": p_topic, "stage_logits": network.stage(p_topic)}


def time_training(encoder, batches, device, forward) -> float:
    """Cells per second over the batches (after one warm-up batch)."""
    network = encoder.network_
    optimizer = torch.optim.AdamW(network.parameters(), lr=1e-4)
    network.train()
    cells, seconds = 0, 0.0
    for i, batch in enumerate(batches):
        batch = batch.to(device)
        started = time.perf_counter()
        with autocast_for(device):
            outputs = forward(network, batch)
        loss = encoder._loss(outputs, batch.y)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i:  # the first batch warms up allocators and kernels
            seconds += time.perf_counter() - started
            cells += batch.num_graphs
    return cells / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default=DEFAULT_CORPUS)
    parser.add_argument("--cells", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--d-model", type=int, default=256)
    parser.add_argument("--max-nodes", type=int, default=160)
    parser.add_argument("--markdown-tokens", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=2, help="passes over the cells per path; the median is reported")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--no-dense", action="store_true", help="skip the dense-mask comparison")
    args = parser.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    cells = list(islice(read_cells([args.corpus]), args.cells))
    encoder = CoralEncoder().set_params(model__d_model=args.d_model, model__d_ff=2 * args.d_model,
                                        graph__max_nodes=args.max_nodes, graph__max_markdown_tokens=args.markdown_tokens)
    config = encoder.graph
    vocab = Vocabulary.build(cells, config)
    y = torch.zeros(len(cells), 5)
    y[:, 1] = 1.0
    dataset = CellGraphDataset(cells, vocab, config, y.numpy())
    batches = list(DataLoader(dataset, batch_size=args.batch_size))
    torch.manual_seed(0)
    encoder.network_ = encoder._build_network(vocab).to(device)
    nodes = sum(b.num_nodes for b in batches) / len(cells)
    edges = sum(b.edge_index.shape[1] for b in batches) / len(cells)
    print(f"device {device}, torch threads {torch.get_num_threads()}, {len(cells)} cells from {args.corpus}")
    print(f"M={args.max_nodes}, markdown tokens <= {args.markdown_tokens}, d_model={args.d_model}, "
          f"batch {args.batch_size}: {nodes:.1f} nodes and {edges:.0f} edges per cell on average")
    paths = {"sparse (edge attention)": lambda net, b: net(b)}
    if not args.no_dense:
        paths["dense (B x M x M mask)"] = dense_network_forward
    results = {}
    for name, forward in paths.items():
        runs = [time_training(encoder, batches, device, forward) for _ in range(args.repeats)]
        results[name] = statistics.median(runs)
        print(f"{name}: {results[name]:.1f} training cells/s (runs: {', '.join(f'{r:.1f}' for r in runs)})")
    if len(results) == 2:
        sparse, dense = results.values()
        print(f"sparse / dense throughput: {sparse / dense:.2f}x")


if __name__ == "__main__":
    main()
