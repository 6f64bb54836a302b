variable "name" {
  type = string
}

resource "aws_sqs_queue" "this" {
  name                       = var.name
  visibility_timeout_seconds = 60
}

output "arn" {
  value = aws_sqs_queue.this.arn
}
