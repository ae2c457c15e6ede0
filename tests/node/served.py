"""A node run the way an operator runs it: ``shora serve DIR`` in its own process.

Used by the tests that must kill the process (crash) or read everything it logged (privacy). The stale
``serve.addr`` is removed before each start, so the address read back is always the new process's.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import IO

from node.http.server import address_file


def serve_command(directory: Path) -> list[str]:
    """The venv's ``shora`` script, or the same entry point through this interpreter."""
    script = Path(sys.executable).with_name("shora")
    if script.exists():
        return [str(script), "serve", str(directory)]
    return [sys.executable, "-c", "from node.cli.main import main; main()", "serve", str(directory)]


async def start_served(
    directory: Path, output: IO[bytes], timeout: float = 120.0
) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``shora serve DIR`` with stdout and stderr going to ``output``; return it and its base URL.
    ``timeout`` only bounds a hang: a node starts within seconds even on a loaded machine."""
    address = address_file(directory)
    address.unlink(missing_ok=True)
    process = subprocess.Popen(
        serve_command(directory), stdin=subprocess.DEVNULL, stdout=output, stderr=output
    )
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not address.exists():
        if process.poll() is not None:
            raise RuntimeError(f"shora serve exited with status {process.returncode} before binding")
        if loop.time() > deadline:
            process.kill()
            process.wait()
            raise RuntimeError(f"shora serve did not bind within {timeout} s")
        await asyncio.sleep(0.005)
    return process, f"http://{address.read_text().strip()}"
