#!/usr/bin/python3
"""tests/stress/set_diff.py — a differential test of the set family: the
same random SADD/SREM/SMOVE/SINTER*/SUNION*/SDIFF*/SINTERCARD/SPOP/
SRANDMEMBER/CONFIG SET set-max-intset-entries stream goes to darter and to
redis-server, and every reply (errors included) and every key's OBJECT
ENCODING must match. Set replies are compared sorted; random replies by
size (after an SPOP the key is copied from redis-server into darter).

Standard library only; talks only to 127.0.0.1; stops by itself.

    set_diff.py --server build/darter-server [--redis /usr/bin/redis-server]
                [--threads 4] [--ops 20000] [--seed 1]

Exit status: 0 when every reply matched, 1 otherwise.
"""
import argparse, random, shutil, socket, subprocess, sys, tempfile, time

def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    p = s.getsockname()[1]
    s.close()
    return p

def start(argv):
    port = free_port()
    d = tempfile.mkdtemp(prefix='set-diff-')
    proc = subprocess.Popen(argv + ['--port', str(port), '--bind', '127.0.0.1', '--save', '', '--dir', d],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(('127.0.0.1', port)).close()
            return proc, port, d
        except OSError:
            time.sleep(0.05)
    proc.kill()
    shutil.rmtree(d, ignore_errors=True)
    sys.exit('server did not start: %s' % argv[0])

def conn(p):
    s=socket.create_connection(('127.0.0.1',p)); return [s, b'']
def send(c,args):
    out=b'*%d\r\n'%len(args)+b''.join(b'$%d\r\n%s\r\n'%(len(a),a) for a in args)
    c[0].sendall(out)
def readline(c):
    while b'\r\n' not in c[1]:
        d=c[0].recv(65536)
        if not d: raise EOFError
        c[1]+=d
    i=c[1].index(b'\r\n'); l=c[1][:i]; c[1]=c[1][i+2:]; return l
def readn(c,n):
    while len(c[1])<n+2:
        d=c[0].recv(65536)
        if not d: raise EOFError
        c[1]+=d
    v=c[1][:n]; c[1]=c[1][n+2:]; return v
def reply(c):
    l=readline(c); t=l[:1]
    if t in b'+-:': return (t,l[1:])
    if t==b'$':
        n=int(l[1:]); return None if n<0 else readn(c,n)
    if t in b'*~':
        n=int(l[1:]); return None if n<0 else [reply(c) for _ in range(n)]
    raise Exception(l)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--server', required=True)
    ap.add_argument('--redis', default='/usr/bin/redis-server')
    ap.add_argument('--threads', type=int, default=4)
    ap.add_argument('--ops', type=int, default=20000)
    ap.add_argument('--seed', type=int, default=1)
    args = ap.parse_args()
    dproc, dp, ddir = start([args.server, '--threads', str(args.threads)])
    rproc, rp, rdir = start([args.redis])
    try:
        return run(args, dp, rp)
    finally:
        dproc.terminate()
        rproc.terminate()
        dproc.wait()
        rproc.wait()
        shutil.rmtree(ddir, ignore_errors=True)
        shutil.rmtree(rdir, ignore_errors=True)

def run(args, dp, rp):
    d, r = conn(dp), conn(rp)
    random.seed(args.seed)
    keys=[b'k%d'%i for i in range(6)]+[b'str']
    def mem():
        x=random.random()
        if x<0.5: return str(random.randint(-20,20)).encode()
        if x<0.6: return str(random.choice([2**40,-2**40,2**63-1,-2**63,70000])).encode()
        return random.choice([b'a',b'b',b'c',b'm:%d'%random.randint(0,30),b''])
    def cmd():
        k=lambda: random.choice(keys)
        ms=lambda: [mem() for _ in range(random.randint(1,6))]
        c=random.choice(['sadd','sadd','sadd','srem','scard','sismember','smismember','smembers','sinter','sunion','sdiff','sinterstore','sunionstore','sdiffstore','sintercard','smove','spop','srandmember','del','config'])
        if c=='sadd' or c=='srem' or c=='smismember': return [c.encode(),k()]+ms()
        if c in ('scard','smembers','del'): return [c.encode(),k()]
        if c=='sismember': return [c.encode(),k(),mem()]
        if c in ('sinter','sunion','sdiff'): return [c.encode()]+[k() for _ in range(random.randint(1,4))]
        if c.endswith('store'): return [c.encode(),k()]+[k() for _ in range(random.randint(1,4))]
        if c=='sintercard':
            n=random.randint(1,3); a=[c.encode(),str(n).encode()]+[k() for _ in range(n)]
            if random.random()<0.3: a+=[b'LIMIT',str(random.randint(0,5)).encode()]
            return a
        if c=='smove': return [c.encode(),k(),k(),mem()]
        if c=='spop': return [c.encode(),k(),str(random.randint(0,60)).encode()]
        if c=='srandmember': return [c.encode(),k(),str(random.randint(0,60)).encode()]
        if c=='config': return [b'config',b'set',b'set-max-intset-entries',str(random.choice([3,5,512])).encode()]
    send(d,[b'flushall']);send(r,[b'flushall']);reply(d);reply(r)
    send(d,[b'set',b'str',b'x']);send(r,[b'set',b'str',b'x']);reply(d);reply(r)
    bad=0
    tainted=set()
    for i in range(args.ops):
        a=cmd()
        send(d,a);send(r,a)
        x,y=reply(d),reply(r)
        name=a[0]
        if name in (b'spop',b'srandmember'):
            if isinstance(x,list) and isinstance(y,list): x,y=len(x),len(y)
            if name==b'spop':
                # resync the key: copy redis's state into darter
                send(r,[b'smembers',a[1]]); m=reply(r)
                if isinstance(m,list):
                    send(d,[b'del',a[1]]); reply(d)
                    if m:
                        send(d,[b'sadd',a[1]]+m); reply(d)
                    tainted.add(a[1])
        elif isinstance(x,list) and isinstance(y,list) and name in (b'smembers',b'sinter',b'sunion',b'sdiff'):
            x,y=sorted(x),sorted(y)
        if x!=y:
            bad+=1
            if bad<10: print('DIFF',a,x,y)
        if name==b'del' or name.endswith(b'store'): tainted.discard(a[1])
        if name in (b'sadd',b'smove',b'sinterstore',b'sunionstore',b'sdiffstore',b'srem',b'spop'):
            for kk in [x for x in keys[:6] if x not in tainted]:
                send(d,[b'object',b'encoding',kk]);send(r,[b'object',b'encoding',kk])
                ex,ey=reply(d),reply(r)
                if ex!=ey:
                    bad+=1
                    if bad<10: print('ENC',a,kk,ex,ey)
    print('ops', args.ops, 'diffs', bad)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
