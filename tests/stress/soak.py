#!/usr/bin/python3
"""tests/stress/soak.py — a bounded concurrency soak for darter.

N client threads each run a fixed number of random operations over a small,
colliding keyspace (keys on every worker thread, hash tags sometimes):
strings, bitmaps, key moves, expiry, MULTI/EXEC/WATCH, SCAN/KEYS, DUMP and
RESTORE, SELECT, CLIENT KILL, CONFIG SET hz, INFO, BGSAVE, DEBUG RELOAD,
pipelines of depth 1-50, connections closed mid-pipeline or mid-request and
malformed RESP. Some threads are pub/sub subscribers. A monitor thread PINGs
throughout. Every read has a timeout: a reply that does not come is a hang.

Standard library only; talks only to 127.0.0.1; stops by itself.

    soak.py --port P                       # an already running server
    soak.py --server BIN --threads 4       # start BIN, soak it, SIGTERM it
    soak.py --server BIN --cluster         # 3 cluster nodes, follows MOVED

With --server the exit status of the server(s) is checked (0 on SIGTERM).
Exit status: 0 when clean, 1 when anything was flagged.
"""
import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HOST = "127.0.0.1"


ATOM_KEYS = ["atom:a", "atom:b", "atom:c", "atom:d", "atom:e", "atom:f", "atom:g", "atom:h"]


class Incomplete(Exception):
    pass


class ServerError(str):
    pass


class Closed(Exception):
    pass


class Hang(Exception):
    pass


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, int):
            a = str(a).encode()
        elif isinstance(a, str):
            a = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def parse(buf, i):
    """One RESP2/RESP3 value at buf[i:]; returns (value, next index)."""
    e = buf.find(b"\r\n", i)
    if e < 0:
        raise Incomplete()
    t = buf[i:i + 1]
    line = bytes(buf[i + 1:e])
    j = e + 2
    if t == b"+":
        return line.decode("latin-1"), j
    if t in (b"-", b"!"):
        if t == b"!":
            n = int(line)
            if len(buf) < j + n + 2:
                raise Incomplete()
            return ServerError(bytes(buf[j:j + n]).decode("latin-1")), j + n + 2
        return ServerError(line.decode("latin-1")), j
    if t in (b":", b",", b"("):
        return line.decode(), j
    if t == b"#":
        return line == b"t", j
    if t == b"_":
        return None, j
    if t in (b"$", b"="):
        n = int(line)
        if n < 0:
            return None, j
        if len(buf) < j + n + 2:
            raise Incomplete()
        if buf[j + n:j + n + 2] != b"\r\n":
            raise ValueError("bad bulk terminator")
        return bytes(buf[j:j + n]), j + n + 2
    if t in (b"*", b"~", b">", b"%", b"|"):
        n = int(line)
        if n < 0:
            return None, j
        if t in (b"%", b"|"):
            n *= 2
        items = []
        for _ in range(n):
            v, j = parse(buf, j)
            items.append(v)
        if t == b"|":  # attribute: the real value follows
            return parse(buf, j)
        return items, j
    raise ValueError("bad RESP type byte %r at %d: %r" % (t, i, bytes(buf[i:i + 40])))


class Conn:
    def __init__(self, port, timeout):
        self.port = port
        self.timeout = timeout
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def abort(self):
        """Close with RST (SO_LINGER 0), as an abrupt client would."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        except OSError:
            pass
        self.close()

    def send(self, data):
        try:
            self.sock.sendall(data)
        except socket.timeout:
            raise Hang("send timed out")
        except OSError as e:
            raise Closed(str(e))

    def read(self, deadline=None):
        while True:
            if self.buf:
                try:
                    v, j = parse(self.buf, 0)
                    del self.buf[:j]
                    return v
                except Incomplete:
                    pass
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise socket.timeout()
                self.sock.settimeout(left)
            try:
                d = self.sock.recv(65536)
            except socket.timeout:
                if deadline is not None:
                    self.sock.settimeout(self.timeout)
                    raise
                raise Hang("no reply in %.0fs" % self.timeout)
            except OSError as e:
                raise Closed(str(e))
            finally:
                if deadline is not None:
                    self.sock.settimeout(self.timeout)
            if not d:
                raise Closed("EOF")
            self.buf += d

    def call(self, *args):
        self.send(encode(*args))
        return self.read()

    def pipeline(self, cmds):
        self.send(b"".join(encode(*c) for c in cmds))
        return [self.read() for _ in cmds]


# ---------- cluster helpers ----------

def crc16(data):
    crc = 0
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def key_slot(key):
    k = key.encode() if isinstance(key, str) else key
    s = k.find(b"{")
    if s >= 0:
        e = k.find(b"}", s + 1)
        if e > s + 1:
            k = k[s + 1:e]
    return crc16(k) % 16384


# ---------- shared state ----------

class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.problems = []
        self.ops = 0
        self.errors = 0
        self.reconnects = 0
        self.moved = 0
        self.client_ids = set()
        self.max_ping_ms = 0.0

    def problem(self, msg):
        with self.lock:
            self.problems.append(msg)
        print("PROBLEM:", msg, file=sys.stderr, flush=True)


class Worker(threading.Thread):
    def __init__(self, idx, opts, ports, stats, dump_dir):
        super().__init__(daemon=True)
        self.idx = idx
        self.opts = opts
        self.ports = ports
        self.stats = stats
        self.rng = random.Random(opts.seed * 1000 + idx)
        self.dump_dir = dump_dir
        self.conns = {}
        self.done = False
        self.db = 0

    # --- connections ---

    def conn(self, port=None):
        port = port or self.ports[0]
        c = self.conns.get(port)
        if c is None:
            for attempt in range(50):
                try:
                    c = Conn(port, self.opts.timeout)
                    break
                except OSError as e:
                    if attempt == 49:
                        raise Closed("connect: %s" % e)
                    time.sleep(0.1)
            self.conns[port] = c
            self.db = 0
            try:
                cid = c.call("CLIENT", "ID")
                if isinstance(cid, str):
                    with self.stats.lock:
                        self.stats.client_ids.add((port, int(cid)))
            except Closed:
                self.drop(port)
                raise
        return c

    def drop(self, port=None, abort=False):
        port = port or self.ports[0]
        c = self.conns.pop(port, None)
        if c:
            c.abort() if abort else c.close()

    # --- keys ---

    def key(self):
        r = self.rng
        if r.random() < 0.25:
            return "{t%d}:k%d" % (r.randrange(8), r.randrange(6))
        return "k%d" % r.randrange(self.opts.keys)

    def tagged_keys(self, n):
        """Keys that share a slot (cluster) or random keys (standalone)."""
        if self.opts.cluster or self.rng.random() < 0.3:
            t = self.rng.randrange(8)
            return ["{t%d}:k%d" % (t, self.rng.randrange(6)) for _ in range(n)]
        return [self.key() for _ in range(n)]

    def val(self):
        r = self.rng
        n = r.choice([0, 1, 3, 8, 20, 100, 1000])
        return "".join(r.choice("abcdef0123") for _ in range(n))

    # --- commands ---

    def random_cmd(self):
        r = self.rng
        k = self.key()
        x = r.randrange(100)
        if x < 8:
            return ["SET", k, self.val()] + r.choice([[], [], ["EX", r.randrange(1, 5)], ["PX", r.randrange(1, 300)],
                                                     ["NX"], ["XX"], ["GET"], ["KEEPTTL"]])
        if x < 14:
            return ["GET", k]
        if x < 18:
            return [r.choice(["INCR", "DECR"]), k] if r.random() < 0.7 else ["INCRBY", k, r.randrange(-100, 100)]
        if x < 21:
            return ["APPEND", k, self.val()]
        if x < 23:
            return ["SETRANGE", k, r.randrange(0, 2000), self.val()]
        if x < 25:
            return ["GETRANGE", k, r.randrange(-50, 50), r.randrange(-50, 100)]
        if x < 28:
            return ["DEL"] + self.tagged_keys(r.randrange(1, 4))
        if x < 30:
            return ["EXISTS"] + self.tagged_keys(r.randrange(1, 4))
        if x < 33:
            return ["MGET"] + self.tagged_keys(r.randrange(1, 6))
        if x < 36:
            ks = self.tagged_keys(r.randrange(1, 5))
            return ["MSET"] + [a for kk in ks for a in (kk, self.val())]
        if x < 38:
            ks = self.tagged_keys(r.randrange(1, 4))
            return ["MSETNX"] + [a for kk in ks for a in (kk, self.val())]
        if x < 41:
            a, b = self.tagged_keys(2)
            return [r.choice(["RENAME", "RENAMENX"]), a, b]
        if x < 43:
            a, b = self.tagged_keys(2)
            extra = []
            if r.random() < 0.4 and not self.opts.cluster:
                extra += ["DB", r.randrange(4)]
            if r.random() < 0.5:
                extra.append("REPLACE")
            return ["COPY", a, b] + extra
        if x < 44 and not self.opts.cluster:
            return ["MOVE", k, r.randrange(4)]
        if x < 47:
            return r.choice([["EXPIRE", k, r.randrange(-1, 5)], ["PEXPIRE", k, r.randrange(1, 500)],
                             ["TTL", k], ["PTTL", k], ["PERSIST", k], ["EXPIRETIME", k]])
        if x < 49:
            return ["SCAN", r.choice([0, 0, r.randrange(1 << 20)]), "COUNT", r.randrange(1, 50)] + \
                r.choice([[], ["MATCH", "k1*"], ["TYPE", "string"]])
        if x < 50:
            return ["RANDOMKEY"] if r.random() < 0.7 else ["DBSIZE"]
        if x < 53:
            return ["SETBIT", k, r.randrange(0, 4000), r.randrange(2)]
        if x < 55:
            ks = self.tagged_keys(r.randrange(2, 4))
            op = r.choice(["AND", "OR", "XOR", "NOT"])
            if op == "NOT":
                ks = ks[:2]
            return ["BITOP", op] + ks
        if x < 57:
            return ["BITFIELD", k, "INCRBY", r.choice(["u8", "i16", "u4", "i64"]), r.randrange(0, 200), r.randrange(-9, 9),
                    "GET", "u8", 0]
        if x < 58:
            return ["BITCOUNT", k] if r.random() < 0.5 else ["BITPOS", k, r.randrange(2)]
        if x < 60:
            a, b = self.tagged_keys(2)
            return ["LCS", a, b] + r.choice([[], ["LEN"], ["IDX", "MINMATCHLEN", 2, "WITHMATCHLEN"]])
        if x < 62:
            return ["PUBLISH", "ch%d" % r.randrange(6), self.val()]
        if x < 63:
            return ["STRLEN", k] if r.random() < 0.5 else ["TYPE", k]
        if x < 64:
            return ["GETDEL", k] if r.random() < 0.5 else ["GETEX", k, "PX", r.randrange(1, 1000)]
        if x < 65:
            return ["SETNX", k, self.val()] if r.random() < 0.5 else ["PSETEX", k, r.randrange(1, 100), "v"]
        if x < 66:
            return ["UNLINK"] + self.tagged_keys(r.randrange(1, 3))
        if x < 67:
            return ["TOUCH"] + self.tagged_keys(r.randrange(1, 3))
        if x < 68:
            return ["OBJECT", "ENCODING", k] if r.random() < 0.5 else ["INCRBYFLOAT", k, "1.5"]
        if x < 69:
            return ["INFO"] + r.choice([[], ["keyspace"], ["stats"], ["all"]])
        if x < 70:
            return ["CLIENT", "LIST"] if r.random() < 0.7 else ["CLIENT", "INFO"]
        if x < 71:
            return ["CONFIG", "SET", "hz", r.randrange(1, 100)]
        if x < 72:
            return ["PING"]
        if x < 73:
            return ["ECHO", self.val()]
        if x < 74:
            return ["WATCH"] + self.tagged_keys(r.randrange(1, 3)) if r.random() < 0.7 else ["UNWATCH"]
        if x < 75 and not self.opts.cluster:
            return ["SELECT", r.randrange(4)]
        if x < 76:
            return ["DBSIZE"]
        if x < 78:
            return r.choice([["PUBSUB", "NUMSUB", "ch1", "ch2"], ["PUBSUB", "CHANNELS"], ["PUBSUB", "NUMPAT"],
                             ["PUBSUB", "SHARDCHANNELS"], ["SPUBLISH", "ch%d" % r.randrange(6), "x"]])
        if x < 80:
            return r.choice([["MEMORY", "USAGE", k], ["MEMORY", "STATS"], ["OBJECT", "FREQ", k],
                             ["OBJECT", "IDLETIME", k], ["OBJECT", "REFCOUNT", k], ["DEBUG", "OBJECT", k],
                             ["COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2"], ["COMMAND", "COUNT"],
                             ["MEMORY", "USAGE", k, "SAMPLES", 0]])
        if x < 82:
            return r.choice([["EXPIREAT", k, int(time.time()) + r.randrange(-2, 5)],
                             ["PEXPIREAT", k, int(time.time() * 1000) + r.randrange(-200, 2000)],
                             ["GETSET", k, self.val()], ["SUBSTR", k, 0, r.randrange(10)],
                             ["SETEX", k, r.randrange(1, 3), "v"], ["DECRBY", k, 3], ["GETBIT", k, r.randrange(100)],
                             ["BITFIELD_RO", k, "GET", "i8", r.randrange(64)], ["PEXPIRETIME", k]])
        if x < 83:
            return r.choice([["HELLO", r.choice(["2", "3"])], ["CLIENT", "GETNAME"], ["TIME"], ["CLIENT", "NO-EVICT", "on"],
                             ["FUNCTION", "LIST"], ["PUBSUB", "SHARDNUMSUB", "ch1"]])
        if x < 86 and not self.opts.cluster:
            # a fixed group of keys on every thread, only ever written together:
            # a reader must never see half of an MSET (or of a flush/swap)
            if r.random() < 0.5:
                v = self.val() or "v"
                return ["MSET"] + [a for kk in ATOM_KEYS for a in (kk, v)]
            return ["MGET"] + ATOM_KEYS
        if x < 84 and self.opts.cluster:
            return r.choice([["CLUSTER", "COUNTKEYSINSLOT", key_slot(k)], ["CLUSTER", "GETKEYSINSLOT", key_slot(k), 10],
                             ["CLUSTER", "KEYSLOT", k], ["CLUSTER", "SHARDS"], ["CLUSTER", "SLOTS"],
                             ["CLUSTER", "NODES"], ["READONLY"], ["READWRITE"], ["CLUSTER", "INFO"]])
        return ["GET", k]

    def rare_cmd(self, hot=False):
        """Commands that are run only now and then (hot: pick one of them)."""
        r = self.rng
        x = r.randrange(39 if hot else max(39, 1000 // self.opts.chaos))
        if x < 2 and not self.opts.no_flush:
            return [r.choice(["FLUSHDB", "FLUSHDB"]) ] + r.choice([[], ["ASYNC"], ["SYNC"]])
        if x < 3 and not self.opts.no_flush:
            return ["FLUSHALL"]
        if x < 12:
            return ["KEYS", r.choice(["*", "k1*", "{t1}*", "k?"])]
        if x < 16 and self.opts.dir:
            return ["BGSAVE"]
        if x < 17 and self.opts.dir and self.opts.reload and r.random() < 0.3:
            return ["DEBUG", "RELOAD"]
        if x < 25:
            with self.stats.lock:
                ids = [i for (p, i) in self.stats.client_ids if p == self.cur_port]
            if ids:
                return ["CLIENT", "KILL", "ID", r.choice(ids)]
        if x < 30:
            return ["SAVE"] if self.opts.dir and r.random() < 0.2 else ["LASTSAVE"]
        if x < 32 and not self.opts.cluster:
            return ["SWAPDB", r.randrange(4), r.randrange(4)]
        if x < 34:
            return ["CONFIG", "SET", "notify-keyspace-events", r.choice(["", "KEA", "Kg$", "Ex"])]
        if x < 36:
            return ["CLIENT", "KILL", "TYPE", "pubsub"] if r.random() < 0.2 else ["CLIENT", "SETNAME", "w%d" % self.idx]
        if x < 38 and not self.opts.no_evict:
            return r.choice([["CONFIG", "SET", "maxmemory", r.choice(["0", "0", "1mb", "4mb", "64mb"])],
                             ["CONFIG", "SET", "maxmemory-policy",
                              r.choice(["noeviction", "allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-ttl",
                                        "volatile-lru", "volatile-random"])]])
        if x < 39:
            return r.choice([["DEBUG", "SET-ACTIVE-EXPIRE", r.randrange(2)], ["DEBUG", "POPULATE", r.randrange(50), "pop"],
                             ["FUNCTION", "FLUSH"], ["CONFIG", "RESETSTAT"], ["MEMORY", "PURGE"], ["RESET"]])
        return None

    def multi_block(self):
        r = self.rng
        cmds = []
        if r.random() < 0.4:
            cmds.append(["WATCH"] + self.tagged_keys(r.randrange(1, 3)))
        cmds.append(["MULTI"])
        for _ in range(r.randrange(1, 6)):
            c = (r.random() < 0.05 and self.rare_cmd(hot=True)) or self.random_cmd()
            if c[0] in ("WATCH", "SELECT") and r.random() < 0.7:
                c = ["INCR", self.key()]
            cmds.append(c)
        cmds.append(["EXEC"] if r.random() < 0.9 else ["DISCARD"])
        return cmds

    def build_pipeline(self):
        r = self.rng
        depth = r.choice([1, 1, 1, 2, 3, 5, 8, 16, 50])
        depth = r.randrange(1, depth + 1)
        cmds = []
        while len(cmds) < depth:
            if r.random() < 0.06:
                cmds.extend(self.multi_block())
                continue
            c = self.rare_cmd()
            cmds.append(c if c else self.random_cmd())
        return cmds

    def port_for(self, cmds):
        if not self.opts.cluster:
            return self.ports[0]
        for c in cmds:
            if c[0] in ("MULTI", "EXEC", "DISCARD", "UNWATCH", "PING", "INFO", "ECHO", "SCAN", "KEYS", "DBSIZE",
                        "CONFIG", "CLIENT", "PUBLISH", "RANDOMKEY", "FLUSHDB", "FLUSHALL", "BGSAVE", "SAVE",
                        "LASTSAVE", "DEBUG"):
                continue
            if len(c) > 1:
                k = c[2] if c[0] in ("BITOP", "OBJECT") and len(c) > 2 else c[1]
                s = key_slot(k)
                return self.ports[self.slot_owner(s)]
        return self.rng.choice(self.ports)

    def slot_owner(self, s):
        return min(2, s * 3 // 16384) if not self.opts.slot_map else self.opts.slot_map[s]

    # --- abuse ---

    def abuse(self):
        r = self.rng
        port = self.rng.choice(self.ports)
        self.cur_port = port
        c = self.conn(port)
        x = r.randrange(4)
        if x == 0:  # half a pipeline, then close (with RST sometimes)
            data = b"".join(encode(*self.random_cmd()) for _ in range(r.randrange(1, 30)))
            c.send(data[:r.randrange(1, len(data) + 1)])
            self.drop(port, abort=r.random() < 0.5)
        elif x == 1:  # half a request
            data = encode("SET", self.key(), self.val())
            c.send(data[:r.randrange(1, len(data))])
            if r.random() < 0.5:
                time.sleep(0.005)
            self.drop(port, abort=r.random() < 0.5)
        elif x == 2:  # malformed RESP: the server must answer an error (or close), never hang or die
            bad = r.choice([b"*2\r\n$3\r\nGET\r\n:1\r\n", b"*abc\r\n", b"$-5\r\n", b"*1\r\n$-2\r\n",
                            b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$99999999999\r\n", b"*1\r\n$3\r\nGETxx\r\n",
                            b"\r\n\r\n*0\r\n", b"*-1\r\nPING\r\n", b"*1\r\n$4\r\nPI",
                            b"GET k1 \"unterminated\r\n", b"SET 'a b\r\n", b"*1\r\n*1\r\n$4\r\nPING\r\n"])
            c.send(bad)
            try:
                c.read(deadline=time.monotonic() + 0.3)
            except (Closed, socket.timeout):
                pass
            self.drop(port)
        else:  # a big pipeline, close before reading the replies
            data = b"".join(encode(*self.random_cmd()) for _ in range(r.randrange(20, 200)))
            c.send(data)
            self.drop(port, abort=r.random() < 0.5)

    def dump_restore(self):
        r = self.rng
        port = self.port_for([["GET", "{t1}:k0"]]) if self.opts.cluster else self.ports[0]
        a, b = self.tagged_keys(2)
        port = self.port_for([["GET", a]])
        self.cur_port = port
        c = self.conn(port)
        v = c.call("DUMP", a)
        if isinstance(v, bytes):
            port = self.port_for([["GET", b]])
            c = self.conn(port)
            args = ["RESTORE", b, r.choice([0, 0, 500]), v]
            if r.random() < 0.7:
                args.append("REPLACE")
            if r.random() < 0.2:  # a corrupt payload must be refused
                v = bytearray(v)
                v[r.randrange(len(v))] ^= 0xFF
                args[3] = bytes(v)
            self.count(c.call(*args), args)

    def check(self, v, cmd):
        """Replies whose shape shows they belong to another request (out of order)."""
        name = cmd[0]
        bad = False
        if v == "QUEUED":
            return False
        if name == "ECHO":
            bad = not isinstance(v, ServerError) and v != cmd[1].encode()
        elif name == "PING":
            bad = not isinstance(v, ServerError) and v != "PONG"
        elif name in ("INCR", "DECR", "INCRBY"):
            bad = "no such key" in v if isinstance(v, ServerError) else not isinstance(v, str)
        elif name == "MGET" and cmd[1:] == ATOM_KEYS and isinstance(v, list):
            vals = set(v)
            bad = len(vals) > 1 and (self.opts.no_evict or None not in vals or len(vals) > 2)
        elif name in ("RENAME", "RENAMENX", "COPY", "MOVE"):
            bad = isinstance(v, ServerError) and "integer" in v
        if bad:
            self.stats.problem("worker %d: reply %r does not fit %r (db %d)" % (self.idx, v if not isinstance(v, bytes) or len(v) < 60 else v[:60], cmd[:4], self.db))
        return bad

    def count(self, v, cmd):
        self.check(v, cmd)
        self.nops += 1
        with self.stats.lock:
            self.stats.ops += 1
        if isinstance(v, ServerError):
            with self.stats.lock:
                self.stats.errors += 1
            if self.opts.verbose:
                print("ERR", cmd[:4], v)
            if "Internal" in v or "ASSERT" in v.upper():
                self.stats.problem("worker %d: suspicious error for %r: %s" % (self.idx, cmd[:3], v))

    def run_pipeline(self):
        cmds = self.build_pipeline()
        port = self.port_for(cmds)
        self.cur_port = port
        c = self.conn(port)
        if self.opts.cluster:
            cmds = [x for x in cmds if x[0] not in ("SELECT", "MOVE")]
            if not cmds:
                return
        replies = c.pipeline(cmds)
        for cmd, v in zip(cmds, replies):
            if cmd[0] == "SELECT" and v == "OK":
                self.db = int(cmd[1])
            elif cmd[0] == "RESET":
                self.db = 0
            if self.opts.cluster and isinstance(v, ServerError) and v.startswith(("MOVED", "ASK")):
                self.stats.moved += 1
                if cmd[0] in ("EXEC", "MULTI", "WATCH") or self.in_multi(cmds, cmd):
                    continue
                host_port = v.split()[2]
                p = int(host_port.rsplit(":", 1)[1])
                try:
                    cc = self.conn(p)
                    if v.startswith("ASK"):
                        cc.send(encode("ASKING"))
                        cc.read()
                    v = cc.call(*cmd)
                except Closed:
                    self.drop(p)
                    continue
            self.count(v, cmd)

    @staticmethod
    def in_multi(cmds, cmd):
        depth = False
        for c in cmds:
            if c is cmd:
                return depth
            if c[0] == "MULTI":
                depth = True
            elif c[0] in ("EXEC", "DISCARD"):
                depth = False
        return False

    def run(self):
        self.cur_port = self.ports[0]
        self.nops = 0
        n = 0
        try:
            while n < self.opts.ops:
                try:
                    x = self.rng.random()
                    if x < 0.02:
                        self.abuse()
                        n += 1
                    elif x < 0.04:
                        self.dump_restore()
                        n += 2
                    else:
                        before = self.nops
                        self.run_pipeline()
                        n += max(1, self.nops - before)
                except Closed:
                    # killed by CLIENT KILL, a FLUSH/RELOAD close, or our own abuse: reconnect
                    with self.stats.lock:
                        self.stats.reconnects += 1
                    for p in list(self.conns):
                        self.drop(p)
        except Hang as e:
            self.stats.problem("worker %d: HANG after %d ops: %s" % (self.idx, n, e))
        except Exception as e:  # noqa: BLE001 - any other failure is a finding
            import traceback
            self.stats.problem("worker %d: %s: %s\n%s" % (self.idx, type(e).__name__, e, traceback.format_exc()))
        finally:
            for p in list(self.conns):
                self.drop(p)
            self.done = True


class Subscriber(threading.Thread):
    """Subscribes, reads messages, unsubscribes, sometimes drops the link."""

    def __init__(self, idx, opts, ports, stats):
        super().__init__(daemon=True)
        self.idx = idx
        self.opts = opts
        self.ports = ports
        self.stats = stats
        self.rng = random.Random(opts.seed * 7777 + idx)
        self.done = False

    def run(self):
        r = self.rng
        rounds = max(10, self.opts.ops // 200)
        c = None
        try:
            for _ in range(rounds):
                try:
                    if c is None:
                        c = Conn(r.choice(self.ports), self.opts.timeout)
                        if r.random() < 0.3:
                            c.call("HELLO", "3")
                    chans = ["ch%d" % r.randrange(6) for _ in range(r.randrange(1, 4))]
                    kind = r.choice(["SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE"] if self.opts.cluster else
                                    ["SUBSCRIBE", "PSUBSCRIBE"])
                    if kind == "PSUBSCRIBE":
                        chans = [r.choice(["ch[0-%d]*" % r.randrange(6), "__key*__:*", "__keyevent@0__:*"])
                                 for _ in chans]
                    c.send(encode(kind, *chans))
                    want = len(chans)
                    got = 0
                    deadline = time.monotonic() + r.choice([0.01, 0.05, 0.2])
                    while True:
                        try:
                            v = c.read(deadline=deadline if got >= want else time.monotonic() + self.opts.timeout)
                        except socket.timeout:
                            if got < want:
                                raise Hang("no subscribe confirmation")
                            break
                        if isinstance(v, list) and v and v[0] in (b"subscribe", b"psubscribe", b"ssubscribe"):
                            got += 1
                        with self.stats.lock:
                            self.stats.ops += 1
                    x = r.random()
                    if x < 0.2:
                        c.abort()
                        c = None
                    elif x < 0.4:
                        c.close()
                        c = None
                    else:
                        unsub = {"SUBSCRIBE": "UNSUBSCRIBE", "PSUBSCRIBE": "PUNSUBSCRIBE",
                                 "SSUBSCRIBE": "SUNSUBSCRIBE"}[kind]
                        c.send(encode(unsub) + encode("PING"))
                        # drain until the PING answer
                        while True:
                            v = c.read()
                            if v == "PONG" or (isinstance(v, list) and v and v[0] == b"pong"):
                                break
                            if isinstance(v, ServerError):
                                break
                except Closed:
                    self.stats.reconnects += 1
                    if c:
                        c.close()
                    c = None
        except Hang as e:
            self.stats.problem("subscriber %d: HANG: %s" % (self.idx, e))
        except Exception as e:  # noqa: BLE001
            import traceback
            self.stats.problem("subscriber %d: %s: %s\n%s" % (self.idx, type(e).__name__, e, traceback.format_exc()))
        finally:
            if c:
                c.close()
            self.done = True


def monitor(ports, stats, stop, opts):
    """PING every node every 100 ms; a PING unanswered for --timeout is a stall."""
    conns = {}
    while not stop.is_set():
        for p in ports:
            try:
                c = conns.get(p) or Conn(p, opts.timeout)
                conns[p] = c
                t0 = time.monotonic()
                v = c.call("PING")
                dt = (time.monotonic() - t0) * 1000
                stats.max_ping_ms = max(stats.max_ping_ms, dt)
                if v != "PONG" and not (isinstance(v, ServerError) and v.startswith("LOADING")):
                    stats.problem("monitor: PING on %d answered %r" % (p, v))
            except Closed:
                conns.pop(p, None)  # CLIENT KILL may hit us too
            except (Hang, OSError) as e:
                stats.problem("monitor: PING on %d: %s" % (p, e))
                conns.pop(p, None)
        stop.wait(0.1)
    for c in conns.values():
        c.close()


# ---------- starting servers ----------

def free_port():
    s = socket.socket()
    s.bind((HOST, 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_ping(port, proc, secs=20):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError("server on %d exited with %s" % (port, proc.returncode))
        try:
            c = Conn(port, 2)
            ok = c.call("PING") == "PONG"
            c.close()
            if ok:
                return
        except (OSError, Closed, Hang):
            pass
        time.sleep(0.05)
    raise RuntimeError("server on %d did not answer PING" % port)


def start_server(opts, extra, port, workdir, tag):
    log = open(os.path.join(workdir, "server-%s.log" % tag), "w")
    args = [opts.server, "--port", str(port), "--bind", HOST, "--threads", str(opts.threads), "--save", "",
            "--dir", workdir] + extra
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    proc.log_path = log.name
    wait_ping(port, proc)
    return proc


def stop_server(proc, stats, tag):
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = proc.wait()
        stats.problem("server %s did not exit within 30s of SIGTERM" % tag)
    if rc != 0:
        with open(proc.log_path) as f:
            tail = f.read()[-3000:]
        stats.problem("server %s exited with %s; log tail:\n%s" % (tag, rc, tail))
    return rc


def cluster_config(ids, ports):
    ranges = [(0, 5460), (5461, 10922), (10923, 16383)]
    return json.dumps([{"slot_ranges": [{"start": a, "end": b}],
                        "master": {"id": ids[i], "ip": HOST, "port": ports[i]}, "replicas": []}
                       for i, (a, b) in enumerate(ranges)])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, help="soak an already running server")
    ap.add_argument("--server", help="start this darter-server binary (ASan env is inherited)")
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--force-epoll", action="store_true")
    ap.add_argument("--cluster", action="store_true")
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--subscribers", type=int, default=4, help="how many of --clients are subscribers")
    ap.add_argument("--ops", type=int, default=20000, help="operations per client")
    ap.add_argument("--keys", type=int, default=64)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=15.0, help="per-request timeout: longer is a hang")
    ap.add_argument("--dir", help="the server's --dir (enables BGSAVE/SAVE)")
    ap.add_argument("--reload", action="store_true", help="also DEBUG RELOAD (very rarely)")
    ap.add_argument("--chaos", type=int, default=1, help="run the rare commands this many times as often")
    ap.add_argument("--no-flush", action="store_true")
    ap.add_argument("--no-evict", action="store_true", help="never CONFIG SET maxmemory")
    ap.add_argument("--verbose", action="store_true")
    opts = ap.parse_args()
    opts.slot_map = None

    stats = Stats()
    procs = []
    workdir = None
    if opts.server:
        workdir = tempfile.mkdtemp(prefix="darter-soak-")
        opts.dir = opts.dir or workdir
        extra = ["--force-epoll", "yes"] if opts.force_epoll else []
        if opts.cluster:
            ports = []
            while len(ports) < 3:
                p = free_port()
                if p not in ports:
                    ports.append(p)
            ids = []
            for i, p in enumerate(ports):
                d = os.path.join(workdir, "n%d" % i)
                os.mkdir(d)
                procs.append(start_server(opts, extra + ["--cluster-enabled", "yes", "--dir", d], p, workdir, str(i)))
                c = Conn(p, 5)
                ids.append(c.call("CLUSTER", "MYID").decode())
                c.close()
            cfg = cluster_config(ids, ports)
            for p in ports:
                c = Conn(p, 5)
                v = c.call("CLUSTER", "SETCONFIG", cfg)
                c.close()
                if v != "OK":
                    raise SystemExit("CLUSTER SETCONFIG on %d: %r" % (p, v))
            opts.dir = None  # keep persistence out of cluster runs: one dir per node
        else:
            ports = [free_port()]
            procs.append(start_server(opts, extra, ports[0], workdir, "0"))
    elif opts.port:
        ports = [opts.port]
    else:
        ap.error("--port or --server")

    t0 = time.monotonic()
    stop = threading.Event()
    mon = threading.Thread(target=monitor, args=(ports, stats, stop, opts), daemon=True)
    mon.start()
    threads = []
    nsub = min(opts.subscribers, opts.clients)
    for i in range(opts.clients - nsub):
        threads.append(Worker(i, opts, ports, stats, workdir))
    for i in range(nsub):
        threads.append(Subscriber(i, opts, ports, stats))
    for t in threads:
        t.start()
    # every client must finish: give them a generous bound, then call it a hang
    budget = 60 + opts.ops * opts.clients / 500.0
    for t in threads:
        t.join(max(0.0, budget - (time.monotonic() - t0)))
    stuck = [t for t in threads if not t.done]
    if stuck:
        stats.problem("%d clients did not finish within %.0fs" % (len(stuck), budget))
    stop.set()
    mon.join(opts.timeout + 5)

    # the server must still answer after everything
    for p in ports:
        try:
            c = Conn(p, opts.timeout)
            if c.call("PING") != "PONG":
                stats.problem("final PING on %d failed" % p)
            c.close()
        except (OSError, Closed, Hang) as e:
            stats.problem("final PING on %d: %s" % (p, e))

    for i, proc in enumerate(procs):
        stop_server(proc, stats, str(i))
    if workdir and not stats.problems:
        shutil.rmtree(workdir, ignore_errors=True)
    elif workdir:
        print("kept", workdir, file=sys.stderr)

    print("soak: %d ops, %d errors, %d reconnects, %d MOVED, max PING %.1f ms, %.1fs, %d problems" %
          (stats.ops, stats.errors, stats.reconnects, stats.moved, stats.max_ping_ms, time.monotonic() - t0,
           len(stats.problems)))
    sys.exit(1 if stats.problems else 0)


if __name__ == "__main__":
    main()
