#!/usr/bin/env bash
# Builds every fuzz target and runs each for a while, one after the other.
#
#   fuzz/run.sh -c -s 10                # CI: a quick build, 10 seconds per target
#   fuzz/run.sh -m 60                   # a long run: an hour per target
#   fuzz/run.sh -m 30 build_snapshot    # some targets only
#
# -c builds for CI: opt-level 1, 16 codegen units, no debug info, in target/ci. That build
# costs less CPU and spreads over both cores, but the targets run about half as fast; long runs
# use the default (optimised) build in target/.
#
# Each target starts from its checked-in seeds (fuzz/corpus/<target>, read only) and from what
# earlier runs found (fuzz/work/<target>, not checked in, where new inputs go). A crash stops
# that target, leaves the input in fuzz/artifacts/<target>/ and makes the script exit non-zero
# after the remaining targets ran. The last lines report the executions per target.
set -euo pipefail

main() {
    cd "$(dirname "$0")"
    local seconds=60 opt
    local flags=(-s none)
    while getopts "cs:m:" opt; do
        case "$opt" in
            c)
                export CARGO_PROFILE_RELEASE_OPT_LEVEL=1 CARGO_PROFILE_RELEASE_DEBUG=0
                flags+=(--codegen-units 16 --target-dir target/ci)
                ;;
            s) seconds="$OPTARG" ;;
            m) seconds=$((OPTARG * 60)) ;;
            *) echo "usage: $0 [-c] [-s SECONDS | -m MINUTES] [TARGET...]" >&2; return 2 ;;
        esac
    done
    shift $((OPTIND - 1))

    local targets=("$@")
    if [ ${#targets[@]} -eq 0 ]; then
        mapfile -t targets < <(cargo fuzz list)
    fi

    cargo fuzz build "${flags[@]}"

    local failed=() summary=() target log status runs line
    for target in "${targets[@]}"; do
        mkdir -p "work/$target" "corpus/$target"
        log="work/$target.log"
        echo "==> $target: ${seconds}s"
        if cargo fuzz run "${flags[@]}" "$target" "work/$target" "corpus/$target" -- \
            -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1; then
            status=ok
        else
            status=FAILED
            failed+=("$target")
            grep -E 'panicked|ERROR|SUMMARY|Test unit written|Failing input' -A3 "$log" \
                | head -40 >&2 || true
        fi
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        line="$target: ${runs:-?} executions in ${seconds}s, $status"
        echo "$line"
        summary+=("$line")
    done

    echo
    printf '%s\n' "${summary[@]}"
    if [ ${#failed[@]} -gt 0 ]; then
        echo "crashes in: ${failed[*]} (inputs under fuzz/artifacts/, logs under fuzz/work/)" >&2
        return 1
    fi
}

# The whole script is parsed before it runs, so editing it during a long run is harmless.
main "$@"
exit $?
