# SPDX-License-Identifier: LGPL-2.1-or-later
# Sourced: http_server_start DIR serves DIR with Python's http.server on 127.0.0.1, on a port the kernel
# picks, and sets $http_port and $http_pid. Its request log goes to DIR.log (it records each status).
http_server_start() {
        local dir=$1
        python3 -m http.server --bind 127.0.0.1 --directory "$dir" 0 >"$dir.log" 2>&1 &
        http_pid=$!
        http_port=
        for _ in $(seq 50); do
                http_port=$(grep -o 'port [0-9]*' "$dir.log" | grep -o '[0-9]*' || true)
                [ -n "$http_port" ] && return 0
                sleep 0.1
        done
        echo "the HTTP server for $dir did not start" >&2
        return 1
}
