/**
 * Where each root lives for a description, and what init can leave out.
 * Light on purpose (the catalog and path only): init reads it before the
 * engine loads, to start generating keys.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { ClusterSpec } from '../config/spec.js';
import { BACKUPS, KEY_PAIRS, KUBECONFIGS, NODE_BUNDLES, certPath, certificatesFor, keyPath, type CAName, type Root } from '../pki/catalog.js';

/** Parts of init that can be left out, by kubeadm's phase names (init --skip-phases). */
export const SKIPPABLE_PHASES = ['kubeconfig', 'flags'] as const;
export type Phase = (typeof SKIPPABLE_PHASES)[number];

/** The directories init writes in. */
export const INIT_ROOTS = ['certs', 'kubeconfigs', 'flags'] as const satisfies readonly Root[];

/** The directory of a root as the description places it (commands may choose others with --out and the like). */
export function rootDir(spec: ClusterSpec, root: Exclude<Root, 'units' | 'manifests' | 'csrs'>, now = Date.now()): string {
  switch (root) {
    case 'certs': return path.resolve(spec.certificatesDir);
    case 'kubeconfigs': return path.resolve(spec.kubeconfigDir);
    case 'flags': return path.resolve(spec.flagsDir);
    case 'nodes': return path.resolve(spec.kubeconfigDir, NODE_BUNDLES.dir);
    case 'backups': {
      // One folder per run: a second run within the same second gets "<stamp>-2", so no copy lands over another.
      const base = path.resolve(spec.kubeconfigDir, BACKUPS.dir, BACKUPS.stamp(now));
      let dir = base;
      for (let i = 2; existsSync(dir); i++) dir = `${base}-${i}`;
      return dir;
    }
  }
}

/** init's directories. */
export const initDirs = (spec: ClusterSpec): Record<(typeof INIT_ROOTS)[number], string> =>
  Object.fromEntries(INIT_ROOTS.map((r) => [r, rootDir(spec, r)])) as Record<(typeof INIT_ROOTS)[number], string>;

/** How many new keys init will need at most, from which files are absent (no file is read). */
export function keysToCreate(spec: ClusterSpec, present: (rel: string) => boolean, kubeconfigPresent: ((file: string) => boolean) | undefined): number {
  const certs = certificatesFor(spec);
  const externalCAs = new Set(certs.filter((e) => !e.ca && present(certPath(e)) && !present(keyPath(e))).map((e) => e.name));
  // A CA whose key a token keeps takes none from the pool.
  const leaves = certs.filter((e) => !present(certPath(e)) && !present(keyPath(e)) && !(e.ca && externalCAs.has(e.ca)) && !spec.caKeys[e.name as CAName]);
  return leaves.length + KEY_PAIRS.filter((k) => !present(k.key)).length + (kubeconfigPresent ? KUBECONFIGS.filter((k) => !kubeconfigPresent(k.file)).length : 0);
}
