"""redis-py's Sentinel client writing through a failover.

usage: redispy_sentinel.py <protocol 2|3> <seconds> <sentinel-port> [<sentinel-port> ...]

Writes INCR continuously through Sentinel.master_for; retries on connection errors, as an
application would. Exits 0 and prints "ok <first-master> <last-master> <writes>" when it wrote to
two different masters (so it followed the failover), else exits 1.
"""
import sys
import time

import redis
from redis.sentinel import MasterNotFoundError, Sentinel


def main():
    proto = int(sys.argv[1])
    seconds = float(sys.argv[2])
    ports = [int(p) for p in sys.argv[3:]]
    sentinel = Sentinel([("127.0.0.1", p) for p in ports], socket_timeout=0.5, protocol=proto)
    master = sentinel.master_for("mymaster", socket_timeout=0.5, protocol=proto)
    masters = []
    writes = 0
    end = time.time() + seconds
    while time.time() < end:
        try:
            master.incr("redispy:counter")
            writes += 1
            addr = sentinel.discover_master("mymaster")
            if not masters or masters[-1] != addr:
                masters.append(addr)
            if len(masters) >= 2 and writes > 50:
                break
        except (redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError, MasterNotFoundError):
            time.sleep(0.05)
        time.sleep(0.01)
    if len(masters) >= 2:
        print("ok", masters[0], masters[-1], writes)
        return 0
    print("no failover followed", masters, writes)
    return 1


if __name__ == "__main__":
    sys.exit(main())
