# Shared by the benchmark scripts (sourced, not run).

# wait_for_server URL LOG [WHAT]: waits up to 15 s for the Herald server at URL to answer
# /healthz; if it does not, prints its LOG and exits the script, saying WHAT did not start.
wait_for_server() {
    local url="$1" log="$2" what="${3:-the server}"
    for _ in $(seq 150); do
        curl -sf "${url}/healthz" > /dev/null && return 0
        sleep 0.1
    done
    cat "${log}" >&2
    echo "${what} did not start" >&2
    exit 1
}
