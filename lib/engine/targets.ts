/**
 * Targets: what a command wants on disk, one per artifact (a certificate and
 * its key, a key pair, a kubeconfig, a generated file, a CSR...), built from
 * the catalog and the description. A target says where its files go and
 * which policy decides about what is already there; the planner (decide.ts)
 * turns targets and what is on disk (observe.ts) into the plan.
 */
import type { AlgorithmName } from '../pki/algorithms.js';
import type { AltNames, CAName, Consumer, FileRole, Profile, Subject } from '../pki/catalog.js';
import type { Certificate } from '../pki/certificate.js';
import type { Pkcs11Uri } from '../pki/pkcs11-uri.js';
import type { ReadKey } from './observe.js';
import type { RunRoot } from './plan.js';

/**
 * What to do with what is already there:
 * - init: create what is missing, reuse a CA with its key, keep what matches, refuse what does not;
 * - require: it must be there and usable (a CA to sign with); nothing is written;
 * - renew: replace what is there (backing it up); what is missing is skipped, or refused when named;
 * - reconcile: as init, but what differs from the description is re-issued (backed up) instead of refused;
 * - generated: write when missing, keep when identical, refuse when different;
 * - new: write when missing, refuse when anything is there (never overwrite).
 */
export type Policy = 'init' | 'require' | 'renew' | 'reconcile' | 'generated' | 'new';

interface TargetBase {
  /** Unique in a plan: the catalog name, prefixed for node bundles ("w-1/kubelet-server"). */
  id: string;
  /** The catalog's name. */
  name: string;
  root: RunRoot;
  consumers: readonly Consumer[];
  /** kubeadm's long name, for renew's messages. */
  longName?: string;
}

export interface CertTarget extends TargetBase {
  kind: 'certificate';
  policy: 'init' | 'require' | 'renew' | 'reconcile';
  isCA: boolean;
  /** Paths under the root. */
  cert: string;
  key: string;
  /** The CA that signs it (leaves). */
  ca?: CAName;
  /** What the description asks for (renew takes them from the existing certificate instead). */
  subject?: Subject;
  sans?: AltNames;
  profile: Profile;
  validity: number;
  keyAlgorithm: AlgorithmName;
  /** renew: keep the existing key. */
  keepKey?: boolean;
  /** reconcile --include-cas: a CA that differs from the description is made anew. */
  includeCA?: boolean;
  /** renew --csr-only: an external CA will sign; its key need not be here. */
  csrOnly?: boolean;
  /** A CA whose key lives in a PKCS#11 token (certificates.caKeys): no key file. */
  token?: Pkcs11Uri;
  /** A CA's rotation files (kubepki ca rotate): while they are there, its file may hold the other CA of the rotation after it. */
  rotation?: { old: { cert: string; key: string }; new: { cert: string; key: string } };
  /**
   * A CA decided under another name than its catalog name (the incoming CA
   * of a rotation, "ca-new"): the name the run knows its state by.
   */
  slot?: string;
  /** renew: the CAs that may have signed the current certificate, when another CA re-issues it (a rotation's issue and abort). */
  renewFrom?: Certificate[];
  /** The CA state that signs it, when not its CA's own (a rotation's slot: "ca-new"). */
  caSlot?: string;
  /** renew: a certificate this CA signed already is kept (a rotation's step run again, on another node). */
  keepSignedBy?: Certificate;
}

export interface KeyPairTarget extends TargetBase {
  kind: 'key-pair';
  policy: 'init';
  key: string;
  pub: string;
  keyAlgorithm: AlgorithmName;
}

export interface KubeconfigTarget extends TargetBase {
  kind: 'kubeconfig';
  /** trust: only its embedded CA certificates change (a CA renewed, a rotation's trust), its client certificate stays. */
  policy: 'init' | 'renew' | 'reconcile' | 'new' | 'trust';
  file: string;
  /** The CA it embeds and that signs its client certificate. */
  signer: CAName;
  subject: Subject;
  server: string;
  clusterName: string;
  credentials: { kind: 'client-certificate'; validity: number } | { kind: 'token'; token: string };
  keyAlgorithm: AlgorithmName;
  keepKey?: boolean;
  csrOnly?: boolean;
  /** A kubeconfig whose client certificate is a file its owner rotates (the kubelet's) is kept, not judged. */
  allowCertificateFile?: boolean;
  /** The words for an existing file that is not this cluster's kubeconfig for this identity (instead of the judgement's). */
  mismatch?: string;
  /** With a CA managed elsewhere: the client certificate it signed and its key (certs generate-csr), to write the kubeconfig around. */
  signedElsewhere?: { cert: string; key: string; csr: string };
  /** The CA certificates it embeds, when not its signer's file (a rotation's trust: both CAs). */
  trustPem?: () => string;
  /** renew: the CAs that may have signed the current client certificate (a rotation's issue and abort). */
  renewFrom?: Certificate[];
  /** The CA state that signs it, when not its signer's own (a rotation's slot: "ca-new"). */
  caSlot?: string;
  /** renew: a client certificate this CA signed already is kept. */
  keepSignedBy?: Certificate;
  /** trust: trustPem can be made when deciding, and a kubeconfig that embeds exactly those certificates is kept. */
  settled?: boolean;
  /** renew: its client certificate is a file the kubelet rotates, renewed by a target of its own (KubeletClientTarget). */
  clientFileRenewed?: boolean;
}

export interface GeneratedTarget extends TargetBase {
  kind: 'generated';
  /** replace: written over what is there (a copy kept in the backups), its content made by the run (a trust bundle with a CA's new certificate). */
  policy: 'generated' | 'new' | 'replace';
  /** How plans show it: a component's flag files, or another generated file. */
  shownAs: 'flags' | 'generated';
  files: { rel: string; role: FileRole; /** Made when the file is written (a fresh token, say). */ data: () => string }[];
  /** Under policy 'new', the words for a file that is there already (kubepki never overwrites it). */
  exists?: (where: string) => string;
  /**
   * replace: the content the file must have now for it to be replaced (what
   * kubepki wrote in the previous phase of a rotation); a file that differs
   * was changed by hand and is not overwritten.
   */
  expected?: (rel: string) => string | undefined;
  /** replace: the content can be made when deciding, and a file that has it already is kept. */
  settled?: boolean;
  /** What the plan says of it (a component's flags: the user's arguments in them). */
  notes?: readonly string[];
  /** generated: an existing file this accepts is kept though it differs (a token's Secret, its expiry written when it was made). */
  same?: (existing: string) => boolean;
}

/** Files that go (a finished rotation's old CA): each is copied to the backups, then removed; one that is not there is nothing to do. */
export interface RemoveTarget extends TargetBase {
  kind: 'remove';
  policy: 'remove';
  files: { rel: string; role: FileRole }[];
}

/**
 * The client certificate the kubelet rotates itself (kubelet.conf pointing at
 * kubelet-client-current.pem): renewed as the kubelet would, a new
 * kubelet-client-<time>.pem (certificate and key) and the link moved to it;
 * a plain file in the link's place is replaced as a file.
 */
export interface KubeletClientTarget extends TargetBase {
  kind: 'kubelet-client';
  policy: 'renew';
  /** The link the kubelet reads, and the new file, under the root (the kubelet's folder). */
  current: string;
  fresh: string;
  /** The new file's absolute path: what the link points to (the kubelet writes absolute links). */
  linkTo: string;
  signer: CAName;
  validity: number;
  keyAlgorithm: AlgorithmName;
}

/** A certificate for a public key kubepki did not make (certs sign: a node's CSR). */
export interface SignedTarget extends TargetBase {
  kind: 'signed';
  policy: 'new';
  file: string;
  ca: CAName;
  subject: Subject;
  sans: AltNames;
  profile: Profile;
  spki: Buffer;
  validity: number;
  /** The words for a file that is there already (kubepki never overwrites it). */
  exists?: (where: string) => string;
}

/** A new key and a CSR for an external CA (renew --csr-only). */
export interface CsrTarget extends TargetBase {
  kind: 'csr';
  policy: 'new';
  key: string;
  csr: string;
  subject: Subject;
  sans: AltNames;
  keyAlgorithm: AlgorithmName;
  /** The usages to ask for (generate-csr): the certificate's profile. */
  profile?: Profile;
  /** The key to reuse (renew --keep-key). */
  reuseKey?: ReadKey;
  exists?: (where: string) => string;
}

export type Target = CertTarget | KeyPairTarget | KubeconfigTarget | KubeletClientTarget | GeneratedTarget | SignedTarget | CsrTarget | RemoveTarget;

/** Every path a target writes or reads, relative to its root. */
export function targetPaths(t: Target): string[] {
  switch (t.kind) {
    case 'certificate': return [...(t.token ? [t.cert] : [t.cert, t.key]), ...(t.rotation ? [t.rotation.old.cert, t.rotation.new.cert] : [])];
    case 'key-pair': return [t.key, t.pub];
    case 'csr': return [t.key, t.csr];
    case 'generated':
    case 'remove': return t.files.map((f) => f.rel);
    case 'kubeconfig': return t.signedElsewhere ? [t.file, t.signedElsewhere.cert, t.signedElsewhere.key] : [t.file];
    case 'kubelet-client': return [t.current, t.fresh];
    default: return [t.file];
  }
}
