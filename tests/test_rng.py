"""The unrolled CPU lowering of JAX's Threefry hash (agentmixer_jax.unrolled_cpu_threefry): same bits, no loop.

Each check runs in a subprocess of its own, with and without AGENTMIXER_JAX_ROLLED_THREEFRY, because the lowering
is chosen once per process at import (and conftest keeps JAX's rolled one for the level-0 test session)."""

import json
import os
import subprocess
import sys

# Random123's known-answer vectors for Threefry-2x32 with 20 rounds (key, counter -> output), the values JAX's own
# tests check
KAT = [((0x00000000, 0x00000000), (0x00000000, 0x00000000), (0x6B200159, 0x99BA4EFE)),
       ((0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF), (0x1CB996FC, 0xBB002BE7)),
       ((0x13198A2E, 0x03707344), (0x243F6A88, 0x85A308D3), (0xC4923A9C, 0x483DF7A0))]

# every kind of draw the trainer makes, jitted (the lowering acts on compiled programs), as lists of uint32 words;
# also the known-answer outputs, whether a compiled split has a loop, and which lowering the package installed
SCRIPT = """
import json, sys
import jax, jax.numpy as jnp, numpy as np
from jax.extend.random import threefry_2x32
if sys.argv[1] == "package":
    import agentmixer_jax
    installed = agentmixer_jax.UNROLLED_CPU_THREEFRY
else:
    installed = None

@jax.jit
def draws(key):
    k = jax.random.split(key, 5)
    return {"split": jax.random.split(k[0], 7), "fold_in": jax.random.fold_in(k[1], 12345),
            "uniform": jax.random.uniform(k[2], (64, 3)), "normal": jax.random.normal(k[3], (33,)),
            "categorical": jax.random.categorical(k[4], jnp.linspace(-1.0, 1.0, 5), shape=(200,)),
            "gumbel": jax.vmap(lambda kk: jax.random.gumbel(kk, (2, 5)))(jax.random.split(k[2], 8)),
            "bits": jax.random.bits(k[3], (17,), jnp.uint32)}

out = {k: np.asarray(v).view(np.uint32).ravel().tolist() for k, v in draws(jax.random.PRNGKey(2026)).items()}
kat = [[int(x) for x in jax.jit(threefry_2x32)(np.array(k, np.uint32), np.array(c, np.uint32))]
       for k, c in json.loads(sys.argv[2])]
loop = " while(" in jax.jit(lambda k: jax.random.split(k, 4)).lower(jax.random.PRNGKey(0)).compile().as_text()
print(json.dumps({"draws": out, "kat": kat, "loop": loop, "installed": installed}))
"""


def _run(import_package: bool, rolled: bool) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "AGENTMIXER_JAX_ROLLED_THREEFRY"}
    if rolled:
        env["AGENTMIXER_JAX_ROLLED_THREEFRY"] = "1"
    args = ["package" if import_package else "jax", json.dumps([[k, c] for k, c, _ in KAT])]
    out = subprocess.run([sys.executable, "-c", SCRIPT, *args], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_unrolled_lowering_is_installed_loop_free_and_bit_for_bit_jax_s():
    ours = _run(import_package=True, rolled=False)
    rolled = _run(import_package=True, rolled=True)
    plain = _run(import_package=False, rolled=False)  # JAX without this package
    # the package found JAX's lowering and installed it: a compiled split has no loop; with the variable set, or
    # without the package, JAX's rolled loop is there, so the comparison below compares two lowerings
    assert ours["installed"] is True and rolled["installed"] is False
    assert not ours["loop"] and rolled["loop"] and plain["loop"]
    # the hash itself: Random123's known answers
    assert ours["kat"] == rolled["kat"] == [list(expected) for _, _, expected in KAT]
    # and every kind of draw, word for word
    assert ours["draws"].keys() == plain["draws"].keys()
    for name in ours["draws"]:
        assert ours["draws"][name] == rolled["draws"][name] == plain["draws"][name], name
