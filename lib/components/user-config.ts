/**
 * What the user adds to the components (extraArgs, kubeletExtraArgs, the
 * KubeletConfiguration document), checked against what kubepki secures: a
 * value the hardening rules refuse, or a file flag pointed away from the file
 * kubepki made, is an error naming the field, unless allowInsecure names it.
 * Everything else is passed through (flags.ts) and shown in the plan.
 */
import type { ClusterSpec, UserArg, UserComponent } from '../config/spec.js';
import { UserError } from '../errors.js';
import { judgeSetting, ruleName, rulesFor, RULES, settingText } from './hardening.js';
import { auditPolicyPath, consumedFiles, envVariable, kubeletConfigPath } from './flags.js';
import { parseCidr } from '../net.js';
import { AUDIT_POLICY, KUBELET_CONFIG } from '../pki/catalog.js';

/** The kubelet's file flags and the configuration fields they stand for. */
const KUBELET_FILE_FLAGS: Record<string, string> = {
  'client-ca-file': 'authentication.x509.clientCAFile',
  'tls-cert-file': 'tlsCertFile',
  'tls-private-key-file': 'tlsPrivateKeyFile',
};

/** The files kubepki's flags and kubelet settings name, by component and flag (or setting). */
function ownedFiles(spec: ClusterSpec): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of consumedFiles(spec)) {
    const key = f.consumer.flag ? `${f.consumer.component} ${f.consumer.flag.replace(/^--/, '')}` : `${f.consumer.component} setting ${f.consumer.setting}`;
    out.set(key, f.path);
  }
  // The kubelet's flags that name the same files as its settings (a flag wins over the configuration).
  for (const [flag, setting] of Object.entries(KUBELET_FILE_FLAGS)) {
    const file = out.get(`kubelet setting ${setting}`);
    if (file !== undefined) out.set(`kubelet ${flag}`, file);
  }
  out.set(`kubelet ${KUBELET_CONFIG.flag!.slice(2)}`, kubeletConfigPath(spec));
  out.set(`kube-apiserver ${AUDIT_POLICY.flag!.slice(2)}`, auditPolicyPath(spec));
  return out;
}

const advice = (name: string) => `to accept it anyway, add "${name}" to allowInsecure (--allow-insecure ${name})`;

/**
 * The user's KubeletConfiguration values that break a rule or point a file
 * setting away from kubepki's file: the complaint (after the value), and
 * whether allowInsecure accepts it (by the setting, or the flag of its rule).
 */
function kubeletSettingVerdicts(spec: ClusterSpec, owned: ReadonlyMap<string, string>): { setting: string; value: string; complaint: string; allowed: boolean }[] {
  const { kubeletConfig, allowInsecure } = spec.components;
  const out: { setting: string; value: string; complaint: string; allowed: boolean }[] = [];
  for (const r of RULES) {
    if (r.component !== 'kubelet' || !r.setting) continue;
    const value = settingText(kubeletConfig, r.setting);
    const complaint = value === undefined ? undefined : judgeSetting(r, kubeletConfig);
    if (complaint) out.push({ setting: r.setting, value: value!, complaint: ` ${complaint}: ${r.title} (${ruleName(r)})`, allowed: allowInsecure.includes(r.setting) || allowInsecure.includes(r.flag) });
  }
  for (const [key, file] of owned) {
    const m = /^kubelet setting (.+)$/.exec(key);
    const value = m ? settingText(kubeletConfig, m[1]!) : undefined;
    if (value !== undefined && value !== file) {
      out.push({ setting: m![1]!, value, complaint: `: the kubelet's ${m![1]} is ${file}, the file kubepki makes and checks`, allowed: allowInsecure.includes(m![1]!) });
    }
  }
  return out;
}

/** Every problem with the user's component settings; none when they weaken nothing (or allowInsecure accepts it). */
export function userSettingProblems(spec: ClusterSpec): string[] {
  const { args, envs, kubeletConfig, kubeletConfigOrigin, allowInsecure } = spec.components;
  // Nothing of the user's: nothing to check (every command resolves a description; most have none of this).
  if (!Object.keys(args).length && !Object.keys(envs).length && !Object.keys(kubeletConfig).length) return [];
  const allowed = new Set(allowInsecure);
  const owned = ownedFiles(spec);
  const problems: string[] = [];
  for (const [component, list] of Object.entries(args) as [UserComponent, UserArg[]][]) {
    for (const a of list) {
      if (allowed.has(a.name)) continue;
      const file = owned.get(`${component} ${a.name}`);
      if (file !== undefined && a.value !== file) {
        problems.push(`${a.field}: ${a.name}=${a.value}: ${component}'s --${a.name} is ${file}, the file kubepki makes and checks; ${advice(a.name)}`);
        continue;
      }
      for (const r of rulesFor(component, a.name)) {
        const complaint = r.judge(a.value);
        if (complaint) problems.push(`${a.field}: ${a.name}=${a.value} ${complaint}: ${r.title} (${ruleName(r)}); ${advice(a.name)}`);
      }
    }
  }
  for (const v of kubeletSettingVerdicts(spec, owned)) {
    if (!v.allowed) problems.push(`${kubeletConfigOrigin}.${v.setting}: ${v.value}${v.complaint}; ${advice(v.setting)}`);
  }
  // An environment variable of a component must not be the one that carries its flags: it would replace them all.
  for (const [component, list] of Object.entries(spec.components.envs) as [UserComponent, UserArg[]][]) {
    for (const e of list) {
      if (e.name === envVariable(component)) problems.push(`${e.field}: ${e.name} is the variable that carries ${component}'s flags: it would replace every flag kubepki writes; give the flags as extraArgs`);
    }
  }
  problems.push(...podNetworkProblems(spec));
  return problems;
}

/**
 * The controller-manager's node CIDR mask must fit in the pod network: a mask
 * shorter than the network's prefix stops it at start (kubeadm's own example
 * has node-cidr-mask-size 20 with a /24).
 */
function podNetworkProblems(spec: ClusterSpec): string[] {
  const problems: string[] = [];
  for (const a of spec.components.args['kube-controller-manager'] ?? []) {
    const m = /^node-cidr-mask-size(-ipv4|-ipv6)?$/.exec(a.name);
    if (!m || !/^\d+$/.test(a.value)) continue;
    const family = m[1] === '-ipv6' ? 6 : 4;
    const net = spec.podSubnets.map((c) => parseCidr(c)!).find((c) => c.family === family || (!m[1] && spec.podSubnets.length === 1));
    if (net && Number(a.value) < net.prefix) {
      problems.push(`${a.field}: ${a.name}=${a.value} is shorter than the pod network ${net.text}'s /${net.prefix}: kube-controller-manager would refuse to start; give a mask of ${net.prefix} or more, or a larger podSubnet`);
    }
  }
  return problems;
}

/** The kubelet settings the user gave that allowInsecure accepts though they weaken what kubepki secures (the plan warns of them). */
export function acceptedKubeletSettings(spec: ClusterSpec): string[] {
  if (!Object.keys(spec.components.kubeletConfig).length) return [];
  return [...new Set(kubeletSettingVerdicts(spec, ownedFiles(spec)).filter((v) => v.allowed).map((v) => `${v.setting}=${v.value}`))];
}

/** Refuse a description whose component settings weaken what kubepki secures. */
export function checkUserSettings(spec: ClusterSpec): void {
  const problems = userSettingProblems(spec);
  if (!problems.length) return;
  throw new UserError(problems.length === 1 ? problems[0]! : `${problems.length} of the description's component settings weaken what kubepki secures or cannot work:`, {
    details: problems.length === 1 ? [] : problems,
  });
}
