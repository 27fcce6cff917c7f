/** Command-line flags (kubeadm's names) over the description: validated by the field table's rules, named by their flag. */
import { UserError } from '../errors.js';
import { rules } from './fields.js';
import { FLAG_FIELDS, type ClusterInput, type OverrideFlag } from './table.js';

const quote = (value: unknown) => (typeof value === 'string' ? JSON.stringify(value) : String(value));

/** Validate flag values (named by their flag) and lay them over the file's. */
export function applyOverrides(input: ClusterInput, flags: Partial<Record<OverrideFlag, unknown>>): ClusterInput {
  const out: Record<string, unknown> = { ...input };
  const problems: string[] = [];
  for (const f of FLAG_FIELDS) {
    const raw = flags[f.flag.name];
    if (raw === undefined) continue;
    const values = 'list' in f.flag
      ? [raw].flat().flatMap((s) => String(s).split(',')).map((s) => s.trim()).filter(Boolean)
      : [String(raw)];
    for (const value of values) {
      const complaint = rules[f.rule](value);
      if (complaint) problems.push(`--${f.flag.name}: ${quote(value)} ${complaint}`);
    }
    out[f.input] = 'list' in f.flag ? values : f.kind === 'port' ? Number(values[0]) : values[0];
  }
  if (problems.length) {
    throw new UserError(problems.length === 1 ? problems[0]! : `${problems.length} problems on the command line`, {
      details: problems.length === 1 ? [] : problems,
    });
  }
  return out as ClusterInput;
}
