/**
 * The plan for people and machines: `--dry-run` text (one line per artifact,
 * then notes, SANs and a summary), the data `-o json|yaml` prints, and the
 * kubeadm-style lines a run logs for what it did.
 */
import { formatDays } from '../durations.js';
import { table } from '../output.js';

import { fmtSANs, fmtSubject } from './decide.js';
import { countActions, type Plan, type PlanItem } from './plan.js';

/** What a plan is about: the description's choices, shown above the items. */
export interface PlanHeader {
  certDir: string;
  encryptionAlgorithm: string;
  certificateValidity: number;
  caCertificateValidity: number;
}

/** The plan as data (`--dry-run -o json|yaml`): each item with the directory it lives in, subjects as text. */
export function planData(plan: Plan, header: PlanHeader) {
  const { renew: _renew, remove: _remove, ...summary } = countActions(plan);
  return {
    certDir: header.certDir,
    encryptionAlgorithm: header.encryptionAlgorithm,
    certificateValidity: formatDays(header.certificateValidity),
    caCertificateValidity: formatDays(header.caCertificateValidity),
    dirs: plan.dirs,
    summary,
    items: plan.items.map((i) => ({
      name: i.name,
      kind: i.kind,
      dir: plan.dirs[i.root],
      action: i.action,
      ...(i.ca ? { ca: i.ca } : {}),
      ...(i.subject ? { subject: fmtSubject(i.subject) } : {}),
      ...(i.sans && (i.sans.dns.length || i.sans.ips.length) ? { sans: { dns: i.sans.dns, ips: i.sans.ips } } : {}),
      writes: i.writes,
      uses: i.uses,
      ...(i.notAfter ? { notAfter: i.notAfter } : {}),
      ...(i.kind === 'ca' && i.key ? { key: i.key } : {}),
      consumers: i.consumers,
      ...(i.notes.length ? { notes: i.notes } : {}),
      ...(i.changes?.length ? { changes: i.changes } : {}),
    })),
    problems: plan.problems,
  };
}
export type PlanData = ReturnType<typeof planData>;

export function renderPlanText(data: PlanData): string {
  const rows: string[][] = [['ACTION', 'NAME', 'FILES', 'SIGNED BY', 'SUBJECT']];
  for (const item of data.items) {
    const files = (item.writes.length ? item.writes : item.uses).join(' ');
    rows.push([item.action, item.name, files, item.ca ?? (item.kind === 'ca' ? '(self)' : '-'), item.subject ?? '-']);
  }
  const lines = [
    `Plan (${data.encryptionAlgorithm}; certificates ${data.certificateValidity}, CAs ${data.caCertificateValidity}):`,
    `  certificates: ${data.dirs.certs}`,
    `  kubeconfigs:  ${data.dirs.kubeconfigs}`,
    `  flag files:   ${data.dirs.flags}`,
    '',
    table(rows),
    '',
  ];
  for (const item of data.items) for (const note of item.notes ?? []) lines.push(`note: ${item.name}: ${note}`);
  for (const item of data.items) {
    if (item.action === 'create' && item.sans) lines.push(`${item.name} SANs: ${fmtSANs(item.sans).join(', ')}`);
  }
  const s = data.summary;
  lines.push('', `${s.create} to create, ${s.reuse} to reuse, ${s.keep} to keep, ${s.external} external. Dry run: nothing was written.`);
  for (const p of data.problems) lines.push(`problem: ${p}`);
  return lines.join('\n') + '\n';
}

const isServing = (item: PlanItem) => item.kind === 'certificate' && (item.profile?.extKeyUsage ?? []).includes('serverAuth');

/** kubeadm's "[certs] ..." / "[kubeconfig] ..." lines for what init did. */
export function describeApplied(plan: Plan): string[] {
  const log = [`[certs] Using certificateDir folder "${plan.dirs.certs}"`];
  for (const item of plan.items) {
    if (item.kind === 'kubeconfig') {
      const file = `${plan.dirs.kubeconfigs}/${item.writes[0] ?? item.uses[0]}`;
      log.push(item.action === 'create' ? `[kubeconfig] Writing "${item.name}" kubeconfig file` : `[kubeconfig] Using existing kubeconfig file: "${file}"`);
    } else if (item.kind === 'generated') {
      for (const w of item.writes) log.push(`[${item.name}] Writing ${plan.dirs[item.root]}/${w}`);
      for (const u of item.uses) log.push(`[${item.name}] Using existing ${plan.dirs[item.root]}/${u}`);
    } else if (item.kind === 'flags') {
      for (const w of item.writes) log.push(`[flags] Writing ${plan.dirs.flags}/${w}`);
      for (const u of item.uses) log.push(`[flags] Using existing ${plan.dirs.flags}/${u}`);
    } else {
      const inToken = item.kind === 'ca' && item.key?.startsWith('pkcs11:');
      const what = item.kind === 'key-pair' ? 'key and public key' : inToken ? `certificate, its key in the token ${item.key}` : 'certificate and key';
      if (item.action === 'create') log.push(`[certs] Generating "${item.name}" ${what}`);
      else if (inToken) log.push(`[certs] Using the existing "${item.name}" certificate, its key in the token ${item.key}`);
      else if (item.action === 'external') log.push(`[certs] External CA mode: using the existing "${item.name}" certificate (its key is kept elsewhere)`);
      else log.push(`[certs] Using the existing "${item.name}" ${item.kind === 'key-pair' ? 'key' : 'certificate and key'}`);
      if (item.action !== 'create') for (const w of item.writes) log.push(`[certs] Writing ${w}`);
      if (item.action === 'create' && item.sans && isServing(item)) {
        log.push(`[certs] ${item.name} serving cert is signed for DNS names [${item.sans.dns.join(' ')}] and IPs [${item.sans.ips.join(' ')}]`);
      }
    }
    if (item.kind === 'flags') for (const note of item.notes) log.push(`[flags] ${item.name}: ${note}`);
    else for (const note of item.notes) log.push(`[${item.kind === 'kubeconfig' ? 'kubeconfig' : 'certs'}] WARNING: ${item.name}: ${note}`);
  }
  return log;
}

