#!/usr/bin/env bash
# The wall on the built-in Zhengzhou demo. Uses the display you have; with none
# (a server, CI), starts a virtual one with Xvfb.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "wall: no display; running under Xvfb (software rendering)" >&2
  exec xvfb-run -a -s "-screen 0 1920x1080x24" cargo run -- "$@"
fi
exec cargo run -- "$@"
