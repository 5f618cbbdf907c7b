#!/usr/bin/env python3
"""scripts/gen_command_docs.py — generate server/command_docs.inc from Redis's
command JSON files (src/commands/*.json of the Redis 7.0 source).

The generated table holds what darter's command table does not: argument
trees, key specs, tips, history, doc flags and the Redis command flags darter
does not model. COMMAND INFO / COMMAND DOCS (server/cmd_command.c) look a
command up in it by full name ("get", "config|get").

Usage: scripts/gen_command_docs.py /path/to/redis/src/commands > server/command_docs.inc
"""
import glob
import json
import os
import sys

ARG_TYPES = ["string", "integer", "double", "key", "pattern", "unix-time",
             "pure-token", "oneof", "block"]
# Bit order = the order Redis prints them in (addReplyFlagsForCommand).
CMD_FLAGS = ["WRITE", "READONLY", "DENYOOM", "MODULE", "ADMIN", "PUBSUB", "NOSCRIPT",
             "BLOCKING", "LOADING", "STALE", "SKIP_MONITOR", "SKIP_SLOWLOG", "ASKING",
             "FAST", "NO_AUTH", "NO_MANDATORY_KEYS", "NO_ASYNC_LOADING", "NO_MULTI",
             "MOVABLE_KEYS", "ALLOW_BUSY",
             # hidden ones
             "MAY_REPLICATE", "SENTINEL", "ONLY_SENTINEL", "PROTECTED",
             "TOUCHES_ARBITRARY_KEYS"]
KEY_FLAGS = ["RO", "RW", "OW", "RM", "ACCESS", "UPDATE", "INSERT", "DELETE", "NOT_KEY",
             "INCOMPLETE", "VARIABLE_FLAGS"]
ACL_CATS = ["KEYSPACE", "READ", "WRITE", "SET", "SORTEDSET", "LIST", "HASH", "STRING",
            "BITMAP", "HYPERLOGLOG", "GEO", "STREAM", "PUBSUB", "ADMIN", "FAST", "SLOW",
            "BLOCKING", "DANGEROUS", "CONNECTION", "TRANSACTION", "SCRIPTING"]
DOC_FLAGS = ["DEPRECATED", "SYSCMD"]


def cstr(s):
    if s is None:
        return "NULL"
    out = ['"']
    for ch in s:
        if ch == '"':
            out.append('\\"')
        elif ch == '\\':
            out.append('\\\\')
        elif ch == '\n':
            out.append('\\n')
        elif ord(ch) < 32 or ord(ch) > 126:
            for b in ch.encode("utf-8"):
                out.append('\\%03o' % b)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def bits(names, order, what):
    v = 0
    for n in names:
        if n not in order:
            sys.exit("unknown %s flag %s" % (what, n))
        v |= 1 << order.index(n)
    return v


def arg_code(a, ind):
    flags = 0
    if a.get("optional"):
        flags |= 1
    if a.get("multiple"):
        flags |= 2
    if a.get("multiple_token"):
        flags |= 4
    token = a.get("token")
    fields = [
        ".name = %s" % cstr(a["name"].lower()),
        ".type = %d" % ARG_TYPES.index(a["type"]),
        ".key_spec_index = %d" % a.get("key_spec_index", -1),
        ".flags = %d" % flags,
    ]
    if token:
        fields.append(".token = %s" % cstr(token.upper()))
    for f in ("summary", "since", "deprecated_since"):
        if a.get(f):
            fields.append(".%s = %s" % (f, cstr(a[f])))
    if a["type"] in ("oneof", "block"):
        subs = a.get("arguments", [])
        fields.append(".nsub = %d" % len(subs))
        fields.append(".sub = " + args_code(subs, ind + 1))
    return "{" + ", ".join(fields) + "}"


def args_code(args, ind):
    pad = "    " * (ind + 1)
    inner = (",\n" + pad).join(arg_code(a, ind) for a in args)
    return "(const struct doc_arg[]){\n%s%s}" % (pad, inner)


def spec_code(s):
    bs = s["begin_search"]
    fk = s["find_keys"]
    f = [".flags = %d" % bits(s.get("flags", []), KEY_FLAGS, "key spec")]
    if s.get("notes"):
        f.append(".notes = %s" % cstr(s["notes"]))
    if "index" in bs:
        f += [".bs_type = KS_BS_INDEX", ".bs_pos = %d" % bs["index"]["pos"]]
    elif "keyword" in bs:
        f += [".bs_type = KS_BS_KEYWORD", ".bs_keyword = %s" % cstr(bs["keyword"]["keyword"]),
              ".bs_pos = %d" % bs["keyword"]["startfrom"]]
    else:
        f.append(".bs_type = KS_BS_UNKNOWN")
    if "range" in fk:
        r = fk["range"]
        f += [".fk_type = KS_FK_RANGE", ".fk = {%d, %d, %d}" % (r["lastkey"], r["step"], r["limit"])]
    elif "keynum" in fk:
        k = fk["keynum"]
        f += [".fk_type = KS_FK_KEYNUM",
              ".fk = {%d, %d, %d}" % (k["keynumidx"], k["firstkey"], k["step"])]
    else:
        f.append(".fk_type = KS_FK_UNKNOWN")
    return "{" + ", ".join(f) + "}"


def command_code(full, c):
    f = [".name = %s" % cstr(full)]
    for k in ("summary", "since", "complexity", "deprecated_since", "replaced_by"):
        if c.get(k):
            f.append(".%s = %s" % (k, cstr(c[k])))
    f.append(".group = %s" % cstr(c["group"].replace("_", "-")))
    f.append(".arity = %d" % c["arity"])
    f.append(".flags = 0x%xu" % bits(c.get("command_flags", []), CMD_FLAGS, "command"))
    f.append(".acl = 0x%xu" % bits(c.get("acl_categories", []), ACL_CATS, "acl"))
    f.append(".doc_flags = %d" % bits(c.get("doc_flags", []), DOC_FLAGS, "doc"))
    if c.get("get_keys_function"):
        f.append(".has_getkeys = true")
    hist = c.get("history") or []
    if hist:
        f.append(".nhistory = %d" % len(hist))
        f.append(".history = (const struct doc_history[]){%s}" %
                 ", ".join("{%s, %s}" % (cstr(h[0]), cstr(h[1])) for h in hist))
    tips = c.get("command_tips") or []
    if tips:
        f.append(".ntips = %d" % len(tips))
        f.append(".tips = (const char *const[]){%s}" % ", ".join(cstr(t.lower()) for t in tips))
    specs = c.get("key_specs") or []
    if specs:
        f.append(".nspecs = %d" % len(specs))
        f.append(".specs = (const struct doc_keyspec[]){\n        %s}" %
                 ",\n        ".join(spec_code(s) for s in specs))
    args = c.get("arguments") or []
    if args:
        f.append(".nargs = %d" % len(args))
        f.append(".args = " + args_code(args, 1))
    return "    {" + ",\n     ".join(f) + "}"


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    entries = {}
    for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.json"))):
        with open(path) as fh:
            doc = json.load(fh)
        for name, c in doc.items():
            full = name.lower()
            if c.get("container"):
                full = c["container"].lower() + "|" + full
            entries[full] = c
    out = sys.stdout
    out.write("/* server/command_docs.inc — GENERATED by scripts/gen_command_docs.py from\n"
              " * Redis 7.0's src/commands/ JSON files. Do not edit; regenerate.\n"
              " * Sorted by name (binary search). Included by server/cmd_command.c. */\n\n")
    out.write("static const struct command_doc command_docs[] = {\n")
    names = sorted(entries)
    out.write(",\n".join(command_code(n, entries[n]) for n in names))
    out.write("\n};\n")


if __name__ == "__main__":
    main()
