#!/usr/bin/python3
"""check_layers.py — every #include "..." in the product goes down the layers.

The folders are the pipeline (docs/architecture.md). The Makefile already compiles each
folder with the include paths of what it may use, so a private header of another folder
cannot be found; the shared contracts in include/ are all on every path, so this script
holds them to their layer. It prints each offending line as FILE:LINE: ... and exits 1;
tests/e2e/layers.sh runs it in `make test`.

Usage: tools/check_layers.py [TOP]
"""
import os
import re
import sys

# Which layer each contract in include/ belongs to. "base" is what every layer uses:
# addresses, hashes, log, time, rules and geolocation, and the window the capture hands
# the analyzer.
CONTRACTS = {
    "tapir.h": "base", "log.h": "base", "notify.h": "base", "sketch.h": "base",
    "rules.h": "base", "geo.h": "base", "window.h": "base", "wqueue.h": "base",
    "timeutil.h": "base", "parse.h": "base", "ilist.h": "base",
    "sensor.h": "sensor", "capture.h": "sensor", "decode.h": "sensor",
    "iforest.h": "forest", "model.h": "forest",
    "alert.h": "output", "store.h": "output", "output.h": "output",
    "analyzer.h": "analyzer", "behaviour.h": "analyzer",
    "cli.h": "cli",
}
# What a folder may include, besides its own private headers (the Makefile's INC_*).
ALLOWED = {
    "common": {"base"},
    "sensor": {"base", "sensor"},
    "forest": {"base", "forest"},
    "output": {"base", "output"},
    "analyzer": {"base", "output", "forest", "analyzer"},
    "synth": {"base", "sensor", "synth"},
    "cli": {"base", "sensor", "forest", "output", "analyzer", "synth", "cli"},
}
FOLDERS = ["common", "sensor", "forest", "output", "analyzer", "synth", "cli"]
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def layer_of_header(top, folder, name):
    """The layer a quoted include resolves to from a file in folder, or None."""
    if folder != "include" and os.path.exists(os.path.join(top, folder, name)):
        return folder
    if name in CONTRACTS and os.path.exists(os.path.join(top, "include", name)):
        return CONTRACTS[name]
    for f in FOLDERS:
        if os.path.exists(os.path.join(top, f, name)):
            return f
    return None


def main():
    top = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    bad = 0
    checked = 0
    for name in sorted(os.listdir(os.path.join(top, "include"))):
        if name.endswith(".h") and name not in CONTRACTS:
            print(f"include/{name}:1: not a listed contract: add it to CONTRACTS in "
                  "tools/check_layers.py, or move it beside its only user")
            bad += 1
    for folder in ["include"] + FOLDERS:
        d = os.path.join(top, folder)
        if not os.path.isdir(d):
            continue
        for fn in sorted(os.listdir(d)):
            if not fn.endswith((".c", ".h")):
                continue
            if folder == "include":
                # a contract may use the contracts its own layer may use
                own = CONTRACTS.get(fn, "base")
                allowed = {"base", own} | (ALLOWED.get(own, set()) if own != "base" else set())
            else:
                allowed = ALLOWED[folder] | {folder}
            with open(os.path.join(d, fn), encoding="utf-8", errors="replace") as f:
                for no, line in enumerate(f, 1):
                    m = INCLUDE.match(line)
                    if not m:
                        continue
                    checked += 1
                    inc = m.group(1)
                    lay = layer_of_header(top, folder, inc)
                    if lay is None:
                        print(f"{folder}/{fn}:{no}: #include \"{inc}\": no such header in "
                              "the tree")
                        bad += 1
                    elif lay not in allowed:
                        print(f"{folder}/{fn}:{no}: #include \"{inc}\": a {lay}-layer header; "
                              f"{folder}/ may use only {', '.join(sorted(allowed))}")
                        bad += 1
    print(f"check_layers: {checked} includes checked, {bad} out of layer")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
