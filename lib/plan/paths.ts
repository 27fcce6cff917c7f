/**
 * Which files a cluster's PKI consists of, judged without parsing anything
 * (and without loading the certificate code): enough to start generating keys
 * while the rest of kubepki loads.
 */
import type { ClusterSpec } from '../config/spec.js';
import { KEY_PAIRS, certPath, certificatesFor, keyPath } from '../pki/catalog.js';

/** Every path the planner may look at, relative to the cert dir. */
export function pathsOf(spec: ClusterSpec): string[] {
  return [
    ...certificatesFor(spec).flatMap((e) => [certPath(e), keyPath(e)]),
    ...KEY_PAIRS.flatMap((k) => [k.key, k.pub]),
  ];
}

/** How many new keys a run will need at most, from which files are absent. */
export function keysToCreate(spec: ClusterSpec, present: (rel: string) => boolean): number {
  const certs = certificatesFor(spec);
  const externalCAs = new Set(certs.filter((e) => !e.ca && present(certPath(e)) && !present(keyPath(e))).map((e) => e.name));
  const leaves = certs.filter((e) => !present(certPath(e)) && !present(keyPath(e)) && !(e.ca && externalCAs.has(e.ca)));
  return leaves.length + KEY_PAIRS.filter((k) => !present(k.key)).length;
}
