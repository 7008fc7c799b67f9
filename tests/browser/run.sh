#!/usr/bin/env bash
# Browser checks: axe-core (WCAG 2.1 A/AA), the Nu Html Checker, layout at 375 px and the
# keyboard path, on every page each role can reach, in headless Chromium. See run.mjs.
#
# Needs Node.js 20+, Java 11+ and Chromium (/usr/bin/chromium, or PT_CHROMIUM); .ci/run
# installs them. The npm packages are pinned in package-lock.json and installed here with
# `npm ci` when node_modules is missing or does not match the lock file.
#
# Environment (see run.mjs for the rest):
#   PT_BIN   use this binary instead of building target/release/portfolio-tracker
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# A relative PT_BIN is relative to where this script was started from.
if [[ -n ${PT_BIN:-} && $PT_BIN != /* ]]; then
    PT_BIN="$PWD/$PT_BIN"
    export PT_BIN
fi
repo=$(cd "$here/../.." && pwd)

die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

command -v node >/dev/null 2>&1 || die "node is not on PATH (apt-get install nodejs npm)"
command -v npm >/dev/null 2>&1 || die "npm is not on PATH (apt-get install npm)"
command -v "${PT_JAVA:-java}" >/dev/null 2>&1 || die "java is not on PATH (apt-get install default-jre-headless)"
[[ -x ${PT_CHROMIUM:-/usr/bin/chromium} ]] || die "no Chromium at ${PT_CHROMIUM:-/usr/bin/chromium} (apt-get install chromium)"
node_major=$(node -p 'process.versions.node.split(".")[0]')
if ((node_major < 20)); then
    echo "warning: Node.js $(node --version) is older than the 20 that playwright-core asks for" >&2
fi

# node_modules matches the lock file when the hash recorded at the last install is the
# lock file's hash. --ignore-scripts: vnu-jar's postinstall would try to download a Java
# runtime; the machine's java is used instead. playwright-core never downloads a browser.
cd "$here"
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
stamp=node_modules/.pt-lock-sha256
if [[ ! -f $stamp || $(cat "$stamp") != "$lock_hash" ]]; then
    echo "==> npm ci (tests/browser)"
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --ignore-scripts
    echo "$lock_hash" >"$stamp"
fi

if [[ -z ${PT_BIN:-} ]]; then
    echo "==> cargo build --release --locked"
    (cd "$repo" && cargo build --release --locked)
    PT_BIN="${CARGO_TARGET_DIR:-$repo/target}/release/portfolio-tracker"
    # A relative CARGO_TARGET_DIR is relative to the repository.
    [[ $PT_BIN == /* ]] || PT_BIN="$repo/$PT_BIN"
    export PT_BIN
fi

echo "==> browser checks ($(node --version), Chromium at ${PT_CHROMIUM:-/usr/bin/chromium}, binary $PT_BIN)"
exec node "$here/run.mjs"
