/**
 * The plan: data only. What each artifact's files will be (created, reused,
 * kept, renewed, managed elsewhere), what was found wrong, and what `--dry-run
 * -o json` prints. Keys, signers and file contents never live here: they are
 * in the run's context (run.ts) beside it.
 */
import type { AlgorithmName } from '../pki/algorithms.js';
import type { AltNames, CAName, Profile, Root, Subject } from '../pki/catalog.js';

/** A directory of a run: one of the catalog's roots, or one a command names (certs sign writes beside each CSR). */
export type RunRoot = Root | `dir:${string}`;

export type Action = 'create' | 'reuse' | 'keep' | 'external' | 'renew' | 'remove';

export type ItemKind = 'ca' | 'certificate' | 'key-pair' | 'kubeconfig' | 'flags' | 'generated' | 'signed' | 'csr' | 'remove';

export interface PlanItem {
  id: string;
  name: string;
  kind: ItemKind;
  root: RunRoot;
  action: Action;
  /** Paths (relative to the root) this item writes. */
  writes: string[];
  /** Paths it uses as they are. */
  uses: string[];
  /** The CA that signs it. */
  ca?: CAName;
  subject?: Subject;
  sans?: AltNames;
  /** Existing certificates: when they expire. */
  notAfter?: string;
  notes: string[];
  /** The component flags and settings that read its files ("kube-apiserver --tls-cert-file"). */
  consumers: string[];
  /** What making it needs, as data. */
  profile?: Profile;
  validity?: number;
  keyAlgorithm?: AlgorithmName;
  /** Where a CA's key is: a file (path), or elsewhere. */
  key?: string;
  /** reconcile: how what is there differs from the description ("SANs +DNS:lb.example.com -IP:10.0.0.9"). */
  changes?: string[];
}

export interface Plan {
  dirs: Partial<Record<RunRoot, string>>;
  items: PlanItem[];
  problems: string[];
}

export const emptyPlan = (dirs: Partial<Record<RunRoot, string>>): Plan => ({ dirs, items: [], problems: [] });

export function countActions(plan: Plan): Record<Action, number> {
  const count = (a: Action) => plan.items.filter((i) => i.action === a).length;
  return { create: count('create'), reuse: count('reuse'), keep: count('keep'), external: count('external'), renew: count('renew'), remove: count('remove') };
}
