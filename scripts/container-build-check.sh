#!/usr/bin/env bash
# Build exactly what the Dockerfile's build stage builds, without a container engine:
# copy the inputs its COPY lines name (and nothing else) into an empty directory, then
# run the stage's `cargo build --release --locked` there. A file the build needs but the
# Dockerfile does not copy (the missing benches/ of an earlier release) fails here.
#
# Usage: scripts/container-build-check.sh. It builds into CARGO_TARGET_DIR (default: this
# checkout's target/) to reuse compiled dependencies, so target/release/portcullis is
# afterwards the binary built from the copy (the same sources; revision "unknown").
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The build stage: from `FROM ... AS build` to the next FROM.
copies=$(awk '/^FROM .* AS build/ {on=1; next} /^FROM / {on=0} on && /^COPY / {print}' Dockerfile)
if [ -z "$copies" ]; then
  echo "no COPY lines in the Dockerfile's build stage" >&2
  exit 1
fi
while read -r _copy args; do
  # shellcheck disable=SC2206
  parts=($args)
  dest=${parts[-1]}
  unset 'parts[-1]'
  dest=${dest#./}
  for src in "${parts[@]}"; do
    if [ ! -e "$root/$src" ]; then
      echo "the Dockerfile copies $src, which does not exist" >&2
      exit 1
    fi
    if [[ ${#parts[@]} -gt 1 || $dest == */ || -z $dest ]]; then
      mkdir -p "$work/$dest"
      cp -R "$root/$src" "$work/$dest"
    elif [ -d "$root/$src" ]; then
      mkdir -p "$work/$dest"
      cp -R "$root/$src/." "$work/$dest"
    else
      mkdir -p "$(dirname "$work/$dest")"
      cp "$root/$src" "$work/$dest"
    fi
  done
done <<<"$copies"

echo "build context: $(cd "$work" && ls -A | tr '\n' ' ')"
# The stage's own command, as it runs it (no .git: the revision comes from the
# environment there, "unknown" here).
cmd=$(awk '/^FROM .* AS build/ {on=1; next} /^FROM / {on=0} on && /^RUN cargo / {sub(/^RUN /, ""); print}' Dockerfile)
echo "running: $cmd"
(cd "$work" && CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}" bash -c "$cmd")
echo "the container build stage builds"
