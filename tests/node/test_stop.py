"""A node stops promptly, whatever it was doing (issue 11; CI once hung in a node's shutdown).

On Python 3.11, ``asyncio.wait_for(event.wait(), t)`` swallows a cancellation that arrives in the turn the
event is set: the loop around it goes round again and the ``stop()`` that cancelled it waits for ever. The
first tests reproduce that swallow, deterministically (the event loop's turns are counted, not timed), and
show the node's loops are not caught by it. The soak then starts and stops a real node many times while it
appends, gossips with a peer and collects that peer's cosignatures. Every bound here (``HANG_S``) only
catches a hang: a passing run never waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from federation.client import RemoteError, TransportError
from federation.tasks import cancel_and_wait, wait_or_timeout
from node import config as cfg
from node.bootstrap import init_node
from node.http.app import make_app
from node.http.context import NODE
from node.rules.council import FoundCouncil
from protocol import codec
from protocol.keys import PublicKey
from protocol.note import witness_name
from tests.conftest import NodeFactory, RunningNode
from tests.federation.test_nodes import until

HANG_S = 60.0  # only bounds a hang: a stop takes well under a second even on a loaded machine
TURNS = range(6)  # event-loop turns between the event being set and the cancellation (3.11 swallows at 0–2)
FAST = {"gossip_interval_s": 0.1, "request_timeout_s": 5.0, "cosign_retry_s": 0.2}


async def _loop_until_cancelled(
    wait: Callable[[asyncio.Event], Awaitable[None]], event: asyncio.Event
) -> str:
    """The shape of the node's loops: wait for news, handle it, again. Says so if a cancellation was
    swallowed: the wait returned although this task had been asked to stop."""
    while True:
        await wait(event)
        event.clear()
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            return "swallowed"


async def _cancel_as_set(wait: Callable[[asyncio.Event], Awaitable[None]], turns: int) -> str:
    event = asyncio.Event()
    task = asyncio.create_task(_loop_until_cancelled(wait, event))
    await asyncio.sleep(0)  # the task is waiting
    event.set()
    for _ in range(turns):
        await asyncio.sleep(0)  # one turn of the event loop
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=HANG_S)
    assert done, "the loop did not end"
    return "cancelled" if task.cancelled() else task.result()


async def _with_wait_for(event: asyncio.Event) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), 3600)


async def _with_wait_or_timeout(event: asyncio.Event) -> None:
    await wait_or_timeout(event, 3600)


async def test_wait_for_swallows_a_cancellation_that_comes_as_the_event_is_set() -> None:
    """The reproduction: on 3.11 ``wait_for`` returns the event's result to a cancelled task."""
    outcomes = [await _cancel_as_set(_with_wait_for, turns) for turns in TURNS]
    if sys.version_info < (3, 12):  # 3.12 rebuilt wait_for on asyncio.timeout, which fixed it
        assert "swallowed" in outcomes, outcomes
    assert set(outcomes) <= {"swallowed", "cancelled"}


async def test_wait_or_timeout_never_swallows_a_cancellation() -> None:
    outcomes = [await _cancel_as_set(_with_wait_or_timeout, turns) for turns in TURNS]
    assert outcomes == ["cancelled"] * len(TURNS)


async def test_wait_or_timeout_says_whether_the_event_was_set() -> None:
    event = asyncio.Event()
    assert await wait_or_timeout(event, 0) is False
    event.set()
    assert await wait_or_timeout(event, 3600) is True


async def _ends_slowly(release: asyncio.Event, ended: list[str]) -> None:
    """A task that, once cancelled, still has work to finish before it ends (as the writer's commit)."""
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        await release.wait()
        ended.append("ended")
        raise


async def test_a_stop_that_is_itself_cancelled_says_so_after_its_tasks_end() -> None:
    """``with suppress(CancelledError): await task`` absorbed the caller's own cancellation: a shutdown
    bound that cancelled a slow ``stop()`` saw it return as if it had finished."""
    release, ended = asyncio.Event(), []
    task = asyncio.create_task(_ends_slowly(release, ended))
    await asyncio.sleep(0)
    stopping = asyncio.create_task(cancel_and_wait(task))
    await asyncio.sleep(0)  # stop() is waiting for the task to end
    stopping.cancel()
    await asyncio.sleep(0)
    assert not stopping.done()  # it waits for its task even when cancelled: nothing left running
    release.set()
    done, _ = await asyncio.wait([stopping], timeout=HANG_S)
    assert done and stopping.cancelled(), "the caller's cancellation was absorbed"
    assert ended == ["ended"] and task.cancelled()


async def test_a_stop_not_cancelled_returns_and_says_what_a_task_failed_with() -> None:
    async def fails() -> None:
        raise LookupError("a bug")

    failed = asyncio.create_task(fails())
    quiet = asyncio.create_task(asyncio.Event().wait())
    await asyncio.sleep(0)
    try:
        await cancel_and_wait(failed, quiet, None)
    except LookupError as exc:
        assert str(exc) == "a bug"
    else:
        raise AssertionError("a task's failure was lost")
    assert quiet.cancelled()
    await cancel_and_wait(quiet)  # stopping twice is fine


async def test_the_cosignature_loop_of_a_real_node_stops_when_cancelled_as_an_append_lands(
    tmp_path: Path,
) -> None:
    """The node's own loop (``Replication._collect_loop``), on a node served on loopback: cancelled in each
    of the turns after it was told of an append, it ends every time."""
    folder = tmp_path / "node"
    init_node(folder, FoundCouncil(name="Stop Council", continent="Asia"), listen="127.0.0.1:0")
    runner = web.AppRunner(make_app(cfg.load(folder)))
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        replication = runner.app[NODE].replication
        for turns in TURNS:
            loop = asyncio.create_task(replication._collect_loop())
            await asyncio.sleep(0)
            replication._dirty.set()  # what an append does
            for _ in range(turns):
                await asyncio.sleep(0)
            loop.cancel()
            done, _ = await asyncio.wait([loop], timeout=HANG_S)
            assert done and loop.cancelled(), f"the loop went on after a cancellation {turns} turns in"
    finally:
        async with asyncio.timeout(HANG_S):
            await runner.cleanup()


# --- the soak -------------------------------------------------------------------------------------------


class Acks:
    """Appends the node acknowledged, and any answer no stop may cause (a 5xx)."""

    def __init__(self) -> None:
        self.count = 0
        self.wrong: list[str] = []
        self.changed = asyncio.Event()

    async def until(self, count: int) -> None:
        async with asyncio.timeout(HANG_S):
            while self.count < count and not self.wrong:
                self.changed.clear()
                await self.changed.wait()
        assert not self.wrong, self.wrong


async def append_until_stopped(node: RunningNode, acks: Acks, tag: str) -> None:
    """Propose motions one after another until the node goes away under this client."""
    for i in range(1_000_000):
        try:
            await node.operator.call("POST", "/v1/admin/motions", {"text": f"stop soak {tag}.{i}"})
        except TransportError:
            return  # the node stopped under the request: what this test does to it
        except RemoteError as exc:
            if exc.status >= 500:
                acks.wrong.append(f"{exc.status} {exc.code}: {exc.message}")
                acks.changed.set()
            return  # a refusal: the node is stopping
        acks.count += 1
        acks.changed.set()


async def stop_bounded(node: RunningNode) -> None:
    node.stop.set()
    done, _ = await asyncio.wait([node.task], timeout=HANG_S)
    assert done, f"the node did not stop within {HANG_S} s"
    node.task.result()  # stopped cleanly, not with an error


async def unblocked(node: RunningNode) -> bool:
    """The start's check with the peers is over: appends are accepted."""
    answer = await node.operator.call("GET", "/v1/admin/peers")
    return answer["blocked"] is None


async def cosigned_by(node: RunningNode, witness: RunningNode) -> bool:
    """The node's newest checkpoint note carries the witness's cosignature."""
    async with node.session.get(node.url + "/v1/logs") as response:
        held = {log["log_id"]: log["note"] for log in (await response.json())["logs"]}
    note = held.get(codec.b64u(node.config.node_id)) or ""
    return f"\u2014 {witness_name(PublicKey(witness.config.node_id))} " in note


async def test_a_busy_node_stops_promptly_every_time(start_node: NodeFactory) -> None:
    """Started and stopped eight times while four clients append, a peer gossips with it and witnesses its
    checkpoints: every stop ends within the hang bound, cleanly, and no request is answered 5xx."""
    peer = await start_node("Peer Council", settings=FAST)
    node = await start_node("Busy Council", settings=FAST)
    folder = node.dir
    await peer.operator.call(
        "POST", "/v1/admin/peers", {"url": node.url, "key": codec.b64u(node.config.node_id)}
    )
    await node.operator.call(
        "POST", "/v1/admin/peers", {"url": peer.url, "key": codec.b64u(peer.config.node_id)}
    )
    await node.operator.call("POST", "/v1/admin/assemblies", {"agenda": "stop soak"})
    acks = Acks()
    for life in range(8):
        if life:
            node = await start_node("Busy Council", directory=folder, settings=FAST)
            # the peer learns where the node now listens (a new port each life)
            await peer.operator.call(
                "POST", "/v1/admin/peers", {"url": node.url, "key": codec.b64u(node.config.node_id)}
            )
        await until(lambda n=node: unblocked(n), "the node checked its log with its peer")  # type: ignore[misc]
        clients = [asyncio.create_task(append_until_stopped(node, acks, f"{life}.{c}")) for c in range(4)]
        await acks.until(acks.count + 5 + 3 * life)  # a count, never a clock: busy at every stop
        await stop_bounded(node)
        done, _ = await asyncio.wait(clients, timeout=HANG_S)
        assert len(done) == len(clients), "a client of a stopped node did not end"
        assert not acks.wrong, acks.wrong
    node = await start_node("Busy Council", directory=folder, settings=FAST)
    await peer.operator.call(
        "POST", "/v1/admin/peers", {"url": node.url, "key": codec.b64u(node.config.node_id)}
    )
    await until(lambda: unblocked(node), "the node checked its log with its peer after the soak")
    await node.operator.call("POST", "/v1/admin/motions", {"text": "after the soak"})

    async def replicated() -> bool:
        log_id = codec.b64u(node.config.node_id)
        sizes = []
        for holder in (node, peer):
            async with holder.session.get(holder.url + "/v1/logs") as response:
                sizes.append(
                    {log["log_id"]: log["size"] for log in (await response.json())["logs"]}.get(log_id)
                )
        return sizes[0] == sizes[1] and await cosigned_by(node, peer)

    await until(replicated, "the peer holds and cosigned the whole log after the restarts")
