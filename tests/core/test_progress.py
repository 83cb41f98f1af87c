import io

from evalsite import progress as progress_module
from evalsite.progress import ProgressLine


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_on_a_terminal_the_bar_is_redrawn_in_place():
    stream = Terminal()
    line = ProgressLine("import", stream=stream)
    line.update(5, 10)
    line.update(10, 10, final=True)
    out = stream.getvalue()
    assert out.count("\r") == 2 and out.endswith("10/10\n")
    assert "[###############...............] 5/10" in out


def test_elsewhere_a_line_every_interval_and_always_the_last(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: clock[0])
    stream = io.StringIO()
    line = ProgressLine("run r1", stream=stream, interval=5)
    for done in range(1, 101):
        line.update(done, 100, "running", final=done == 100)
        clock[0] += 0.125  # 100 updates over 12.5 seconds
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert lines == [f"run r1: {n}/100 ({n}%) running" for n in (1, 41, 81, 100)]
