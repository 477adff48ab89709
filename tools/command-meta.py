#!/usr/bin/env python3
"""Captures Redis's command metadata (COMMAND INFO and COMMAND DOCS, RESP3) from a running
redis-server or redis-sentinel 7.0.15 and writes it as JSON: the data Picket's command tables
are built from (src/command/). It reads the server's public replies only.

    tools/command-meta.py PORT OUT.json

Each command: arity, flags, first/last/step, acl, tips, key_specs (ordered trees), doc (the
ordered COMMAND DOCS map without its subcommands) and subcommands (by full name, sorted).
Before writing, every entry is rendered back with the same rules Picket uses and compared
with the server's bytes, so the JSON loses nothing.
"""
import json, socket, sys

def connect(port):
    s = socket.create_connection(("127.0.0.1", port))
    f = s.makefile("rb")
    return s, f

def send(s, *args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    s.sendall(out)

class Simple(str):
    pass

class RSet(list):
    pass

class RMap(list):  # list of (k, v)
    pass

def read(f):
    line = f.readline()
    t, rest = line[:1], line[1:-2]
    if t == b"+":
        return Simple(rest.decode())
    if t == b"-":
        raise RuntimeError(rest.decode())
    if t == b":":
        return int(rest)
    if t == b"$":
        n = int(rest)
        if n < 0:
            return None
        d = f.read(n + 2)[:-2]
        return d.decode()
    if t in (b"*", b"~"):
        n = int(rest)
        items = [read(f) for _ in range(n)]
        return RSet(items) if t == b"~" else items
    if t == b"%":
        n = int(rest)
        return RMap([(read(f), read(f)) for _ in range(n)])
    if t == b"_":
        return None
    raise RuntimeError("unexpected %r" % line)

def raw(f):
    """Reads one reply and returns its bytes too (by re-reading through a recorder)."""
    buf = bytearray()
    class Rec:
        def readline(self):
            l = f.readline(); buf.extend(l); return l
        def read(self, n):
            d = f.read(n); buf.extend(d); return d
    v = read(Rec())
    return v, bytes(buf)

# JSON form: maps become ordered objects; the few sets and simple strings are implied by the
# field name (Picket renders them with the same rules).
SETS_OF_SIMPLE = {"flags", "doc_flags"}
SET_FIELDS = {"history"}

def to_json(v):
    if isinstance(v, RMap):
        return {k: to_json(x) for k, x in v}
    if isinstance(v, list):
        return [to_json(x) for x in v]
    return v

def render(v, key=None):
    """RESP3 bytes of a JSON tree, as Picket renders it."""
    if isinstance(v, dict):
        out = b"%%%d\r\n" % len(v)
        for k, x in v.items():
            out += render(k) + render(x, k)
        return out
    if isinstance(v, list):
        if key in SETS_OF_SIMPLE:
            return b"~%d\r\n" % len(v) + b"".join(b"+%s\r\n" % x.encode() for x in v)
        head = b"~" if key in SET_FIELDS else b"*"
        return head + b"%d\r\n" % len(v) + b"".join(render(x) for x in v)
    if isinstance(v, int):
        return b":%d\r\n" % v
    d = v.encode()
    return b"$%d\r\n%s\r\n" % (len(d), d)

def render_info(e, name):
    out = b"*10\r\n" + render(name) + b":%d\r\n" % e["arity"]
    out += b"~%d\r\n" % len(e["flags"]) + b"".join(b"+%s\r\n" % x.encode() for x in e["flags"])
    out += b"".join(b":%d\r\n" % x for x in (e["first_key"], e["last_key"], e["step"]))
    out += b"~%d\r\n" % len(e["acl"]) + b"".join(b"+%s\r\n" % x.encode() for x in e["acl"])
    out += b"~%d\r\n" % len(e["tips"]) + b"".join(render(x) for x in e["tips"])
    out += b"~%d\r\n" % len(e["key_specs"]) + b"".join(render(x) for x in e["key_specs"])
    # Redis sends the subcommands as an array, and an empty set when there are none.
    subs = e.get("subcommands", {})
    if not subs:
        return out + b"~0\r\n"
    return out + b"*%d\r\n" % len(subs) + b"".join(render_info(s, n) for n, s in subs.items())

def entry(info, doc):
    name, arity, flags, first, last, step, acl, tips, specs, subs = info
    e = {
        "arity": arity, "flags": list(flags), "first_key": first, "last_key": last,
        "step": step, "acl": list(acl), "tips": list(tips),
        "key_specs": [to_json(k) for k in specs],
    }
    d = to_json(doc) if doc is not None else {}
    subdocs = d.pop("subcommands", {})
    e["doc"] = d
    if subs:
        e["subcommands"] = {}
        for s in sorted(subs, key=lambda s: s[0]):
            sd = RMap([(k, v) for k, v in subdocs_raw(doc).get(s[0], RMap())])
            e["subcommands"][s[0]] = entry(s, sd)
    return e

def subdocs_raw(doc):
    for k, v in (doc or []):
        if k == "subcommands":
            return {n: x for n, x in v}
    return {}

def main():
    port, path = int(sys.argv[1]), sys.argv[2]
    s, f = connect(port)
    send(s, "HELLO", "3"); read(f)
    send(s, "COMMAND", "LIST"); names = sorted(x for x in read(f) if "|" not in x)
    out = {}
    for n in names:
        send(s, "COMMAND", "INFO", n); (info,), raw_info = raw(f)
        send(s, "COMMAND", "DOCS", n); docs = read(f)
        doc = dict(docs).get(n) if docs else None
        e = entry(info, doc)
        # Round trip: the server's entry, with containers' subcommands sorted by name.
        want = raw_info
        if info[9]:
            sub_raw = []
            for sname in sorted(x[0] for x in info[9]):
                send(s, "COMMAND", "INFO", sname); (_,), r = raw(f)
                sub_raw.append(r[len(b"*1\r\n"):])
            # Rebuild the container from its fields plus sorted subcommand entries.
            head = render_info({**e, "subcommands": {}}, n)[: -len(b"~0\r\n")]
            want = b"*1\r\n" + head + b"*%d\r\n" % len(sub_raw) + b"".join(sub_raw)
        got = b"*1\r\n" + render_info(e, n)
        if got != want:
            sys.exit("round trip differs for %s:\n%r\n%r" % (n, got[:400], want[:400]))
        if doc is not None:
            send(s, "COMMAND", "DOCS", n); _, raw_doc = raw(f)
            d = dict(e["doc"])
            if "subcommands" not in d and not e.get("subcommands"):
                got = b"%1\r\n" + render(n) + render(d)
                if got != raw_doc:
                    sys.exit("docs round trip differs for %s:\n%r\n%r" % (n, got[:600], raw_doc[:600]))
        for sname, se in e.get("subcommands", {}).items():
            send(s, "COMMAND", "DOCS", sname); _, raw_doc = raw(f)
            got = b"%1\r\n" + render(sname) + render(se["doc"])
            if got != raw_doc:
                sys.exit("docs round trip differs for %s:\n%r\n%r" % (sname, got[:600], raw_doc[:600]))
        out[n] = e
    with open(path, "w") as fh:
        json.dump(out, fh, indent=1, ensure_ascii=False)
        fh.write("\n")
    print("%d commands written to %s" % (len(out), path))

main()
