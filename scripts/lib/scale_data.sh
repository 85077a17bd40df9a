# Shared by the scripts that use the scale workload's data dir (sourced, not run):
# bench-scale.sh and bench-split.sh keep it in the same place, so one load serves both.

# scale_workspace DATA HERALD: creates the benchmark's workspace in DATA/herald with the
# `herald` binary HERALD, once, and keeps its keys in DATA/credentials.json.
scale_workspace() {
    local data="$1" herald="$2"
    mkdir -p "${data}"
    if [[ ! -s "${data}/credentials.json" ]]; then
        "${herald}" workspace create bench --json --data-dir "${data}/herald" > "${data}/credentials.json"
    fi
}

# scale_key DATA NAME: one of the workspace's keys (site_id, api_key, app_api_key).
scale_key() {
    python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1/credentials.json" "$2"
}
