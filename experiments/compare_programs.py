"""The chunked loop's compiled update against the same code compiled as one program, kernel by kernel (BENCHMARKS.md).

    python -m experiments.compare_programs --task predator_prey_p1 --algo agentmixer

Issue 11 asks that training in chunks (`Seeds.run`: the state passed in and out of one compiled call per chunk)
costs no more per update than the one-closure runner did (new / old >= 0.98). Wall-time ratios on a shared 2-core
VM move by more than that 2% (BENCHMARKS.md, "Trainer redesign"), so this script compares what does not depend on
load: the optimised XLA programs themselves. It compiles, at the task's preset (input normalisation off, as
`experiments.bench_trainer` times it):
- `chunk`: the program `experiments.train` runs (`Seeds.run` of `--updates` updates);
- `one program`: `make_train` (init, every update and the evaluation) compiled as one program, as the old runner
  ran; only its update loop is compared.
For each, it finds the update loop (the while loop whose trip count is `--updates`) and walks the loops inside it
with their trip counts, counting the kernels one update launches (fusions, copies, dots and any other op that
is not free bookkeeping: parameters, tuples, tuple elements, bitcasts, constants), and the elements those kernels
write. Equal counts mean the two programs do the same work per update; the rest of a wall-time difference is the
machine's.
"""

from __future__ import annotations

import collections
import dataclasses
import re

import tyro

# ops that move no data at run time (buffer bookkeeping), not counted as kernels
FREE_OPS = {"parameter", "tuple", "get-tuple-element", "bitcast", "constant", "while", "conditional", "call",
            "after-all", "opt-barrier", "partition-id", "replica-id"}
_INSTR = re.compile(r"^\s*(?:ROOT\s+)?%?[\w.\-]+\s*=\s*(.*?)\s([a-z][\w\-]*)\((.*)$")
_SHAPE = re.compile(r"[a-z]+\d*\[([\d,]*)\]")


@dataclasses.dataclass
class Args:
    task: str = "predator_prey_p1"
    algo: str = "agentmixer"
    seeds: int = 8
    updates: int = 20
    """Updates in the compiled chunk (and the one program); the update loop is found by this trip count."""


def computations(hlo: str) -> dict[str, list[str]]:
    """HLO text -> {computation name: its instruction lines}."""
    out: dict[str, list[str]] = {}
    name = None
    for line in hlo.splitlines():
        if not line.startswith((" ", "}")) and line.rstrip().endswith("{"):
            m = re.match(r"^(?:ENTRY\s+)?%?([\w.\-]+)", line)
            name = m.group(1) if m else None
            out[name] = []
        elif line.startswith("}"):
            name = None
        elif name is not None:
            out[name].append(line)
    return out


def _elements(shape: str) -> int:
    total = 0
    for dims in _SHAPE.findall(shape):
        n = 1
        for d in filter(None, dims.split(",")):
            n *= int(d)
        total += n
    return total


def loop_profile(comps: dict[str, list[str]], body: str, trips: int = 1) -> collections.Counter:
    """Kernels launched and elements written by one pass of loop `body`, nested loops times their trip counts:
    Counter of "kernels", "elements", and per-opcode kernel counts ("op:fusion", ...)."""
    out: collections.Counter = collections.Counter()
    for line in comps[body]:
        m = _INSTR.match(line)
        if not m:
            continue
        shape, op, rest = m.groups()
        if op == "while":
            inner = re.search(r"body=%?([\w.\-]+)", rest).group(1)
            trip = re.search(r'"n":"(\d+)"', rest)
            if trip is None:
                raise SystemExit(f"a loop without a known trip count in {body}: cannot weigh it")
            out.update({k: v * trips for k, v in loop_profile(comps, inner, int(trip.group(1))).items()})
        elif op == "conditional":  # one branch runs: weigh the one that launches the most kernels
            names = re.search(r"branch_computations=\{([^}]*)\}", rest)
            names = names.group(1).split(",") if names else re.findall(r"_computation=%?([\w.\-]+)", rest)
            branch = max((loop_profile(comps, n.strip().lstrip("%")) for n in names), key=lambda c: c["kernels"])
            out.update({k: v * trips for k, v in branch.items()})
        elif op == "call":
            inner = re.search(r"to_apply=%?([\w.\-]+)", rest).group(1)
            out.update({k: v * trips for k, v in loop_profile(comps, inner).items()})
        elif op not in FREE_OPS:
            out["kernels"] += trips
            out["op:" + op] += trips
            out["elements"] += trips * _elements(shape)
    return out


def update_loop(comps: dict[str, list[str]], updates: int) -> str:
    """The body of the loop with trip count `updates` (the scan over updates)."""
    bodies = [re.search(r"body=%?([\w.\-]+)", line).group(1)
              for lines in comps.values() for line in lines
              if " while(" in line and f'"n":"{updates}"' in line]
    if len(bodies) != 1:
        raise SystemExit(f"expected one loop of {updates} trips, found {len(bodies)}: pick another --updates")
    return bodies[0]


def programs(args: Args) -> dict[str, str]:
    """{"chunk": HLO text, "one program": HLO text}, optimised, for this machine's backend."""
    import jax

    import envs
    from agentmixer_jax.trainer import Seeds, Trainer, make_train, seed_keys
    from experiments.presets import env_kwargs, preset

    cfg, hp = preset(args.task, args.algo)
    cfg = dataclasses.replace(cfg, total_env_steps=cfg.batch_size * args.updates, log_every=0,
                              normalize_inputs=False)
    env = envs.make(args.task, **env_kwargs(args.task))
    hp = hp.as_floats()
    keys = seed_keys(0, args.seeds)
    one = jax.jit(jax.vmap(make_train(env, cfg), in_axes=(0, None))).lower(keys, hp).compile()
    seeds = Seeds(Trainer(env, cfg), args.seeds)
    state = seeds.init(seeds.keys(0), hp)
    chunk = seeds._jitted["run"].lower(seeds._split(state)[0], args.updates).compile()
    return {"chunk": chunk.as_text(), "one program": one.as_text()}


def main(args: Args) -> None:
    texts = programs(args)
    rows = {}
    for name, text in texts.items():
        comps = computations(text)
        rows[name] = loop_profile(comps, update_loop(comps, args.updates))
    ops = sorted({k for r in rows.values() for k in r if k.startswith("op:")},
                 key=lambda k: -rows["one program"][k])
    print(f"{args.algo} on {args.task}, {args.seeds} seeds: per update (nested loops weighted by their trip counts)")
    print("| measure | chunk | one program | chunk / one program |\n|---|---|---|---|")
    for key in ["kernels", "elements", *ops]:
        c, o = rows["chunk"][key], rows["one program"][key]
        print(f"| {key.removeprefix('op:')} | {c:,} | {o:,} | {f'{c / o:.4f}' if o else '-'} |")


if __name__ == "__main__":
    main(tyro.cli(Args))
