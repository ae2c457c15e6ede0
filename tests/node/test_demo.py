"""`make demo` runs the whole story on a fresh folder and stops by itself with --once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_demo_runs_an_assembly_and_verifies_its_bundle(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "node.demo", "--once", "--dir", str(tmp_path / "demo")],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "election: adopted, 3 seats filled" in out
    assert "recall: adopted" in out and "replacement election: adopted" in out
    assert "VALID — Toronto Council of the Reds / شورای سرخ‌های تورنتو" in out
    assert "NOT VALID — body-hash" in out
    assert out.rstrip().endswith("stopped.")
    assert not (tmp_path / "demo" / "toronto" / "serve.addr").exists()
