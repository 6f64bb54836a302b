# Bootstraps the state bucket that infra/ keeps its state in. This module's own state lives
# in the team's Consul cluster (a bucket cannot hold the state that creates it).
terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.40.0, < 6.0.0"
    }
  }

  backend "consul" {
    address = "consul.payments.acme.internal:8500"
    scheme  = "https"
    path    = "terraform/payments-bootstrap"
  }
}

provider "aws" {
  region = "eu-west-1"
}

resource "aws_s3_bucket" "tfstate" {
  bucket = "acme-payments-tfstate"
}

resource "aws_s3_bucket_versioning" "tfstate" {
  bucket = aws_s3_bucket.tfstate.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_dynamodb_table" "locks" {
  name         = "acme-payments-tf-locks"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "LockID"

  attribute {
    name = "LockID"
    type = "S"
  }

  tags = {
    team = "payments"
  }
}
