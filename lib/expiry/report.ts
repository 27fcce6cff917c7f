/**
 * Judging and printing expiry: statuses and exit codes, kubeadm's tables, its
 * JSON/YAML object (output.kubeadm.k8s.io/v1alpha3), and Prometheus metrics in
 * node-exporter's textfile format.
 */
import { table } from '../output.js';
import { expiresText, humanDuration } from './human.js';
import type { Row } from './collect.js';

/** Exit codes of check-expiration, for cron jobs and monitoring checks. */
export const EXPIRY_EXIT = {
  ok: 0,
  /** Something expires within --warn-within, or a CA within 30 days. */
  warn: 3,
  /** Something expired, is unreadable or corrupt, expires within --fail-within, or a CA within 7 days (degraded). */
  fail: 4,
} as const;

const DAY = 86_400_000;
/** The seeds' thresholds for a CA: call it out at 30 days, flag it degraded at 7. */
export const CA_WARN_MS = 30 * DAY;
export const CA_DEGRADED_MS = 7 * DAY;

export type Status = 'ok' | 'warn' | 'fail' | 'missing';

/** Why a row has the status it has: decisions read this, people read `why`. */
export type Reason = 'missing' | 'invalid' | 'expired' | 'fail-within' | 'ca-degraded' | 'warn-within' | 'ca-warn';

export interface Judged extends Row {
  residualMs?: number;
  status: Status;
  reasonCode?: Reason;
  /** Why the status is what it is, for people. */
  why?: string;
}

export interface Thresholds {
  warnWithin?: number;
  failWithin?: number;
}

export function judge(row: Row, now: Date, t: Thresholds): Judged {
  if (row.problem === 'missing') return { ...row, status: 'missing', reasonCode: 'missing', why: 'missing' };
  if (row.problem === 'invalid') return { ...row, status: 'fail', reasonCode: 'invalid', why: row.reason ?? 'invalid' };
  const residualMs = row.notAfter!.getTime() - now.getTime();
  const j: Judged = { ...row, residualMs, status: 'ok' };
  const isCA = row.kind === 'ca';
  if (residualMs <= 0) return { ...j, status: 'fail', reasonCode: 'expired', why: 'expired' };
  if (t.failWithin !== undefined && residualMs <= t.failWithin) return { ...j, status: 'fail', reasonCode: 'fail-within', why: `expires in ${humanDuration(residualMs)} (--fail-within ${humanDuration(t.failWithin)})` };
  if (isCA && residualMs <= CA_DEGRADED_MS) return { ...j, status: 'fail', reasonCode: 'ca-degraded', why: 'CA expires within 7 days: degraded' };
  if (t.warnWithin !== undefined && residualMs <= t.warnWithin) return { ...j, status: 'warn', reasonCode: 'warn-within', why: `expires in ${humanDuration(residualMs)} (--warn-within ${humanDuration(t.warnWithin)})` };
  if (isCA && residualMs <= CA_WARN_MS) return { ...j, status: 'warn', reasonCode: 'ca-warn', why: 'CA expires within 30 days' };
  return j;
}

export function exitCode(rows: readonly Judged[]): number {
  if (rows.some((r) => r.status === 'fail')) return EXPIRY_EXIT.fail;
  if (rows.some((r) => r.status === 'warn')) return EXPIRY_EXIT.warn;
  return EXPIRY_EXIT.ok;
}

const yesNo = (b: boolean) => (b ? 'yes' : 'no');

function cells(r: Judged): [string, string] {
  if (r.status === 'missing') return ['!MISSING!', ''];
  if (!r.notAfter) return ['!INVALID!', r.reason ?? ''];
  return [expiresText(r.notAfter), humanDuration(r.residualMs!)];
}

export function renderText(certs: readonly Judged[], cas: readonly Judged[]): string {
  const certRows = certs.map((r) => {
    const [expires, residual] = cells(r);
    return r.status === 'missing' ? [`!MISSING! ${r.name}`, '', '', '', ''] : [r.name, expires, residual, r.caName ?? '', yesNo(r.externallyManaged)];
  });
  const caRows = cas.map((r) => {
    const [expires, residual] = cells(r);
    return r.status === 'missing' ? [`!MISSING! ${r.name}`, '', '', ''] : [r.name, expires, residual, yesNo(r.externallyManaged)];
  });
  const lines = [
    table([['CERTIFICATE', 'EXPIRES', 'RESIDUAL TIME', 'CERTIFICATE AUTHORITY', 'EXTERNALLY MANAGED'], ...certRows], 3),
    '',
    table([['CERTIFICATE AUTHORITY', 'EXPIRES', 'RESIDUAL TIME', 'EXTERNALLY MANAGED'], ...caRows], 3),
    '',
    table([['CA KEY', 'WHERE'], ...cas.filter((r) => !r.partOf).map((r) => [r.name, r.keyLocation ?? '(not here: managed outside kubepki)'])], 3),
  ];
  const notes: string[] = [];
  for (const r of [...cas, ...certs]) {
    if (r.status === 'ok' || r.status === 'missing') continue;
    if (!r.notAfter) notes.push(`ERROR: ${r.name} (${r.path}): ${r.why}`);
    else if (r.reasonCode === 'ca-degraded') notes.push(`DEGRADED: CA ${r.name} expires ${expiresText(r.notAfter)} (in ${humanDuration(r.residualMs!)}): every certificate it signed stops working then; rotate it now, or renew it with the same key: kubepki ca renew ${r.name}`);
    else if (r.kind === 'ca' && r.status === 'warn') notes.push(`WARNING: CA ${r.name} expires ${expiresText(r.notAfter)} (in ${humanDuration(r.residualMs!)}): plan its rotation, or renew it with the same key (everything it signed stays valid): kubepki ca renew ${r.name}`);
    else notes.push(`${r.status === 'fail' ? 'ERROR' : 'WARNING'}: ${r.name} ${r.reasonCode === 'expired' ? `expired ${expiresText(r.notAfter)}` : r.why}`);
  }
  // What to run: expired leaves and kubeconfigs come back offline, from the CA files alone.
  const expired = certs.filter((r) => r.reasonCode === 'expired' && !r.externallyManaged);
  if (expired.length) notes.push(`${expired.length === certs.length ? 'Every certificate has' : `${expired.length} certificate${expired.length === 1 ? ' has' : 's have'}`} expired: renew them with "kubepki certs renew all" (it needs only the CA files, no running cluster), then restart what reads them`);
  if (notes.length) lines.push('', ...notes);
  return lines.join('\n') + '\n';
}

/** kubeadm's output.kubeadm.k8s.io/v1alpha3 CertificateExpirationInfo, with kubepki's status added. */
export function expirationInfo(certs: readonly Judged[], cas: readonly Judged[]) {
  const item = (r: Judged) => ({
    name: r.name,
    ...(r.notAfter ? { expirationDate: r.notAfter.toISOString().replace(/\.\d{3}Z$/, 'Z'), residualTime: Math.trunc(r.residualMs! / 1000) } : {}),
    ...(r.kind !== 'ca' && r.caName ? { caName: r.caName } : {}),
    externallyManaged: r.externallyManaged,
    missing: r.status === 'missing',
    path: r.path,
    status: r.status,
    ...(r.why && r.status !== 'missing' ? { reason: r.why } : {}),
    ...(r.kind === 'ca' && !r.partOf ? { keyLocation: r.keyLocation ?? null } : {}),
  });
  return {
    kind: 'CertificateExpirationInfo',
    apiVersion: 'output.kubeadm.k8s.io/v1alpha3',
    certificates: certs.map(item),
    certificateAuthorities: cas.map(item),
  };
}

/** Label values escaped as the Prometheus text format wants. */
const label = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

/**
 * Metrics (all gauges), for node-exporter's textfile collector:
 *   kubepki_certificate_expiry_timestamp_seconds{name,kind,ca,path}  when it expires (Unix time)
 *   kubepki_certificate_residual_seconds{...}                        seconds left (negative when expired)
 *   kubepki_certificate_missing{...}                                 1 when the file is absent
 *   kubepki_certificate_invalid{...}                                 1 when it cannot be read or parsed
 *   kubepki_certificate_status{...,status}                           1 for its status (ok, warn, fail, missing)
 *   kubepki_ca_degraded{name}                                        1 when a CA expires within 7 days
 *   kubepki_check_timestamp_seconds                                  when the check ran
 */
export function renderPrometheus(rows: readonly Judged[], now: Date): string {
  const out: string[] = [];
  const metric = (name: string, help: string, samples: [string, number][]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
    for (const [labels, value] of samples) out.push(`${name}${labels} ${value}`);
  };
  const labelsOf = (r: Judged, extra = '') =>
    `{name="${label(r.name)}",kind="${r.kind}",ca="${label(r.caName ?? (r.kind === 'ca' ? r.name : ''))}",path="${label(r.path)}"${extra}}`;
  const dated = rows.filter((r) => r.notAfter);
  metric('kubepki_certificate_expiry_timestamp_seconds', 'Unix time at which the certificate expires.', dated.map((r) => [labelsOf(r), Math.trunc(r.notAfter!.getTime() / 1000)]));
  metric('kubepki_certificate_residual_seconds', 'Seconds until the certificate expires (negative once expired).', dated.map((r) => [labelsOf(r), Math.trunc(r.residualMs! / 1000)]));
  metric('kubepki_certificate_missing', '1 when the certificate file is absent.', rows.map((r) => [labelsOf(r), r.status === 'missing' ? 1 : 0]));
  metric('kubepki_certificate_invalid', '1 when the certificate cannot be read or parsed.', rows.map((r) => [labelsOf(r), r.problem === 'invalid' ? 1 : 0]));
  metric('kubepki_certificate_status', 'The check result of each certificate: 1 for its status.', rows.map((r) => [labelsOf(r, `,status="${r.status}"`), 1]));
  metric('kubepki_ca_degraded', '1 when a CA expires within 7 days (or has expired).', rows.filter((r) => r.kind === 'ca').map((r) => [`{name="${label(r.name)}"}`, r.residualMs !== undefined && r.residualMs <= CA_DEGRADED_MS ? 1 : 0]));
  metric('kubepki_check_timestamp_seconds', 'Unix time at which kubepki ran this check.', [['', Math.trunc(now.getTime() / 1000)]]);
  return out.join('\n') + '\n';
}
