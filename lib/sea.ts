/**
 * The single executable (npm run build:binary, Node's SEA): whether this is it,
 * and the assets it carries (the unit templates). Outside it, neither.
 */
import { createRequire } from 'node:module';

type Sea = typeof import('node:sea');

function sea(): Sea | undefined {
  try {
    return createRequire(import.meta.url)('node:sea') as Sea;
  } catch {
    return undefined; // a Node without SEA support
  }
}

export const inExecutable = (): boolean => sea()?.isSea() ?? false;

/** An asset of the executable as text, or undefined outside it. */
export function executableAsset(name: string): string | undefined {
  const s = sea();
  if (!s?.isSea()) return undefined;
  try {
    return s.getAsset(name, 'utf8');
  } catch {
    return undefined;
  }
}

/** How to run this kubepki again (a unit's ExecStart): the executable alone, or node and the script. */
export const thisKubepki = (): string[] => (inExecutable() ? [process.execPath] : [process.execPath, process.argv[1] ?? 'kubepki']);
