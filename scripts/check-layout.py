#!/usr/bin/env python3
# Checks the layout rules of DESIGN.md on a built tree: the libraries include
# nothing of authd/, nothing in authd/ outside authd/store/ names SQLite or
# libpq, and no objects call each other in a circle. Run by CTest as `layout`:
#     check-layout.py SOURCE_DIR FOLDER=LIBRARY.a ...
# where FOLDER (authd, common, ...) is the source folder LIBRARY.a is built from.
import os
import re
import subprocess
import sys

LIBRARIES = ("common", "dockerapi", "ldapsync", "bundles", "include")
# Sanitizer instrumentation makes every object reference its runtime; those
# are not the project's calls.
RUNTIME = ("__asan", "__ubsan", "__lsan", "__sanitizer", "__odr_asan")

src = sys.argv[1]
archives = [arg.split("=", 1) for arg in sys.argv[2:]]
tree = {}


def sources(top, exts=(".c", ".h")):
    if top not in tree:
        tree[top] = sorted(
            os.path.relpath(os.path.join(root, name), src)
            for root, _, files in os.walk(os.path.join(src, top)) for name in files)
    return [p for p in tree[top] if p.endswith(exts)]


def lines(path):
    with open(os.path.join(src, path), encoding="utf-8", errors="replace") as f:
        yield from enumerate(f, 1)


def source_of(folder, member):
    # An archive names a member by its base name only (keys.c.o); the folder
    # of its library tells bundles/keys.c from authd/authz/keys.c.
    base = re.sub(r"(\.c)?\.o$", ".c", member)
    found = [p for p in sources(folder, (".c",)) if os.path.basename(p) == base]
    return "|".join(found) or folder + "/" + base


# What each object defines and references, read from the archives: the
# calls that were compiled, not the ones the headers declare. Callbacks are
# pointers and leave no reference, which is the point: the rule is about
# direct calls.
defines, refs = {}, {}
for folder, archive in archives:
    nm = subprocess.run(["nm", "-g", "-P", archive], stdout=subprocess.PIPE, text=True, check=True)
    for line in nm.stdout.splitlines():
        m = re.match(r".*\[(.+)\]:$", line)
        if m:
            obj = source_of(folder, m.group(1))
            refs[obj] = set()
            continue
        f = line.split()
        if len(f) < 2 or f[0].startswith(RUNTIME):
            continue
        if f[1] in ("U", "w", "v"):
            refs[obj].add(f[0])
        else:
            defines.setdefault(f[0], obj)

edges = {}  # (caller, callee) -> the symbols between them
for obj, syms in refs.items():
    for s in syms:
        if defines.get(s, obj) != obj:
            edges.setdefault((obj, defines[s]), set()).add(s)


def reach(start):
    seen, todo = set(), [start]
    while todo:
        a = todo.pop()
        for b in {b for (x, b) in edges if x == a} - seen:
            seen.add(b)
            todo.append(b)
    return seen


# Two objects are on one circle when each reaches the other. With some sixty
# objects a walk from each is fast enough and plainer than Tarjan's.
reached = {obj: reach(obj) for obj in refs}
circles = []
for obj in sorted(refs):
    ring = sorted({obj} | {o for o in reached[obj] if obj in reached[o]})
    if len(ring) > 1 and ring not in circles:
        circles.append(ring)
for ring in circles:
    print("layout: circle of %d objects: %s" % (len(ring), " ".join(ring)))
    for (a, b), syms in sorted(edges.items()):
        if a in ring and b in ring:
            print("layout:   %s -> %s: %s" % (a, b, " ".join(sorted(syms))))

# A name that resolves beside the including file or in include/ is the
# library's own; one that does not is authd's if a header under authd/ ends
# with it, since authd_core exports authd/ as an include directory and
# "store/store.h" compiles in anything that links it.
includes = 0
authd_headers = sources("authd", (".h",))
for path in (p for top in LIBRARIES for p in sources(top)):
    for n, line in lines(path):
        m = re.match(r'\s*#\s*include\s*[<"]([^>"]+)[>"]', line)
        if not m:
            continue
        name = m.group(1)
        local = [
            os.path.relpath(os.path.normpath(os.path.join(src, d, name)), src)
            for d in (os.path.dirname(path), "include")
        ]
        local = [p for p in local if os.path.isfile(os.path.join(src, p))]
        theirs = [p for p in local if p.startswith("authd/")]
        if not local:
            tail = "/" + os.path.normpath(name).lstrip("./")
            theirs = [h for h in authd_headers if ("/" + h).endswith(tail)]
        if theirs:
            includes += 1
            print("layout: %s:%d includes %s, which is %s" % (path, n, name, theirs[0]))

# The databases' libraries (SQLite, and PostgreSQL's libpq), by their tokens
# in the sources, and by the calls in the objects, which also catch a store
# header's macro that expands to a call elsewhere. Tests of the drivers
# themselves may name them; this rule is about authd/.
DRIVERS = (("SQLite", r"\bsqlite3", "sqlite3"),
           ("libpq", r"\blibpq|\bPQ[a-z]\w*\s*\(|\bPG(conn|result)\b", "PQ"))
sqlite = 0
for path in sources("authd"):
    if path.startswith("authd/store/"):
        continue
    for n, line in lines(path):
        for name, token, _ in DRIVERS:
            if re.search(token, line):
                sqlite += 1
                print("layout: %s:%d names %s: %s" % (path, n, name, line.strip()))
for obj, syms in sorted(refs.items()):
    for name, _, prefix in DRIVERS:
        calls = sorted(s for s in syms if s.startswith(prefix))
        if calls and not all(p.startswith("authd/store/") for p in obj.split("|")):
            sqlite += 1
            print("layout: %s calls %s: %s" % (obj, name, " ".join(calls)))

def count(n, what):
    return "%d %s%s" % (n, what, "" if n == 1 else "s")


print("layout: %s, %s; %s of authd/ in %s; %s of SQLite or libpq in authd/ outside "
      "authd/store" %
      (count(len(refs), "object"), count(len(circles), "circle"), count(includes, "include"),
       " ".join(LIBRARIES), count(sqlite, "naming")))
sys.exit(1 if circles or includes or sqlite else 0)
