/**
 * Addresses, networks and DNS names. IP parsing and CIDR arithmetic use
 * ipaddr.js (the parser behind Express's proxy-addr): IPv4-mapped IPv6,
 * zero-compression and prefix checks are easy to get subtly wrong by hand.
 */
import ipaddr from 'ipaddr.js';

/** An IP address in canonical text (IPv6 compressed), or undefined. */
export function canonicalIP(text: string): string | undefined {
  if (!ipaddr.isValid(text)) return undefined;
  // isValid accepts legacy forms such as "10.1" or octal; require a full dotted quad for IPv4.
  if (!text.includes(':') && !ipaddr.IPv4.isValidFourPartDecimal(text)) return undefined;
  return ipaddr.parse(text).toString();
}

export function isIP(text: string): boolean {
  return canonicalIP(text) !== undefined;
}

export interface Cidr {
  text: string;
  family: 4 | 6;
  prefix: number;
}

export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const address = text.slice(0, slash);
  const prefixText = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText) || canonicalIP(address) === undefined) return undefined;
  const prefix = Number(prefixText);
  const ip = ipaddr.parse(address);
  const family = ip.kind() === 'ipv4' ? 4 : 6;
  if (prefix > (family === 4 ? 32 : 128)) return undefined;
  return { text: `${ip.toString()}/${prefix}`, family, prefix };
}

/**
 * The n-th address of a network (n = 1 is the first usable one, as Kubernetes
 * takes the service VIP; 10 is the cluster DNS address). Undefined when the
 * network is too small to hold it.
 */
export function nthAddress(cidrText: string, n: number): string | undefined {
  const [net, prefix] = ipaddr.parseCIDR(cidrText);
  const bytes = net.toByteArray();
  const bits = bytes.length * 8;
  const hostBits = bits - prefix;
  if (hostBits < 64 && BigInt(n) >= 1n << BigInt(hostBits)) return undefined;
  let value = bytes.reduce((acc, b) => (acc << 8n) | BigInt(b), 0n);
  const mask = hostBits >= bits ? 0n : ((1n << BigInt(bits)) - 1n) ^ ((1n << BigInt(hostBits)) - 1n);
  value = (value & mask) + BigInt(n);
  const out: number[] = [];
  for (let i = bytes.length - 1; i >= 0; i--) {
    out[i] = Number(value & 0xffn);
    value >>= 8n;
  }
  return ipaddr.fromByteArray(out).toString();
}

/** RFC 1123 subdomain, as Kubernetes validates DNS names (lower case, <= 253). */
export function isDNSName(text: string): boolean {
  return text.length <= 253 && /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/.test(text);
}

/** A DNS name, or a wildcard one ("*.example.com"), as kubeadm accepts in certSANs. */
export function isSANName(text: string): boolean {
  return isDNSName(text) || (text.startsWith('*.') && isDNSName(text.slice(2)));
}

/** Split "host:port", "[v6]:port", "host" or a bare IPv6 address. */
export function splitHostPort(text: string): { host: string; port?: number } | undefined {
  let host = text;
  let portText: string | undefined;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracket) {
    host = bracket[1]!;
    portText = bracket[2];
  } else if ((text.match(/:/g) ?? []).length === 1) {
    [host, portText] = text.split(':') as [string, string];
  }
  if (portText !== undefined) {
    const port = Number(portText);
    if (!/^\d{1,5}$/.test(portText) || port < 1 || port > 65535) return undefined;
    if (!(isIP(host) || isDNSName(host))) return undefined;
    return { host: canonicalIP(host) ?? host, port };
  }
  if (!(isIP(host) || isDNSName(host))) return undefined;
  return { host: canonicalIP(host) ?? host };
}

/** "host:port" with IPv6 hosts bracketed, for URLs. */
export function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
