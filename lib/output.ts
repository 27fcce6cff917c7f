/** Writing results: people get text, machines get JSON or YAML (-o). */
import { stringify } from 'yaml';

export type OutputFormat = 'text' | 'json' | 'yaml';

export function printData(format: Exclude<OutputFormat, 'text'>, data: unknown): void {
  process.stdout.write(format === 'json' ? JSON.stringify(data, null, 2) + '\n' : stringify(data));
}

/** Left-aligned columns, `gap` spaces apart. */
export function table(rows: readonly (readonly string[])[], gap = 2): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join(' '.repeat(gap)).trimEnd()).join('\n');
}
