/**
 * systemd units for each component, from templates (mustache). Every unit runs
 * its binary with the flags of the EnvironmentFile kubepki wrote, so the unit
 * never repeats a path. A template may use only the placeholders listed here:
 * anything else is an error naming the template and the placeholder.
 */
import { existsSync } from 'node:fs';
import { UnreadableFileError, readFileBounded } from '../read-file.js';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { executableAsset, thisKubepki } from '../sea.js';
import Mustache from 'mustache';
import type { ClusterSpec } from '../config/spec.js';
import { UserError, describeSystemError } from '../errors.js';
import { AUDIT_LOG, ETCD_DATA_DIR_MODE, RENEW_UNITS, modeText, SCHEDULED_RENEWAL, UNITS, flagFile, generatedFor, type ServiceComponent } from '../pki/catalog.js';
import { formatDuration } from '../durations.js';
import { envVariable, thisMember } from './flags.js';

export const PLACEHOLDERS = ['unit', 'component', 'binary', 'envFile', 'envVar', 'flagsDir', 'dataDir', 'dataDirMode', 'auditLogDir', 'auditLogDirMode'] as const;
/** The scheduled renewal's units (kubepki-renew.service and .timer) have their own. */
export const RENEW_PLACEHOLDERS = ['unit', 'kubepki', 'renewArgs', 'window', 'randomizedDelay'] as const;

/** kubepki's own folder (holding templates/), found from wherever this code was built to. */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'templates')) || !existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot find kubepki\'s templates folder');
    dir = up;
  }
  return dir;
}

/** A flag's value as the user's extraArgs set it (the last of a repeated name wins, as in the component), if they do. */
const userValue = (spec: ClusterSpec, component: ServiceComponent, flag: string) => (spec.components.args[component] ?? []).filter((a) => a.name === flag).pop()?.value;
const unitOf = (component: ServiceComponent) => UNITS.find((u) => u.component === component)!;

export interface RenderOptions {
  spec: ClusterSpec;
  /** Folder of templates that replace the shipped ones (by file name). */
  templatesDir?: string;
  binDir: string;
  /** The renewal service's kubepki command line (its program and script), and the description it reads, when one was given. */
  kubepki?: string[];
  config?: string;
}

function readTemplate(name: string, templatesDir: string | undefined): { file: string; text: string } {
  const own = templatesDir ? path.join(templatesDir, name) : undefined;
  if (!(own && existsSync(own))) {
    // The single executable carries the shipped templates as assets.
    const text = executableAsset(`templates/${name}`);
    if (text !== undefined) return { file: `templates/${name} (inside this executable)`, text };
  }
  const file = own && existsSync(own) ? own : path.join(packageRoot(), 'templates', name);
  try {
    return { file, text: readFileBounded(file).toString('utf8') };
  } catch (e) {
    throw new UserError(`cannot read the template ${file}: ${e instanceof UnreadableFileError ? `it ${e.message}` : describeSystemError(e)}`);
  }
}

/** Names a mustache template uses, with their kinds. */
function placeholdersOf(tokens: unknown[]): string[] {
  const names: string[] = [];
  for (const t of tokens as [string, string, number, number, unknown[]?][]) {
    if (t[0] === 'name' || t[0] === '&' || t[0] === '#' || t[0] === '^') names.push(t[1]);
    if (t[0] === '>') names.push(`> ${t[1]}`);
    if (Array.isArray(t[4])) names.push(...placeholdersOf(t[4]));
  }
  return names;
}

/** A template filled in, after checking it uses only the placeholders its kind of unit has. */
function fill(name: string, options: RenderOptions, allowed: readonly string[], view: Record<string, string>): string {
  const { file, text } = readTemplate(name, options.templatesDir);
  let tokens: unknown[];
  try {
    tokens = Mustache.parse(text);
  } catch (e) {
    throw new UserError(`${file}: not a valid template: ${(e as Error).message}`);
  }
  const unknown = placeholdersOf(tokens).filter((n) => !allowed.includes(n));
  if (unknown.length) {
    throw new UserError(`${file}: unknown placeholder {{${unknown[0]}}}; templates may use ${allowed.map((p) => `{{${p}}}`).join(', ')}`);
  }
  // Units are not HTML: no escaping.
  return Mustache.render(text, view, {}, { escape: (v: string) => v });
}

/** One word of an ExecStart line, quoted as systemd reads it when it needs quoting; % and $ doubled. */
function execWord(word: string): string {
  const escaped = word.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(escaped) ? escaped : `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** What the renewal service passes renew: the description, and the values renew depends on, as this render resolved them. */
function renewArgs(options: RenderOptions): string[] {
  const { spec } = options;
  return [
    ...(options.config ? ['--config', path.resolve(options.config)] : []),
    '--cert-dir', path.resolve(spec.certificatesDir), '--kubeconfig-dir', path.resolve(spec.kubeconfigDir),
    '--encryption-algorithm', spec.encryptionAlgorithm, '--certificate-validity', formatDuration(spec.certificateValidity),
  ];
}

export function renderRenewUnit(name: string, options: RenderOptions): string {
  const kubepki = options.kubepki ?? thisKubepki().map((p) => path.resolve(p));
  return fill(name, options, RENEW_PLACEHOLDERS, {
    unit: name, kubepki: kubepki.map(execWord).join(' '), renewArgs: renewArgs(options).map(execWord).join(' '),
    window: SCHEDULED_RENEWAL.window, randomizedDelay: SCHEDULED_RENEWAL.randomizedDelay,
  });
}

export function renderUnit(component: ServiceComponent, options: RenderOptions): string {
  const view: Record<(typeof PLACEHOLDERS)[number], string> = {
    unit: unitOf(component).file,
    component,
    binary: path.join(options.binDir, component),
    envFile: path.join(options.spec.flagsDir, flagFile(component, 'env').file),
    envVar: envVariable(component),
    flagsDir: options.spec.flagsDir,
    dataDir: options.spec.etcd.external ? '' : userValue(options.spec, 'etcd', 'data-dir') ?? thisMember(options.spec).dataDir,
    dataDirMode: modeText(ETCD_DATA_DIR_MODE),
    auditLogDir: path.dirname(userValue(options.spec, 'kube-apiserver', 'audit-log-path') ?? AUDIT_LOG.path),
    auditLogDirMode: modeText(AUDIT_LOG.dirMode),
  };
  return fill(unitOf(component).file, options, PLACEHOLDERS, view);
}

export function renderUnits(options: RenderOptions): { rel: string; data: string }[] {
  return [
    ...generatedFor(UNITS, options.spec.etcd.external).map((u) => ({ rel: u.file, data: renderUnit(u.component as ServiceComponent, options) })),
    ...RENEW_UNITS.map((u) => ({ rel: u.file, data: renderRenewUnit(u.file, options) })),
  ];
}
