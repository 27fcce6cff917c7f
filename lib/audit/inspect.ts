/**
 * What `kubepki audit` reads on a node, and nothing else: the flag files
 * the units pass (the .env, else the .flags; on a node kubeadm set up, its
 * static pod manifests and kubelet flags), the units, the kubelet's
 * configuration, the files flags name, the cert and kubeconfig folders. Each
 * file is looked at without following links; what cannot be read is said,
 * never thrown. The checks (checks.ts) judge this snapshot.
 */
import { lstatSync, readdirSync } from 'node:fs';
import { UnreadableFileError, readFileBounded } from '../read-file.js';
import path from 'node:path';
import { parse } from 'yaml';
import type { ClusterSpec } from '../config/spec.js';
import { describeSystemError } from '../errors.js';
import { envVariable } from '../components/flags.js';
import { KUBEADM_LAYOUT, KUBELET_CONFIG, componentsFor, flagFile, UNITS, type ServiceComponent } from '../pki/catalog.js';

export interface FileInfo {
  path: string;
  type?: 'file' | 'dir' | 'symlink' | 'other';
  mode?: number;
  uid?: number;
  gid?: number;
  /** Why it could not be looked at. */
  error?: string;
}

export function info(file: string): FileInfo {
  try {
    const st = lstatSync(file);
    return { path: file, type: st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other', mode: st.mode & 0o777, uid: st.uid, gid: st.gid };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return { path: file };
    return { path: file, error: describeSystemError(e) };
  }
}

export const exists = (f: FileInfo) => f.type !== undefined;

export function readText(f: FileInfo): { text?: string; error?: string } {
  if (f.error) return { error: f.error };
  if (f.type !== 'file') return { error: f.type ? `is a ${f.type === 'dir' ? 'folder' : f.type === 'symlink' ? 'symbolic link' : 'special file'}` : 'does not exist' };
  try {
    return { text: readFileBounded(f.path).toString('utf8') };
  } catch (e) {
    return { error: e instanceof UnreadableFileError ? e.message : describeSystemError(e) };
  }
}

/** A component as installed: its flags (the last value of a flag given twice is the one it uses), from which file, and its unit. */
export interface InstalledComponent {
  component: ServiceComponent;
  /** The file the flags were read from. */
  source: FileInfo;
  /** Every flag file of the component that exists (.flags and .env). */
  files: FileInfo[];
  flags: [string, string][];
  unit?: FileInfo;
  /** Why the flags could not be read. */
  error?: string;
}

/** The flags of a systemd EnvironmentFile's VAR="..." line, as systemd unquotes it. */
export function envFileFlags(text: string, variable: string): [string, string][] | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${variable}=`));
  if (line === undefined) return undefined;
  let value = line.slice(variable.length + 1).trim();
  if (value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1).replace(/\\(["\\])/g, '$1');
  return splitFlags(value.split(/\s+/).filter(Boolean));
}

function splitFlags(words: readonly string[]): [string, string][] {
  return words.map((w) => {
    const eq = w.indexOf('=');
    return eq < 0 ? [w, 'true'] : [w.slice(0, eq), w.slice(eq + 1)];
  });
}

export function flagValue(c: InstalledComponent | undefined, flag: string): string | undefined {
  if (!c) return undefined;
  let value: string | undefined;
  for (const [name, v] of c.flags) if (name === flag) value = v;
  return value;
}

/**
 * kubeadm's layout, where kubepki's flag files are not: a control-plane
 * component's flags are its static pod's command
 * (<kubeconfig dir>/manifests/<component>.yaml); the kubelet's are the ones
 * kubeadm's systemd drop-in (10-kubeadm.conf) gives it, and
 * KUBELET_KUBEADM_ARGS of <kubelet dir>/kubeadm-flags.env.
 */
function readKubeadmComponent(spec: ClusterSpec, component: ServiceComponent, o: InspectOptions): InstalledComponent | undefined {
  if (component === 'kubelet') {
    const env = info(path.join(o.kubeletDir, KUBEADM_LAYOUT.kubeletFlagsEnv));
    if (!exists(env)) return undefined;
    const dropIn = [info(path.join(o.unitsDir, KUBEADM_LAYOUT.kubeletDropIn))].find(exists);
    // The drop-in is the kubelet's unit file (CIS 4.1.1, as kube-bench's $kubeletsvc); kubeadm-flags.env is not judged as one.
    const base = { component, source: env, files: [] as FileInfo[], ...(dropIn ? { unit: dropIn } : {}) };
    const read = readText(env);
    if (read.error !== undefined) return { ...base, flags: [], error: read.error };
    const own = envFileFlags(read.text!, KUBEADM_LAYOUT.kubeletFlagsVariable);
    if (!own) return { ...base, flags: [], error: `has no ${KUBEADM_LAYOUT.kubeletFlagsVariable}= line` };
    // 10-kubeadm.conf's own flags come first on the kubelet's command line.
    const dropInFlags: [string, string][] = [
      ['--bootstrap-kubeconfig', path.join(spec.kubeconfigDir, 'bootstrap-kubelet.conf')], ['--kubeconfig', path.join(spec.kubeconfigDir, 'kubelet.conf')],
      [KUBELET_CONFIG.flag!, path.join(o.kubeletDir, KUBEADM_LAYOUT.kubeletConfig)],
    ];
    return { ...base, flags: [...dropInFlags, ...own] };
  }
  const manifest = info(path.join(spec.kubeconfigDir, KUBEADM_LAYOUT.manifests, `${component}.yaml`));
  if (!exists(manifest)) return undefined;
  const base = { component, source: manifest, files: [manifest] };
  const read = readText(manifest);
  if (read.error !== undefined) return { ...base, flags: [], error: read.error };
  let command: unknown;
  try {
    command = (parse(read.text!) as { spec?: { containers?: { command?: unknown }[] } } | null)?.spec?.containers?.[0]?.command;
  } catch (e) {
    return { ...base, flags: [], error: `is not YAML: ${(e as Error).message.split('\n')[0]}` };
  }
  if (!Array.isArray(command) || !command.every((w) => typeof w === 'string')) return { ...base, flags: [], error: 'is not a static pod with a container command' };
  return { ...base, flags: splitFlags((command as string[]).slice(1)) };
}

export interface InspectOptions {
  unitsDir: string;
  /** kubeadm's kubelet folder (kubeadm-flags.env, config.yaml), read when kubepki's flag files are not there. */
  kubeletDir: string;
}

function readComponent(spec: ClusterSpec, component: ServiceComponent, o: InspectOptions): InstalledComponent | undefined {
  const env = info(path.join(spec.flagsDir, flagFile(component, 'env').file));
  const args = info(path.join(spec.flagsDir, flagFile(component, 'args').file));
  const unitEntry = UNITS.find((u) => u.component === component)!;
  const unit = info(path.join(o.unitsDir, unitEntry.file));
  const files = [env, args].filter(exists);
  if (!files.length) return readKubeadmComponent(spec, component, o);
  const source = exists(env) ? env : args;
  const base = { component, source, files, ...(exists(unit) ? { unit } : {}) };
  const read = readText(source);
  if (read.error !== undefined) return { ...base, flags: [], error: read.error };
  if (source === env) {
    const flags = envFileFlags(read.text!, envVariable(component));
    return flags ? { ...base, flags } : { ...base, flags: [], error: `has no ${envVariable(component)}= line` };
  }
  return { ...base, flags: splitFlags(read.text!.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))) };
}

export interface Installed {
  spec: ClusterSpec;
  components: Map<ServiceComponent, InstalledComponent>;
  kubeletConfig?: { file: FileInfo; config?: Record<string, unknown>; error?: string };
  /** Every file and folder under the cert dir, the dir itself first. */
  pki: FileInfo[];
}

/** Everything under a folder (itself first), without following links; unreadable folders are listed with their error. */
export function walk(dir: string): FileInfo[] {
  const top = info(dir);
  if (top.type !== 'dir') return exists(top) || top.error ? [top] : [];
  const out: FileInfo[] = [top];
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch (e) {
    return [{ ...top, error: describeSystemError(e) }];
  }
  for (const name of names) out.push(...walk(path.join(dir, name)));
  return out;
}

export function inspect(spec: ClusterSpec, o: InspectOptions): Installed {
  const components = new Map<ServiceComponent, InstalledComponent>();
  for (const c of componentsFor(spec.etcd.external)) {
    const found = readComponent(spec, c, o);
    if (found) components.set(c, found);
  }
  const installed: Installed = { spec, components, pki: walk(spec.certificatesDir) };
  const configFile = flagValue(components.get('kubelet'), KUBELET_CONFIG.flag!);
  if (configFile) {
    const file = info(configFile);
    const read = readText(file);
    if (read.error !== undefined) installed.kubeletConfig = { file, error: read.error };
    else {
      try {
        const config = parse(read.text!) as unknown;
        installed.kubeletConfig = config && typeof config === 'object' && !Array.isArray(config)
          ? { file, config: config as Record<string, unknown> }
          : { file, error: 'is not a YAML mapping' };
      } catch (e) {
        installed.kubeletConfig = { file, error: `is not YAML: ${(e as Error).message.split('\n')[0]}` };
      }
    }
  }
  return installed;
}
