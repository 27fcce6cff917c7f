/**
 * The RBAC objects kubeadm creates for kubelet TLS bootstrap (phases/
 * bootstraptoken/node/tlsbootstrap.go) and for its admin group: bootstrap
 * tokens may create CSRs, their first node-client CSR is approved
 * automatically, and so are the nodes' renewals.
 */
import { KUBECONFIGS, NODE_IDENTITY } from '../pki/catalog.js';
import { DEFAULT_GROUP } from './token.js';

/** The group of admin.conf's identity, bound to cluster-admin (kubeadm >= 1.29). */
const ADMIN_GROUP = KUBECONFIGS.find((k) => k.name === 'admin.conf')!.subject({} as never).o![0]!;

const binding = (name: string, role: string, subject: { kind: 'Group'; name: string }) => ({
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind: 'ClusterRoleBinding',
  metadata: { name },
  roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
  subjects: [{ apiGroup: 'rbac.authorization.k8s.io', ...subject }],
});

export function bootstrapRbac(group: string = DEFAULT_GROUP): Record<string, unknown>[] {
  const bootstrappers = { kind: 'Group' as const, name: group };
  return [
    binding('kubeadm:kubelet-bootstrap', 'system:node-bootstrapper', bootstrappers),
    binding('kubeadm:node-autoapprove-bootstrap', 'system:certificates.k8s.io:certificatesigningrequests:nodeclient', bootstrappers),
    binding('kubeadm:node-autoapprove-certificate-rotation', 'system:certificates.k8s.io:certificatesigningrequests:selfnodeclient', { kind: 'Group', name: NODE_IDENTITY.group }),
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'kubeadm:get-nodes' },
      rules: [{ apiGroups: [''], resources: ['nodes'], verbs: ['get'] }],
    },
    binding('kubeadm:get-nodes', 'kubeadm:get-nodes', bootstrappers),
    binding('kubeadm:cluster-admins', 'cluster-admin', { kind: 'Group', name: ADMIN_GROUP }),
  ];
}
