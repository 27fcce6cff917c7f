#!/usr/bin/env bash
# Build the kubeadm control-plane PKI layout with the openssl command line, the
# way an operator would script it by hand: one `openssl genpkey` per key, one
# `openssl req` per certificate (self-signed with -x509 for the CAs, signed with
# -CA/-CAkey for the leaves) driven by an extensions config, run one after the
# other. This is the "openssl" peer measured by scripts/bench-init.
#
# usage: openssl-layout.sh OUT_DIR RSA-2048|ECDSA-P256
set -euo pipefail

here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"

[[ $# -eq 2 ]] || bench_die "usage: $0 OUT_DIR RSA-2048|ECDSA-P256"
out=$1
alg=$2
bench_check_alg "$alg"

read -r -a keyopts <<<"$(bench_keyopts "$alg")"

work=$(mktemp -d)
trap 'rm -rf -- "$work"' EXIT
cnf=$work/openssl.cnf
cat >"$cnf" <<CNF
[ req ]
distinguished_name = req_dn
default_md = sha256
[ req_dn ]

[ ca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, digitalSignature, keyEncipherment, keyCertSign
subjectKeyIdentifier = hash
# subjectAltName DNS:<CN> is added per CA with -addext

[ apiserver ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
authorityKeyIdentifier = keyid
subjectAltName = DNS:$BENCH_NODE_NAME, DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc, DNS:kubernetes.default.svc.$BENCH_DNS_DOMAIN, IP:$BENCH_SERVICE_IP, IP:$BENCH_ADVERTISE_ADDRESS

[ etcd_server ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
authorityKeyIdentifier = keyid
subjectAltName = DNS:$BENCH_NODE_NAME, DNS:localhost, IP:$BENCH_ADVERTISE_ADDRESS, IP:127.0.0.1, IP:::1

[ kubelet_server ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
authorityKeyIdentifier = keyid
subjectAltName = DNS:$BENCH_NODE_NAME, IP:$BENCH_ADVERTISE_ADDRESS

[ client ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
CNF

# Private keys (and sa.pub, as kubeadm writes it) 0600; certificates 0644 below.
umask 077
mkdir -p -- "$out/etcd"

key() { openssl genpkey -quiet "${keyopts[@]}" -out "$out/$1.key"; }

# ca NAME CN
ca() {
  key "$1"
  openssl req -new -x509 -key "$out/$1.key" -subj "/CN=$2" -days "$BENCH_CA_DAYS" \
    -config "$cnf" -extensions ca -addext "subjectAltName = DNS:$2" -out "$out/$1.crt"
}

# leaf NAME ISSUER SUBJECT SECTION
leaf() {
  key "$1"
  openssl req -new -key "$out/$1.key" -subj "$3" -days "$BENCH_LEAF_DAYS" \
    -CA "$out/$2.crt" -CAkey "$out/$2.key" -config "$cnf" -extensions "$4" -out "$out/$1.crt"
}

ca ca kubernetes
ca front-proxy-ca front-proxy-ca
ca etcd/ca etcd-ca

leaf apiserver ca "/CN=kube-apiserver" apiserver
leaf apiserver-kubelet-client ca "/O=kubeadm:cluster-admins/CN=kube-apiserver-kubelet-client" client
leaf kubelet-server ca "/O=system:nodes/CN=system:node:$BENCH_NODE_NAME" kubelet_server
leaf front-proxy-client front-proxy-ca "/CN=front-proxy-client" client
leaf etcd/server etcd/ca "/CN=$BENCH_NODE_NAME" etcd_server
leaf etcd/peer etcd/ca "/CN=$BENCH_NODE_NAME" etcd_server
leaf etcd/healthcheck-client etcd/ca "/CN=kube-etcd-healthcheck-client" client
leaf apiserver-etcd-client etcd/ca "/CN=kube-apiserver-etcd-client" client

key sa
openssl pkey -in "$out/sa.key" -pubout -out "$out/sa.pub"

chmod 0644 "$out"/*.crt "$out"/etcd/*.crt
