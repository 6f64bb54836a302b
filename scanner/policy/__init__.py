"""Policy: rules and baselines as data, judged with CEL."""
