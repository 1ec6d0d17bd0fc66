"""Train one algorithm on one task over many seeds at once (one compile, vmapped seeds, sharded over devices).

    python -m experiments.train --env climbing --algo agentmixer --seeds 1024 --out runs/x
    python -m experiments.train --env penalty --algo mappo --seeds 256 --hp.lr 1e-3 --config.update-epochs 8
    python -m experiments.train --env predator_prey_p1 --eval-every 20 --out runs/pp   # evaluation curve too
    python -m experiments.train --resume runs/pp        # continue an interrupted run (Ctrl-C, crash)
    python -m experiments.train --help

Training runs in chunks of updates, each one compiled call; between chunks the host reports progress, checks
every seed for non-finite parameters or losses (a diverged seed is reported, never scored), evaluates the
decentralised greedy policies every `--eval-every` updates and saves the full training state every
`--checkpoint-every` updates. Ctrl-C finishes the current chunk, saves, and exits 130 with the command that
resumes; a resumed run ends bitwise identical to an uninterrupted one.

The run folder (`agentmixer_jax.run_record`): OUT/summary.json (env, algo, seeds, env_steps_per_seed,
wall_seconds, steps_per_second, status, `diverged_per_seed`, and `eval` with per-seed lists from decentralised
mode actions), OUT/metrics.npz (per-update training curves), OUT/eval_curve.npz (with --eval-every),
OUT/params (every seed's final parameters: `agentmixer_jax.checkpoint.load_run(OUT)`), OUT/checkpoints while
the run is unfinished. Exit codes: 0 finished, 2 bad input (nothing compiled), 3 every seed diverged,
130 interrupted (resumable), 1 another error (summary marked failed).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import shutil
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Annotated, Literal

import tyro

from agentmixer_jax import registry
from agentmixer_jax.config import HParams, TrainConfig
from agentmixer_jax.run_record import EVAL_NAMES  # noqa: F401  (env info renames in summary.json)
from agentmixer_jax.run_record import eval_summary as _eval_summary

EXIT_BAD_INPUT, EXIT_DIVERGED, EXIT_INTERRUPTED = 2, 3, 130
AUTO_CHECKPOINT_SECONDS = 600.0  # --checkpoint-every -1: save at the first chunk boundary after this much time
AlgoName = Literal[registry.names()]  # type: ignore[valid-type]
_ALGO_HELP = "Algorithm: " + "; ".join(a.summary for a in registry.ALGORITHMS.values()) + "."


@dataclasses.dataclass
class Args:
    """Train AgentMixer or a baseline on a task, vmapped over seeds, and write OUT/summary.json."""

    env: str = "climbing"
    """Task name, e.g. climbing, penalty (see `--list-envs`)."""
    algo: Annotated[AlgoName, tyro.conf.arg(help=_ALGO_HELP)] = "agentmixer"
    network: Literal["preset", "authors", "jaxmarl"] = "preset"
    """Network setup over the env preset: the AgentMixer authors' (ValueNorm, Huber, LayerNorm, orthogonal init),
    JaxMARL MAPPO's (GRU actor and critic, no agent id, orthogonal init), or the preset's. --config flags override."""
    seeds: int = 1024
    """Independent training runs, vmapped in one compiled program (sharded over the local devices)."""
    seed: int = 0
    """Base PRNG seed; run i uses fold_in(PRNGKey(seed), i), whatever --seeds is."""
    out: Path | None = None
    """Output folder (default runs/<env>_<algo>_<timestamp>). An existing run there is refused unless
    --overwrite or --resume."""
    overwrite: bool = False
    """Empty --out first if it already holds a run."""
    resume: Path | None = None
    """Continue the interrupted run in this folder with its own settings (only --progress/--no-progress may be
    given beside it)."""
    eval_every: int = 0
    """Evaluate the decentralised greedy policies every this many updates (OUT/eval_curve.npz); 0: only at the end."""
    checkpoint_every: int = -1
    """Save the full training state every this many updates (OUT/checkpoints, for --resume); -1: at the first chunk
    boundary after each 10 minutes of training; 0: only on Ctrl-C."""
    wandb: bool = False
    """Log to Weights & Biases (offline when no WANDB_API_KEY is set; never stops training)."""
    wandb_project: str = "agentmixer-jax"
    """wandb project name."""
    progress: bool = True
    """Show progress: a bar on a terminal, one line per chunk in a log file."""
    checkpoint: bool = True
    """Save every seed's final parameters to OUT/params (orbax); `agentmixer_jax.checkpoint.load_run(OUT)`
    reads the run back for evaluation and playback."""
    checkpoint_buffer: bool = True
    """Off-policy algorithms (masac, agentmixer_sac): keep the replay buffer in OUT/checkpoints, so that --resume
    continues bitwise identically. --no-checkpoint-buffer leaves it out (a checkpoint then holds parameters,
    optimisers and environments only; the resumed run refills the buffer before it learns again). The buffer is
    seeds x buffer_size transitions: see the README for its size on disk."""
    list_envs: bool = False
    """Print the registered tasks and exit."""
    env_kw: tuple[str, ...] = ()
    """Environment constructor arguments as KEY=VALUE (Python literals), e.g. `--env-kw obsk=2 backend=mjx`;
    they override the preset's (MaMuJoCo tasks default to the paper's obsk=2)."""


def without_buffer(state):
    """The training state with an off-policy learner's replay buffer left out (None)."""
    return state.replace(learner=state.learner.replace(buffer=None))


# Settings a resumed run takes from its summary (everything but where it is and how to show it).
RESUMED_FIELDS = ("env", "algo", "network", "seeds", "seed", "eval_every", "checkpoint_every", "wandb", "wandb_project",
                  "checkpoint", "env_kw", "checkpoint_buffer")


class BadInput(ValueError):
    """Input that cannot work: reported with exit code 2 before anything compiles."""


def _probe(argv: list[str], names: tuple[str, ...]) -> dict[str, str]:
    found = {}
    for i, tok in enumerate(argv):
        for name in names:
            if tok == f"--{name}" and i + 1 < len(argv):
                found[name] = argv[i + 1]
            elif tok.startswith(f"--{name}="):
                found[name] = tok.split("=", 1)[1]
    return found


def _parse(argv: list[str]):
    """Two passes: read --env/--algo, load that preset, then parse everything with preset defaults."""
    import envs
    from experiments.presets import preset

    if "--list-envs" in argv:
        print("\n".join(envs.registered_tasks()))
        raise SystemExit(0)
    probe = {"env": "climbing", "algo": "agentmixer", "network": "preset",
             **_probe(argv, ("env", "algo", "resume", "network"))}
    if "resume" in probe:
        return _resume_args(argv, Path(probe["resume"]))
    if probe["env"] not in envs.registered_tasks():
        envs.make(probe["env"])  # raises the ValueError listing known envs
    algo = probe["algo"] if probe["algo"] in registry.names() else "agentmixer"  # tyro reports a bad --algo
    from experiments.presets import NETWORKS

    network = probe["network"] if probe["network"] in NETWORKS else "preset"  # tyro reports a bad --network
    cfg, hp = preset(probe["env"], algo, network)

    @dataclasses.dataclass
    class FullArgs(Args):
        config: TrainConfig = dataclasses.field(default_factory=lambda: cfg)
        """Static training configuration (sizes, steps, networks); preset per env."""
        hp: HParams = dataclasses.field(default_factory=lambda: hp)
        """Traced hyperparameters (sweepable without recompiling)."""

    FullArgs.__doc__ = Args.__doc__
    args = tyro.cli(FullArgs, args=argv)
    args.config = dataclasses.replace(args.config, algo=args.algo)
    return args


def _resume_args(argv: list[str], folder_path: Path):
    """The arguments of the run in `folder_path`, read from its summary; only --progress may change."""
    from agentmixer_jax.checkpoint import config_from_dict
    from agentmixer_jax.run_record import RunFolder

    allowed = {"--resume", str(folder_path), "--progress", "--no-progress"}
    extra = [t for t in argv if t not in allowed and not t.startswith("--resume=")]
    if extra:
        raise BadInput(f"--resume continues a run with its own settings; remove {' '.join(extra)} (start a new run "
                       "with --out to change settings)")
    folder = RunFolder(folder_path)
    if not folder.has_summary():
        raise BadInput(f"--resume {folder_path}: no summary.json there; pass the --out folder of an interrupted run")
    summary = folder.read_summary()
    status = summary.get("status")
    if status == "finished":
        raise BadInput(f"--resume {folder_path}: the run already finished; start a new one with --out")
    if "args" not in summary:
        raise BadInput(f"--resume {folder_path}: the summary does not record the run's arguments (written by an "
                       "older version); it cannot be resumed")
    if folder.latest_checkpoint() is None:
        raise BadInput(f"--resume {folder_path}: the run ({status}) saved no checkpoint to continue from; start it "
                       "again with --out ... --overwrite")
    saved = summary["args"]
    args = Args(**{k: saved[k] for k in RESUMED_FIELDS if k in saved}, out=folder_path, resume=folder_path,
                progress="--no-progress" not in argv)
    args.env_kw = tuple(saved["env_kw"])
    args.resolved_env_kw = summary["env_kw"]  # the preset's kwargs merged with --env-kw when the run started
    args.resolved_chunk = saved["chunk"]
    args.config = config_from_dict(summary["config"])
    args.hp = HParams(**summary["hparams"])
    return args


def parse_env_kw(items: tuple[str, ...]) -> dict:
    """("obsk=2", "backend='mjx'", "flag=true") -> {"obsk": 2, "backend": "mjx", "flag": True}; true / false in any
    case are booleans, other bare words strings."""
    import ast

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.isidentifier():
            raise BadInput(f"--env-kw {item!r}: write KEY=VALUE, e.g. obsk=2")
        if value.lower() in ("true", "false"):
            out[key] = value.lower() == "true"
            continue
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key] = value
    return out


def chunk_length(num_updates: int, log_interval: int, eval_every: int, checkpoint_every: int) -> int:
    """Updates per compiled call: every report, evaluation and checkpoint falls on a chunk boundary."""
    c = log_interval
    for every in (eval_every, checkpoint_every):
        if every > 0:
            c = math.gcd(c, every)
    return max(1, min(c, num_updates))


@dataclasses.dataclass
class Plan:
    """Everything checked and built before the run folder is touched or anything compiles."""

    args: object
    env_kw: dict
    trainer: object
    num_updates: int
    chunk: int
    command: str


def _plan(args, argv: list[str]) -> Plan:
    import envs
    from agentmixer_jax.config import validate_hparams
    from agentmixer_jax.trainer import Trainer
    from experiments.presets import env_kwargs

    if args.seeds < 1:
        raise BadInput(f"--seeds {args.seeds} must be >= 1")
    if args.eval_every < 0:
        raise BadInput(f"--eval-every {args.eval_every} must be >= 0 (0: evaluate only at the end)")
    if args.checkpoint_every < -1:
        raise BadInput(f"--checkpoint-every {args.checkpoint_every} must be >= 0, or -1 for every 10 minutes")
    env_kw = getattr(args, "resolved_env_kw", None)
    if env_kw is None:
        env_kw = {**env_kwargs(args.env), **parse_env_kw(args.env_kw)}
    env = envs.make(args.env, **env_kw)
    cfg = args.config.validate()
    validate_hparams(args.hp)
    registry.check_hparams(cfg.algo, args.hp)
    trainer = Trainer(env, cfg)  # checks the config against the task's spec
    num_updates = cfg.num_updates
    chunk = chunk_length(num_updates, cfg.log_interval, args.eval_every, args.checkpoint_every)
    if getattr(args, "resolved_chunk", chunk) != chunk:
        raise BadInput(f"--resume: the run trained in chunks of {args.resolved_chunk} updates, this version would use "
                       f"{chunk}; resume it with the version that started it")
    command = ("python -m experiments.train " + " ".join(argv)) if args.resume is None else None
    return Plan(args=args, env_kw=env_kw, trainer=trainer, num_updates=num_updates, chunk=chunk, command=command)


class StopFlag:
    """Ctrl-C sets the flag (the loop stops after the current chunk); a second Ctrl-C aborts at once."""

    def __init__(self, console):
        self.console = console
        self.requested = False
        self.compiling = False  # set while the training programs compile: a Ctrl-C then stops before training
        self._previous = None

    def __enter__(self) -> StopFlag:
        self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        signal.signal(signal.SIGINT, self._previous)

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        then = ("once compiling ends, before training" if self.compiling
                else "after this chunk and saving a checkpoint")
        self.console.print(f"\n[yellow]Ctrl-C: stopping {then} (Ctrl-C again to abort at once)[/yellow]")


def _table(summary: dict):
    import numpy as np
    from rich.table import Table

    from experiments import presets

    seeds, ev = summary["seeds"], summary["eval"]
    n_div = int(np.sum(summary["diverged_per_seed"]))
    algo = summary["algo"]
    if algo.startswith("agentmixer"):  # which joint policy was trained (policies/agentmixer.py)
        algo += f" (pm_form={summary['config'].get('pm_form', 'gumbel')})"
    central = registry.executes_centrally(summary["algo"])  # MAT, AR-MAPPO: their greedy play is not CTDE
    kind = ("CENTRALISED greedy evaluation (agents read others' inputs)" if central
            else "decentralised greedy evaluation")
    title = f"{algo} on {summary['env']}: {kind}, {seeds} seeds"
    if n_div:
        title += f" ({n_div} diverged, left out of the statistics and never counted as optimal)"
    beside = presets.MEASURED_BESIDE.get((summary["env"], summary["algo"]))
    table = Table(title=title, caption=beside)
    from agentmixer_jax import stats

    for col in ("metric", "mean", "95% CI (bootstrap)", "min", "max"):
        table.add_column(col, justify="right" if col != "metric" else "left")
    for k, v in ev.items():
        a = np.asarray([np.nan if x is None else x for x in v], np.float64)
        a = a[np.isfinite(a)]
        if not len(a):
            table.add_row(k.removesuffix("_per_seed"), "n/a", "", "", "")
            continue
        est = stats.interval(a, "mean")
        ci = f"[{est.low:.3f}, {est.high:.3f}]" if len(a) > 1 else ""
        table.add_row(k.removesuffix("_per_seed"), f"{a.mean():.3f}", ci, f"{a.min():.3f}", f"{a.max():.3f}")
    if "optimal_per_seed" in ev:
        optimal = [x is not None and x > 0.5 for x in ev["optimal_per_seed"]]
        table.add_row("seeds at the optimum", f"{np.mean(optimal):.3f}", "", "", "")
    if n_div:
        table.add_row("seeds diverged", f"{n_div} of {seeds}", "", "", "")
    return table


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else list(argv)
    from rich.console import Console

    console = Console(file=sys.stderr, soft_wrap=True)  # messages are never hard-wrapped, in logs too
    try:
        args = _parse(argv)
        plan = _plan(args, argv)
    except (BadInput, ValueError, TypeError) as err:  # TypeError: an --env-kw the task does not take
        console.print(f"[red]error:[/red] {err}", highlight=False)
        raise SystemExit(EXIT_BAD_INPUT) from err

    from agentmixer_jax.run_record import RunFolder, RunFolderError

    try:
        if args.resume is not None:
            folder = RunFolder(args.resume)
            folder.check_writable()
        else:
            stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
            folder = RunFolder.create(args.out or Path("runs") / f"{args.env}_{args.algo}_{stamp}", args.overwrite)
    except RunFolderError as err:
        console.print(f"[red]error:[/red] {err}", highlight=False)
        raise SystemExit(EXIT_BAD_INPUT) from err
    return _Run(plan, folder, console).run()


class _Run:
    """One training session of a run folder: new or resumed, to its end, a Ctrl-C, divergence or an error."""

    def __init__(self, plan: Plan, folder, console):
        import jax

        from agentmixer_jax.trainer import Seeds

        self.plan, self.folder, self.console = plan, folder, console
        self.args, self.trainer = plan.args, plan.trainer
        self.cfg = self.trainer.config
        self.seeds = Seeds(self.trainer, self.args.seeds)
        self.hp = self.args.hp.as_floats()
        self.metrics: dict[str, list] = {}
        self.eval_updates: list[int] = []
        self.eval_curve: dict[str, list] = {}
        self.diverged = None
        self.done = 0
        self.wall = self.compile_s = 0.0
        self.wandb = None
        self.summary: dict = {}
        self._last_save = time.perf_counter()
        device = jax.devices()[0]
        self.device = f"{device.device_kind} x {len(self.seeds.devices)}" if len(self.seeds.devices) > 1 else str(
            device.device_kind)

    # ----- summary ------------------------------------------------------------------------------------
    def _base_summary(self) -> dict:
        args, cfg = self.args, self.cfg
        if args.resume is not None:
            old = self.folder.read_summary()
            return {k: v for k, v in old.items() if k not in ("schema_version", "status", "error")}
        return {
            "env": args.env, "env_kw": self.plan.env_kw, "algo": args.algo, "seeds": args.seeds, "seed": args.seed,
            "num_updates": self.plan.num_updates, "env_steps_per_update": cfg.batch_size,
            "device": self.device, "date": dt.date.today().isoformat(), "command": self.plan.command,
            "config": dataclasses.asdict(cfg), "hparams": {k: float(getattr(args.hp, k)) for k in args.hp.names()},
            "args": {**{k: getattr(args, k) for k in RESUMED_FIELDS}, "env_kw": list(args.env_kw),
                     "chunk": self.plan.chunk},
            "resumes": 0,
        }

    def _write_summary(self, status: str, **extra) -> dict:
        import numpy as np

        steps = self.done * self.cfg.batch_size
        self.summary.update({
            "status": status, "updates_done": self.done, "env_steps_per_seed": steps,
            "wall_seconds": self.wall, "compile_seconds": self.compile_s,
            "steps_per_second": self.args.seeds * steps / self.wall if self.wall > 0 else 0.0,
            "diverged_per_seed": np.asarray(self.diverged, bool).tolist(),
            "eval_updates": list(self.eval_updates), **extra})
        if self.wandb is not None and self.wandb.run_id:
            self.summary["wandb_id"] = self.wandb.run_id
        self.folder.write_summary(self.summary)
        return self.summary

    # ----- restoring ----------------------------------------------------------------------------------
    def _restore(self):
        import numpy as np

        target = self.seeds.state_shape(self.hp)
        if self._drops_buffer:
            state, host = self.folder.restore_checkpoint(without_buffer(target))
            fresh = self.seeds.init(self.seeds.keys(self.args.seed), self.hp)  # an empty buffer of each seed
            state = state.replace(learner=state.learner.replace(buffer=fresh.learner.buffer))
        else:
            state, host = self.folder.restore_checkpoint(target)
        self.done = int(host["update"])
        self.diverged = np.asarray(host["diverged"], bool)
        self.wall += float(host["wall_seconds"])
        self.compile_s += float(host["compile_seconds"])
        saved = self.folder.read_metrics()
        self.metrics = {k.removesuffix("_per_seed"): [v[:, :self.done]] for k, v in saved.items()
                        if k.endswith("_per_seed")}
        curve = self.folder.read_eval_curve()
        keep = curve["update"] <= self.done if curve else np.zeros(0, bool)
        self.eval_updates = [int(u) for u in curve.get("update", np.zeros(0))[keep]]
        self.eval_curve = {k.removesuffix("_per_seed"): list(v[keep]) for k, v in curve.items()
                           if k.endswith("_per_seed")}
        self.summary["resumes"] = int(self.summary.get("resumes", 0)) + 1
        self.console.print(f"resuming {self.folder.path} from update {self.done}/{self.plan.num_updates}",
                           highlight=False)
        return state

    # ----- saving -------------------------------------------------------------------------------------
    def _save_curves(self) -> None:
        import numpy as np

        if self.metrics:
            self.folder.write_metrics({k: np.concatenate(v, axis=1) for k, v in self.metrics.items()},
                                      healthy=~self.diverged)
        if self.eval_updates:
            self.folder.write_eval_curve(np.asarray(self.eval_updates),
                                         {k: np.stack(v) for k, v in self.eval_curve.items()})

    def _checkpoint_due(self) -> bool:
        every = self.args.checkpoint_every
        if every == -1:
            return time.perf_counter() - self._last_save >= AUTO_CHECKPOINT_SECONDS
        return every > 0 and self.done % every == 0

    def _save_checkpoint(self, state) -> None:
        self._last_save = time.perf_counter()
        self._save_curves()  # first: metrics.npz always reaches at least the checkpoint's update
        host = {"update": self.done, "diverged": self.diverged.tolist(), "wall_seconds": self.wall,
                "compile_seconds": self.compile_s}
        self.folder.save_checkpoint(self.done, without_buffer(state) if self._drops_buffer else state, host)

    @property
    def _drops_buffer(self) -> bool:
        """Checkpoints leave the replay buffer out (--no-checkpoint-buffer with an off-policy learner)."""
        return self.trainer.learner.off_policy and not self.args.checkpoint_buffer

    # ----- the loop -----------------------------------------------------------------------------------
    def run(self) -> dict:
        import jax
        import numpy as np

        from agentmixer_jax.reporting import Reporter, WandbLogger

        args, console, plan = self.args, self.console, self.plan
        self.summary = self._base_summary()
        self.diverged = np.zeros(args.seeds, bool)
        U, chunk = plan.num_updates, plan.chunk
        console.print(
            f"[bold]{args.algo}[/bold] on [bold]{args.env}[/bold]: {args.seeds} seeds x "
            f"{U * self.cfg.batch_size:,} env steps ({U} updates of {self.cfg.num_envs} envs x "
            f"{self.cfg.num_steps} steps, chunks of {chunk}) on {len(self.seeds.devices)} "
            f"{jax.devices()[0].platform.upper()} device(s); output in {self.folder.path}")
        if args.resume is None:
            self._write_summary("running")
        try:
            if args.wandb:
                run_config = {"env": args.env, "env_kw": plan.env_kw, "algo": args.algo, "seeds": args.seeds,
                              "config": self.summary["config"], "hparams": self.summary["hparams"]}
                self.wandb = WandbLogger(args.wandb_project, self.folder.path.name, run_config,
                                         str(self.folder.path), console, run_id=self.summary.get("wandb_id"))
            reporter = Reporter(U, self.cfg.batch_size * args.seeds, f"{args.algo}/{args.env}", self.wandb, console,
                                show=args.progress, num_seeds=args.seeds)
            # the stop flag covers compiling too: a process started in the background from a script inherits
            # SIGINT ignored, and without our handler a Ctrl-C (kill -INT) while compiling was lost
            with StopFlag(console) as stop:
                t0 = time.perf_counter()
                stop.compiling = True
                with reporter.compiling("the training programs"):
                    self.seeds.compile(self.hp, (chunk, U % chunk) if U % chunk else (chunk,))
                self.compile_s += time.perf_counter() - t0
                stop.compiling = False
                if stop.requested:  # nothing new was trained; the newest checkpoint (if any) stays
                    self._stop_early("interrupted while compiling", "Ctrl-C while compiling, before training")
                state = self._restore() if args.resume is not None else self.seeds.init(
                    self.seeds.keys(args.seed), self.hp)
                return self._loop(state, reporter, stop)
        except KeyboardInterrupt:  # a second Ctrl-C: abort now, the newest checkpoint (if any) stays
            self._stop_early("aborted", "aborted by a second Ctrl-C")
        except Exception as err:
            self._write_summary("failed", error=f"{type(err).__name__}: {err}",
                                traceback=traceback.format_exc(limit=20))
            console.print(f"[red]error:[/red] the run failed: {type(err).__name__}: {err} (summary marked failed in "
                          f"{self.folder.summary_path})", highlight=False)
            raise

    def _stop_early(self, what: str, error: str):
        """Stop without saving (Ctrl-C while compiling, or a second Ctrl-C): the summary says `interrupted` with
        `error`, the newest checkpoint (if any) stays, and the message says how to go on; exit 130."""
        last = self.folder.latest_checkpoint()
        self._write_summary("interrupted", error=error)
        hint = (f"resume from update {last}: python -m experiments.train --resume {self.folder.path}"
                if last is not None else "no checkpoint was saved; start the run again")
        self.console.print(f"[yellow]{what}[/yellow]; {hint}", highlight=False)
        raise SystemExit(EXIT_INTERRUPTED) from None

    def _loop(self, state, reporter, stop: StopFlag) -> dict:
        import jax
        import numpy as np

        args, console, plan = self.args, self.console, self.plan
        U, chunk = plan.num_updates, plan.chunk
        prefixes = tuple(self.trainer.policy.eval_policies())
        evals = None
        reporter.start(self.done)
        try:
            while self.done < U and not stop.requested:
                n = min(chunk, U - self.done)
                t0 = time.perf_counter()
                state, metrics, finite = self.seeds.run(state, n)
                metrics, finite = jax.device_get((metrics, finite))
                self.wall += time.perf_counter() - t0
                self.done += n
                self.diverged |= ~np.asarray(finite, bool)
                for k, v in metrics.items():
                    self.metrics.setdefault(k, []).append(np.asarray(v))
                reporter(self.done, metrics, int(self.diverged.sum()))
                if self.diverged.all():
                    return self._all_diverged(reporter)
                if (args.eval_every and self.done % args.eval_every == 0) or self.done == U:
                    evals = self._evaluate(state)
                if self.done < U and self._checkpoint_due():
                    self._save_checkpoint(state)
        finally:
            reporter.stop()
        if self.done < U:  # Ctrl-C
            if self.folder.latest_checkpoint() != self.done:  # unless the chunk's periodic checkpoint just saved it
                self._save_checkpoint(state)
            self._write_summary("interrupted")
            console.print(f"[yellow]interrupted[/yellow] at update {self.done}/{U}; checkpoint saved. Resume with:\n"
                          f"  python -m experiments.train --resume {self.folder.path}", highlight=False)
            raise SystemExit(EXIT_INTERRUPTED)
        return self._finish(state, evals, prefixes)

    def _evaluate(self, state) -> dict:
        import jax
        import numpy as np

        t0 = time.perf_counter()
        evals = {k: np.asarray(v) for k, v in jax.device_get(self.seeds.evaluate(state)).items()}
        self.wall += time.perf_counter() - t0
        self.eval_updates.append(self.done)
        for k, v in evals.items():
            self.eval_curve.setdefault(k, []).append(np.where(self.diverged, np.nan, v))
        if self.wandb is not None:
            healthy = ~self.diverged
            self.wandb.log({f"eval/{k}": float(np.mean(v[healthy])) for k, v in evals.items()},
                           step=self.done * self.cfg.batch_size * self.args.seeds)
        return evals

    def _all_diverged(self, reporter) -> dict:
        self._save_curves()
        last = self.folder.latest_checkpoint()
        where = (f"the last checkpoint (update {last}) is kept in {self.folder.checkpoints_path}" if last is not None
                 else "no checkpoint was saved before")
        self._write_summary("diverged", error=f"every seed diverged by update {self.done}")
        self.console.print(
            f"[red]diverged:[/red] all {self.args.seeds} seeds have non-finite parameters or losses by update "
            f"{self.done}/{self.plan.num_updates}; {where}. Lower the learning rates (--hp.lr "
            f"{float(self.args.hp.lr):g}, --hp.critic-lr {float(self.args.hp.critic_lr):g}) or --hp.max-grad-norm "
            "and start again.", highlight=False)
        raise SystemExit(EXIT_DIVERGED)

    def _finish(self, state, evals: dict, prefixes) -> dict:
        import numpy as np
        from rich.console import Console

        args, console = self.args, self.console
        self._save_curves()
        if args.checkpoint:
            self.folder.save_params(state.learner.params)
        summary = self._write_summary("finished", eval=_eval_summary(evals, prefixes, self.diverged))
        shutil.rmtree(self.folder.checkpoints_path, ignore_errors=True)  # finished: params/ is what stays
        Console().print(_table(summary))
        n_div = int(self.diverged.sum())
        if n_div:
            console.print(f"[yellow]{n_div} of {args.seeds} seeds diverged[/yellow] (diverged_per_seed in "
                          "summary.json); they are left out of every statistic above", highlight=False)
        console.print(f"compile {self.compile_s:.1f} s, run {self.wall:.1f} s, {summary['steps_per_second']:,.0f} "
                      f"env steps/s; wrote {self.folder.summary_path}", highlight=False)
        if self.wandb is not None:
            healthy = ~self.diverged
            self.wandb.summary({"wall_seconds": self.wall, "seeds_diverged": n_div,
                                "eval/return_mean": float(np.mean(evals["return"][healthy]))})
        return summary


if __name__ == "__main__":
    main()
