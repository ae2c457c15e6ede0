"""Finding the chromium the browser tests drive: ``SHORA_CHROMIUM`` if set, else ``chromium`` on the PATH.

Outside CI (``CI`` unset) a missing chromium skips the browser tests with the reason; under ``CI=true`` it is
a failure, because .ci/run installs chromium first (.ci/chromium) and a CI that skipped them would pass blind.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path


class NoChromium(Exception):
    """No usable chromium; the message says why."""


def find(env: Mapping[str, str]) -> str:
    """The chromium executable named by ``env``, or :class:`NoChromium` saying why there is none."""
    named = env.get("SHORA_CHROMIUM", "")
    if named:
        if not (Path(named).is_file() and os.access(named, os.X_OK)):
            raise NoChromium(f"SHORA_CHROMIUM={named} is not an executable file")
        return named
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name, path=env.get("PATH"))
        if found:
            return found
    raise NoChromium("no chromium: set SHORA_CHROMIUM or install Debian's chromium (bash .ci/chromium)")


def in_ci(env: Mapping[str, str]) -> bool:
    return env.get("CI", "").lower() in ("true", "1", "yes")
