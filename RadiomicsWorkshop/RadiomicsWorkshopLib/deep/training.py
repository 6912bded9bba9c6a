"""One training loop for every network the core trains: train-cnn's classifiers and train-seg's segmenters.

Epochs over a training loader; after each, a validation metric (a loss to lower, or a Dice to raise) decides
which epoch's weights are kept, and training stops ``patience`` epochs after the best one. A checkpoint is
written atomically after every epoch; a run whose ``signature`` (settings, cases, seed: whatever the caller
says makes a run the same) matches the checkpoint's resumes from it, random state included, so an
interrupted run ends where an uninterrupted one would.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

logger = logging.getLogger(__name__)


@dataclass
class TrainingRun:
    best_state: dict | None  # the weights of the best epoch (on the CPU)
    history: list[dict] = field(default_factory=list)  # one record per epoch: epoch, loss, the metric, ...
    best_epoch: int = 0
    first_epoch: int = 0  # epochs done before this run (a resumed run)
    seen: int = 0  # training items seen by this run
    train_seconds: float = 0.0  # time spent in training batches (for throughput)
    threads: int = 0  # torch's intra-op threads while it trained (the --jobs budget, or torch's default)


def _mean(losses: list[tuple[float, int]]) -> float:
    return sum(loss for loss, _ in losses) / max(len(losses), 1)


def _best_epoch(history: list[dict], metric: str, higher_is_better: bool) -> int:
    pick = max if higher_is_better else min
    return pick(history, key=lambda h: h[metric])["epoch"] if history else 0


def _resume(checkpoint: Path, signature: Any, network, optimizer, scheduler, loader) -> dict | None:
    import torch

    saved = torch.load(str(checkpoint), map_location="cpu", weights_only=True)
    if saved.get("signature") != signature:
        logger.warning("checkpoint %s is from other settings or cases: starting again", checkpoint)
        return None
    network.load_state_dict(saved["network"])
    optimizer.load_state_dict(saved["optimizer"])
    if scheduler is not None and saved.get("scheduler"):
        scheduler.load_state_dict(saved["scheduler"])
    torch.set_rng_state(saved["torch_rng"])
    if getattr(loader, "generator", None) is not None and saved.get("loader_rng") is not None:
        loader.generator.set_state(saved["loader_rng"])
    return saved


def _save(checkpoint: Path, signature: Any, epoch: int, network, optimizer, scheduler, loader, run: TrainingRun,
          best_metric: float) -> None:
    import torch

    from ..io.tables import atomic_target

    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    tmp = atomic_target(checkpoint)
    generator = getattr(loader, "generator", None)
    torch.save({"signature": signature, "epoch": epoch, "network": network.state_dict(),
                "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict() if scheduler else None,
                "history": run.history, "best_metric": best_metric, "best_state": run.best_state,
                "torch_rng": torch.get_rng_state(),
                "loader_rng": generator.get_state() if generator is not None else None}, tmp)
    tmp.replace(checkpoint)


def fit(network, optimizer, train_loader, *, loss_fn: Callable[[Any], tuple[Any, int]],
        evaluate: Callable[[], float], epochs: int, patience: int, metric: str, higher_is_better: bool,
        signature: Any, checkpoint: Path | None = None, resume: bool = True, scheduler=None,
        scheduler_step: Callable[[float], None] | None = None,
        epoch_loss: Callable[[list[tuple[float, int]]], float] = _mean, learning_rate_in_history: bool = False,
        on_start: Callable[[int], None] | None = None, on_epoch: Callable[[dict], None] | None = None) -> TrainingRun:
    """Train ``network``; returns the best epoch's weights and the history.

    ``loss_fn(batch)`` -> (loss tensor, items in the batch); ``evaluate()`` -> the validation metric, named
    ``metric`` in the history; ``epoch_loss`` turns the epoch's (loss, items) pairs into its training loss."""
    import torch

    run = TrainingRun(best_state=None, threads=torch.get_num_threads())
    best_metric = float("-inf") if higher_is_better else float("inf")
    if resume and checkpoint is not None and checkpoint.is_file():
        saved = _resume(checkpoint, signature, network, optimizer, scheduler, train_loader)
        if saved is not None:
            run.history, run.best_state, best_metric = saved["history"], saved["best_state"], saved["best_metric"]
            run.first_epoch = saved["epoch"] + 1
    if on_start is not None:
        on_start(run.first_epoch)
    for epoch in range(run.first_epoch, epochs):
        if run.history and epoch + 1 - _best_epoch(run.history, metric, higher_is_better) > patience:
            break  # resumed after the stopping epoch
        network.train()
        t0, losses = time.monotonic(), []
        for batch in train_loader:
            optimizer.zero_grad()
            loss, items = loss_fn(batch)
            loss.backward()
            optimizer.step()
            losses.append((loss.item(), items))
            run.seen += items
        run.train_seconds += time.monotonic() - t0
        network.eval()
        value = evaluate()
        record = {"epoch": epoch + 1, "loss": epoch_loss(losses), metric: value}
        if learning_rate_in_history:
            record["learning_rate"] = optimizer.param_groups[0]["lr"]
        run.history.append(record)
        if (value > best_metric) if higher_is_better else (value < best_metric):
            best_metric = value
            run.best_state = {k: v.detach().cpu().clone() for k, v in network.state_dict().items()}
        if scheduler_step is not None:
            scheduler_step(value)
        if checkpoint is not None:
            _save(checkpoint, signature, epoch, network, optimizer, scheduler, train_loader, run, best_metric)
        if on_epoch is not None:
            on_epoch(record)
        if epoch + 1 - _best_epoch(run.history, metric, higher_is_better) >= patience:
            break
    run.best_epoch = _best_epoch(run.history, metric, higher_is_better)
    return run
