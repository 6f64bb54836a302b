import * as aws from "@pulumi/aws";

// Settlement backlog alarm, added in a hurry during an incident.
new aws.cloudwatch.MetricAlarm("settlement-backlog", {
  namespace: "AWS/SQS",
  metricName: "ApproximateNumberOfMessagesVisible",
  dimensions: { QueueName: "payments-settlements-prod" },
  statistic: "Maximum",
  period: 300,
  evaluationPeriods: 2,
  threshold: 1000,
  comparisonOperator: "GreaterThanThreshold",
});
