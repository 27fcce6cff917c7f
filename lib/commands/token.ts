/**
 * kubepki token create: a bootstrap token and its kube-system Secret manifest.
 * kubepki token file: a static token auth file for --token-auth-file.
 */
import path from 'node:path';
import { stringify } from 'yaml';
import { DEFAULT_GROUP, GROUP_PATTERN, USAGES, newBootstrapToken, newStaticToken, tokenFileLine, tokenSecret } from '../bootstrap/token.js';
import { loadSpec, type OverrideFlag } from '../config/load.js';
import { parseDuration } from '../durations.js';
import { UserError } from '../errors.js';
import { Run } from '../engine/run.js';
import { BOOTSTRAP_TOKEN_SECRETS, MODES, modeText } from '../pki/catalog.js';

const list = (v: unknown): string[] => [v ?? []].flat().flatMap((s) => String(s).split(',')).map((s) => s.trim()).filter(Boolean);

export interface TokenCreateOptions extends Partial<Record<OverrideFlag, unknown>> {
  config?: string;
  ttl: string;
  usages?: string[];
  groups?: string[];
  description?: string;
  outDir?: string;
}

/** Write one new file (never over an existing one) through the engine. */
async function writeNewFile(file: string, name: string, data: () => string, exists?: (where: string) => string): Promise<void> {
  const run = new Run({ dirs: { 'dir:out': path.dirname(file) } });
  await run.recover();
  await run.apply([{
    kind: 'generated', shownAs: 'generated', id: name, name, root: 'dir:out', policy: 'new', consumers: [],
    files: [{ rel: path.basename(file), role: 'secret', data }], ...(exists ? { exists } : {}),
  }], { period: false, what: 'nothing was written' });
}

export async function runTokenCreate(o: TokenCreateOptions): Promise<number> {
  const ttl = parseDuration(o.ttl);
  if (ttl === undefined || ttl < 0) throw new UserError(`--ttl: ${JSON.stringify(o.ttl)} is not a valid duration (0 means it never expires)`, { exitCode: 2 });
  const usages = o.usages === undefined ? [...USAGES] : list(o.usages);
  const badUsage = usages.find((u) => !(USAGES as readonly string[]).includes(u));
  if (badUsage !== undefined) throw new UserError(`--usages: "${badUsage}" is not a bootstrap token usage (${USAGES.join(', ')})`, { exitCode: 2 });
  const groups = o.groups === undefined ? [DEFAULT_GROUP] : list(o.groups);
  const badGroup = groups.find((g) => !GROUP_PATTERN.test(g));
  if (badGroup !== undefined) throw new UserError(`--groups: "${badGroup}" must match ${GROUP_PATTERN.source}`, { exitCode: 2 });
  if (groups.length && !usages.includes('authentication')) throw new UserError('--groups only mean something with the "authentication" usage', { exitCode: 2 });
  const spec = loadSpec(o.config, o);
  const dir = path.resolve(o.outDir ?? path.join(spec.kubeconfigDir, BOOTSTRAP_TOKEN_SECRETS.dir));
  const token = newBootstrapToken();
  const secret = tokenSecret({ token, usages, groups, ...(ttl ? { expiration: new Date(Date.now() + ttl) } : {}), ...(o.description ? { description: o.description } : {}) });
  const file = path.join(dir, BOOTSTRAP_TOKEN_SECRETS.file(token.id));
  await writeNewFile(file, 'bootstrap token', () => stringify(secret));
  process.stderr.write(`[token] Wrote ${file}; apply it with: kubectl apply -f ${file}\n`);
  // The token itself is what the user asked for: stdout, alone, for scripts.
  process.stdout.write(`${token.token}\n`);
  return 0;
}

export interface TokenFileOptions extends Partial<Record<OverrideFlag, unknown>> {
  config?: string;
  out?: string;
  user: string;
  uid: string;
  group?: string[];
}

export async function runTokenFile(o: TokenFileOptions): Promise<number> {
  const spec = loadSpec(o.config, o);
  const out = path.resolve(o.out ?? spec.bootstrap.tokenAuthFile);
  for (const [flag, v] of [['--user', o.user], ['--uid', o.uid]] as const) {
    if (!v || /[\n\r"]/.test(v)) throw new UserError(`${flag}: ${JSON.stringify(v)} is not usable in a token file`, { exitCode: 2 });
  }
  const groups = o.group === undefined ? ['system:bootstrappers'] : list(o.group);
  if (groups.some((g) => /[\n\r",]/.test(g))) throw new UserError('--group: a group may not contain a comma, a quote or a line break', { exitCode: 2 });
  await writeNewFile(out, 'token file', () => tokenFileLine(newStaticToken(), o.user, o.uid, groups),
    (where) => `${where} exists; kubepki will not overwrite a token file: move it away, or choose --out`);
  process.stderr.write(`[token] Wrote ${out} (${modeText(MODES.secret)}) for ${o.user}; the API server reads it with --token-auth-file=${out} (bootstrap.method: token-file)\n`);
  return 0;
}
