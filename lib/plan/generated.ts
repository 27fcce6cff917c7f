/**
 * Files kubepki derives entirely from the description (flag files, units):
 * absent ones are written, identical ones kept, and different ones refused,
 * never overwritten (an operator may have edited them).
 */
import type { FileState } from './inspect.js';

export interface GeneratedFile {
  rel: string;
  data: string;
}

export interface GeneratedPlan {
  writes: GeneratedFile[];
  keeps: string[];
  problems: string[];
}

export function compareGenerated(files: readonly GeneratedFile[], state: (rel: string) => FileState, dir: string): GeneratedPlan {
  const out: GeneratedPlan = { writes: [], keeps: [], problems: [] };
  for (const f of files) {
    const st = state(f.rel);
    if (st.state === 'missing') out.writes.push(f);
    else if (st.state === 'not-a-file') out.problems.push(`${f.rel} in ${dir} is ${st.what}; move it away`);
    else if (st.state === 'unreadable') out.problems.push(`${f.rel} in ${dir} cannot be read: ${st.reason}`);
    else if (st.data.toString() === f.data) out.keeps.push(f.rel);
    else out.problems.push(`${f.rel} in ${dir} differs from what the description gives; kubepki will not overwrite it: move it away to have it written anew`);
  }
  return out;
}
