/**
 * Which files a cluster's PKI consists of, judged without parsing anything
 * (and without loading the certificate code): enough to start generating keys
 * while the rest of kubepki loads.
 */
import path from 'node:path';
import { ALL_FLAG_FILES } from '../components/flags.js';
import type { ClusterSpec } from '../config/spec.js';
import { KEY_PAIRS, KUBECONFIGS, certPath, certificatesFor, keyPath } from '../pki/catalog.js';

/** Parts of init that can be left out, by kubeadm's phase names (init --skip-phases). */
export const SKIPPABLE_PHASES = ['kubeconfig', 'flags'] as const;
export type Phase = (typeof SKIPPABLE_PHASES)[number];

/** The directories kubepki writes in. */
export const ROOTS = ['certs', 'kubeconfigs', 'flags'] as const;
export type Root = (typeof ROOTS)[number];

export function rootDir(spec: ClusterSpec, root: Root): string {
  return path.resolve(root === 'certs' ? spec.certificatesDir : root === 'kubeconfigs' ? spec.kubeconfigDir : spec.flagsDir);
}

/** Every root's directory. */
export const rootDirs = (spec: ClusterSpec): Record<Root, string> => Object.fromEntries(ROOTS.map((r) => [r, rootDir(spec, r)])) as Record<Root, string>;

/** Every path the planner may look at, by root. */
export function pathsOf(spec: ClusterSpec): { root: Root; rel: string }[] {
  const certs = [...certificatesFor(spec).flatMap((e) => [certPath(e), keyPath(e)]), ...KEY_PAIRS.flatMap((k) => [k.key, k.pub])];
  return [
    ...certs.map((rel): { root: Root; rel: string } => ({ root: 'certs', rel })),
    ...KUBECONFIGS.map((k): { root: Root; rel: string } => ({ root: 'kubeconfigs', rel: k.file })),
    ...ALL_FLAG_FILES.map((rel): { root: Root; rel: string } => ({ root: 'flags', rel })),
  ];
}

/** How many new keys a run will need at most, from which files are absent. */
export function keysToCreate(spec: ClusterSpec, present: (rel: string) => boolean, kubeconfigPresent: ((file: string) => boolean) | undefined): number {
  const certs = certificatesFor(spec);
  const externalCAs = new Set(certs.filter((e) => !e.ca && present(certPath(e)) && !present(keyPath(e))).map((e) => e.name));
  const leaves = certs.filter((e) => !present(certPath(e)) && !present(keyPath(e)) && !(e.ca && externalCAs.has(e.ca)));
  return leaves.length + KEY_PAIRS.filter((k) => !present(k.key)).length + (kubeconfigPresent ? KUBECONFIGS.filter((k) => !kubeconfigPresent(k.file)).length : 0);
}
