"""The fact kinds rules can apply to, and the fields each offers (what `fact.<field>` can name).

This registry is the contract between fact extractors and rules: a rule naming an unknown kind
or field is a configuration error at load time, and `docs/facts.md` is generated from it.
"""

from __future__ import annotations

from types import MappingProxyType

_MODULE_DIR = "directory of the Terraform module the file belongs to"
_IMAGE = {
    "image": "the image reference as written (after ARG substitution for Dockerfiles)",
    "registry": "registry host, docker.io for Docker Hub",
    "repository": "repository path without registry (library/nginx)",
    "name": "registry/repository, the full name without tag or digest",
    "tag": "tag, or null",
    "digest": "digest (sha256:...), or null",
    "image_valid": "the reference parsed as a valid image reference",
    "templated": "the reference holds a template or variable ($VAR, {{ }})",
}
_TEMPLATED_FIELDS = (
    "fields of this fact that a Go/Helm template action (`{{ }}` in a manifest that parses as "
    "YAML) stands for: not statically known, null (or partial) here"
)

KINDS: MappingProxyType[str, MappingProxyType[str, str]] = MappingProxyType(
    {
        k: MappingProxyType(v)
        for k, v in {
            "tf.required_provider": {
                "name": "local name in required_providers",
                "source": "normalised source address (namespace/type, or host/namespace/type)",
                "hostname": "registry host",
                "namespace": "provider namespace",
                "type": "provider type",
                "source_declared": "false when the source is implied (hashicorp/<name>)",
                "version": "version constraint, or null",
                "module_dir": _MODULE_DIR,
            },
            "tf.required_version": {
                "constraint": "terraform required_version constraint (null if not a literal)",
                "constraint_raw": "the expression as written",
                "module_dir": _MODULE_DIR,
            },
            "tf.backend": {
                "type": "backend type (s3, gcs, azurerm, remote...; cloud for HCP Terraform)",
                "module_dir": _MODULE_DIR,
            },
            "tf.module_call": {
                "name": "module block label",
                "address": "module.<name>",
                "source": "source address (null if not a literal)",
                "source_raw": "source as written",
                "source_type": "registry, git, local, http, s3, gcs, hg, other or unknown",
                "module": "registry module (ns/name/provider) or Git repository (host/org/repo)",
                "registry": "registry host for registry modules",
                "namespace": "registry namespace",
                "module_name": "registry module name",
                "target_system": "registry module provider (aws, google...)",
                "git_repo": "host/org/repo for Git sources",
                "git_ref": "?ref= of Git sources",
                "version": "version constraint (registry modules), or null",
                "has_version": "a version argument is present (literal or not)",
                "providers": "the providers map: child's provider address (aws, aws.us) to the "
                "caller's, as written; null when absent",
                "module_dir": _MODULE_DIR,
            },
            "tf.resource": {
                "type": "resource type",
                "name": "resource name",
                "address": "type.name",
                "provider": "provider prefix of the type (aws for aws_s3_bucket)",
                "provider_ref": "the provider meta-argument as written, or null",
                "has_tags": "a tags attribute is present",
                "tags_known": "tags is a static map",
                "tags": "static tags map, or null",
                "labels_known": "labels is a static map",
                "labels": "static labels map, or null",
                "tags_declared": "the resource sets its tag attribute (tags, or labels)",
                "tag_attribute": "the attribute that tags this resource: labels for google, "
                "tags otherwise",
                "resource_tags": "the resource's own tags (labels for google) that are statically "
                "known: the whole map, or the literal objects of a merge(); {} when absent",
                "resource_tags_known": "resource_tags is all of the resource's own tags",
                "provider_config": "target of the provider configuration the resource uses, in "
                "its module directory or passed down by local callers; null when not in the scan",
                "default_tags": "that configuration's statically known default tags (aws "
                "default_tags, google default_labels), or null when it is not in the scan",
                "default_tags_known": "default_tags is all of the configuration's default tags",
                "effective_tags": "tags certainly applied (to every instance, for a module "
                "called several times): default_tags overlaid with resource_tags; a value not "
                "statically known is null",
                "effective_tags_known": "effective_tags is exactly the set applied",
                "module_dir": _MODULE_DIR,
            },
            "tf.provider": {
                "name": "provider local name",
                "alias": "alias, or null",
                "default_tags": "statically known default tags (aws default_tags, google "
                "default_labels; a merge()'s literal objects count); {} when none are set",
                "default_tags_known": "default_tags is all of them",
                "module_dir": _MODULE_DIR,
            },
            "gha.workflow": {
                "name": "workflow name",
                "path": "workflow file",
                "triggers": "event names under on:",
                "permissions": "top-level permissions (string or map), or null",
                "permissions_declared": "a top-level permissions key is present",
            },
            "gha.job": {
                "id": "job id",
                "name": "job name, or null (absent or holding an expression)",
                "workflow": "workflow file",
                "triggers": "event names under the workflow's on:",
                "runs_on": "runner labels (null when an expression)",
                "runs_on_raw": "runs-on as written",
                "runs_on_group": "runner group of runs-on: {group: ...}, or null",
                "permissions": "job permissions, or null",
                "permissions_declared": "the job declares permissions",
                "environment": "deployment environment name, or null (absent or an expression)",
                "environment_declared": "the job targets an environment (name static or not)",
                "uses": "reusable workflow reference, or null",
                "reusable": "the reusable workflow reference split like a step's uses, or null",
            },
            "gha.permissions": {
                "level": "workflow (top-level, observed even when absent) or job (when declared)",
                "workflow": "workflow file",
                "job": "job id, or null at workflow level",
                "declared": "a permissions key is present",
                "permissions": "the value as written (read-all, write-all, a scope map), or null",
                "write_scopes": "scopes granted write, sorted (['*'] for write-all), or null "
                "when not declared or not a valid value",
                "triggers": "event names under the workflow's on:",
                "jobs_inheriting": "at workflow level: the jobs without permissions of their "
                "own, sorted (the top level applies to them); [] for a job",
            },
            "gha.step_uses": {
                "uses": "the uses value as written",
                "kind": "action, reusable-workflow, docker or local",
                "owner": "owner of the action repository",
                "repo": "repository name",
                "path": "path inside the repository, or null",
                "action": "owner/repo",
                "ref": "the ref after @",
                "sha_pinned": "ref is a full 40-character commit SHA",
                "ref_comment": "version in a trailing comment after a SHA pin (# v4.1.1), or null",
                "version": "the version the step runs: ref, or ref_comment for SHA pins",
                "dynamic": "uses holds a ${{ }} expression",
                "workflow": "workflow or action file",
                "site": "step (a step's uses) or job (a job's reusable-workflow call)",
                "job": "job id (null in action metadata)",
                "step_index": "0-based step index (null for a job's call)",
                "step_name": "step name, or null",
                "step_id": "step id, or null",
                "with": "with: inputs as written (scalars as text, others null); the span of "
                "each value is under with.<input>",
                "triggers": "event names under the workflow's on: (null in action metadata)",
            },
            "gha.image": {
                "via": "step (uses: docker://IMAGE), container (a job's container:), service "
                "(a job's services:) or action (a Docker action's runs.image: docker://IMAGE)",
                "workflow": "workflow or action file",
                "job": "job id (null in action metadata)",
                "service": "service name (via service), or null",
                "step_index": "0-based step index (via step), or null",
                "step_name": "step name, or null",
                **_IMAGE,
            },
            "gha.action": {
                "name": "action name",
                "using": "runs.using (composite, node20, docker)",
                "image": "runs.image for Docker actions, or null",
            },
            "k8s.object": {
                "api_version": "apiVersion",
                "kind": "kind",
                "name": "metadata.name",
                "namespace": "metadata.namespace, or null",
                "labels": "metadata.labels",
            },
            "k8s.workload": {
                "api_version": "apiVersion",
                "kind": "kind (Deployment, StatefulSet, DaemonSet, Job, CronJob, Pod...)",
                "name": "metadata.name",
                "namespace": "metadata.namespace, or null",
                "labels": "metadata.labels",
                "pod_labels": "pod template labels",
                "all_labels": "pod template labels overlaid with metadata.labels",
                "labels_declared": "metadata has a labels key",
                "templated_fields": _TEMPLATED_FIELDS + " (labels, pod_labels, all_labels)",
            },
            "k8s.container": {
                "workload_kind": "kind of the owning workload",
                "workload_name": "name of the owning workload",
                "namespace": "namespace, or null",
                "container": "container name",
                "init": "an init container",
                "ephemeral": "an ephemeral (debug) container",
                "labels": "labels of the owning workload and pod template",
                "resources": "resources map (requests, limits), or null",
                "probes": "probes set, of liveness, readiness, startup (a non-empty mapping)",
                "liveness_probe": "a livenessProbe is set (a non-empty mapping)",
                "readiness_probe": "a readinessProbe is set (a non-empty mapping)",
                "security_context": "container securityContext, or null",
                "run_as_non_root": "runAsNonRoot in effect: the container's, else the pod's; "
                "null when neither sets a boolean",
                "run_as_user": "runAsUser in effect: the container's, else the pod's; "
                "null when neither sets an integer",
                "privileged": "securityContext.privileged of the container, or null",
                "allow_privilege_escalation": "securityContext.allowPrivilegeEscalation of the "
                "container, or null (Kubernetes then allows escalation)",
                "restart_policy": "the pod's restartPolicy (Always, OnFailure, Never), or null "
                "(Always)",
                "tag_set_by": "the kustomizations whose images: override sets this "
                "image's tag or digest in every build of its file (each root kustomization in "
                "the scan, through its bases); [] when a build deploys the tag as written",
                "kustomized": "a root kustomization in the scan builds this file (an "
                "images: entry may match the image by name)",
                "probes_by_operator": "the custom resource's operator gives this container "
                "liveness and readiness probes (the first container of a kind marked "
                "operator_probes in kubernetes.pod_templates)",
                "runs_to_completion": "the pod runs to completion: a Job's or CronJob's, or a "
                "batch custom resource's (completes: true in kubernetes.pod_templates)",
                "pod_resources": "pod-level resources (spec.resources), or null",
                "pod_os": "the pod's spec.os.name (linux, windows), or null",
                "pod_security_context": "pod-level securityContext, or null",
                "patch": "the container is in a file a kustomization applies as a patch, or "
                "in a patch written inside the kustomization: what it sets is deployed (its "
                "image and the security settings it writes are judged), what it leaves out "
                "is the base's (completeness rules skip it)",
                "templated_fields": _TEMPLATED_FIELDS + " (resources, pod_resources, "
                "security_context, pod_security_context, run_as_non_root, run_as_user, "
                "privileged, allow_privilege_escalation); a templated image sets templated. "
                "In a patch, the security settings it does not write are listed too (the "
                "base's, not known here)",
                **_IMAGE,
            },
            "k8s.kustomization": {
                "resources": "resources listed",
                "images": "image overrides",
                "added_labels": "labels the kustomization puts on every object it builds "
                "(commonLabels, and the pairs of each labels: entry); K8S002 counts them on "
                "the workloads every build of a file passes through",
                "patches": "files applied as patches (their objects are not judged as "
                "workloads; their containers are judged with patch: true)",
                "local_paths": "repository paths of the local files and directories it reads "
                "(resources, bases, components, generators, transformers, validators, "
                "patches), sorted; a listed file whose name is not YAML's is scanned as YAML "
                "all the same",
            },
            "k8s.kustomize_image": {
                "via": "images (an entry of a kustomization's images:), transformer (the "
                "imageTag of an ImageTagTransformer configuration) or patch (a JSON 6902 patch "
                "operation, in a file or inline, that adds or replaces an image)",
                "original": "name: the image name the override replaces, or null",
                "new_name": "newName, or null (the name is kept)",
                "new_tag": "newTag, or null",
                **_IMAGE,
                "image": "the image the override deploys: newName (else name), :newTag and "
                "@digest when set (without either, the base's tag is kept)",
            },
            "k8s.kustomize_resource": {
                "resource": "the entry as written (helmCharts: repo/name)",
                "field": "the kustomization key: resources, bases, components, generators, "
                "transformers, validators or helmCharts; patches, patchesStrategicMerge or "
                "patchesJson6902 for a remote patch (local patches give no fact)",
                "remote": "fetched from elsewhere: a URL, a Git address (git@host:org/repo, "
                "git::...), host.tld/org/repo[//path][?ref=...], or a chart repository",
                "host": "host of a remote entry (lower-case), or null",
                "local_path": "repository path of a local entry, or null (remote, absolute, or "
                "outside the repository)",
            },
            "docker.from": {
                "via": "how the build uses the image: from (FROM), syntax (the `# syntax=` "
                "frontend BuildKit runs the build with), copy-from (COPY --from=IMAGE), "
                "mount-from (RUN --mount=...,from=IMAGE), onbuild-copy-from or "
                "onbuild-mount-from (the same as ONBUILD triggers); stage names and indexes "
                "in --from are not images and give no fact",
                "image_raw": "the image as written, before quote removal and ARG substitution",
                "platform": "--platform value, or null",
                "alias": "stage name (AS ...) of the stage, or null",
                "stage_index": "0-based index of the stage (FROM) or of the stage the "
                "instruction is in; null for the syntax frontend",
                "final_stage": "that stage is the last of the file",
                "stage_ref": "FROM names an earlier stage",
                "scratch": "FROM scratch",
                "unresolved": "a build argument without a known value remains (declared "
                "without a default, or a platform argument such as TARGETARCH); registry, "
                "repository and name are still set when only the tag or digest holds one "
                "and no value could change the name (registry.example/app:${TAG}@${SHA})",
                **_IMAGE,
            },
            "tether.exception": {
                "rule": "the rule id or pack the exception is for",
                "origin": "repo (.tether/exceptions.yaml), central (registry) or inline (comment)",
                "justification": "the recorded reason",
                "justified": "the reason is more than a placeholder (a few words, not n/a or todo)",
                "accountable": "an owner and an approver or ticket are recorded (inline: always)",
                "owner": "owner, or null",
                "expires": "expiry date (ISO), or null",
                "expired": "the expiry date has passed",
                "days_expired": "days since expiry (0 when not expired)",
                "duration_days": "days from created (or today) to expiry, or null without expiry",
                "max_days": "the longest exception the rule or baseline allows, or null",
                "local_allowed": "the record's home is allowed for every rule it names",
                "matched": "how many findings the record matched in this scan",
                "rules": "the rule ids the record names (a pack expands to its rules)",
                "central_only_rules": "rules it names that only the central registry may except, "
                "comma-separated (empty when none)",
                "created_in_future": "the created date lies after today (duration counts from "
                "today)",
                "approval_checked": "the policy lists approvers or a ticket pattern (not for "
                "inline comments, approved by the review that merged them)",
                "approval_ok": "approved_by names a policy approver, or the ticket matches the "
                "policy's pattern (true when not checked)",
                "approved_by": "approver as recorded, or null",
                "ticket": "ticket as recorded, or null",
                "scope": "the record's scope in words (path, target, subject, repo)",
                "requested": "PR mode: the change adds or edits this record (or inline comment)",
                "self_service": "the policy lets a change record this exception itself",
            },
            "tether.config": {
                "key": "the .tether.yaml key (exclude, baseline, fail_on, rules)",
                "value": "its value, shortened",
                "allowed": "the policy lets the repository set it (else it is ignored)",
                "reason": "why the policy refuses it, or empty",
                "changed": "PR mode: the change sets or edits the key in a way that can loosen "
                "the gate",
                "self_service": "the policy lets a change edit this key without review",
            },
            "repo.tool": {
                "tool": "pulumi, cdk, cloudformation, sam, serverless, gitlab-ci, jenkins, "
                "travis-ci, azure-pipelines, bitbucket-pipelines, codeowners, backstage",
                "tool_kind": "iac, ci or ownership",
                "path": "the file that shows the tool",
                "found": "what the file is, with the content that shows the tool (an IaC "
                "project needs the fields its tool requires: 'a Serverless Framework service "
                "(service, provider)'); CI and ownership files are known by name",
            },
            # repository pack (scanner/facts/repository.py)
            "repo.summary": {
                "files": "every file of the scan, sorted (names only; excluded paths and "
                "symbolic links that leave the repository or dangle are absent)",
                "has_codeowners": "a CODEOWNERS file GitHub reads (.github/, root, docs/)",
                "codeowners_path": "the CODEOWNERS GitHub uses (first of .github/, root, "
                "docs/), or null",
                "codeowners_rules": "lines of it that assign an owner (0 without CODEOWNERS; "
                "null when unreadable)",
                "catalog_path": "catalog-info.yaml (or .yml) at the root, or null",
                "catalog_owner": "spec.owner of its first entity that declares one, or null",
            },
            "repo.template": {
                "template": "golden template named by the `# tether-template: <name>@<version>` "
                "comment (owner/repo/name)",
                "version": "template version the workflow was derived from, or null",
                "marker": "the marker as written",
                "workflow": "workflow file",
                "actions": "what the workflow's steps use, without ref (owner/repo[/path]), "
                "sorted and unique",
            },
            # ai-gateway pack (scanner/facts/env.py)
            "env.var": {
                "name": "variable name",
                "value": "literal value; null unless a literal that neither the name nor the "
                "value marks as a credential",
                "value_kind": "literal, secret-ref (secretKeyRef, ${{ secrets.X }}), config-ref "
                "(configMapKeyRef, ${{ vars.X }}), expression (anything computed), empty (no "
                "value) or placeholder (REPLACE_ME, <key>, X_VAL: filled in at deploy time)",
                "withheld": "a literal value exists but is not recorded (credential-like)",
                "host": "host a literal value names (URL or host[:port]), lower-case, or null "
                "(always null for credential-like names)",
                "secret_name": "secret referenced (Kubernetes Secret or Actions secret), or null",
                "secret_key": "key within the Kubernetes Secret, or null",
                "source": "k8s, gha or dockerfile",
                "owner": "target of what sets it (Deployment/ns/web/app, jobs.build, "
                "build/steps[2], workflow, stage[runtime])",
                "owner_kind": "container, workflow, job, step, service or stage",
                "labels": "labels of the owning workload and pod template (k8s), else null",
            },
            "env.workload": {
                "kind": "workload kind",
                "name": "metadata.name",
                "namespace": "metadata.namespace, or null",
                "labels": "pod template labels overlaid with metadata.labels",
                "labels_declared": "metadata has a labels key",
                "annotations": "pod template annotations overlaid with metadata.annotations",
                "containers": "container names (init and ephemeral containers included)",
                "env_names": "names of the env variables its containers set, sorted",
                "env_hosts": "hosts the containers' literal env values name, sorted",
                "templated_fields": _TEMPLATED_FIELDS + " (labels, annotations)",
            },
        }.items()
    }
)
