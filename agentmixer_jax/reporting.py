"""Host-side progress: a rich progress bar and optional Weights & Biases logging.

`make_train(..., reporter=Reporter(...))` calls the reporter from inside the jitted, vmapped `train`
once every `config.log_interval` updates, with the update index and the metrics of the last chunk
(arrays with the seed / hyperparameter axes in front). Nothing here may crash training: wandb errors
are reported once and logging goes on without it.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


class WandbLogger:
    """Thin, failure-proof wandb wrapper: offline when no API key is configured."""

    def __init__(self, project: str, name: str, config: dict[str, Any], out_dir: str, console: Console):
        self.run = None
        self.console = console
        try:
            import wandb

            online = os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_MODE") == "online"
            mode = "online" if online else "offline"
            self.run = wandb.init(project=project, name=name, config=config, dir=out_dir, mode=mode, reinit=True)
            console.print(f"[dim]wandb: logging {mode} to {out_dir}[/dim]")
        except Exception as err:  # noqa: BLE001 - logging must never stop training
            console.print(f"[yellow]wandb disabled: {err}[/yellow]")

    def log(self, data: dict[str, float], step: int) -> None:
        if self.run is None:
            return
        try:
            self.run.log(data, step=step)
        except Exception as err:  # noqa: BLE001
            self.console.print(f"[yellow]wandb log failed, disabling: {err}[/yellow]")
            self.run = None

    def summary(self, data: dict[str, Any]) -> None:
        if self.run is None:
            return
        try:
            self.run.summary.update(data)
            self.run.finish()
        except Exception as err:  # noqa: BLE001
            self.console.print(f"[yellow]wandb finish failed: {err}[/yellow]")
        self.run = None


class Reporter:
    """Progress bar over updates; forwards seed-averaged metrics to wandb."""

    def __init__(self, total_updates: int, steps_per_update: int, description: str = "training",
                 wandb: WandbLogger | None = None, console: Console | None = None, show: bool = True):
        self.total = total_updates
        self.steps_per_update = steps_per_update
        self.wandb = wandb
        self.console = console or Console(file=sys.stderr)
        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("updates  return {task.fields[ret]}"), TimeElapsedColumn(),
            console=self.console, disable=not show, transient=False)
        self.task = self.progress.add_task(description, total=total_updates, ret="   n/a")

    def __enter__(self) -> Reporter:
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.stop()

    def __call__(self, update: int, metrics: dict[str, np.ndarray]) -> None:
        means = {k: float(np.mean(v)) for k, v in metrics.items()}
        ret = means.get("episode_return")
        self.progress.update(self.task, completed=min(update, self.total),
                             ret=f"{ret:7.3f}" if ret is not None else "   n/a")
        if self.wandb is not None:
            self.wandb.log({f"train/{k}": v for k, v in means.items()}, step=update * self.steps_per_update)
