#!/usr/bin/env python3
"""Deterministic generator of a realistic, public-module-sized Terraform corpus.

The corpus is modelled on the shape of large community modules such as
terraform-aws-modules/terraform-aws-eks and terraform-aws-vpc: a root module, a few
submodules under ``modules/`` and a couple of ``examples/`` that call the root module
together with registry and git modules.  All text is produced by this script from its own
templates and word lists; nothing is copied from any public module.

The constructs exercised are the ones that make real modules slow or tricky to parse:
``variable`` blocks with ``object({...})`` types, ``optional()``, defaults and ``validation``
blocks; resources with ``count``/``for_each``; nested ``dynamic`` blocks; ``<<-EOT`` heredocs
holding ``${}`` interpolations and ``%{ if }``/``%{ for }`` directives; ``for`` expressions
(list and map, with ``if`` filters and ``...`` grouping); conditionals; ``locals`` with
``merge``/``lookup``/``try``; data sources; outputs; a ``terraform`` block with
``required_providers``; provider blocks with ``default_tags``; module calls with local,
registry and git sources.

Usage::

    python bench/gen_terraform.py OUTDIR [--kb 400] [--seed 20240611]

The output depends only on ``--kb`` and ``--seed``: the same arguments always produce
byte-identical files.  OUTDIR is created if needed; ``.tf`` files already in it are removed
first so that a smaller corpus never inherits files from a larger one.
"""

# The HCL templates below keep the line lengths real modules have (well past 100 columns).
# ruff: noqa: E501
from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_SEED = 20240611
DEFAULT_KB = 400

BANNER = "#" * 80

# --------------------------------------------------------------------------------------
# Word lists
# --------------------------------------------------------------------------------------

NOUNS = [
    "audit",
    "billing",
    "cache",
    "catalog",
    "checkout",
    "compute",
    "data",
    "edge",
    "events",
    "gateway",
    "identity",
    "ingest",
    "inventory",
    "ledger",
    "logs",
    "metrics",
    "orders",
    "payments",
    "platform",
    "queue",
    "reports",
    "search",
    "session",
    "storage",
    "stream",
    "telemetry",
    "tenant",
    "tracing",
    "users",
    "workers",
    "archive",
    "backup",
    "batch",
    "control",
    "export",
    "import",
    "jobs",
    "media",
    "notify",
    "profile",
    "render",
    "scoring",
]
QUALIFIERS = [
    "primary",
    "secondary",
    "internal",
    "public",
    "shared",
    "core",
    "blue",
    "green",
    "canary",
    "spot",
    "gpu",
    "arm",
    "system",
    "batch",
    "critical",
    "regional",
    "global",
    "legacy",
]
INSTANCE_TYPES = [
    "m6i.large",
    "m6i.xlarge",
    "m7g.large",
    "m7g.xlarge",
    "c6i.2xlarge",
    "c7g.xlarge",
    "r6i.large",
    "r7g.2xlarge",
    "t3.medium",
    "t3a.large",
    "g5.xlarge",
    "inf2.xlarge",
]
AMI_TYPES = [
    "AL2023_x86_64_STANDARD",
    "AL2023_ARM_64_STANDARD",
    "BOTTLEROCKET_x86_64",
    "BOTTLEROCKET_ARM_64",
    "AL2_x86_64",
    "AL2023_x86_64_NVIDIA",
]
REGIONS = ["eu-west-1", "us-east-1", "us-west-2", "ap-southeast-2", "eu-central-1"]
PORTS = [22, 80, 443, 53, 3306, 5432, 6379, 8080, 8443, 9090, 9443, 10250, 2049, 27017]
DESCRIPTIONS = [
    "Controls whether the {thing} is created",
    "Name prefix applied to the {thing} and every resource that belongs to it",
    "Map of additional tags merged onto the {thing}",
    "Configuration object for the {thing}; see the module README for the attributes",
    "List of CIDR blocks that are allowed to reach the {thing}",
    "Number of days log events of the {thing} are retained",
    "ARN of an existing KMS key used to encrypt the {thing}. If null a key is created",
    "Whether the {thing} is reachable from outside the VPC",
    "Additional IAM policy statements attached to the role used by the {thing}",
    "Timeouts applied to create, update and delete operations of the {thing}",
]


# --------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------


def fill(template: str, **values: object) -> str:
    """Replace ``__KEY__`` placeholders (HCL is full of braces and dollars)."""
    out = template
    for key, value in values.items():
        out = out.replace(f"__{key.upper()}__", str(value))
    if "__" in out:
        leftover = [tok for tok in out.split("__")[1::2] if tok.isupper()]
        if leftover:
            raise KeyError(f"unfilled placeholders: {sorted(set(leftover))}")
    return out.lstrip("\n")


def section(title: str) -> str:
    return f"{BANNER}\n# {title}\n{BANNER}\n\n"


def hcl_list(items: list[str]) -> str:
    return "[" + ", ".join(f'"{i}"' for i in items) + "]"


@dataclass
class Module:
    """A Terraform module being generated: file name -> list of text chunks."""

    path: str
    files: dict[str, list[str]] = field(default_factory=dict)
    variables: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    used_names: set[str] = field(default_factory=set)

    def add(self, filename: str, text: str) -> None:
        self.files.setdefault(filename, []).append(text)

    def size(self) -> int:
        return sum(len(chunk.encode()) for chunks in self.files.values() for chunk in chunks)

    def unique(self, rng: random.Random) -> str:
        for _ in range(1000):
            name = f"{rng.choice(NOUNS)}_{rng.choice(QUALIFIERS)}"
            if name not in self.used_names:
                self.used_names.add(name)
                return name
        name = f"component_{len(self.used_names)}"
        self.used_names.add(name)
        return name

    def var(self, text: str, name: str) -> None:
        self.variables.append(name)
        self.add("variables.tf", text)

    def out(self, text: str, name: str) -> None:
        self.outputs.append(name)
        self.add("outputs.tf", text)


def describe(rng: random.Random, thing: str) -> str:
    return rng.choice(DESCRIPTIONS).format(thing=thing.replace("_", " "))


# --------------------------------------------------------------------------------------
# Variable templates
# --------------------------------------------------------------------------------------


def var_simple(rng: random.Random, mod: Module, name: str, thing: str, kind: str) -> None:
    desc = describe(rng, thing)
    if kind == "bool":
        body = f"  type        = bool\n  default     = {rng.choice(['true', 'false'])}\n"
    elif kind == "number":
        days = rng.choice([7, 14, 30, 90, 365])
        body = (
            f"  type        = number\n  default     = {days}\n\n"
            "  validation {\n"
            f"    condition     = var.{name} >= 1 && var.{name} <= 3653\n"
            f'    error_message = "`{name}` must be between 1 and 3653 days."\n'
            "  }\n"
        )
    elif kind == "enum":
        choices = rng.sample(
            ["standard", "intelligent", "provisioned", "on-demand", "burstable", "dedicated"], 3
        )
        body = (
            f'  type        = string\n  default     = "{choices[0]}"\n  nullable    = false\n\n'
            "  validation {\n"
            f"    condition     = contains({hcl_list(choices)}, var.{name})\n"
            f'    error_message = "Valid values for `{name}` are: {", ".join(choices)}."\n'
            "  }\n"
        )
    elif kind == "cidrs":
        body = (
            '  type        = list(string)\n  default     = ["10.0.0.0/8"]\n\n'
            "  validation {\n"
            f"    condition     = alltrue([for c in var.{name} : can(cidrhost(c, 0))])\n"
            f'    error_message = "Every element of `{name}` must be a valid CIDR block."\n'
            "  }\n"
        )
    elif kind == "tags":
        body = "  type        = map(string)\n  default     = {}\n"
    elif kind == "arn":
        body = (
            "  type        = string\n  default     = null\n\n"
            "  validation {\n"
            f'    condition     = var.{name} == null || can(regex("^arn:aws[a-z-]*:", var.{name}))\n'
            f'    error_message = "`{name}` must be an ARN."\n'
            "  }\n"
        )
    else:
        body = '  type        = string\n  default     = ""\n'
    mod.var(f'variable "{name}" {{\n  description = "{desc}"\n{body}}}\n\n', name)


def var_object(rng: random.Random, mod: Module, name: str, thing: str) -> None:
    ports = rng.sample(PORTS, 2)
    text = fill(
        """
variable "__NAME__" {
  description = "__DESC__"
  type = object({
    name            = optional(string)
    use_name_prefix = optional(bool, true)
    description     = optional(string, "Managed by Terraform")
    enabled         = optional(bool, true)
    instance_types  = optional(list(string), ["__ITYPE__"])
    min_size        = optional(number, __MIN__)
    max_size        = optional(number, __MAX__)
    desired_size    = optional(number)
    labels          = optional(map(string), {})
    taints = optional(map(object({
      key    = string
      value  = optional(string)
      effect = string
    })), {})
    ingress_rules = optional(map(object({
      description = optional(string)
      from_port   = number
      to_port     = number
      protocol    = optional(string, "tcp")
      cidr_blocks = optional(list(string), [])
      self        = optional(bool, false)
      })), {
      default = {
        from_port = __P1__
        to_port   = __P1__
      }
      metrics = {
        description = "Metrics scraping"
        from_port   = __P2__
        to_port     = __P2__
      }
    })
    metadata_options = optional(object({
      http_endpoint               = optional(string, "enabled")
      http_tokens                 = optional(string, "required")
      http_put_response_hop_limit = optional(number, 2)
      instance_metadata_tags      = optional(string, "disabled")
    }), {})
    block_device_mappings = optional(map(object({
      device_name = string
      ebs = optional(object({
        volume_size           = optional(number, 50)
        volume_type           = optional(string, "gp3")
        iops                  = optional(number)
        throughput            = optional(number)
        encrypted             = optional(bool, true)
        kms_key_id            = optional(string)
        delete_on_termination = optional(bool, true)
      }))
    })))
    timeouts = optional(object({
      create = optional(string)
      update = optional(string)
      delete = optional(string)
    }))
    tags = optional(map(string), {})
  })
  default = {}

  validation {
    condition     = var.__NAME__.min_size <= var.__NAME__.max_size
    error_message = "`__NAME__.min_size` must not exceed `__NAME__.max_size`."
  }

  validation {
    condition = alltrue([
      for k, t in var.__NAME__.taints : contains(["NO_SCHEDULE", "NO_EXECUTE", "PREFER_NO_SCHEDULE"], t.effect)
    ])
    error_message = "Taint effects must be NO_SCHEDULE, NO_EXECUTE or PREFER_NO_SCHEDULE."
  }
}

""",
        name=name,
        desc=describe(rng, thing),
        itype=rng.choice(INSTANCE_TYPES),
        min=rng.randint(0, 2),
        max=rng.randint(3, 12),
        p1=ports[0],
        p2=ports[1],
    )
    mod.var(text, name)


def var_rules_map(rng: random.Random, mod: Module, name: str, thing: str) -> None:
    entries = []
    for port in rng.sample(PORTS, rng.randint(2, 4)):
        direction = rng.choice(["ingress", "ingress", "egress"])
        cidr = rng.choice(['"10.0.0.0/8"', '"172.16.0.0/12"', '"0.0.0.0/0"'])
        entries.append(
            f"    port_{port}_{direction} = {{\n"
            f'      description = "{direction.title()} on {port}"\n'
            f'      type        = "{direction}"\n'
            f"      from_port   = {port}\n"
            f"      to_port     = {port}\n"
            f'      protocol    = "tcp"\n'
            f"      cidr_ipv4   = {cidr}\n"
            "    }\n"
        )
    text = fill(
        """
variable "__NAME__" {
  description = "__DESC__"
  type = map(object({
    description                  = optional(string)
    type                         = optional(string, "ingress")
    from_port                    = optional(number)
    to_port                      = optional(number)
    protocol                     = optional(string, "tcp")
    cidr_ipv4                    = optional(string)
    cidr_ipv6                    = optional(string)
    prefix_list_id               = optional(string)
    referenced_security_group_id = optional(string)
    self                         = optional(bool, false)
    tags                         = optional(map(string), {})
  }))
  default = {
__ENTRIES__  }
}

""",
        name=name,
        desc=describe(rng, thing),
        entries="".join(entries),
    )
    mod.var(text, name)


def var_statements(rng: random.Random, mod: Module, name: str, thing: str) -> None:
    text = fill(
        """
variable "__NAME__" {
  description = "__DESC__"
  type = list(object({
    sid           = optional(string)
    actions       = optional(list(string))
    not_actions   = optional(list(string))
    effect        = optional(string, "Allow")
    resources     = optional(list(string))
    not_resources = optional(list(string))
    principals = optional(list(object({
      type        = string
      identifiers = list(string)
    })))
    conditions = optional(list(object({
      test     = string
      values   = list(string)
      variable = string
    })))
  }))
  default = null
}

""",
        name=name,
        desc=describe(rng, thing),
    )
    mod.var(text, name)


# --------------------------------------------------------------------------------------
# Component templates: each adds variables, resources/data/locals and outputs to a module
# --------------------------------------------------------------------------------------


def comp_bucket(rng: random.Random, mod: Module, target: str) -> None:
    n = mod.unique(rng)
    var_simple(rng, mod, f"create_{n}_bucket", f"{n} bucket", "bool")
    var_simple(rng, mod, f"{n}_bucket_kms_key_arn", f"{n} bucket", "arn")
    var_simple(rng, mod, f"{n}_bucket_retention_days", f"{n} bucket", "number")
    var_simple(rng, mod, f"{n}_bucket_tags", f"{n} bucket", "tags")
    var_object(rng, mod, f"{n}_bucket_lifecycle", f"{n} bucket lifecycle")
    days = rng.choice([30, 60, 90, 180])
    mod.add(
        target,
        section(f"S3 bucket: {n}")
        + fill(
            """
locals {
  create___N___bucket = var.create && var.create___N___bucket
  __N___bucket_name   = "${local.name_prefix}-__DASH__-${data.aws_caller_identity.current.account_id}"
  __N___bucket_tags = merge(
    local.tags,
    var.__N___bucket_tags,
    { "tether:component" = "__N__", "tether:retention" = tostring(var.__N___bucket_retention_days) },
  )
}

resource "aws_s3_bucket" "__N__" {
  count = local.create___N___bucket ? 1 : 0

  bucket        = local.__N___bucket_name
  force_destroy = false

  tags = local.__N___bucket_tags
}

resource "aws_s3_bucket_versioning" "__N__" {
  count = local.create___N___bucket ? 1 : 0

  bucket = aws_s3_bucket.__N__[0].id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "__N__" {
  count = local.create___N___bucket ? 1 : 0

  bucket = aws_s3_bucket.__N__[0].id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.__N___bucket_kms_key_arn != null ? "aws:kms" : "AES256"
      kms_master_key_id = var.__N___bucket_kms_key_arn
    }
    bucket_key_enabled = var.__N___bucket_kms_key_arn != null
  }
}

resource "aws_s3_bucket_public_access_block" "__N__" {
  count = local.create___N___bucket ? 1 : 0

  bucket                  = aws_s3_bucket.__N__[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = __RESTRICT__
}

resource "aws_s3_bucket_lifecycle_configuration" "__N__" {
  count = local.create___N___bucket ? 1 : 0

  bucket = aws_s3_bucket.__N__[0].id

  rule {
    id     = "expire-noncurrent"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.__N___bucket_retention_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  dynamic "rule" {
    for_each = { for k, v in var.__N___bucket_lifecycle.labels : k => v if v != "" }

    content {
      id     = "tier-${rule.key}"
      status = var.__N___bucket_lifecycle.enabled ? "Enabled" : "Disabled"

      filter {
        prefix = "${rule.value}/"
      }

      transition {
        days          = __DAYS__
        storage_class = "STANDARD_IA"
      }

      dynamic "expiration" {
        for_each = var.__N___bucket_retention_days > __DAYS__ ? [var.__N___bucket_retention_days] : []

        content {
          days = expiration.value
        }
      }
    }
  }
}

data "aws_iam_policy_document" "__N___bucket" {
  count = local.create___N___bucket ? 1 : 0

  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.__N__[0].arn,
      "${aws_s3_bucket.__N__[0].arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  dynamic "statement" {
    for_each = var.__N___bucket_lifecycle.enabled ? var.trusted_account_ids : []

    content {
      sid       = "AllowRead${statement.key}"
      actions   = ["s3:GetObject", "s3:ListBucket"]
      resources = [aws_s3_bucket.__N__[0].arn, "${aws_s3_bucket.__N__[0].arn}/*"]

      principals {
        type        = "AWS"
        identifiers = ["arn:${local.partition}:iam::${statement.value}:root"]
      }
    }
  }
}

resource "aws_s3_bucket_policy" "__N__" {
  count = local.create___N___bucket ? 1 : 0

  bucket = aws_s3_bucket.__N__[0].id
  policy = data.aws_iam_policy_document.__N___bucket[0].json
}

""",
            n=n,
            dash=n.replace("_", "-"),
            restrict=rng.choice(["true", "true", "false"]),
            days=days,
        ),
    )
    mod.out(
        fill(
            """
output "__N___bucket_id" {
  description = "Name of the __N__ bucket"
  value       = try(aws_s3_bucket.__N__[0].id, null)
}

output "__N___bucket_arn" {
  description = "ARN of the __N__ bucket"
  value       = try(aws_s3_bucket.__N__[0].arn, null)
}

""",
            n=n,
        ),
        f"{n}_bucket_id",
    )


def comp_security_group(rng: random.Random, mod: Module, target: str) -> None:
    n = mod.unique(rng)
    var_simple(rng, mod, f"create_{n}_security_group", f"{n} security group", "bool")
    var_simple(rng, mod, f"{n}_security_group_name", f"{n} security group", "string")
    var_rules_map(rng, mod, f"{n}_security_group_rules", f"{n} security group")
    var_simple(rng, mod, f"{n}_allowed_cidrs", f"{n} security group", "cidrs")
    mod.add(
        target,
        section(f"Security group: {n}")
        + fill(
            """
locals {
  create___N___sg = var.create && var.create___N___security_group
  __N___sg_name   = coalesce(var.__N___security_group_name, "${local.name_prefix}-__DASH__")

  __N___ingress = {
    for k, v in var.__N___security_group_rules : k => v if v.type == "ingress"
  }
  __N___egress = {
    for k, v in var.__N___security_group_rules : k => v if v.type == "egress"
  }
  __N___cidr_rules = merge([
    for idx, cidr in var.__N___allowed_cidrs : {
      for port in [__P1__, __P2__] : "${idx}-${port}" => { cidr = cidr, port = port }
    }
  ]...)
}

resource "aws_security_group" "__N__" {
  count = local.create___N___sg ? 1 : 0

  name_prefix = "${local.__N___sg_name}-"
  description = "Security group for __WORDS__"
  vpc_id      = local.vpc_id

  tags = merge(
    local.tags,
    { "Name" = local.__N___sg_name },
  )

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "__N__" {
  for_each = local.create___N___sg ? local.__N___ingress : {}

  security_group_id            = aws_security_group.__N__[0].id
  description                  = try(each.value.description, "Ingress ${each.key}")
  ip_protocol                  = each.value.protocol
  from_port                    = each.value.protocol == "-1" ? null : each.value.from_port
  to_port                      = each.value.protocol == "-1" ? null : each.value.to_port
  cidr_ipv4                    = each.value.cidr_ipv4
  cidr_ipv6                    = each.value.cidr_ipv6
  prefix_list_id               = each.value.prefix_list_id
  referenced_security_group_id = each.value.self ? aws_security_group.__N__[0].id : each.value.referenced_security_group_id

  tags = merge(local.tags, each.value.tags)
}

resource "aws_vpc_security_group_egress_rule" "__N__" {
  for_each = local.create___N___sg ? local.__N___egress : {}

  security_group_id = aws_security_group.__N__[0].id
  description       = lookup(each.value, "description", "Egress ${each.key}")
  ip_protocol       = each.value.protocol
  from_port         = each.value.from_port
  to_port           = each.value.to_port
  cidr_ipv4         = each.value.cidr_ipv4

  tags = merge(local.tags, each.value.tags)
}

resource "aws_security_group_rule" "__N___cidr" {
  for_each = local.create___N___sg ? local.__N___cidr_rules : {}

  type              = "ingress"
  security_group_id = aws_security_group.__N__[0].id
  protocol          = "tcp"
  from_port         = each.value.port
  to_port           = each.value.port
  cidr_blocks       = [each.value.cidr]
  description       = "Allow ${each.value.port} from ${each.value.cidr}"
}

resource "aws_security_group" "__N___legacy" {
  count = local.create___N___sg && var.enable_legacy_rules ? 1 : 0

  name        = "${local.__N___sg_name}-legacy"
  description = "Legacy inline rules for __WORDS__"
  vpc_id      = local.vpc_id

  ingress {
    description = "Legacy ${__P1__}"
    from_port   = __P1__
    to_port     = __P1__
    protocol    = "tcp"
    cidr_blocks = [__OPEN__]
  }

  dynamic "ingress" {
    for_each = var.__N___allowed_cidrs

    content {
      description = "Legacy ${ingress.value}"
      from_port   = __P2__
      to_port     = __P2__
      protocol    = "tcp"
      cidr_blocks = [ingress.value]
    }
  }

  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }

  tags = local.tags
}

""",
            n=n,
            dash=n.replace("_", "-"),
            words=n.replace("_", " "),
            p1=rng.choice(PORTS),
            p2=rng.choice(PORTS),
            open=rng.choice(['"0.0.0.0/0"', '"10.0.0.0/8"', "local.vpc_cidr"]),
        ),
    )
    mod.out(
        fill(
            """
output "__N___security_group_id" {
  description = "ID of the __N__ security group"
  value       = try(aws_security_group.__N__[0].id, null)
}

output "__N___security_group_rule_ids" {
  description = "Map of rule IDs of the __N__ security group"
  value = merge(
    { for k, v in aws_vpc_security_group_ingress_rule.__N__ : k => v.security_group_rule_id },
    { for k, v in aws_vpc_security_group_egress_rule.__N__ : k => v.security_group_rule_id },
  )
}

""",
            n=n,
        ),
        f"{n}_security_group_id",
    )


def comp_iam_role(rng: random.Random, mod: Module, target: str) -> None:
    n = mod.unique(rng)
    service = rng.choice(["ec2", "eks", "lambda", "ecs-tasks", "states", "events"])
    policies = rng.sample(
        [
            "AmazonEKSWorkerNodePolicy",
            "AmazonEC2ContainerRegistryReadOnly",
            "AmazonSSMManagedInstanceCore",
            "CloudWatchAgentServerPolicy",
            "AmazonEKS_CNI_Policy",
            "AWSXRayDaemonWriteAccess",
        ],
        3,
    )
    var_simple(rng, mod, f"create_{n}_role", f"{n} IAM role", "bool")
    var_simple(rng, mod, f"{n}_role_name", f"{n} IAM role", "string")
    var_simple(rng, mod, f"{n}_role_permissions_boundary", f"{n} IAM role", "arn")
    var_statements(rng, mod, f"{n}_role_policy_statements", f"{n} IAM role")
    mod.add(
        target,
        section(f"IAM role: {n}")
        + fill(
            """
locals {
  create___N___role = var.create && var.create___N___role
  __N___role_name   = coalesce(var.__N___role_name, "${local.name_prefix}-__DASH__")

  __N___managed_policies = {
    for p in __POLICIES__ : p => "arn:${local.partition}:iam::aws:policy/${p}"
  }
}

data "aws_iam_policy_document" "__N___assume" {
  count = local.create___N___role ? 1 : 0

  statement {
    sid     = "__SID__AssumeRole"
    actions = ["sts:AssumeRole", "sts:TagSession"]

    principals {
      type        = "Service"
      identifiers = ["__SERVICE__.${local.dns_suffix}"]
    }

    dynamic "condition" {
      for_each = length(var.trusted_account_ids) > 0 ? [1] : []

      content {
        test     = "StringEquals"
        variable = "aws:SourceAccount"
        values   = var.trusted_account_ids
      }
    }
  }
}

resource "aws_iam_role" "__N__" {
  count = local.create___N___role ? 1 : 0

  name_prefix          = "${substr(local.__N___role_name, 0, 37)}-"
  path                 = var.iam_path
  description          = "Role assumed by __SERVICE__ for ${local.name_prefix} (__WORDS__)"
  assume_role_policy   = data.aws_iam_policy_document.__N___assume[0].json
  permissions_boundary = var.__N___role_permissions_boundary
  max_session_duration = __DURATION__

  tags = merge(local.tags, { "Name" = local.__N___role_name })
}

resource "aws_iam_role_policy_attachment" "__N__" {
  for_each = { for k, v in local.__N___managed_policies : k => v if local.create___N___role }

  role       = aws_iam_role.__N__[0].name
  policy_arn = each.value
}

data "aws_iam_policy_document" "__N__" {
  count = local.create___N___role && var.__N___role_policy_statements != null ? 1 : 0

  dynamic "statement" {
    for_each = var.__N___role_policy_statements != null ? var.__N___role_policy_statements : []

    content {
      sid           = try(coalesce(statement.value.sid, "Stmt${statement.key}"), null)
      actions       = statement.value.actions
      not_actions   = statement.value.not_actions
      effect        = statement.value.effect
      resources     = statement.value.resources
      not_resources = statement.value.not_resources

      dynamic "principals" {
        for_each = statement.value.principals != null ? statement.value.principals : []

        content {
          type        = principals.value.type
          identifiers = principals.value.identifiers
        }
      }

      dynamic "condition" {
        for_each = statement.value.conditions != null ? statement.value.conditions : []

        content {
          test     = condition.value.test
          values   = condition.value.values
          variable = condition.value.variable
        }
      }
    }
  }
}

resource "aws_iam_role_policy" "__N__" {
  count = local.create___N___role && var.__N___role_policy_statements != null ? 1 : 0

  name_prefix = "${local.__N___role_name}-"
  role        = aws_iam_role.__N__[0].id
  policy      = data.aws_iam_policy_document.__N__[0].json
}

resource "aws_iam_policy" "__N___inline" {
  count = local.create___N___role ? 1 : 0

  name_prefix = "${local.__N___role_name}-inline-"
  description = "Inline permissions for __WORDS__"
  policy      = <<-EOT
    {
      "Version": "2012-10-17",
      "Statement": [
        {
          "Sid": "Logs",
          "Effect": "Allow",
          "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
          "Resource": "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/${local.name_prefix}/__DASH__:*"
        },
        {
          "Sid": "Describe",
          "Effect": "Allow",
          "Action": ["ec2:Describe*", "__EXTRA_ACTION__"],
          "Resource": "*"
        }
      ]
    }
  EOT

  tags = local.tags
}

resource "aws_iam_instance_profile" "__N__" {
  count = local.create___N___role && "__SERVICE__" == "ec2" ? 1 : 0

  name_prefix = "${local.__N___role_name}-"
  path        = var.iam_path
  role        = aws_iam_role.__N__[0].name

  tags = local.tags

  lifecycle {
    create_before_destroy = true
  }
}

""",
            n=n,
            dash=n.replace("_", "-"),
            words=n.replace("_", " "),
            sid=n.title().replace("_", ""),
            service=service,
            policies=hcl_list(policies),
            duration=rng.choice([3600, 7200, 14400, 43200]),
            extra_action=rng.choice(
                ["s3:*", "iam:PassRole", "kms:Decrypt", "sqs:*", "ssm:GetParameter"]
            ),
        ),
    )
    mod.out(
        fill(
            """
output "__N___role_arn" {
  description = "ARN of the __N__ IAM role"
  value       = try(aws_iam_role.__N__[0].arn, null)
}

output "__N___role_name" {
  description = "Name of the __N__ IAM role"
  value       = try(aws_iam_role.__N__[0].name, null)
}

output "__N___instance_profile_arn" {
  description = "ARN of the __N__ instance profile, if one was created"
  value       = one(aws_iam_instance_profile.__N__[*].arn)
}

""",
            n=n,
        ),
        f"{n}_role_arn",
    )


def comp_launch_template(rng: random.Random, mod: Module, target: str) -> None:
    n = mod.unique(rng)
    var_simple(rng, mod, f"create_{n}_launch_template", f"{n} launch template", "bool")
    var_object(rng, mod, f"{n}_node_config", f"{n} node group")
    var_simple(rng, mod, f"{n}_pre_bootstrap_user_data", f"{n} node group", "string")
    var_simple(rng, mod, f"{n}_enable_monitoring", f"{n} node group", "bool")
    mod.add(
        target,
        section(f"Launch template: {n}")
        + fill(
            """
locals {
  create___N___lt = var.create && var.create___N___launch_template
  __N___lt_name   = coalesce(var.__N___node_config.name, "${local.name_prefix}-__DASH__")

  __N___user_data = <<-EOT
    #!/usr/bin/env bash
    set -euo pipefail
    # Bootstrap for ${local.__N___lt_name} (__WORDS__)
    %{~if var.__N___pre_bootstrap_user_data != ""}
    ${var.__N___pre_bootstrap_user_data}
    %{~endif}
    export CLUSTER_NAME="${local.name_prefix}"
    export NODE_LABELS="${join(",", [for k, v in var.__N___node_config.labels : "${k}=${v}"])}"
    %{for k, t in var.__N___node_config.taints~}
    echo "taint ${t.key}=${coalesce(t.value, "")}:${t.effect}" >> /etc/node-taints
    %{endfor~}
    %{if var.__N___enable_monitoring}
    systemctl enable --now amazon-cloudwatch-agent
    %{else}
    echo "monitoring disabled"
    %{endif}
    /etc/eks/bootstrap.sh "$CLUSTER_NAME" --kubelet-extra-args '--node-labels=$NODE_LABELS --max-pods=__PODS__'
  EOT
}

resource "aws_launch_template" "__N__" {
  count = local.create___N___lt ? 1 : 0

  name_prefix            = "${local.__N___lt_name}-"
  description            = var.__N___node_config.description
  update_default_version = true
  ebs_optimized          = true
  image_id               = data.aws_ssm_parameter.__N___ami[0].value
  user_data              = base64encode(local.__N___user_data)
  vpc_security_group_ids = compact([local.node_security_group_id])

  dynamic "block_device_mappings" {
    for_each = var.__N___node_config.block_device_mappings != null ? var.__N___node_config.block_device_mappings : {}

    content {
      device_name = block_device_mappings.value.device_name

      dynamic "ebs" {
        for_each = block_device_mappings.value.ebs != null ? [block_device_mappings.value.ebs] : []

        content {
          delete_on_termination = ebs.value.delete_on_termination
          encrypted             = ebs.value.encrypted
          iops                  = ebs.value.iops
          kms_key_id            = ebs.value.kms_key_id
          throughput            = ebs.value.throughput
          volume_size           = ebs.value.volume_size
          volume_type           = ebs.value.volume_type
        }
      }
    }
  }

  dynamic "metadata_options" {
    for_each = [var.__N___node_config.metadata_options]

    content {
      http_endpoint               = metadata_options.value.http_endpoint
      http_tokens                 = metadata_options.value.http_tokens
      http_put_response_hop_limit = metadata_options.value.http_put_response_hop_limit
      instance_metadata_tags      = metadata_options.value.instance_metadata_tags
    }
  }

  monitoring {
    enabled = var.__N___enable_monitoring
  }

  dynamic "tag_specifications" {
    for_each = toset(["instance", "volume", "network-interface"])

    content {
      resource_type = tag_specifications.key
      tags = merge(
        local.tags,
        var.__N___node_config.tags,
        { Name = "${local.__N___lt_name}-${tag_specifications.key}" },
      )
    }
  }

  tags = merge(local.tags, var.__N___node_config.tags)

  lifecycle {
    create_before_destroy = true
  }
}

data "aws_ssm_parameter" "__N___ami" {
  count = local.create___N___lt ? 1 : 0

  name = "/aws/service/eks/optimized-ami/${var.kubernetes_version}/${lower("__AMI__")}/recommended/image_id"
}

resource "aws_eks_node_group" "__N__" {
  count = local.create___N___lt && var.__N___node_config.enabled ? 1 : 0

  cluster_name    = local.cluster_name
  node_group_name = "%{if var.__N___node_config.use_name_prefix}${local.__N___lt_name}-ng%{else}${local.__N___lt_name}%{endif}"
  node_role_arn   = local.node_role_arn
  subnet_ids      = local.private_subnet_ids
  ami_type        = "__AMI__"
  capacity_type   = "__CAPACITY__"
  instance_types  = var.__N___node_config.instance_types
  labels          = var.__N___node_config.labels

  scaling_config {
    min_size     = var.__N___node_config.min_size
    max_size     = var.__N___node_config.max_size
    desired_size = coalesce(var.__N___node_config.desired_size, var.__N___node_config.min_size)
  }

  launch_template {
    id      = aws_launch_template.__N__[0].id
    version = aws_launch_template.__N__[0].latest_version
  }

  dynamic "taint" {
    for_each = var.__N___node_config.taints

    content {
      key    = taint.value.key
      value  = taint.value.value
      effect = taint.value.effect
    }
  }

  update_config {
    max_unavailable_percentage = __UNAVAIL__
  }

  dynamic "timeouts" {
    for_each = var.__N___node_config.timeouts != null ? [var.__N___node_config.timeouts] : []

    content {
      create = timeouts.value.create
      update = timeouts.value.update
      delete = timeouts.value.delete
    }
  }

  tags = merge(local.tags, { Name = local.__N___lt_name })

  lifecycle {
    create_before_destroy = true
    ignore_changes = [
      scaling_config[0].desired_size,
    ]
  }

  depends_on = [
    aws_launch_template.__N__,
  ]
}

""",
            n=n,
            dash=n.replace("_", "-"),
            words=n.replace("_", " "),
            pods=rng.choice([17, 29, 58, 110]),
            ami=rng.choice(AMI_TYPES),
            capacity=rng.choice(["ON_DEMAND", "SPOT"]),
            unavail=rng.choice([25, 33, 50]),
        ),
    )
    mod.out(
        fill(
            """
output "__N___launch_template_id" {
  description = "ID of the __N__ launch template"
  value       = try(aws_launch_template.__N__[0].id, null)
}

output "__N___node_group" {
  description = "Attributes of the __N__ node group"
  value = {
    arn    = try(aws_eks_node_group.__N__[0].arn, null)
    status = try(aws_eks_node_group.__N__[0].status, null)
    labels = try(aws_eks_node_group.__N__[0].labels, {})
  }
}

""",
            n=n,
        ),
        f"{n}_launch_template_id",
    )


def comp_logs(rng: random.Random, mod: Module, target: str) -> None:
    n = mod.unique(rng)
    var_simple(rng, mod, f"{n}_log_retention_in_days", f"{n} log group", "number")
    var_simple(rng, mod, f"{n}_log_class", f"{n} log group", "enum")
    var_simple(rng, mod, f"{n}_alarm_actions_enabled", f"{n} alarms", "bool")
    metrics = rng.sample(
        [
            "CPUUtilization",
            "MemoryUtilization",
            "Errors",
            "Throttles",
            "Duration",
            "5XXError",
            "Latency",
            "ConcurrentExecutions",
        ],
        3,
    )
    alarms = "".join(
        f'    "{m.lower()}" = {{\n'
        f'      metric    = "{m}"\n'
        f"      threshold = {rng.randint(1, 95)}\n"
        f'      statistic = "{rng.choice(["Average", "Maximum", "Sum"])}"\n'
        "    }\n"
        for m in metrics
    )
    mod.add(
        target,
        section(f"CloudWatch: {n}")
        + fill(
            """
locals {
  __N___alarms = {
__ALARMS__  }
}

resource "aws_cloudwatch_log_group" "__N__" {
  count = var.create ? 1 : 0

  name              = "/${local.name_prefix}/__DASH__"
  retention_in_days = var.__N___log_retention_in_days
  kms_key_id        = local.kms_key_arn
  log_group_class   = var.__N___log_class == "standard" ? "STANDARD" : "INFREQUENT_ACCESS"

  tags = merge(local.tags, { "tether:log" = "__N__" })
}

resource "aws_cloudwatch_metric_alarm" "__N__" {
  for_each = var.create ? local.__N___alarms : {}

  alarm_name          = "${local.name_prefix}-__DASH__-${each.key}"
  alarm_description   = "${each.value.metric} of __WORDS__ above ${each.value.threshold}"
  namespace           = "__NAMESPACE__"
  metric_name         = each.value.metric
  statistic           = each.value.statistic
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = each.value.threshold
  evaluation_periods  = __PERIODS__
  period              = 300
  treat_missing_data  = "notBreaching"
  actions_enabled     = var.__N___alarm_actions_enabled
  alarm_actions       = var.__N___alarm_actions_enabled ? [local.alarm_topic_arn] : []

  dimensions = {
    ClusterName = local.cluster_name
  }

  tags = local.tags
}

resource "aws_cloudwatch_log_metric_filter" "__N___errors" {
  count = var.create ? 1 : 0

  name           = "${local.name_prefix}-__DASH__-errors"
  log_group_name = aws_cloudwatch_log_group.__N__[0].name
  pattern        = "?ERROR ?Exception ?\\"level=error\\""

  metric_transformation {
    name      = "__SID__Errors"
    namespace = "Tether/${local.name_prefix}"
    value     = "1"
  }
}

""",
            n=n,
            dash=n.replace("_", "-"),
            words=n.replace("_", " "),
            sid=n.title().replace("_", ""),
            alarms=alarms,
            namespace=rng.choice(
                ["AWS/EKS", "AWS/Lambda", "AWS/ApplicationELB", "ContainerInsights"]
            ),
            periods=rng.randint(1, 5),
        ),
    )
    mod.out(
        fill(
            """
output "__N___log_group_name" {
  description = "Name of the __N__ CloudWatch log group"
  value       = try(aws_cloudwatch_log_group.__N__[0].name, null)
}

output "__N___alarm_arns" {
  description = "ARNs of the __N__ alarms"
  value       = [for a in aws_cloudwatch_metric_alarm.__N__ : a.arn]
}

""",
            n=n,
        ),
        f"{n}_log_group_name",
    )


def comp_network(rng: random.Random, mod: Module, target: str) -> None:
    n = mod.unique(rng)
    var_simple(rng, mod, f"create_{n}_subnets", f"{n} subnets", "bool")
    var_simple(rng, mod, f"{n}_subnet_tags", f"{n} subnets", "tags")
    var_simple(rng, mod, f"{n}_map_public_ip", f"{n} subnets", "bool")
    newbits = rng.choice([4, 6, 8])
    offset = rng.randint(0, 12)
    mod.add(
        target,
        section(f"Subnets: {n}")
        + fill(
            """
locals {
  create___N___subnets = var.create && var.create___N___subnets
  __N___subnets = {
    for idx, az in local.azs : az => {
      cidr      = cidrsubnet(local.vpc_cidr, __NEWBITS__, idx + __OFFSET__)
      ipv6_cidr = local.enable_ipv6 ? cidrsubnet(local.vpc_ipv6_cidr, 8, idx + __OFFSET__) : null
      az_id     = lookup(local.az_ids, az, null)
    }
  }
}

resource "aws_subnet" "__N__" {
  for_each = local.create___N___subnets ? local.__N___subnets : {}

  vpc_id                          = local.vpc_id
  availability_zone               = each.key
  cidr_block                      = each.value.cidr
  ipv6_cidr_block                 = each.value.ipv6_cidr
  assign_ipv6_address_on_creation = each.value.ipv6_cidr != null
  map_public_ip_on_launch         = var.__N___map_public_ip

  tags = merge(
    local.tags,
    var.__N___subnet_tags,
    {
      Name = format("${local.name_prefix}-__DASH__-%s", element(split("-", each.key), length(split("-", each.key)) - 1))
      Tier = "__WORDS__"
    },
  )
}

resource "aws_route_table" "__N__" {
  for_each = local.create___N___subnets ? local.__N___subnets : {}

  vpc_id = local.vpc_id

  dynamic "route" {
    for_each = local.single_nat_gateway ? [local.nat_gateway_ids[0]] : try([local.nat_gateway_ids[index(local.azs, each.key)]], [])

    content {
      cidr_block     = "0.0.0.0/0"
      nat_gateway_id = route.value
    }
  }

  tags = merge(local.tags, { Name = "${local.name_prefix}-__DASH__-${each.key}" })
}

resource "aws_route_table_association" "__N__" {
  for_each = aws_subnet.__N__

  subnet_id      = each.value.id
  route_table_id = aws_route_table.__N__[each.key].id
}

resource "aws_network_acl" "__N__" {
  count = local.create___N___subnets ? 1 : 0

  vpc_id     = local.vpc_id
  subnet_ids = [for s in aws_subnet.__N__ : s.id]

  dynamic "ingress" {
    for_each = [for i, p in [__PORTS__] : { rule_no = 100 + i * 10, port = p }]

    content {
      rule_no    = ingress.value.rule_no
      action     = "allow"
      from_port  = ingress.value.port
      to_port    = ingress.value.port
      protocol   = "tcp"
      cidr_block = local.vpc_cidr
    }
  }

  egress {
    rule_no    = 100
    action     = "allow"
    from_port  = 0
    to_port    = 0
    protocol   = "-1"
    cidr_block = "0.0.0.0/0"
  }

  tags = merge(local.tags, { Name = "${local.name_prefix}-__DASH__" })
}

""",
            n=n,
            dash=n.replace("_", "-"),
            words=n.replace("_", " "),
            newbits=newbits,
            offset=offset,
            ports=", ".join(str(p) for p in rng.sample(PORTS, 4)),
        ),
    )
    mod.out(
        fill(
            """
output "__N___subnet_ids" {
  description = "IDs of the __N__ subnets"
  value       = [for s in aws_subnet.__N__ : s.id]
}

output "__N___subnet_cidrs_by_az" {
  description = "Map of availability zone to CIDR of the __N__ subnets"
  value       = { for az, s in aws_subnet.__N__ : az => s.cidr_block }
}

""",
            n=n,
        ),
        f"{n}_subnet_ids",
    )


def comp_lambda(rng: random.Random, mod: Module, target: str) -> None:
    n = mod.unique(rng)
    var_simple(rng, mod, f"create_{n}_function", f"{n} function", "bool")
    var_simple(rng, mod, f"{n}_function_memory", f"{n} function", "number")
    var_simple(rng, mod, f"{n}_function_environment", f"{n} function", "tags")
    runtime = rng.choice(["python3.12", "python3.11", "nodejs20.x", "provided.al2023"])
    mod.add(
        target,
        section(f"Lambda: {n}")
        + fill(
            """
data "archive_file" "__N__" {
  count = var.create && var.create___N___function ? 1 : 0

  type        = "zip"
  output_path = "${path.module}/.build/__DASH__.zip"

  source {
    filename = "index.py"
    content  = <<-EOT
      import json
      import os

      TABLE = "${local.name_prefix}-__DASH__"

      def handler(event, context):
          %{~for key in keys(var.__N___function_environment)}
          print("${key}", os.environ.get("${key}"))
          %{~endfor}
          return {"statusCode": 200, "body": json.dumps({"table": TABLE})}
    EOT
  }
}

resource "aws_lambda_function" "__N__" {
  count = var.create && var.create___N___function ? 1 : 0

  function_name    = "${local.name_prefix}-__DASH__"
  description      = "Handles __WORDS__ events"
  role             = local.lambda_role_arn
  runtime          = "__RUNTIME__"
  handler          = "index.handler"
  filename         = data.archive_file.__N__[0].output_path
  source_code_hash = data.archive_file.__N__[0].output_base64sha256
  memory_size      = var.__N___function_memory * 64
  timeout          = __TIMEOUT__
  architectures    = ["__ARCH__"]
  kms_key_arn      = local.kms_key_arn

  reserved_concurrent_executions = var.environment == "prod" ? __CONC__ : -1

  dynamic "environment" {
    for_each = length(var.__N___function_environment) > 0 ? [var.__N___function_environment] : []

    content {
      variables = merge(environment.value, { LOG_LEVEL = var.environment == "prod" ? "INFO" : "DEBUG" })
    }
  }

  dynamic "vpc_config" {
    for_each = local.vpc_id != null ? [1] : []

    content {
      subnet_ids         = local.private_subnet_ids
      security_group_ids = [local.node_security_group_id]
    }
  }

  tracing_config {
    mode = "Active"
  }

  tags = local.tags
}

resource "aws_lambda_permission" "__N__" {
  for_each = var.create && var.create___N___function ? toset(["events.amazonaws.com", "sns.amazonaws.com"]) : toset([])

  statement_id  = "Allow${replace(title(replace(each.key, ".", " ")), " ", "")}"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.__N__[0].function_name
  principal     = each.key
  source_arn    = each.key == "sns.amazonaws.com" ? local.alarm_topic_arn : null
}

resource "aws_cloudwatch_event_rule" "__N__" {
  count = var.create && var.create___N___function ? 1 : 0

  name        = "${local.name_prefix}-__DASH__"
  description = "Routes __WORDS__ events"
  event_pattern = jsonencode({
    source      = ["aws.__SOURCE__"]
    detail-type = ["__DETAIL__"]
    detail = {
      clusterName = [local.cluster_name]
    }
  })

  tags = local.tags
}

""",
            n=n,
            dash=n.replace("_", "-"),
            words=n.replace("_", " "),
            runtime=runtime,
            timeout=rng.choice([3, 15, 30, 60, 300]),
            arch=rng.choice(["x86_64", "arm64"]),
            conc=rng.choice([5, 10, 50]),
            source=rng.choice(["ec2", "eks", "s3", "autoscaling"]),
            detail=rng.choice(
                [
                    "EC2 Spot Instance Interruption Warning",
                    "EC2 Instance State-change Notification",
                    "EKS Cluster State Change",
                ]
            ),
        ),
    )
    mod.out(
        fill(
            """
output "__N___function_arn" {
  description = "ARN of the __N__ function"
  value       = try(aws_lambda_function.__N__[0].arn, null)
}

""",
            n=n,
        ),
        f"{n}_function_arn",
    )


def comp_database(rng: random.Random, mod: Module, target: str) -> None:
    n = mod.unique(rng)
    engine, family, port = rng.choice(
        [("postgres", "postgres16", 5432), ("mysql", "mysql8.0", 3306)]
    )
    var_simple(rng, mod, f"create_{n}_database", f"{n} database", "bool")
    var_simple(rng, mod, f"{n}_db_instance_class", f"{n} database", "string")
    var_simple(rng, mod, f"{n}_db_backup_retention", f"{n} database", "number")
    var_simple(rng, mod, f"{n}_db_publicly_accessible", f"{n} database", "bool")
    params = "".join(
        f'    {{ name = "{p}", value = "{v}", apply_method = "{m}" }},\n'
        for p, v, m in rng.sample(
            [
                ("log_min_duration_statement", "500", "immediate"),
                ("rds.force_ssl", "1", "pending-reboot"),
                ("max_connections", "400", "pending-reboot"),
                ("log_connections", "1", "immediate"),
                ("shared_preload_libraries", "pg_stat_statements", "pending-reboot"),
                ("work_mem", "16384", "immediate"),
            ],
            4,
        )
    )
    mod.add(
        target,
        section(f"Database: {n}")
        + fill(
            """
locals {
  create___N___db = var.create && var.create___N___database
  __N___db_parameters = [
__PARAMS__  ]
}

resource "aws_db_subnet_group" "__N__" {
  count = local.create___N___db ? 1 : 0

  name_prefix = "${local.name_prefix}-__DASH__-"
  description = "Subnets of the __WORDS__ database"
  subnet_ids  = local.private_subnet_ids

  tags = local.tags
}

resource "aws_db_parameter_group" "__N__" {
  count = local.create___N___db ? 1 : 0

  name_prefix = "${local.name_prefix}-__DASH__-"
  family      = "__FAMILY__"

  dynamic "parameter" {
    for_each = local.__N___db_parameters

    content {
      name         = parameter.value.name
      value        = parameter.value.value
      apply_method = lookup(parameter.value, "apply_method", null)
    }
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_db_instance" "__N__" {
  count = local.create___N___db ? 1 : 0

  identifier_prefix                   = "${local.name_prefix}-__DASH__-"
  engine                              = "__ENGINE__"
  instance_class                      = coalesce(var.__N___db_instance_class, "db.t4g.medium")
  allocated_storage                   = __STORAGE__
  max_allocated_storage               = __STORAGE__ * 4
  storage_encrypted                   = true
  kms_key_id                          = local.kms_key_arn
  db_subnet_group_name                = aws_db_subnet_group.__N__[0].name
  parameter_group_name                = aws_db_parameter_group.__N__[0].name
  port                                = __PORT__
  multi_az                            = var.environment == "prod"
  publicly_accessible                 = var.__N___db_publicly_accessible
  backup_retention_period             = min(var.__N___db_backup_retention, 35)
  deletion_protection                 = var.environment == "prod" ? true : false
  iam_database_authentication_enabled = true
  performance_insights_enabled        = __PERF__
  copy_tags_to_snapshot               = true
  skip_final_snapshot                 = var.environment != "prod"
  final_snapshot_identifier           = var.environment != "prod" ? null : "${local.name_prefix}-__DASH__-final"
  manage_master_user_password         = true
  username                            = "__ENGINE___admin"
  enabled_cloudwatch_logs_exports     = "__ENGINE__" == "postgres" ? ["postgresql", "upgrade"] : ["error", "slowquery"]

  tags = merge(local.tags, { Name = "${local.name_prefix}-__DASH__" })

  timeouts {
    create = "60m"
    update = "80m"
    delete = "60m"
  }
}

""",
            n=n,
            dash=n.replace("_", "-"),
            words=n.replace("_", " "),
            family=family,
            engine=engine,
            port=port,
            storage=rng.choice([20, 50, 100]),
            perf=rng.choice(["true", "false"]),
            params=params,
        ),
    )
    mod.out(
        fill(
            """
output "__N___db_endpoint" {
  description = "Connection endpoint of the __N__ database"
  value       = try(aws_db_instance.__N__[0].endpoint, null)
}

output "__N___db_master_secret_arn" {
  description = "ARN of the secret holding the __N__ master password"
  value       = try(aws_db_instance.__N__[0].master_user_secret[0].secret_arn, null)
  sensitive   = true
}

""",
            n=n,
        ),
        f"{n}_db_endpoint",
    )


def comp_queue(rng: random.Random, mod: Module, target: str) -> None:
    n = mod.unique(rng)
    var_simple(rng, mod, f"create_{n}_queue", f"{n} queue", "bool")
    var_simple(rng, mod, f"{n}_queue_retention_days", f"{n} queue", "number")
    mod.add(
        target,
        section(f"Queue: {n}")
        + fill(
            """
resource "aws_sqs_queue" "__N___dlq" {
  count = var.create && var.create___N___queue ? 1 : 0

  name                      = "${local.name_prefix}-__DASH__-dlq"
  message_retention_seconds = var.__N___queue_retention_days * 86400
  sqs_managed_sse_enabled   = local.kms_key_arn == null
  kms_master_key_id         = local.kms_key_arn

  tags = local.tags
}

resource "aws_sqs_queue" "__N__" {
  count = var.create && var.create___N___queue ? 1 : 0

  name                       = "${local.name_prefix}-__DASH__"
  visibility_timeout_seconds = __VIS__
  message_retention_seconds  = var.__N___queue_retention_days * 86400
  receive_wait_time_seconds  = 20
  sqs_managed_sse_enabled    = local.kms_key_arn == null
  kms_master_key_id          = local.kms_key_arn

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.__N___dlq[0].arn
    maxReceiveCount     = __MAXRECV__
  })

  tags = local.tags
}

resource "aws_sqs_queue_policy" "__N__" {
  count = var.create && var.create___N___queue ? 1 : 0

  queue_url = aws_sqs_queue.__N__[0].url
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "EventsSend"
        Effect    = "Allow"
        Principal = { Service = ["events.amazonaws.com", "sqs.amazonaws.com"] }
        Action    = "sqs:SendMessage"
        Resource  = aws_sqs_queue.__N__[0].arn
        Condition = {
          ArnEquals = { "aws:SourceArn" = [for r in aws_cloudwatch_event_rule.queue_sources : r.arn] }
        }
      },
      {
        Sid       = "DenyHTTP"
        Effect    = "Deny"
        Principal = "*"
        Action    = "sqs:*"
        Resource  = aws_sqs_queue.__N__[0].arn
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
    ]
  })
}

resource "aws_sns_topic_subscription" "__N__" {
  count = var.create && var.create___N___queue ? 1 : 0

  topic_arn            = local.alarm_topic_arn
  protocol             = "sqs"
  endpoint             = aws_sqs_queue.__N__[0].arn
  raw_message_delivery = true
  filter_policy = jsonencode({
    component = ["__N__", "all"]
  })
}

""",
            n=n,
            dash=n.replace("_", "-"),
            vis=rng.choice([30, 60, 300, 900]),
            maxrecv=rng.randint(3, 10),
        ),
    )
    mod.out(
        fill(
            """
output "__N___queue_url" {
  description = "URL of the __N__ queue"
  value       = try(aws_sqs_queue.__N__[0].url, null)
}

""",
            n=n,
        ),
        f"{n}_queue_url",
    )


Component = Callable[[random.Random, Module, str], None]

COMPONENTS: list[tuple[Component, str, int]] = [
    # (function, file in root module, relative weight)
    (comp_bucket, "storage.tf", 3),
    (comp_security_group, "security_groups.tf", 3),
    (comp_iam_role, "iam.tf", 3),
    (comp_launch_template, "node_groups.tf", 3),
    (comp_logs, "monitoring.tf", 2),
    (comp_network, "network.tf", 2),
    (comp_lambda, "events.tf", 2),
    (comp_database, "storage.tf", 1),
    (comp_queue, "events.tf", 2),
]


# --------------------------------------------------------------------------------------
# Fixed files
# --------------------------------------------------------------------------------------

VERSIONS_TF = """
terraform {
  required_version = ">= 1.5.7"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.40"
    }
    archive = {
      source  = "hashicorp/archive"
      version = ">= 2.4"
    }
    time = {
      source  = "hashicorp/time"
      version = ">= 0.9"
    }
  }
}
"""

SUB_VERSIONS_TF = """
terraform {
  required_version = ">= 1.5.7"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.40"
    }
  }
}
"""

COMMON_VARIABLES = """
variable "create" {
  description = "Controls if resources should be created (affects nearly all resources)"
  type        = bool
  default     = true
}

variable "name" {
  description = "Name used as a prefix on every resource created by the module"
  type        = string
  default     = "tether"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.name))
    error_message = "The name must start with a letter and contain only lower case letters, digits and dashes."
  }
}

variable "environment" {
  description = "Deployment environment"
  type        = string
  default     = "dev"

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "Environment must be one of dev, staging or prod."
  }
}

variable "tags" {
  description = "A map of tags to add to all resources"
  type        = map(string)
  default     = {}
}

variable "vpc_id" {
  description = "ID of an existing VPC; when null the module looks it up by tag"
  type        = string
  default     = null
}

variable "vpc_cidr" {
  description = "CIDR block of the VPC"
  type        = string
  default     = "10.0.0.0/16"
}

variable "enable_ipv6" {
  description = "Whether IPv6 CIDR blocks are assigned to subnets"
  type        = bool
  default     = false
}

variable "single_nat_gateway" {
  description = "Use a single NAT gateway for every private subnet"
  type        = bool
  default     = true
}

variable "private_subnet_ids" {
  description = "IDs of the private subnets used by nodes and functions"
  type        = list(string)
  default     = []
}

variable "kms_key_arn" {
  description = "ARN of an existing KMS key; when null one is created"
  type        = string
  default     = null
}

variable "trusted_account_ids" {
  description = "AWS account IDs trusted by roles and bucket policies"
  type        = list(string)
  default     = []
}

variable "iam_path" {
  description = "Path applied to every IAM role and instance profile"
  type        = string
  default     = "/"
}

variable "kubernetes_version" {
  description = "Kubernetes `<major>.<minor>` version"
  type        = string
  default     = "1.30"
}

variable "cluster_name" {
  description = "Name of the EKS cluster the nodes join"
  type        = string
  default     = ""
}

variable "node_security_group_id" {
  description = "ID of the shared node security group"
  type        = string
  default     = ""
}

variable "node_role_arn" {
  description = "ARN of the IAM role assumed by nodes"
  type        = string
  default     = null
}

variable "lambda_role_arn" {
  description = "ARN of the IAM role assumed by functions"
  type        = string
  default     = null
}

variable "alarm_topic_arn" {
  description = "ARN of the SNS topic that receives alarms"
  type        = string
  default     = null
}

variable "enable_legacy_rules" {
  description = "Keep the legacy security groups with inline rules"
  type        = bool
  default     = false
}

"""

COMMON_LOCALS = """
data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

data "aws_availability_zones" "available" {
  state = "available"

  filter {
    name   = "opt-in-status"
    values = ["opt-in-not-required"]
  }
}

data "aws_vpc" "selected" {
  count = var.vpc_id == null ? 1 : 0

  tags = {
    Name = "${var.name}-${var.environment}"
  }
}

locals {
  name_prefix = "${var.name}-${var.environment}"
  partition   = data.aws_partition.current.partition
  account_id  = data.aws_caller_identity.current.account_id
  region      = data.aws_region.current.name
  dns_suffix  = data.aws_partition.current.dns_suffix

  azs    = slice(data.aws_availability_zones.available.names, 0, 3)
  az_ids = zipmap(data.aws_availability_zones.available.names, data.aws_availability_zones.available.zone_ids)

  vpc_id             = coalesce(var.vpc_id, try(data.aws_vpc.selected[0].id, null))
  vpc_cidr           = var.vpc_cidr
  vpc_ipv6_cidr      = try(data.aws_vpc.selected[0].ipv6_cidr_block, "")
  enable_ipv6        = var.enable_ipv6
  single_nat_gateway = var.single_nat_gateway
  nat_gateway_ids    = [for gw in aws_nat_gateway.this : gw.id]
  private_subnet_ids = length(var.private_subnet_ids) > 0 ? var.private_subnet_ids : []

  kms_key_arn            = var.kms_key_arn != null ? var.kms_key_arn : try(aws_kms_key.this[0].arn, null)
  cluster_name           = coalesce(var.cluster_name, local.name_prefix)
  node_security_group_id = var.node_security_group_id
  node_role_arn          = var.node_role_arn
  lambda_role_arn        = var.lambda_role_arn
  alarm_topic_arn        = try(coalesce(var.alarm_topic_arn, try(aws_sns_topic.alarms[0].arn, null)), "")

  tags = merge(
    var.tags,
    {
      "terraform-module" = "tether-benchmark"
      "environment"      = var.environment
      "cost-center"      = lookup(var.tags, "cost-center", "platform")
    },
  )
}

resource "aws_kms_key" "this" {
  count = var.create && var.kms_key_arn == null ? 1 : 0

  description             = "Encryption key for ${local.name_prefix}"
  deletion_window_in_days = 30
  enable_key_rotation     = true
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "Root"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "Logs"
        Effect    = "Allow"
        Principal = { Service = "logs.${local.region}.amazonaws.com" }
        Action    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
        Resource  = "*"
      },
    ]
  })

  tags = local.tags
}

resource "aws_sns_topic" "alarms" {
  count = var.create && var.alarm_topic_arn == null ? 1 : 0

  name              = "${local.name_prefix}-alarms"
  kms_master_key_id = local.kms_key_arn

  tags = local.tags
}

resource "aws_eip" "nat" {
  count = var.create ? (local.single_nat_gateway ? 1 : length(local.azs)) : 0

  domain = "vpc"

  tags = merge(local.tags, { Name = "${local.name_prefix}-nat-${count.index}" })
}

resource "aws_nat_gateway" "this" {
  count = length(aws_eip.nat)

  allocation_id = aws_eip.nat[count.index].id
  subnet_id     = element(local.private_subnet_ids, count.index)

  tags = merge(local.tags, { Name = "${local.name_prefix}-nat-${element(local.azs, count.index)}" })
}

resource "aws_cloudwatch_event_rule" "queue_sources" {
  for_each = var.create ? toset(["spot-interruption", "rebalance", "state-change"]) : toset([])

  name        = "${local.name_prefix}-${each.key}"
  description = "Forwards ${replace(each.key, "-", " ")} events"
  event_pattern = jsonencode({
    source = ["aws.ec2"]
    detail-type = [
      each.key == "spot-interruption" ? "EC2 Spot Instance Interruption Warning" :
      each.key == "rebalance" ? "EC2 Instance Rebalance Recommendation" :
      "EC2 Instance State-change Notification"
    ]
  })

  tags = local.tags
}

"""


# --------------------------------------------------------------------------------------
# Corpus assembly
# --------------------------------------------------------------------------------------

SUBMODULES: list[tuple[str, list[Component]]] = [
    ("modules/managed-node-group", [comp_launch_template, comp_iam_role, comp_security_group]),
    ("modules/data-plane", [comp_bucket, comp_database, comp_queue, comp_logs]),
    ("modules/edge-network", [comp_network, comp_security_group, comp_lambda]),
]
ROOT_SHARE = 0.62  # fraction of the budget spent on the root module
SUB_SHARE = 0.30  # fraction spent on the submodules (split evenly); the rest on examples


def fill_module(
    rng: random.Random,
    mod: Module,
    budget: int,
    kinds: Sequence[Component] | None,
) -> None:
    """Add components to ``mod`` until it holds ``budget`` bytes."""
    while mod.size() < budget:
        if kinds is None:
            func, target, _ = rng.choices(COMPONENTS, weights=[w for _, _, w in COMPONENTS])[0]
        else:
            func, target = rng.choice(kinds), "main.tf"
        func(rng, mod, target)


def module_call(name: str, source: str, mod: Module, indent: str = "  ") -> str:
    """A call of a generated submodule passing every variable, EKS style."""
    width = max(len(v) for v in mod.variables)
    lines = []
    for v in mod.variables:
        if v in ("create",):
            value = "var.create && try(each.value.create, true)"
        elif v == "tags":
            value = "merge(local.tags, try(each.value.tags, {}))"
        elif v == "name":
            value = 'try(each.value.name, "${var.name}-${each.key}")'
        else:
            value = f"try(each.value.{v}, var.{name}_defaults.{v}, null)"
        lines.append(f"{indent}{v.ljust(width)} = {value}")
    body = "\n".join(lines)
    return (
        f'module "{name}" {{\n  source = "{source}"\n\n'
        f"  for_each = {{ for k, v in var.{name} : k => v if try(v.create, true) }}\n\n"
        f"{body}\n}}\n\n"
    )


def root_calls(subs: list[Module]) -> tuple[str, str, str]:
    """Root-module text calling the submodules: (module calls, variables, outputs)."""
    calls, variables, outputs = [], [], []
    for sub in subs:
        name = Path(sub.path).name.replace("-", "_")
        calls.append(section(f"Submodule: {name}") + module_call(name, f"./{sub.path}", sub))
        variables.append(
            f'variable "{name}" {{\n'
            f'  description = "Map of {name.replace("_", " ")} definitions to create"\n'
            f"  type        = any\n  default     = {{}}\n}}\n\n"
            f'variable "{name}_defaults" {{\n'
            f'  description = "Defaults applied to every {name.replace("_", " ")} definition"\n'
            f"  type        = any\n  default     = {{}}\n}}\n\n"
        )
        shown = sub.outputs[:12]
        width = max(len(o) for o in shown)
        outs = "\n".join(f"      {o.ljust(width)} = v.{o}" for o in shown)
        outputs.append(
            f'output "{name}" {{\n'
            f'  description = "Map of attribute maps for all {name.replace("_", " ")} created"\n'
            f"  value = {{\n    for k, v in module.{name} : k => {{\n{outs}\n    }}\n  }}\n}}\n\n"
        )
    return "".join(calls), "".join(variables), "".join(outputs)


def example_files(
    rng: random.Random, name: str, root: Module, subs: list[Module], budget: int
) -> dict[str, str]:
    """An example configuration: providers, registry/git modules and root module calls."""
    region = rng.choice(REGIONS)
    main = [
        fill(
            """
provider "aws" {
  region = local.region

  default_tags {
    tags = {
      Example    = local.name
      GithubRepo = "tether-benchmark"
      ManagedBy  = "terraform"
    }
  }
}

provider "aws" {
  alias  = "replica"
  region = "__REPLICA__"

  default_tags {
    tags = {
      Example = "${local.name}-replica"
    }
  }
}

data "aws_availability_zones" "available" {
  filter {
    name   = "opt-in-status"
    values = ["opt-in-not-required"]
  }
}

locals {
  name   = "ex-${replace(basename(path.cwd), "_", "-")}"
  region = "__REGION__"

  vpc_cidr = "10.__OCTET__.0.0/16"
  azs      = slice(data.aws_availability_zones.available.names, 0, 3)

  tags = {
    Example = local.name
    Owner   = "platform-team"
  }
}

module "vpc" {
  source  = "terraform-aws-modules/vpc/aws"
  version = "~> 5.8"

  name = local.name
  cidr = local.vpc_cidr

  azs             = local.azs
  private_subnets = [for k, v in local.azs : cidrsubnet(local.vpc_cidr, 4, k)]
  public_subnets  = [for k, v in local.azs : cidrsubnet(local.vpc_cidr, 8, k + 48)]
  intra_subnets   = [for k, v in local.azs : cidrsubnet(local.vpc_cidr, 8, k + 52)]

  enable_nat_gateway = true
  single_nat_gateway = true

  public_subnet_tags = {
    "kubernetes.io/role/elb" = 1
  }

  private_subnet_tags = {
    "kubernetes.io/role/internal-elb" = 1
  }

  tags = local.tags
}

module "kms" {
  source = "git::https://github.com/terraform-aws-modules/terraform-aws-kms.git?ref=v3.1.0"

  description = "${local.name} example key"
  key_usage   = "ENCRYPT_DECRYPT"
  aliases     = ["eks/${local.name}"]

  key_administrators = [data.aws_caller_identity.current.arn]

  tags = local.tags
}

module "vpc_endpoints" {
  source  = "terraform-aws-modules/vpc/aws//modules/vpc-endpoints"
  version = "~> 5.8"

  vpc_id = module.vpc.vpc_id

  endpoints = { for svc in ["s3", "ecr.api", "ecr.dkr", "sts", "logs"] : replace(svc, ".", "_") => {
    service             = svc
    service_type        = svc == "s3" ? "Gateway" : "Interface"
    private_dns_enabled = svc != "s3"
    subnet_ids          = svc == "s3" ? null : module.vpc.private_subnets
    route_table_ids     = svc == "s3" ? module.vpc.private_route_table_ids : null
    tags                = { Name = "${local.name}-${svc}" }
  } }

  tags = local.tags
}

data "aws_caller_identity" "current" {}

""",
            replica=rng.choice(REGIONS),
            region=region,
            octet=rng.randint(0, 200),
        )
    ]
    outputs = []
    calls = 2 if name == "complete" else 1
    per_call = max(budget - len(main[0]), 2048) // calls
    for i in range(1, calls + 1):
        call_name = f"{name}_{i}" if i > 1 else name
        per_sub: list[list[str]] = [[] for _ in subs]
        used = 0
        k = 0
        while used < per_call - 900:
            for j, sub in enumerate(subs):
                picks = rng.sample(sub.variables, min(6, len(sub.variables)))
                width = max(len(v) for v in picks)
                attrs = "\n".join(
                    f"      {v.ljust(width)} = {example_value(rng, v)}" for v in picks
                )
                entry = f"    {rng.choice(QUALIFIERS)}_{k} = {{\n{attrs}\n    }}\n"
                per_sub[j].append(entry)
                used += len(entry)
            k += 1
        node_defs = [
            f"  {Path(sub.path).name.replace('-', '_')} = {{\n{''.join(entries)}  }}\n\n"
            for sub, entries in zip(subs, per_sub, strict=True)
        ]
        main.append(
            fill(
                """
module "__CALL__" {
  source = "../.."

  name        = "${local.name}-__SUFFIX__"
  environment = "__ENV__"

  vpc_id             = module.vpc.vpc_id
  vpc_cidr           = local.vpc_cidr
  private_subnet_ids = module.vpc.private_subnets
  kms_key_arn        = module.kms.key_arn

  trusted_account_ids = [data.aws_caller_identity.current.account_id]

__NODEDEFS__  tags = merge(local.tags, {
    Call = "__CALL__"
  })
}

""",
                call=call_name,
                suffix=i,
                env=rng.choice(["dev", "staging", "prod"]),
                nodedefs="".join(node_defs),
            )
        )
        picks = rng.sample(root.outputs, min(4, len(root.outputs)))
        for o in picks:
            outputs.append(
                f'output "{call_name}_{o}" {{\n'
                f'  description = "{o.replace("_", " ").capitalize()} of {call_name}"\n'
                f"  value       = module.{call_name}.{o}\n}}\n\n"
            )
    return {
        "main.tf": "".join(main),
        "outputs.tf": "".join(outputs),
        "versions.tf": VERSIONS_TF.lstrip("\n"),
    }


def example_value(rng: random.Random, var: str) -> str:
    if var == "create":
        return "true"
    if var == "environment":
        return '"' + rng.choice(["dev", "staging", "prod"]) + '"'
    if var.startswith(("create_", "enable")) or var.endswith(
        ("_enabled", "_enable_monitoring", "_map_public_ip", "_accessible")
    ):
        return rng.choice(["true", "false"])
    if var.endswith(("_days", "_retention", "_memory")):
        return str(rng.choice([7, 14, 30, 90]))
    if var == "tags" or var.endswith(("_tags", "_environment")):
        return '{ Team = "platform", Tier = "' + rng.choice(QUALIFIERS) + '" }'
    if var.endswith("_node_config") or var.endswith("_lifecycle"):
        itypes = hcl_list(rng.sample(INSTANCE_TYPES, 2))
        return (
            f"{{ instance_types = {itypes}, min_size = 1, max_size = {rng.randint(3, 9)}, "
            f'labels = {{ role = "{rng.choice(NOUNS)}" }} }}'
        )
    if var.endswith("_cidrs"):
        return f'["10.{rng.randint(0, 255)}.0.0/16"]'
    if var.endswith("_rules"):
        port = rng.choice(PORTS)
        return (
            f'{{ https = {{ type = "ingress", from_port = {port}, to_port = {port}, '
            f'cidr_ipv4 = "10.0.0.0/8" }} }}'
        )
    if var.endswith("_statements"):
        return '[{ actions = ["s3:GetObject"], resources = ["arn:aws:s3:::example/*"] }]'
    if var.endswith("_arn") or var.endswith("_boundary"):
        return "null"
    if var.endswith("_class"):
        return '"standard"'
    return f'"{rng.choice(NOUNS)}-{rng.choice(QUALIFIERS)}"'


def generate(kb: int = DEFAULT_KB, seed: int = DEFAULT_SEED) -> dict[str, str]:
    """Return the corpus as {relative path: text}.  Deterministic in (kb, seed)."""
    rng = random.Random(seed)
    budget = kb * 1024
    files: dict[str, str] = {}

    subs: list[Module] = []
    for path, kinds in SUBMODULES:
        sub = Module(path)
        sub.add("variables.tf", COMMON_VARIABLES.lstrip("\n"))
        sub.add("main.tf", COMMON_LOCALS.lstrip("\n"))
        sub.variables.extend(["create", "name", "environment", "tags"])
        fill_module(rng, sub, int(budget * SUB_SHARE / len(SUBMODULES)), kinds)
        subs.append(sub)

    root = Module(".")
    root.add("variables.tf", COMMON_VARIABLES.lstrip("\n"))
    root.add(
        "main.tf", section("Shared data sources, locals and keys") + COMMON_LOCALS.lstrip("\n")
    )
    calls, call_vars, call_outputs = root_calls(subs)
    root.add("modules.tf", calls)
    root.add("variables.tf", call_vars)
    root.add("outputs.tf", call_outputs)
    fill_module(rng, root, int(budget * ROOT_SHARE), None)

    for mod in [root, *subs]:
        for fname, chunks in mod.files.items():
            files[str(Path(mod.path) / fname)] = "".join(chunks).rstrip("\n") + "\n"
        files[str(Path(mod.path) / "versions.tf")] = (
            VERSIONS_TF if mod is root else SUB_VERSIONS_TF
        ).lstrip("\n")

    used = sum(len(t.encode()) for t in files.values())
    remaining = max(budget - used, 8 * 1024)
    for ex in ("complete", "minimal"):
        share = remaining * (0.7 if ex == "complete" else 0.3)
        for fname, text in example_files(rng, ex, root, subs, int(share)).items():
            files[f"examples/{ex}/{fname}"] = text.rstrip("\n") + "\n"
    return dict(sorted(files.items()))


def write_corpus(outdir: Path, kb: int = DEFAULT_KB, seed: int = DEFAULT_SEED) -> tuple[int, int]:
    """Write the corpus under ``outdir``; return (file count, total bytes)."""
    outdir.mkdir(parents=True, exist_ok=True)
    for old in outdir.rglob("*.tf"):
        old.unlink()
    files = generate(kb, seed)
    total = 0
    for rel, text in files.items():
        dest = outdir / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        data = text.encode()
        dest.write_bytes(data)
        total += len(data)
    return len(files), total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir", type=Path, help="directory to write the corpus into")
    parser.add_argument("--kb", type=int, default=DEFAULT_KB, help="approximate size in KiB")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed")
    args = parser.parse_args(argv)
    if args.kb < 16:
        parser.error("--kb must be at least 16")
    count, total = write_corpus(args.outdir, args.kb, args.seed)
    print(f"wrote {count} files, {total / 1024:.1f} KiB to {args.outdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
