/**
 * What this kubepki is: its version (package.json's), the git commit it was
 * built from, and the Node.js it runs on. The build puts the first two in
 * (scripts/build.mjs); a build outside a git checkout says "unknown", unless
 * KUBEPKI_COMMIT was set for it.
 */
declare const __KUBEPKI_VERSION__: string | undefined;
declare const __KUBEPKI_COMMIT__: string | undefined;

export interface VersionInfo {
  version: string;
  commit: string;
  node: string;
  platform: string;
}

export function versionInfo(): VersionInfo {
  return {
    version: typeof __KUBEPKI_VERSION__ === 'string' ? __KUBEPKI_VERSION__ : 'unknown',
    commit: typeof __KUBEPKI_COMMIT__ === 'string' ? __KUBEPKI_COMMIT__ : 'unknown',
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}

/** "kubepki 0.1.0 (commit 16a375a…, node v20.20.2, linux-x64)": what --version and `kubepki version` print. */
export const versionLine = (v: VersionInfo = versionInfo()) => `kubepki ${v.version} (commit ${v.commit}, node ${v.node}, ${v.platform})`;
