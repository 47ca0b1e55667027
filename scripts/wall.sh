#!/usr/bin/env bash
# The wall on the built-in Zhengzhou demo (arguments go to `citytwin`, e.g. `check`).
# Uses the display you have; with none (a server, CI), starts a virtual one with Xvfb.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# Build every target, as the tests do: the binary then shares the tests' resolved
# features, so switching between wall.sh and test.sh rebuilds nothing.
cargo build --all-targets --quiet
bin="${CARGO_TARGET_DIR:-target}/debug/citytwin"
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "wall: no display; running under Xvfb (software rendering)" >&2
  exec xvfb-run -a -s "-screen 0 1920x1080x24" "$bin" "$@"
fi
exec "$bin" "$@"
