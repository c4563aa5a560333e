#!/usr/bin/env python3
"""Checks what Doxygen itself does not: that every public name has a doc.

    ci/check-docs.py XML_DIR

XML_DIR is the XML output of the API reference (docs/Doxyfile.in,
GENERATE_XML).  Doxygen's WARN_IF_UNDOCUMENTED covers functions, macros,
typedefs and struct members, but not the values of a documented enum
(Doxygen 1.9.4 lists MPROC_E* values with no comment in silence).  This
lists every public member -- functions, macros, typedefs, enums, enum
values, struct members -- with neither a brief nor a detailed description,
and exits 1 if there is one.  Internal names (mproc__*, MPROC__*) are not
public.
"""
import glob
import os
import sys
import xml.etree.ElementTree as ET


def described(node):
    for tag in ("briefdescription", "detaileddescription"):
        d = node.find(tag)
        if d is not None and "".join(d.itertext()).strip():
            return True
    return False


def public(name):
    return not name.startswith(("mproc__", "MPROC__")) and not name.startswith("@")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    xml_dir = sys.argv[1]
    files = glob.glob(os.path.join(xml_dir, "*.xml"))
    if not files:
        sys.exit("check-docs: no XML in %s (GENERATE_XML)" % xml_dir)
    missing = set()
    checked = set()
    for path in files:
        root = ET.parse(path).getroot()
        for member in root.iter("memberdef"):
            name = member.findtext("name") or ""
            kind = member.get("kind")
            loc = member.find("location")
            where = "%s:%s" % (os.path.basename(loc.get("file")), loc.get("line")) if loc is not None else "?"
            if public(name):
                checked.add((kind, name))
                if not described(member):
                    missing.add("%s: %s %s" % (where, kind, name))
            if kind == "enum":
                for value in member.findall("enumvalue"):
                    vname = value.findtext("name") or ""
                    checked.add(("enum value", vname))
                    if public(vname) and not described(value):
                        missing.add("%s: enum value %s" % (where, vname))
    for line in sorted(missing):
        print("undocumented: " + line)
    if missing:
        print("check-docs: %d public names without documentation" % len(missing))
        return 1
    print("check-docs: %d public names, each documented" % len(checked))
    return 0


if __name__ == "__main__":
    sys.exit(main())
