/**
 * From a config file (kubepki's or kubeadm's) and command-line overrides to one
 * validated ClusterSpec: read (read.ts), adapt (adapters.ts), override
 * (overrides.ts), resolve defaults from the host (resolve.ts). Every complaint
 * names the file, line and field, or the flag, with the offending value.
 */
import { applyOverrides } from './overrides.js';
import { readConfigFile } from './read.js';
import { resolveSpec } from './resolve.js';
import type { ClusterSpec } from './spec.js';
import type { OverrideFlag } from './table.js';

export { applyOverrides, readConfigFile, resolveSpec };
export type { ClusterInput, OverrideFlag } from './table.js';

/** The whole path from an optional file and flags to a ClusterSpec. */
export function loadSpec(configFile: string | undefined, flags: Partial<Record<OverrideFlag, unknown>>): ClusterSpec {
  const fromFile = configFile ? readConfigFile(configFile) : {};
  return resolveSpec(applyOverrides(fromFile, flags));
}
