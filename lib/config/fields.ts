/**
 * Field rules shared by every way a value can arrive (kubepki YAML, kubeadm
 * YAML, command-line flags). Each returns a complaint about the value, or
 * undefined when it is fine; the caller names the field.
 */
import { parseDuration } from '../durations.js';
import { canonicalIP, isDNSName, isSANName, parseCidr, splitHostPort } from '../net.js';
import { ALGORITHM_NAMES, isAlgorithmName } from '../pki/algorithms.js';
import { parsePkcs11Uri } from '../pki/pkcs11-uri.js';

/** The longest validity kubepki issues for: 1,000 years of 365.25 days. */
const MAX_VALIDITY_MS = 1000 * 365.25 * 86_400_000;

export type Rule = (value: string) => string | undefined;

/** What is wrong with a PKCS#11 URI, or undefined. */
function pkcs11UriComplaint(v: string): string | undefined {
  try {
    parsePkcs11Uri(v);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/** One CIDR, or two of different families (dual-stack), comma-separated: what is wrong with the list, or its CIDRs. */
function cidrList(v: string): { complaint?: string; cidrs: NonNullable<ReturnType<typeof parseCidr>>[] } {
  const parts = v.split(',').map((s) => s.trim());
  const cidrs = parts.map(parseCidr);
  const bad = parts.find((_, i) => !cidrs[i]);
  if (bad !== undefined) return { complaint: `is not a valid CIDR${parts.length > 1 ? ` ("${bad}")` : ''}`, cidrs: [] };
  if (parts.length > 2) return { complaint: 'has more than two CIDRs (dual-stack takes one IPv4 and one IPv6)', cidrs: [] };
  if (parts.length === 2 && cidrs[0]!.family === cidrs[1]!.family) return { complaint: 'has two CIDRs of the same family (dual-stack takes one IPv4 and one IPv6)', cidrs: [] };
  return { cidrs: cidrs as NonNullable<ReturnType<typeof parseCidr>>[] };
}

export const rules = {
  ip: (v) => (canonicalIP(v) === undefined ? 'is not a valid IP address' : undefined),
  advertiseAddress: (v) => {
    const ip = canonicalIP(v);
    if (ip === undefined) return 'is not a valid IP address';
    if (ip === '0.0.0.0' || ip === '::') return 'is the unspecified address; give the address this node is reached on';
    return undefined;
  },
  dnsName: (v) => (isDNSName(v) ? undefined : 'is not a valid DNS name (RFC 1123 subdomain: lower-case letters, digits, "-" and ".")'),
  nodeName: (v) => (isDNSName(v) ? undefined : 'is not a valid node name (RFC 1123 subdomain: lower-case letters, digits, "-" and ".")'),
  san: (v) => (canonicalIP(v) !== undefined || isSANName(v) ? undefined : 'is not a valid IP address, DNS name or wildcard DNS name'),
  endpoint: (v) => (splitHostPort(v) ? undefined : 'is not a valid host or host:port (host: IP address or DNS name; port 1-65535)'),
  serviceSubnet: (v) => {
    const { complaint, cidrs } = cidrList(v);
    if (complaint) return complaint;
    for (const c of cidrs) {
      if (c.family === 6 && c.prefix < 108) return `is too large: an IPv6 service subnet needs a prefix of /108 or longer ("${c.text}")`;
      if (c.family === 4 && c.prefix > 30) return `is too small to hold a service address ("${c.text}")`;
      if (c.family === 6 && c.prefix > 126) return `is too small to hold a service address ("${c.text}")`;
    }
    return undefined;
  },
  // Pods: one CIDR, or one per family (dual-stack); the controller-manager allocates node CIDRs from it.
  podSubnet: (v) => cidrList(v).complaint,
  // The kubelet's --container-runtime-endpoint: unix:///path (a bare absolute path is taken as one, as the kubelet does).
  criSocket: (v) => (/^(unix:\/\/)?\/[^\s\0"\\]+$/.test(v) ? undefined : 'is not a container runtime socket (unix:///path/to/socket)'),
  // A component flag's name, without its dashes: what extraArgs and allowInsecure name (a kubelet setting may be a dotted path).
  flagName: (v) => (/^(--?)?[A-Za-z0-9][A-Za-z0-9.-]*$/.test(v) ? undefined : 'is not a flag name (letters, digits, "-" and ".")'),
  argName: (v) => (/^[A-Za-z0-9][A-Za-z0-9.-]*$/.test(v) ? undefined : 'is not a flag name (letters, digits, "-" and ".", without the leading dashes)'),
  // Flags reach components through a systemd EnvironmentFile, split at white space.
  argValue: (v) => (/[\s\0"\\]/.test(v) ? 'contains white space, a quote, a backslash or a NUL byte, which component flags cannot carry' : undefined),
  envName: (v) => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(v) ? undefined : 'is not an environment variable name'),
  envValue: (v) => (/[\n\r\0]/.test(v) ? 'contains a line break or a NUL byte' : undefined),
  bootstrapToken: (v) => (/^[a-z0-9]{6}\.[a-z0-9]{16}$/.test(v) ? undefined : 'is not a bootstrap token ([a-z0-9]{6}.[a-z0-9]{16})'),
  tokenGroup: (v) => (/^system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]$/.test(v) ? undefined : 'is not a bootstrap token group (system:bootstrappers:...)'),
  // 0 means the token never expires.
  tokenTTL: (v) => {
    const ms = parseDuration(v);
    return ms === undefined || ms < 0 ? 'is not a valid duration (Go syntax, for example 24h; 0 for a token that never expires)' : undefined;
  },
  timestamp: (v) => (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(v) && !Number.isNaN(Date.parse(v)) ? undefined : 'is not an RFC 3339 time (2026-12-31T00:00:00Z)'),
  port: (v) => (/^\d{1,5}$/.test(v) && Number(v) >= 1 && Number(v) <= 65535 ? undefined : 'is not a valid port (1-65535)'),
  duration: (v) => {
    const ms = parseDuration(v);
    if (ms === undefined) return 'is not a valid duration (Go syntax, for example 8760h or 90d)';
    if (ms <= 0) return 'must be longer than zero';
    return undefined;
  },
  // How long a certificate lives: a certificate cannot carry a date after the year 9999 (RFC 5280), and
  // nothing needs anywhere near that; kubepki caps it at 1,000 years.
  validity: (v) => {
    const ms = parseDuration(v);
    if (ms === undefined) return 'is not a valid duration (Go syntax, for example 8760h or 90d)';
    if (ms <= 0) return 'must be longer than zero';
    if (ms > MAX_VALIDITY_MS) return 'is longer than 1,000 years (8766000h), the most kubepki issues for';
    return undefined;
  },
  algorithm: (v) => (isAlgorithmName(v) ? undefined : `is not a supported algorithm (one of ${ALGORITHM_NAMES.join(', ')})`),
  // Paths end up in flags that systemd splits at white space ($VAR in ExecStart): none allowed.
  path: (v) => (v.length === 0 ? 'is empty' : /[\s\0"\\]/.test(v) ? 'contains white space, a quote, a backslash or a NUL byte, which component flags cannot carry' : undefined),
  clusterName: (v) => (isDNSName(v) ? undefined : 'is not a valid cluster name (RFC 1123 subdomain)'),
  // A CA key in a token: NAME=URI on the command line; in YAML each value is checked with pkcs11Uri.
  caKey: (v) => {
    const eq = v.indexOf('=');
    const name = v.slice(0, eq);
    if (eq < 0 || !['ca', 'front-proxy-ca', 'etcd-ca'].includes(name)) return 'is not NAME=URI with NAME one of ca, front-proxy-ca, etcd-ca (the sa key stays a file: kube-apiserver signs with it)';
    return pkcs11UriComplaint(v.slice(eq + 1));
  },
  pkcs11Uri: pkcs11UriComplaint,
  // External etcd: the API server authenticates to it with a client certificate, so over TLS only.
  etcdEndpoint: (v) => {
    const m = /^(https?):\/\/(.+)$/.exec(v);
    if (m?.[1] === 'http') return 'is a plain-http endpoint; kubepki connects the API server to etcd over TLS with a client certificate: use https://';
    const hp = m ? splitHostPort(m[2]!) : undefined;
    return hp?.port !== undefined ? undefined : 'is not an etcd client endpoint (https://host:port)';
  },
} satisfies Record<string, Rule>;

export type RuleName = keyof typeof rules;
