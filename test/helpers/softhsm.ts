/**
 * A SoftHSM2 token in a temporary folder, as a real PKCS#11 peer: its own
 * softhsm2.conf (SOFTHSM2_CONF), a token initialised with a label and a PIN,
 * a PIN file (0600), and URIs for kubepki. Needs softhsm2 (and opensc's
 * pkcs11-tool for the checks) from Debian.
 */
import type { ExecutionContext } from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { scratch } from './cli.js';

export const MODULE = '/usr/lib/softhsm/libsofthsm2.so';

export interface SoftHsm {
  /** Environment for a process that uses the token (SOFTHSM2_CONF). */
  env: Record<string, string>;
  label: string;
  pin: string;
  pinFile: string;
  dir: string;
  /** A kubepki URI for the key object `object` of this token. */
  uri(object: string, o?: { pinSource?: string | null; token?: string; module?: string }): string;
  /** pkcs11-tool's listing of the token's private keys. */
  listPrivateKeys(): Promise<string>;
  /** How many private key objects the token holds. */
  countPrivateKeys(): Promise<number>;
}

/** A fresh token (label `kubepki`, a distinctive PIN that tests look for in output). */
export function softhsm(t: ExecutionContext, label = 'kubepki'): SoftHsm {
  const dir = scratch(t);
  const tokens = path.join(dir, 'tokens');
  mkdirSync(tokens);
  const conf = path.join(dir, 'softhsm2.conf');
  writeFileSync(conf, `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  const env = { SOFTHSM2_CONF: conf };
  const pin = 'pin-4711-s3cr3t';
  execFileSync('softhsm2-util', ['--init-token', '--free', '--label', label, '--pin', pin, '--so-pin', 'so-9876-s3cr3t'], { env: { ...process.env, ...env }, stdio: 'pipe' });
  const pinFile = path.join(dir, 'pin');
  writeFileSync(pinFile, `${pin}\n`, { mode: 0o600 });
  const tool = (...args: string[]) => execa('pkcs11-tool', ['--module', MODULE, '--token-label', label, ...args], { env: { ...process.env, ...env }, reject: false, timeout: 30_000 });
  return {
    env, label, pin, pinFile, dir,
    uri: (object, o = {}) => {
      const pinSource = o.pinSource === null ? '' : `&pin-source=file:${o.pinSource ?? pinFile}`;
      return `pkcs11:token=${encodeURIComponent(o.token ?? label)};object=${encodeURIComponent(object)}?module-path=${o.module ?? MODULE}${pinSource}`;
    },
    listPrivateKeys: async () => {
      const r = await tool('--login', '--pin', pin, '--list-objects', '--type', 'privkey');
      return String(r.stdout) + String(r.stderr);
    },
    countPrivateKeys: async () => {
      const r = await tool('--login', '--pin', pin, '--list-objects', '--type', 'privkey');
      return (String(r.stdout).match(/^Private Key Object/gm) ?? []).length;
    },
  };
}
