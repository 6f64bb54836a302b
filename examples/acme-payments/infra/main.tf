terraform {
  required_version = "~> 1.3.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 4.67"
    }
    datadog = {
      source  = "DataDog/datadog"
      version = "3.38.0"
    }
  }

  backend "s3" {
    bucket = "acme-payments-tfstate"
    key    = "payments/prod.tfstate"
    region = "eu-west-1"
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      team        = "payments"
      cost-center = "cc-4821"
    }
  }
}

module "vpc" {
  source = "git::https://github.com/jdoe-contractor/terraform-vpc.git?ref=main"

  cidr = "10.20.0.0/16"
  azs  = ["eu-west-1a", "eu-west-1b"]
}

module "db" {
  source  = "terraform-aws-modules/rds/aws"
  version = "6.5.2"

  identifier     = "payments-${var.env}"
  engine         = "postgres"
  engine_version = "16.3"
  instance_class = "db.t4g.medium"
}

resource "aws_sqs_queue" "settlements" {
  name                      = "payments-settlements-${var.env}"
  message_retention_seconds = 1209600
}

module "statements_bucket" {
  source  = "terraform-aws-modules/s3-bucket/aws"
  version = "~> 3.15"

  bucket = "acme-payments-statements-${var.env}"
  versioning = {
    enabled = true
  }
}
