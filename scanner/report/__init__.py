"""Reports render findings; they never compute policy."""
