# Shared by the scripts that use the scale workload's data dir (sourced, not run):
# bench-scale.sh, bench-split.sh and bench-image.sh keep it in the same place, so one load serves
# them all.

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

# scale_common DATA PEOPLE EVENTS SEED: sets the array `common` to the arguments every
# `herald-bench scale` run on DATA takes: where the data is, the workspace's keys, the workload.
scale_common() {
    local data="$1"
    common=(--data-dir "${data}/herald" --site-id "$(scale_key "${data}" site_id)"
        --api-key "$(scale_key "${data}" api_key)" --app-api-key "$(scale_key "${data}" app_api_key)"
        --people "$2" --events "$3" --seed "$4")
}
