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
                "module_dir": _MODULE_DIR,
            },
            "tf.provider": {
                "name": "provider local name",
                "alias": "alias, or null",
                "default_tags": "static default_tags map, or null",
                "default_tags_known": "default_tags is a static map",
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
                "workflow": "workflow file",
                "runs_on": "runner labels (null when an expression)",
                "runs_on_raw": "runs-on as written",
                "runs_on_group": "runner group of runs-on: {group: ...}, or null",
                "permissions": "job permissions, or null",
                "permissions_declared": "the job declares permissions",
                "environment": "deployment environment name, or null",
                "uses": "reusable workflow reference, or null",
                "reusable": "the reusable workflow reference split like a step's uses, or null",
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
                "job": "job id (null in action metadata)",
                "step_index": "0-based step index",
                "step_name": "step name, or null",
                "step_id": "step id, or null",
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
                "liveness_probe": "a livenessProbe is set",
                "readiness_probe": "a readinessProbe is set",
                "security_context": "container securityContext, or null",
                **_IMAGE,
            },
            "k8s.kustomization": {
                "resources": "resources listed",
                "images": "image overrides",
            },
            "docker.from": {
                "image_raw": "the image as written, before ARG substitution",
                "platform": "--platform value, or null",
                "alias": "stage name (AS ...), or null",
                "stage_index": "0-based stage index",
                "final_stage": "the last stage of the file",
                "stage_ref": "FROM names an earlier stage",
                "scratch": "FROM scratch",
                "unresolved": "a build argument without a literal default remains",
                **_IMAGE,
            },
            "repo.tool": {
                "tool": "pulumi, cdk, cloudformation, sam, serverless, gitlab-ci, jenkins, "
                "travis-ci, azure-pipelines, bitbucket-pipelines, codeowners, backstage",
                "tool_kind": "iac, ci or ownership",
                "path": "the file that shows the tool",
            },
        }.items()
    }
)
