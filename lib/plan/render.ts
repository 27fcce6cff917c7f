/** The plan for people: one line per certificate or key, then a summary. */
import { table } from '../output.js';
import type { PlanData } from './plan.js';

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
    if (item.action === 'create' && item.sans) lines.push(`${item.name} SANs: ${[...item.sans.dns.map((d) => `DNS:${d}`), ...item.sans.ips.map((i) => `IP:${i}`)].join(', ')}`);
  }
  const s = data.summary;
  lines.push('', `${s.create} to create, ${s.reuse} to reuse, ${s.keep} to keep, ${s.external} external. Dry run: nothing was written.`);
  for (const p of data.problems) lines.push(`problem: ${p}`);
  return lines.join('\n') + '\n';
}
