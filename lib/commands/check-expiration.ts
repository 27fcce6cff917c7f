/**
 * kubepki certs check-expiration: when each certificate, kubeconfig and CA
 * expires, as a table (kubeadm's columns), JSON/YAML (kubeadm's object) or
 * Prometheus metrics; exit codes for cron jobs and monitoring checks.
 */
import { loadSpec, type OverrideFlag } from '../config/load.js';
import { parseDuration } from '../durations.js';
import { UserError } from '../errors.js';
import { collectExtra, collectRows } from '../expiry/collect.js';
import { exitCode, expirationInfo, judge, renderPrometheus, renderText, type Thresholds } from '../expiry/report.js';
import { printData } from '../output.js';

export interface CheckOptions extends Partial<Record<OverrideFlag, unknown>> {
  config?: string;
  output: 'text' | 'json' | 'yaml' | 'prometheus';
  warnWithin?: string;
  failWithin?: string;
  path?: string[];
}

function duration(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = parseDuration(text);
  if (ms === undefined || ms < 0) throw new UserError(`--${flag}: ${JSON.stringify(text)} is not a valid duration (for example 720h or 30d)`, { exitCode: 2 });
  return ms;
}

export async function runCheckExpiration(options: CheckOptions): Promise<number> {
  const now = new Date();
  const thresholds: Thresholds = {};
  const warnWithin = duration('warn-within', options.warnWithin);
  const failWithin = duration('fail-within', options.failWithin);
  if (warnWithin !== undefined) thresholds.warnWithin = warnWithin;
  if (failWithin !== undefined) thresholds.failWithin = failWithin;
  const spec = loadSpec(options.config, options);
  const { certificates, authorities } = collectRows(spec);
  const extra = collectExtra((options.path ?? []).flatMap((p) => String(p).split(',')).filter(Boolean));
  const certs = [...certificates, ...extra].map((r) => judge(r, now, thresholds));
  const cas = authorities.map((r) => judge(r, now, thresholds));
  switch (options.output) {
    case 'text':
      process.stdout.write(renderText(certs, cas));
      break;
    case 'prometheus':
      process.stdout.write(renderPrometheus([...cas, ...certs], now));
      break;
    default:
      printData(options.output, expirationInfo(certs, cas));
  }
  return exitCode([...certs, ...cas]);
}
