# tests/cli/replicalib.sh - git servers on 127.0.0.1 for the replica tests: `git daemon` (git://,
# with receive-pack for pushes) and git's smart HTTP (`git http-backend` as CGI behind lighttpd).
# Source after lib.sh. Every server is killed by its pid at exit (trap), never by name.
SRV=$WORK/srv
mkdir -p "$SRV"
SERVER_PIDS=()
stop_servers() {
    local p
    for p in "${SERVER_PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${SERVER_PIDS[@]}"; do wait "$p" 2>/dev/null; done
    SERVER_PIDS=()
}
trap 'stop_servers; rm -rf "$WORK"' EXIT

# free_port: a TCP port on 127.0.0.1 that nothing listens on right now
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
# wait_port PORT: until something accepts on 127.0.0.1:PORT (at most 10 s)
wait_port() {
    local i
    for i in $(seq 1 100); do
        python3 -c "import socket,sys; s=socket.socket(); s.settimeout(0.2); sys.exit(s.connect_ex(('127.0.0.1', $1)))" && return 0
        sleep 0.1
    done
    return 1
}
# start_git_daemon: serves $SRV as git://127.0.0.1:$GIT_PORT/, pushes allowed
start_git_daemon() {
    GIT_PORT=$(free_port)
    git daemon --listen=127.0.0.1 --port="$GIT_PORT" --base-path="$SRV" --export-all \
        --enable=receive-pack --reuseaddr "$SRV" >"$WORK/git-daemon.log" 2>&1 &
    SERVER_PIDS+=($!)
    wait_port "$GIT_PORT"
}
# start_http: serves $SRV as http://127.0.0.1:$HTTP_PORT/git/ through git http-backend (CGI)
start_http() {
    local backend
    backend=$(git --exec-path)/git-http-backend
    [ -x "$backend" ] && command -v lighttpd >/dev/null || return 1
    HTTP_PORT=$(free_port)
    mkdir -p "$WORK/www"
    cat > "$WORK/lighttpd.conf" <<CONF
server.modules = ("mod_alias", "mod_cgi", "mod_setenv")
server.document-root = "$WORK/www"
server.bind = "127.0.0.1"
server.port = $HTTP_PORT
server.errorlog = "$WORK/lighttpd.log"
alias.url = ("/git" => "$backend")
\$HTTP["url"] =~ "^/git" {
    cgi.assign = ("" => "")
    setenv.add-environment = ("GIT_PROJECT_ROOT" => "$SRV", "GIT_HTTP_EXPORT_ALL" => "1")
}
CONF
    lighttpd -D -f "$WORK/lighttpd.conf" >"$WORK/lighttpd.out" 2>&1 &
    SERVER_PIDS+=($!)
    wait_port "$HTTP_PORT"
}
# new_remote NAME: an empty bare repository served as NAME.git
new_remote() {
    git init -q --bare --initial-branch=main "$SRV/$1.git"
    git -C "$SRV/$1.git" config http.receivepack true
}
# start_https: the same over TLS at https://127.0.0.1:$HTTPS_PORT/git/, with a self-signed
# certificate for 127.0.0.1 in $WORK/tls/cert.pem (clients trust it through SSL_CERT_FILE)
start_https() {
    local backend
    backend=$(git --exec-path)/git-http-backend
    [ -f /usr/lib/lighttpd/mod_openssl.so ] && command -v openssl >/dev/null || return 1
    mkdir -p "$WORK/tls" "$WORK/www"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=127.0.0.1 \
        -keyout "$WORK/tls/key.pem" \
        -out "$WORK/tls/cert.pem" >/dev/null 2>&1 || return 1
    HTTPS_PORT=$(free_port)
    cat > "$WORK/lighttpd-tls.conf" <<CONF
server.modules = ("mod_alias", "mod_cgi", "mod_setenv", "mod_openssl")
server.document-root = "$WORK/www"
server.bind = "127.0.0.1"
server.port = $HTTPS_PORT
server.errorlog = "$WORK/lighttpd-tls.log"
ssl.engine = "enable"
ssl.pemfile = "$WORK/tls/cert.pem"
ssl.privkey = "$WORK/tls/key.pem"
alias.url = ("/git" => "$backend")
\$HTTP["url"] =~ "^/git" {
    cgi.assign = ("" => "")
    setenv.add-environment = ("GIT_PROJECT_ROOT" => "$SRV", "GIT_HTTP_EXPORT_ALL" => "1")
}
CONF
    lighttpd -D -f "$WORK/lighttpd-tls.conf" >"$WORK/lighttpd-tls.out" 2>&1 &
    SERVER_PIDS+=($!)
    wait_port "$HTTPS_PORT"
}
