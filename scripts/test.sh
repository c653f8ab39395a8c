#!/usr/bin/env bash
# The README's test command. On a machine that has only Swift (as root):
#   installs the Debian packages it needs, builds, and runs every test:
#   unit tests, kernel integration tests (network namespaces, real NFQUEUE, conntrack,
#   iptables, nftables), the hooks and cluster self-tests, the fuzzers (bounded), the
#   microbenchmark and the benchmark harness in quick mode (so neither can rot).
# Every step runs even when an earlier one fails; the exit status says whether all passed.
# Environment: FUZZ_SECONDS (default 60), SKIP_BENCH=1 to leave out both benchmarks.
set -uo pipefail
cd "$(dirname "$0")/.."

if [[ $(id -u) -ne 0 ]]; then
    echo "scripts/test.sh: the kernel tests need root (network namespaces, iptables, NFQUEUE): run it as root" >&2
    exit 1
fi
scripts/install-deps.sh || { echo "scripts/test.sh: installing Debian packages failed" >&2; exit 1; }

logs=$(mktemp -d)
cleanup() {
    # Whatever a crashed step left: test, benchmark and demo clusters, with their rules.
    for prefix in nfqt nfqb cltest; do CLUSTER_PREFIX=$prefix testbed/cluster.sh down >/dev/null 2>&1 || true; done
    rm -rf "$logs"
}
trap cleanup EXIT

failed=()
step() {
    local name=$1
    shift
    printf '\n===== %s: %s\n' "$name" "$*" >&2
    local started=$SECONDS
    # Each step's output is kept so that the summary at the end can repeat why it failed:
    # a CI log is often read from its tail only.
    "$@" 2>&1 | tee "$logs/$name.log"
    if ((PIPESTATUS[0] == 0)); then
        printf '===== %s: passed (%ds)\n' "$name" $((SECONDS - started)) >&2
    else
        printf '===== %s: FAILED (%ds)\n' "$name" $((SECONDS - started)) >&2
        failed+=("$name")
    fi
}

step build swift build --build-tests
step unit-tests swift test --skip-build --skip IntegrationTests
step integration-tests scripts/integration-tests.sh
step hooks-test testbed/tests/hooks-test.sh
step cluster-test testbed/tests/cluster-test.sh
step kubernetes-manifests python3 testbed/tests/kubernetes-manifests-test.py
step fuzz-packet-parser fuzz/run.sh packet "${FUZZ_SECONDS:-60}"
step fuzz-netlink-parser fuzz/run.sh netlink "${FUZZ_SECONDS:-60}"
step fuzz-config-loader fuzz/run.sh config "${FUZZ_SECONDS:-60}"
if [[ -z ${SKIP_BENCH:-} ]]; then
    step microbenchmark bench/micro/run --quick
    step benchmark-harness bench/run --quick
fi

if ((${#failed[@]})); then
    for name in "${failed[@]}"; do
        printf '\n===== why %s failed (its failing tests and errors; the whole output is above)\n' "$name" >&2
        grep -E 'recorded an issue|error:|FAIL|failed' "$logs/$name.log" | grep -vE '^\s*$' | tail -n 60 >&2
    done
    printf '\nscripts/test.sh: FAILED: %s\n' "${failed[*]}" >&2
    exit 1
fi
printf '\nscripts/test.sh: all passed\n' >&2
