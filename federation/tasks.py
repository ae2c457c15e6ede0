"""Ending the background tasks a service owns, promptly and without hiding a cancellation.

Every ``stop()`` and ``close()`` cancels its tasks and waits for them (STYLE.md 11). Two ways that hangs or
misbehaves, both seen on Python 3.11:

- a loop that waits with ``asyncio.wait_for(event.wait(), t)`` can swallow the cancellation: when the event is
  set in the same turn as the task is cancelled, 3.11's ``wait_for`` returns the result and the loop goes
  round again, so its ``stop()`` waits for ever. Loops wait with ``asyncio.timeout`` (``wait_or_timeout``),
  which lets the cancellation through;
- ``with suppress(CancelledError): await task`` also absorbs the *caller's* own cancellation (a ``stop()``
  that is itself cancelled, by a shutdown bound) and returns as if nothing happened. ``cancel_and_wait``
  re-raises it.
"""

from __future__ import annotations

import asyncio
from typing import Any


async def wait_or_timeout(event: asyncio.Event, timeout_s: float) -> bool:
    """Wait until ``event`` is set or ``timeout_s`` has passed; True if it was set. A cancellation is
    never swallowed, whatever else happens in the same turn."""
    try:
        async with asyncio.timeout(timeout_s):
            await event.wait()
    except TimeoutError:
        return False
    return True


async def cancel_and_wait(*tasks: asyncio.Task[Any] | None) -> None:
    """Cancel ``tasks`` and wait until every one has ended. Their own cancellation is what was asked for;
    the caller's (``stop()`` itself cancelled meanwhile) is re-raised once every task has ended, so none is
    left running behind a shutdown. An exception a task ended with before it was cancelled is raised, as
    awaiting it would."""
    current = asyncio.current_task()
    before = current.cancelling() if current is not None else 0
    running = [task for task in tasks if task is not None]
    for task in running:
        task.cancel()
    failure: Exception | None = None
    for task in running:
        try:
            await task
        except asyncio.CancelledError:  # the task's, as asked; or ours, counted below
            pass
        except Exception as exc:  # a task that failed before it was cancelled: said, not lost
            failure = failure or exc
    if current is not None and current.cancelling() > before:
        raise asyncio.CancelledError
    if failure is not None:
        raise failure
