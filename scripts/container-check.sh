#!/usr/bin/env bash
# Builds the Containerfile with podman and runs what it built, on a machine that can neither
# pull images nor run containers (this project's CI machine: no registry is reachable, and crun
# cannot start a container in its VM). Not part of .ci/run: it takes a full release build.
#
#   scripts/container-check.sh        # as root, from anywhere; needs podman and debootstrap
#   scripts/container-check.sh --prebuilt target/release/paperboy
#                                     # the runtime stage only, on a binary built outside
#   scripts/container-check.sh --no-build   # the checks and the run on the image built last
#
# What it does, and how each part differs from the real thing:
# - base images: when docker.io/library/debian:bookworm-slim or rust:1.95-bookworm cannot be
#   pulled, it makes local stand-ins under those names: Debian bookworm minbase from
#   debootstrap, and that plus gcc, this machine's Rust 1.95.0 toolchain and its own
#   certificate authorities;
# - the build: `podman build --isolation chroot --format docker` of the Containerfile as it is
#   (chroot isolation: RUN steps run in a chroot, not in a container);
# - the image's configuration is checked: its user is not root, one exposed port, a
#   HEALTHCHECK on /readyz, a volume for the data;
# - the run: the image's root filesystem, mounted, with the image's Env, User, WorkingDir,
#   Entrypoint and Cmd, under chroot (no namespaces, the host's network); a reader subscribes
#   through it and the HEALTHCHECK's own command is run inside it.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
fail() { echo "container-check: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "run as root"
command -v podman >/dev/null && command -v debootstrap >/dev/null \
  || fail "needs podman and debootstrap: apt-get install podman debootstrap"

# crun refuses limits above the ones this VM allows; podman's defaults are above them.
conf="$(mktemp)"
export CONTAINERS_CONF="$conf"
printf '[containers]\ndefault_ulimits = ["nofile=%s:%s", "nproc=32768:32768"]\n' \
  "$(ulimit -Hn)" "$(ulimit -Hn)" >"$conf"

work="$(mktemp -d /tmp/container-check.XXXXXX)"
mounted=""
cleanup() {
  if [ -n "$mounted" ]; then
    umount "$mounted/proc" 2>/dev/null || true
    umount "$mounted/var/lib/paperboy" 2>/dev/null || true
    podman image unmount localhost/paperboy:check >/dev/null 2>&1 || true
  fi
  rm -rf "$work" "$conf"
}
trap cleanup EXIT

have() { podman image exists "$1" || podman pull -q "$1" >/dev/null 2>&1; }
if ! have docker.io/library/debian:bookworm-slim; then
  echo "container-check: no debian:bookworm-slim to pull: a debootstrap stand-in"
  debootstrap --variant=minbase bookworm "$work/rootfs" http://deb.debian.org/debian >/dev/null
  tar -C "$work/rootfs" -c . | podman import -q - docker.io/library/debian:bookworm-slim >/dev/null
  rm -rf "$work/rootfs"
fi
if ! have docker.io/library/rust:1.95-bookworm; then
  echo "container-check: no rust:1.95-bookworm to pull: a stand-in with this machine's toolchain"
  toolchain="$(readlink -f "$(rustc +1.95.0 --print sysroot)")"
  mkdir "$work/rust" && cp -a "$toolchain" "$work/rust/toolchain"
  # This machine's own certificate authorities (an egress proxy's), so that cargo inside
  # reaches crates.io as cargo outside does.
  mkdir "$work/rust/local-ca" && cp -a /usr/local/share/ca-certificates/. "$work/rust/local-ca/"
  cat >"$work/rust/Containerfile" <<'EOF'
FROM docker.io/library/debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY local-ca/ /usr/local/share/ca-certificates/
RUN update-ca-certificates
COPY toolchain /usr/local/rustup/toolchains/1.95.0-x86_64-unknown-linux-gnu
ENV RUSTUP_HOME=/usr/local/rustup CARGO_HOME=/usr/local/cargo \
    PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN mkdir -p /usr/local/cargo/bin && for b in cargo rustc rustdoc; do \
    ln -s /usr/local/rustup/toolchains/1.95.0-x86_64-unknown-linux-gnu/bin/$b /usr/local/cargo/bin/$b; done
EOF
  podman build -q --isolation chroot -t docker.io/library/rust:1.95-bookworm "$work/rust" >/dev/null
  rm -rf "$work/rust"
fi

build_started=$SECONDS
if [ "${1:-}" = --no-build ]; then
  podman image exists localhost/paperboy:check || fail "no localhost/paperboy:check to check"
  context=()
elif [ "${1:-}" = --prebuilt ]; then
  # The Containerfile's runtime stage as it is, its build stage replaced by the given binary.
  [ -x "${2:-}" ] || fail "--prebuilt needs the path of a built paperboy"
  mkdir "$work/prebuilt" && cp "$2" "$work/prebuilt/paperboy"
  { printf 'FROM docker.io/library/debian:bookworm-slim AS build\nCOPY paperboy /usr/local/bin/paperboy\n'
    awk '/^FROM / { n++ } n >= 2' Containerfile; } >"$work/prebuilt/Containerfile"
  context=("$work/prebuilt")
else
  context=(-f Containerfile .)
fi
if [ "${#context[@]}" -gt 0 ]; then
  podman build --isolation chroot --format docker -t localhost/paperboy:check "${context[@]}" \
    >"$work/build.log" 2>&1 || { tail -30 "$work/build.log" >&2; fail "podman build failed"; }
fi
echo "container-check: built in $((SECONDS - build_started)) s, $(podman image inspect -f '{{.Size}}' localhost/paperboy:check | awk '{printf "%.0f MB", $1/1e6}')"

# The image's configuration.
inspect() { podman image inspect -f "$1" localhost/paperboy:check; }
user="$(inspect '{{.Config.User}}')"
[ -n "$user" ] && [ "$user" != root ] && [ "$user" != 0 ] || fail "the image runs as ${user:-root}"
ports="$(inspect '{{range $p, $_ := .Config.ExposedPorts}}{{$p}} {{end}}')"
[ "$ports" = "8080/tcp " ] || fail "exposed ports: '$ports', not 8080/tcp alone"
health="$(podman image inspect localhost/paperboy:check | python3 -c 'import json,sys; d = json.load(sys.stdin)[0]; print(" ".join((d.get("Healthcheck") or d["Config"].get("Healthcheck") or {}).get("Test", [])))')"
case "$health" in *"/readyz"*) ;; *) fail "no HEALTHCHECK on /readyz: $health" ;; esac
volume="$(inspect '{{range $v, $_ := .Config.Volumes}}{{$v}}{{end}}')"
[ "$volume" = /var/lib/paperboy ] || fail "volume: '$volume'"

# Run it: the image's root filesystem, its environment, user, working directory and command.
rootfs="$(podman image mount localhost/paperboy:check)"
mounted="$rootfs"
mkdir "$work/volume"
chown "$(chroot "$rootfs" id -u "$user"):$(chroot "$rootfs" id -g "$user")" "$work/volume"
mount --bind "$work/volume" "$rootfs/var/lib/paperboy"
mount -t proc proc "$rootfs/proc"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
mapfile -t env < <(inspect '{{range .Config.Env}}{{println .}}{{end}}' | sed '/^$/d')
mapfile -t cmd < <(inspect '{{range .Config.Entrypoint}}{{println .}}{{end}}{{range .Config.Cmd}}{{println .}}{{end}}' | sed '/^$/d')
workdir="$(inspect '{{.Config.WorkingDir}}')"
# chroot, env and sh all exec: in the background, the pid is the service's.
run_env=(env -i "${env[@]}" PAPERBOY_BIND="127.0.0.1:$port" PAPERBOY_BASE_URL="$base"
  PAPERBOY_SCHEDULE__ENABLED=false PAPERBOY_LOG=warn sh -c 'cd "$0" && exec "$@"' "$workdir")
in_image() { chroot --userspec="$user:$user" "$rootfs" "${run_env[@]}" "$@"; }
chroot --userspec="$user:$user" "$rootfs" "${run_env[@]}" "${cmd[@]}" >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 100); do
  curl -fsS -o /dev/null "$base/healthz" 2>/dev/null && break
  kill -0 "$server" 2>/dev/null || { cat "$work/serve.log" >&2; fail "${cmd[*]} exited"; }
  sleep 0.2
done
status="$(curl -sS -o /dev/null -w '%{http_code}' -H 'content-type: application/json' \
  --data '{"email": "reader@example.org", "topics": ["llm"]}' "$base/api/v1/subscriptions")"
[ "$status" = 202 ] || fail "POST /api/v1/subscriptions: $status"
for _ in $(seq 100); do compgen -G "$work/volume/mail/*.eml" >/dev/null && break; sleep 0.2; done
compgen -G "$work/volume/mail/*.eml" >/dev/null || fail "no confirmation mail in the volume"
[ "$(stat -c %U "$work/volume/paperboy.db")" != root ] || fail "the database belongs to root"
# The HEALTHCHECK's own command, inside the image (port rewritten to this run's).
read -ra check <<<"$(sed "s/:8080/:$port/" <<<"${health#CMD }")"
if in_image "${check[@]}" 2>"$work/health.err"; then
  echo "container-check: HEALTHCHECK passes"
else
  echo "container-check: HEALTHCHECK fails: $(cat "$work/health.err")"
  # Is it the endpoint or the command? The same command on /healthz.
  if in_image "${check[@]/%\/readyz//healthz}" 2>/dev/null; then
    echo "container-check: (the same command on /healthz passes: /readyz is what is missing)"
  fi
  health_failed=1
fi
kill "$server"
wait "$server" || fail "serve did not stop cleanly on SIGTERM"
echo "container-check: served from the image, a reader subscribed, mail in the volume: $((SECONDS - started)) s"
exit "${health_failed:-0}"
