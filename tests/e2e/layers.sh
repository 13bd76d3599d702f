#!/bin/sh
# The include rule of docs/architecture.md: no file includes a header of a layer above
# its own (tools/check_layers.py names each offending line).
set -eu
cd "$TAPIR_TOP"
/usr/bin/python3 tools/check_layers.py .
