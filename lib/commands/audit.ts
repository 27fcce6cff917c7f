/**
 * kubepki audit: the checks an operator runs on a node, on what is installed
 * (lib/audit). Text for people; -o json|yaml for tools; -o junit for CI.
 * Exit 0 when clean, 3 with warnings, 4 with failures.
 */
import { loadSpec, type OverrideFlag } from '../config/load.js';
import { auditChecks, auditExitCode, summarize, type Finding, type Status } from '../audit/checks.js';
import { inspect } from '../audit/inspect.js';
import { printData } from '../output.js';

export interface AuditOptions extends Partial<Record<OverrideFlag, unknown>> {
  config?: string;
  output: 'text' | 'json' | 'yaml' | 'junit';
  unitsDir: string;
  kubeletDir: string;
  /** Show passing checks too (text). */
  all?: boolean;
}

const LABEL: Record<Status, string> = { pass: 'PASS', fail: 'FAIL', warn: 'WARN', accepted: 'ACCEPTED', skip: 'SKIP' };

function text(findings: readonly Finding[], all: boolean): string {
  const lines: string[] = [];
  for (const f of findings) {
    if (!all && (f.status === 'pass' || f.status === 'skip')) continue;
    lines.push(`[${LABEL[f.status]}] ${f.id} ${f.title}${f.where ? `: ${f.where}` : ''}${f.detail ? `: ${f.detail}` : ''}`);
  }
  const s = summarize(findings);
  lines.push(`${s.checks} checks: ${s.pass} passed, ${s.fail} failed, ${s.warn} warnings, ${s.accepted} accepted, ${s.skip} skipped${all ? '' : ' (--all lists every check)'}`);
  return lines.join('\n') + '\n';
}

const xml = (v: string) => v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** JUnit XML: a test case per finding; failures fail, warnings and accepted ones pass with a note, skipped ones are skipped. */
function junit(findings: readonly Finding[]): string {
  const s = summarize(findings);
  const cases = findings.map((f) => {
    const name = xml(`${f.id} ${f.title}${f.where ? `: ${f.where}` : ''}`);
    const klass = xml(f.id.startsWith('kubepki.') ? 'kubepki' : `CIS ${f.id.split('.').slice(0, 2).join('.')}`);
    const detail = xml(f.detail ?? '');
    const body = f.status === 'fail' ? `<failure message="${detail}"/>` : f.status === 'skip' ? `<skipped message="${detail}"/>`
      : f.status === 'warn' || f.status === 'accepted' ? `<system-out>${LABEL[f.status]}: ${detail}</system-out>` : '';
    return `    <testcase classname="${klass}" name="${name}">${body}</testcase>`;
  });
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="kubepki audit" tests="${s.checks}" failures="${s.fail}" skipped="${s.skip}">\n  <testsuite name="kubepki audit" tests="${s.checks}" failures="${s.fail}" skipped="${s.skip}">\n${cases.join('\n')}\n  </testsuite>\n</testsuites>\n`;
}

export async function runAudit(o: AuditOptions): Promise<number> {
  const spec = loadSpec(o.config, o);
  const findings = auditChecks(inspect(spec, { unitsDir: o.unitsDir, kubeletDir: o.kubeletDir }));
  const exitCode = auditExitCode(findings);
  if (o.output === 'text') process.stdout.write(text(findings, !!o.all));
  else if (o.output === 'junit') process.stdout.write(junit(findings));
  else printData(o.output, { summary: summarize(findings), exitCode, findings });
  return exitCode;
}
