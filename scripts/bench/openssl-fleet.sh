#!/usr/bin/env bash
# Per-node bundles for a fleet of worker nodes with the openssl command line,
# the way an operator would script it by hand: the same output as
# `kubepki nodes issue` for workers, one node after the other. This is the
# "openssl-loop" peer measured by scripts/bench-fleet.
#
# For node i of COUNT (names w-0 .. w-(COUNT-1), address 10.1.(i/250).(i%250+1),
# as in the inventory scripts/bench-fleet writes), OUT_DIR/w-i/ gets:
#   ca.crt                   a copy of CA_CRT
#   kubelet-server.crt/.key  CN=system:node:w-i, O=system:nodes, serverAuth,
#                            SANs DNS:w-i and IP:<its address>, signed by the CA
#   kubelet.conf             a kubeconfig embedding (base64) the CA, and a
#                            client certificate CN=system:node:w-i,
#                            O=system:nodes, clientAuth, signed by the CA, and its key
# Per node: two `openssl genpkey` and two `openssl req -new -CA -CAkey`
# (OpenSSL 3), base64 -w0 of the client certificate and key, cp of the CA.
# Keys and kubelet.conf are 0600, certificates 0644. At the end it checks the
# last node's two certificates with `openssl verify` against the CA.
#
# usage: openssl-fleet.sh OUT_DIR CA_CRT CA_KEY RSA-2048|ECDSA-P256 COUNT
#
# Environment: FLEET_SERVER (default https://10.0.0.1:6443) and FLEET_CLUSTER
# (default kubernetes), the API server and cluster name in kubelet.conf.
set -euo pipefail

here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"

[[ $# -eq 5 ]] || bench_die "usage: $0 OUT_DIR CA_CRT CA_KEY RSA-2048|ECDSA-P256 COUNT"
out=$1
ca_crt=$2
ca_key=$3
alg=$4
count=$5
bench_check_alg "$alg"
[[ $count =~ ^[0-9]+$ && $count -ge 1 && $count -le 64000 ]] || bench_die "COUNT must be a whole number from 1 to 64000, got '$count'"
[[ -f $ca_crt && -f $ca_key ]] || bench_die "CA certificate or key not found: $ca_crt, $ca_key"
server=${FLEET_SERVER:-https://10.0.0.1:6443}
cluster=${FLEET_CLUSTER:-kubernetes}

# keyEncipherment only for RSA keys, as kubepki (and Go's x509) does.
read -r -a keyopts <<<"$(bench_keyopts "$alg")"
ku='critical, digitalSignature'
[[ $alg == RSA-* ]] && ku+=', keyEncipherment'

work=$(mktemp -d)
trap 'rm -rf -- "$work"' EXIT
cnf=$work/openssl.cnf
cat >"$cnf" <<CNF
[ req ]
distinguished_name = req_dn
default_md = sha256
[ req_dn ]

[ kubelet_server ]
basicConstraints = critical, CA:FALSE
keyUsage = $ku
extendedKeyUsage = serverAuth
authorityKeyIdentifier = keyid
# subjectAltName DNS:<name>, IP:<address> is added per node with -addext

[ client ]
basicConstraints = critical, CA:FALSE
keyUsage = $ku
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
CNF

# Keys and kubelet.conf 0600; certificates made 0644 at the end.
umask 077
mkdir -p -- "$out"
ca_b64=$(base64 -w0 "$ca_crt")
client_key=$work/client.key
client_crt=$work/client.crt

for ((i = 0; i < count; i++)); do
  name=w-$i
  ip=10.1.$((i / 250)).$((i % 250 + 1))
  dir=$out/$name
  user=system:node:$name
  mkdir -- "$dir"
  cp -- "$ca_crt" "$dir/ca.crt"

  openssl genpkey -quiet "${keyopts[@]}" -out "$dir/kubelet-server.key"
  openssl req -new -key "$dir/kubelet-server.key" -subj "/O=system:nodes/CN=$user" -days "$BENCH_LEAF_DAYS" \
    -CA "$ca_crt" -CAkey "$ca_key" -config "$cnf" -extensions kubelet_server \
    -addext "subjectAltName = DNS:$name, IP:$ip" -out "$dir/kubelet-server.crt"

  openssl genpkey -quiet "${keyopts[@]}" -out "$client_key"
  openssl req -new -key "$client_key" -subj "/O=system:nodes/CN=$user" -days "$BENCH_LEAF_DAYS" \
    -CA "$ca_crt" -CAkey "$ca_key" -config "$cnf" -extensions client -out "$client_crt"

  cat >"$dir/kubelet.conf" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: $cluster
    cluster:
      certificate-authority-data: $ca_b64
      server: $server
contexts:
  - name: $user@$cluster
    context:
      cluster: $cluster
      user: $user
current-context: $user@$cluster
preferences: {}
users:
  - name: $user
    user:
      client-certificate-data: $(base64 -w0 "$client_crt")
      client-key-data: $(base64 -w0 "$client_key")
EOF
done

# One process for all certificates rather than one per node.
find "$out" -mindepth 2 -maxdepth 2 -name '*.crt' -exec chmod 0644 {} +

# Check the last node: its serving and client certificates against the CA.
openssl verify -CAfile "$ca_crt" -purpose sslserver "$dir/kubelet-server.crt" >/dev/null ||
  bench_die "$dir/kubelet-server.crt does not verify against $ca_crt"
openssl verify -CAfile "$ca_crt" -purpose sslclient "$client_crt" >/dev/null ||
  bench_die "the client certificate of $name does not verify against $ca_crt"
