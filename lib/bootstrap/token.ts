/**
 * Bootstrap tokens, as kubeadm makes them (k8s.io/cluster-bootstrap):
 * "<id>.<secret>", [a-z0-9]{6}.[a-z0-9]{16}, from a cryptographic source, and
 * their kube-system Secret; and lines of a static token auth file.
 */
import { randomBytes } from 'node:crypto';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
export const TOKEN_PATTERN = /^([a-z0-9]{6})\.([a-z0-9]{16})$/;
export const GROUP_PATTERN = /^system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]$/;
export const USAGES = ['signing', 'authentication'] as const;
export const DEFAULT_GROUP = 'system:bootstrappers:kubeadm:default-node-token';

/**
 * n characters of ALPHABET, each from one random byte below the largest multiple
 * of 36 (so that every character is equally likely). From randomBytes, which
 * keeps nothing between calls: crypto.randomInt keeps a cache of random bytes
 * that the executable's start-up snapshot would freeze (lib/snapshot.ts).
 */
function randomString(n: number): string {
  const limit = 256 - (256 % ALPHABET.length);
  let out = '';
  while (out.length < n) {
    for (const b of randomBytes(n)) if (b < limit && out.length < n) out += ALPHABET[b % ALPHABET.length];
  }
  return out;
}

export interface BootstrapToken {
  id: string;
  secret: string;
  token: string;
}

export function newBootstrapToken(): BootstrapToken {
  const id = randomString(6);
  const secret = randomString(16);
  return { id, secret, token: `${id}.${secret}` };
}

export interface TokenSecretOptions {
  token: BootstrapToken;
  expiration?: Date;
  usages: readonly string[];
  groups: readonly string[];
  description?: string;
}

/** The bootstrap-token Secret kubeadm creates in kube-system. */
export function tokenSecret(o: TokenSecretOptions): Record<string, unknown> {
  const data: Record<string, string> = {
    'token-id': o.token.id,
    'token-secret': o.token.secret,
  };
  if (o.description) data.description = o.description;
  if (o.expiration) data.expiration = o.expiration.toISOString().replace(/\.\d{3}Z$/, 'Z');
  for (const u of o.usages) data[`usage-bootstrap-${u}`] = 'true';
  if (o.groups.length) data['auth-extra-groups'] = o.groups.join(',');
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: `bootstrap-token-${o.token.id}`, namespace: 'kube-system' },
    type: 'bootstrap.kubernetes.io/token',
    stringData: data,
  };
}

/** A static token file token: 32 random bytes, hex (256 bits; the seeds ask for at least 128). */
export const newStaticToken = () => randomBytes(32).toString('hex');

/** One line of a --token-auth-file: token,user,uid,"group1,group2". */
export function tokenFileLine(token: string, user: string, uid: string, groups: readonly string[]): string {
  const quoted = (v: string) => (/[",\s]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  return `${token},${quoted(user)},${quoted(uid)}${groups.length ? `,"${groups.join(',')}"` : ''}\n`;
}
