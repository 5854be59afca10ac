#!/usr/bin/env python3
"""chat_pty.py BIN MODEL — drives the interactive `streamllm chat` through a
pseudo-terminal, as a person would: type a line and read the reply, /stats,
Ctrl-C at the prompt (the program stays), Ctrl-C during a long reply (the
reply stops, the program stays), Ctrl-D on an empty line (exit status 0).

Prints PASS/FAIL lines like the other CLI tests and exits 1 on a failure.
Uses only the standard library (pty, os, select)."""
import os
import pty
import re
import select
import sys
import time

FAILED = False


def report(ok, name, why=""):
    global FAILED
    if ok:
        print(f"PASS {name}")
    else:
        FAILED = True
        print(f"FAIL {name}: {why}")
    sys.stdout.flush()


class Chat:
    def __init__(self, argv):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.environ["TERM"] = "dumb"
            os.execv(argv[0], argv)
        self.out = b""

    def read_until(self, pattern, timeout):
        """Reads until the regex matches the output gathered since `start`."""
        rx = re.compile(pattern)
        end = time.time() + timeout
        while time.time() < end:
            m = rx.search(self.out)
            if m:
                return m
            r, _, _ = select.select([self.fd], [], [], 0.1)
            if r:
                try:
                    data = os.read(self.fd, 65536)
                except OSError:
                    return rx.search(self.out)
                if not data:
                    return rx.search(self.out)
                self.out += data
        return rx.search(self.out)

    def send(self, data):
        os.write(self.fd, data)

    def mark(self):
        """Forgets the output so far, so later searches see only what follows."""
        self.out = b""

    def wait(self, timeout):
        end = time.time() + timeout
        while time.time() < end:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return status
            try:
                r, _, _ = select.select([self.fd], [], [], 0.1)
                if r:
                    self.out += os.read(self.fd, 65536)
            except OSError:
                time.sleep(0.05)
        return None

    def ctrl_d(self):
        """Ctrl-D on an empty line; returns (wait status, tries). The key is
        sent again (at most twice more) if the program is still running after
        5 s: on a loaded machine a key typed while the line editor is still
        switching the terminal mode can be dropped by the terminal driver."""
        time.sleep(0.2)
        for tries in range(1, 4):
            self.send(b"\x04")
            status = self.wait(5)
            if status is not None:
                return status, tries
        return None, 3

    def kill(self):
        try:
            os.kill(self.pid, 9)
            os.waitpid(self.pid, 0)
        except OSError:
            pass


PROMPT = rb"(^|\n)> $"


def session_short(bin_, model):
    """A short reply cap: one exchange, /stats, Ctrl-C at the prompt, Ctrl-D."""
    c = Chat([bin_, "chat", "-m", model, "-t", "1", "--sinks", "4", "--window", "128",
              "-n", "24", "--temp", "0", "--quiet"])
    try:
        report(c.read_until(PROMPT, 20) is not None, "pty_prompt", f"no '> ' prompt: {c.out[-200:]!r}")
        c.mark()
        c.send(b"Once upon a time there was a cat\r")
        m = c.read_until(rb"cat\r?\n(.+?)\r?\n> $", 30)
        reply = m.group(1).strip() if m else b""
        report(m is not None and len(reply) > 0, "pty_reply", f"no reply before the next prompt: {c.out[-300:]!r}")
        c.mark()
        c.send(b"/stats\r")
        m = c.read_until(rb"memory .*\n(.|\n)*> $", 10)
        ok = m is not None and b"turns          1" in c.out and b"cache" in c.out and b"tok/s" in c.out
        report(ok, "pty_stats", f"/stats output: {c.out[-400:]!r}")
        c.mark()
        c.send(b"half a line")
        time.sleep(0.3)
        c.send(b"\x03")  # Ctrl-C at the prompt: a fresh prompt, the program stays
        m = c.read_until(PROMPT, 10)
        report(m is not None, "pty_ctrl_c_at_prompt", f"no fresh prompt after Ctrl-C: {c.out[-200:]!r}")
        c.mark()
        status, tries = c.ctrl_d()  # Ctrl-D on an empty line
        ok = status is not None and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
        report(ok, f"pty_ctrl_d_exits_0 (Ctrl-D sent {tries}x)", f"wait status {status}, output {c.out[-200:]!r}")
    finally:
        c.kill()


def session_long(bin_, model):
    """A reply that would run for a long time: Ctrl-C stops it, not the program."""
    c = Chat([bin_, "chat", "-m", model, "-t", "1", "--sinks", "4", "--window", "128",
              "-n", "200000", "--ignore-eos", "--quiet"])
    try:
        if c.read_until(PROMPT, 20) is None:
            report(False, "pty_ctrl_c_stops_reply", f"no prompt: {c.out[-200:]!r}")
            return
        c.mark()
        c.send(b"Tell me a very long story\r")
        started = c.read_until(rb"story\r?\n[^\n]{40}", 30) is not None
        t0 = time.time()
        c.send(b"\x03")
        m = c.read_until(rb"\[reply stopped\]\r?\n> $", 15)
        ok = started and m is not None and time.time() - t0 < 15
        report(ok, "pty_ctrl_c_stops_reply", f"started={started}, output tail {c.out[-300:]!r}")
        c.mark()
        c.send(b"/stats\r")
        m = c.read_until(rb"turns +1\r?\n", 10)
        report(m is not None, "pty_alive_after_ctrl_c", f"/stats after Ctrl-C: {c.out[-300:]!r}")
        c.read_until(PROMPT, 10)
        status, tries = c.ctrl_d()
        ok = status is not None and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
        report(ok, f"pty_exit_after_ctrl_c (Ctrl-D sent {tries}x)", f"wait status {status}, output {c.out[-300:]!r}")
    finally:
        c.kill()


def main():
    if len(sys.argv) != 3:
        print("usage: chat_pty.py BIN MODEL", file=sys.stderr)
        return 2
    session_short(sys.argv[1], sys.argv[2])
    session_long(sys.argv[1], sys.argv[2])
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
