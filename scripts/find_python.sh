#!/usr/bin/env bash
# Prints the path of a working Python 3.10 (Rasa 3.6 supports Python <= 3.10).
set -u
for candidate in python3.10 $(ls -d "$HOME"/.pyenv/versions/3.10.*/bin/python3.10 2>/dev/null | sort -V -r); do
  if "$candidate" -c 'import sys, venv; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1; then
    command -v "$candidate" || echo "$candidate"
    exit 0
  fi
done
cat >&2 <<'MSG'
Python 3.10 was not found. Rasa 3.6 needs Python 3.10 (it does not support 3.11+).
Install it, then run the command again, e.g.:
  Debian/Ubuntu:  sudo apt-get install python3.10 python3.10-venv   (or the deadsnakes PPA)
  pyenv:          pyenv install 3.10.13
MSG
exit 1
