/**
 * kubepki certs renew NAME|all: new certificates for existing ones, with the
 * same subject, SANs and usages, signed by the same CA, with the configured
 * validity; all replaced at once (old files copied to a timestamped backup
 * folder first); then the components that read them are named, or restarted.
 */
import path from 'node:path';
import { writeAllOrNothing, recoverInterrupted, type FileGroup } from '../apply/transaction.js';
import { loadSpec, type OverrideFlag } from '../config/load.js';
import { UserError } from '../errors.js';
import { PROFILES, type ExtKeyUsage, type Profile } from '../pki/catalog.js';
import { generateKey } from '../pki/keys.js';
import { ExternalCAError, loadSigner } from '../pki/signer.js';
import { isSignedBy } from '../pki/certificate.js';
import { issueCertificate, validityFrom, type Signer } from '../pki/issue.js';
import { certificateFacts, createCsr } from '../pki/x509.js';
import { RenewError, componentsToRestart, renewTargets, type Current, type RenewTarget } from '../renew/targets.js';

export interface RenewOptions extends Partial<Record<OverrideFlag, unknown>> {
  config?: string;
  names: string[];
  keepKey?: boolean;
  csrOnly?: boolean;
  csrDir?: string;
  restart?: boolean;
  restartCommand?: string;
  dryRun?: boolean;
}

const log = (line: string) => process.stdout.write(line + '\n');

function select(all: RenewTarget[], names: string[]): { targets: RenewTarget[]; explicit: boolean } {
  if (names.length === 1 && names[0] === 'all') return { targets: all, explicit: false };
  if (names.includes('all')) throw new UserError('"all" cannot be combined with other names', { exitCode: 2 });
  const unknown = names.filter((n) => !all.some((t) => t.name === n));
  if (unknown.length) {
    throw new UserError(`unknown certificate ${unknown.map((u) => `"${u}"`).join(', ')}; renewable: ${all.map((t) => t.name).join(', ')}, all`, { exitCode: 2 });
  }
  return { targets: all.filter((t) => names.includes(t.name)), explicit: true };
}

/** The usages of the current certificate, as a profile for the new one. */
function profileOf(current: Current, name: string): Profile {
  const facts = certificateFacts(current.certificate);
  const known = facts.extKeyUsage.filter((u): u is ExtKeyUsage => u === 'serverAuth' || u === 'clientAuth');
  if (known.length !== facts.extKeyUsage.length) {
    throw new UserError(`${name}: its certificate has extended key usages kubepki cannot carry over (${facts.extKeyUsage.filter((u) => !known.includes(u as ExtKeyUsage)).join(', ')})`);
  }
  return { ...PROFILES.client, extKeyUsage: known };
}

export async function runRenew(options: RenewOptions): Promise<number> {
  const now = Date.now();
  const spec = loadSpec(options.config, options);
  const { targets, explicit } = select(renewTargets(spec), options.names);
  // A renewal killed half-way is rolled back before anything is read.
  if (!options.dryRun) {
    for (const m of await recoverInterrupted([spec.certificatesDir, spec.kubeconfigDir])) process.stderr.write(`[kubepki] ${m}\n`);
  }
  if (options.csrOnly && !options.csrDir) throw new UserError('--csr-only needs --csr-dir, the folder to write keys and CSRs to', { exitCode: 2 });

  // Read and check everything before making anything.
  const problems: string[] = [];
  const work: { target: RenewTarget; current: Current; signer?: Signer }[] = [];
  const signers = new Map<string, Signer | Error>();
  const certDir = path.resolve(spec.certificatesDir);
  for (const target of targets) {
    let current: Current;
    try {
      current = target.read();
    } catch (e) {
      if (e instanceof RenewError && e.kind === 'missing' && !explicit) {
        log(`MISSING! ${target.longName} (${target.name})`);
        continue;
      }
      problems.push(e instanceof RenewError ? e.message : String(e));
      continue;
    }
    if (options.csrOnly) {
      work.push({ target, current });
      continue;
    }
    if (!signers.has(target.ca)) {
      try {
        signers.set(target.ca, loadSigner(certDir, target.ca));
      } catch (e) {
        signers.set(target.ca, e as Error);
      }
    }
    const signer = signers.get(target.ca)!;
    if (signer instanceof Error) {
      const external = signer instanceof ExternalCAError;
      if (external && !explicit) {
        log(`Detected external ${target.ca}: ${target.name} can't be renewed here (its CA key is kept elsewhere); use --csr-only`);
        continue;
      }
      problems.push(external
        ? `${target.name} is signed by ${target.ca}, whose key is not here (the CA is managed outside kubepki): have that CA renew it, or write a CSR with --csr-only --csr-dir DIR`
        : `${target.name}: ${signer.message}`);
      continue;
    }
    if (!isSignedBy(current.certificate.rawData, signer.certificate)) {
      problems.push(`${target.name}: its certificate is not signed by ${target.ca} (${certDir}); kubepki will not re-sign it with another CA: restore the right CA, or re-create it with init`);
      continue;
    }
    work.push({ target, current, signer });
  }
  if (problems.length) {
    throw new UserError(problems.length === 1 ? `${problems[0]!}. Nothing was renewed.` : `${problems.length} problems; nothing was renewed:`, { details: problems.length === 1 ? [] : problems });
  }
  if (!work.length) {
    log('Nothing to renew.');
    return 0;
  }

  const newKey = async (current: Current) => (options.keepKey ? current.key : generateKey(spec.encryptionAlgorithm));

  if (options.csrOnly) {
    const dir = path.resolve(options.csrDir!);
    const files = await Promise.all(work.map(async ({ target, current }) => {
      const facts = certificateFacts(current.certificate);
      const key = await newKey(current);
      const csr = await createCsr({ subject: facts.subject, sans: facts.sans, privateKey: key.privateKey, publicKey: key.publicKey, algorithm: key.algorithm });
      return [
        { rel: `${target.name}.key`, data: key.privateKeyPem, mode: 0o600 },
        { rel: `${target.name}.csr`, data: csr, mode: 0o600 },
      ];
    }));
    if (options.dryRun) {
      for (const { target } of work) log(`would write ${path.join(dir, `${target.name}.key`)} and ${target.name}.csr`);
      return 0;
    }
    for (const m of await recoverInterrupted([dir])) process.stderr.write(`[kubepki] ${m}\n`);
    await writeAllOrNothing([{ dir, files: files.flat() }]).catch((e: unknown) => {
      if (e instanceof UserError && /appeared/.test(e.message)) throw new UserError(`a key or CSR already exists in ${dir}; kubepki will not overwrite it: choose an empty --csr-dir`);
      throw e;
    });
    for (const { target } of work) log(`[renew] Wrote ${path.join(dir, `${target.name}.key`)} and ${target.name}.csr for ${target.longName}`);
    log('Have the external CA sign the CSRs with the usages of each certificate, then put the certificates in place.');
    return 0;
  }

  const made = await Promise.all(work.map(async ({ target, current, signer }) => {
    const facts = certificateFacts(current.certificate);
    const key = await newKey(current);
    const certificate = await issueCertificate({
      subject: facts.subject, sans: facts.sans, profile: profileOf(current, target.name), publicKey: key.spki,
      publicKeyAlgorithm: key.algorithm, ...validityFrom(now, spec.certificateValidity), issuer: signer!,
    });
    return { target, files: target.write(certificate, key, signer!.certificate.pem), notAfter: certificate.notAfter, serial: certificate.serialNumber };
  }));
  const stamp = new Date(now).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const backupRoot = path.join(path.resolve(spec.kubeconfigDir), 'kubepki-backups', stamp);
  if (options.dryRun) {
    for (const m of made) log(`would renew ${m.target.name}: ${m.target.files.join(', ')} (until ${m.notAfter.toISOString()})`);
    log(`Old files would be copied to ${backupRoot}`);
    return 0;
  }
  const byDir = new Map<string, FileGroup & { files: { rel: string; data: string; mode: number; replace: true; step: string }[] }>();
  for (const m of made) {
    const group = byDir.get(m.target.dir) ?? { dir: m.target.dir, files: [], backupDir: m.target.dir === certDir && certDir !== path.resolve(spec.kubeconfigDir) ? path.join(backupRoot, path.basename(certDir)) : backupRoot };
    // A certificate and its key switch in one step (two consecutive renames).
    group.files.push(...m.files.map((f) => ({ ...f, replace: true as const, step: m.target.name })));
    byDir.set(m.target.dir, group);
  }
  await writeAllOrNothing([...byDir.values()]);
  for (const m of made) log(`[renew] ${m.target.longName} renewed (${m.target.name}, serial ${m.serial}, until ${m.notAfter.toISOString()})`);
  log(`[renew] The replaced files are in ${backupRoot}`);

  const components = componentsToRestart(made.map((m) => m.target));
  if (!components.length) {
    log('Done renewing certificates. No component reads them from this node; hand renewed kubeconfigs to their users.');
    return 0;
  }
  if (!options.restart) {
    log(`Done renewing certificates. You must restart ${components.join(', ')} so that they use the new certificates (or run again with --restart).`);
    return 0;
  }
  return restart(components, options.restartCommand);
}

/** Restart each component in turn (etcd first), reporting each result. */
async function restart(components: string[], command: string | undefined): Promise<number> {
  const { execa } = await import('execa');
  let failed = 0;
  for (const component of components) {
    const argv = command
      ? ['/bin/sh', '-c', command.replace(/\{component\}/g, component)]
      : ['systemctl', 'restart', `${component}.service`];
    const r = await execa(argv[0]!, argv.slice(1), { reject: false, timeout: 120_000, stdin: 'ignore' });
    if (r.exitCode === 0) {
      log(`[restart] ${component}: restarted`);
    } else {
      failed++;
      const why = String(r.stderr || r.stdout).trim().split('\n').pop() ?? '';
      log(`[restart] ${component}: FAILED (${r.timedOut ? 'timed out' : `exit ${r.exitCode ?? r.signal}`}${why ? `: ${why}` : ''})`);
    }
  }
  if (failed) throw new UserError(`${failed} of ${components.length} restarts failed; the new certificates are in place: restart those components by hand`);
  return 0;
}
