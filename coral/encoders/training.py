"""The training loop shared by the torch encoders: weak-label validation, checkpoints, resume.

Model selection and early stopping look only at the weak-label loss on a validation split
of whole notebooks (cells of one notebook never straddle the split): no expert label is
used anywhere in training. Every epoch is seeded from ``(seed, epoch)`` and checkpointed,
so a resumed run continues exactly where the interrupted one stopped.

Under ``torchrun`` (see ``coral.encoders.distributed``) the network is wrapped in
DistributedDataParallel, each rank trains on its share of whole notebooks, rank 0 validates
(its result goes to every rank, so all stop at the same epoch) and writes the checkpoints.
"""

from __future__ import annotations

import copy
import math
import pickle
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from coral.artifacts import UnsafeModelFileError
from coral.atomic import atomic_path
from coral.corpora.records import ParsedCell
from coral.encoders.distributed import (
    Shard, all_reduce_sum, barrier, broadcast_from_main, current_shard, is_main, notebook_batches, scaled_loss,
)
from coral.encoders.graphs import CellGraphDataset
from coral.encoders.losses import weak_label_loss
from coral.encoders.monitor import describe, warn_if_collapsed, weak_agreement, write_metrics
from coral.encoders.params import ParamGroup
from coral.stages import N_STAGES

CHECKPOINT_FILE = "checkpoint.pt"

LossFn = Callable[[dict[str, Tensor], Tensor], dict[str, Tensor]]  # outputs, y -> {"loss": ..., parts}


def resolve_device(device: str) -> torch.device:
    """``auto``: CUDA when available, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except RuntimeError as exc:
        raise ValueError(f"device {device!r}: {exc}") from None


def autocast_for(device: torch.device):
    """Mixed precision on CUDA (bf16 where supported, else fp16); full precision on CPU."""
    if device.type != "cuda":
        return nullcontext()
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast("cuda", dtype=dtype)


@dataclass(frozen=True)
class TrainingConfig(ParamGroup):
    """How a torch encoder is trained: the measured recipe of docs/encoders.md."""

    epochs: int = 10
    batch_size: int = 32  # cells per batch, in training and prediction
    lr: float = 1e-3  # peak learning rate (AdamW)
    warmup: float = 0.1  # share of all planned steps spent ramping the lr up linearly from 0
    min_lr_ratio: float = 0.1  # lr at the last planned step, as a share of ``lr`` (cosine decay); 1 = constant
    weight_decay: float = 0.01
    grad_clip: float = 1.0  # max gradient norm per step; 0 = no clipping
    patience: int = 2  # epochs without validation improvement before stopping
    val_fraction: float = 0.1  # share of notebooks held out for the weak-label validation


def lr_factor(step: int, total_steps: int, warmup: float, min_lr_ratio: float) -> float:
    """Linear warmup to the peak lr, then cosine decay to ``min_lr_ratio`` of it at ``total_steps``.

    The usual recipe for post-LN transformers; at the CORAL encoder's lr of 1e-3 it gave the
    best weak-label agreement of the sweep in docs/encoders.md (a higher peak collapses).
    """
    warmup_steps = max(1, round(warmup * total_steps))
    if warmup > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    start = warmup_steps if warmup > 0 else 0
    progress = min(1.0, (step - start) / max(1, total_steps - start))
    return min_lr_ratio + (1.0 - min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


@dataclass
class TrainState:
    """Everything a checkpoint holds besides the optimizer."""

    epoch: int = 0  # epochs completed
    step: int = 0  # optimizer steps taken
    best_val_loss: float = math.inf
    best_epoch: int = 0
    best_weights: dict[str, Tensor] | None = None
    stale_epochs: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)


def _seed_epoch(seed: int, epoch: int) -> torch.Generator:
    torch.manual_seed(seed * 1_000_003 + epoch)
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch)


@torch.inference_mode()
def validate(network: nn.Module, dataset, batch_size: int, device: torch.device) -> dict[str, Any]:
    """Weak-label loss and agreement (overall, per stage, collapse) on the validation notebooks."""
    network.eval()
    total, covered = 0.0, 0
    probas, weak = [], []
    for batch in dataset.batches(batch_size):
        batch = batch.to(device)
        with autocast_for(device):
            logits = network(batch)["stage_logits"].float()
        n = int((batch.y.sum(dim=1) > 0).sum())
        if n:
            total += float(weak_label_loss(logits, batch.y)) * n
            covered += n
        probas.append(logits[:, :N_STAGES].softmax(dim=1).cpu())
        weak.append(batch.y.cpu())
    loss = total / covered if covered else math.nan
    return {"val_weak_loss": loss, **weak_agreement(torch.cat(probas).numpy(), torch.cat(weak).numpy())}


def training_batches(dataset, batch_size: int, shard: Shard | None,
                     generator: torch.Generator) -> Iterator[tuple[Any, bool]]:
    """(batch, counted) pairs of one epoch: the dataset's own shuffled batches in one process; under
    DDP this rank's share of each step's whole notebooks (``counted`` False: a stand-in weighted 0)."""
    if shard is None:
        for batch in dataset.batches(batch_size, shuffle=True, generator=generator):
            yield batch, True
        return
    for part in notebook_batches(dataset.notebook_ids, batch_size, shard, generator):
        yield dataset.batch_of(part.index), part.counted


def train_network(
    network: nn.Module,
    loss_fn: LossFn,
    train_set: CellGraphDataset,
    val_set: CellGraphDataset,
    settings: TrainingConfig,
    *,
    seed: int,
    device: str = "auto",
    checkpoint_dir: Path | None = None,
    resume: bool = False,
    progress: bool = True,
) -> TrainState:
    """Train ``network`` in place on ``device`` and load the weights of its best validation epoch into it.

    In a process group (torchrun) ``settings.batch_size`` is per process: a step trains on
    world size x batch size items, and only rank 0 shows progress and writes checkpoints.
    """
    device = resolve_device(device)
    network.to(device)
    shard = current_shard()
    world_size = shard.world_size if shard else 1
    progress = progress and is_main()
    optimizer = torch.optim.AdamW(network.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    total_steps = settings.epochs * math.ceil(len(train_set) / (settings.batch_size * world_size))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, total_steps, settings.warmup, settings.min_lr_ratio))
    use_scaler = device.type == "cuda" and not torch.cuda.is_bf16_supported()
    scaler = torch.amp.GradScaler("cuda", enabled=use_scaler)
    state = TrainState()
    checkpoint_path = checkpoint_dir / CHECKPOINT_FILE if checkpoint_dir else None
    if resume:
        if checkpoint_path is None or not checkpoint_path.is_file():
            raise FileNotFoundError(f"--resume: no checkpoint at {checkpoint_path}")
        saved = load_tensor_file(checkpoint_path, device)
        try:
            network.load_state_dict(saved["network"])
            optimizer.load_state_dict(saved["optimizer"])
            scaler.load_state_dict(saved["scaler"])
            scheduler.load_state_dict(saved["scheduler"])
            state = TrainState(**saved["state"])
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise ValueError(f"--resume: {checkpoint_path} does not fit this model and run ({' '.join(str(exc).split())[:300]})") from None
    model = network
    if shard is not None:
        # static graph: the same parameters take part in every step, some of them (CORAL's topic
        # matrix) through the loss rather than the forward pass, or in no step at all (its ablations)
        model = DistributedDataParallel(network, device_ids=_device_ids(device), static_graph=True)
    has_val = len(val_set) > 0

    while state.epoch < settings.epochs and (state.stale_epochs < settings.patience or not has_val):
        epoch = state.epoch + 1
        generator = _seed_epoch(seed, epoch)
        network.train()
        sums: dict[str, float] = {}
        cells, started = 0, time.perf_counter()
        bar = tqdm(training_batches(train_set, settings.batch_size, shard, generator),
                   desc=f"epoch {epoch}/{settings.epochs}", unit="batch", disable=not progress, leave=False)
        for batch, counted in bar:
            batch = batch.to(device)
            with autocast_for(device):
                outputs = model(batch)
            parts = loss_fn(outputs, batch.y)
            n = len(batch.y) if counted else 0  # cells (a graph encoder's batch is cells, the context encoder's notebooks)
            loss = parts["loss"] if shard is None else scaled_loss(parts["loss"], n, shard)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            if settings.grad_clip > 0:
                nn.utils.clip_grad_norm_(network.parameters(), settings.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            state.step += 1
            cells += n
            for name, value in parts.items():
                sums[name] = sums.get(name, 0.0) + float(value.detach()) * n
            if progress:
                bar.set_postfix(loss=f"{sums['loss'] / max(cells, 1):.4f}",
                                cells_s=f"{cells / (time.perf_counter() - started):.0f}")
        if shard is not None:  # the epoch's losses over every rank's cells
            cells, *totals = all_reduce_sum([cells, *sums.values()], device)
            cells, sums = round(cells), dict(zip(sums, totals))
        seconds = time.perf_counter() - started
        validation = {"val_weak_loss": math.nan}
        if has_val:  # on rank 0, and its result on every rank: all ranks then stop at the same epoch
            validation = broadcast_from_main(validate(network, val_set, settings.batch_size, device) if is_main() else None)
        val_loss = validation["val_weak_loss"]
        row = {"epoch": epoch, "step": state.step, **{f"train_{k}": v / max(cells, 1) for k, v in sums.items()},
               **validation, "cells_per_s": cells / seconds if seconds else math.nan, "seconds": seconds}
        state.history.append(row)
        state.epoch = epoch
        if not has_val or val_loss < state.best_val_loss:
            state.best_val_loss = val_loss if has_val else math.nan
            state.best_epoch, state.stale_epochs = epoch, 0
            state.best_weights = copy.deepcopy({k: v.detach().cpu() for k, v in network.state_dict().items()})
        else:
            state.stale_epochs += 1
        if progress:
            tqdm.write(f"epoch {epoch}: train loss {row['train_loss']:.4f}, val weak loss {val_loss:.4f}, "
                       f"{describe(validation)}, {row['cells_per_s']:.0f} cells/s")
        if is_main():
            warn_if_collapsed(validation, f"epoch {epoch}")
            if checkpoint_dir is not None:
                _save_checkpoint(checkpoint_dir, network, optimizer, scaler, scheduler, state)
        barrier()
    if state.best_weights is not None:
        network.load_state_dict(state.best_weights)
    return state


def _device_ids(device: torch.device) -> list[int] | None:
    """DDP's ``device_ids``: this rank's GPU, none on CPU."""
    if device.type != "cuda":
        return None
    return [device.index if device.index is not None else torch.cuda.current_device()]


def _save_checkpoint(directory: Path, network: nn.Module, optimizer, scaler, scheduler, state: TrainState) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    # plain containers and tensors only, so that the checkpoint loads with weights_only=True;
    # written whole or not at all, so that a crash never leaves half a checkpoint
    with atomic_path(directory / CHECKPOINT_FILE) as temporary:
        torch.save({"network": network.state_dict(), "optimizer": optimizer.state_dict(),
                    "scaler": scaler.state_dict(), "scheduler": scheduler.state_dict(), "state": asdict(state)}, temporary)
    write_metrics(directory, state.history)


def load_tensor_file(path: Path, device: str | torch.device = "cpu") -> Any:
    """``torch.load`` of tensors and plain containers only (``weights_only``): a file that holds
    any other object, which unpickling could turn into running code, is refused."""
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as exc:
        first_line = str(exc).strip().splitlines()[-1] if str(exc).strip() else ""
        raise UnsafeModelFileError(f"{path}: holds objects other than tensors, which loading would run as code; "
                                   f"refused ({first_line})") from None
    except (RuntimeError, EOFError, OSError) as exc:
        raise ValueError(f"{path}: not a readable torch file ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None


def stage_logits(outputs: dict[str, Tensor]) -> Tensor:
    return outputs["stage_logits"]


@torch.inference_mode()
def predict_outputs(network: nn.Module, dataset: CellGraphDataset, batch_size: int, device: str,
                    progress: bool = False, select: Callable[[dict[str, Tensor]], Tensor] = stage_logits) -> np.ndarray:
    """One row per graph of ``dataset``, in dataset order (whatever order it batches in): what
    ``select`` takes from the network's outputs, by default the stage logits."""
    target = resolve_device(device)
    network.to(target).eval()
    rows = None
    bar = tqdm(total=len(dataset), desc="predict", unit="cell", disable=not progress)
    for batch in dataset.batches(batch_size):
        with autocast_for(target):
            out = select(network(batch.to(target))).float().cpu()
        if rows is None:
            rows = torch.empty(len(dataset), out.shape[1])
        rows[batch.cell_index.cpu()] = out
        bar.update(len(out))
    bar.close()
    return rows.numpy() if rows is not None else np.zeros((0, 0), dtype=np.float32)
