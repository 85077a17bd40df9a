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

# json_field FILE KEY: prints one field of the JSON object in FILE.
json_field() {
    python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}

# stop_server_and_clean: the EXIT trap of a script that runs one server at a time: stops the
# server whose pid is in `server_pid` (if any) and removes the script's folder `work`.
stop_server_and_clean() {
    if [[ -n "${server_pid:-}" ]]; then
        kill "${server_pid}" 2>/dev/null || true
        wait "${server_pid}" 2>/dev/null || true
    fi
    rm -rf "${work}"
}
