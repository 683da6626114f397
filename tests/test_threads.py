"""--threads auto: the thread count follows the cores other processes leave free."""

import pytest

from geogen.common import threads as T
from geogen.common.threads import ThreadGovernor, parse_threads, read_proc_stat, threads_for


def test_parse_threads():
    assert parse_threads("auto") is None and parse_threads("AUTO") is None
    assert parse_threads("0") == 0 and parse_threads("3") == 3
    for bad in ("two", "-1", "1.5", ""):
        with pytest.raises(ValueError, match="expected 'auto'"):
            parse_threads(bad)


@pytest.mark.parametrize("cores, others, expected", [
    (2, 0.0, 2), (2, 0.25, 2), (2, 0.5, 1), (2, 1.0, 1), (2, 1.9, 1), (2, 3.0, 1),
    (4, 1.2, 3), (4, 1.5, 2), (1, 0.0, 1), (1, 0.9, 1),
])
def test_threads_for(cores, others, expected):
    assert threads_for(cores, others) == expected


def test_read_proc_stat(tmp_path, monkeypatch):
    monkeypatch.setattr(T.os, "sysconf", lambda name: 100)
    f = tmp_path / "stat"
    f.write_text("cpu  300 20 80 1500 100 0 0 0 0 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n")
    busy, total = read_proc_stat(str(f))
    assert busy == pytest.approx((300 + 20 + 80) / 100) and total == pytest.approx(2000 / 100)
    f.write_text("intr 1 2 3\n")
    assert read_proc_stat(str(f)) is None
    assert read_proc_stat(str(tmp_path / "missing")) is None


class FakeMachine:
    """A machine whose clock and CPU use (machine-wide and this process's) the test advances."""

    def __init__(self):
        self.t = self.machine_busy = self.own_busy = 0.0

    def tick(self, seconds, machine_cores, own_cores):
        self.t += seconds
        self.machine_busy += seconds * machine_cores
        self.own_busy += seconds * own_cores


def governor(fake, calls, interval=30.0):
    return ThreadGovernor(cores=2, interval=interval, set_threads=calls.append, clock=lambda: fake.t,
                          machine=lambda: (fake.machine_busy, fake.t * 2), own=lambda: fake.own_busy,
                          start_window=0.0)


def test_governor_follows_the_other_processes():
    fake, calls = FakeMachine(), []
    g = governor(fake, calls)
    assert calls == [2] and g.threads == 2          # starts with every core
    g.update()                                      # first look: a baseline, no decision
    fake.tick(10, machine_cores=2.0, own_cores=1.0)
    assert g.update() == 2 and calls == [2]         # not yet interval seconds: no new look
    fake.tick(25, machine_cores=2.0, own_cores=1.0) # another process took a core
    assert g.update() == 1 and calls == [2, 1]
    fake.tick(40, machine_cores=1.0, own_cores=1.0) # it stopped
    assert g.update() == 2 and calls == [2, 1, 2]
    fake.tick(40, machine_cores=2.0, own_cores=1.8) # busy, but all of it is this process
    assert g.update() == 2 and calls == [2, 1, 2]
    assert [c[1] for c in g.changes] == [1, 2] and g.changes[0][2] == pytest.approx(1.0)


@pytest.mark.parametrize("others, expected", [(0.0, 2), (0.2, 2), (1.0, 1)])
def test_governor_starts_with_the_cores_left_free(others, expected):
    fake, calls = FakeMachine(), []
    g = ThreadGovernor(cores=2, set_threads=calls.append, clock=lambda: fake.t,
                       machine=lambda: (fake.machine_busy, fake.t * 2), own=lambda: fake.own_busy,
                       sleep=lambda s: fake.tick(s, machine_cores=others, own_cores=0.0))
    assert calls == [expected] and g.threads == expected


def test_governor_without_proc_stat_keeps_its_threads(capsys):
    calls = []
    g = ThreadGovernor(cores=2, set_threads=calls.append, machine=lambda: None)
    assert "needs /proc/stat" in capsys.readouterr().err
    assert g.update() == 2 and calls == [2]


@pytest.mark.skipif(read_proc_stat() is None, reason="no /proc/stat")
def test_the_real_readers():
    import time

    busy, total = read_proc_stat()
    own = T.own_cpu_seconds()
    deadline = time.monotonic() + 5.0
    while T.own_cpu_seconds() <= own and time.monotonic() < deadline:   # CPU time of our own (10 ms ticks)
        sum(range(20_000))
    busy2, total2 = read_proc_stat()
    assert 0 < busy <= total and busy2 >= busy and total2 >= total
    assert T.own_cpu_seconds() > own


def test_governed_updates_between_items_and_passes_them_through():
    from geogen.common.threads import governed

    seen = []

    class Counting:
        def update(self):
            seen.append("update")

    def produce():
        for i in range(3):
            seen.append(f"make {i}")
            yield i

    out = []
    for item in governed(produce(), Counting()):
        seen.append(f"use {item}")
        out.append(item)
    assert out == [0, 1, 2]
    assert seen == ["make 0", "update", "use 0", "make 1", "update", "use 1", "make 2", "update", "use 2"]
    assert list(governed(iter("ab"), None)) == ["a", "b"]
