/**
 * The catalog as Markdown: the README's certificate table and
 * docs/catalog.md, generated (scripts/gen-docs.mjs) and checked by a test
 * (test/docs.test.ts), so that the documentation never drifts from what
 * kubepki writes.
 */
import type { ClusterSpec } from '../config/spec.js';
import { CHECKS } from '../audit/checks.js';
import { RULES } from '../components/hardening.js';
import { DEFAULTS } from '../config/spec.js';
import {
  BACKUPS, BOOTSTRAP_KUBECONFIG, BOOTSTRAP_TOKEN_SECRETS, CERTIFICATES, FLAG_FILES, KEY_PAIRS, KUBECONFIGS, MODES, NODE_BUNDLES, PROFILES, RBAC_MANIFEST,
  RENEW_UNITS, SERVICES, TOKEN_FILE, UNITS, certPath, consumerName, csrFiles, keyPath, modeText, restartOrder, signedCertificateFile, userKubeconfigFile,
  type CertEntry, type Subject,
} from '../pki/catalog.js';

/** A description whose node-dependent values show as placeholders. */
const PLACEHOLDER = {
  nodeName: '<node name>', clusterName: DEFAULTS.clusterName, dnsDomain: DEFAULTS.dnsDomain, nodeAddresses: [], serviceSubnets: [],
  apiServerCertSANs: [], etcd: { external: false, serverCertSANs: [], peerCertSANs: [], members: [] },
} as unknown as ClusterSpec;

const html = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\|/g, '\\|');
const subjectText = (s: Subject) => [...(s.o ?? []).map((o) => `O=${o}`), `CN=${s.cn}`].join(', ');
const table = (head: string[], rows: string[][]) => [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
const files = (e: CertEntry) => `${certPath(e)}, ${keyPath(e).split('/').pop()!.replace(/^.*\./, '.')}`;

/** The README's table: every certificate and key pair init writes, with kubeadm's names. */
export function readmeCertificateTable(): string {
  const rows = CERTIFICATES.map((e) => [e.name, files(e), e.ca ?? 'self', html(subjectText(e.subject(PLACEHOLDER)))]);
  for (const k of KEY_PAIRS) rows.push([k.name, `${k.key}, ${k.pub}`, '–', '(key pair)']);
  return table(['name', `files (under \`${DEFAULTS.certificatesDir}\`)`, 'signed by', 'subject'], rows);
}

const usages = (e: CertEntry) => {
  const p = PROFILES[e.profile];
  const ku = p.keyUsage.map((u) => (u === 'keyEncipherment' ? 'keyEncipherment (RSA only)' : u)).join(', ');
  return `${ku}${p.extKeyUsage.length ? `; ${p.extKeyUsage.join(', ')}` : ''}`;
};

/** docs/catalog.md: everything kubepki writes, where, with which mode, who signs it and who reads it. */
export function catalogMarkdown(): string {
  const certs = table(
    ['name', 'files', 'modes', 'signed by', 'subject', 'SANs', 'usages', 'validity', 'scope', 'read by'],
    CERTIFICATES.map((e) => [
      e.name + (e.etcd ? ' (local etcd)' : ''), files(e), `${modeText(MODES.cert)}, ${modeText(MODES.key)}`, e.ca ?? 'self', html(subjectText(e.subject(PLACEHOLDER))),
      html(e.sanRule), usages(e), PROFILES[e.profile].validity === 'ca' ? 'caCertificateValidityPeriod' : 'certificateValidityPeriod', e.scope,
      e.consumers.map((c) => `\`${consumerName(c)}\``).join('<br>'),
    ]),
  );
  const pairs = table(['name', 'files', 'modes', 'scope', 'read by'], KEY_PAIRS.map((k) => [
    k.name, `${k.key}, ${k.pub}`, `${modeText(MODES.key)}, ${modeText(MODES.pub)}`, k.scope, k.consumers.map((c) => `\`${consumerName(c)}\``).join('<br>'),
  ]));
  const kubeconfigs = table(['file', 'credentials', 'user (CN)', 'O', 'server', 'mode', 'scope', 'read by'], [...KUBECONFIGS, BOOTSTRAP_KUBECONFIG].map((k) => {
    const s = k.subject(PLACEHOLDER);
    return [k.file, k.credentials === 'token' ? 'token' : `client certificate signed by ${k.signer}`, html(s.cn), html((s.o ?? []).join(', ') || '–'),
      k.server === 'endpoint' ? 'controlPlaneEndpoint (or this node)' : "this node's address", modeText(MODES.kubeconfig), k.scope,
      k.consumers.map((c) => `\`${consumerName(c)}\``).join('<br>') || '–'];
  }));
  const generated = table(['file', 'directory', 'what', 'mode', 'scope'], [...FLAG_FILES, ...UNITS, ...RENEW_UNITS, RBAC_MANIFEST].map((g) => [
    g.file, g.root === 'flags' ? 'flags dir' : g.root === 'units' ? '`render systemd --out`' : '`render rbac --out`', g.format, modeText(MODES.generated), g.scope,
  ]));
  const other = table(['what', 'where', 'mode'], [
    ['static token file (`token file`)', `<cert dir>/${TOKEN_FILE.file} (bootstrap.tokenAuthFile)`, modeText(MODES[TOKEN_FILE.role])],
    ['bootstrap token Secret (`token create`)', html(`<kubeconfig dir>/${BOOTSTRAP_TOKEN_SECRETS.dir}/${BOOTSTRAP_TOKEN_SECRETS.file('<id>')}`), modeText(MODES[BOOTSTRAP_TOKEN_SECRETS.role])],
    ['a user\'s kubeconfig (`kubeconfig user`)', html(`<kubeconfig dir>/${userKubeconfigFile('<name>')}`), modeText(MODES.kubeconfig)],
    ['key and CSR (`certs renew --csr-only`)', html(`<csr dir>/${csrFiles('<name>').key}, ${csrFiles('<name>').csr}`), `${modeText(MODES.key)}, ${modeText(MODES.csr)}`],
    ['signed certificate (`certs sign`)', html(`beside the CSR: ${signedCertificateFile('<name>.csr')}`), modeText(MODES.cert)],
    ['node bundles (`nodes issue`)', html(`<kubeconfig dir>/${NODE_BUNDLES.dir}/<node>/`), 'as each file above'],
    ['replaced and removed files (`certs renew`, `certs reconcile`, `ca renew`, `ca rotate`)', html(`<kubeconfig dir>/${BACKUPS.dir}/<UTC time>/`), `the file's own (a second name of it; ${modeText(MODES.backup)} for a copy on another file system); folders ${modeText(MODES.backupDir)}`],
  ]);
  return [
    '# The catalog',
    '',
    '<!-- Generated from lib/pki/catalog.ts by scripts/gen-docs.mjs; test/docs.test.ts checks it. Do not edit by hand. -->',
    '',
    'Everything kubepki writes, from the one table in `lib/pki/catalog.ts`. Scope says whose it is:',
    '`cluster` (one for the whole cluster), `control-plane` (each control-plane node has its own),',
    '`node` (each node has its own); node bundles (`kubepki nodes issue`) carry the last two.',
    '',
    '## Certificates',
    '',
    certs,
    '',
    '## Key pairs',
    '',
    pairs,
    '',
    '## Kubeconfigs',
    '',
    kubeconfigs,
    '',
    '## Files derived from the description',
    '',
    'Written when absent, kept when identical, never overwritten when different.',
    '',
    generated,
    '',
    '## Other files',
    '',
    other,
    '',
    '## Restart order',
    '',
    `After renewing, components restart in this order: ${restartOrder(SERVICES.map((s) => s.name)).join(', ')}.`,
    '',
  ].join('\n');
}

/** The markers the README's generated table sits between. */
export const README_MARKERS = { begin: '<!-- catalog:certificates (generated by scripts/gen-docs.mjs) -->', end: '<!-- /catalog:certificates -->' };

/** The README with its generated block replaced. */
export function withReadmeTable(readme: string): string {
  const begin = readme.indexOf(README_MARKERS.begin);
  const end = readme.indexOf(README_MARKERS.end);
  if (begin < 0 || end < begin) throw new Error(`README.md has no ${README_MARKERS.begin} ... ${README_MARKERS.end} block`);
  return `${readme.slice(0, begin + README_MARKERS.begin.length)}\n${readmeCertificateTable()}\n${readme.slice(end)}`;
}

/**
 * docs/cis.md: every check of kubepki audit, with its CIS number, what it
 * reads and how kube-bench (cfg/cis-1.12) judges the same thing; the flag
 * and setting checks are the rules init refuses a user argument by.
 */
export function cisMarkdown(): string {
  const ruleRows = RULES.map((r) => [
    r.id.startsWith('kubepki.') ? `\`${r.id}\`` : r.id, r.component, `\`--${r.flag}\`${r.setting ? ` / \`${r.setting}\`` : ''}`, html(r.title), r.scored ? 'failure' : 'warning',
  ]);
  const fileRows = (Object.entries(CHECKS) as [string, { title: string; scored: boolean; reads: string; kubeBench?: string }][]).map(([id, c]) => [
    id.startsWith('kubepki.') ? `\`${id}\`` : id, html(c.title), html(c.reads), c.kubeBench ? html(c.kubeBench) : '(kubepki only)', c.scored ? 'failure' : 'warning',
  ]);
  return `# kubepki audit and the CIS Kubernetes Benchmark

<!-- Generated by scripts/gen-docs.mjs from lib/components/hardening.ts (RULES) and lib/audit/checks.ts (CHECKS); do not edit. -->

\`kubepki audit\` runs the checks below on a node. CIS numbers are those of the
CIS Kubernetes Benchmark 1.12 as kube-bench (aquasecurity/kube-bench,
\`cfg/cis-1.12\`) numbers and judges them:

- a mode "600 or more restrictive" passes when its bits are a subset of 600
  (kube-bench's bitmask: 400 passes, 640 and 700 do not);
- a check kube-bench scores that fails is a **failure** (exit 4); an unscored
  one (its "Manual" checks) a **warning** (exit 3);
- a flag not given fails, unless kube-bench's check passes it unset (1.2.10,
  1.2.12, 1.2.13, 1.2.21, 1.3.6, 1.3.7, 1.4.2, 2.3, 2.6, 4.2.4-4.2.8, 4.2.10,
  4.2.11);
- the kubelet's flag wins over its configuration file, which is read where the
  kubelet's \`--config\` says;
- 1.1.12 fails on purpose and is reported as *accepted* (README, "CIS: what
  passes, and the one trade-off").

Where both judge the same thing they agree, quirks included (4.2.5 fails
\`streamingConnectionIdleTimeout: 0\`, not \`0s\`; 4.2.12 takes only the six
ECDHE suites of kube-bench's list, no TLS 1.3 names). kubepki's own checks
(\`kubepki.*\`) go where CIS cannot: 2.7 asks only that etcd names a CA, and
\`kubepki.trust\` checks that the CA it names signed etcd's clients.

## Flags and kubelet settings

The same rules refuse a user's \`extraArgs\`, \`kubeletExtraArgs\` or
KubeletConfiguration value unless \`allowInsecure\` names it.

${table(['check', 'component', 'flag / setting', 'what passes', 'when it fails'], ruleRows)}

## Files, and what flags name

${table(['check', 'what passes', 'what it reads', 'kube-bench', 'when it fails'], fileRows)}

## Pointing kube-bench at kubepki's files

kube-bench reads flags from the running processes (\`ps\`), so the flag checks
see what the units pass. Its file checks look at kubeadm's paths; in its
\`cfg/config.yaml\` put kubepki's first (with the default folders):

\`\`\`yaml
master:
  apiserver:
    confs: [/etc/kubernetes/flags/kube-apiserver.env]
  controllermanager:
    confs: [/etc/kubernetes/flags/kube-controller-manager.env]
  scheduler:
    confs: [/etc/kubernetes/flags/kube-scheduler.env]
  etcd:
    confs: [/etc/kubernetes/flags/etcd.env]
node:
  kubelet:
    svc: [/etc/systemd/system/kubelet.service]
    confs: [/etc/kubernetes/flags/kubelet-config.yaml]
\`\`\`
`;
}
