provider "aws" {
  region = "eu-west-1"

  default_tags {
    tags = {
      team        = "checkout"
      cost-center = "cc-1200"
    }
  }
}

module "vpc" {
  source  = "terraform-aws-modules/vpc/aws"
  version = "5.8.1"

  name = "golden-service"
  cidr = "10.40.0.0/16"
  azs  = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
}

module "queue" {
  source = "./modules/queue"
  name   = "golden-service-events"
}

resource "random_id" "suffix" {
  byte_length = 4
}
