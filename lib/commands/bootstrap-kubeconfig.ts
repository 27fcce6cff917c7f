/** kubepki kubeconfig bootstrap: the kubeconfig a node's kubelet uses for TLS bootstrap (server, CA, token). */
import path from 'node:path';
import { TOKEN_PATTERN } from '../bootstrap/token.js';
import { loadSpec, type OverrideFlag } from '../config/load.js';
import { UserError } from '../errors.js';
import { authorityTargets, kubeconfigTarget } from '../engine/desired.js';
import { rootDir } from '../engine/roots.js';
import { Run } from '../engine/run.js';
import { BOOTSTRAP_KUBECONFIG } from '../pki/catalog.js';

export interface BootstrapKubeconfigOptions extends Partial<Record<OverrideFlag, unknown>> {
  config?: string;
  token: string;
  out?: string;
}

export async function runBootstrapKubeconfig(o: BootstrapKubeconfigOptions): Promise<number> {
  if (!TOKEN_PATTERN.test(o.token) && !/^[0-9a-f]{64}$/.test(o.token)) {
    throw new UserError('--token is neither a bootstrap token ([a-z0-9]{6}.[a-z0-9]{16}) nor a kubepki static token', { exitCode: 2 });
  }
  const spec = loadSpec(o.config, o);
  const out = o.out === '-' ? undefined : path.resolve(o.out ?? path.join(spec.kubeconfigDir, BOOTSTRAP_KUBECONFIG.file));
  const run = new Run({ dirs: { certs: rootDir(spec, 'certs'), kubeconfigs: out ? path.dirname(out) : rootDir(spec, 'kubeconfigs') } });
  // Only the CA's certificate is embedded: a CA managed elsewhere (no key here) is fine.
  await run.decide(authorityTargets(spec, [BOOTSTRAP_KUBECONFIG.signer]));
  const ca = run.ca(BOOTSTRAP_KUBECONFIG.signer)!;
  if (ca.action === 'unusable') throw new UserError(ca.problem!);
  const target = kubeconfigTarget(BOOTSTRAP_KUBECONFIG, spec, { policy: 'new', token: o.token, file: out ? path.basename(out) : BOOTSTRAP_KUBECONFIG.file });
  if (!out) {
    process.stdout.write((await run.render(await run.decide([target], { unseen: true })))[0]!);
    return 0;
  }
  await run.recover(['kubeconfigs']);
  await run.apply([target], { period: false });
  process.stderr.write(`[kubeconfig] Wrote ${out}: copy it to each joining node at the path its kubelet's --bootstrap-kubeconfig names (kubepki flags kubelet)\n`);
  return 0;
}
