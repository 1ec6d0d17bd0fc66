"""The run folder: one module owns its layout, and every writer and reader goes through it.

    OUT/summary.json      what the run is and how it ended (versioned schema, strict JSON: NaN is written null)
    OUT/metrics.npz       per-update training metrics: `<name>_per_seed` (S, U) and the mean over healthy seeds (U,)
    OUT/eval_curve.npz    periodic greedy evaluation: `update` (K,) and `<name>_per_seed` (K, S)
    OUT/params/           every seed's final parameters (orbax), for `agentmixer_jax.checkpoint.load_run`
    OUT/checkpoints/      the full training state of the last two checkpoints (orbax, atomic), for --resume
    OUT/playback.json     written by `python -m experiments.playback`
    OUT/wandb/            with --wandb

`summary["status"]` is one of STATUSES: `running` while training (with a checkpoint to resume once one is
saved), `finished`, `interrupted` (Ctrl-C: resumable), `diverged` (every seed non-finite; the last finite
checkpoint is kept), `failed` (an error, in `summary["error"]`).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

SCHEMA_VERSION = 2
STATUSES = ("running", "finished", "interrupted", "diverged", "failed")

SUMMARY = "summary.json"
METRICS = "metrics.npz"
EVAL_CURVE = "eval_curve.npz"
PARAMS = "params"
CHECKPOINTS = "checkpoints"
PLAYBACK = "playback.json"
WANDB = "wandb"
# Renames of env info scalars in summary.json, as DESIGN.md names them.
EVAL_NAMES = {"won": "win_rate", "success": "success_rate"}


class RunFolderError(ValueError):
    """A run folder that cannot be used as asked (exists, not writable, not a run, ...)."""


def strict_json(obj: Any) -> Any:
    """`obj` with numpy values made Python and non-finite floats made None (JSON has no NaN or Infinity)."""
    if isinstance(obj, dict):
        return {str(k): strict_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [strict_json(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return strict_json(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, obj: Any) -> None:
    """`obj` as strict JSON (NaN written null), indented, written atomically (summary.json, a scan's scan.json)."""
    _atomic_write_bytes(path, json.dumps(strict_json(obj), indent=1, allow_nan=False).encode())


def _atomic_savez(path: Path, arrays: dict[str, np.ndarray]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".npz")
    os.close(fd)
    try:
        np.savez_compressed(tmp, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def eval_summary(evals: dict, prefixes, diverged) -> dict[str, list]:
    """{name_per_seed: list} with env info names renamed (won -> win_rate, ...) and diverged seeds None."""
    out = {}
    order = sorted(prefixes, key=len, reverse=True)  # "" last; e.g. AIL's "expert_"
    for k, v in evals.items():
        prefix = next(p for p in order if k.startswith(p))
        base = k.removeprefix(prefix)
        values = np.where(diverged, np.nan, np.asarray(v, np.float64))
        out[f"{prefix}{EVAL_NAMES.get(base, base)}_per_seed"] = values.tolist()
    first = [f"{p}{name}_per_seed" for p in sorted(prefixes, key=len) for name in ("return", "length")]
    return {**{k: out[k] for k in first if k in out}, **{k: v for k, v in out.items() if k not in first}}


def upgrade_summary(summary: dict) -> dict:
    """A summary of any schema version in today's form. Version 1 (no `schema_version`) was only written by
    finished runs, without `status` or `diverged_per_seed`."""
    version = summary.get("schema_version", 1)
    if version > SCHEMA_VERSION:
        raise RunFolderError(f"summary.json has schema_version {version}; this agentmixer-jax reads up to "
                             f"{SCHEMA_VERSION}: update agentmixer-jax")
    if version == 1:
        summary = {"schema_version": SCHEMA_VERSION, "status": "finished", **summary}
        summary.setdefault("diverged_per_seed", [False] * int(summary.get("seeds", 0)))
    return summary


class RunFolder:
    """One run's output folder."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    # ----- paths -------------------------------------------------------------------------------------
    @property
    def summary_path(self) -> Path:
        return self.path / SUMMARY

    @property
    def metrics_path(self) -> Path:
        return self.path / METRICS

    @property
    def eval_curve_path(self) -> Path:
        return self.path / EVAL_CURVE

    @property
    def params_path(self) -> Path:
        return self.path.absolute() / PARAMS

    @property
    def checkpoints_path(self) -> Path:
        return self.path.absolute() / CHECKPOINTS

    @property
    def playback_path(self) -> Path:
        return self.path / PLAYBACK

    @property
    def wandb_path(self) -> Path:
        return self.path / WANDB

    def has_summary(self) -> bool:
        return self.summary_path.is_file()

    # ----- creating ----------------------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | Path, overwrite: bool = False) -> RunFolder:
        """A new, empty, writable run folder at `path`.

        Refuses a folder that already holds files unless `overwrite` (which empties it first); checks that files
        can be written there, so a bad `--out` fails before anything compiles."""
        folder = cls(path)
        p = folder.path
        if p.exists() and not p.is_dir():
            raise RunFolderError(f"--out {p} is a file, not a folder: choose another --out")
        if p.is_dir() and any(p.iterdir()):
            if not overwrite:
                what = "a run" if folder.has_summary() else "files"
                raise RunFolderError(
                    f"--out {p} already holds {what}; pass --resume {p} to continue it, --overwrite to replace "
                    "it, or choose another --out")
            for child in p.iterdir():
                shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
        folder.check_writable()
        return folder

    def check_writable(self) -> None:
        """Make the folder if needed and write a probe file; a RunFolderError names the folder if that fails."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            probe = self.path / ".write_test"
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as err:
            raise RunFolderError(f"--out {self.path} is not writable ({err.strerror or err}); choose a folder you "
                                 "can write to") from err

    def remove_if_empty(self) -> None:
        """Remove the folder when nothing was written into it (a run that failed before writing anything)."""
        try:
            self.path.rmdir()
        except OSError:
            pass

    # ----- summary -----------------------------------------------------------------------------------
    def read_summary(self) -> dict:
        if not self.has_summary():
            raise FileNotFoundError(f"{self.summary_path} not found: pass the --out folder of an experiments.train run")
        try:
            summary = json.loads(self.summary_path.read_text())
        except json.JSONDecodeError as err:
            raise RunFolderError(f"{self.summary_path} is not valid JSON ({err})") from err
        return upgrade_summary(summary)

    def write_summary(self, summary: dict) -> None:
        """Write summary.json atomically, as strict JSON, stamped with the schema version."""
        status = summary.get("status")
        if status not in STATUSES:
            raise ValueError(f"summary status {status!r} must be one of {STATUSES}")
        write_json(self.summary_path, {"schema_version": SCHEMA_VERSION, **summary})

    # ----- metrics and evaluation curves ---------------------------------------------------------------
    def write_metrics(self, per_seed: dict[str, np.ndarray], healthy: np.ndarray | None = None) -> None:
        """Per-update metrics {name: (S, U)}; the mean over `healthy` seeds (all when None) is stored beside."""
        arrays = {}
        for name, v in per_seed.items():
            v = np.asarray(v)
            rows = v if healthy is None else v[np.asarray(healthy, bool)]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # no healthy seed: the mean is NaN
                arrays[name] = rows.mean(0) if len(rows) else np.full(v.shape[1:], np.nan)
            arrays[f"{name}_per_seed"] = v
        _atomic_savez(self.metrics_path, arrays)

    def read_metrics(self) -> dict[str, np.ndarray]:
        """{name: (U,) mean, name_per_seed: (S, U)}; empty when the run wrote no metrics yet."""
        if not self.metrics_path.is_file():
            return {}
        with np.load(self.metrics_path) as data:
            return {k: data[k] for k in data.files}

    def write_eval_curve(self, updates: np.ndarray, per_seed: dict[str, np.ndarray]) -> None:
        """Greedy evaluations at `updates` (K,): {name: (K, S)}."""
        _atomic_savez(self.eval_curve_path, {"update": np.asarray(updates, np.int64),
                                             **{f"{k}_per_seed": np.asarray(v) for k, v in per_seed.items()}})

    def read_eval_curve(self) -> dict[str, np.ndarray]:
        if not self.eval_curve_path.is_file():
            return {}
        with np.load(self.eval_curve_path) as data:
            return {k: data[k] for k in data.files}

    # ----- parameters and checkpoints (orbax) --------------------------------------------------------------
    def save_params(self, params) -> Path:
        """Every seed's final parameters (leading seed axis) to OUT/params, replacing an earlier save."""
        import jax
        import orbax.checkpoint as ocp

        ckpt = ocp.StandardCheckpointer()
        ckpt.save(self.params_path, jax.device_get(params), force=True)
        ckpt.wait_until_finished()
        return self.params_path

    def restore_params(self, target):
        import orbax.checkpoint as ocp

        if not self.params_path.exists():
            raise FileNotFoundError(f"{self.params_path} not found: the run was trained with --no-checkpoint, did "
                                    "not finish, or was written by a version that did not save parameters")
        return ocp.StandardCheckpointer().restore(self.params_path, target)

    def _manager(self):
        import orbax.checkpoint as ocp

        options = ocp.CheckpointManagerOptions(max_to_keep=2, create=True, enable_async_checkpointing=False)
        return ocp.CheckpointManager(self.checkpoints_path, options=options)

    def save_checkpoint(self, update: int, state, host: dict) -> None:
        """The full training state after `update` updates, and the host's JSON record of the run so far.

        Orbax writes into a temporary folder and renames it when complete, so a crash mid-save leaves the
        previous checkpoint; the two newest are kept."""
        import orbax.checkpoint as ocp

        with self._manager() as mgr:
            mgr.save(update, args=ocp.args.Composite(state=ocp.args.StandardSave(state),
                                                     host=ocp.args.JsonSave(strict_json(host))), force=True)
            mgr.wait_until_finished()

    def latest_checkpoint(self) -> int | None:
        """The update count of the newest complete checkpoint, or None."""
        if not self.checkpoints_path.is_dir():
            return None
        with self._manager() as mgr:
            return mgr.latest_step()

    def restore_checkpoint(self, target, update: int | None = None) -> tuple[Any, dict]:
        """(state, host record) of the checkpoint after `update` updates (default: the newest)."""
        import orbax.checkpoint as ocp

        with self._manager() as mgr:
            update = mgr.latest_step() if update is None else update
            if update is None:
                raise RunFolderError(f"{self.checkpoints_path} holds no complete checkpoint to resume from")
            out = mgr.restore(update, args=ocp.args.Composite(state=ocp.args.StandardRestore(target),
                                                              host=ocp.args.JsonRestore()))
        return out["state"], out["host"]


def find_runs(paths: Iterable[str | Path], warn=None) -> list[RunFolder]:
    """Run folders among `paths`: a folder with summary.json is a run; another folder stands for its sub-folders
    that are runs. Folders without a summary (an empty or crashed run) are skipped with a warning via `warn`."""
    warn = warn or (lambda msg: warnings.warn(msg, stacklevel=3))
    runs = []
    for p in map(Path, paths):
        folder = RunFolder(p)
        if folder.has_summary():
            runs.append(folder)
            continue
        if not p.is_dir():
            warn(f"skipping {p}: not a folder")
            continue
        subs = sorted(c for c in p.iterdir() if c.is_dir())
        found = [RunFolder(c) for c in subs if RunFolder(c).has_summary()]
        for c in subs:
            if not RunFolder(c).has_summary():
                warn(f"skipping {c}: no {SUMMARY} (a run that never finished its first step, or not a run)")
        if not found and not subs:
            warn(f"skipping {p}: no {SUMMARY} (a run that never finished its first step, or not a run)")
        runs.extend(found)
    return runs
