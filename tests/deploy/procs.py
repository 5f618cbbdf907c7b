#!/usr/bin/env python3
"""tests/deploy/procs.py — process-level checks for tests/deploy/test_deploy.sh.

    procs.py notify    DARTER TMPDIR
    procs.py daemonize DARTER TMPDIR
    procs.py config    DARTER TMPDIR CONFFILE

Each prints PASS/FAIL lines for what it checks, stops every process it
started, and exits 0 only if all its checks passed. Standard library only.
"""
import array
import ctypes
import os
import signal
import socket
import struct
import subprocess
import sys
import time

TIMEOUT = 30.0  # generous: ASan builds start slower
failures = 0


def check(ok, what, detail=""):
    global failures
    if ok:
        print(f"PASS: {what}")
    else:
        failures += 1
        print(f"FAIL: {what}" + (f" ({detail})" if detail else ""))
    sys.stdout.flush()
    return ok


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def resp_encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Reader:
    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def reply(self):
        line = self.line()
        kind, rest = line[:1], line[1:]
        if kind in (b"+", b"-"):
            return line.decode()
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.exact(n).decode()
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise ValueError(f"bad reply {line!r}")


def command(port, *args, timeout=5.0):
    """One command on a fresh connection; raises if the server is not there."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(resp_encode(*args))
        return Reader(s).reply()


def wait_ping(port, deadline, proc=None):
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            if command(port, "PING", timeout=1.0) == "+PONG":
                return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


def pid_alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_status(proc, timeout):
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return None


def kill_hard(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def recv_notify(sock, deadline):
    """One sd_notify datagram: (dict of assignments, sender pid) or (None, None)."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return None, None
    sock.settimeout(remaining)
    try:
        data, anc, _, _ = sock.recvmsg(4096, socket.CMSG_SPACE(12))
    except socket.timeout:
        return None, None
    pid = None
    for level, kind, cdata in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack("iII", cdata[:12])[0]
    fields = {}
    for line in data.decode(errors="replace").split("\n"):
        if "=" in line:
            k, v = line.split("=", 1)
            fields[k] = v
    return fields, pid


def wait_for_key(sock, key, deadline, seen):
    while True:
        fields, pid = recv_notify(sock, deadline)
        if fields is None:
            return None, None
        seen.append(fields)
        if key in fields:
            return fields, pid


def test_notify(darter, tmp):
    """READY=1 (+ STATUS) once darter serves, STOPPING=1 on SIGTERM, exit 0."""
    path = os.path.join(tmp, "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    port = free_port()
    env = dict(os.environ, NOTIFY_SOCKET=path)
    logpath = os.path.join(tmp, "notify.log")
    log = open(logpath, "wb")
    proc = subprocess.Popen([darter, "--port", str(port), "--bind", "127.0.0.1", "--threads", "2",
                             "--dir", tmp, "--supervised", "systemd"],
                            env=env, stdout=log, stderr=log)
    try:
        seen = []
        deadline = time.monotonic() + TIMEOUT
        ready, pid = wait_for_key(sock, "READY", deadline, seen)
        check(ready is not None and ready.get("READY") == "1", "notify: READY=1 received",
              f"got {seen}, exit={proc.poll()}: {log_tail(logpath)}")
        if ready is None:
            return
        check(pid == proc.pid, "notify: READY=1 sent by the main pid (NotifyAccess=main)",
              f"sender {pid}, darter {proc.pid}")
        check(ready.get("STATUS") == "Ready to accept connections",
              "notify: STATUS=Ready to accept connections with READY=1", f"got {ready}")
        # no retry: when READY=1 arrives the server must already answer
        try:
            pong = command(port, "PING")
        except OSError as e:
            pong = repr(e)
        check(pong == "+PONG", "notify: PING answers as soon as READY=1 is received", f"got {pong}")
        proc.send_signal(signal.SIGTERM)
        stopping, pid = wait_for_key(sock, "STOPPING", time.monotonic() + TIMEOUT, seen)
        check(stopping is not None and stopping.get("STOPPING") == "1",
              "notify: STOPPING=1 received after SIGTERM", f"got {seen}")
        rc = wait_status(proc, TIMEOUT)
        check(rc == 0, "notify: exit status 0 after SIGTERM", f"status {rc}")
    finally:
        if proc.poll() is None:
            kill_hard(proc.pid)
            proc.wait()
        sock.close()
        log.close()


def set_subreaper():
    libc = ctypes.CDLL(None, use_errno=True)
    PR_SET_CHILD_SUBREAPER = 36
    return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def test_daemonize(darter, tmp):
    """--daemonize yes: the parent exits 0, the pidfile holds the daemon's pid,
    SIGTERM stops it with status 0 and removes the pidfile."""
    # as a subreaper this process inherits the daemon when its parent exits,
    # so it can wait for it and see its exit status
    check(set_subreaper(), "daemonize: test process is a child subreaper")
    pidfile = os.path.join(tmp, "darter.pid")
    logfile = os.path.join(tmp, "daemon.log")
    port = free_port()
    parent = subprocess.Popen([darter, "--port", str(port), "--bind", "127.0.0.1", "--threads", "2",
                               "--daemonize", "yes", "--pidfile", pidfile, "--logfile", logfile,
                               "--dir", tmp],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    daemon_pid = None
    try:
        rc = wait_status(parent, TIMEOUT)
        check(rc == 0, "daemonize: parent exits with status 0", f"status {rc}")
        check(wait_ping(port, time.monotonic() + TIMEOUT), "daemonize: daemon answers PING",
              log_tail(logfile))
        try:
            with open(pidfile) as f:
                text = f.read()
            daemon_pid = int(text.strip())
        except (OSError, ValueError) as e:
            check(False, "daemonize: pidfile written with a pid", repr(e))
            return
        check(text == f"{daemon_pid}\n", "daemonize: pidfile holds one pid and a newline", repr(text))
        check(daemon_pid != parent.pid, "daemonize: pid is the daemon's, not the parent's",
              f"pidfile {daemon_pid}, parent {parent.pid}")
        check(pid_alive(daemon_pid), "daemonize: pid in the pidfile is alive")
        try:
            exe = os.readlink(f"/proc/{daemon_pid}/exe")
        except OSError as e:
            exe = repr(e)
        check(exe == os.path.realpath(darter), "daemonize: pid in the pidfile runs darter-server", exe)
        try:
            sid = os.getsid(daemon_pid)
        except OSError:
            sid = None
        check(sid == daemon_pid, "daemonize: daemon leads its own session (setsid)",
              f"sid {sid}, pid {daemon_pid}")
        os.kill(daemon_pid, signal.SIGTERM)
        status = None
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            try:
                got, st = os.waitpid(daemon_pid, os.WNOHANG)
            except ChildProcessError:
                break  # not ours after all: fall back to watching /proc
            if got == daemon_pid:
                status = st
                break
            time.sleep(0.05)
        if status is not None:
            code = os.waitstatus_to_exitcode(status)
            check(code == 0, "daemonize: daemon exits with status 0 after SIGTERM", f"status {code}")
        else:
            while time.monotonic() < deadline and pid_alive(daemon_pid):
                time.sleep(0.05)
            check(not pid_alive(daemon_pid), "daemonize: daemon exits after SIGTERM")
        if not pid_alive(daemon_pid):
            daemon_pid = None
        check(not os.path.exists(pidfile), "daemonize: pidfile removed at shutdown")
    finally:
        if parent.poll() is None:
            kill_hard(parent.pid)
            parent.wait()
        if daemon_pid is not None and pid_alive(daemon_pid):
            kill_hard(daemon_pid)
            try:
                os.waitpid(daemon_pid, 0)
            except ChildProcessError:
                pass


def log_tail(path, n=10):
    try:
        with open(path, errors="replace") as f:
            return " | ".join(f.read().splitlines()[-n:])
    except OSError:
        return ""


def test_config(darter, tmp, conffile):
    """The installed config loads and says what the unit needs."""
    port = free_port()
    # darter checks `dir` while reading the file, and /var/lib/darter need not
    # exist here: a copy with only that line changed
    with open(conffile) as f:
        lines = f.read().splitlines()
    n_dir = sum(1 for line in lines if line == "dir /var/lib/darter")
    check(n_dir == 1, "config: one `dir /var/lib/darter` line", f"found {n_dir}")
    copy = os.path.join(tmp, "darter.conf")
    with open(copy, "w") as f:
        f.write("\n".join(f"dir {tmp}" if line == "dir /var/lib/darter" else line
                          for line in lines) + "\n")
    logpath = os.path.join(tmp, "config.log")
    log = open(logpath, "wb")
    proc = subprocess.Popen([darter, copy, "--port", str(port), "--threads", "2"],
                            stdout=log, stderr=log)
    try:
        up = wait_ping(port, time.monotonic() + TIMEOUT, proc)
        check(up, "config: darter starts with the installed config",
              f"exit={proc.poll()}: {log_tail(logpath)}")
        if not up:
            return
        want = {"supervised": "systemd", "daemonize": "no", "bind": "127.0.0.1 -::1",
                "protected-mode": "yes"}
        for name, value in want.items():
            try:
                got = command(port, "CONFIG", "GET", name)
            except OSError as e:
                got = repr(e)
            check(got == [name, value], f"config: CONFIG GET {name} is {value!r}", f"got {got}")
        proc.send_signal(signal.SIGTERM)
        rc = wait_status(proc, TIMEOUT)
        check(rc == 0, "config: exit status 0 after SIGTERM", f"status {rc}")
    finally:
        if proc.poll() is None:
            kill_hard(proc.pid)
            proc.wait()
        log.close()


def main():
    if len(sys.argv) < 4:
        print(__doc__)
        return 2
    what, darter, tmp = sys.argv[1], sys.argv[2], sys.argv[3]
    if what == "notify":
        test_notify(darter, tmp)
    elif what == "daemonize":
        test_daemonize(darter, tmp)
    elif what == "config" and len(sys.argv) == 5:
        test_config(darter, tmp, sys.argv[4])
    else:
        print(__doc__)
        return 2
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
