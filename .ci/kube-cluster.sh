#!/usr/bin/env bash
# A real single-node Kubernetes cluster for the Kubernetes demo tests (issue 15), on this machine's Docker engine.
#
#   .ci/kube-cluster.sh up     build once (cached by source version), start, wait for the node Ready;
#                              prints KUBECONFIG=<path> as its last line
#   .ci/kube-cluster.sh down   stop it and remove everything it made; the host's sysctls and iptables are
#                              checked against what they were before `up`
#   .ci/kube-cluster.sh build  only build (and cache) the binaries and images
#
# No registry and no k3s/kind here: Kubernetes is built from Debian's own `kubernetes` source package with
# three patches (../shared/research/kubernetes-here.md has why): the sandbox and Guaranteed-QoS OOM score adjust
# set to 0 (a negative one needs CAP_SYS_RESOURCE, which this machine lacks) and KernelTunableWarn so that the
# kubelet never rewrites host sysctls. etcd is Debian's etcd-server; the kubelet runs pods on the running dockerd
# through its built-in dockershim. No CNI, CoreDNS or kube-proxy: pods get Docker-bridge addresses and nothing
# here sends traffic beyond loopback and the engine's bridge.
set -euo pipefail

cache_root="${DOCKBOT_KUBE_CACHE:-/var/cache/dockbot-kube}"
run_dir="${DOCKBOT_KUBE_RUN_DIR:-/var/lib/dockbot-kube}"
etcd_port="${DOCKBOT_KUBE_ETCD_PORT:-23790}"
api_port="${DOCKBOT_KUBE_API_PORT:-16443}"
pause_image="dockbot-kube/pause:3.4.1"
demo_image="${DOCKBOT_DEMO_IMAGE:-busybox:1.36}"
# Directories the kubelet creates even when pointed elsewhere (removed by `down`).
kubelet_side_dirs=(/var/lib/kubelet /usr/libexec/kubernetes /var/log/pods /var/log/containers)
host_sysctls=(vm.overcommit_memory kernel.panic kernel.panic_on_oops vm.panic_on_oom kernel.keys.root_maxkeys
  kernel.keys.root_maxbytes)

say() { printf '== kube-cluster: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

# --- build ------------------------------------------------------------------------------------------------------
apt_private() {
  # A private apt configuration with deb-src lines for the mirrors the machine's own sources already name,
  # so the system's apt state is not touched.
  local dir="$cache_root/apt"
  mkdir -p "$dir/lists/partial" "$dir/parts"
  : >"$dir/sources.list"
  local f uri suites
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -e "$f" ] || continue
    uri=$(awk '/^URIs:/ {print $2; exit}' "$f")
    suites=$(awk '/^Suites:/ {$1=""; print; exit}' "$f")
    [ -n "$uri" ] || continue
    case "$uri" in *security*) continue ;; esac   # the source package lives in the main archive
    for s in $suites; do echo "deb-src $uri $s main" >>"$dir/sources.list"; done
  done
  if [ -f /etc/apt/sources.list ]; then
    awk '$1=="deb" && $2 !~ /security/ {$1="deb-src"; print}' /etc/apt/sources.list >>"$dir/sources.list"
  fi
  [ -s "$dir/sources.list" ] || die "no apt sources found to derive a deb-src line from"
  apt_opts=(-o "Dir::Etc::SourceList=$dir/sources.list" -o "Dir::Etc::SourceParts=$dir/parts"
    -o "Dir::State::Lists=$dir/lists" -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache=")
}

apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

source_version() {
  apt_private
  if [ -z "$(find "$cache_root/apt/lists" -maxdepth 1 -name '*Sources*' -mmin -1440 2>/dev/null)" ]; then
    apt-get "${apt_opts[@]}" update -qq >/dev/null
  fi
  apt-cache "${apt_opts[@]}" showsrc kubernetes | awk '/^Version:/ {print $2}' | sort -V | tail -1
}

patch_tree() {
  # The three patches; each is checked, so a changed tree fails loudly instead of building a host-changing kubelet.
  sed -Ei 's/(defaultSandboxOOMAdj +int += *)-[0-9]+/\10/' pkg/kubelet/dockershim/docker_sandbox.go
  grep -Eq 'defaultSandboxOOMAdj +int += *0$' pkg/kubelet/dockershim/docker_sandbox.go || die "sandbox OOM patch"
  sed -Ei 's/(guaranteedOOMScoreAdj +int += *)-[0-9]+/\10/' pkg/kubelet/qos/policy.go
  grep -Eq 'guaranteedOOMScoreAdj +int += *0$' pkg/kubelet/qos/policy.go || die "guaranteed OOM patch"
  sed -Ei 's/^(\s*b := )KernelTunableModify$/\1KernelTunableWarn/' pkg/kubelet/cm/container_manager_linux.go
  grep -Eq '^\s*b := KernelTunableWarn$' pkg/kubelet/cm/container_manager_linux.go || die "KernelTunableWarn patch"
}

build() {
  apt_install golang-go etcd-server gcc libc6-dev dpkg-dev rsync ca-certificates
  apt_private
  version=$(source_version)
  [ -n "$version" ] || die "Debian's kubernetes source package was not found"
  local out="$cache_root/$version"
  if [ -x "$out/bin/kubelet" ] && [ -x "$out/bin/kube-apiserver" ] && [ -f "$out/pause.tar" ]; then
    say "cached build $out"
  else
    say "building Kubernetes $version from Debian's source package (takes ~8 min on 2 cores)"
    local work="$cache_root/build-$version"
    rm -rf "$work" && mkdir -p "$work" && cd "$work"
    apt-get "${apt_opts[@]}" source -qq "kubernetes=$version" >/dev/null
    cd "$(find . -maxdepth 1 -mindepth 1 -type d -name 'kubernetes-*' | head -1)"
    patch_tree
    # 1.20.5+really1.20.2-1.1+deb12u1 -> 1.20.2 (the tree really is 1.20.2)
    local upstream="${version#*:}"; upstream="${upstream%%-*}"; upstream="${upstream##*really}"
    upstream="${upstream%%+*}"
    local major="${upstream%%.*}" minor; minor="${upstream#*.}"; minor="${minor%%.*}"
    export GOPATH="$work/gopath" GOCACHE="$work/gocache" GOFLAGS="" CGO_ENABLED=0
    export KUBE_GIT_VERSION="v$upstream" KUBE_GIT_MAJOR="$major" KUBE_GIT_MINOR="$minor" KUBE_GIT_TREE_STATE=clean
    make WHAT="cmd/kube-apiserver cmd/kube-controller-manager cmd/kube-scheduler cmd/kubelet" >"$work/make.log" 2>&1 \
      || { tail -40 "$work/make.log" >&2; die "make failed (log: $work/make.log)"; }
    mkdir -p "$out/bin.tmp"
    for b in kube-apiserver kube-controller-manager kube-scheduler kubelet; do
      cp "_output/bin/$b" "$out/bin.tmp/$b"
    done
    # The pause image, compiled statically from the tree's own source (nothing can be pulled).
    local pctx="$work/pause-ctx"; mkdir -p "$pctx"
    gcc -Os -static -DVERSION="v3.4.1" -o "$pctx/pause" build/pause/linux/pause.c
    printf 'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n' >"$pctx/Dockerfile"
    docker build -q -t "$pause_image" "$pctx" >/dev/null
    docker save -o "$out/pause.tar" "$pause_image"
    rm -rf "$out/bin" && mv "$out/bin.tmp" "$out/bin"
    cd / && rm -rf "$work"
    say "built into $out"
  fi
  docker image inspect "$pause_image" >/dev/null 2>&1 || docker load -q -i "$out/pause.tar" >/dev/null
  bin="$out/bin"
}


# --- up ---------------------------------------------------------------------------------------------------------
host_ip() {
  # The node IP cannot be loopback (the kubelet refuses it): the address of the default route's interface.
  local dev; dev=$(ip -4 route show default | awk '{for (i = 1; i < NF; i++) if ($i == "dev") {print $(i + 1); exit}}')
  ip -4 -o addr show dev "${dev:-eth0}" scope global | awk '{split($4, a, "/"); print a[1]; exit}'
}

host_state() {
  # What the kubelet must not change: these sysctls and the firewall (the engine's own DOCKER chains and
  # bridge rules are left out: other runs' containers and networks change them meanwhile).
  local s; for s in "${host_sysctls[@]}"; do printf '%s = %s\n' "$s" "$(sysctl -n "$s" 2>/dev/null || echo '?')"; done
  { iptables -S; iptables -t nat -S; } 2>/dev/null | grep -Ev 'DOCKER|docker0|br-[0-9a-f]{12}' || true
}

certs() {
  local pki="$run_dir/pki" ip="$1"
  mkdir -p "$pki" && cd "$pki"
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=dockbot-kube-ca" -keyout ca.key -out ca.crt 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" -keyout apiserver.key -out apiserver.csr 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,IP:%s,DNS:localhost,DNS:kubernetes.default.svc\n' "$ip" >apiserver.ext
  openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 -extfile apiserver.ext \
    -out apiserver.crt 2>/dev/null
  # The apiserver's client certificate for the kubelet (logs, exec), which accepts no anonymous requests.
  openssl req -newkey rsa:2048 -nodes -subj "/O=system:masters/CN=kube-apiserver-kubelet-client" \
    -keyout kubelet-client.key -out kubelet-client.csr 2>/dev/null
  openssl x509 -req -in kubelet-client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
    -out kubelet-client.crt 2>/dev/null
  openssl genrsa -out sa.key 2048 2>/dev/null
  openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  chmod 600 ./*.key
  # One token per component. All are cluster admins: a throwaway single-node test cluster; the demo runner
  # needs only namespaced rights plus namespace create/delete (docs/demos.md).
  : >tokens.csv
  local who
  for who in admin kubelet controller-manager scheduler; do
    echo "$(openssl rand -hex 16),dockbot-$who,dockbot-$who,system:masters" >>tokens.csv
  done
  chmod 600 tokens.csv
  cd - >/dev/null
}

kubeconfig() {  # kubeconfig <component> <file>
  local token; token=$(awk -F, -v u="dockbot-$1" '$2 == u {print $1}' "$run_dir/pki/tokens.csv")
  cat >"$2" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: dockbot-kube
  cluster:
    server: https://127.0.0.1:$api_port
    certificate-authority-data: $(base64 -w0 "$run_dir/pki/ca.crt")
users:
- name: dockbot-$1
  user:
    token: $token
contexts:
- name: dockbot-demo
  context: {cluster: dockbot-kube, user: dockbot-$1}
current-context: dockbot-demo
EOF
  chmod 600 "$2"
}

api_get() {  # api_get <path>: GET on the apiserver as the admin (curl: no kubectl needed)
  local token; token=$(awk -F, '$2 == "dockbot-admin" {print $1}' "$run_dir/pki/tokens.csv")
  # Not curl's own user agent: for curl the apiserver pretty-prints, and its pretty printer (json-iterator
  # with the vendored reflect2 1.0.1) crashes the apiserver when built with Go >= 1.18 (reflect2 issue 20).
  curl -sf --max-time 5 -A dockbot-kube-cluster --cacert "$run_dir/pki/ca.crt" -H "Authorization: Bearer $token" \
    "https://127.0.0.1:$api_port$1"
}

node_ready() {
  api_get /api/v1/nodes/dockbot-kube-node | python3 -c '
import json, sys
conditions = json.load(sys.stdin)["status"].get("conditions", [])
sys.exit(0 if any(c["type"] == "Ready" and c["status"] == "True" for c in conditions) else 1)'
}

start() {  # start <name> <binary> args...: a daemon of its own session, pid and log in the run dir
  local name="$1"; shift
  setsid nohup "$@" >"$run_dir/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$run_dir/pids/$name"
}

wait_for() {  # wait_for <seconds> <what> <command...>
  local seconds="$1" what="$2"; shift 2
  local i; for i in $(seq 1 $((seconds * 2))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
  die "$what did not come up in ${seconds}s (logs: $run_dir/logs)"
}

up() {
  build
  local admin="$run_dir/admin.kubeconfig"
  if [ -f "$run_dir/pids/kubelet" ] && kill -0 "$(cat "$run_dir/pids/kubelet")" 2>/dev/null \
    && api_get /readyz >/dev/null 2>&1; then
    say "already running"
    echo "KUBECONFIG=$admin"
    return 0
  fi
  [ ! -e "$run_dir" ] || down_quiet
  docker image inspect "$demo_image" >/dev/null 2>&1 || die "demo image $demo_image is missing (.ci/docker-engine.sh builds it)"
  local ip; ip=$(host_ip); [ -n "$ip" ] || die "no host IPv4 address for the node"
  mkdir -p "$run_dir"/{logs,pids,etcd,kubelet,dockershim,volume-plugins,kubelet-pki}
  chmod 700 "$run_dir"
  host_state >"$cache_root/host-before.txt"
  certs "$ip"
  local c; for c in admin kubelet controller-manager scheduler; do kubeconfig "$c" "$run_dir/$c.kubeconfig"; done
  local t0; t0=$(date +%s)

  start etcd etcd --name dockbot-kube --data-dir "$run_dir/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$((etcd_port + 10))" \
    --initial-advertise-peer-urls "http://127.0.0.1:$((etcd_port + 10))" \
    --initial-cluster "dockbot-kube=http://127.0.0.1:$((etcd_port + 10))" --listen-metrics-urls "" \
    --log-level warn
  wait_for 30 etcd curl -sf "http://127.0.0.1:$etcd_port/health"

  start kube-apiserver "$bin/kube-apiserver" --etcd-servers "http://127.0.0.1:$etcd_port" \
    --bind-address 127.0.0.1 --secure-port "$api_port" --insecure-port 0 --advertise-address "$ip" \
    --tls-cert-file "$run_dir/pki/apiserver.crt" --tls-private-key-file "$run_dir/pki/apiserver.key" \
    --token-auth-file "$run_dir/pki/tokens.csv" --authorization-mode Node,RBAC \
    --service-account-key-file "$run_dir/pki/sa.pub" --service-account-signing-key-file "$run_dir/pki/sa.key" \
    --service-account-issuer https://kubernetes.default.svc --service-cluster-ip-range 10.96.0.0/16 \
    --kubelet-preferred-address-types InternalIP \
    --kubelet-client-certificate "$run_dir/pki/kubelet-client.crt" \
    --kubelet-client-key "$run_dir/pki/kubelet-client.key" --allow-privileged=false \
    --profiling=false --v 1
  wait_for 60 kube-apiserver api_get /readyz

  start kube-controller-manager "$bin/kube-controller-manager" --kubeconfig "$run_dir/controller-manager.kubeconfig" \
    --port 0 --secure-port 0 --leader-elect=false --service-account-private-key-file "$run_dir/pki/sa.key" \
    --root-ca-file "$run_dir/pki/ca.crt" --use-service-account-credentials=false --profiling=false --v 1
  start kube-scheduler "$bin/kube-scheduler" --kubeconfig "$run_dir/scheduler.kubeconfig" \
    --port 0 --secure-port 0 --leader-elect=false --profiling=false --v 1

  # The kubelet on the running dockerd through its built-in dockershim; it changes no sysctl (patched to
  # KernelTunableWarn) and adds no iptables chain; it accepts only the apiserver's client certificate.
  start kubelet "$bin/kubelet" --kubeconfig "$run_dir/kubelet.kubeconfig" --hostname-override dockbot-kube-node \
    --container-runtime docker --pod-infra-container-image "$pause_image" \
    --container-runtime-endpoint "unix://$run_dir/dockershim/dockershim.sock" \
    --root-dir "$run_dir/kubelet" --experimental-dockershim-root-directory "$run_dir/dockershim" \
    --volume-plugin-dir "$run_dir/volume-plugins" --cert-dir "$run_dir/kubelet-pki" \
    --address "$ip" --node-ip "$ip" --read-only-port 0 --healthz-bind-address 127.0.0.1 \
    --anonymous-auth=false --client-ca-file "$run_dir/pki/ca.crt" --authorization-mode Webhook \
    --cgroup-driver cgroupfs --fail-swap-on=false --oom-score-adj 0 --make-iptables-util-chains=false \
    --image-gc-high-threshold 100 --image-gc-low-threshold 99 --max-pods 40 \
    --eviction-hard "memory.available<100Mi,nodefs.available<2%,imagefs.available<2%" \
    --serialize-image-pulls=false --v 1
  wait_for 90 "node Ready" node_ready
  say "node Ready in $(( $(date +%s) - t0 )) s (Kubernetes $(api_get /version \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["gitVersion"])'))"
  echo "KUBECONFIG=$admin"
}

# --- down -------------------------------------------------------------------------------------------------------
stop_processes() {
  local f pid
  for f in kubelet kube-scheduler kube-controller-manager kube-apiserver etcd; do
    [ -f "$run_dir/pids/$f" ] || continue
    pid=$(cat "$run_dir/pids/$f")
    kill "$pid" 2>/dev/null || continue
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -9 "$pid" 2>/dev/null || true
  done
}

remove_made() {
  # The kubelet's containers (pods and sandboxes) on the engine: only dockershim labels them like this.
  local ids; ids=$(docker ps -aq --filter label=io.kubernetes.docker.type 2>/dev/null || true)
  [ -z "$ids" ] || docker rm -f -v $ids >/dev/null 2>&1 || true
  # Its tmpfs and bind mounts (secrets, emptyDirs), deepest first.
  local m
  for m in $(awk -v a="$run_dir/" -v b="/var/lib/kubelet/" 'index($2, a) == 1 || index($2, b) == 1 {print $2}' \
    /proc/self/mounts | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
  # The kubepods cgroups (cgroup v1: one tree per controller), leaves first.
  local root
  for root in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do
    [ -d "$root" ] || continue
    find "$root" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
  rm -rf "$run_dir" "${kubelet_side_dirs[@]}"
}

down_quiet() { stop_processes; remove_made; }

down() {
  down_quiet
  local left; left=$(docker ps -aq --filter label=io.kubernetes.docker.type 2>/dev/null | wc -l)
  [ "$left" -eq 0 ] || die "$left kubelet containers are still on the engine"
  if ls -d /sys/fs/cgroup/*/kubepods >/dev/null 2>&1; then die "kubepods cgroups remain"; fi
  if [ -f "$cache_root/host-before.txt" ]; then
    if ! diff <(cat "$cache_root/host-before.txt") <(host_state) >&2; then
      die "the host's sysctls or iptables differ from before 'up' (diff above)"
    fi
    rm -f "$cache_root/host-before.txt"
  fi
  say "down: processes stopped; containers, mounts, cgroups and directories removed; sysctls and iptables as before"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  build) build; echo "BIN=$bin" ;;
  *) echo "usage: $0 up|down|build" >&2; exit 2 ;;
esac
