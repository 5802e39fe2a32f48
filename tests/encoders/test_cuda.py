"""The CUDA path: every torch encoder trains and predicts on a GPU under mixed precision, its files
load on a machine without one, and torchrun training joins an NCCL process group.

Skipped where torch sees no GPU (CI and the development machines); run them on a GPU machine
with ``pytest -m cuda``.
"""

from __future__ import annotations

import socket

import numpy as np
import pytest
import torch
import torch.distributed as dist

from coral.corpora.cells import read_cells
from coral.encoders import load_encoder, make_encoder
from coral.encoders.distributed import Shard, distributed_run
from coral.jobs.predict import load_stage_model

from .cells import toy_corpus

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]

SMALL = dict(model__d_model=32, model__heads=4, model__layers=2, model__dropout=0.0, graph__min_token_count=1,
             training__batch_size=8, training__lr=3e-3, training__patience=100, training__epochs=30)
PARAMS = {
    "coral": dict(SMALL, model__d_ff=64, model__n_topics=8),
    "gnn": SMALL,
    "bert": dict({k: v for k, v in SMALL.items() if not k.startswith("graph__")}, model__d_ff=64, model__mlm_epochs=5,
                 model__max_length=64, tokens__min_token_count=1),
}
# bf16 autocast on the GPU against float32 on the CPU: probabilities differ by a few 1e-3
PROBA_TOLERANCE = 0.05


@pytest.fixture(scope="module")
def corpus():
    return toy_corpus()


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_encoder_trains_on_cuda_and_loads_on_cpu(corpus, name, tmp_path):
    cells, y, labels = corpus
    torch.cuda.reset_peak_memory_stats()
    encoder = make_encoder(name, device="cuda", **PARAMS[name]).fit(cells, y)
    assert torch.cuda.max_memory_allocated() > 0  # it trained on the GPU
    proba = encoder.predict_proba(cells)
    assert np.allclose(proba.sum(axis=1), 1.0, atol=1e-4)
    assert (proba.argmax(axis=1) == labels).mean() >= 0.8
    assert all(np.isfinite(row["train_weak"]) for row in encoder.history_)

    on_cpu = load_encoder(encoder.save(tmp_path / name), device="cpu").predict_proba(cells)
    assert np.abs(on_cpu - proba).max() < PROBA_TOLERANCE


def test_context_encoder_on_cuda(corpus, tmp_path):
    cells, y, _ = corpus
    base = make_encoder("coral", device="cuda", **PARAMS["coral"]).fit(cells, y).save(tmp_path / "base")
    encoder = make_encoder("context", base=str(base), device="cuda", training__epochs=20).fit(cells, y)
    proba = encoder.predict_proba(cells)
    assert np.allclose(proba.sum(axis=1), 1.0, atol=1e-4)
    on_cpu = load_encoder(encoder.save(tmp_path / "context"), device="cpu").predict_proba(cells)
    assert np.abs(on_cpu - proba).max() < PROBA_TOLERANCE


def test_checkpoint_written_on_cuda_resumes(corpus, tmp_path):
    cells, y, _ = corpus
    params = dict(PARAMS["coral"], training__epochs=2)
    make_encoder("coral", device="cuda", **params).fit(cells, y, checkpoint_dir=tmp_path)
    resumed = make_encoder("coral", device="cuda", **dict(params, training__epochs=3)).fit(
        cells, y, checkpoint_dir=tmp_path, resume=True)
    assert [row["epoch"] for row in resumed.history_] == [1, 2, 3]


def test_shipped_model_agrees_on_cuda_and_cpu(fixtures_dir):
    """The packaged default model gives the same stages under bf16 on the GPU as in float32 on the CPU."""
    cells = list(read_cells([str(fixtures_dir / "corpora" / "shards"), str(fixtures_dir / "corpora" / "notebooks")]))
    assert len(cells) >= 10
    on_cpu = load_stage_model("default", device="cpu").predict_proba(cells)
    on_gpu = load_stage_model("default", device="cuda").predict_proba(cells)
    assert (on_cpu.argmax(axis=1) == on_gpu.argmax(axis=1)).mean() >= 0.95
    assert np.abs(on_cpu - on_gpu).max() < 0.1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_torchrun_training_uses_nccl(corpus, monkeypatch):
    """One rank of a torchrun world on the GPU: the group is NCCL, training runs through DDP."""
    cells, y, labels = corpus
    for name, value in dict(RANK="0", WORLD_SIZE="1", LOCAL_RANK="0", MASTER_ADDR="127.0.0.1",
                            MASTER_PORT=str(free_port())).items():
        monkeypatch.setenv(name, value)
    backends = []
    encoder = make_encoder("coral", device="cuda", **PARAMS["coral"])
    loss = encoder._loss

    def recording_loss(outputs, targets):
        backends.append(dist.get_backend() if dist.is_initialized() else None)
        return loss(outputs, targets)

    encoder._loss = recording_loss
    with distributed_run(torch.device("cuda")) as shard:
        assert shard == Shard(rank=0, world_size=1)
        encoder.fit(cells, y)
    assert set(backends) == {"nccl"}, backends
    assert not dist.is_initialized()  # distributed_run leaves the group it joined
    assert (encoder.predict_proba(cells).argmax(axis=1) == labels).mean() >= 0.8
