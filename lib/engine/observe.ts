/**
 * Observe: what is on disk, read by one reader with one set of refusals.
 * Paths are looked at without following symbolic links (nor through them);
 * a symbolic link, a folder or anything but a regular file where a file
 * should be is refused, as is a private key or kubeconfig that others may
 * read. Existing certificates, keys and kubeconfigs are parsed here, so that
 * the planner (decide.ts) is pure: it judges typed observations, never text.
 */
import { lstatSync, readdirSync, readlinkSync } from 'node:fs';
import { MAX_READ_BYTES, UnreadableFileError, readFileBounded, sizeOf, sizeText } from '../read-file.js';
import path from 'node:path';
import { describeSystemError } from '../errors.js';
import { parseKubeconfig, type ParsedKubeconfig } from '../kubeconfig/kubeconfig.js';
import { MODES, certPath, certificatesFor, keyPath, modeText, type CAName } from '../pki/catalog.js';
import type { ClusterSpec } from '../config/spec.js';
import { Certificate } from '../pki/certificate.js';
import type { CertificateRole } from '../pki/pem.js';
import { parsePublicKeyPem, readPrivateKeyPem, type ReadPrivateKey } from '../pki/keys.js';
import { type CertificateFacts } from '../pki/certificate.js';
import { certificateBlocks } from '../pki/pem.js';
import type { KeyObject } from 'node:crypto';
import type { Target } from './targets.js';

/** Why a file cannot be used: the one set of refusals. */
export type Trouble =
  | { code: 'not-a-file'; what: string }
  | { code: 'unreadable'; reason: string }
  /** It does not hold what it should (a certificate, a key, a kubeconfig): `detail` says how ("holds no PEM certificate"). */
  | { code: 'unparsable'; detail: string }
  /** A secret others than its owner may read. */
  | { code: 'too-open'; mode: number }
  /** A PKCS#11 token that cannot be used (module, token, PIN): `message` names the URI, never the PIN. */
  | { code: 'token'; message: string }
  /** Past the largest file kubepki reads (read-file.ts): not a certificate, key or kubeconfig. */
  | { code: 'too-big'; size: number };

export type FileState =
  | { state: 'missing' }
  | { state: 'file'; data: Buffer; mode: number }
  | { state: 'refused'; trouble: Trouble };

export type Read<T> = { state: 'missing' } | { state: 'present'; value: T } | { state: 'refused'; trouble: Trouble };

export interface ReadCertificate {
  facts: CertificateFacts;
  certificate: Certificate;
  /** A CA file: the certificates after the first (its issuers, up to a root), in file order. */
  chain: Certificate[];
}
export type ReadKey = ReadPrivateKey;
/** A CA key's token: opened (to sign with, or to create the key in) and the key found there; what the run keeps, never the plan. */
export interface TokenObservation {
  token?: import('../pki/pkcs11.js').Token;
  key: Read<import('../pki/pkcs11.js').TokenKey>;
}

export interface ReadKubeconfig {
  text: string;
  parsed: ParsedKubeconfig;
  /** Its current user's embedded client certificate and key, when it has them. */
  client?: Read<ReadCertificate>;
  clientKey?: Read<ReadKey>;
  /** The CA certificates it embeds (a bundle), or why they cannot be read. */
  cas?: Read<Certificate[]>;
}

/** What a path is, without following links: the one question the observer asks the file system. */
export type PathKind = { type: 'file' | 'dir' | 'symlink' | 'other'; mode: number };

/**
 * Where observations come from: the disk, or (in the planner's unit tests) a
 * map in memory. `stat` returns undefined for a path that does not exist and
 * throws a system error for one that cannot be looked at.
 */
export interface FileSource {
  stat(file: string): PathKind | undefined;
  read(file: string): Buffer;
  /** Where a symbolic link points (only the kubelet's client certificate link is read through). */
  readlink?(file: string): string;
  /** The names of the folders directly in `dir` (not through symbolic links); throws as readdir(2) does. */
  subdirs?(dir: string): string[];
}

export const DISK: FileSource = {
  readlink: (file) => readlinkSync(file),
  stat(file) {
    const st = lstatSync(file, { throwIfNoEntry: false });
    if (!st) return undefined;
    return { type: st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other', mode: st.mode & 0o777 };
  },
  read: (file) => readFileBounded(file),
  subdirs: (dir) => readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name),
};

function kindOf(st: PathKind): string {
  if (st.type === 'dir') return 'a directory';
  if (st.type === 'symlink') return 'a symbolic link';
  if (st.type === 'file') return 'a regular file';
  return 'not a regular file';
}

/** The readers of a run: file states are read once and remembered, and a folder found missing makes everything under it missing without another system call. */
export class Observer {
  private readonly states = new Map<string, FileState>();
  private readonly folders = new Map<string, FileState | 'dir'>();
  private readonly tokens = new Map<string, TokenObservation>();

  constructor(readonly dirs: Readonly<Record<string, string>>, private readonly source: FileSource = DISK) {}

  dir(root: string): string {
    const d = this.dirs[root];
    if (d === undefined) throw new Error(`no directory for ${root}`);
    return d;
  }

  /** Open the PKCS#11 tokens the targets keep CA keys in (the binding loads only then). */
  async prepare(targets: readonly Target[]): Promise<void> {
    const uris = targets.flatMap((t) => (t.kind === 'certificate' && t.token && !this.tokens.has(t.token.text) ? [t.token] : []));
    if (uris.length) {
      // The PKCS#11 binding loads only for a description that keeps a CA key in a token.
      const { Token, TokenError } = await import('../pki/pkcs11.js');
      for (const uri of uris) {
        try {
          const token = Token.open(uri);
          const key = token.find(uri);
          this.tokens.set(uri.text, { token, key: key ? { state: 'present', value: key } : { state: 'missing' } });
        } catch (e) {
          if (!(e instanceof TokenError)) throw e;
          this.tokens.set(uri.text, { key: { state: 'refused', trouble: { code: 'token', message: e.message } } });
        }
      }
    }
  }

  /** The key a URI names in its token: present, missing (the token opened, to create it in), or refused. */
  tokenKey(uri: import('../pki/pkcs11-uri.js').Pkcs11Uri): TokenObservation {
    const known = this.tokens.get(uri.text);
    if (!known) throw new Error(`Observer: the token of ${uri.text} is read only after prepare()`);
    return known;
  }

  private folder(dir: string, rel: string): FileState | 'dir' {
    const key = path.join(dir, rel);
    let known = this.folders.get(key);
    if (known) return known;
    const up = path.dirname(rel);
    if (up !== '.') {
      const parent = this.folder(dir, up);
      if (parent !== 'dir') {
        known = parent.state === 'refused' ? parent : { state: 'missing' };
        this.folders.set(key, known);
        return known;
      }
    }
    try {
      const st = this.source.stat(key);
      known = !st ? { state: 'missing' } : st.type === 'dir' ? 'dir' : { state: 'refused', trouble: { code: 'not-a-file', what: `inside ${rel}, which is ${kindOf(st)}` } };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      known = code === 'ENOTDIR' ? { state: 'missing' } : { state: 'refused', trouble: { code: 'unreadable', reason: describeSystemError(e) } };
    }
    this.folders.set(key, known);
    return known;
  }

  /** One file's state, lstat'ed (with each parent up to the root's folder), never followed. */
  file(root: string, rel: string): FileState {
    const dir = this.dir(root);
    const key = `${root}:${rel}`;
    const known = this.states.get(key);
    if (known) return known;
    let st: FileState;
    const up = path.dirname(rel);
    const parent = up === '.' ? 'dir' : this.folder(dir, up);
    if (parent !== 'dir') st = parent;
    else st = readRegular(path.join(dir, rel), this.source);
    this.states.set(key, st);
    return st;
  }

  /**
   * The folders directly in a root's directory, sorted (hidden ones left out):
   * none when it is missing; refused, with the reason, when it cannot be read.
   */
  subdirs(root: string): { names: string[] } | { trouble: Trouble } {
    const dir = this.dir(root);
    try {
      return { names: (this.source.subdirs?.(dir) ?? []).filter((n) => !n.startsWith('.')).sort() };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return { names: [] };
      return { trouble: { code: 'unreadable', reason: describeSystemError(e) } };
    }
  }

  /** Forget these files' contents once decided about (a fleet's bundles are not held in memory). */
  release(root: string, rels: readonly string[]): void {
    for (const rel of rels) {
      this.states.delete(`${root}:${rel}`);
      for (const kind of READS) this.reads.delete(`${kind}:${root}:${rel}`);
    }
  }

  /** What each file was read as, once (a key or a kubeconfig is parsed once however many targets look at it). */
  private readonly reads = new Map<string, Read<unknown>>();

  /** A certificate file ('single': exactly one certificate), or a CA file ('bundle': the CA first, then its issuers). */
  certificate(root: string, rel: string, role: CertificateRole = 'single'): Read<ReadCertificate> {
    return this.parse(role, root, rel, (data) => this.readCertificate(data, role));
  }

  /**
   * A private key file, read for a use (keys.ts readPrivateKeyPem): 'sign' (the
   * default) parses it with OpenSSL; 'match', for a key only checked against its
   * certificate, reads its public half alone when it can.
   */
  privateKey(root: string, rel: string, use: 'sign' | 'match' = 'sign'): Read<ReadKey> {
    const st = this.file(root, rel);
    if (st.state === 'file' && st.mode & 0o077 & ~MODES.key) return { state: 'refused', trouble: { code: 'too-open', mode: st.mode } };
    const parsed = this.reads.get(`key:${root}:${rel}`) as Read<ReadKey> | undefined;
    if (use === 'match' && parsed) return parsed;
    return this.parse(use === 'sign' ? 'key' : 'key-match', root, rel, (data) => readPrivateKeyPem(data, use, path.join(this.dir(root), rel)));
  }

  publicKey(root: string, rel: string): Read<KeyObject> {
    return this.parse('pub', root, rel, (data) => parsePublicKeyPem(data));
  }

  /**
   * The kubelet's own client certificate (kubelet.conf's client-certificate
   * when the kubelet rotates it): kubelet-client-current.pem, a symbolic link
   * to kubelet-client-<time>.pem in the same folder, which holds the
   * certificate and its key. The one place kubepki reads through a link, as
   * the kubelet lays it out; a link out of its folder is refused.
   */
  kubeletClient(root: string, rel: string): Read<{ link?: string; certificate: ReadCertificate; key: ReadKey }> {
    const dir = this.dir(root);
    const full = path.join(dir, rel);
    let kind: PathKind | undefined;
    try {
      kind = this.source.stat(full);
    } catch (e) {
      return { state: 'refused', trouble: { code: 'unreadable', reason: describeSystemError(e) } };
    }
    if (!kind) return { state: 'missing' };
    let file = rel;
    let link: string | undefined;
    if (kind.type === 'symlink' && this.source.readlink) {
      try {
        link = this.source.readlink(full);
      } catch (e) {
        return { state: 'refused', trouble: { code: 'unreadable', reason: describeSystemError(e) } };
      }
      const to = path.resolve(path.dirname(full), link);
      if (path.dirname(to) !== path.dirname(full)) return { state: 'refused', trouble: { code: 'not-a-file', what: `a symbolic link out of its folder (to ${link})` } };
      file = path.relative(dir, to);
    }
    const st = this.file(root, file);
    if (st.state !== 'file') return st.state === 'missing' ? { state: 'refused', trouble: { code: 'not-a-file', what: `a symbolic link to ${link}, which is missing` } } : st;
    if (st.mode & 0o077) return { state: 'refused', trouble: { code: 'too-open', mode: st.mode } };
    try {
      return { state: 'present', value: { ...(link !== undefined ? { link } : {}), certificate: this.readCertificate(st.data, 'single'), key: readPrivateKeyPem(st.data, 'match') } };
    } catch (e) {
      return { state: 'refused', trouble: { code: 'unparsable', detail: (e as Error).message } };
    }
  }

  kubeconfig(root: string, rel: string): Read<ReadKubeconfig> {
    const st = this.file(root, rel);
    if (st.state === 'file' && st.mode & 0o077 & ~MODES.kubeconfig) return { state: 'refused', trouble: { code: 'too-open', mode: st.mode } };
    return this.parse('kubeconfig', root, rel, (data) => {
      const text = data.toString();
      const parsed = parseKubeconfig(text);
      const out: ReadKubeconfig = { text, parsed };
      if (parsed.certPem !== undefined) out.client = attempt(() => this.readCertificate(parsed.certPem!));
      // A kubeconfig's key is checked against its certificate (its public half), and signs only a CSR when kept (renew --keep-key --csr-only).
      if (parsed.keyPem !== undefined) out.clientKey = attempt(() => readPrivateKeyPem(parsed.keyPem!, 'match', `${path.join(this.dir(root), rel)} (client-key-data)`));
      if (parsed.caPem !== undefined) out.cas = attempt(() => Certificate.allFromPem(parsed.caPem!, 'bundle'));
      return out;
    });
  }

  /**
   * A certificate file's certificates, read with the small DER reader (the
   * fields the planner judges, and the signature check); the full X.509
   * parser is never loaded for what kubepki reads back.
   */
  private readCertificate(text: string | Buffer, role: CertificateRole = 'single'): ReadCertificate {
    const blocks = certificateBlocks(text, role); // its PemError says what the file holds instead
    try {
      const [first, ...chain] = blocks.map((der) => Certificate.fromDer(der));
      return { facts: first!.facts, certificate: first!, chain: role === 'bundle' ? chain : [] };
    } catch {
      throw new Error('holds a PEM certificate that does not parse');
    }
  }

  private parse<T>(kind: (typeof READS)[number], root: string, rel: string, read: (data: Buffer) => T): Read<T> {
    const st = this.file(root, rel);
    if (st.state !== 'file') return st;
    const key = `${kind}:${root}:${rel}`;
    const known = this.reads.get(key) as Read<T> | undefined;
    if (known) return known;
    let out: Read<T>;
    try {
      out = { state: 'present', value: read(st.data) };
    } catch (e) {
      out = { state: 'refused', trouble: { code: 'unparsable', detail: (e as Error).message } };
    }
    this.reads.set(key, out);
    return out;
  }
}

function attempt<T>(read: () => T): Read<T> {
  try {
    return { state: 'present', value: read() };
  } catch (e) {
    return { state: 'refused', trouble: { code: 'unparsable', detail: (e as Error).message } };
  }
}

/** The ways a file is read (certificate files by their role). */
const READS = ['single', 'bundle', 'key', 'key-match', 'pub', 'kubeconfig'] as const;

/** Read a regular file, refusing anything else (the one rule for every file kubepki reads). */
export function readRegular(file: string, source: FileSource = DISK): FileState {
  let st;
  try {
    st = source.stat(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR') return { state: 'missing' };
    return { state: 'refused', trouble: { code: 'unreadable', reason: describeSystemError(e) } };
  }
  if (!st) return { state: 'missing' };
  if (st.type !== 'file') return { state: 'refused', trouble: { code: 'not-a-file', what: kindOf(st) } };
  try {
    return { state: 'file', data: source.read(file), mode: st.mode };
  } catch (e) {
    if (e instanceof UnreadableFileError) {
      const r = e.reason;
      return { state: 'refused', trouble: r.kind === 'too-big' ? { code: 'too-big', size: r.size } : { code: 'not-a-file', what: 'not a regular file' } };
    }
    return { state: 'refused', trouble: { code: 'unreadable', reason: describeSystemError(e) } };
  }
}

/** What is wrong with a file, in words that follow its name ("is a directory"). */
export function troubleDetail(t: Trouble): string {
  switch (t.code) {
    case 'not-a-file': return `is ${t.what}`;
    case 'unreadable': return `cannot be read: ${t.reason}`;
    case 'unparsable': return t.detail;
    case 'token': return t.message;
    case 'too-open': return `is readable by others than its owner (mode ${modeText(t.mode)})`;
    case 'too-big': return `${sizeOf(t.size)}; kubepki reads files of up to ${sizeText(MAX_READ_BYTES)} (a certificate, key or kubeconfig is a few KB)`;
  }
}

/** A refusal in words: where, what is wrong, what to do (the one wording of every refusal). */
export function troubleText(where: string, t: Trouble, full?: string): string {
  switch (t.code) {
    case 'not-a-file': return `${where} ${troubleDetail(t)}; kubepki reads and writes regular files only: move it away`;
    case 'too-open': return `${where} ${troubleDetail(t)}; run "chmod 600 ${full ?? where}" and try again`;
    case 'token': return t.message;
    case 'too-big': return `${where} ${troubleDetail(t)}: move it away`;
    default: return `${where} ${troubleDetail(t)}`;
  }
}

/**
 * CAs whose certificate is here without its key: managed outside kubepki
 * (kubeadm's external CA mode). Judged from what is there, without reading
 * a certificate: enough for the flags they change.
 */
export function externalCAsOnDisk(spec: Pick<ClusterSpec, 'etcd' | 'caKeys' | 'certificatesDir'>, observer = new Observer({ certs: spec.certificatesDir })): Set<CAName> {
  return new Set(certificatesFor(spec).filter((e) => !e.ca && !spec.caKeys[e.name as CAName]
    && observer.file('certs', certPath(e)).state !== 'missing' && observer.file('certs', keyPath(e)).state === 'missing').map((e) => e.name as CAName));
}
