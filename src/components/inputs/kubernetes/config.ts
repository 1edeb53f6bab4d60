// Options of the `kubernetes` input: the `file` input's tailing options with DaemonSet defaults,
// plus the container log formats, partial-line joining, multiline records (the shared engine's
// option), namespace/pod selection and API metadata.

import { z } from 'zod';
import { duration, size } from '../../../core/units.js';
import { multilineOptions } from '../../_shared/multiline/index.js';
import { options as fileOptions } from '../file/config.js';

export const DEFAULT_PATHS = ['/var/log/pods/*/*/*.log'];
export const DEFAULT_TAG =
  'kube.{kubernetes.namespace_name}.{kubernetes.pod_name}.{kubernetes.container_name}';

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

const annotationChoice = z.union([z.boolean(), z.array(z.string().min(1))]).default(false);

const metadata = z
  .strictObject({
    enabled: z
      .boolean()
      .default(false)
      .describe(
        'Enrich records from the Kubernetes API (labels, annotations, host, owner, container_image): one watch of the pods on this node.',
      ),
    node_name: z
      .string()
      .min(1)
      .optional()
      .describe(
        'Node whose pods are watched (fieldSelector=spec.nodeName). Default: $NODE_NAME (set it from spec.nodeName with the downward API).',
      ),
    api_server: z
      .string()
      .optional()
      .describe(
        'API server URL. Default: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT (in-cluster), or the server of `kubeconfig`.',
      ),
    kubeconfig: z
      .string()
      .optional()
      .describe(
        'A kubeconfig file (current context: server, certificate-authority(-data), token or tokenFile) instead of the in-cluster service account.',
      ),
    token_file: z
      .string()
      .default(`${SA_DIR}/token`)
      .describe('Bearer token file (re-read on every request: projected tokens rotate).'),
    ca_file: z
      .string()
      .default(`${SA_DIR}/ca.crt`)
      .describe('CA bundle that signs the API server certificate.'),
    insecure_skip_verify: z
      .boolean()
      .default(false)
      .describe('Do not verify the API server certificate (testing only).'),
    labels: z.boolean().default(true).describe('Add `kubernetes.labels`.'),
    annotations: annotationChoice.describe(
      'Add `kubernetes.annotations`: false (the default), true (all), or a list of the annotation keys to add. `kubectl.kubernetes.io/last-applied-configuration` is never added.',
    ),
    namespace_labels: z
      .boolean()
      .default(true)
      .describe(
        "Add the pod's namespace labels as `kubernetes.namespace_labels` (one watch of namespaces; needs get/list/watch on namespaces).",
      ),
    namespace_annotations: annotationChoice.describe(
      'Add namespace annotations as `kubernetes.namespace_annotations`: false (the default), true, or a list of keys (same rules as annotations).',
    ),
    stream_labels: z
      .array(z.string().min(1))
      .default([])
      .describe(
        'Pod label keys promoted to Loki stream labels (`record.labels`), named by their key with characters outside `[a-zA-Z0-9_]` replaced by `_` (`app.kubernetes.io/name` → `app_kubernetes_io_name`). Only these: pod labels are unbounded.',
      ),
    max_pods: z
      .number()
      .int()
      .min(1)
      .default(500)
      .describe(
        'Pods kept in the metadata cache; beyond it deleted pods go first, then the oldest whose files are not being read.',
      ),
    max_namespaces: z
      .number()
      .int()
      .min(1)
      .default(1000)
      .describe('Namespaces kept in the metadata cache (oldest dropped first).'),
    max_metadata_bytes: size(
      "Cap of one file's API metadata (its JSON): over it, annotations, then namespace annotations, labels, namespace labels are left out and `kubernetes.metadata_truncated: true` is set.",
    ).prefault('8KiB'),
    watch_timeout: duration(
      'The server ends each watch after this long (timeoutSeconds); it is resumed from the last resourceVersion.',
    ).prefault('5m'),
    initial_wait: duration(
      'At start, wait this long for the first pod list before reading files (so excluded pods are known).',
    ).prefault('5s'),
    deleted_grace: duration(
      'Metadata of a deleted pod is kept at least this long, and while files of the pod are still being read.',
    ).prefault('5m'),
    request_timeout: duration(
      'Timeout of a list request (and of connecting for a watch).',
    ).prefault('30s'),
  })
  .describe('Pod metadata from the Kubernetes API.');

export const options = fileOptions.omit({ multiline: true, encoding: true, paths: true }).extend({
  paths: z
    .array(z.string().min(1))
    .min(1)
    .default(DEFAULT_PATHS)
    .describe(
      'Container log files: `<dir>/<namespace>_<pod>_<uid>/<container>/<restart>.log` (kubelet layout). Rotated `0.log.<timestamp>` files are drained through their open descriptor, never matched.',
    ),
  include_namespaces: z
    .array(z.string().min(1))
    .default([])
    .describe('Only these namespaces (empty: all).'),
  exclude_namespaces: z
    .array(z.string().min(1))
    .default([])
    .describe('Skip these namespaces (their files are not opened).'),
  exclude_own_pod: z
    .boolean()
    .default(true)
    .describe("Skip shiplog's own pod ($POD_NAMESPACE/$POD_NAME): its logs would loop."),
  exclude_annotation: z
    .string()
    .default('shiplog.io/exclude')
    .describe(
      'Pods annotated with this key = "true" are skipped (needs metadata.enabled), in the namespaces of exclude_annotation_namespaces only.',
    ),
  exclude_annotation_namespaces: z
    .array(z.string().min(1))
    .default([])
    .describe(
      'Namespaces whose pods may opt out of collection with exclude_annotation (`"*"`: all). Empty (the default): the annotation is ignored, since any pod could hide its logs with it.',
    ),
  max_merged_bytes: size(
    'A partial line (CRI P chunks, docker 16 KiB splits) is joined up to this size, then emitted in pieces flagged `truncated: true`.',
  ).prefault('1MiB'),
  partial_timeout: duration(
    'A partial line that no final chunk completed for this long is emitted as it is.',
  ).prefault('5s'),
  multiline: multilineOptions
    .optional()
    .describe(
      "Join the lines of a stack trace into one record, per container file and stream (stdout and stderr never mix), after partial lines are joined: the same option as the file input's `multiline` (built-in `parsers` or start_pattern/continue_pattern).",
    ),
  metadata: metadata.prefault({}),
});

export type KubernetesInputConfig = z.output<typeof options>;
export type MetadataConfig = KubernetesInputConfig['metadata'];
