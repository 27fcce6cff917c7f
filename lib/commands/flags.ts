/** kubepki flags COMPONENT: print a component's flags, as `init` writes them. */
import { loadSpec, type OverrideFlag } from '../config/load.js';
import { UserError } from '../errors.js';
import { componentFlags, etcdctlEnv, formatEnv, formatFlags, type FlagContext, type FlagFormat } from '../components/flags.js';
import { externalCAsOnDisk } from '../engine/observe.js';
import { FLAG_COMPONENTS } from '../pki/catalog.js';

export interface FlagsOptions extends Partial<Record<OverrideFlag, unknown>> {
  config?: string;
  component: string;
  format: FlagFormat;
}

export async function runFlags(options: FlagsOptions): Promise<number> {
  const component = options.component as (typeof FLAG_COMPONENTS)[number];
  if (!FLAG_COMPONENTS.includes(component)) {
    throw new UserError(`unknown component "${options.component}"; choose one of ${FLAG_COMPONENTS.join(', ')}`, { exitCode: 2 });
  }
  const spec = loadSpec(options.config, options);
  if ((component === 'etcd' || component === 'etcdctl') && spec.etcd.external) {
    throw new UserError(`the cluster uses external etcd: kubepki configures no ${component}`);
  }
  const ctx: FlagContext = { spec, externalCAs: externalCAsOnDisk(spec) };
  if (component === 'etcdctl') {
    const env = etcdctlEnv(ctx);
    process.stdout.write(options.format === 'json' ? JSON.stringify({ component, env: Object.fromEntries(env) }, null, 2) + '\n'
      : options.format === 'env' ? formatEnv(env) : env.map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
    return 0;
  }
  process.stdout.write(formatFlags(component, componentFlags(component, ctx), options.format));
  return 0;
}
