# Runs commands side by side, a bounded number at a time; each one's output goes to its own log
# and is printed as one block when it ends, with how it ended and how long it took, so blocks
# never interleave. Sourced by scripts/fuzz and scripts/interop (bash 5.1+: `wait -n -p`).
#
#   source scripts/lib/pool.sh
#   pool_jobs=2                  # how many at a time (default: the number of CPUs)
#   pool_add NAME CMD [ARG...]   # waits for a free place first; CMD may be a shell function
#   pool_wait                    # waits for the rest
#   "${pool_failed[@]}"          # the NAMEs that exited non-zero, in the order they ended
#   "${pool_timings[@]}"         # "NAME SECONDS" of each, in the order they ended

pool_jobs="$(nproc)"
pool_failed=()
pool_timings=()
declare -A pool_names=() pool_started=() pool_log=()
# The logs' temporary directory: the caller's EXIT trap removes it.
pool_logs="$(mktemp -d)"

# pool_finish PID STATUS: prints the ended command's block.
pool_finish() {
    local pid="$1" status="$2" name="${pool_names[$1]}" log="${pool_log[$1]}" took
    took=$(($(date +%s) - pool_started[$1]))
    unset "pool_names[$pid]" "pool_started[$pid]" "pool_log[$pid]"
    pool_timings+=("$name $took")
    cat "$log"
    rm -f "$log"
    if [ "$status" -eq 0 ]; then
        echo "== $name: passed in ${took} s"
    else
        echo "== $name: FAILED (exit $status) after ${took} s: its output is just above"
        pool_failed+=("$name")
    fi
}

# pool_wait_one: waits for any running command and prints its block.
pool_wait_one() {
    local status=0 done_pid
    wait -n -p done_pid "${!pool_names[@]}" || status=$?
    pool_finish "$done_pid" "$status"
}

pool_add() {
    local name="$1" log
    shift
    while [ "${#pool_names[@]}" -ge "$pool_jobs" ]; do pool_wait_one; done
    # The log keeps the name it was opened under: the command opens it itself, maybe after
    # this shell went on.
    log="$(mktemp -p "$pool_logs")"
    "$@" >"$log" 2>&1 &
    pool_log[$!]="$log"
    pool_names[$!]="$name"
    pool_started[$!]="$(date +%s)"
}

pool_wait() {
    while [ "${#pool_names[@]}" -gt 0 ]; do pool_wait_one; done
}
