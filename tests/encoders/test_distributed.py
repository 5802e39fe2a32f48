"""Training under DistributedDataParallel on CPU (gloo): batches by notebook, the same steps as one
process with the combined batch, and files from rank 0 only.

The processes are started with torch.multiprocessing and given the environment torchrun gives
its workers (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT), so ``distributed_run``
joins the group exactly as under torchrun.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from coral.encoders import make_encoder
from coral.encoders.distributed import Shard, current_shard, distributed_run, notebook_batches
from coral.encoders.training import load_tensor_file

from .cells import TEMPLATES, make_cell

# dropout 0 and no reconstruction term (its negatives are drawn at random within a batch): the
# loss is then a deterministic function of the weights and the step's cells
TINY = dict(model__d_model=16, model__heads=2, model__layers=1, model__d_ff=32, model__n_topics=4, model__dropout=0.0,
            model__topic_losses=False, graph__min_token_count=1, training__epochs=3, training__lr=3e-3,
            training__patience=100, training__val_fraction=0.2, device="cpu")
PER_RANK_BATCH = 4
# float32 sums in another order (DDP's all-reduce of two half-batch gradients against one
# backward pass over the whole batch) differ by a few 1e-7; AdamW carries that over the steps
RELATIVE_TOLERANCE = 1e-4


def uneven_notebooks() -> tuple[list, np.ndarray]:
    """12 notebooks of 1 to 6 cells (so the ranks' batches differ in size), every cell weakly labelled."""
    cells, labels = [], []
    for notebook in range(12):
        for index in range(1 + notebook % 6):
            stage = (notebook + index) % len(TEMPLATES)
            code, markdown = TEMPLATES[stage]
            cells.append(make_cell(code.format(i=notebook), markdown, notebook_id=f"nb{notebook}", index=index))
            labels.append(stage)
    y = np.full((len(cells), 5), 0.05, dtype=np.float32)
    y[np.arange(len(cells)), labels] = 0.8
    return cells, y


def free_ports(n: int) -> list[int]:
    """``n`` distinct ports that nothing listens on (all held at once while chosen)."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def torchrun_environment(rank: int, world_size: int, port: int) -> dict[str, str]:
    return dict(RANK=str(rank), WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                MASTER_PORT=str(port))


def fit_recording_steps(rank: int, world_size: int, batch_size: int) -> dict:
    """Fit the tiny CORAL encoder as one rank of a torchrun world; each step's loss and batch size,
    the per-epoch history, the weights and the predictions."""
    cells, y = uneven_notebooks()
    encoder = make_encoder("coral", training__batch_size=batch_size, **TINY)
    steps = []
    loss = encoder._loss

    def recording_loss(outputs, targets):
        parts = loss(outputs, targets)
        steps.append([float(parts["loss"].detach()), len(targets)])
        return parts

    encoder._loss = recording_loss
    with distributed_run(torch.device("cpu")) as shard:
        assert shard == Shard(rank, world_size) == current_shard()
        encoder.fit(cells, y)
    assert current_shard() is None  # the group that distributed_run joined is left
    return {"steps": steps, "history": [row["train_loss"] for row in encoder.history_],
            "val": [row["val_weak_loss"] for row in encoder.history_], "weights": encoder.network_.state_dict(),
            "proba": torch.from_numpy(encoder.predict_proba(cells))}


def train_command(corpus: Path, out: Path) -> list[str]:
    return ["train", str(corpus), "--out", str(out), "--lfs", "paper", "--epochs", "2", "--d-model", "16",
            "--param", "model__d_ff=32", "--param", "n_topics=4", "--param", "graph__min_token_count=1",
            "--batch-size", "4", "--device", "cpu", "--threads", "1"]


def rank_worker(rank: int, world_size: int, ports: tuple[int, int], batch_size: int, corpus: Path,
                results: Path) -> None:
    """One rank: fit the encoder (results saved for the test), then ``coral train`` with an ``--out``
    of its own, so that what each rank writes can be told apart. Each of the two joins its own
    process group (as two torchrun launches would), on its own port: rank 0 may still hold the
    first group's rendezvous store when rank 1 joins the second."""
    from typer.testing import CliRunner

    from coral.cli import app

    torch.set_num_threads(1)
    os.environ.update(torchrun_environment(rank, world_size, ports[0]))
    torch.save(fit_recording_steps(rank, world_size, batch_size), results / f"rank{rank}.pt")
    os.environ.update(torchrun_environment(rank, world_size, ports[1]))
    result = CliRunner().invoke(app, train_command(corpus, results / f"run{rank}"))
    assert result.exit_code == 0, result.output
    assert ("trained coral on" in result.output) == (rank == 0)


CODE_CELLS = [
    ("Imports", "import pandas as pd\nimport numpy as np\nfrom sklearn.linear_model import LogisticRegression"),
    ("Load the data", "df = pd.read_csv('train.csv')"),
    ("Look at it", "df.describe()"),
    ("Train", "model = LogisticRegression()\nmodel.fit(X_train, y_train)"),
    ("Evaluate", "from sklearn.metrics import accuracy_score\naccuracy_score(y_test, model.predict(X_test))"),
]


def write_notebooks(folder: Path, count: int) -> Path:
    folder.mkdir()
    for n in range(count):
        cells = []
        for markdown, code in CODE_CELLS[: 2 + n % 4]:
            cells += [nbformat.v4.new_markdown_cell(markdown), nbformat.v4.new_code_cell(code.replace("df", f"df{n}"))]
        nbformat.write(nbformat.v4.new_notebook(cells=cells), folder / f"nb{n}.ipynb")
    return folder


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory) -> Path:
    """Two gloo processes, started once for this module (starting one costs seconds of imports)."""
    results = tmp_path_factory.mktemp("ranks")
    corpus = write_notebooks(results / "notebooks", 8)
    mp.spawn(rank_worker, args=(2, tuple(free_ports(2)), PER_RANK_BATCH, corpus, results), nprocs=2, join=True)
    return results


@pytest.mark.parametrize("world_size", [2, 3, 4])
def test_ranks_batches_together_are_the_one_process_batch(world_size):
    cells, _ = uneven_notebooks()
    notebooks = [cell.notebook_id for cell in cells]
    batch_size = 3

    def plan(world: int, per_rank: int) -> list[list]:
        return [notebook_batches(notebooks, per_rank, Shard(rank, world), torch.Generator().manual_seed(7))
                for rank in range(world)]

    single, = plan(1, world_size * batch_size)
    ranks = plan(world_size, batch_size)
    assert all(len(steps) == len(single) for steps in ranks)  # every rank takes the same steps
    seen = []
    for step, whole in enumerate(single):
        counted = [steps[step].index for steps in ranks if steps[step].counted]
        together = np.concatenate(counted)
        assert sorted(together) == sorted(whole.index)  # the union is the one-process batch
        assert len(together) == len(set(together))
        by_rank = [{notebooks[i] for i in part} for part in counted]
        assert sum(map(len, by_rank)) == len(set().union(*by_rank))  # a notebook on one rank only
        stand_ins = [steps[step] for steps in ranks if not steps[step].counted]
        assert len(stand_ins) == max(0, world_size - len({notebooks[i] for i in whole.index}))
        seen += whole.index.tolist()
    assert sorted(seen) == list(range(len(cells)))  # every cell once an epoch
    # at most the combined batch size, unless one notebook alone is larger
    assert all(len(b.index) <= world_size * batch_size or len({notebooks[i] for i in b.index}) == 1 for b in single)


def test_two_gloo_processes_follow_one_process_with_the_combined_batch(two_ranks, monkeypatch):
    for name, value in torchrun_environment(0, 1, free_ports(1)[0]).items():  # a world of one, in this process
        monkeypatch.setenv(name, value)
    one = fit_recording_steps(0, 1, 2 * PER_RANK_BATCH)
    two = [load_tensor_file(two_ranks / f"rank{rank}.pt") for rank in range(2)]
    assert len(one["steps"]) == len(two[0]["steps"]) == len(two[1]["steps"]) > 6
    curve_one, curve_two = [], []
    uneven = 0
    for (loss, n), (loss_a, n_a), (loss_b, n_b) in zip(one["steps"], *(rank["steps"] for rank in two)):
        if n_a + n_b == n:  # the ranks split the step's cells: the loss over all of them is the cell-weighted mean
            curve_two.append((n_a * loss_a + n_b * loss_b) / n)
            uneven += n_a != n_b
        else:  # fewer notebooks than ranks: one rank has them all, the other a stand-in of weight 0
            assert n in (n_a, n_b)
            curve_two.append(loss_a if n_a == n else loss_b)
        curve_one.append(loss)
    assert uneven > 0  # the weighting of the ranks' losses by their cells is exercised
    np.testing.assert_allclose(curve_two, curve_one, rtol=RELATIVE_TOLERANCE)
    assert curve_one[-1] < curve_one[0]
    np.testing.assert_allclose(two[0]["history"], one["history"], rtol=RELATIVE_TOLERANCE)
    np.testing.assert_allclose(two[0]["val"], one["val"], rtol=RELATIVE_TOLERANCE)
    for name in one["weights"]:  # DDP: one model on both ranks
        torch.testing.assert_close(two[0]["weights"][name], two[1]["weights"][name], rtol=0, atol=0)
    # weights are not compared with the one process's: the attention's key bias has a true gradient
    # of 0 (a softmax does not change when every score moves alike), so AdamW turns rounding noise
    # into steps of lr, which move no output; the predictions are compared instead
    torch.testing.assert_close(two[0]["proba"], one["proba"], rtol=RELATIVE_TOLERANCE, atol=1e-5)


def test_only_rank_0_writes_the_model_directory(two_ranks):
    written = two_ranks / "run0"
    for name in ("encoder.json", "weights.pt", "vocab.json", "train.json", "metrics.csv", "errors.jsonl",
                 "checkpoints/checkpoint.pt", "checkpoints/vocab.json", "checkpoints/metrics.csv"):
        assert (written / name).is_file(), name
    assert not (two_ranks / "run1").exists()
