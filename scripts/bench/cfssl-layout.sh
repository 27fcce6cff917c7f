#!/usr/bin/env bash
# Build the kubeadm control-plane PKI layout with cfssl, the way an operator
# would script it: `cfssl gencert -initca` for each CA from a CSR JSON,
# `cfssl gencert -ca ... -config ... -profile ...` for each leaf with signing
# profiles (server, client, peer) from a config JSON, `cfssljson -bare` to write
# the files, then renaming them to kubeadm's names. Run one after the other.
# This is the "cfssl" peer measured by scripts/bench-init.
#
# cfssl has no way to write a bare key pair, so sa.key/sa.pub are made with
# openssl (genpkey + pkey -pubout), as operators using cfssl commonly do.
# `cfssl gencert -initca` applies cfssl's fixed CA policy, so the CAs' key usage
# is cfssl's (certSign, cRLSign) rather than kubeadm's, and the packaged cfssl
# (Debian's 1.2.0 snapshot) leaves the CSR hosts (SAN DNS:<CN>) off the CAs.
# The leaves match kubeadm's.
#
# usage: cfssl-layout.sh OUT_DIR RSA-2048|ECDSA-P256
set -euo pipefail

here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"

[[ $# -eq 2 ]] || bench_die "usage: $0 OUT_DIR RSA-2048|ECDSA-P256"
out=$1
alg=$2
bench_check_alg "$alg"

case "$alg" in
  RSA-2048)
    keyjson='{"algo": "rsa", "size": 2048}'
    ;;
  ECDSA-P256)
    keyjson='{"algo": "ecdsa", "size": 256}'
    ;;
esac
read -r -a keyopts <<<"$(bench_keyopts "$alg")"

work=$(mktemp -d)
trap 'rm -rf -- "$work"' EXIT

cat >"$work/config.json" <<JSON
{
  "signing": {
    "default": { "expiry": "$((BENCH_LEAF_DAYS * 24))h" },
    "profiles": {
      "server": { "expiry": "$((BENCH_LEAF_DAYS * 24))h", "usages": ["digital signature", "key encipherment", "server auth"] },
      "client": { "expiry": "$((BENCH_LEAF_DAYS * 24))h", "usages": ["digital signature", "key encipherment", "client auth"] },
      "peer":   { "expiry": "$((BENCH_LEAF_DAYS * 24))h", "usages": ["digital signature", "key encipherment", "server auth", "client auth"] }
    }
  }
}
JSON

# csr FILE CN HOSTS-JSON [EXTRA-JSON]: write a CSR JSON for cfssl.
csr() {
  cat >"$work/$1.json" <<JSON
{ "CN": "$2", "hosts": $3, "key": $keyjson${4:+, $4} }
JSON
}

# rename NAME: cfssljson -bare NAME writes NAME.pem, NAME-key.pem and NAME.csr.
rename() {
  mv -- "$out/$1.pem" "$out/$1.crt"
  mv -- "$out/$1-key.pem" "$out/$1.key"
  rm -f -- "$out/$1.csr"
}

# ca NAME CN
ca() {
  csr ca-csr "$2" "[\"$2\"]" "\"ca\": {\"expiry\": \"$((BENCH_CA_DAYS * 24))h\"}"
  cfssl gencert -loglevel 3 -initca "$work/ca-csr.json" | cfssljson -bare "$out/$1"
  rename "$1"
}

# leaf NAME ISSUER PROFILE CN HOSTS-JSON [O]
leaf() {
  local names=''
  [[ -z ${6:-} ]] || names="\"names\": [{\"O\": \"$6\"}]"
  csr leaf-csr "$4" "$5" "$names"
  cfssl gencert -loglevel 3 -ca "$out/$2.crt" -ca-key "$out/$2.key" -config "$work/config.json" \
    -profile "$3" "$work/leaf-csr.json" | cfssljson -bare "$out/$1"
  rename "$1"
}

umask 022
mkdir -p -- "$out/etcd"

ca ca kubernetes
ca front-proxy-ca front-proxy-ca
ca etcd/ca etcd-ca

apiserver_hosts="[\"$BENCH_NODE_NAME\", \"kubernetes\", \"kubernetes.default\", \"kubernetes.default.svc\", \"kubernetes.default.svc.$BENCH_DNS_DOMAIN\", \"$BENCH_SERVICE_IP\", \"$BENCH_ADVERTISE_ADDRESS\"]"
etcd_hosts="[\"$BENCH_NODE_NAME\", \"localhost\", \"$BENCH_ADVERTISE_ADDRESS\", \"127.0.0.1\", \"::1\"]"

leaf apiserver ca server kube-apiserver "$apiserver_hosts"
leaf apiserver-kubelet-client ca client kube-apiserver-kubelet-client '[]' kubeadm:cluster-admins
leaf kubelet-server ca server "system:node:$BENCH_NODE_NAME" "[\"$BENCH_NODE_NAME\", \"$BENCH_ADVERTISE_ADDRESS\"]" system:nodes
leaf front-proxy-client front-proxy-ca client front-proxy-client '[]'
leaf etcd/server etcd/ca peer "$BENCH_NODE_NAME" "$etcd_hosts"
leaf etcd/peer etcd/ca peer "$BENCH_NODE_NAME" "$etcd_hosts"
leaf etcd/healthcheck-client etcd/ca client kube-etcd-healthcheck-client '[]'
leaf apiserver-etcd-client etcd/ca client kube-apiserver-etcd-client '[]'

# sa.key/sa.pub with openssl (see above); 0600 like kubeadm writes them.
(
  umask 077
  openssl genpkey -quiet "${keyopts[@]}" -out "$out/sa.key"
  openssl pkey -in "$out/sa.key" -pubout -out "$out/sa.pub"
)
