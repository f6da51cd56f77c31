#!/usr/bin/env bash
# The Kubernetes demos' steps as a plain kubectl script (the yardstick of bench/bench_k8s_demo.py): the same
# namespace lockdown (PSA labels, ResourceQuota, LimitRange), the same pod template (non-root, read-only root,
# no token, limits), the same steps and waits, and the namespace deleted at the end.
#   KUBECONFIG=... bash bench/k8s_demos_kubectl.sh self-healing|service|rollout
# Uses imagePullPolicy Never (the local demo image). Prints what kubectl prints; exit 0 when every wait held.
set -euo pipefail
demo="$1"
image="${DOCKBOT_DEMO_IMAGE:-busybox:1.36}"
ns="dockbot-demo-$(head -c6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
k() { kubectl -n "$ns" "$@"; }
trap 'kubectl delete namespace "$ns" --wait=false >/dev/null 2>&1; kubectl -n "$ns" delete pods --all --grace-period=0 --force >/dev/null 2>&1; kubectl wait --for=delete "namespace/$ns" --timeout=60s >/dev/null 2>&1 || true' EXIT

kubectl apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Namespace
metadata:
  name: $ns
  labels:
    dockbot.bench: kubectl
    pod-security.kubernetes.io/enforce: restricted
    pod-security.kubernetes.io/warn: restricted
    pod-security.kubernetes.io/audit: restricted
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: dockbot-demo, namespace: $ns}
spec:
  hard: {pods: "8", requests.cpu: 500m, requests.memory: 256Mi, limits.cpu: "1", limits.memory: 512Mi, services: "2", services.nodeports: "0"}
---
apiVersion: v1
kind: LimitRange
metadata: {name: dockbot-demo, namespace: $ns}
spec:
  limits:
  - type: Container
    default: {cpu: 100m, memory: 32Mi}
    defaultRequest: {cpu: 10m, memory: 16Mi}
    max: {cpu: 200m, memory: 64Mi}
EOF
until k get serviceaccount default >/dev/null 2>&1; do sleep 0.2; done

deployment() {  # deployment <name> <replicas> <port or ""> <env VERSION or ""> <shell line>
  local ports="" env=""
  [ -z "$3" ] || ports="ports: [{containerPort: $3}]"
  [ -z "$4" ] || env="env: [{name: VERSION, value: $4}]"
  k apply -f - <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: {name: $1}
spec:
  replicas: $2
  selector: {matchLabels: {app: $1}}
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}
  template:
    metadata: {labels: {app: $1}}
    spec:
      automountServiceAccountToken: false
      enableServiceLinks: false
      terminationGracePeriodSeconds: 1
      securityContext: {runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, seccompProfile: {type: RuntimeDefault}}
      volumes: [{name: tmp, emptyDir: {sizeLimit: 16Mi}}]
      containers:
      - name: app
        image: $image
        imagePullPolicy: Never
        command: [sh, -c, '$5']
        $ports
        $env
        resources: {limits: {cpu: 100m, memory: 32Mi}, requests: {cpu: 10m, memory: 16Mi}}
        volumeMounts: [{name: tmp, mountPath: /tmp}]
        securityContext:
          runAsNonRoot: true
          readOnlyRootFilesystem: true
          allowPrivilegeEscalation: false
          capabilities: {drop: [ALL]}
EOF
}

ready_count() {  # pods of app $1 that are Ready and not terminating
  k get pods -l "app=$1" -o jsonpath='{range .items[*]}{.metadata.deletionTimestamp}{"|"}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' \
    | grep -c '^|True$' || true
}

wait_ready() {  # wait_ready <app> <count> [<not this pod>...]
  local app="$1" want="$2"; shift 2
  for _ in $(seq 1 300); do
    if [ "$(ready_count "$app")" -eq "$want" ]; then
      local names; names=$(k get pods -l "app=$app" -o name)
      local old ok=1; for old in "$@"; do
        k get "pod/$old" -o jsonpath='{.metadata.deletionTimestamp}' 2>/dev/null | grep -q . || { grep -q "pod/$old$" <<<"$names" && ok=0; }
      done
      [ "$ok" -eq 1 ] && return 0
    fi
    sleep 0.2
  done
  echo "timed out waiting for $want ready pods of $app" >&2; exit 1
}

case "$demo" in
  self-healing)
    deployment web 3 "" "" 'echo "web $HOSTNAME"; exec sleep 3600'
    k rollout status deployment/web --timeout=45s
    k get pods -l app=web
    victim=$(k get pods -l app=web -o jsonpath='{.items[0].metadata.name}')
    k delete pod "$victim" --wait=false
    wait_ready web 3 "$victim"
    k get pods -l app=web
    k logs -l app=web --prefix --tail=3
    ;;
  service)
    deployment hello 2 8080 "" 'mkdir -p /tmp/www && echo "hello from $HOSTNAME" > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www'
    k expose deployment hello --port=80 --target-port=8080
    k rollout status deployment/hello --timeout=45s
    until [ "$(k get endpoints hello -o jsonpath='{.subsets[*].addresses[*].ip}' | wc -w)" -eq 2 ]; do sleep 0.2; done
    before_ip=$(k get service hello -o jsonpath='{.spec.clusterIP}')
    before_ep=$(k get endpoints hello -o jsonpath='{.subsets[*].addresses[*].ip}')
    k get service hello; k get endpoints hello
    k delete pods -l app=hello --wait=false
    wait_ready hello 2
    until after_ep=$(k get endpoints hello -o jsonpath='{.subsets[*].addresses[*].ip}') \
      && [ "$(wc -w <<<"$after_ep")" -eq 2 ] && [ "$after_ep" != "$before_ep" ]; do sleep 0.2; done
    k get service hello; k get endpoints hello
    [ "$(k get service hello -o jsonpath='{.spec.clusterIP}')" = "$before_ip" ]
    ;;
  rollout)
    deployment web 2 "" v1 'echo "$HOSTNAME VERSION=$VERSION"; exec sleep 3600'
    k rollout status deployment/web --timeout=45s
    k set env deployment/web VERSION=v2
    k rollout status deployment/web --timeout=45s
    k logs -l app=web --prefix --tail=3
    k set image deployment/web app=dockbot.invalid/never-pulled:1
    until k get pods -l app=web -o jsonpath='{.items[*].status.containerStatuses[*].state.waiting.reason}' \
      | grep -q ErrImageNeverPull; do sleep 0.2; done
    [ "$(ready_count web)" -eq 2 ]
    k get pods -l app=web
    k rollout undo deployment/web
    k rollout status deployment/web --timeout=45s
    k rollout history deployment/web
    ;;
  *) echo "usage: $0 self-healing|service|rollout" >&2; exit 2 ;;
esac
