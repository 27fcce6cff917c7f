/**
 * kubepki certs renew NAME|all: new certificates for existing ones, with the
 * same subject, SANs and usages, signed by the same CA, with the configured
 * validity; all replaced at once (old files copied to a timestamped backup
 * folder first); then the components that read them are named, or restarted.
 */
import path from 'node:path';
import { loadSpec, type OverrideFlag } from '../config/load.js';
import { parseDuration } from '../durations.js';
import { UserError } from '../errors.js';
import { authorityTargets, kubeletClientTarget, renewableTargets } from '../engine/desired.js';
import { readRegular } from '../engine/observe.js';
import { parseKubeconfig } from '../kubeconfig/kubeconfig.js';
import { rootDir } from '../engine/roots.js';
import { Run } from '../engine/run.js';
import type { CsrTarget, CertTarget, KubeconfigTarget, KubeletClientTarget } from '../engine/targets.js';
import { csrFiles, restartOrder, type Component } from '../pki/catalog.js';

export interface RenewOptions extends Partial<Record<OverrideFlag, unknown>> {
  config?: string;
  names?: string[];
  keepKey?: boolean;
  csrOnly?: boolean;
  csrDir?: string;
  restart?: boolean;
  restartCommand?: string;
  dryRun?: boolean;
  /** Only what expires within this duration ("30d", "720h"); no names needed. */
  expiringWithin?: string;
}

const log = (line: string) => process.stdout.write(line + '\n');

type Renewable = CertTarget | KubeconfigTarget | KubeletClientTarget;

/**
 * kubelet.conf's client certificate file, when the kubelet rotates its own
 * (kubeadm's layout after TLS bootstrap: /var/lib/kubelet/pki/kubelet-client-current.pem,
 * certificate and key in one file); undefined when it embeds them, or is not here.
 */
function kubeletCertFile(kubeconfigs: string): string | undefined {
  const st = readRegular(path.join(kubeconfigs, 'kubelet.conf'));
  if (st.state !== 'file') return undefined;
  try {
    const kc = parseKubeconfig(st.data.toString());
    if (kc.certPem !== undefined || !kc.certFile || kc.keyFile !== kc.certFile) return undefined;
    return path.resolve(kubeconfigs, kc.certFile);
  } catch {
    return undefined; // the kubeconfig's own target says what is wrong with it
  }
}

function select(all: Renewable[], names: string[], windowed: boolean): { targets: Renewable[]; explicit: boolean } {
  if (!names.length) {
    if (!windowed) throw new UserError('name the certificates to renew (or all), or give --expiring-within DURATION', { exitCode: 2 });
    return { targets: all, explicit: false };
  }
  if (names.length === 1 && names[0] === 'all') return { targets: all, explicit: false };
  if (names.includes('all')) throw new UserError('"all" cannot be combined with other names', { exitCode: 2 });
  const unknown = names.filter((n) => !all.some((t) => t.name === n));
  if (unknown.length) {
    throw new UserError(`unknown certificate ${unknown.map((u) => `"${u}"`).join(', ')}; renewable: ${all.map((t) => t.name).join(', ')}, all`, { exitCode: 2 });
  }
  return { targets: all.filter((t) => names.includes(t.name)), explicit: true };
}

const signerOf = (t: Renewable) => (t.kind === 'certificate' ? t.ca! : t.signer);

export async function runRenew(options: RenewOptions): Promise<number> {
  const now = Date.now();
  const spec = loadSpec(options.config, options);
  if (options.csrOnly && !options.csrDir) throw new UserError('--csr-only needs --csr-dir, the folder to write keys and CSRs to', { exitCode: 2 });
  const window = options.expiringWithin === undefined ? undefined : parseDuration(String(options.expiringWithin));
  if (options.expiringWithin !== undefined && (window === undefined || window <= 0)) {
    throw new UserError(`--expiring-within: "${options.expiringWithin}" is not a duration greater than zero (e.g. 30d, 720h)`, { exitCode: 2 });
  }
  const certs = rootDir(spec, 'certs');
  const kubeconfigs = rootDir(spec, 'kubeconfigs');
  // The kubelet's own client certificate is renewed too (not with --csr-only or --keep-key: it is the kubelet's file, renewed as the kubelet would).
  const certFile = options.csrOnly || options.keepKey ? undefined : kubeletCertFile(kubeconfigs);
  const kubelet = certFile ? kubeletClientTarget(spec, certFile, now) : undefined;
  const all: Renewable[] = [
    ...renewableTargets(spec, options.keepKey ?? false).map((t) => ({ ...t, ...(options.csrOnly ? { csrOnly: true } : {}), ...(kubelet && t.kind === 'kubeconfig' && t.name === 'kubelet.conf' ? { clientFileRenewed: true } : {}) })),
    ...(kubelet ? [kubelet] : []),
  ];
  const { targets, explicit } = select(all, options.names ?? [], window !== undefined);
  const backupRoot = rootDir(spec, 'backups', now);
  const run = new Run({
    dirs: { certs, kubeconfigs, ...(options.csrOnly ? { csrs: path.resolve(options.csrDir!) } : {}), ...(kubelet ? { [kubelet.root]: path.dirname(kubelet.linkTo) } : {}) },
    now,
    explicit,
    // The cert dir's files go to <backup>/<its name>/ when it is not the kubeconfig dir itself; the kubelet's to <backup>/kubelet/.
    backups: {
      certs: certs !== kubeconfigs ? path.join(backupRoot, path.basename(certs)) : backupRoot, kubeconfigs: backupRoot,
      ...(kubelet ? { [kubelet.root]: path.join(backupRoot, 'kubelet') } : {}),
    },
  });
  // A renewal killed half-way is rolled back before anything is read.
  if (!options.dryRun) await run.recover(['certs', 'kubeconfigs', ...(kubelet ? [kubelet.root] : [])]);

  // Read and check everything before making anything.
  if (!options.csrOnly) await run.decide(authorityTargets(spec, [...new Set(targets.map(signerOf))]));
  const decided = await run.decide(targets);
  for (const line of run.skipped) log(line);
  const error = run.problemsError({ what: 'nothing was renewed' });
  if (error) throw error;
  // --expiring-within: only what ends inside the window (CAs are never renewable here: they are rotation's).
  const items = window === undefined ? decided : decided.filter((i) => i.notAfter !== undefined && Date.parse(i.notAfter) - now <= window);
  if (window !== undefined) {
    for (const i of decided.filter((d) => !items.includes(d))) log(`[renew] ${i.name}: valid until ${i.notAfter}, after the window; left as it is`);
  }
  if (!items.length) {
    log(window === undefined ? 'Nothing to renew.' : `Nothing to renew: nothing expires within ${options.expiringWithin}.`);
    return 0;
  }

  if (options.csrOnly) {
    const dir = run.dir('csrs');
    const requests: CsrTarget[] = items.map((i) => {
      const key = run.material(i.id)?.key;
      return {
        kind: 'csr', id: `csr/${i.id}`, name: i.name, root: 'csrs', policy: 'new', ...csrFiles(i.name),
        subject: i.subject!, sans: i.sans!, keyAlgorithm: spec.encryptionAlgorithm, consumers: [], longName: targets.find((t) => t.id === i.id)!.longName!,
        exists: (where) => `a key or CSR already exists in ${dir} (${where}); kubepki will not overwrite it: choose an empty --csr-dir`, ...(key ? { reuseKey: key } : {}),
      };
    });
    if (options.dryRun) {
      for (const r of requests) log(`would write ${path.join(dir, r.key)} and ${r.csr}`);
      return 0;
    }
    await run.recover(['csrs']);
    const csrItems = await run.decide(requests);
    const refused = run.problemsError({ what: 'nothing was written' });
    if (refused) throw refused;
    await run.make(csrItems);
    await run.commit();
    for (const r of requests) log(`[renew] Wrote ${path.join(dir, r.key)} and ${r.csr} for ${r.longName}`);
    log('Have the external CA sign the CSRs with the usages of each certificate, then put the certificates in place.');
    return 0;
  }

  if (options.dryRun) {
    for (const i of items) {
      const ca = run.ca(i.ca!)!.certificate!;
      const until = new Date(Math.min(now + i.validity!, ca.notAfter.getTime()));
      log(`would renew ${i.name}: ${i.writes.map((w) => path.join(run.dir(i.root), w)).join(', ')} (until ${until.toISOString()})`);
    }
    log(`Old files would be copied to ${backupRoot}`);
    return 0;
  }
  await run.make(items);
  await run.commit();
  for (const i of items) {
    const t = targets.find((x) => x.id === i.id)!;
    const made = run.issued.get(i.id)!;
    log(`[renew] ${t.longName} renewed (${i.name}, serial ${made.serial}, until ${made.notAfter.toISOString()})`);
  }
  log(`[renew] The replaced files are in ${backupRoot}`);

  const renewed = targets.filter((t) => items.some((i) => i.id === t.id));
  const components = restartOrder(renewed.flatMap((t) => t.consumers.map((c): Component => c.component)));
  if (!components.length) {
    log('Done renewing certificates. No component reads them from this node; hand renewed kubeconfigs to their users.');
    return 0;
  }
  if (!options.restart) {
    log(`Done renewing certificates. You must restart ${components.join(', ')} so that they use the new certificates (or run again with --restart).`);
    return 0;
  }
  return restartComponents(components, options.restartCommand);
}

/** Restart each component in turn (in the catalog's restart order), reporting each result. */
export async function restartComponents(components: string[], command: string | undefined): Promise<number> {
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
