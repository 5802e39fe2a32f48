"""A BERT-style baseline: a plain sequence transformer over a cell's tokens (no graph mask),
pretrained with masked-language modelling on the training cells, then given the stage head.

It answers "does CORAL's graph matter, or would any pretrained transformer do?". A cell is
read as ``[CLS]`` and its tokens in order (``model__token_source``: ``code``, the sub-tokens of
its identifiers and literals, or ``ast``, its serialised AST; then the markdown words above it,
as the bag-of-tokens baselines read it), at most ``max_length`` of them, through torch's own
``nn.TransformerEncoder`` layers with learned positions. There are no pretrained weights to
download, so the encoder is first pretrained on the corpus it is trained on (labels not
needed) with BERT's masked-language modelling: ``mlm_mask_rate`` (15%) of the tokens are
chosen, of those 80% replaced by ``[MASK]``, 10% by a random token and 10% left as they are,
and the model predicts the chosen ones. Then a stage head on the mean of the output vectors
(MLM gives ``[CLS]`` itself no objective) is trained on the weak labels with the losses of
the other torch encoders (``L_weak`` + ``L_unique_stage``), by the same loop, with the encoder
fine-tuned along (``model__finetune``) or frozen as pretraining left it.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from coral.artifacts import load_arrays, read_token_list, save_arrays
from coral.atomic import write_text
from coral.corpora.records import ParsedCell
from coral.encoders.base import ENCODER_FILE, N_STAGES, Encoder, check_weak_labels
from coral.encoders.graphs import size_sorted_chunks
from coral.encoders.losses import stage_losses
from coral.encoders.monitor import split_by_notebook, write_metrics
from coral.encoders.params import ParamGroup
from coral.encoders.training import (
    CHECKPOINT_FILE, TrainingConfig, TrainState, autocast_for, lr_factor, predict_outputs, resolve_device, train_network,
)
from coral.encoders.vocab import PAD, TOKEN_SOURCES, UNK, TokenConfig

CLS, MASK = "[CLS]", "[MASK]"
SPECIAL_TOKENS = (PAD, UNK, CLS, MASK)  # ids 0-3; never a masking target nor a random replacement
PAD_ID, CLS_ID, MASK_ID = 0, 2, 3
EMBEDDING_INIT_STD = 0.02
IGNORE = -100  # target of a position the MLM loss skips (``F.cross_entropy``'s ignore_index)
VOCAB_FILE = "bert.vocab.json"
WEIGHTS_FILE = "bert.npz"
TRAINING_FILE = "training.json"
PRETRAINED_WEIGHTS = "pretrained.npz"  # in the checkpoint directory: the encoder after MLM, for --resume
PRETRAINED_FILE = "pretrained.json"  # its vocabulary and MLM history


@dataclass(frozen=True)
class BertConfig(ParamGroup):
    """The sequence transformer, its stage head's loss, and its masked-language-model pretraining."""

    d_model: int = 256
    heads: int = 4
    layers: int = 4
    d_ff: int = 512
    dropout: float = 0.1
    max_length: int = 256  # tokens read of a cell, after [CLS]
    token_source: str = "code"  # "code": identifier and literal sub-tokens; "ast": the serialised AST
    finetune: bool = True  # False: the encoder stays as pretraining left it; only the stage head learns
    stage_entropy_weight: float = 0.3  # L_unique_stage, as CORAL's
    mlm_epochs: int = 3  # passes of masked-language modelling over the cells; 0: no pretraining
    mlm_max_steps: int = 0  # stop pretraining after this many batches; 0: mlm_epochs decide
    mlm_lr: float = 1e-3  # peak lr of pretraining (warmup and decay as in training)
    mlm_mask_rate: float = 0.15  # share of tokens chosen as targets (80% [MASK], 10% random, 10% kept)


def mask_tokens(ids: Tensor, rate: float, n_tokens: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """BERT's masking of a batch of token ids (B, L): choose ``rate`` of the real tokens
    (not padding or ``[CLS]``); replace 80% of the chosen by ``[MASK]``, 10% by a random
    vocabulary token, keep 10%. Returns the inputs and the targets (``IGNORE`` where not chosen)."""
    draw = torch.rand(ids.shape, generator=generator)
    chosen = (draw < rate) & (ids != PAD_ID) & (ids != CLS_ID)
    action = torch.rand(ids.shape, generator=generator)
    inputs = ids.clone()
    inputs[chosen & (action < 0.8)] = MASK_ID
    randomised = chosen & (action >= 0.8) & (action < 0.9)
    first_regular = len(SPECIAL_TOKENS)
    if n_tokens > first_regular:
        random_ids = torch.randint(first_regular, n_tokens, ids.shape, generator=generator)
        inputs[randomised] = random_ids[randomised]
    return inputs, torch.where(chosen, ids, torch.full_like(ids, IGNORE))


@dataclass
class TokenBatch:
    """Cells as padded token ids, ``[CLS]`` first; ``cell_index`` says which dataset cells these are."""

    ids: Tensor  # (B, L), 0 = padding
    cell_index: Tensor  # (B,)
    y: Tensor | None = None  # (B, 5) weak labels, in training

    def to(self, device: torch.device | str) -> TokenBatch:
        return TokenBatch(**{f.name: None if getattr(self, f.name) is None else getattr(self, f.name).to(device)
                             for f in fields(self)})


class TokenSequences:
    """Cells as token-id sequences (and optionally their weak labels), batched as the shared
    training loop asks a dataset for its batches: cells of similar length together."""

    def __init__(self, sequences: list[np.ndarray], y: np.ndarray | None = None) -> None:
        self.sequences = sequences
        self.lengths = np.array([len(sequence) for sequence in sequences])
        self.y = None if y is None else torch.as_tensor(y, dtype=torch.float32)

    def __len__(self) -> int:
        return len(self.sequences)

    def batches(self, batch_size: int, *, shuffle: bool = False,
                generator: torch.Generator | None = None) -> Iterator[TokenBatch]:
        order = torch.randperm(len(self), generator=generator).numpy() if shuffle else np.arange(len(self))
        for chunk in size_sorted_chunks(order, self.lengths, batch_size, shuffle=shuffle, generator=generator):
            ids = np.zeros((len(chunk), self.lengths[chunk].max()), dtype=np.int64)
            for row, i in enumerate(chunk):
                ids[row, : self.lengths[i]] = self.sequences[i]
            yield TokenBatch(torch.from_numpy(ids), torch.from_numpy(chunk), None if self.y is None else self.y[chunk])


class BertNetwork(nn.Module):
    """Token + position embeddings, ``nn.TransformerEncoder`` (post-norm, GELU, as BERT), an MLM
    head tied to the token embeddings, and the stage head on the mean output vector."""

    def __init__(self, n_tokens: int, config: BertConfig) -> None:
        super().__init__()
        d_model = config.d_model
        if d_model % config.heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by heads ({config.heads})")
        self.tokens = nn.Embedding(n_tokens, d_model, padding_idx=PAD_ID)
        self.positions = nn.Embedding(config.max_length + 1, d_model)
        self.embed_norm = nn.LayerNorm(d_model)
        self.embed_dropout = nn.Dropout(config.dropout)
        layer = nn.TransformerEncoderLayer(d_model, config.heads, config.d_ff, config.dropout, activation="gelu",
                                           batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, config.layers, enable_nested_tensor=False)
        self.mlm_transform = nn.Sequential(nn.Linear(d_model, d_model), nn.GELU(), nn.LayerNorm(d_model))
        self.mlm_bias = nn.Parameter(torch.zeros(n_tokens))
        self.stage = nn.Linear(d_model, N_STAGES + 1)  # + the dummy stage, as CORAL
        self.frozen = False
        for embedding in (self.tokens, self.positions):  # BERT's initialisation: small, so tied MLM scores start near 0
            nn.init.normal_(embedding.weight, std=EMBEDDING_INIT_STD)
        with torch.no_grad():
            self.tokens.weight[PAD_ID].zero_()

    def pretrained_parts(self) -> list[nn.Module]:
        """What masked-language modelling trains and ``freeze_encoder`` freezes."""
        return [self.tokens, self.positions, self.embed_norm, self.encoder]

    def hidden(self, ids: Tensor) -> Tensor:
        """(B, L) token ids -> (B, L, d) output vectors."""
        positions = torch.arange(ids.shape[1], device=ids.device)
        x = self.embed_dropout(self.embed_norm(self.tokens(ids) + self.positions(positions)))
        return self.encoder(x, src_key_padding_mask=ids == PAD_ID)

    def mlm_logits(self, hidden: Tensor) -> Tensor:
        """Scores over the vocabulary for some output vectors (n, d) -> (n, vocabulary)."""
        return self.mlm_transform(hidden) @ self.tokens.weight.T + self.mlm_bias

    def forward(self, batch: TokenBatch) -> dict[str, Tensor]:
        hidden = self.hidden(batch.ids)
        present = (batch.ids != PAD_ID).unsqueeze(-1).to(hidden.dtype)
        z = (hidden * present).sum(dim=1) / present.sum(dim=1)
        return {"z": z, "stage_logits": self.stage(z)}

    def freeze_encoder(self) -> None:
        """Keep the pretrained encoder as it is: no gradient, and no dropout while the head trains."""
        for part in self.pretrained_parts():
            part.requires_grad_(False)
        self.frozen = True

    def train(self, mode: bool = True) -> BertNetwork:
        super().train(mode)
        if self.frozen:
            for part in self.pretrained_parts():
                part.eval()
        return self


class BertEncoder(Encoder):
    """A sequence transformer pretrained by masked-language modelling on the training cells.

    Parameters: ``tokens`` (what is read of a cell, as the other encoders read it), ``model``
    (the network, the token source, frozen or fine-tuned, the pretraining), ``training`` (the
    stage training, as the other torch encoders'; ``batch_size`` also batches the pretraining)
    and ``seed``.
    """

    name = "bert"

    def __init__(self, *, tokens: TokenConfig = TokenConfig(), model: BertConfig = BertConfig(),
                 training: TrainingConfig = TrainingConfig(), seed: int = 0) -> None:
        self.tokens = tokens
        self.model = model
        self.training = training
        self.seed = seed

    def fit(
        self,
        cells: Sequence[ParsedCell],
        y: np.ndarray,
        *,
        checkpoint_dir: str | Path | None = None,
        resume: bool = False,
        progress: bool = False,
    ) -> BertEncoder:
        """Pretrain on every cell (no labels), then train the stage head (and, with ``finetune``,
        the encoder) on the weak labels of the training notebooks; ``resume`` continues a run
        from ``checkpoint_dir`` (pretraining is kept once finished, then epochs as in training)."""
        y = check_weak_labels(cells, y)
        if self.model.token_source not in TOKEN_SOURCES:
            raise ValueError(f"model__token_source must be one of {', '.join(TOKEN_SOURCES)}, not {self.model.token_source!r}")
        torch.manual_seed(self.seed)
        checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None
        docs = [self.tokens.source_tokens(cell, self.model.token_source) for cell in cells]
        pretrained = checkpoint_dir is not None and (checkpoint_dir / PRETRAINED_FILE).is_file()
        if resume and not pretrained:
            raise FileNotFoundError(f"--resume: no checkpoint at {checkpoint_dir and checkpoint_dir / PRETRAINED_FILE}")
        if resume:
            saved = json.loads((checkpoint_dir / PRETRAINED_FILE).read_text())
            self.vocab_, self.pretraining_ = saved["tokens"], saved["history"]
            self.network_ = BertNetwork(len(self.vocab_), self.model)
            self._load_weights(checkpoint_dir / PRETRAINED_WEIGHTS)
        else:
            self.vocab_ = self.tokens.kept_tokens(Counter(token for doc in docs for token in doc), SPECIAL_TOKENS)
            self.network_ = BertNetwork(len(self.vocab_), self.model)
            self.pretraining_ = self._pretrain(TokenSequences(self._encode(docs)), progress)
            if checkpoint_dir:
                checkpoint_dir.mkdir(parents=True, exist_ok=True)
                self._save_weights(checkpoint_dir / PRETRAINED_WEIGHTS)
                write_text(checkpoint_dir / PRETRAINED_FILE,
                           json.dumps({"tokens": self.vocab_, "history": self.pretraining_}) + "\n")
        if not self.model.finetune:
            self.network_.freeze_encoder()
        sequences = self._encode(docs)
        train_idx, val_idx = split_by_notebook(cells, self.training.val_fraction, self.seed)
        train_set = TokenSequences([sequences[i] for i in train_idx], y[train_idx])
        val_set = TokenSequences([sequences[i] for i in val_idx], y[val_idx])
        stage_checkpoint = checkpoint_dir is not None and (checkpoint_dir / CHECKPOINT_FILE).is_file()
        state: TrainState = train_network(self.network_, self._loss, train_set, val_set, self.training, seed=self.seed,
                                          device=self.device, checkpoint_dir=checkpoint_dir,
                                          resume=resume and stage_checkpoint, progress=progress)
        self.network_.cpu().eval()
        self.history_ = state.history
        self.training_ = {"train_cells": len(train_idx), "val_cells": len(val_idx),
                          "train_covered": int((y[train_idx].sum(1) > 0).sum()),
                          "val_covered": int((y[val_idx].sum(1) > 0).sum()),
                          "best_epoch": state.best_epoch, "best_val_weak_loss": state.best_val_loss,
                          "epochs_run": state.epoch, "steps": state.step, "pretraining": self.pretraining_}
        return self

    def _encode(self, docs: Sequence[Sequence[str]]) -> list[np.ndarray]:
        """Token ids of each cell: ``[CLS]``, then its first ``max_length`` tokens (unknown ones: ``[UNK]``)."""
        index = {token: i for i, token in enumerate(self.vocab_)}
        unknown = index[UNK]
        return [np.array([CLS_ID] + [index.get(token, unknown) for token in doc[: self.model.max_length]], dtype=np.int64)
                for doc in docs]

    def _pretrain(self, dataset: TokenSequences, progress: bool) -> list[dict[str, float]]:
        """Masked-language modelling on every cell; one history row per epoch (mean loss, accuracy on the masked tokens)."""
        config, settings = self.model, self.training
        steps_per_epoch = math.ceil(len(dataset) / settings.batch_size)
        total_steps = config.mlm_epochs * steps_per_epoch
        if config.mlm_max_steps:
            total_steps = min(total_steps, config.mlm_max_steps)
        if not total_steps:
            return []
        device = resolve_device(self.device)
        network = self.network_.to(device)
        parameters = [p for part in network.pretrained_parts() for p in part.parameters()]
        parameters += list(network.mlm_transform.parameters()) + [network.mlm_bias]
        optimizer = torch.optim.AdamW(parameters, lr=config.mlm_lr, weight_decay=settings.weight_decay)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: lr_factor(step, total_steps, settings.warmup, settings.min_lr_ratio))
        scaler = torch.amp.GradScaler("cuda", enabled=device.type == "cuda" and not torch.cuda.is_bf16_supported())
        history, step = [], 0
        for epoch in range(1, config.mlm_epochs + 1):
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            network.train()
            loss_sum, correct, targets_seen, started = 0.0, 0, 0, time.perf_counter()
            bar = tqdm(dataset.batches(settings.batch_size, shuffle=True, generator=generator),
                       desc=f"mlm epoch {epoch}/{config.mlm_epochs}", unit="batch", total=steps_per_epoch,
                       disable=not progress, leave=False)
            for batch in bar:
                inputs, targets = mask_tokens(batch.ids, config.mlm_mask_rate, len(self.vocab_), generator)
                chosen = targets != IGNORE
                if not chosen.any():
                    continue
                inputs, targets, chosen = inputs.to(device), targets.to(device), chosen.to(device)
                with autocast_for(device):
                    logits = network.mlm_logits(network.hidden(inputs)[chosen]).float()
                loss = F.cross_entropy(logits, targets[chosen])
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.unscale_(optimizer)
                if settings.grad_clip > 0:
                    nn.utils.clip_grad_norm_(parameters, settings.grad_clip)
                scaler.step(optimizer)
                scaler.update()
                scheduler.step()
                n = int(chosen.sum())
                loss_sum += float(loss.detach()) * n
                correct += int((logits.argmax(dim=1) == targets[chosen]).sum())
                targets_seen += n
                step += 1
                bar.set_postfix(mlm_loss=f"{loss_sum / targets_seen:.3f}")
                if step >= total_steps:
                    break
            row = {"epoch": epoch, "step": step, "mlm_loss": loss_sum / max(targets_seen, 1),
                   "mlm_accuracy": correct / max(targets_seen, 1), "seconds": time.perf_counter() - started}
            history.append(row)
            if progress:
                tqdm.write(f"mlm epoch {epoch}: loss {row['mlm_loss']:.4f}, masked-token accuracy "
                           f"{100 * row['mlm_accuracy']:.1f}%, {row['seconds']:.0f}s")
            if step >= total_steps:
                break
        network.cpu()
        return history

    def _loss(self, outputs: dict[str, Tensor], y: Tensor) -> dict[str, Tensor]:
        return stage_losses(outputs["stage_logits"], y, stage_entropy_weight=self.model.stage_entropy_weight)

    def predict_proba(self, cells: Sequence[ParsedCell], *, progress: bool = False) -> np.ndarray:
        """Stage probabilities over the five stages (the dummy stage's mass is renormalised away)."""
        if not hasattr(self, "network_"):
            raise RuntimeError("this bert encoder is not fitted: call fit or load it")
        if not cells:
            return np.zeros((0, N_STAGES), dtype=np.float32)
        docs = [self.tokens.source_tokens(cell, self.model.token_source) for cell in cells]
        dataset = TokenSequences(self._encode(docs))
        logits = torch.from_numpy(predict_outputs(self.network_, dataset, self.training.batch_size, self.device, progress))
        return logits[:, :N_STAGES].softmax(dim=1).numpy()

    def _save_weights(self, path: Path) -> None:
        save_arrays(path, {name: tensor.detach().cpu().numpy() for name, tensor in self.network_.state_dict().items()})

    def _load_weights(self, path: Path) -> None:
        arrays = load_arrays(path)
        try:
            self.network_.load_state_dict({name: torch.from_numpy(array) for name, array in arrays.items()})
        except RuntimeError as exc:  # names or shapes that do not match encoder.json
            raise ValueError(f"{path}: does not fit {path.parent / ENCODER_FILE} ({str(exc).splitlines()[0]})") from None

    def _save_state(self, directory: Path) -> None:
        write_text(directory / VOCAB_FILE, json.dumps(self.vocab_) + "\n")
        self._save_weights(directory / WEIGHTS_FILE)
        write_text(directory / TRAINING_FILE, json.dumps(getattr(self, "training_", {}), indent=2) + "\n")
        write_metrics(directory, getattr(self, "history_", []))

    def _load_state(self, directory: Path) -> None:
        self.vocab_ = read_token_list(directory / VOCAB_FILE)
        if tuple(self.vocab_[: len(SPECIAL_TOKENS)]) != SPECIAL_TOKENS:
            raise ValueError(f"{directory / VOCAB_FILE}: a bert vocabulary starts with {', '.join(SPECIAL_TOKENS)}")
        self.network_ = BertNetwork(len(self.vocab_), self.model)
        self._load_weights(directory / WEIGHTS_FILE)
        self.network_.eval()
