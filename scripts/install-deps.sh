#!/usr/bin/env bash
# The system packages ragpipe needs, checked before anything compiles; installed with apt-get when
# run as root on Debian/Ubuntu, otherwise named in one line with the command that installs them.
# Quiet when nothing is missing, so every make target can run it.
#
#   scripts/install-deps.sh build    what `make index`, `make bench` and `make eval` need
#   scripts/install-deps.sh test     the same, plus what builds llama-server for the LLM tests
#   scripts/install-deps.sh bench    the build needs, plus the load generator of `make bench-serve`
#
# Exit 0 when everything needed is present (after installing it), 69 (EX_UNAVAILABLE) when not.
# Test hooks: RAGPIPE_DEPS_INCLUDE (colon-separated header folders searched instead of the
# system's) and RAGPIPE_DEPS_ASSUME_USER=1 (behave as without root) exercise the missing paths
# on a machine that has everything.
set -euo pipefail

# One line per need: apt package | how to check | what the check looks for | needed by.
# "build" needs are required (the compile fails without them); "test" needs are optional: without
# them the LLM tests (cmake, ninja, g++, numpy), the OpenAI client test of serve (venv), its
# page test in a browser (chromium) and the Spark tests (java, for pyspark) are skipped and
# `make test` lists them as skipped. "bench" needs are optional too: `make bench-serve` stops
# with the install command when wrk is missing.
# Add a package here and every target and .ci/run picks it up.
NEEDS='
zlib1g-dev      header  zlib.h      build
libopenblas-dev header  cblas.h     build
libdnnl-dev     header  oneapi/dnnl/dnnl.h build
libxml2-dev     header  libxml2/libxml/HTMLparser.h build
poppler-utils   tool    pdftotext   build
pkg-config      tool    pkg-config  build
python3-pip     python  pip         build
cmake           tool    cmake       test
ninja-build     tool    ninja       test
g++             tool    g++         test
python3-numpy   python  numpy       test
python3-venv    python  ensurepip   test
chromium        tool    chromium    test
wrk             tool    wrk         bench
openjdk-17-jre-headless tool java   test
'

mode=${1:-build}
case "$mode" in build|test|bench) ;; *) echo "usage: $0 build|test|bench" >&2; exit 64 ;; esac

include_dirs() {
    if [ -n "${RAGPIPE_DEPS_INCLUDE:-}" ]; then tr ':' '\n' <<<"$RAGPIPE_DEPS_INCLUDE"; return; fi
    printf '%s\n' /usr/include /usr/local/include /usr/include/*-linux-gnu*
    # Where the compiler also looks: CPATH (how Homebrew's keg-only OpenBLAS is made visible on
    # macOS) and, on macOS, the SDK's headers (zlib.h).
    if [ -n "${CPATH:-}${C_INCLUDE_PATH:-}" ]; then tr ':' '\n' <<<"${CPATH:-}:${C_INCLUDE_PATH:-}"; fi
    if [ "$(uname -s)" = Darwin ]; then echo "$(xcrun --show-sdk-path 2>/dev/null)/usr/include"; fi
}

present() {
    local kind=$1 what=$2 dir
    case "$kind" in
        header)
            while read -r dir; do [ -f "$dir/$what" ] && return 0; done < <(include_dirs)
            return 1 ;;
        tool) command -v "$what" >/dev/null ;;
        # The python3 that `make model` and scripts/llama-server.sh run, whichever it is.
        python) command -v python3 >/dev/null && python3 -c "import $what" 2>/dev/null ;;
    esac
}

# Sets missing_packages/missing_names (required) and optional_packages/optional_names.
check() {
    missing_packages=() missing_names=() optional_packages=() optional_names=()
    local package kind what scope
    while read -r package kind what scope; do
        [ -n "$package" ] || continue
        [ "$scope" = build ] || [ "$scope" = "$mode" ] || continue
        present "$kind" "$what" && continue
        if [ "$scope" = build ]; then
            missing_packages+=("$package"); missing_names+=("$what")
        else
            optional_packages+=("$package"); optional_names+=("$what")
        fi
    done <<<"$NEEDS"
}

join() { local IFS=' '; echo "$*"; }

check
[ ${#missing_packages[@]} -eq 0 ] && [ ${#optional_packages[@]} -eq 0 ] && exit 0

as_root=0
[ "$(id -u)" -eq 0 ] && [ "${RAGPIPE_DEPS_ASSUME_USER:-0}" != 1 ] && as_root=1
has_apt=0
command -v apt-get >/dev/null && has_apt=1

if [ $as_root = 1 ] && [ $has_apt = 1 ]; then
    all=("${missing_packages[@]}" "${optional_packages[@]}")
    echo "ragpipe: installing $(join "${all[@]}") (apt-get)" >&2
    export DEBIAN_FRONTEND=noninteractive
    # Another apt-get on the machine holds the lock for a while; wait for it rather than fail.
    apt_options=(-qq -o DPkg::Lock::Timeout=600)
    apt-get "${apt_options[@]}" update >/dev/null
    # Optional packages must not block the required ones (python3-numpy, say, may not exist).
    apt-get "${apt_options[@]}" install -y --no-install-recommends "${missing_packages[@]}" >/dev/null
    for package in "${optional_packages[@]}"; do
        apt-get "${apt_options[@]}" install -y --no-install-recommends "$package" >/dev/null \
            || echo "ragpipe: warning: apt-get could not install $package" >&2
    done
    hash -r
    check
    if [ ${#missing_packages[@]} -gt 0 ]; then
        echo "ragpipe: still missing $(join "${missing_names[@]}") after apt-get install -y $(join "${all[@]}")" >&2
        exit 69
    fi
    if [ ${#optional_packages[@]} -gt 0 ]; then
        echo "ragpipe: warning: still missing $(join "${optional_names[@]}"); the tests or benchmarks that need them will be skipped or stop (make test lists them)" >&2
    fi
    exit 0
fi

if [ $has_apt = 1 ]; then
    sudo=sudo
    [ "$(id -u)" -eq 0 ] && sudo=
    how() { echo "run: ${sudo:+$sudo }apt-get install -y $(join "$@")"; }
elif [ "$(uname -s)" = Darwin ]; then
    how() { echo "brew install openblas pkg-config; export CPATH=\$(brew --prefix openblas)/include (untested: see the README)"; }
else
    how() { echo "install your system's packages for them (Debian names: $(join "$@"))"; }
fi

if [ ${#missing_packages[@]} -gt 0 ]; then
    echo "ragpipe: missing $(join "${missing_names[@]}" "${optional_names[@]}"); $(how "${missing_packages[@]}" "${optional_packages[@]}")" >&2
    exit 69
fi
echo "ragpipe: warning: missing $(join "${optional_names[@]}") (the tests or benchmarks that need them will be skipped or stop); $(how "${optional_packages[@]}")" >&2
exit 0
