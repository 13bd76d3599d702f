#!/bin/sh
# Prints, space-separated, which of the Debian packages named as arguments are not
# installed (nothing when all are). Used by tools/setup.sh and lab/install.sh.
for p in "$@"; do
  st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)
  case "$st" in
    *"install ok installed"*) ;;
    *) printf ' %s' "$p" ;;
  esac
done
