"""vigil.awatch under asyncio."""
import asyncio
import os

import pytest

import vigil
from vigilpy import TIMEOUT, fd_count, simple, touch


def run(coro, timeout=TIMEOUT * 4):
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def collect(it, pred):
    got = []
    async for ev in it:
        got.append(ev)
        if pred(ev):
            return got
    raise AssertionError("iteration ended early: %r" % got)


def test_scripted_scenario(root):
    async def main():
        d = os.path.join(root, "d")
        async with vigil.awatch(root) as events:
            async def script():
                os.mkdir(d)
                await asyncio.sleep(0)
            task = asyncio.ensure_future(script())
            got = await collect(events, lambda e: e.path == d)
            await task
            with open(os.path.join(d, "f"), "w") as f:
                f.write("x")
            got += await collect(events, lambda e: e.kind == "closed")
            os.rename(os.path.join(d, "f"), os.path.join(root, "g"))
            os.unlink(os.path.join(root, "g"))
            os.rmdir(d)
            got += await collect(events, lambda e: e.kind == "removed" and e.path == d)
        assert events.watcher is None
        return got

    got = run(main())
    assert simple(got, root) == [
        ("created", "d", None, True),
        ("created", "d/f", None, False),
        ("modified", "d/f", None, False),
        ("closed", "d/f", None, False),
        ("moved", "g", "d/f", False),
        ("removed", "g", None, False),
        ("removed", "d", None, True),
    ]


def test_a_rename_held_back_is_settled_while_waiting(tmp):
    """A rename out of the tree waits for its pair; no descriptor says when
    that is over on the POSIX platform layer, Watcher.timeout() does."""
    root, out = os.path.join(tmp, "root"), os.path.join(tmp, "out")
    os.mkdir(root)
    os.mkdir(out)
    f = os.path.join(root, "f")
    touch(f)

    async def main():
        async with vigil.awatch(root) as events:
            os.rename(f, os.path.join(out, "f"))
            return await collect(events, lambda e: e.kind == "removed")

    assert simple(run(main()), root) == [("removed", "f", None, False)]


def test_the_loop_runs_while_waiting(root):
    """Other tasks run while awatch waits; a change made by one of them
    wakes the iterator up."""
    async def main():
        ticks = []

        async def ticker():
            for i in range(5):
                ticks.append(i)
                await asyncio.sleep(0.01)
            touch(os.path.join(root, "done"))

        events = vigil.awatch(root)
        t = asyncio.ensure_future(ticker())
        got = await collect(events, lambda e: e.kind == "created")
        await t
        events.close()
        return ticks, got

    ticks, got = run(main())
    assert ticks == [0, 1, 2, 3, 4]
    assert got[0].path == os.path.join(root, "done")


CYCLES = int(os.environ.get("VIGIL_TEST_AWATCH_CYCLES", "10000"))


@pytest.mark.time_limit(600)
def test_ten_thousand_cycles_leave_no_descriptor(root):
    """Create, register with the loop, and close 10,000 times, ending the
    iteration every way there is; /proc/self/fd is unchanged. (The kernel
    takes several milliseconds to close an inotify instance that holds a
    watch, so this takes a minute or two.)"""
    async def main():
        loop = asyncio.get_running_loop()
        before = fd_count()
        for i in range(CYCLES):
            way = i % 5
            if way == 0:  # async with, nothing read
                async with vigil.awatch(root) as events:
                    pass
            elif way == 1:  # cancel a task waiting in __anext__
                events = vigil.awatch(root)
                task = asyncio.ensure_future(events.__anext__())
                await asyncio.sleep(0)
                assert events._loop is loop  # the reader is registered
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
                assert events.watcher is None
            elif way == 2:  # an event, then break out of the loop
                events = vigil.awatch(root)
                touch(os.path.join(root, "x%d" % i))
                async for ev in events:
                    break
                assert ev.kind == "created"
                del events, ev
            elif way == 3:  # an exception in the body
                events = vigil.awatch(root)
                os.unlink(os.path.join(root, "x%d" % (i - 1)))
                with pytest.raises(KeyError):
                    async for ev in events:
                        raise KeyError(ev)
                assert events.watcher is not None  # still open: the loop was left by the body
                await events.aclose()
                await events.aclose()  # exactly once: the second is a no-op
            else:  # dropped while its __anext__ waits in a task
                events = vigil.awatch(root)
                task = asyncio.ensure_future(events.__anext__())
                await asyncio.sleep(0)
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                del events, task
        return before, fd_count(), len(loop._selector.get_map())

    before, after, registered = run(main(), timeout=None)
    assert after == before
    assert registered == 1  # only the loop's own self-pipe


def test_cancelling_the_task_closes_the_fd(root):
    async def main():
        before = set(os.listdir("/proc/self/fd"))

        async def consumer(events):
            async for ev in events:
                pass

        events = vigil.awatch(root)
        fd = events.fileno()
        assert str(fd) in set(os.listdir("/proc/self/fd")) - before
        task = asyncio.ensure_future(consumer(events))
        await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert task.cancelled()
        after = set(os.listdir("/proc/self/fd"))
        loop = asyncio.get_running_loop()
        return before, after, fd in loop._selector.get_map(), events.watcher

    before, after, registered, watcher = run(main())
    assert after == before
    assert not registered and watcher is None


def test_two_waiters_are_refused(root):
    async def main():
        events = vigil.awatch(root)
        t1 = asyncio.ensure_future(events.__anext__())
        await asyncio.sleep(0)
        with pytest.raises(RuntimeError):
            await events.__anext__()
        touch(os.path.join(root, "x"))
        ev = await t1
        events.close()
        return ev

    assert run(main()).kind == "created"


def test_aclose_from_another_task_ends_the_iteration(root):
    async def main():
        events = vigil.awatch(root)

        async def consumer():
            return [ev async for ev in events]

        task = asyncio.ensure_future(consumer())
        await asyncio.sleep(0.05)
        await events.aclose()
        return await task, events.watcher

    assert run(main()) == ([], None)
