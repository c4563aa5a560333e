#!/usr/bin/python3
"""Checks the GitHub Actions workflows before anything runs them.

    /usr/bin/python3 ci/check-workflow.py [WORKFLOW.yml...]

Default: every .github/workflows/*.yml and *.yaml of this checkout.  Needs
PyYAML (Debian's python3-yaml; ci/test.sh installs it).  Checks that each
workflow parses (no duplicate keys), has `on:` and `jobs:`, that every job
has `runs-on` and a non-empty list of `steps`, that every step has exactly
one of `run` or `uses`, that every `uses` names an action as owner/repo@ref
(or owner/repo/path@ref), that every `${{ matrix.X }}` a job uses is in its
matrix, and that every path under ci/ a `run` names exists in the repository
(and, for a .sh script, is executable).  Prints each problem and exits 1 if
there is any; prints a one-line summary and exits 0 otherwise.
"""
import glob
import os
import re
import stat
import sys

try:
    import yaml
except ImportError:
    sys.exit("ci/check-workflow.py: needs PyYAML (apt-get install python3-yaml; "
             "run it with /usr/bin/python3)")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# owner/repo[/path]@ref, as GitHub resolves `uses:` for a published action.
ACTION = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(/[^@\s]+)?@[^@\s]+$")
# A path under ci/ in a shell command: at the start of a word (after a space,
# quote, `=`, `(`, `;`, `&`, `|` or `./`).
CI_PATH = re.compile(r"(?:^|(?<=[\s'\"=(;&|]))(?:\./)?(ci/[A-Za-z0-9_./-]*[A-Za-z0-9_-])")
SOURCED = re.compile(r"(?:^|\s)(?:\.|source)\s+(?:\./)?$")  # `. ci/lib.sh` needs no +x
EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.S)
MATRIX_REF = re.compile(r"\bmatrix\.([A-Za-z0-9_-]+)")


class UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that refuses a key given twice in one mapping."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, "duplicate key %r" % (key,), key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def strings(value):
    """Every string inside a YAML value (recursively)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from strings(k)
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def matrix_keys(job):
    matrix = (job.get("strategy") or {}).get("matrix")
    if not isinstance(matrix, dict):
        return None  # no matrix, or one built by an expression: not checkable
    keys = {k for k in matrix if k not in ("include", "exclude")}
    for entry in matrix.get("include") or []:
        if isinstance(entry, dict):
            keys.update(entry)
    return keys


def check_run(where, command, problems):
    for m in CI_PATH.finditer(command):
        path = m.group(1)
        if re.match(r"[./]*\$\{\{", command[m.end():]):
            continue  # the name is completed by an expression
        full = os.path.join(ROOT, path)
        if not os.path.exists(full):
            problems.append("%s: runs %s, which does not exist" % (where, path))
        elif (path.endswith(".sh") and not os.stat(full).st_mode & stat.S_IXUSR
              and not SOURCED.search(command[:m.start()])):
            problems.append("%s: runs %s, which is not executable (chmod +x)" % (where, path))


def check_workflow(path, problems):
    rel = os.path.relpath(path, ROOT) if path.startswith(ROOT + os.sep) else path
    try:
        with open(path, encoding="utf-8") as f:
            doc = yaml.load(f, Loader=UniqueKeyLoader)
    except (OSError, yaml.YAMLError) as e:
        problems.append("%s: %s" % (rel, e))
        return 0
    if not isinstance(doc, dict):
        problems.append("%s: not a mapping" % rel)
        return 0
    # YAML 1.1 (PyYAML) reads the key `on` as the boolean true.
    if "on" not in doc and True not in doc:
        problems.append("%s: no `on:` (the events that run it)" % rel)
    jobs = doc.get("jobs")
    if not isinstance(jobs, dict) or not jobs:
        problems.append("%s: no `jobs:` mapping" % rel)
        return 0
    nsteps = 0
    for name, job in jobs.items():
        where = "%s: job %s" % (rel, name)
        if not isinstance(job, dict):
            problems.append("%s: not a mapping" % where)
            continue
        if not job.get("runs-on"):
            problems.append("%s: no runs-on" % where)
        keys = matrix_keys(job)
        if keys is not None:
            # Expressions: inside ${{ }}, and the whole of an `if:`.
            exprs = [e for s in strings(job) for e in EXPRESSION.findall(s)]
            exprs += [str(x.get("if")) for x in [job] + list(job.get("steps") or [])
                      if isinstance(x, dict) and "if" in x]
            for e in exprs:
                for key in MATRIX_REF.findall(e):
                    if key not in keys:
                        problems.append("%s: uses matrix.%s, which its matrix does not define"
                                        % (where, key))
        steps = job.get("steps")
        if not isinstance(steps, list) or not steps:
            problems.append("%s: no steps" % where)
            continue
        for i, step in enumerate(steps, 1):
            nsteps += 1
            swhere = "%s, step %d%s" % (where, i,
                                        " (%s)" % step["name"] if isinstance(step, dict)
                                        and "name" in step else "")
            if not isinstance(step, dict):
                problems.append("%s: not a mapping" % swhere)
                continue
            if ("run" in step) == ("uses" in step):
                problems.append("%s: needs exactly one of run or uses" % swhere)
                continue
            if "uses" in step:
                uses = step["uses"]
                if not isinstance(uses, str) or not ACTION.match(uses):
                    problems.append("%s: uses %r, not owner/repo@ref" % (swhere, uses))
            else:
                if not isinstance(step["run"], str) or not step["run"].strip():
                    problems.append("%s: empty run" % swhere)
                    continue
                check_run(swhere, step["run"], problems)
    return nsteps


def main(argv):
    paths = argv[1:] or sorted(glob.glob(os.path.join(ROOT, ".github", "workflows", "*.yml")) +
                               glob.glob(os.path.join(ROOT, ".github", "workflows", "*.yaml")))
    if not paths:
        print("ci/check-workflow.py: no workflow in .github/workflows", file=sys.stderr)
        return 1
    problems = []
    nsteps = sum(check_workflow(os.path.abspath(p), problems) for p in paths)
    for p in problems:
        print("ci/check-workflow.py: %s" % p, file=sys.stderr)
    if problems:
        return 1
    print("workflows ok: %d file(s), %d steps" % (len(paths), nsteps))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
