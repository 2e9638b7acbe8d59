"""Child processes that a test interrupts."""

import signal


def sigint_default() -> None:
    """``Popen(preexec_fn=...)``: give the child SIGINT's default action back. A process
    started as a shell's background job ignores SIGINT, its children inherit the ignore,
    and Python then never raises KeyboardInterrupt, so a Ctrl-C test would hang."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
