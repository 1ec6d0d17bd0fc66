"""The scan notebook (experiments/notebooks/scan.ipynb) runs top to bottom, so it cannot rot: executed here with
nbclient, its output folder moved to a temporary one and its budget cut to a quarter through its CONFIG cell."""

import json
import re
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "experiments" / "notebooks" / "scan.ipynb"


def _outputs(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        parts.append(out.get("text", ""))
        parts.append(json.dumps(out.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


def test_scan_notebook_runs_top_to_bottom(tmp_path, xla_run_env):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    params = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(params) == 1, "the notebook needs exactly one cell tagged `parameters`"
    out = tmp_path / "scan"
    params[0].source = re.sub(r'^OUT = .*$', f"OUT = {str(out)!r}", params[0].source, flags=re.M)
    # a quarter of the default budget (8 envs instead of 32, the same 3 updates): the suite's time, not the notebook's
    params[0].source = re.sub(r'^CONFIG = .*$', 'CONFIG = {"num_envs": 8, "total_env_steps": 2_400}',
                              params[0].source, flags=re.M)
    assert str(out) in params[0].source and '"num_envs": 8' in params[0].source
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    text = "\n".join(_outputs(c) for c in nb.cells if c.cell_type == "code")
    assert "compile(s)" in text and "P(best > worst)" in text
    command = next(line for line in text.splitlines() if line.startswith("python -m experiments.train"))
    assert "--env predator_prey_p1" in command and "--algo agentmixer" in command
    assert (out / "heatmap.png").stat().st_size > 10_000
    images = sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert images == 3  # heatmap, learning curves, performance profiles
