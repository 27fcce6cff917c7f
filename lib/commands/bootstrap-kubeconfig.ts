/** kubepki kubeconfig bootstrap: the kubeconfig a node's kubelet uses for TLS bootstrap (server, CA, token). */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { recoverInterrupted, writeAllOrNothing } from '../apply/transaction.js';
import { TOKEN_PATTERN } from '../bootstrap/token.js';
import { loadSpec, type OverrideFlag } from '../config/load.js';
import { describeSystemError, UserError } from '../errors.js';
import { buildKubeconfig, serverURL } from '../kubeconfig/kubeconfig.js';
import { BOOTSTRAP_KUBECONFIG, caEntry, certPath } from '../pki/catalog.js';

export interface BootstrapKubeconfigOptions extends Partial<Record<OverrideFlag, unknown>> {
  config?: string;
  token: string;
  out?: string;
}

/** kubeadm's user name in bootstrap-kubelet.conf. */
const TOKEN_USER = 'tls-bootstrap-token-user';

export async function runBootstrapKubeconfig(o: BootstrapKubeconfigOptions): Promise<number> {
  if (!TOKEN_PATTERN.test(o.token) && !/^[0-9a-f]{64}$/.test(o.token)) {
    throw new UserError('--token is neither a bootstrap token ([a-z0-9]{6}.[a-z0-9]{16}) nor a kubepki static token', { exitCode: 2 });
  }
  const spec = loadSpec(o.config, o);
  const caFile = path.join(spec.certificatesDir, certPath(caEntry('ca')));
  let ca: string;
  try {
    ca = readFileSync(caFile, 'utf8');
  } catch (e) {
    throw new UserError(`${caFile}: cannot read the cluster CA: ${describeSystemError(e)}`);
  }
  const data = buildKubeconfig({ clusterName: spec.clusterName, server: serverURL(spec, 'endpoint'), caPem: ca, user: TOKEN_USER, credentials: { token: o.token } });
  if (o.out === '-') {
    process.stdout.write(data);
    return 0;
  }
  const out = path.resolve(o.out ?? path.join(spec.kubeconfigDir, BOOTSTRAP_KUBECONFIG.file));
  for (const m of await recoverInterrupted([path.dirname(out)])) process.stderr.write(`[kubepki] ${m}\n`);
  await writeAllOrNothing([{ dir: path.dirname(out), files: [{ rel: path.basename(out), data, mode: 0o600 }] }]).catch((e: unknown) => {
    if (e instanceof UserError && /appeared/.test(e.message)) throw new UserError(`${out} exists; kubepki will not overwrite it: move it away or choose --out`);
    throw e;
  });
  process.stderr.write(`[kubeconfig] Wrote ${out}: copy it to each joining node at the path its kubelet's --bootstrap-kubeconfig names (kubepki flags kubelet)\n`);
  return 0;
}
