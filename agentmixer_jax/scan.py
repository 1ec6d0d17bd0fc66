"""Hyperparameter scans: settings x seeds in ONE compiled program, a tidy table back.

    from agentmixer_jax.scan import scan
    result = scan("predator_prey_p1", "agentmixer", {"lr": [3e-4, 1e-3], "ent_coef": [0.0, 0.01]}, seeds=16)
    result.table                    # pandas DataFrame: one row per setting x seed (eval return, diverged, ...)
    result.summary()                # one row per setting: IQM / mean of the greedy return with 95% bootstrap CIs
    result.best()["command"]        # the best setting as an `experiments.train` command line

How it runs. Every name in the grid is either a traced hyperparameter (`HParams`: learning rates, coefficients,
...) or a static config field (`TrainConfig`: network sizes, rollout shape, ...). Traced settings cost nothing
extra: for each combination of static values, all its traced settings x all seeds become one batch of G x S
independent runs, one vmapped program (`trainer.Seeds` with one `HParams` row per run), sharded over the local
devices like any training run. Each combination of static values is a separate compile; the scan says how many
before it starts. Setting g's seed s starts from the same key as seed s of `python -m experiments.train --seeds S`
(fold_in(PRNGKey(seed), s)): every setting is compared on the same seeds (common random numbers), and its row
reproduces with the command the scan writes for it.

The scan folder (`out`):

    OUT/scan.json          the scan: env, algo, grid, settings, compiles, compile and training seconds, status
    OUT/results.csv        the tidy table (what `result.table` is)
    OUT/settings/NNN_*/    one run folder per setting, the layout of `experiments.train`'s (summary.json with
                           per-seed eval, metrics.npz curves, eval_curve.npz with eval_every): `results_table`,
                           `plot_curves` and `load_scan` read them

A Ctrl-C (KeyboardInterrupt, in a notebook too) or an error marks scan.json `interrupted` / `failed` with the
error and says so; a scan is one program and keeps no checkpoint, so it is run again. Diverged runs (non-finite
parameters or losses) are flagged in the table, their scores NaN, and left out of every
statistic (`stats`), never scored. wandb (optional, offline without a key) gets one run per setting, grouped by
the scan, so wandb's parallel-coordinates view compares the settings; a wandb failure never stops the scan.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from agentmixer_jax import stats
from agentmixer_jax.config import HParams, TrainConfig
from agentmixer_jax.run_record import write_json

SCAN_JSON = "scan.json"
RESULTS_CSV = "results.csv"
SETTINGS = "settings"


class ScanError(ValueError):
    """A scan that cannot work as asked: raised before anything compiles, naming the field and the fix."""


# ----- the plan: every check before anything compiles ------------------------------------------------------
@dataclasses.dataclass
class _Group:
    """One combination of static values: its settings (indices into the scan's list) run as one program."""

    static: dict  # {config field: value}
    settings: list[int]  # indices of the scan's settings in this program, in order
    config: TrainConfig = None  # type: ignore[assignment]
    trainer: Any = None
    seeds: Any = None
    hp: HParams = None  # type: ignore[assignment]  # leaves (len(settings) * S,): setting-major, seed-minor


def _config_fields() -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(TrainConfig) if f.name != "algo"}


def _check_grid(grid: Mapping[str, Sequence]) -> tuple[list[str], list[str]]:
    """(traced names, static names) of the grid, or a ScanError naming the bad entry."""
    if not grid:
        raise ScanError("grid is empty: give at least one name -> list of values, e.g. {'lr': [3e-4, 1e-3]}")
    hp_names, cfg_fields = set(HParams.names()), _config_fields()
    traced, static = [], []
    for name, values in grid.items():
        if isinstance(values, str | bytes) or not isinstance(values, Sequence) or len(values) == 0:
            raise ScanError(f"grid[{name!r}] must be a non-empty list of values, got {values!r}")
        if len(set(map(repr, values))) != len(values):
            raise ScanError(f"grid[{name!r}] repeats a value: {list(values)}")
        if name in hp_names:
            bad = [v for v in values if isinstance(v, bool) or not isinstance(v, int | float)]
            if bad:
                raise ScanError(f"grid[{name!r}]: {name} is a traced hyperparameter (a float); got {bad[0]!r}")
            traced.append(name)
        elif name in cfg_fields:
            static.append(name)
        else:
            import difflib

            close = difflib.get_close_matches(name, [*hp_names, *cfg_fields], n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ScanError(f"grid[{name!r}]: not a hyperparameter (HParams) nor a config field (TrainConfig){hint}")
    return traced, static


def _settings(grid: Mapping[str, Sequence]) -> list[dict]:
    """The cartesian product of the grid, in the grid's order (the last name varies fastest)."""
    names = list(grid)
    return [dict(zip(names, combo)) for combo in itertools.product(*(grid[n] for n in names))]


def _cli_value(value) -> str:
    if isinstance(value, tuple | list):
        return " ".join(map(str, value))
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def train_command(env: str, algo: str, seeds: int, seed: int, network: str, env_kw: Mapping, config: Mapping,
                  hp: Mapping, eval_every: int = 0) -> str:
    """The `experiments.train` command line that trains these settings (its seed i is the scan's seed i)."""
    parts = ["python -m experiments.train", f"--env {env}", f"--algo {algo}", f"--seeds {seeds}"]
    if seed:
        parts.append(f"--seed {seed}")
    if network != "preset":
        parts.append(f"--network {network}")
    if eval_every:
        parts.append(f"--eval-every {eval_every}")
    if env_kw:
        parts.append("--env-kw " + " ".join(f"{k}={v!r}" for k, v in env_kw.items()))
    for name, value in config.items():
        flag = f"--config.{name.replace('_', '-')}"
        if isinstance(value, bool):
            parts.append(flag if value else f"--config.no-{name.replace('_', '-')}")
        else:
            parts.append(f"{flag} {_cli_value(value)}")
    parts += [f"--hp.{name.replace('_', '-')} {_cli_value(float(value))}" for name, value in hp.items()]
    return " ".join(parts)


@dataclasses.dataclass
class ScanResult:
    """What a scan returns (and `load_scan` reads back): the tidy table, the settings, and how it ran."""

    folder: Path | None
    table: Any  # pandas.DataFrame: one row per setting x seed
    settings: list[dict]  # the G settings (grid name -> value), in the table's `setting` order
    info: dict  # scan.json: env, algo, seeds, compiles, wall and compile seconds, commands, status

    @property
    def compiles(self) -> int:
        return int(self.info["compiles"])

    @property
    def metrics(self) -> list[str]:
        """The evaluation scores in the table (greedy decentralised `return`, `length`, env info such as
        `win_rate`; AIL's `expert_*` too)."""
        return list(self.info["eval_metrics"])

    def summary(self, metric: str = "return", stats_: Sequence[str] = ("iqm", "mean"), reps: int = stats.REPS):
        """One row per setting: the grid values, healthy seeds, and each statistic of `metric` over seeds with
        its 95% stratified-bootstrap CI (columns `<stat>`, `<stat>_low`, `<stat>_high`)."""
        import pandas as pd

        rows = []
        for g, setting in enumerate(self.settings):
            sub = self.table[self.table["setting"] == g]
            values = np.where(sub["diverged"], np.nan, sub[metric].to_numpy(np.float64))
            est = stats.aggregates(values, stats_, reps=reps, seed=g)
            row = {"setting": g, **setting, "seeds": int(np.isfinite(values).sum()),
                   "diverged": int(sub["diverged"].sum())}
            for name, e in est.items():
                row.update({name: e.point, f"{name}_low": e.low, f"{name}_high": e.high})
            rows.append(row)
        return pd.DataFrame(rows)

    def best(self, metric: str = "return", stat: str = "iqm", maximize: bool = True) -> dict:
        """The best setting by `stat` of `metric` over seeds: {"setting", "values", stat, "low", "high",
        "command"}; ties go to the better mean; settings whose every seed diverged never win."""
        stats_ = (stat,) if stat == "mean" else (stat, "mean")
        summary = self.summary(metric, stats_)
        scores = summary[stat].to_numpy(np.float64)
        if not np.isfinite(scores).any():
            raise ValueError(f"no setting has a finite {stat} of {metric}: every seed diverged")
        sign = 1.0 if maximize else -1.0
        # ties on `stat` (e.g. an IQM that several settings reach exactly) go to the better mean, then the first
        order = np.lexsort((np.arange(len(scores)), -sign * np.nan_to_num(summary["mean"].to_numpy(np.float64),
                                                                          nan=-sign * np.inf),
                            -sign * np.nan_to_num(scores, nan=-sign * np.inf)))
        g = int(order[0])
        row = summary.iloc[g]
        return {"setting": g, "values": self.settings[g], stat: float(row[stat]), "low": float(row[f"{stat}_low"]),
                "high": float(row[f"{stat}_high"]), "command": self.info["commands"][g]}

    def curves(self, setting: int, metric: str = "episode_return") -> tuple[np.ndarray, np.ndarray]:
        """(env steps per seed (U,), per-seed training curve (S, U)) of one setting (NaN for diverged seeds)."""
        from agentmixer_jax.run_record import RunFolder

        if self.folder is None:
            raise ValueError("this scan wrote no folder (out=None): curves live only in run folders")
        folder = RunFolder(self.folder / SETTINGS / self.info["setting_folders"][setting])
        summary = folder.read_summary()
        per_seed = folder.read_metrics()[f"{metric}_per_seed"].astype(np.float64)
        per_seed[np.asarray(summary["diverged_per_seed"], bool)] = np.nan
        steps = (np.arange(per_seed.shape[1]) + 1) * summary["env_steps_per_update"]
        return steps, per_seed


def load_scan(folder: str | Path) -> ScanResult:
    """Read a scan folder back (its table, settings and scan.json)."""
    import pandas as pd

    folder = Path(folder)
    path = folder / SCAN_JSON
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: pass the `out` folder of a scan")
    info = json.loads(path.read_text())
    table = pd.read_csv(folder / RESULTS_CSV) if (folder / RESULTS_CSV).is_file() else None
    return ScanResult(folder=folder, table=table, settings=info["settings"], info=info)


def _folder_name(g: int, setting: dict) -> str:
    text = "_".join(f"{k}={_cli_value(v).replace(' ', 'x')}" for k, v in setting.items())
    safe = "".join(c if c.isalnum() or c in "._=-" else "-" for c in text)
    return f"{g:03d}_{safe}"[:120]


def scan(env: str, algo: str, grid: Mapping[str, Sequence], seeds: int = 16, *, seed: int = 0,
         network: str = "preset", config: Mapping | None = None, hp: Mapping | None = None,
         env_kw: Mapping | None = None, out: str | Path | None = None, overwrite: bool = False,
         eval_every: int = 0, progress: bool = True, wandb: bool = False, wandb_project: str = "agentmixer-jax",
         devices: Sequence | None = None, console=None) -> ScanResult:
    """Train `algo` on `env` at every setting of `grid` x `seeds` seeds and return the tidy table.

    grid:     {name: [values]}: HParams names are traced (one program), TrainConfig names static (one program per
              combination). The cartesian product is scanned.
    config:   TrainConfig overrides applied to the env's preset (`experiments.presets`) for every setting.
    hp:       HParams overrides of the preset for every setting.
    env_kw:   environment constructor arguments over the preset's.
    out:      the scan folder (default runs/scan_<env>_<algo>_<timestamp>); an existing scan there is refused
              unless overwrite. `out=False` writes nothing (the table is still returned).
    eval_every: also evaluate the greedy policies every this many updates (eval_curve.npz of each setting).
    Raises ScanError before compiling anything when the grid, the config or a value cannot work."""
    import jax
    from rich.console import Console

    import envs
    from agentmixer_jax import registry
    from agentmixer_jax.config import validate_hparams
    from agentmixer_jax.reporting import Reporter
    from agentmixer_jax.trainer import Seeds, Trainer, seed_keys
    from experiments.presets import env_kwargs, preset

    console = console or Console(stderr=True, soft_wrap=True)
    config, hp_over, env_kw = dict(config or {}), dict(hp or {}), dict(env_kw or {})
    if seeds < 1:
        raise ScanError(f"seeds={seeds} must be >= 1")
    if eval_every < 0:
        raise ScanError(f"eval_every={eval_every} must be >= 0 (0: evaluate only at the end)")
    traced, static = _check_grid(grid)
    for name in config:
        if name not in _config_fields():
            raise ScanError(f"config[{name!r}] is not a TrainConfig field")
    for name in hp_over:
        if name not in HParams.names():
            raise ScanError(f"hp[{name!r}] is not a hyperparameter (HParams: {', '.join(HParams.names())})")
    overlap = sorted(set(grid) & (set(config) | set(hp_over)))
    if overlap:
        raise ScanError(f"{overlap} set both in the grid and as a fixed override; keep one")
    try:
        env_obj = envs.make(env, **{**env_kwargs(env), **env_kw})
        base_cfg, base_hp = preset(env, algo, network)
    except (ValueError, TypeError) as err:
        raise ScanError(str(err)) from err
    base_cfg = dataclasses.replace(base_cfg, **config)
    base_hp = base_hp.replace(**{k: float(v) for k, v in hp_over.items()})
    settings = _settings(grid)

    groups: dict[tuple, _Group] = {}
    for g, setting in enumerate(settings):
        key = tuple(repr(setting[n]) for n in static)
        groups.setdefault(key, _Group(static={n: setting[n] for n in static}, settings=[])).settings.append(g)
    for group in groups.values():
        try:
            cfg = dataclasses.replace(base_cfg, **group.static).validate()
            group.trainer = Trainer(env_obj, cfg)
        except (ValueError, TypeError) as err:
            where = ", ".join(f"{k}={v!r}" for k, v in group.static.items())
            raise ScanError(f"the setting {where or 'of every run'} cannot work: {err}") from err
        group.config = cfg
        rows = [base_hp.replace(**{n: float(settings[g][n]) for n in traced}) for g in group.settings]
        for row, g in zip(rows, group.settings):
            try:
                validate_hparams(row)
                registry.check_hparams(cfg.algo, row)
            except ValueError as err:
                raise ScanError(f"setting {g} ({settings[g]}): {err}") from err
        group.hp = jax.tree.map(lambda *xs: np.repeat(np.asarray(xs, np.float32), seeds), *rows)
        group.seeds = Seeds(group.trainer, len(group.settings) * seeds, devices)

    from experiments.train import chunk_length

    folder = None
    if out is not False:
        folder = _scan_folder(out, env, algo, overwrite)
    commands = []
    for setting in settings:
        cfg_over = {**config, **{n: setting[n] for n in static}}
        hp_all = {**hp_over, **{n: setting[n] for n in traced}}
        commands.append(train_command(env, algo, seeds, seed, network, env_kw, cfg_over, hp_all, eval_every))
    names = [_folder_name(g, s) for g, s in enumerate(settings)]
    device = jax.devices()[0]
    info = {"env": env, "algo": algo, "network": network, "seeds": seeds, "seed": seed, "grid": dict(grid),
            "traced": traced, "static": static, "config": config, "hp": hp_over, "env_kw": env_kw,
            "settings": settings, "setting_folders": names, "commands": commands, "compiles": len(groups),
            "runs_per_program": [len(gr.settings) * seeds for gr in groups.values()],
            "device": f"{device.device_kind} x {len(jax.local_devices())}", "date": dt.date.today().isoformat(),
            "status": "running", "eval_every": eval_every}
    plural = "s" if len(groups) > 1 else ""
    static_text = (f" (one per static combination of {', '.join(static)})" if static else "")
    console.print(f"[bold]scan[/bold] {algo} on {env}: {len(settings)} settings x {seeds} seeds = "
                  f"{len(settings) * seeds} runs in {len(groups)} compiled program{plural}{static_text}"
                  + (f"; output in {folder}" if folder else ""), highlight=False)

    # ----- compile every program first, then one progress bar over the whole scan ------------------------
    total_updates = sum(gr.config.num_updates for gr in groups.values())
    reporter = Reporter(total_updates, 0, f"scan {algo}/{env}", None, console, show=progress,
                        num_seeds=len(settings) * seeds)
    t0 = time.perf_counter()
    chunks = {}
    with reporter.compiling(f"{len(groups)} program{plural}"):
        for key, gr in groups.items():
            U = gr.config.num_updates
            chunks[key] = chunk_length(U, gr.config.log_interval, eval_every, 0)
            c = chunks[key]
            gr.seeds.compile(gr.hp, (c, U % c) if U % c else (c,))
    compile_s = time.perf_counter() - t0
    info["compile_seconds"] = compile_s
    if folder is not None:
        write_json(folder / SCAN_JSON, info)

    rows: list[dict] = []
    wall = 0.0
    done = steps_done = 0
    per_setting_runs = []
    reporter.start(0)
    try:
        for key, gr in groups.items():
            run = _run_group(gr, seeds, seed, chunks[key], eval_every, reporter, done, steps_done, seed_keys)
            wall += run["wall"]
            done += gr.config.num_updates
            steps_done += gr.config.num_updates * gr.config.batch_size * len(gr.settings) * seeds
            per_setting_runs.append((gr, run))
    except BaseException as err:  # Ctrl-C (KeyboardInterrupt, also in a notebook) or an error: say so, keep nothing
        status = "interrupted" if isinstance(err, KeyboardInterrupt) else "failed"
        info.update({"status": status, "error": f"{type(err).__name__}: {err}", "wall_seconds": wall})
        if folder is not None:
            write_json(folder / SCAN_JSON, info)
        console.print(f"[yellow]scan {status}[/yellow] after {done} of {total_updates} updates: a scan keeps no "
                      "checkpoint (it is one program); run it again" + (f" ({folder / SCAN_JSON} says so)"
                                                                      if folder else ""), highlight=False)
        raise
    finally:
        reporter.stop()
    info.update({"status": "finished", "wall_seconds": wall,
                 "env_steps": steps_done, "steps_per_second": steps_done / wall if wall > 0 else 0.0})

    from agentmixer_jax.run_record import eval_summary

    eval_metrics: list[str] = []
    for gr, run in per_setting_runs:
        prefixes = tuple(gr.trainer.policy.eval_policies())
        for i, g in enumerate(gr.settings):
            sl = slice(i * seeds, (i + 1) * seeds)
            diverged = run["diverged"][sl]
            ev = eval_summary({k: v[sl] for k, v in run["eval"].items()}, prefixes, diverged)
            names_here = [k.removesuffix("_per_seed") for k in ev]
            eval_metrics += [m for m in names_here if m not in eval_metrics]
            last = max(1, int(math.ceil(0.1 * gr.config.num_updates)))
            train_ret = run["metrics"].get("episode_return")
            for s in range(seeds):
                row = {"setting": g, "seed": s, **settings[g]}
                row.update({m: ev[f"{m}_per_seed"][s] for m in names_here})
                if train_ret is not None:
                    tail = train_ret[sl][s, -last:]
                    row["train_return_last10pct"] = (float(np.nanmean(tail)) if np.isfinite(tail).any()
                                                     and not diverged[s] else np.nan)
                row["diverged"] = bool(diverged[s])
                rows.append(row)
            if folder is not None:
                _write_setting(folder / SETTINGS / names[g], gr, run, sl, ev, info, g, seeds, seed, env_kw, wall)
    info["eval_metrics"] = eval_metrics

    import pandas as pd

    table = pd.DataFrame(rows).sort_values(["setting", "seed"], kind="stable").reset_index(drop=True)
    for m in eval_metrics:
        if m in table:
            table[m] = table[m].astype(np.float64)
    if folder is not None:
        table.to_csv(folder / RESULTS_CSV, index=False)
        write_json(folder / SCAN_JSON, info)
    result = ScanResult(folder=folder, table=table, settings=settings, info=info)
    n_div = int(table["diverged"].sum())
    console.print(f"scan done: {len(groups)} compile{plural} in {compile_s:.1f} s, training {wall:.1f} s "
                  f"({info['steps_per_second']:,.0f} env steps/s over {len(settings) * seeds} runs)"
                  + (f"; {n_div} runs diverged (left out of every statistic)" if n_div else "")
                  + (f"; wrote {folder}" if folder else ""), highlight=False)
    if wandb:
        _log_wandb(result, wandb_project, console)
    return result


def _run_group(gr: _Group, seeds: int, seed: int, chunk: int, eval_every: int, reporter, done0: int,
               steps0: int, seed_keys) -> dict:
    """Train one program (its settings x seeds) to the end: per-run metrics, eval, divergence, wall time."""
    import jax

    U = gr.config.num_updates
    G = len(gr.settings)
    keys = np.tile(np.asarray(seed_keys(seed, seeds)), (G, 1))  # setting g's seed s = fold_in(PRNGKey(seed), s)
    state = gr.seeds.init(jax.device_put(keys, gr.seeds.sharded), gr.hp)
    diverged = np.zeros(G * seeds, bool)
    metrics: dict[str, list] = {}
    curve: dict[str, list] = {}
    eval_updates: list[int] = []
    evals = None
    wall, n_done = 0.0, 0
    steps_per_update = gr.config.batch_size * G * seeds
    while n_done < U:
        n = min(chunk, U - n_done)
        t0 = time.perf_counter()
        state, m, finite = gr.seeds.run(state, n)
        m, finite = jax.device_get((m, finite))
        n_done += n
        diverged |= ~np.asarray(finite, bool)
        for k, v in m.items():
            metrics.setdefault(k, []).append(np.asarray(v))
        if (eval_every and n_done % eval_every == 0) or n_done == U:
            evals = {k: np.asarray(v) for k, v in jax.device_get(gr.seeds.evaluate(state)).items()}
            if eval_every:
                eval_updates.append(n_done)
                for k, v in evals.items():
                    curve.setdefault(k, []).append(np.where(diverged, np.nan, v))
        wall += time.perf_counter() - t0
        reporter(done0 + n_done, m, int(diverged.sum()), env_steps=steps0 + n_done * steps_per_update)
    return {"metrics": {k: np.concatenate(v, axis=1) for k, v in metrics.items()}, "eval": evals,
            "diverged": diverged, "wall": wall, "eval_updates": eval_updates,
            "curve": {k: np.stack(v) for k, v in curve.items()}}


def _scan_folder(out, env: str, algo: str, overwrite: bool) -> Path:
    import shutil

    path = Path(out) if out is not None else Path("runs") / (
        f"scan_{env}_{algo}_{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}")
    if path.exists() and any(path.iterdir()):
        if not (path / SCAN_JSON).is_file() and not overwrite:
            raise ScanError(f"out={str(path)!r} exists and is not a scan folder; pick another folder")
        if not overwrite:
            raise ScanError(f"out={str(path)!r} already holds a scan; pass overwrite=True or pick another folder")
        shutil.rmtree(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write_test"
        probe.write_text("")
        probe.unlink()
    except OSError as err:
        raise ScanError(f"out={str(path)!r} is not writable ({err}); pick another folder") from err
    return path


def _write_setting(path: Path, gr: _Group, run: dict, sl: slice, ev: dict, info: dict, g: int, seeds: int,
                   seed: int, env_kw: dict, wall: float) -> None:
    """Setting g's run folder, in `experiments.train`'s layout, so the run tools read it like any run."""
    from agentmixer_jax.run_record import RunFolder

    path.mkdir(parents=True, exist_ok=True)
    folder = RunFolder(path)
    cfg = gr.config
    diverged = run["diverged"][sl]
    U = cfg.num_updates
    hp_values = {k: float(np.asarray(getattr(gr.hp, k))[sl][0]) for k in HParams.names()}
    folder.write_metrics({k: v[sl] for k, v in run["metrics"].items()}, healthy=~diverged)
    if run["eval_updates"]:
        folder.write_eval_curve(np.asarray(run["eval_updates"]), {k: v[:, sl] for k, v in run["curve"].items()})
    folder.write_summary({
        "env": info["env"], "env_kw": env_kw, "algo": info["algo"], "seeds": seeds, "seed": seed, "num_updates": U,
        "env_steps_per_update": cfg.batch_size, "device": info["device"], "date": info["date"],
        "command": info["commands"][g], "config": dataclasses.asdict(cfg), "hparams": hp_values,
        "status": "finished", "updates_done": U, "env_steps_per_seed": U * cfg.batch_size,
        "wall_seconds": wall, "compile_seconds": info["compile_seconds"],
        "steps_per_second": info.get("steps_per_second", 0.0), "diverged_per_seed": diverged.tolist(),
        "eval_updates": list(run["eval_updates"]), "eval": ev,
        "scan": {"folder": str(path.parent.parent), "setting": g, "values": info["settings"][g],
                 "note": "trained inside a scan: wall_seconds and steps_per_second are the whole scan's"}})


def _log_wandb(result: ScanResult, project: str, console) -> None:
    """One wandb run per setting, grouped by the scan (offline without an API key); never fatal."""
    from agentmixer_jax.reporting import WandbLogger

    group = result.folder.name if result.folder is not None else f"scan_{result.info['env']}_{result.info['algo']}"
    out_dir = str(result.folder) if result.folder is not None else "."
    summary = result.summary()
    for g, setting in enumerate(result.settings):
        config = {"env": result.info["env"], "algo": result.info["algo"], "seeds": result.info["seeds"],
                  **result.info["config"], **result.info["hp"], **setting}
        logger = WandbLogger(project, f"{group}/{g:03d}", config, out_dir, console, group=group)
        if logger.run is None:
            return  # wandb unavailable: said once by the logger
        if result.folder is not None:
            steps, curve = result.curves(g)
            with np.errstate(all="ignore"):
                mean = np.nanmean(curve, axis=0) if np.isfinite(curve).any() else np.full(curve.shape[1], np.nan)
            for step, value in zip(steps, mean):
                logger.log({"train/episode_return": float(value)}, step=int(step))
        row = summary.iloc[g]
        logger.summary({"eval/return_iqm": float(row["iqm"]), "eval/return_mean": float(row["mean"]),
                        "seeds": int(row["seeds"]), "diverged": int(row["diverged"])})
