"""Libraries that run Lua scripts, against one server: redis-py's Lock (its acquire, extend,
reacquire and release are EVALSHA scripts) with contention among processes, and the `limits`
package's moving window (SCRIPT LOAD, then EVALSHA).

Usage: redispy_scripts.py PORT. Prints one line per check and exits 0 when all pass.
"""

import multiprocessing
import sys
import time

import redis
from redis.exceptions import LockError, LockNotOwnedError

PORT = int(sys.argv[1])


def client():
    return redis.Redis(host="127.0.0.1", port=PORT, socket_timeout=10)


def check(name, ok):
    print(("ok   " if ok else "FAIL ") + name, flush=True)
    if not ok:
        sys.exit(1)


def lock_basics():
    r = client()
    r.delete("lock:a")
    a = r.lock("lock:a", timeout=5)
    check("acquire", a.acquire(blocking=False))
    b = r.lock("lock:a", timeout=5)
    check("a second owner is refused", not b.acquire(blocking=False))
    check("owned", a.owned() and a.locked())
    check("extend", a.extend(10))
    check("extend adds to the ttl", r.pttl("lock:a") > 10000)
    check("reacquire", a.reacquire())
    check("reacquire resets the ttl", 4000 < r.pttl("lock:a") <= 5000)
    a.release()
    check("released", not r.exists("lock:a"))
    try:
        a.release()
        check("releasing twice fails", False)
    except LockNotOwnedError:
        check("releasing twice fails", True)
    except LockError:
        check("releasing twice fails", True)
    c = r.lock("lock:a", timeout=5)
    check("free again", c.acquire(blocking=False))
    r.set("lock:a", "someone-else")
    try:
        c.extend(5)
        check("extending a lock another owner took fails", False)
    except LockNotOwnedError:
        check("extending a lock another owner took fails", True)
    r.delete("lock:a")


def worker(n, rounds, out):
    r = client()
    lock = r.lock("lock:counter", timeout=5, blocking_timeout=30)
    for _ in range(rounds):
        with lock:
            # Not atomic on its own: only the lock keeps the increments from being lost.
            v = int(r.get("counter") or 0)
            r.set("counter", v + 1)
    out.put(n)


def lock_contention():
    r = client()
    r.delete("counter", "lock:counter")
    procs, rounds = 4, 50
    q = multiprocessing.Queue()
    ps = [multiprocessing.Process(target=worker, args=(i, rounds, q)) for i in range(procs)]
    for p in ps:
        p.start()
    for p in ps:
        p.join(60)
    check("every process finished", all(p.exitcode == 0 for p in ps))
    check(
        "the lock kept every increment (%s)" % r.get("counter"),
        int(r.get("counter")) == procs * rounds,
    )


def moving_window():
    from limits import parse
    from limits.storage import RedisStorage
    from limits.strategies import MovingWindowRateLimiter

    storage = RedisStorage("redis://127.0.0.1:%d" % PORT)
    limiter = MovingWindowRateLimiter(storage)
    limit = parse("5/second")
    hits = [limiter.hit(limit, "user", "a") for _ in range(7)]
    check("moving window allows 5 then refuses (%s)" % hits, hits == [True] * 5 + [False] * 2)
    stats = limiter.get_window_stats(limit, "user", "a")
    check("window stats: none remaining (%s)" % (stats,), stats.remaining == 0)
    time.sleep(1.1)
    check("the window moves on", limiter.hit(limit, "user", "a"))
    check("test() does not count", limiter.test(limit, "user", "b"))


if __name__ == "__main__":
    lock_basics()
    lock_contention()
    moving_window()
    print("all passed")
