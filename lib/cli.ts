/**
 * The command line. Only the parser loads at start-up; each command's code is
 * imported when that command runs.
 */
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { ExitCode, UserError } from './errors.js';
import type { FlagFormat } from './components/flags.js';
import type { OutputFormat } from './output.js';
import { ALGORITHM_NAMES } from './pki/algorithms.js';
import { versionInfo, versionLine } from './version.js';
import { FLAG_FIELDS } from './config/table.js';
import {
  BOOTSTRAP_KUBECONFIG, BOOTSTRAP_TOKEN_SECRETS, CA_NAMES, KUBEADM_LAYOUT, FLAG_COMPONENTS, ROTATABLE, NODE_BUNDLES, TOKEN_FILE, renewableNames, userKubeconfigFile,
} from './pki/catalog.js';


const OUTPUT_FORMATS = ['text', 'json', 'yaml'] as const satisfies readonly OutputFormat[];
// Type-checked against the modules that own them; spelled here so that start-up loads neither.
const FLAG_FORMATS = ['args', 'env', 'json'] as const satisfies readonly FlagFormat[];

/** A flag given twice takes its last value, as kubeadm's (pflag) do. */
const last = (value: unknown) => (Array.isArray(value) ? value[value.length - 1] : value);

/** The description's options: --config, then every flag of the field table (lib/config/table.ts), its help and default from there. */
function specOptions<T>(y: Argv<T>) {
  let out = y.option('config', { type: 'string', coerce: last, describe: 'Cluster description: kubepki YAML, or a kubeadm config (InitConfiguration/ClusterConfiguration, v1beta3 or v1beta4)', requiresArg: true });
  for (const { flag, rule } of FLAG_FIELDS) {
    out = out.option(flag.name, {
      type: 'string',
      // A list flag takes one value per occurrence and keeps every occurrence, as kubeadm's (pflag's
      // StringSlice) do, and never swallows the positional arguments after it (nargs).
      ...('repeat' in flag || 'list' in flag ? { array: true, nargs: 1 } : { coerce: last }),
      requiresArg: true,
      describe: 'default' in flag ? `${flag.describe} [default: ${flag.default}]` : flag.describe,
      ...('alias' in flag ? { alias: flag.alias } : {}),
      ...(rule === 'algorithm' ? { choices: ALGORITHM_NAMES } : {}),
    });
  }
  return out.option('output', { alias: 'o', choices: OUTPUT_FORMATS, default: 'text' as OutputFormat, describe: 'Output format' });
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

/**
 * Run the command line of this process (process.argv). Everything with an effect
 * is in here, none at the module's top level: the single executable's start-up
 * snapshot (lib/snapshot.ts) loads this module when it is built and calls main
 * only when it runs.
 */
export async function main(): Promise<void> {
  // `kubepki ... | head`: when the reader goes away, stop quietly, as command-line
  // tools do, instead of dying on EPIPE with a trace. (Writes are all-or-nothing:
  // an exit mid-write leaves what the next run rolls back, as a kill would.)
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
      throw error;
    });
  }

  const cli = yargs(hideBin(process.argv));
  // After starting a command's handler, yargs renders the whole help text and keeps
  // it for a failure later on: 10-35 ms of text layout on every run. kubepki's
  // handlers report their own errors and never print help, so that work is skipped.
  type YargsInternals = { getInternalMethods?: () => { getUsageInstance?: () => { cacheHelpMessage?: () => void } } };
  const usage = (cli as unknown as YargsInternals).getInternalMethods?.().getUsageInstance?.();
  if (usage?.cacheHelpMessage) usage.cacheHelpMessage = () => undefined;

  await cli
    .scriptName('kubepki')
    .usage('kubepki: the PKI of a Kubernetes control plane, from one cluster description.\n\nUsage: $0 <command> [options]')
    .command(
      'init',
      'Create the certificates and keys of a control plane (kubeadm init phase certs all)',
      (y) => specOptions(y)
        .option('dry-run', { type: 'boolean', describe: 'Print what would be created, reused or kept, and write nothing' })
        .option('skip-phases', { type: 'string', coerce: last, describe: 'Leave out parts: kubeconfig, flags (comma-separated)', requiresArg: true })
        .example('$0 init --config cluster.yaml', 'Create the PKI described in cluster.yaml')
        .example('$0 init --config kubeadm.yaml --cert-dir ./pki --dry-run -o yaml', 'Show the plan for a kubeadm config'),
      (argv) => run(async () => (await import('./commands/init.js')).runInit(argv as never)),
    )
    .command(
      'flags <component>',
      `Print the flags of a component (${FLAG_COMPONENTS.join(', ')}), as init writes them`,
      (y) => specOptions(y)
        .positional('component', { type: 'string', describe: `${FLAG_COMPONENTS.slice(0, -1).join(', ')} or ${FLAG_COMPONENTS[FLAG_COMPONENTS.length - 1]}`, demandOption: true })
        .option('format', { alias: 'f', choices: FLAG_FORMATS, default: 'args' as const, describe: 'One --flag=value per line, a systemd EnvironmentFile, or JSON' })
        .example('$0 flags kube-apiserver --config cluster.yaml', 'The API server flags, one per line'),
      (argv) => run(async () => (await import('./commands/flags.js')).runFlags(argv as never)),
    )
    .command(
      'nodes <command>',
      'Certificates for the nodes of the inventory',
      (y) => y.command(
        'issue',
        'Write a bundle per node (nodes/NAME/): kubelet.conf, kubelet serving certificate, and for control-plane nodes apiserver and etcd certificates',
        (yy) => specOptions(yy)
          .option('out-dir', { type: 'string', coerce: last, describe: `Where the bundles go [default: <kubeconfig-dir>/${NODE_BUNDLES.dir}]`, requiresArg: true })
          .option('only', { type: 'string', array: true, describe: 'Only these nodes (names, comma-separated or repeated)', requiresArg: true })
          .option('concurrency', { type: 'number', coerce: last, default: 32, describe: 'Nodes made at once', requiresArg: true }),
        (argv) => run(async () => (await import('./commands/nodes.js')).runNodesIssue(argv as never)),
      ).demandCommand(1, 'Name a nodes command (issue).'),
    )
    .command(
      'token <command>',
      'Credentials for kubelet TLS bootstrap',
      (y) => y.command(
        'create',
        'Make a bootstrap token and write its kube-system Secret manifest; prints the token',
        (yy) => specOptions(yy)
          .option('ttl', { type: 'string', coerce: last, default: '24h', describe: 'How long the token is valid (0: forever)', requiresArg: true })
          .option('usages', { type: 'string', array: true, describe: 'signing, authentication [default: both]', requiresArg: true })
          .option('groups', { type: 'string', array: true, describe: 'Extra groups [default: system:bootstrappers:kubeadm:default-node-token]', requiresArg: true })
          .option('description', { type: 'string', coerce: last, requiresArg: true })
          .option('out-dir', { type: 'string', coerce: last, describe: `Where the Secret manifest goes [default: <kubeconfig-dir>/${BOOTSTRAP_TOKEN_SECRETS.dir}]`, requiresArg: true }),
        (argv) => run(async () => (await import('./commands/token.js')).runTokenCreate(argv as never)),
      ).command(
        'file',
        'Write a static token auth file (token,user,uid,"groups") for kube-apiserver --token-auth-file',
        (yy) => specOptions(yy)
          .option('out', { type: 'string', coerce: last, describe: `The file [default: bootstrap.tokenAuthFile, <cert-dir>/${TOKEN_FILE.file}]`, requiresArg: true })
          .option('user', { type: 'string', coerce: last, default: 'kubelet-bootstrap', requiresArg: true })
          .option('uid', { type: 'string', coerce: last, default: '10001', requiresArg: true })
          .option('group', { type: 'string', array: true, describe: 'Groups [default: system:bootstrappers]', requiresArg: true }),
        (argv) => run(async () => (await import('./commands/token.js')).runTokenFile(argv as never)),
      ).demandCommand(1, 'Name a token command (create, file).'),
    )
    .command(
      'render <what>',
      'Write systemd units for every component, each reading the flag file init wrote, and a daily renewal timer (systemd); or the kubelet bootstrap RBAC manifests (rbac)',
      (y) => specOptions(y)
        .positional('what', { type: 'string', describe: 'systemd', demandOption: true })
        .option('templates', { type: 'string', describe: 'A folder of unit templates (<component>.service) replacing the shipped ones', requiresArg: true })
        .option('out', { type: 'string', default: '/etc/systemd/system', describe: 'Where to write the units', requiresArg: true })
        .option('bin-dir', { type: 'string', default: '/usr/local/bin', describe: 'Where the component binaries are', requiresArg: true })
        .option('kubepki-bin', { type: 'string', coerce: last, describe: 'The kubepki that kubepki-renew.service runs [default: this one]', requiresArg: true })
        .option('dry-run', { type: 'boolean', describe: 'Print the units and write nothing' }),
      (argv) => run(async () => (await import('./commands/render.js')).runRender(argv as never)),
    )
    .command(
      'audit',
      'Check this node as a CIS audit does (Kubernetes Benchmark 1.12: files, flags, kubelet settings), and what CIS cannot see: files flags name, trust, keys, secrets. Exit 0 clean, 3 warnings, 4 failures',
      (y) => specOptions(y)
        .option('output', { alias: 'o', choices: ['text', 'json', 'yaml', 'junit'] as const, default: 'text' as const, describe: 'Output format (junit: for CI)' })
        .option('units-dir', { type: 'string', coerce: last, default: '/etc/systemd/system', describe: 'Where the units are', requiresArg: true })
        .option('kubelet-dir', { type: 'string', coerce: last, default: KUBEADM_LAYOUT.kubeletDir, describe: "On a node kubeadm set up (no kubepki flag files): the kubelet's folder (kubeadm-flags.env, config.yaml)", requiresArg: true })
        .option('all', { type: 'boolean', describe: 'List passing and skipped checks too (text)' })
        .example('$0 audit', 'Audit this node, as installed by kubepki init and render systemd')
        .example('$0 audit -o junit > audit.xml', 'For a CI job'),
      (argv) => run(async () => (await import('./commands/audit.js')).runAudit(argv as never)),
    )
    .command(
      'certs <command>',
      'Day-2 certificate commands',
      (y) => y.command(
        'check-expiration',
        'When each certificate, kubeconfig and CA expires (exit 3: warn, 4: fail)',
        (yy) => specOptions(yy)
          .option('output', { alias: 'o', choices: ['text', 'json', 'yaml', 'prometheus'] as const, default: 'text' as const, describe: 'Output format (prometheus: node-exporter textfile format)' })
          .option('warn-within', { type: 'string', coerce: last, describe: 'Exit 3 when anything expires within this duration (e.g. 720h, 30d)', requiresArg: true })
          .option('fail-within', { type: 'string', coerce: last, describe: 'Exit 4 when anything expires within this duration', requiresArg: true })
          .option('path', { type: 'string', array: true, describe: 'Also check these certificate files or folders (*.crt, *.pem, *.cer)', requiresArg: true })
          .example('$0 certs check-expiration --warn-within 30d --fail-within 7d', 'For a cron job or a monitoring check')
          .example('$0 certs check-expiration -o prometheus > /var/lib/node_exporter/kubepki.prom.$$ && mv ...', 'For node-exporter'),
        (argv) => run(async () => (await import('./commands/check-expiration.js')).runCheckExpiration(argv as never)),
      ).command(
        'renew [names..]',
        'Renew certificates (catalog names, kubeconfig files, or all): same subject, SANs and usages, same CA, new key',
        (yy) => specOptions(yy)
          .positional('names', { type: 'string', array: true, describe: `${renewableNames().join(', ')}, or all [default with --expiring-within: all]` })
          .option('expiring-within', { type: 'string', coerce: last, describe: 'Renew only what expires within this duration (e.g. 30d, 720h); CAs never (see kubepki ca)', requiresArg: true })
          .option('keep-key', { type: 'boolean', describe: 'Keep each existing key instead of making a new one' })
          .option('csr-only', { type: 'boolean', describe: 'Write keys and CSRs for an external CA instead (to --csr-dir)' })
          .option('csr-dir', { type: 'string', coerce: last, describe: 'Where --csr-only writes', requiresArg: true })
          .option('restart', { type: 'boolean', describe: 'Restart the components that read the renewed files (systemctl, or --restart-command)' })
          .option('restart-command', { type: 'string', coerce: last, describe: 'Command run per component instead of systemctl; {component} is replaced', requiresArg: true })
          .option('dry-run', { type: 'boolean', describe: 'Say what would be renewed, and write nothing' })
          .example('$0 certs renew all', 'Renew everything kubepki can; prints what to restart')
          .example('$0 certs renew etcd-server etcd-peer --restart', 'Renew two and restart etcd')
          .example('$0 certs renew --expiring-within 30d --restart', 'For a timer: renew and restart only what ends within 30 days'),
        (argv) => run(async () => (await import('./commands/renew.js')).runRenew(argv as never)),
      ).command(
        'reconcile',
        'Re-issue exactly what differs from the description (SANs, endpoint, key algorithm, validity, signer); what matches is never touched',
        (yy) => specOptions(yy)
          .option('include-cas', { type: 'boolean', describe: 'Also make anew a CA that differs (a new key; everything it signed re-issued at once, so not without downtime: see kubepki ca rotate)' })
          .option('output', { alias: 'o', choices: ['text', 'json', 'yaml'] as const, default: 'text' as const, describe: 'With --dry-run: output format' })
          .option('restart', { type: 'boolean', describe: 'Restart the components that read what changed (systemctl, or --restart-command)' })
          .option('restart-command', { type: 'string', coerce: last, describe: 'Command run per component instead of systemctl; {component} is replaced', requiresArg: true })
          .option('dry-run', { type: 'boolean', describe: 'Show each difference, file by file, and write nothing' })
          .example('$0 certs reconcile --dry-run', 'What differs: "apiserver: SANs +DNS:lb.example.com -IP:10.0.0.9"')
          .example('$0 certs reconcile --restart', 'Re-issue what differs, then restart what reads it'),
        (argv) => run(async () => (await import('./commands/reconcile.js')).runReconcile(argv as never)),
      ).command(
        'generate-csr',
        'Write a key and a CSR for every certificate and kubeconfig a CA managed elsewhere must sign (an offline root); then kubepki init',
        (yy) => specOptions(yy)
          .example('$0 certs generate-csr --config cluster.yaml', 'With ca.crt (no ca.key) in the cert dir: CSRs for the external CA'),
        (argv) => run(async () => (await import('./commands/generate-csr.js')).runGenerateCsr(argv as never)),
      ).command(
        'sign',
        'Sign kubelet client and serving CSRs with kubernetes-ca, when they fit the node policy',
        (yy) => specOptions(yy)
          .option('csr', { type: 'string', array: true, demandOption: true, describe: 'A CSR file, or a folder of *.csr', requiresArg: true })
          .option('out-dir', { type: 'string', coerce: last, describe: 'Where certificates go [default: beside each CSR]', requiresArg: true }),
        (argv) => run(async () => (await import('./commands/sign.js')).runSign(argv as never)),
      ).demandCommand(1, 'Name a certs command (check-expiration, renew, reconcile, generate-csr, sign).'),
    )
    .command(
      'ca <command>',
      'The cluster\'s certificate authorities',
      (y) => y.command(
        'renew <name>',
        'Renew a CA\'s certificate with the same key (same subject and key identifier, new validity): everything it signed stays valid',
        (yy) => specOptions(yy)
          .positional('name', { type: 'string', describe: CA_NAMES.join(', '), demandOption: true })
          .option('dry-run', { type: 'boolean', describe: 'Say what would be renewed, and write nothing' }),
        (argv) => run(async () => (await import('./commands/ca.js')).runCaRenew(argv as never)),
      ).command(
        'rotate <step>',
        'Replace CAs (and the service-account key) with new ones, in phases that never break a running cluster: start, issue, complete (or abort); status',
        (yy) => specOptions(yy)
          .positional('step', { choices: ['start', 'issue', 'complete', 'abort', 'status'] as const, demandOption: true, describe: 'start: a new CA, trusted beside the old; issue: everything re-issued by it; complete: the old CA dropped; abort: one step back; status: the phase of each' })
          .option('ca', { type: 'string', array: true, nargs: 1, describe: `Which to rotate: ${ROTATABLE.join(', ')} (comma-separated or repeated) [default: start: all; the other steps: those under rotation]`, requiresArg: true })
          .option('output', { alias: 'o', choices: ['text', 'json', 'yaml'] as const, default: 'text' as const, describe: 'status: output format' })
          .option('restart', { type: 'boolean', describe: 'Restart the components that read what the step changed, one at a time (systemctl, or --restart-command)' })
          .option('restart-command', { type: 'string', coerce: last, describe: 'Command run per component instead of systemctl; {component} is replaced', requiresArg: true })
          .option('dry-run', { type: 'boolean', describe: 'Say what the step would write, and write nothing' })
          .example('$0 ca rotate start', 'A new CA for each of ca, etcd-ca, front-proxy-ca and a new service-account key; trusted beside the old ones')
          .example('$0 ca rotate status -o json', 'The phase of each, which file holds which CA, what to restart'),
        (argv) => run(async () => (await import('./commands/rotate.js')).runRotate(argv as never)),
      ).demandCommand(1, 'Name a ca command (renew, rotate).'),
    )
    .command(
      'kubeconfig <command>',
      'Kubeconfig files beyond those init writes',
      (y) => y.command(
        'user',
        'Write a kubeconfig for a user or a tool, with a client certificate signed by the cluster CA',
        (yy) => specOptions(yy)
          .option('name', { type: 'string', demandOption: true, describe: 'The user name (certificate CN)', requiresArg: true })
          .option('org', { type: 'string', array: true, describe: 'A group (certificate O); repeat or comma-separate for several', requiresArg: true })
          .option('validity-period', { type: 'string', describe: 'How long the certificate is valid [default: the certificate validity]', requiresArg: true })
          .option('out', { type: 'string', describe: `The file to write [default: <kubeconfig-dir>/${userKubeconfigFile('<name>')}]; "-" prints it`, requiresArg: true })
          .example('$0 kubeconfig user --name alice --org developers', 'alice.conf in the kubeconfig dir'),
        (argv) => run(async () => (await import('./commands/kubeconfig-user.js')).runKubeconfigUser(argv as never)),
      ).command(
        'bootstrap',
        "Write a node's bootstrap kubeconfig (server, CA, token) for kubelet TLS bootstrap",
        (yy) => specOptions(yy)
          .option('token', { type: 'string', coerce: last, demandOption: true, describe: 'A bootstrap token (kubepki token create)', requiresArg: true })
          .option('out', { type: 'string', coerce: last, describe: `The file [default: <kubeconfig-dir>/${BOOTSTRAP_KUBECONFIG.file}]; "-" prints it`, requiresArg: true }),
        (argv) => run(async () => (await import('./commands/bootstrap-kubeconfig.js')).runBootstrapKubeconfig(argv as never)),
      ).demandCommand(1, 'Name a kubeconfig command (user, bootstrap).'),
    )
    .command(
      'version',
      'This kubepki\'s version, the git commit it was built from, and the Node.js it runs on',
      (y) => y.option('output', { alias: 'o', choices: OUTPUT_FORMATS, default: 'text' as const, describe: 'Output format' }),
      (argv) => run(async () => {
        if (argv.output === 'text') process.stdout.write(`${versionLine()}\n`);
        else (await import('./output.js')).printData(argv.output, versionInfo());
        return 0;
      }),
    )
    .completion('completion', 'Print a shell completion script: bash, or zsh when $SHELL is zsh (kubepki completion >> ~/.bashrc)')
    .demandCommand(1, 'Name a command.')
    .recommendCommands()
    .strict()
    .help()
    .alias('help', 'h')
    .version(versionLine())
    .wrap(Math.min(120, process.stdout.columns ?? 100))
    .fail((message, error) => {
      // Command handlers report their own errors (run); what reaches here is the command line's.
      process.stderr.write(`kubepki: error: ${message ?? error?.message ?? 'invalid command line'}\nRun "kubepki --help" for usage.\n`);
      process.exit(ExitCode.usage);
    })
    .parseAsync()
    .catch((error: unknown) => {
      process.exitCode = report(error);
    });
}
