"""Host-side progress: a rich progress bar (or one line per chunk in a log file) and optional Weights & Biases.

The CLI calls the reporter between chunks of updates with the number of updates done and the chunk's metrics
(arrays with the seed axis in front). Nothing here may crash training: wandb errors are reported once and
logging goes on without it.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn


class WandbLogger:
    """Thin, failure-proof wandb wrapper: offline when no API key is configured."""

    def __init__(self, project: str, name: str, config: dict[str, Any], out_dir: str, console: Console,
                 run_id: str | None = None, group: str | None = None):
        """`run_id`: continue that wandb run (a resumed training run logs into the run it started). `group`: wandb's
        run group (a scan's settings share one)."""
        self.run = None
        self.run_id = run_id
        self.console = console
        try:
            import wandb

            online = os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_MODE") == "online"
            mode = "online" if online else "offline"
            self.run = wandb.init(project=project, name=name, config=config, dir=out_dir, mode=mode, reinit=True,
                                  id=run_id, resume="allow" if run_id else None, group=group)
            self.run_id = self.run.id
            console.print(f"[dim]wandb: logging {mode} to {out_dir}[/dim]")
        except Exception as err:  # noqa: BLE001 - logging must never stop training
            console.print(f"[yellow]wandb disabled: {err}[/yellow]")

    def log(self, data: dict[str, Any], step: int) -> None:
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
    """Progress over updates, reported by the host between chunks (never from inside the compiled program).

    On a terminal: a rich progress bar (updates, training return, env steps/s, elapsed, diverged seeds) and a
    spinner with the elapsed time while the programs compile. Elsewhere (a log file, a pipe): one plain line per
    chunk, so a log shows progress as it happens. Seed-averaged metrics go to wandb when it is on."""

    def __init__(self, total_updates: int, steps_per_update: int, description: str = "training",
                 wandb: WandbLogger | None = None, console: Console | None = None, show: bool = True,
                 num_seeds: int = 1):
        self.total = total_updates
        self.steps_per_update = steps_per_update  # env steps of one update, all seeds together
        self.description = description
        self.wandb = wandb
        self.console = console or Console(file=sys.stderr)
        self.show = show
        self.num_seeds = num_seeds
        self.live = self.console.is_terminal
        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("updates"),
            TextColumn("return {task.fields[ret]}"), TextColumn("{task.fields[sps]} env steps/s"),
            TextColumn("{task.fields[diverged]}"), TimeElapsedColumn(),
            console=self.console, disable=not (show and self.live), transient=False)
        self.task = None
        self._t0 = self._done0 = None

    @contextlib.contextmanager
    def compiling(self, what: str):
        """Show that `what` is compiling: a spinner with the elapsed time, or a line before and after."""
        t0 = time.perf_counter()
        if self.show and self.live:
            with Progress(SpinnerColumn(), TextColumn(f"compiling {what}"), TimeElapsedColumn(),
                          console=self.console, transient=True) as spinner:
                spinner.add_task("compile", total=None)
                yield
        else:
            if self.show:
                self.console.print(f"compiling {what} ...", highlight=False)
            yield
        if self.show:
            self.console.print(f"compiled {what} in {time.perf_counter() - t0:.1f} s", highlight=False)

    def start(self, done: int = 0) -> None:
        self._t0, self._done0 = time.perf_counter(), done
        self.task = self.progress.add_task(self.description, total=self.total, completed=done, ret="   n/a",
                                           sps="-", diverged="")
        self.progress.start()

    def stop(self) -> None:
        self.progress.stop()

    def __call__(self, done: int, metrics: dict[str, np.ndarray], diverged: int = 0,
                 env_steps: int | None = None) -> None:
        """After a chunk: `done` updates so far, the chunk's metrics (seed axis first), seeds diverged so far;
        `env_steps`: env steps so far, all seeds together, when updates differ in size (a scan's programs)."""
        means = {k: float(np.nanmean(v)) if np.isfinite(v).any() else float("nan") for k, v in metrics.items()}
        ret = means.get("episode_return")
        elapsed = time.perf_counter() - self._t0
        steps = (done - self._done0) * self.steps_per_update if env_steps is None else env_steps
        sps = steps / max(elapsed, 1e-9)
        ret_text = f"{ret:7.3f}" if ret is not None else "   n/a"
        div_text = f"{diverged} of {self.num_seeds} seeds diverged" if diverged else ""
        if self.show and self.live:
            self.progress.update(self.task, completed=min(done, self.total), ret=ret_text, sps=f"{sps:,.0f}",
                                 diverged=div_text)
        elif self.show:
            pct = 100.0 * done / self.total
            line = (f"{self.description}: update {done}/{self.total} ({pct:.0f}%) | return {ret_text.strip()} | "
                    f"{sps:,.0f} env steps/s | {_clock(elapsed)}")
            self.console.print(line + (f" | {div_text}" if div_text else ""), highlight=False, soft_wrap=True)
        if self.wandb is not None:
            self.wandb.log({f"train/{k}": v for k, v in means.items()}, step=done * self.steps_per_update)


def _clock(seconds: float) -> str:
    minutes, sec = divmod(int(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{sec:02d}"
