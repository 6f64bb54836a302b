"""Golden-path adoption (issue 12): per-rule outcomes of a scan (`outcomes`), scores per
repository, team and rule with maturity levels (`score`), their history from the org state
(`history`). Reports render these; nothing here judges a fact."""
