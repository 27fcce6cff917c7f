/** Command-line flags (kubeadm's names) over the description: validated by the field table's rules, named by their flag. */
import { UserError } from '../errors.js';
import { redactPin } from '../pki/pkcs11-uri.js';
import { rules } from './fields.js';
import { FLAG_FIELDS, type ClusterInput, type OverrideFlag } from './table.js';

/** A value as an error message quotes it (a PIN in a PKCS#11 URI hidden). */
const quote = (value: unknown) => (typeof value === 'string' ? JSON.stringify(redactPin(value)) : String(value));

/** Validate flag values (named by their flag) and lay them over the file's. */
export function applyOverrides(input: ClusterInput, flags: Partial<Record<OverrideFlag, unknown>>): ClusterInput {
  const out: Record<string, unknown> = { ...input };
  const problems: string[] = [];
  for (const f of FLAG_FIELDS) {
    const raw = flags[f.flag.name];
    if (raw === undefined) continue;
    // A repeatable flag takes each value whole (a URI may hold commas); a list flag splits at commas.
    const values = 'repeat' in f.flag
      ? [raw].flat().map((s) => String(s).trim()).filter(Boolean)
      : 'list' in f.flag
        ? [raw].flat().flatMap((s) => String(s).split(',')).map((s) => s.trim()).filter(Boolean)
        : [String(raw)];
    for (const value of values) {
      const complaint = rules[f.rule](value);
      if (complaint) problems.push(`--${f.flag.name}: ${quote(value)} ${complaint}`);
    }
    if (f.kind === 'caKeys') {
      // NAME=URI, over the file's caKeys.
      out[f.input] = { ...input.caKeys, ...Object.fromEntries(values.map((v) => [v.slice(0, v.indexOf('=')), v.slice(v.indexOf('=') + 1)])) };
    } else out[f.input] = 'list' in f.flag ? values : f.kind === 'port' ? Number(values[0]) : values[0];
  }
  if (problems.length) {
    throw new UserError(problems.length === 1 ? problems[0]! : `${problems.length} problems on the command line`, {
      details: problems.length === 1 ? [] : problems,
    });
  }
  return out as ClusterInput;
}
