#!/usr/bin/env python3
"""Checks the layout rules of ../shared/DESIGN.md section 1 on a build tree.

    ci/check-layout.py BUILD_DIR [NM]

From the library's object files (CMakeFiles/mproc_static.dir, and the
optional components' mpi/CMakeFiles/mproc_mpi.dir and
apr/CMakeFiles/mproc_apr.dir when built), with nm:
  1. no source file depends on a file that depends back on it: the graph
     "a.c calls or uses a symbol defined in b.c" has no cycle;
  2. platform/ calls nothing in core/ but the error and log helpers;
  2b. nothing in core/ or platform/ uses the optional components (mpi/, apr/);
  2c. apr/ uses only public calls (no mproc__ symbol), so that it works over
      the shared library as over the static one;
and from the sources:
  3. no OS name (__linux__, __APPLE__, __FreeBSD__, ...) in core/ or
     platform/: features are MPROC_HAVE_* and OS identity comes from CMake.
Exits 1 with the offending files or symbols listed.
"""
import os
import re
import subprocess
import sys

ALLOWED_FROM_PLATFORM = {"mproc__error", "mproc__errorf", "mproc__sys_error", "mproc__log"}
OS_NAMES = re.compile(r"\b(__linux__|__linux|__APPLE__|__MACH__|__FreeBSD__|__NetBSD__|__OpenBSD__|"
                      r"__DragonFly__|__sun|_AIX)\b")


def objects(build):
    for root, prefix in ((os.path.join(build, "CMakeFiles", "mproc_static.dir"), ""),
                         (os.path.join(build, "mpi", "CMakeFiles", "mproc_mpi.dir"), "mpi/"),
                         (os.path.join(build, "apr", "CMakeFiles", "mproc_apr.dir"), "apr/")):
        for dirpath, _, files in os.walk(root):
            for f in files:
                if f.endswith((".o", ".obj")):
                    full = os.path.join(dirpath, f)
                    rel = os.path.relpath(full, root)
                    yield prefix + rel[: rel.rindex(".c.") + 2].replace(os.sep, "/"), full


def symbols(nm, path):
    out = subprocess.run([nm, "-P", path], check=True, capture_output=True, text=True).stdout
    defined, undefined = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        name, kind = parts[0].lstrip("_") if parts[0].startswith("_mproc") else parts[0], parts[1]
        if kind == "U":
            undefined.add(name)
        elif kind.isupper():
            defined.add(name)
    return defined, undefined


def cycles(graph):
    """Strongly connected components with more than one file (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    build, nm = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "nm"
    src = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    files = dict(objects(build))
    if not files:
        sys.exit(f"check-layout: no object files under {build}/CMakeFiles/mproc_static.dir")
    defs, uses = {}, {}
    for f, path in files.items():
        defs[f], uses[f] = symbols(nm, path)
    owner = {}
    for f, names in defs.items():
        for n in names:
            owner.setdefault(n, f)
    graph = {f: sorted({owner[n] for n in uses[f] if n in owner and owner[n] != f}) for f in files}
    problems = []
    for comp in cycles(graph):
        problems.append("files depend on each other in a cycle: " + " <-> ".join(comp))
    for f in sorted(files):
        if not f.startswith("platform/"):
            continue
        called = sorted(n for n in uses[f] if n in owner and owner[n].startswith("core/")
                        and n not in ALLOWED_FROM_PLATFORM)
        if called:
            problems.append(f"{f} calls into core/: {', '.join(called)}")
    for f in sorted(files):
        if f.startswith(("core/", "platform/")):
            optional = sorted(n for n in uses[f] if n in owner and owner[n].startswith(("mpi/", "apr/")))
            if optional:
                problems.append(f"{f} uses an optional component: {', '.join(optional)}")
        if f.startswith("apr/"):
            internal = sorted(n for n in uses[f] if n.startswith("mproc__"))
            if internal:
                problems.append(f"{f} uses internal calls (mproc::apr takes public ones only): {', '.join(internal)}")
    for top in ("core", "platform"):
        for dirpath, _, names in os.walk(os.path.join(src, top)):
            for name in sorted(names):
                if not name.endswith((".c", ".h")):
                    continue
                path = os.path.join(dirpath, name)
                with open(path, encoding="utf-8") as fh:
                    for no, line in enumerate(fh, 1):
                        if OS_NAMES.search(line):
                            problems.append(f"{os.path.relpath(path, src)}:{no}: OS name: {line.strip()}")
    edges = sum(len(v) for v in graph.values())
    if problems:
        print("check-layout: " + f"{len(problems)} problem(s) in {build}:")
        for p in problems:
            print("  " + p)
        sys.exit(1)
    print(f"check-layout: {len(files)} files, {edges} dependencies, no cycle; platform/ calls only "
          f"{', '.join(sorted(ALLOWED_FROM_PLATFORM))} in core/; core/ and platform/ use nothing of mpi/ or apr/; apr/ only public calls; "
          f"no OS name in core/ or platform/")


if __name__ == "__main__":
    main()
