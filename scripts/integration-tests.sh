#!/usr/bin/env bash
# The kernel integration suite, as scripts/test.sh runs it.
#
# These tests time real kernel behaviour (a reset within 1 s, a flow moving within 2 s) on a
# machine whose 2 cores also run the test process, 8 namespaces of servers and the daemon.
# A test that fails is therefore run once more on its own: if it passes then, the run passes
# but says loudly which test was flaky (read it as a bug to fix, not as noise); if it fails
# again, the run fails. A crash of the test process, or a failure that cannot be traced to a
# test, fails the run at once.
set -uo pipefail
cd "$(dirname "$0")/.."

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

swift test --skip-build --filter IntegrationTests --xunit-output "$out/run.xml"
status=$?
((status == 0)) && exit 0

report=$out/run-swift-testing.xml
if [[ ! -s $report ]]; then
    echo "integration-tests: the run failed (status $status) without a test report: not retried" >&2
    exit 1
fi
# One filter per failing test: its suite path and function name, as `swift test --filter`
# matches them (a regular expression over "Module.Suite/function(...)").
mapfile -t failing < <(python3 - "$report" <<'PY'
import re, sys, xml.etree.ElementTree as ET
seen = set()
for case in ET.parse(sys.argv[1]).getroot().iter("testcase"):
    if case.find("failure") is None and case.find("error") is None:
        continue
    name = case.get("name", "").split("(")[0]
    # The report joins nested suites with dots; the filter sees "/" between them.
    suite = "[./]".join(re.escape(part) for part in case.get("classname", "").split("."))
    key = suite + "/" + re.escape(name) + r"\("
    if key not in seen:
        seen.add(key)
        print(key)
PY
)
if ((${#failing[@]} == 0)); then
    echo "integration-tests: the run failed (status $status) but its report names no failing test: not retried" >&2
    exit 1
fi
if ((${#failing[@]} > 3)); then
    echo "integration-tests: ${#failing[@]} tests failed: that is no flake, not retried" >&2
    exit 1
fi
flaky=()
for filter in "${failing[@]}"; do
    echo "integration-tests: running $filter once more, alone" >&2
    # A filter that matches nothing "passes": the retry counts only if the test ran.
    if ! swift test --skip-build --filter "$filter" 2>&1 | tee "$out/retry.log" || ! grep -q 'Test run with [1-9]' "$out/retry.log"; then
        echo "integration-tests: $filter failed twice (or could not be run alone)" >&2
        exit 1
    fi
    flaky+=("$filter")
done
echo "integration-tests: FLAKY (failed once, passed alone): ${flaky[*]}" >&2
exit 0
