/**
 * The command line. Only the parser loads at start-up; each command's code is
 * imported when that command runs.
 */
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { ExitCode, UserError } from './errors.js';
import type { OutputFormat } from './output.js';
import { ALGORITHM_NAMES } from './pki/algorithms.js';

const OUTPUT_FORMATS = ['text', 'json', 'yaml'] as const satisfies readonly OutputFormat[];

function specOptions<T>(y: Argv<T>) {
  return y
    .option('config', { type: 'string', describe: 'Cluster description: kubepki YAML, or a kubeadm config (InitConfiguration/ClusterConfiguration, v1beta3 or v1beta4)', requiresArg: true })
    .option('cert-dir', { type: 'string', describe: 'Where certificates and keys live [default: /etc/kubernetes/pki]', requiresArg: true })
    .option('node-name', { type: 'string', describe: "This node's name [default: the hostname]", requiresArg: true })
    .option('apiserver-advertise-address', { alias: 'advertise-address', type: 'string', describe: 'The address the API server and etcd advertise [default: first non-loopback address]', requiresArg: true })
    .option('apiserver-bind-port', { type: 'string', describe: 'The API server port [default: 6443]', requiresArg: true })
    .option('control-plane-endpoint', { type: 'string', describe: 'Stable address of the control plane: host or host:port', requiresArg: true })
    .option('service-cidr', { type: 'string', describe: 'Service network(s), comma-separated for dual-stack [default: 10.96.0.0/12]', requiresArg: true })
    .option('service-dns-domain', { alias: 'dns-domain', type: 'string', describe: 'Cluster DNS domain [default: cluster.local]', requiresArg: true })
    .option('apiserver-cert-extra-sans', { type: 'string', describe: 'Extra SANs for the API server certificate: IPs and DNS names, comma-separated', requiresArg: true })
    .option('cluster-name', { type: 'string', describe: 'Cluster name [default: kubernetes]', requiresArg: true })
    .option('encryption-algorithm', { type: 'string', choices: ALGORITHM_NAMES, describe: 'Key algorithm [default: RSA-2048]', requiresArg: true })
    .option('certificate-validity', { type: 'string', describe: 'Validity of leaf certificates [default: 8760h]', requiresArg: true })
    .option('ca-certificate-validity', { type: 'string', describe: 'Validity of CA certificates [default: 87600h]', requiresArg: true })
    .option('output', { alias: 'o', choices: OUTPUT_FORMATS, default: 'text' as OutputFormat, describe: 'Output format' });
}

function report(error: unknown): number {
  if (error instanceof UserError) {
    process.stderr.write(`kubepki: error: ${error.message}\n`);
    for (const d of error.details) process.stderr.write(`  - ${d}\n`);
    return error.exitCode;
  }
  process.stderr.write(`kubepki: internal error, please report it with this trace:\n${(error as Error)?.stack ?? String(error)}\n`);
  return ExitCode.failure;
}

async function run(fn: () => Promise<number>): Promise<void> {
  try {
    process.exitCode = await fn();
  } catch (error) {
    process.exitCode = report(error);
  }
}

await yargs(hideBin(process.argv))
  .scriptName('kubepki')
  .usage('kubepki: the PKI of a Kubernetes control plane, from one cluster description.\n\nUsage: $0 <command> [options]')
  .command(
    'init',
    'Create the certificates and keys of a control plane (kubeadm init phase certs all)',
    (y) => specOptions(y)
      .option('dry-run', { type: 'boolean', describe: 'Print what would be created, reused or kept, and write nothing' })
      .example('$0 init --config cluster.yaml', 'Create the PKI described in cluster.yaml')
      .example('$0 init --config kubeadm.yaml --cert-dir ./pki --dry-run -o yaml', 'Show the plan for a kubeadm config'),
    (argv) => run(async () => (await import('./commands/init.js')).runInit(argv as never)),
  )
  .demandCommand(1, 'Name a command.')
  .recommendCommands()
  .strict()
  .help()
  .alias('help', 'h')
  .version()
  .wrap(Math.min(120, process.stdout.columns ?? 100))
  .fail((message, error, y) => {
    if (error) throw error;
    process.stderr.write(`kubepki: error: ${message}\nRun "kubepki --help" for usage.\n`);
    void y;
    process.exit(ExitCode.usage);
  })
  .parseAsync();
