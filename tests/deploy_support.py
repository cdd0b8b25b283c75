"""What the deployment tests share: where deploy/ is, and which variables the CLI reads."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"


def cli_variables() -> set[str]:
    """Every ``PERFSTREAM_*`` variable the code reads (through ``config.env`` or by its full name)."""
    source = "\n".join(p.read_text() for p in (REPO / "pipeline").rglob("*.py"))
    names = {f"PERFSTREAM_{name}" for name in re.findall(r'env\("([A-Z_]+)"', source)}
    return names | set(re.findall(r'"(PERFSTREAM_[A-Z_]+)"', source))


def fetched_schema(name: str) -> Path:
    """A schema deploy/local/schemas.sh fetches (and caches): ``podmonitor`` or ``compose``."""
    result = subprocess.run(["bash", str(DEPLOY / "local" / "schemas.sh"), name], capture_output=True, text=True)
    assert result.returncode == 0, f"deploy/local/schemas.sh {name} failed: {result.stderr}"
    return Path(result.stdout.strip())
