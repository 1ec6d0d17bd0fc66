"""What every benchmark script shares: the device's name and adding rows to a BENCHMARKS.md table."""

from __future__ import annotations

import os
import platform


def device_name() -> str:
    """'2-core x86_64 CPU' on the host, else the accelerator's kind and platform, e.g. 'NVIDIA H100 (gpu)'."""
    import jax

    dev = jax.devices()[0]
    if dev.platform == "cpu":
        return f"{os.cpu_count()}-core {platform.machine()} CPU"
    return f"{dev.device_kind} ({dev.platform})"


def insert_rows(text: str, section: str, header: list[str], lines: list[str]) -> str:
    """Append `lines` to the first table of `section` (a heading prefix; created at the end of `text`,
    with a table of `header`, when missing; a section without a table gets one under its heading)."""
    out = text.splitlines()
    starts = [i for i, line in enumerate(out) if line.startswith(section)]  # "## Title (issue 3)" matches
    if not starts:
        out += ["", section, "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        starts = [len(out) - 4]
    i = starts[0] + 1
    while i < len(out) and not out[i].startswith("|") and not out[i].startswith("## "):
        i += 1
    if i == len(out) or out[i].startswith("## "):  # section without a table: add one here
        out[i:i] = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), ""]
        i += 2
    else:
        while i < len(out) and out[i].startswith("|"):
            i += 1
    out[i:i] = lines
    return "\n".join(out) + "\n"
