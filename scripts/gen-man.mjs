#!/usr/bin/env node
// kubepki(1), generated from the same command definitions as --help: the
// built CLI's help for every command (found by walking the "Commands:"
// sections from the top), set as a man page. Writes roff to stdout.
//
// usage: node scripts/gen-man.mjs > kubepki.1
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
// A fixed width, so that the page does not depend on the terminal that built it.
const help = (words) => execFileSync(process.execPath, [path.join(root, 'bin/kubepki.cjs'), ...words, '--help'], { env: { ...process.env, COLUMNS: '78' }, stdio: ['ignore', 'pipe', 'pipe'] }).toString();

/** The subcommands a help text lists ("  kubepki certs renew [names..]  Renew ..." → "renew"). */
function subcommands(text, words) {
  const out = [];
  const section = text.split(/^Commands:$/m)[1]?.split(/^\S.*:$/m)[0] ?? '';
  for (const line of section.split('\n')) {
    const m = new RegExp(`^ {2}kubepki ${words.map((w) => `${w} `).join('')}([a-z][a-z-]*)`).exec(line);
    if (m) out.push(m[1]);
  }
  return [...new Set(out)];
}

const pages = [];
const walk = (words) => {
  const text = help(words);
  pages.push({ words, text });
  for (const sub of subcommands(text, words)) walk([...words, sub]);
};
walk([]);

// roff: escape backslashes and leading dots or quotes; help text goes in no-fill blocks.
const esc = (line) => line.replace(/\\/g, '\\e').replace(/^([.'])/, '\\&$1');
const lines = [
  `.TH KUBEPKI 1 "" "kubepki ${version}" "User Commands"`,
  '.SH NAME',
  'kubepki \\- the PKI of a Kubernetes control plane, from one cluster description',
  '.SH SYNOPSIS',
  '.B kubepki',
  '.I command',
  '[\\fIoptions\\fR]',
  '.SH DESCRIPTION',
  'kubepki creates the certificates, keys, kubeconfigs, flag files and systemd units of a Kubernetes control plane',
  'at the paths kubeadm uses, checks their expiry, renews, reconciles and rotates them.',
  'Each command below is shown with its own help (the same text as \\fBkubepki\\fR \\fIcommand\\fR \\fB\\-\\-help\\fR).',
];
for (const { words, text } of pages) {
  lines.push(words.length ? `.SH "KUBEPKI ${words.join(' ').toUpperCase()}"` : '.SH OVERVIEW', '.nf', ...text.trimEnd().split('\n').map(esc), '.fi');
}
lines.push(
  '.SH FILES',
  '.TP', '.I /etc/kubernetes/pki', 'certificates and keys (kubeadm\'s layout)',
  '.TP', '.I /usr/share/kubepki/templates', 'the systemd unit templates',
  '.TP', '.I /usr/share/kubepki/examples', 'example cluster descriptions',
  '.SH "EXIT STATUS"',
  '0 on success; 1 on an error; 2 on a command-line error; check-expiration: 3 (warn) and 4 (fail).',
);
process.stdout.write(`${lines.join('\n')}\n`);
