"""vigil run: the command's lifecycle, what counts as a change, the exit
statuses, the environment, signals and ignore files.

The commands are real processes. They record what they see through
tests/system/runtest.py's recorder script, in a directory outside the
watched tree, and the tests synchronise on those files, on vigil's stderr
lines and on its exit; time is measured only where time is the subject.
"""

import os
import signal
import subprocess
import time

import pytest

import runtest
import vigiltest
from runtest import wait_until, scaled

# Put after a command's traps: the test then waits for it with wait_armed.
ARMED = runtest.ARMED


@pytest.fixture
def rt(vigil, vigil_bin, tmp):
    t = runtest.RunTest(vigil, vigil_bin, tmp)
    yield t
    t.cleanup()


# -- the basics --------------------------------------------------------------

def test_first_run_then_a_change_runs_again(rt):
    v = rt.start("--", *rt.rec("true"))
    r1 = rt.wait_run(1)
    assert r1.changed == "" and r1.events == ""
    (rt.w / "a.c").write_text("x")
    r2 = rt.wait_run(2)
    assert r2.changed == "a.c"
    assert set(r2.events.split(",")) <= {"created", "modified", "closed"}
    assert "created" in r2.events.split(",")
    v.wait_stderr(lambda l: l.startswith(b"vigil: [sh exited 0 after "))
    rt.stop(v)


def test_polled_change_runs_again(rt):
    """With --backend poll nothing is ever readable for vigil but its
    timer: a change is found by a pass all the same."""
    v = rt.start("--backend", "poll", "--poll-interval", "50ms", "--", *rt.rec("true"))
    rt.wait_run(1)
    (rt.w / "a.c").write_text("x")
    r2 = rt.wait_run(2)
    assert r2.changed == "a.c"
    assert "created" in r2.events.split(",")
    rt.stop(v)


def test_command_runs_directly_not_through_a_shell(rt):
    # With no shell, "$HOME" reaches the command as it is.
    v = rt.start("--", "sh", "-c", 'printf "%s" "$1" > "$0"',
                 str(rt.out / "arg"), "$HOME")
    wait_until(lambda: (rt.out / "arg").exists()
               and (rt.out / "arg").read_text() == "$HOME", what="the first run")
    rt.stop(v)


def test_shell_option_runs_through_SHELL(rt):
    target = rt.out / "sum"
    env = dict(rt.env, SHELL="/bin/sh")
    v = rt.start("-s", "--", "echo $((40 + 2)) >", str(target), env=env)
    wait_until(lambda: target.exists() and target.read_text() == "42\n",
               what="the shell's output")
    rt.stop(v)


def test_shell_defaults_to_bin_sh(rt):
    target = rt.out / "sh"
    env = dict(rt.env)
    env.pop("SHELL", None)
    v = rt.start("--shell", "--", "echo $0 >", str(target), env=env)
    wait_until(lambda: target.exists() and target.read_text() == "/bin/sh\n",
               what="the shell's output")
    rt.stop(v)


def test_without_double_dash(rt):
    v = rt.start(*rt.rec("true"))
    rt.wait_run(1)
    rt.stop(v)


def test_stdin_is_dev_null_without_a_terminal(rt):
    target = rt.out / "fd0"
    v = rt.start("--", "sh", "-c", 'readlink /proc/$$/fd/0 > "$0"', str(target))
    wait_until(lambda: target.exists() and target.read_text(), what="fd 0")
    assert target.read_text() == "/dev/null\n"
    rt.stop(v)


def test_postpone_waits_for_the_first_change(rt):
    v = rt.start("-p", "--", *rt.rec("true"))
    (rt.w / "first").write_text("")
    r1 = rt.wait_run(1)
    assert r1.changed == "first"
    rt.stop(v)
    assert rt.runs() == 1


def test_clear_writes_the_clear_sequence_before_each_run(rt):
    v = rt.start("-c", "--", *rt.rec("true"))
    rt.wait_run(1)
    (rt.w / "x").write_text("")
    rt.wait_run(2)
    rt.stop(v)
    assert v.read_all().count(b"\033[2J") == 2


# -- stopping the command ------------------------------------------------------

def test_restart_waits_until_the_whole_old_group_is_gone(rt):
    # Each run leaves a child that takes 0.3 s to exit after SIGTERM; the
    # next run checks, as it starts, that every process of the last one
    # (the leader and that child) no longer exists.
    child = ("trap 'sleep 0.3; exit 0' TERM; " + ARMED +
             "while :; do sleep 0.02; done")
    cmd = rt.rec("sh", "-c",
                 'sh -c "$0" & echo $! >> "$REC_OUT/group.$REC_N"; wait',
                 child)
    v = rt.start("-r", "--", *cmd)
    rt.wait_armed(1)
    wait_until(lambda: len(rt.group(1)) == 2, what="run 1's child")
    old = rt.group(1)
    (rt.w / "a").write_text("")
    r2 = rt.wait_run(2)
    assert r2.check == {p: "dead" for p in old}, r2.check
    for p in old:
        assert not runtest.exists(p)
    v.wait_stderr(lambda l: l.startswith(b"vigil: [sh killed by SIGTERM after "))
    rt.stop(v)


@pytest.mark.parametrize("how", ["change", "sigterm"])
def test_a_command_ignoring_TERM_is_killed_after_the_grace(rt, how):
    grace = 1.0
    cmd = rt.rec("sh", "-c", "trap '' TERM; %swhile :; do sleep 0.02; done" % ARMED)
    v = rt.start("-r", "--grace", "1s", "--debounce", "10ms", "--", *cmd)
    rt.wait_armed(1)
    pid = rt.pid(1)
    t0 = time.monotonic()
    if how == "change":
        (rt.w / "a").write_text("")
        rt.wait_run(2, poll=0.002)
        took = time.monotonic() - t0 - 0.010  # less the debounce
    else:
        v.send(signal.SIGTERM)
        assert v.wait_exit() == 0
        took = time.monotonic() - t0
    assert not runtest.exists(pid)
    assert grace - 0.02 <= took <= grace + scaled(0.1), took
    v.wait_stderr(lambda l: l == b"vigil: [sh killed by SIGKILL after 1s grace]")
    rt.stop(v)


def test_a_command_exiting_within_the_grace_is_not_killed(rt):
    cmd = rt.rec("sh", "-c",
                 "trap 'sleep 0.3; exit 3' TERM; %swhile :; do sleep 0.02; done"
                 % ARMED)
    v = rt.start("--grace", "5s", "--", *cmd)
    rt.wait_armed(1)
    t0 = time.monotonic()
    v.send(signal.SIGTERM)
    assert v.wait_exit() == 0
    took = time.monotonic() - t0
    assert 0.25 <= took < scaled(2.0), took
    err = v.stderr_text()
    assert "[sh exited 3 after " in err, err
    assert "SIGKILL" not in err, err


def test_grandchildren_are_stopped_too(rt):
    cmd = rt.rec("sh", "-c",
                 'sleep 100 & echo $! >> "$REC_OUT/group.$REC_N"; wait')
    v = rt.start("--", *cmd)
    rt.wait_run(1)
    wait_until(lambda: len(rt.group(1)) == 2, what="the grandchild")
    gc = rt.group(1)[-1]
    assert runtest.exists(gc)
    v.send(signal.SIGTERM)
    assert v.wait_exit() == 0
    assert not runtest.exists(gc)


def test_children_left_behind_are_stopped_before_the_next_run(rt):
    # The leader exits at once; its child lives on in the group. The next
    # run must not start before that child is gone.
    cmd = rt.rec("sh", "-c",
                 '(trap "sleep 0.2; exit" TERM; %swhile :; do sleep 0.02; done) & '
                 'echo $! >> "$REC_OUT/group.$REC_N"' % ARMED)
    v = rt.start("--", *cmd)
    rt.wait_armed(1)
    v.wait_stderr(lambda l: l.startswith(b"vigil: [sh exited 0"))
    old = rt.group(1)
    assert runtest.exists(old[-1])
    (rt.w / "a").write_text("")
    r2 = rt.wait_run(2)
    assert r2.check == {p: "dead" for p in old}, r2.check
    rt.stop(v)


def test_leftovers_ignoring_TERM_are_killed_after_the_grace(rt):
    cmd = rt.rec("sh", "-c",
                 "(trap '' TERM; %swhile :; do sleep 0.02; done) & "
                 'echo $! >> "$REC_OUT/group.$REC_N"' % ARMED)
    v = rt.start("--grace", "300ms", "--", *cmd)
    rt.wait_armed(1)
    v.wait_stderr(lambda l: l.startswith(b"vigil: [sh exited 0"))
    old = rt.group(1)
    v.send(signal.SIGTERM)
    assert v.wait_exit() == 0
    assert not runtest.exists(old[-1])
    assert ("what was left of it killed by SIGKILL after "
            "300ms grace" in v.stderr_text())


def test_stop_signal(rt):
    cmd = rt.rec("sh", "-c",
                 'trap \'echo INT >> "$REC_OUT/got"; exit 0\' INT; '
                 'trap "" TERM; %swhile :; do sleep 0.02; done' % ARMED)
    v = rt.start("--stop-signal", "SIGINT", "--grace", "10s", "--", *cmd)
    rt.wait_armed(1)
    v.send(signal.SIGTERM)
    assert v.wait_exit() == 0
    assert (rt.out / "got").read_text() == "INT\n"
    assert "[sh exited 0 after " in v.stderr_text()


def test_second_sigterm_kills_at_once(rt):
    cmd = rt.rec("sh", "-c", "trap '' TERM; %swhile :; do sleep 0.02; done" % ARMED)
    v = rt.start("--grace", "30s", "--", *cmd)
    rt.wait_armed(1)
    v.send(signal.SIGTERM)
    time.sleep(0.1)
    assert v.running()
    t0 = time.monotonic()
    v.send(signal.SIGTERM)
    assert v.wait_exit() == 0
    assert time.monotonic() - t0 < scaled(0.5)
    err = v.stderr_text()
    assert "[sh killed by SIGKILL after " in err and "grace" not in err, err


def test_exit_report_of_a_signalled_command(rt):
    v = rt.start("--", "sh", "-c", "kill -USR1 $$")
    v.wait_stderr(lambda l: l.startswith(b"vigil: [sh killed by SIGUSR1 after "))
    rt.stop(v)


def test_exit_report_of_a_failing_command(rt):
    v = rt.start("--", "/bin/sh", "-c", "exit 2")
    line = v.wait_stderr(lambda l: b"exited" in l).decode()
    assert runtest.re_match(r"vigil: \[sh exited 2 after \d+\.\ds\]$", line), line
    rt.stop(v)


def test_quiet_reports_nothing(rt):
    v = rt.start("-q", "--", *rt.rec("true"), ready=False)
    rt.wait_run(1)
    v.send(signal.SIGTERM)
    assert v.wait_exit() == 0
    assert v.stderr_text() == ""


# -- changes while the command runs --------------------------------------------

def test_twenty_changes_in_20ms_restart_once(rt):
    # One process makes the twenty, so that the test's own scheduling
    # cannot spread them out, and their change times tell how close they
    # came. On a machine too busy to make them within 20 ms, try again.
    names = ["f%02d" % i for i in range(20)]
    for attempt in range(5):
        base = rt.runs()
        v = rt.start("-r", "--", *rt.rec("sleep", "1000"))
        rt.wait_run(base + 1)
        subprocess.run(["touch", *names], cwd=str(rt.w), check=True)
        times = [os.stat(rt.w / n).st_ctime_ns for n in names]
        if max(times) - min(times) < 20e6:
            break
        rt.stop(v)
        for n in names:
            os.unlink(rt.w / n)
    else:
        pytest.skip("could not make 20 changes within 20 ms")
    r2 = rt.wait_run(base + 2)
    assert sorted(r2.changed.split("\n")) == names
    # A later change is the next run: nothing of the burst came in between.
    (rt.w / "later").write_text("")
    r3 = rt.wait_run(base + 3)
    assert r3.changed == "later"
    rt.stop(v)
    assert rt.runs() == base + 3


def test_atomic_save_is_one_change(rt):
    (rt.w / "main.c").write_text("old")
    v = rt.start("-r", "--", *rt.rec("sleep", "1000"))
    rt.wait_run(1)
    tmp = rt.w / ".main.c.swp"
    tmp.write_text("new")
    os.rename(tmp, rt.w / "main.c")
    r2 = rt.wait_run(2)
    assert r2.changed == "main.c"
    (rt.w / "later").write_text("")
    assert rt.wait_run(3).changed == "later"
    rt.stop(v)


def test_queue_runs_once_more_after_a_busy_period(rt):
    go = rt.out / "go"
    cmd = rt.rec("sh", "-c", 'while [ ! -e "$0" ]; do sleep 0.01; done', str(go))
    v = rt.start("--", *cmd)   # queue is the default
    rt.wait_run(1)
    for name in ("a", "b", "c"):
        (rt.w / name).write_text("")
        time.sleep(0.15)       # three separate bursts
    go.write_text("")
    r2 = rt.wait_run(2)
    assert sorted(r2.changed.split("\n")) == ["a", "b", "c"]
    (rt.w / "d").write_text("")
    assert rt.wait_run(3).changed == "d"
    rt.stop(v)
    assert rt.runs() == 3


def test_ignore_mode_drops_changes_while_busy(rt):
    go = rt.out / "go"
    cmd = rt.rec("sh", "-c", 'while [ ! -e "$0" ]; do sleep 0.01; done', str(go))
    v = rt.start("--on-busy", "ignore", "--", *cmd)
    rt.wait_run(1)
    (rt.w / "dropped").write_text("")
    time.sleep(0.2)
    go.write_text("")
    v.wait_stderr(lambda l: b"exited 0" in l)
    (rt.w / "counted").write_text("")
    assert rt.wait_run(2).changed == "counted"
    rt.stop(v)


def test_signal_mode_signals_and_does_not_restart(rt):
    cmd = rt.rec("sh", "-c",
                 'trap \'echo HUP >> "$REC_OUT/got"\' HUP; '
                 '%swhile :; do sleep 0.02; done' % ARMED)
    v = rt.start("--on-busy", "signal", "--", *cmd)
    rt.wait_armed(1)
    (rt.w / "a").write_text("")
    wait_until(lambda: (rt.out / "got").exists(), what="SIGHUP")
    (rt.w / "b").write_text("")
    wait_until(lambda: (rt.out / "got").read_text() == "HUP\nHUP\n",
               what="a second SIGHUP")
    rt.stop(v)
    assert rt.runs() == 1


def test_signal_mode_with_another_signal(rt):
    cmd = rt.rec("sh", "-c",
                 'trap \'echo USR2 >> "$REC_OUT/got"\' USR2; '
                 '%swhile :; do sleep 0.02; done' % ARMED)
    v = rt.start("--on-busy", "signal", "--signal", "usr2", "--", *cmd)
    rt.wait_armed(1)
    (rt.w / "a").write_text("")
    wait_until(lambda: (rt.out / "got").exists(), what="SIGUSR2")
    rt.stop(v)


def test_a_change_during_a_restart_is_not_lost(rt):
    # The old command takes 0.3 s to stop; a change made meanwhile is seen
    # by the run that follows, or by the one after it: never by none.
    cmd = rt.rec("sh", "-c",
                 "trap 'sleep 0.3; exit 0' TERM; %swhile :; do sleep 0.02; done"
                 % ARMED)
    v = rt.start("-r", "--", *cmd)
    rt.wait_armed(1)
    (rt.w / "a").write_text("")
    time.sleep(0.15)
    (rt.w / "b").write_text("")
    r2 = rt.wait_run(2)
    seen = set(r2.changed.split("\n"))
    if "b" not in seen:
        seen |= set(rt.wait_run(3).changed.split("\n"))
    assert {"a", "b"} <= seen
    rt.stop(v)


# -- vigil's own signals -----------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_sigint_and_sigterm_stop_the_command_and_exit_0(rt, sig):
    v = rt.start("--", *rt.rec("sleep", "1000"))
    rt.wait_run(1)
    pid = rt.pid(1)
    v.send(sig)
    assert v.wait_exit() == 0
    assert not runtest.exists(pid)
    assert "[sh killed by SIGTERM after " in v.stderr_text()


def test_sighup_restarts_the_command(rt):
    v = rt.start("--", *rt.rec("sleep", "1000"))
    rt.wait_run(1)
    pid = rt.pid(1)
    v.send(signal.SIGHUP)
    r2 = rt.wait_run(2)
    assert r2.changed == "" and r2.events == ""
    assert not runtest.exists(pid)
    rt.stop(v)


def test_sighup_starts_a_finished_command(rt):
    v = rt.start("--", *rt.rec("true"))
    rt.wait_run(1)
    v.send(signal.SIGHUP)
    rt.wait_run(2)
    rt.stop(v)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_during_setup_stops_it_before_any_run(rt, sig):
    """As vigil watch: stopped at once, no ready line, no run, status 0."""
    for i in range(20):
        for j in range(50):
            (rt.w / ("d%d" % i) / ("e%d" % j)).mkdir(parents=True)
    log = rt.out / "trace"
    env = dict(rt.env)
    env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
    v = rt._start("run", "--", *rt.rec("true"), cwd=str(rt.w), env=env,
                  wrapper=["strace", "-f", "-o", str(log),
                           "-e", "trace=inotify_add_watch",
                           "-e", "inject=inotify_add_watch:signal=%s:when=3"
                           % signal.Signals(sig).name])
    assert v.wait_exit() == 0, v.describe()
    assert v.stderr_text().splitlines() == [
        "vigil: stopped during setup, before ready"], v.describe()
    assert rt.runs() == 0
    placed = log.read_text().count("inotify_add_watch(")
    assert placed < 1021 // 2, placed


def test_sigterm_while_idle(rt):
    v = rt.start("-p", "--", *rt.rec("true"))
    v.send(signal.SIGTERM)
    assert v.wait_exit() == 0
    assert rt.runs() == 0


def test_sigterm_ends_a_write_to_a_stderr_nobody_reads(rt):
    """The command fills vigil's stderr, a pipe nobody reads; SIGTERM stops
    it, and vigil, whose report of that then cannot be written, still
    exits at once."""
    r, w = vigiltest.small_pipe()
    try:
        fill = "while echo 0123456789; do :; done >&2"  # small writes fill it
        v = rt.start("--", *rt.rec("sh", "-c", fill),
                     stderr=w, ready=False)
        os.close(w)
        w = None
        rt.wait_run(1)
        pid = rt.pid(1)
        wait_until(lambda: vigiltest.blocked_writing(pid, 1),
                   what="the command to fill the pipe")
        v.send(signal.SIGTERM)
        assert v.wait_exit(scaled(3)) == 0, v.describe()
        assert not runtest.exists(pid)
    finally:
        os.close(r)
        if w is not None:
            os.close(w)


def test_sigterm_ends_a_write_to_a_stdout_nobody_reads(rt):
    """-c: the clear sequence before a run waits for a full pipe nobody
    reads; SIGTERM still ends vigil at once, without starting the run."""
    r, w = vigiltest.small_pipe()
    try:
        # Run 1 leaves a process in its group that fills the pipe and then
        # waits for room in it for ever.
        cmd = rt.rec("sh", "-c", "while echo 0123456789; do :; done & exit 0")
        v = rt.start("-c", "--", *cmd, stdout=w, ready=False)
        os.close(w)
        w = None
        rt.wait_run(1)
        v.wait_stderr(lambda l: l.startswith(b"vigil: [sh exited 0"))
        (rt.w / "a").write_text("")
        wait_until(lambda: vigiltest.blocked_writing(v.pid, 1),
                   what="vigil to block writing the clear sequence")
        v.send(signal.SIGTERM)
        assert v.wait_exit(scaled(3)) == 0, v.describe()
        assert rt.runs() == 1
    finally:
        os.close(r)
        if w is not None:
            os.close(w)


# -- exit statuses -----------------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["run"],
    ["run", "--"],
    ["run", "--bogus", "--", "true"],
    ["run", "--on-busy", "sometimes", "--", "true"],
    ["run", "--grace", "5", "--", "true"],
    ["run", "--grace", "-1s", "--", "true"],
    ["run", "--debounce", "fast", "--", "true"],
    ["run", "--stop-signal", "SIGNOPE", "--", "true"],
    ["run", "--signal", "0", "--", "true"],
    ["run", "--events", "created,bogus", "--", "true"],
    ["run", "--events", "error", "--", "true"],
    ["run", "--events", "created,opened", "--", "true"],
    ["run", "--events", "closed_nowrite", "--", "true"],
    ["run", "-e", "", "--", "true"],
    ["run", "--ext", "c,,h", "--", "true"],
    ["run", "--exclude", "[abc", "--", "true"],
    ["run", "-w", "", "--", "true"],
    ["run", "--once", "--exit-on-change", "--", "true"],
    ["run", "-w"],
])
def test_bad_usage_exits_1(rt, argv):
    r = rt.run_to_end(*argv)
    assert r.returncode == 1, r
    err = r.stderr.decode()
    assert err.startswith("vigil: ") and "ready" not in err, err
    assert rt.runs() == 0


def test_backend_not_built_in_exits_1(rt):
    r = rt.run_to_end("run", "--backend", "kqueue", "--", *rt.rec("true"))
    assert r.returncode == 1, r
    assert r.stderr.decode() == ("vigil: --backend: 'kqueue' is not built in; "
                                 "use auto, or one of: inotify, poll\n")
    assert rt.runs() == 0


def test_backend_inotify_runs_and_reruns(rt):
    v = rt.start("--backend", "inotify", "--", *rt.rec("true"))
    rt.wait_run(1)
    (rt.w / "a.c").write_text("x")
    r2 = rt.wait_run(2)
    assert r2.changed == "a.c"
    rt.stop(v)


def test_backend_holds_for_every_watched_path(rt):
    # --backend is the instance's: every -w path is watched by it, in one instance.
    for d in ("a", "b"):
        (rt.w / d).mkdir()
    v = rt.start("--backend", "inotify", "-w", "a", "-w", "b", "--", *rt.rec("true"))
    rt.wait_run(1)
    assert inotify_instances(v.pid) == 1
    (rt.w / "b" / "x").write_text("")
    assert rt.wait_run(2).changed == "x"
    (rt.w / "a" / "y").write_text("")
    assert rt.wait_run(3).changed == "y"
    rt.stop(v)


def test_missing_path_exits_1(rt):
    r = rt.run_to_end("run", "-w", "nope", "--", *rt.rec("true"))
    assert r.returncode == 1
    assert r.stderr.decode() == "vigil: nope: No such file or directory\n"
    assert rt.runs() == 0


def test_command_not_found_exits_127(rt):
    r = rt.run_to_end("run", "--", "no-such-command-vigil")
    assert r.returncode == 127, r
    assert "no-such-command-vigil: command not found" in r.stderr.decode()


def test_command_not_executable_exits_126(rt):
    script = rt.out / "noexec"
    script.write_text("#!/bin/sh\n")
    os.chmod(script, 0o644)
    r = rt.run_to_end("run", "--", str(script))
    assert r.returncode == 126, r
    assert "Permission denied" in r.stderr.decode()


def test_help(rt):
    r = rt.run_to_end("run", "--help")
    assert r.returncode == 0
    out = r.stdout.decode()
    for opt in ("--watch", "--shell", "--postpone", "--on-busy", "--restart",
                "--signal", "--stop-signal", "--grace", "--debounce", "--ext",
                "--exclude", "--events", "--no-ignore-files", "--clear",
                "--once", "--exit-on-change", "--quiet", "--backend"):
        assert opt in out, opt
    r = rt.run_to_end("--help")
    assert b"run" in r.stdout


def test_once_exits_with_the_status_of_a_finished_command(rt):
    v = rt.start("--once", "--", *rt.rec("sh", "-c", "exit 3"))
    rt.wait_run(1)
    v.wait_stderr(lambda l: b"exited 3" in l)
    assert v.running()
    (rt.w / "a").write_text("")
    assert v.wait_exit() == 3
    assert rt.runs() == 1


def test_once_stops_a_running_command_and_exits_128_plus_signal(rt):
    v = rt.start("--once", "--", *rt.rec("sleep", "1000"))
    rt.wait_run(1)
    pid = rt.pid(1)
    (rt.w / "a").write_text("")
    assert v.wait_exit() == 128 + signal.SIGTERM
    assert not runtest.exists(pid)
    assert rt.runs() == 1


def test_once_with_a_command_that_handles_TERM(rt):
    cmd = rt.rec("sh", "-c",
                 "trap 'exit 5' TERM; %swhile :; do sleep 0.02; done" % ARMED)
    v = rt.start("--once", "--", *cmd)
    rt.wait_armed(1)
    (rt.w / "a").write_text("")
    assert v.wait_exit() == 5


def test_once_killed_after_grace_exits_137(rt):
    cmd = rt.rec("sh", "-c", "trap '' TERM; %swhile :; do sleep 0.02; done" % ARMED)
    v = rt.start("--once", "--grace", "100ms", "--", *cmd)
    rt.wait_armed(1)
    (rt.w / "a").write_text("")
    assert v.wait_exit() == 128 + signal.SIGKILL


def test_once_then_sigterm_exits_0(rt):
    v = rt.start("--once", "--", *rt.rec("sleep", "1000"))
    rt.wait_run(1)
    v.send(signal.SIGTERM)
    assert v.wait_exit() == 0


def test_exit_on_change_after_the_command_finished(rt):
    v = rt.start("--exit-on-change", "--", *rt.rec("sh", "-c", "exit 4"))
    rt.wait_run(1)
    v.wait_stderr(lambda l: b"exited 4" in l)
    (rt.w / "a").write_text("")
    assert v.wait_exit() == 4
    assert rt.runs() == 1


def test_exit_on_change_with_a_signalled_command(rt):
    v = rt.start("--exit-on-change", "--", "sh", "-c", "kill -USR1 $$")
    v.wait_stderr(lambda l: b"killed by SIGUSR1" in l)
    (rt.w / "a").write_text("")
    assert v.wait_exit() == 128 + signal.SIGUSR1


def test_exit_on_change_while_running_restarts_first(rt):
    go = rt.out / "go"
    cmd = rt.rec("sh", "-c",
                 'while [ ! -e "$0" ]; do sleep 0.01; done; exit 6', str(go))
    v = rt.start("--exit-on-change", "-r", "--", *cmd)
    rt.wait_run(1)
    (rt.w / "a").write_text("")
    rt.wait_run(2)
    go.write_text("")
    v.wait_stderr(lambda l: b"exited 6" in l)
    (rt.w / "b").write_text("")
    assert v.wait_exit() == 6
    assert rt.runs() == 2


def test_a_command_that_disappears_later_is_reported(rt):
    script = rt.out / "prog"
    script.write_text("#!/bin/sh\necho ran >> %s\n" % (rt.out / "ran"))
    os.chmod(script, 0o755)
    v = rt.start("--", str(script))
    wait_until(lambda: (rt.out / "ran").exists(), what="the first run")
    os.unlink(script)
    (rt.w / "a").write_text("")
    v.wait_stderr(lambda l: l.endswith(b"prog: command not found"))
    assert v.running()
    rt.stop(v)


# -- what counts as a change -------------------------------------------------

def test_ext_filters_by_extension(rt):
    (rt.w / "src").mkdir()
    v = rt.start("-e", "c,.h", "--", *rt.rec("true"))
    rt.wait_run(1)
    (rt.w / "notes.txt").write_text("")
    (rt.w / "newdir").mkdir()
    (rt.w / "src" / "c").write_text("")      # named c, no extension
    (rt.w / "src" / "x.c").write_text("")
    (rt.w / "y.h").write_text("")
    r2 = rt.wait_run(2)
    assert sorted(r2.changed.split("\n")) == ["src/x.c", "y.h"]
    rt.stop(v)


def test_ext_counts_a_rename_by_either_name(rt):
    (rt.w / "a.c").write_text("")
    v = rt.start("-r", "--ext", "c", "--", *rt.rec("sleep", "1000"))
    rt.wait_run(1)
    os.rename(rt.w / "a.c", rt.w / "a.bak")
    assert rt.wait_run(2).changed == "a.c"
    rt.stop(v)


def test_ext_counts_a_moved_directory(rt):
    (rt.w / "d").mkdir()
    (rt.w / "d" / "x.c").write_text("")
    v = rt.start("-r", "--ext", "c", "--", *rt.rec("sleep", "1000"))
    rt.wait_run(1)
    os.rename(rt.w / "d", rt.w / "e")
    assert sorted(rt.wait_run(2).changed.split("\n")) == ["d", "e"]
    rt.stop(v)


def test_events_option(rt):
    (rt.w / "old").write_text("")
    v = rt.start("-r", "--events", "removed", "--", *rt.rec("sleep", "1000"))
    rt.wait_run(1)
    (rt.w / "new").write_text("")       # created, closed: do not count
    os.unlink(rt.w / "old")
    r2 = rt.wait_run(2)
    assert r2.changed == "old" and r2.events == "removed"
    rt.stop(v)


def test_exclude_option(rt):
    (rt.w / "build").mkdir()
    v = rt.start("-r", "--exclude", "/build", "--exclude", "*.o", "--",
                 *rt.rec("sleep", "1000"))
    rt.wait_run(1)
    (rt.w / "build" / "out").write_text("")
    (rt.w / "x.o").write_text("")
    (rt.w / "x.c").write_text("")
    assert rt.wait_run(2).changed == "x.c"
    rt.stop(v)


def test_git_dir_never_counts(rt):
    rt.git_init(rt.w)
    v = rt.start("-r", "--no-ignore-files", "--", *rt.rec("sleep", "1000"))
    rt.wait_run(1)
    (rt.w / ".git" / "index").write_text("x")
    (rt.w / ".git" / "refs" / "new").write_text("x")
    (rt.w / "x").write_text("")
    assert rt.wait_run(2).changed == "x"
    rt.stop(v)


# -- ignore files ---------------------------------------------------------------

def test_gitignore_is_honoured(rt):
    rt.git_init(rt.w)
    (rt.w / ".gitignore").write_text("ignored/\n*.log\n!keep.log\n")
    (rt.w / "ignored").mkdir()
    (rt.w / "sub").mkdir()
    (rt.w / "sub" / ".gitignore").write_text("/gen\n")
    (rt.w / "sub" / "gen").mkdir()
    (rt.w / "gen").mkdir()
    v = rt.start("-r", "--", *rt.rec("sleep", "1000"))
    rt.wait_run(1)
    (rt.w / "ignored" / "x").write_text("")
    (rt.w / "a.log").write_text("")
    (rt.w / "sub" / "gen" / "y").write_text("")
    (rt.w / "sub" / "b.log").write_text("")
    (rt.w / "keep.log").write_text("")
    (rt.w / "gen" / "z").write_text("")
    r2 = rt.wait_run(2)
    assert sorted(r2.changed.split("\n")) == ["gen/z", "keep.log"]
    rt.stop(v)


def test_exclude_has_the_last_word_over_gitignore(rt):
    # As git's command line over its .gitignore files (git ls-files -o
    # --exclude=... --exclude-per-directory=.gitignore): a "!" line of a
    # .gitignore does not bring back what --exclude leaves out, and a "!"
    # pattern of --exclude brings back what a .gitignore leaves out.
    rt.git_init(rt.w)
    (rt.w / ".gitignore").write_text("!keep.log\n*.tmp\n")
    (rt.w / "sub").mkdir()
    (rt.w / "sub" / ".gitignore").write_text("!deep.log\n")
    v = rt.start("-r", "--exclude", "*.log", "--exclude", "!want.tmp", "--",
                 *rt.rec("sleep", "1000"))
    rt.wait_run(1)
    for p in ("keep.log", "sub/deep.log", "a.tmp", "want.tmp", "x"):
        (rt.w / p).write_text("")
    assert sorted(rt.wait_run(2).changed.split("\n")) == ["want.tmp", "x"]
    rt.stop(v)


def test_gitignore_whitelist_does_not_bring_back_git_dir(rt):
    rt.git_init(rt.w)
    (rt.w / ".gitignore").write_text("*\n!*/\n!*.c\n")
    v = rt.start("-r", "--", *rt.rec("sleep", "1000"))
    rt.wait_run(1)
    (rt.w / ".git" / "index").write_text("x")
    (rt.w / "notes.txt").write_text("")
    (rt.w / "a.c").write_text("")
    assert rt.wait_run(2).changed == "a.c"
    rt.stop(v)


def test_ignored_directories_hold_no_kernel_watch(rt):
    rt.git_init(rt.w)
    (rt.w / ".gitignore").write_text("node_modules/\n")
    for i in range(10):
        (rt.w / "node_modules" / ("p%d" % i) / "lib").mkdir(parents=True)
    (rt.w / "src").mkdir()

    def count(*opts):
        v = rt.start(*opts, "--", *rt.rec("sleep", "1000"))
        n = runtest.inotify_watches(v.pid)
        ready = v.stderr_lines[0].decode()
        rt.stop(v)
        return n, ready

    with_ignore, ready1 = count()
    without, ready2 = count("--no-ignore-files")
    # root and src; then node_modules, its 10 packages and their 10 libs.
    assert with_ignore == 2, (with_ignore, ready1)
    assert without == 2 + 21, (without, ready2)
    assert ready1 == "vigil: ready, watching 2 directories"
    assert ready2 == "vigil: ready, watching 23 directories"


def test_git_dir_holds_no_kernel_watch(rt):
    rt.git_init(rt.w)
    v = rt.start("--no-ignore-files", "--", *rt.rec("true"))
    assert runtest.inotify_watches(v.pid) == 1
    rt.stop(v)


def test_info_exclude_and_parent_gitignore_below_the_top(rt):
    # The watched path is a directory below the top of the repository:
    # patterns of the files above it are translated to it.
    top = rt.w
    rt.git_init(top)
    (top / ".git" / "info").mkdir(exist_ok=True)
    (top / ".git" / "info" / "exclude").write_text("/app/tmp/\n")
    (top / ".gitignore").write_text("/app/build\n**/cache/\n/other\n")
    app = top / "app"
    for d in ("tmp", "build", "src/cache", "other", "src"):
        (app / d).mkdir(parents=True, exist_ok=True)
    v = rt.start("-r", "-w", str(app), "--", *rt.rec("sleep", "1000"))
    rt.wait_run(1)
    assert runtest.inotify_watches(v.pid) == 3   # app, app/src, app/other
    (app / "tmp" / "a").write_text("")
    (app / "build" / "b").write_text("")
    (app / "src" / "cache" / "c").write_text("")
    (app / "other" / "d").write_text("")
    (app / "src" / "e").write_text("")
    assert sorted(rt.wait_run(2).changed.split("\n")) == ["other/d", "src/e"]
    rt.stop(v)


def test_patterns_from_above_are_translated(rt):
    # Globs and "**" in anchored patterns of files above the watched path.
    top = rt.w
    rt.git_init(top)
    (top / ".git" / "info" / "exclude").write_text(
        "app/*/gen/\n**/app/logs\nap?/src/**/*.tmp\n")
    (top / ".gitignore").write_text("*.o\n!/app/keep.o\n/app/**/deep/\n")
    app = top / "app"
    for d in ("src/gen", "src/x/y", "logs", "a/b/deep", "deep", "src/logs"):
        (app / d).mkdir(parents=True, exist_ok=True)
    v = rt.start("-r", "-w", "app", "--", *rt.rec("sleep", "1000"))
    rt.wait_run(1)
    ignored = ["src/gen/a", "logs/b", "src/x/y/c.tmp", "d.o", "a/b/deep/e",
               "deep/f"]
    counted = ["keep.o", "src/logs/g", "src/x/y/h", "i.tmp"]
    for p in ignored + counted:
        (app / p).write_text("")
    assert sorted(rt.wait_run(2).changed.split("\n")) == sorted(counted)
    rt.stop(v)


def test_a_watched_path_inside_an_ignored_directory_is_watched(rt):
    rt.git_init(rt.w)
    (rt.w / ".gitignore").write_text("build/\n")
    (rt.w / "build" / "out").mkdir(parents=True)
    v = rt.start("-r", "-w", str(rt.w / "build"), "--", *rt.rec("sleep", "1000"))
    rt.wait_run(1)
    (rt.w / "build" / "out" / "x").write_text("")
    assert rt.wait_run(2).changed == "out/x"
    rt.stop(v)


def test_global_excludes_file(rt):
    rt.git_init(rt.w)
    xdg_ignore = rt.xdg / "git" / "ignore"
    xdg_ignore.parent.mkdir(parents=True)
    xdg_ignore.write_text("*.swp\n")
    v = rt.start("-r", "--", *rt.rec("sleep", "1000"))
    rt.wait_run(1)
    (rt.w / "a.swp").write_text("")
    (rt.w / "a").write_text("")
    assert rt.wait_run(2).changed == "a"
    rt.stop(v)


def test_core_excludesfile_from_gitconfig(rt):
    rt.git_init(rt.w)
    (rt.home / ".gitconfig").write_text(
        '[user]\n\tname = x\n[core]\n\texcludesFile = "~/my ignore" ; comment\n')
    (rt.home / "my ignore").write_text("*.tmp\n")
    # The default file is not read when core.excludesFile names another.
    (rt.xdg / "git").mkdir(parents=True)
    (rt.xdg / "git" / "ignore").write_text("*.swp\n")
    v = rt.start("-r", "--", *rt.rec("sleep", "1000"))
    rt.wait_run(1)
    (rt.w / "a.tmp").write_text("")
    (rt.w / "b.swp").write_text("")
    assert rt.wait_run(2).changed == "b.swp"
    rt.stop(v)


def test_no_ignore_files(rt):
    rt.git_init(rt.w)
    (rt.w / ".gitignore").write_text("*.log\n")
    v = rt.start("-r", "--no-ignore-files", "--", *rt.rec("sleep", "1000"))
    rt.wait_run(1)
    (rt.w / "a.log").write_text("")
    assert rt.wait_run(2).changed == "a.log"
    rt.stop(v)


def test_a_malformed_line_in_an_ignore_file_is_skipped(rt):
    rt.git_init(rt.w)
    (rt.w / ".git" / "info").mkdir(exist_ok=True)
    (rt.w / ".git" / "info" / "exclude").write_text("[oops\n*.log\n")
    v = rt.start("-r", "--", *rt.rec("sleep", "1000"))
    rt.wait_run(1)
    (rt.w / "a.log").write_text("")
    (rt.w / "b").write_text("")
    assert rt.wait_run(2).changed == "b"
    rt.stop(v)


def test_a_pattern_added_to_gitignore_stops_restarts_at_once(rt):
    # A build that writes into dist/ restarts the command until dist/ is
    # ignored; from the edit of .gitignore on, it must not.
    rt.git_init(rt.w)
    (rt.w / ".gitignore").write_text("*.log\n")
    (rt.w / "dist").mkdir()
    v = rt.start("-r", "--", *rt.rec("sleep", "1000"))
    rt.wait_run(1)
    (rt.w / "dist" / "app.js").write_text("1")
    assert rt.wait_run(2).changed == "dist/app.js"
    with open(rt.w / ".gitignore", "a") as f:
        f.write("dist/\n")
    # The edit itself is a change; dist/ leaves the watched tree with it.
    r3 = rt.wait_run(3)
    assert sorted(r3.changed.split("\n")) == [".gitignore", "dist", "dist/app.js"]
    assert runtest.inotify_watches(v.pid) == 1
    (rt.w / "dist" / "app.js").write_text("2")
    (rt.w / "dist" / "assets").mkdir()
    (rt.w / "main.c").write_text("")
    assert rt.wait_run(4).changed == "main.c"
    # Taking the pattern out brings dist/ back, watched.
    (rt.w / ".gitignore").write_text("*.log\n")
    r5 = rt.wait_run(5)
    assert sorted(r5.changed.split("\n")) == [".gitignore", "dist", "dist/app.js", "dist/assets"]
    (rt.w / "dist" / "assets" / "x.css").write_text("")
    assert rt.wait_run(6).changed == "dist/assets/x.css"
    rt.stop(v)


def test_a_nested_gitignore_saved_by_rename_applies_at_once(rt):
    # Editors save by writing a temporary file and renaming it over the
    # old one; a nested .gitignore saved that way applies below its
    # directory at once, and deleting it brings the paths back.
    rt.git_init(rt.w)
    (rt.w / "sub" / "gen").mkdir(parents=True)
    (rt.w / "gen").mkdir()
    v = rt.start("-r", "--", *rt.rec("sleep", "1000"))
    rt.wait_run(1)
    (rt.w / "sub" / ".gitignore.tmp").write_text("/gen/\n")
    os.rename(rt.w / "sub" / ".gitignore.tmp", rt.w / "sub" / ".gitignore")
    r2 = rt.wait_run(2)
    assert "sub/gen" in r2.changed.split("\n"), r2.changed
    (rt.w / "sub" / "gen" / "x.o").write_text("")
    (rt.w / "gen" / "y.o").write_text("")
    assert rt.wait_run(3).changed == "gen/y.o"
    os.unlink(rt.w / "sub" / ".gitignore")
    r4 = rt.wait_run(4)
    assert sorted(r4.changed.split("\n")) == ["sub/.gitignore", "sub/gen", "sub/gen/x.o"]
    (rt.w / "sub" / "gen" / "z.o").write_text("")
    assert rt.wait_run(5).changed == "sub/gen/z.o"
    rt.stop(v)


# -- git's order of precedence, checked against git itself -------------------
#
# git ranks its sources, highest first: the command line (vigil's
# --exclude), the .gitignore files from the deepest up (those inside the
# watched path, then those above it), .git/info/exclude, the global
# excludes file. Within one, the last matching line wins, and nothing
# below an excluded directory comes back. Each test writes files into a
# real repository and compares what vigil counts with what `git ls-files
# --others --exclude-standard` lists.

def counted_like_git(rt, path, files, excludes=()):
    """Starts vigil run on path (with each of excludes as --exclude),
    writes files (relative to path, their directories made before), and
    checks that the run they start lists exactly those git does not
    ignore. Returns git's list."""
    for f in files:
        (path / f).parent.mkdir(parents=True, exist_ok=True)
    args = ["-r", "-w", str(path)]
    for e in excludes:
        args += ["--exclude", e]
    v = rt.start(*args, "--", *rt.rec("sleep", "1000"))
    rt.wait_run(1)
    for f in files:
        (path / f).write_text("")
    want = rt.git_counted(path, files, excludes)
    assert sorted(rt.wait_run(2).changed.split("\n")) == want
    rt.stop(v)
    return want


@pytest.mark.parametrize("where", ["info/exclude", "global", "above"])
def test_a_nested_gitignore_brings_back_what_git_files_outside_leave_out(rt, where):
    top = rt.w
    rt.git_repo(top)
    app = top / "app"
    outside = "*.o\n/app/gen/\nlogs/\n/app/out/\n*.log\n"
    if where == "info/exclude":
        (top / ".git" / "info").mkdir(exist_ok=True)
        (top / ".git" / "info" / "exclude").write_text(outside)
    elif where == "global":
        (rt.xdg / "git").mkdir(parents=True)
        (rt.xdg / "git" / "ignore").write_text(outside)
    else:
        (top / ".gitignore").write_text(outside)
    (app / "sub").mkdir(parents=True)
    (app / ".gitignore").write_text("!keep.o\n!/gen/\n!out/x.c\n")
    (app / "sub" / ".gitignore").write_text("!deep.o\n!logs/\n")
    want = counted_like_git(rt, app, [
        "a.o", "keep.o", "gen/g.c", "gen/h.o", "out/x.c", "sub/deep.o",
        "sub/logs/l.c", "logs/m.c", "b.log", "plain.c"])
    # What the layout is for: brought back by a "!" line inside, and not
    # below a directory that stays left out.
    assert {"keep.o", "gen/g.c", "sub/deep.o", "sub/logs/l.c"} <= set(want)
    assert "out/x.c" not in want and "gen/h.o" not in want


def test_git_files_outside_rank_among_themselves_as_in_git(rt):
    # A .gitignore above the watched path over info/exclude, over the
    # global file; the last matching line of one file over its others.
    top = rt.w
    rt.git_repo(top)
    (rt.xdg / "git").mkdir(parents=True)
    (rt.xdg / "git" / "ignore").write_text("*.md\n!*.csv\n*.txt\n")
    (top / ".git" / "info" / "exclude").write_text("!keep.md\n*.csv\n!*.txt\n")
    (top / ".gitignore").write_text("!*.csv\n*.txt\n!a.txt\n")
    (top / "app").mkdir()
    want = counted_like_git(rt, top / "app", [
        "x.md", "keep.md", "x.csv", "x.txt", "a.txt", "plain.c"])
    assert {"keep.md", "x.csv", "a.txt"} <= set(want)


def test_exclude_still_beats_every_git_file(rt):
    # --exclude over a "!" line of a .gitignore; a "!" pattern of
    # --exclude over info/exclude, the global file and .gitignore; and
    # not below a directory that info/exclude leaves out.
    top = rt.w
    rt.git_repo(top)
    (top / ".git" / "info" / "exclude").write_text("*.o\n*.tmp\ngen/\n")
    (rt.xdg / "git").mkdir(parents=True)
    (rt.xdg / "git" / "ignore").write_text("*.bak\n")
    (top / ".gitignore").write_text("!keep.o\n!top.o\n*.log\n")
    excludes = ["top.o", "!want.tmp", "!want.bak", "!want.log", "!gen/x"]
    want = counted_like_git(rt, top, [
        "a.o", "keep.o", "top.o", "x.tmp", "want.tmp", "x.bak", "want.bak",
        "a.log", "want.log", "gen/x", "plain.c"], excludes)
    assert {"keep.o", "want.tmp", "want.bak", "want.log"} <= set(want)
    assert "top.o" not in want and "gen/x" not in want


def test_a_gitignore_edited_later_brings_back_what_info_exclude_leaves_out(rt):
    # The new "!" line takes effect at once: the directory info/exclude
    # left out is listed, watched and counted, as git would count it.
    top = rt.w
    rt.git_repo(top)
    (top / ".git" / "info" / "exclude").write_text("gen/\n*.o\n")
    (top / "gen").mkdir()
    (top / "gen" / "old.c").write_text("")
    v = rt.start("-r", "--", *rt.rec("sleep", "1000"))
    rt.wait_run(1)
    (top / ".gitignore").write_text("!gen/\n")
    assert sorted(rt.wait_run(2).changed.split("\n")) == [".gitignore", "gen", "gen/old.c"]
    assert rt.git_counted(top, ["gen/old.c"]) == ["gen/old.c"]
    assert runtest.inotify_watches(v.pid) == 2
    files = ["gen/new.c", "gen/new.o", "plain.c"]
    for f in files:
        (top / f).write_text("")
    assert sorted(rt.wait_run(3).changed.split("\n")) == rt.git_counted(top, files)
    rt.stop(v)

# -- watched paths that go away -----------------------------------------------

def test_a_watched_directory_that_comes_back(rt):
    sub = rt.w / "sub"
    sub.mkdir()
    v = rt.start("-r", "-w", "sub", "--", *rt.rec("sleep", "1000"))
    rt.wait_run(1)
    os.rmdir(sub)
    v.wait_stderr(lambda l: l == b"vigil: sub: gone; watching for it to come back")
    r2 = rt.wait_run(2)
    assert r2.changed == "." and r2.events == "removed"
    sub.mkdir()
    v.wait_stderr(lambda l: l == b"vigil: sub: back; watching it again")
    r3 = rt.wait_run(3)
    assert r3.changed == "." and r3.events == "created"
    (sub / "x").write_text("")
    assert rt.wait_run(4).changed == "x"
    rt.stop(v)


def test_a_watched_file_saved_by_renaming_it_away(rt):
    # How vim saves by default: the file is renamed to a backup, a new one
    # is written under the name, and the backup is removed.
    f = rt.w / "conf.txt"
    f.write_text("1")
    v = rt.start("-r", "-w", "conf.txt", "--debounce", "300ms", "--",
                 *rt.rec("sleep", "1000"))
    rt.wait_run(1)
    os.rename(f, rt.w / "conf.txt~")
    f.write_text("2")
    os.unlink(rt.w / "conf.txt~")
    r2 = rt.wait_run(2)
    assert r2.changed == "conf.txt"
    assert "removed" not in r2.events.split(","), r2.events
    f.write_text("3")
    assert rt.wait_run(3).changed == "conf.txt"
    rt.stop(v)


# -- several watched paths ----------------------------------------------------

def inotify_instances(pid):
    """How many inotify instances the process pid holds."""
    n = 0
    d = "/proc/%d/fd" % pid
    for fd in os.listdir(d):
        try:
            n += os.readlink(os.path.join(d, fd)) == "anon_inode:inotify"
        except OSError:
            pass
    return n


def test_several_watched_paths_hold_one_inotify_instance(rt):
    for d in ("a", "b", "c/d"):
        (rt.w / d).mkdir(parents=True)
    (rt.w / "f.txt").write_text("")
    v = rt.start("-r", "-w", "a", "-w", "b/", "-w", "c", "-w", "f.txt", "--",
                 *rt.rec("sleep", "1000"))
    rt.wait_run(1)
    assert inotify_instances(v.pid) == 1
    # a, b, c, c/d, and f.txt's directory (w).
    assert runtest.inotify_watches(v.pid) == 5
    assert v.stderr_lines[0] == b"vigil: ready, watching 5 directories"
    (rt.w / "c" / "d" / "x").write_text("")
    (rt.w / "f.txt").write_text("more")
    assert sorted(rt.wait_run(2).changed.split("\n")) == ["d/x", "f.txt"]
    rt.stop(v)


def test_more_watched_paths_than_the_instance_limit(rt):
    # fs.inotify.max_user_instances is 128 by default: one instance per
    # path would run out of them.
    names = ["d%03d" % i for i in range(130)]
    args = []
    for n in names:
        (rt.w / n).mkdir()
        args += ["-w", n]
    v = rt.start("-r", *args, "--", *rt.rec("sleep", "1000"))
    rt.wait_run(1)
    assert inotify_instances(v.pid) == 1
    assert v.stderr_lines[0] == b"vigil: ready, watching 130 directories"
    (rt.w / names[0] / "x").write_text("")
    (rt.w / names[-1] / "y").write_text("")
    assert sorted(rt.wait_run(2).changed.split("\n")) == ["x", "y"]
    rt.stop(v)


def test_several_watched_paths_with_one_instance_allowed(rt, vigil_bin):
    # A user namespace that allows one inotify instance: every path fits.
    why = vigiltest.userns_limit_refused("max_inotify_instances", 1)
    if why:
        pytest.skip(why)
    for d in ("a", "b", "c"):
        (rt.w / d).mkdir()
    v = rt._start("run", "-r", "-w", "a", "-w", "b", "-w", "c", "--",
                  *rt.rec("sleep", "1000"), cwd=str(rt.w), env=rt.env,
                  wrapper=vigiltest.in_userns_with_limit("max_inotify_instances", 1))
    v.wait_ready()
    rt.wait_run(1)
    (rt.w / "b" / "x").write_text("")
    assert rt.wait_run(2).changed == "x"
    rt.stop(v)


def test_each_watched_path_has_its_own_excludes_and_ignore_files(rt):
    # One repository; a/ and b/ inside it. The top's .gitignore names
    # a/build (translated to a's /build, not b's), a's own .gitignore
    # leaves out *.log below a only, and --exclude /gen is anchored at
    # each watched path.
    top = rt.w
    rt.git_init(top)
    (top / ".gitignore").write_text("/a/build/\n")
    for d in ("a/build", "a/gen", "a/sub/gen", "b/build", "b/gen"):
        (top / d).mkdir(parents=True)
    (top / "a" / ".gitignore").write_text("*.log\n")
    v = rt.start("-r", "-w", "a", "-w", "b", "--exclude", "/gen", "--",
                 *rt.rec("sleep", "1000"))
    rt.wait_run(1)
    # a, a/sub, a/sub/gen, b, b/build: not a/build, a/gen or b/gen.
    assert runtest.inotify_watches(v.pid) == 5
    for p in ("a/build/1", "a/gen/2", "a/3.log", "a/sub/gen/4", "b/build/5",
              "b/gen/6", "b/7.log"):
        (top / p).write_text("")
    assert sorted(rt.wait_run(2).changed.split("\n")) == ["7.log", "build/5", "sub/gen/4"]
    rt.stop(v)


def test_nested_watched_paths_list_a_change_once(rt):
    (rt.w / "src" / "lib").mkdir(parents=True)
    v = rt.start("-r", "-w", "src/lib", "-w", "src", "--", *rt.rec("sleep", "1000"))
    rt.wait_run(1)
    assert inotify_instances(v.pid) == 1
    (rt.w / "src" / "lib" / "x.c").write_text("")
    (rt.w / "src" / "y.c").write_text("")
    r2 = rt.wait_run(2)
    assert sorted(r2.changed.split("\n")) == ["lib/x.c", "y.c"]
    rt.stop(v)


def test_one_watched_path_gone_and_back_while_the_others_go_on(rt):
    (rt.w / "a").mkdir()
    (rt.w / "b").mkdir()
    v = rt.start("-r", "-w", "a", "-w", "b", "--", *rt.rec("sleep", "1000"))
    rt.wait_run(1)
    os.rmdir(rt.w / "b")
    v.wait_stderr(lambda l: l == b"vigil: b: gone; watching for it to come back")
    r2 = rt.wait_run(2)
    assert r2.changed == "." and r2.events == "removed"
    (rt.w / "a" / "x").write_text("")
    assert rt.wait_run(3).changed == "x"
    (rt.w / "b").mkdir()
    v.wait_stderr(lambda l: l == b"vigil: b: back; watching it again")
    assert rt.wait_run(4).changed == "."
    (rt.w / "b" / "y").write_text("")
    assert rt.wait_run(5).changed == "y"
    assert inotify_instances(v.pid) == 1
    rt.stop(v)


# -- VIGIL_CHANGED and VIGIL_EVENTS -------------------------------------------

def test_vigil_changed_paths(rt):
    (rt.w / "d").mkdir()
    (rt.w / "gone").write_text("")
    (rt.w / "old").write_text("")
    v = rt.start("-r", "--", *rt.rec("sleep", "1000"))
    rt.wait_run(1)
    (rt.w / "d" / "e").mkdir()
    (rt.w / "d" / "e" / "new file").write_text("x")
    os.unlink(rt.w / "gone")
    os.rename(rt.w / "old", rt.w / "d" / "moved")
    (rt.w / "temp").write_text("")      # created and removed: not listed
    os.unlink(rt.w / "temp")
    r2 = rt.wait_run(2)
    assert sorted(r2.changed.split("\n")) == [
        "d/e", "d/e/new file", "d/moved", "gone", "old"]
    kinds = r2.events.split(",")
    assert len(kinds) == len(set(kinds))
    assert {"created", "removed", "moved"} <= set(kinds)
    rt.stop(v)


def test_vigil_changed_is_relative_to_each_watched_path(rt):
    (rt.w / "a").mkdir()
    (rt.w / "b").mkdir()
    (rt.w / "f.txt").write_text("")
    v = rt.start("-r", "-w", "a/", "-w", "./b", "-w", "f.txt", "--",
                 *rt.rec("sleep", "1000"))
    rt.wait_run(1)
    (rt.w / "a" / "x").write_text("")
    (rt.w / "b" / "y").write_text("")
    (rt.w / "f.txt").write_text("more")
    (rt.w / "outside").write_text("")
    assert sorted(rt.wait_run(2).changed.split("\n")) == ["f.txt", "x", "y"]
    rt.stop(v)


def test_vigil_changed_is_capped(rt):
    v = rt.start("-r", "--debounce", "3s", "--", *rt.rec("sleep", "1000"))
    rt.wait_run(1)
    names = ["%04d-%s" % (i, "n" * 90) for i in range(1000)]  # ~95 KiB
    # One process makes them all, well within the debounce.
    subprocess.run(["touch", *names], cwd=str(rt.w), check=True)
    r2 = rt.wait_run(2)
    lines = r2.changed.split("\n")
    assert len(r2.changed.encode()) <= 64 * 1024
    assert lines[-1] == "..."
    assert len(r2.changed.encode()) > 60 * 1024
    assert set(lines[:-1]) <= set(names)
    rt.stop(v)


def test_vigil_changed_from_the_outer_environment_is_replaced(rt):
    env = dict(rt.env, VIGIL_CHANGED="stale", VIGIL_EVENTS="stale")
    v = rt.start("--", *rt.rec("true"), env=env)
    r1 = rt.wait_run(1)
    assert r1.changed == "" and r1.events == ""
    rt.stop(v)


# -- processes left behind ------------------------------------------------------

def test_no_zombies_and_no_survivors(rt):
    # Orphans (the command exits, its child later) are reaped by vigil.
    cmd = rt.rec("sh", "-c",
                 '(sleep 0.2; echo done > "$REC_OUT/orphan") & '
                 'sleep 100 & echo $! >> "$REC_OUT/group.$REC_N"; '
                 'sh -c "sleep 100" & echo $! >> "$REC_OUT/group.$REC_N"; exit 0')
    v = rt.start("--", *cmd)
    rt.wait_run(1)
    wait_until(lambda: (rt.out / "orphan").exists(), what="the orphan")
    wait_until(lambda: runtest.zombies_of(v.pid) == [],
               what="vigil to reap the orphan")
    pgid = rt.pid(1)
    assert runtest.group_members(pgid)
    v.send(signal.SIGTERM)
    assert v.wait_exit() == 0
    assert runtest.group_members(pgid) == []
    assert runtest.children_of(v.pid) == []
    for p in rt.group(1):
        assert not runtest.exists(p)


# A daemon: a process in a session (and group) of its own whose parent has
# exited, so that vigil (a subreaper) inherits it. It writes its pid to
# daemon.N and adds it to group.N, so that run N+1 records, as it starts,
# whether it is still alive. Its own child (a worker in its group) is
# recorded the same way. BODY is what the daemon runs.
def _daemon(body, then="wait"):
    inner = ('echo $$ > "$REC_OUT/daemon.$REC_N.tmp"; '
             'echo $$ >> "$REC_OUT/group.$REC_N"; '
             'sleep 1000 & echo $! >> "$REC_OUT/group.$REC_N"; '
             'mv "$REC_OUT/daemon.$REC_N.tmp" "$REC_OUT/daemon.$REC_N"; ' + body)
    # setsid, from a background child (not a group leader), makes the new
    # session without forking; the shell that started it then exits.
    return "(setsid sh -c '%s' &); %s" % (inner.replace("'", "'\\''"), then)


def _wait_daemon(rt, n):
    p = rt.out / ("daemon.%d" % n)
    wait_until(p.exists, what="run %d's daemon" % n)
    pid = int(p.read_text())
    wait_until(lambda: len(rt.group(n)) == 3, what="the daemon's worker")
    worker = rt.group(n)[-1]
    # What this is about: neither is in the command's group any more.
    assert os.getpgid(pid) == pid != rt.pid(n)
    assert os.getpgid(worker) == pid
    return pid, worker


def test_a_daemon_the_command_started_is_stopped_when_vigil_exits(rt):
    cmd = rt.rec("sh", "-c", _daemon("wait", then="exit 0"))
    v = rt.start("--", *cmd)
    rt.wait_run(1)
    daemon, worker = _wait_daemon(rt, 1)
    v.wait_stderr(lambda l: l.startswith(b"vigil: [sh exited 0"))
    assert runtest.exists(daemon) and runtest.exists(worker)
    v.send(signal.SIGTERM)
    assert v.wait_exit() == 0, v.describe()
    # Gone, and reaped: a zombie would still be in /proc.
    assert not runtest.exists(daemon) and not runtest.exists(worker)
    assert runtest.children_of(v.pid) == []


@pytest.mark.parametrize("mode", [[], ["-r"]])
def test_a_daemon_is_stopped_before_the_next_run(rt, mode):
    # The command keeps running (restart stops it) or exits at once (the
    # next run waits for what it left).
    cmd = rt.rec("sh", "-c", _daemon("wait", then="sleep 1000" if mode
                                     else "exit 0"))
    v = rt.start(*mode, "--", *cmd)
    rt.wait_run(1)
    daemon, worker = _wait_daemon(rt, 1)
    (rt.w / "a").write_text("")
    r2 = rt.wait_run(2)
    assert r2.check[daemon] == "dead" and r2.check[worker] == "dead", r2.check
    daemon2, worker2 = _wait_daemon(rt, 2)
    rt.stop(v)
    for p in (daemon, worker, daemon2, worker2):
        assert not runtest.exists(p)


def test_a_daemon_ignoring_TERM_is_killed_after_the_grace(rt):
    cmd = rt.rec("sh", "-c",
                 _daemon("trap \"\" TERM; " + ARMED +
                         "while :; do sleep 0.02; done"), "exit 0")
    v = rt.start("--grace", "300ms", "--", *cmd)
    rt.wait_armed(1)
    daemon, worker = _wait_daemon(rt, 1)
    v.wait_stderr(lambda l: l.startswith(b"vigil: [sh exited 0"))
    t0 = time.monotonic()
    v.send(signal.SIGTERM)
    assert v.wait_exit() == 0, v.describe()
    took = time.monotonic() - t0
    assert 0.28 <= took < scaled(2.0), took
    assert not runtest.exists(daemon) and not runtest.exists(worker)
    assert ("[sh: what was left of it killed by SIGKILL after 300ms grace]"
            in v.stderr_text()), v.stderr_text()


# The command's answer to TERM: a daemon (setsid, from a background child,
# execs sleep without forking, so $! is its pid), recorded before it exits
# (in group.N too, for the clean-up of a failed test).
LATE_DAEMON = r"""
trap 'setsid sleep 1000 & echo $! > "$REC_OUT/late"; echo $! >> "$REC_OUT/group.$REC_N"; exit 0' TERM
: > "$REC_OUT/armed.$REC_N"
while :; do sleep 0.02; done
"""


def test_a_daemon_started_while_stopping_gets_the_stop_signal_too(rt):
    """The command answers TERM by starting a daemon and exiting: the
    daemon, which appeared after the stop signal was sent, gets it too,
    long before the grace runs out."""
    script = rt.out / "late.sh"
    script.write_text(LATE_DAEMON)
    v = rt.start("--grace", "30s", "--", *rt.rec("sh", str(script)))
    rt.wait_armed(1)
    t0 = time.monotonic()
    v.send(signal.SIGTERM)
    assert v.wait_exit() == 0, v.describe()
    took = time.monotonic() - t0
    late = int((rt.out / "late").read_text())
    assert not runtest.exists(late)
    assert took < scaled(5.0), took
    assert "SIGKILL" not in v.stderr_text(), v.stderr_text()


@pytest.mark.parametrize("how,status", [("exit 3", 3),
                                        ("sleep 1000", 128 + signal.SIGTERM)])
def test_a_daemon_does_not_change_the_exit_status(rt, how, status):
    """--once: the status is the command's own, whether it had ended or was
    stopped, not that of a daemon reaped along the way."""
    cmd = rt.rec("sh", "-c", _daemon("wait", then=how))
    v = rt.start("--once", "--", *cmd)
    rt.wait_run(1)
    daemon, worker = _wait_daemon(rt, 1)
    if how.startswith("exit"):
        v.wait_stderr(lambda l: l.startswith(b"vigil: [sh exited 3"))
    (rt.w / "a").write_text("")
    assert v.wait_exit() == status, v.describe()
    assert not runtest.exists(daemon) and not runtest.exists(worker)
    assert rt.runs() == 1


def test_the_command_is_in_its_own_process_group(rt):
    v = rt.start("--", *rt.rec("sleep", "1000"))
    rt.wait_run(1)
    pid = rt.pid(1)
    assert os.getpgid(pid) == pid
    assert os.getpgid(v.pid) != pid
    rt.stop(v)


# -- a terminal ---------------------------------------------------------------------

def _stat_of(path):
    f = runtest.stat_fields(path.read_text())
    return int(f[0]), int(f[4]), int(f[7])   # pid, group, foreground group


def test_with_a_terminal_the_command_is_in_the_foreground(rt):
    cmd = rt.rec("sh", "-c", 'cat /proc/$$/stat > "$REC_OUT/stat.$REC_N"')
    with runtest.Terminal(rt.vigil_bin, ["run", "--", *cmd],
                          cwd=str(rt.w), env=rt.env) as t:
        for n in (1, 2):
            rt.wait_run(n)
            wait_until(lambda: "exited 0" in t.text().split("ready")[-1]
                       and t.text().count("exited 0") == n,
                       what="the end of run %d" % n)
            pid, pgrp, fg = _stat_of(rt.out / ("stat.%d" % n))
            assert pid == rt.pid(n) and pgrp == pid and fg == pid
            # The run is over: vigil has the terminal again.
            assert t.foreground_group() == t.pid
            os.kill(t.pid, signal.SIGHUP)
        os.kill(t.pid, signal.SIGTERM)
        assert t.wait() == 0


def test_with_a_terminal_ctrl_c_stops_the_command_then_vigil(rt):
    with runtest.Terminal(rt.vigil_bin, ["run", "--", *rt.rec("sleep", "1000")],
                          cwd=str(rt.w), env=rt.env) as t:
        rt.wait_run(1)
        wait_until(lambda: t.foreground_group() == rt.pid(1),
                   what="the command in the foreground")
        t.type(b"\x03")
        wait_until(lambda: "[sh killed by SIGINT after " in t.text(),
                   what="the command's end")
        assert t.proc.poll() is None
        wait_until(lambda: t.foreground_group() == t.pid,
                   what="vigil in the foreground")
        t.type(b"\x03")
        assert t.wait() == 0
        assert rt.runs() == 1


def test_with_a_terminal_hangup_ends_vigil(rt):
    # Closing the terminal sends SIGHUP; that is not a request to restart.
    with runtest.Terminal(rt.vigil_bin, ["run", "--", *rt.rec("sleep", "1000")],
                          cwd=str(rt.w), env=rt.env) as t:
        rt.wait_run(1)
        pid = rt.pid(1)
        t.hang_up()
        assert t.wait() == 0
        assert not runtest.exists(pid)
        assert rt.runs() == 1


def test_with_a_terminal_ctrl_z_does_not_wedge_it(rt):
    # Here vigil has no shell above it (its process group is orphaned), so
    # the kernel does not stop it: the command is continued at once.
    with runtest.Terminal(rt.vigil_bin, ["run", "--", *rt.rec("sleep", "1000")],
                          cwd=str(rt.w), env=rt.env) as t:
        rt.wait_run(1)
        pid = rt.pid(1)
        wait_until(lambda: t.foreground_group() == pid,
                   what="the command in the foreground")
        t.type(b"\x1a")
        wait_until(lambda: "[sh stopped by SIGTSTP]" in t.text(),
                   what="the report of the stop")
        wait_until(lambda: runtest.stat_fields(
            open("/proc/%d/stat" % pid).read())[2] != "T",
            what="the command to be continued")
        wait_until(lambda: t.foreground_group() == pid,
                   what="the command in the foreground again")
        t.type(b"\x03")
        wait_until(lambda: "[sh killed by SIGINT after " in t.text(),
                   what="the command's end")
        os.kill(t.pid, signal.SIGTERM)
        assert t.wait() == 0


# -- load -------------------------------------------------------------------------

@pytest.mark.time_limit(60)
def test_responsive_under_hundreds_of_changes_per_second(rt):
    v = rt.start("-r", "--", *rt.rec("sleep", "1000"))
    rt.wait_run(1)
    t_end = time.monotonic() + 2.0
    i = 0
    start = time.monotonic()
    while time.monotonic() < t_end:
        (rt.w / ("f%d" % (i % 50))).write_text(str(i))
        i += 1
        # About 500 changes a second.
        delay = start + i / 500.0 - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    # A steady stream still gets runs: a burst is cut off after a second.
    assert rt.runs() >= 2
    t0 = time.monotonic()
    v.send(signal.SIGTERM)
    assert v.wait_exit() == 0
    assert time.monotonic() - t0 < scaled(0.5)
