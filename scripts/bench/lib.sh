# shellcheck shell=bash
# Shared settings and checks for scripts/bench-init and the peer layout scripts
# (openssl-layout.sh, cfssl-layout.sh). Source it; it defines no side effects
# beyond variables and functions.

# The cluster every tool in the benchmark builds a PKI for (kubeadm defaults
# except the node name and advertise address).
BENCH_NODE_NAME=cp-1
BENCH_ADVERTISE_ADDRESS=192.168.10.11
BENCH_SERVICE_CIDR=10.96.0.0/12
BENCH_SERVICE_IP=10.96.0.1 # first address of BENCH_SERVICE_CIDR
BENCH_DNS_DOMAIN=cluster.local
BENCH_CA_DAYS=3650
BENCH_LEAF_DAYS=365

bench_die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# bench_check_alg ALG: accept only the two algorithms the benchmark covers.
bench_check_alg() {
  case "${1:-}" in
    RSA-2048 | ECDSA-P256) ;;
    *) bench_die "algorithm must be RSA-2048 or ECDSA-P256, got '${1:-}'" ;;
  esac
}

# Leaves of the layout: "path issuer-ca purpose" (purpose: server, client or
# both, as checked with openssl verify -purpose).
BENCH_LEAVES=(
  "apiserver ca server"
  "apiserver-kubelet-client ca client"
  "kubelet-server ca server"
  "front-proxy-client front-proxy-ca client"
  "etcd/server etcd/ca both"
  "etcd/peer etcd/ca both"
  "etcd/healthcheck-client etcd/ca client"
  "apiserver-etcd-client etcd/ca client"
)
BENCH_CAS=(ca front-proxy-ca etcd/ca)

# bench_verify_layout DIR ALG: check that DIR holds the kubeadm layout for ALG:
# every file present with the right mode, each key matching its certificate and
# of the right algorithm, every leaf verifying against its CA for its purpose,
# and the SANs of the serving certificates. Prints problems to stderr and
# returns non-zero if there are any.
bench_verify_layout() {
  # A third argument "token" means the CA keys live in a PKCS#11 token: no CA key files.
  local dir=$1 alg=$2 keys=${3:-files} bad=0 entry name ca purpose f mode want keyalg certpub keypub san p
  case "$alg" in
    RSA-2048) keyalg='rsaEncryption' ;;
    ECDSA-P256) keyalg='id-ecPublicKey' ;;
    *) bench_die "unknown algorithm $alg" ;;
  esac
  _bench_bad() { printf '  %s: %s\n' "$dir" "$*" >&2; bad=1; }

  local names=("${BENCH_CAS[@]}")
  for entry in "${BENCH_LEAVES[@]}"; do names+=("${entry%% *}"); done
  if [[ $keys == token ]]; then
    for name in "${BENCH_CAS[@]}"; do
      [[ -f $dir/$name.crt ]] || _bench_bad "missing $name.crt"
      [[ ! -e $dir/$name.key ]] || _bench_bad "$name.key exists, but the CA key should be in the token"
    done
    names=()
    for entry in "${BENCH_LEAVES[@]}"; do names+=("${entry%% *}"); done
  fi
  for name in "${names[@]}"; do
    for f in "$dir/$name.crt" "$dir/$name.key"; do
      [[ -f $f ]] || { _bench_bad "missing ${f#"$dir"/}"; continue; }
      if [[ $f == *.crt ]]; then want=644; else want=600; fi
      mode=$(stat -c %a "$f")
      [[ $mode == "$want" ]] || _bench_bad "${f#"$dir"/} has mode $mode, want $want"
    done
    [[ -f $dir/$name.crt && -f $dir/$name.key ]] || continue
    openssl x509 -in "$dir/$name.crt" -noout -text 2>/dev/null | grep -q "Public Key Algorithm: $keyalg" ||
      _bench_bad "$name.crt does not hold an $alg key"
    certpub=$(openssl x509 -in "$dir/$name.crt" -noout -pubkey 2>/dev/null) || certpub=cert
    keypub=$(openssl pkey -in "$dir/$name.key" -pubout 2>/dev/null) || keypub=key
    [[ $certpub == "$keypub" ]] || _bench_bad "$name.key does not match $name.crt"
  done
  for f in sa.key sa.pub; do
    [[ -f $dir/$f ]] || { _bench_bad "missing $f"; continue; }
    mode=$(stat -c %a "$dir/$f")
    [[ $mode == 600 || ($f == sa.pub && $mode == 644) ]] || _bench_bad "$f has mode $mode, want 600"
  done
  if [[ -f $dir/sa.key && -f $dir/sa.pub ]]; then
    [[ "$(openssl pkey -in "$dir/sa.key" -pubout 2>/dev/null)" == "$(openssl pkey -pubin -in "$dir/sa.pub" 2>/dev/null)" ]] ||
      _bench_bad "sa.pub is not the public key of sa.key"
  fi

  for entry in "${BENCH_LEAVES[@]}"; do
    read -r name ca purpose <<<"$entry"
    [[ -f $dir/$name.crt && -f $dir/$ca.crt ]] || continue
    case "$purpose" in
      server) p=(sslserver) ;;
      client) p=(sslclient) ;;
      both) p=(sslserver sslclient) ;;
    esac
    for purpose in "${p[@]}"; do
      openssl verify -CAfile "$dir/$ca.crt" -purpose "$purpose" "$dir/$name.crt" >/dev/null 2>&1 ||
        _bench_bad "$name.crt does not verify against $ca.crt for $purpose"
    done
  done

  if [[ -f $dir/apiserver.crt ]]; then
    san=$(openssl x509 -in "$dir/apiserver.crt" -noout -ext subjectAltName 2>/dev/null)
    for want in "DNS:$BENCH_NODE_NAME" DNS:kubernetes DNS:kubernetes.default DNS:kubernetes.default.svc \
      "DNS:kubernetes.default.svc.$BENCH_DNS_DOMAIN" "IP Address:$BENCH_SERVICE_IP" "IP Address:$BENCH_ADVERTISE_ADDRESS"; do
      [[ $san == *"$want"* ]] || _bench_bad "apiserver.crt lacks SAN $want"
    done
  fi
  for name in etcd/server etcd/peer; do
    [[ -f $dir/$name.crt ]] || continue
    san=$(openssl x509 -in "$dir/$name.crt" -noout -ext subjectAltName 2>/dev/null)
    for want in "DNS:$BENCH_NODE_NAME" DNS:localhost "IP Address:$BENCH_ADVERTISE_ADDRESS" "IP Address:127.0.0.1" "IP Address:0:0:0:0:0:0:0:1"; do
      [[ $san == *"$want"* ]] || _bench_bad "$name.crt lacks SAN $want"
    done
  done
  unset -f _bench_bad
  return "$bad"
}

# bench_keyopts ALG: the `openssl genpkey` options for a key of ALG, one line.
bench_keyopts() {
  case "$1" in
    RSA-2048) echo "-algorithm RSA -pkeyopt rsa_keygen_bits:2048" ;;
    ECDSA-P256) echo "-algorithm EC -pkeyopt ec_paramgen_curve:P-256 -pkeyopt ec_param_enc:named_curve" ;;
    *) bench_die "unknown algorithm $1" ;;
  esac
}
