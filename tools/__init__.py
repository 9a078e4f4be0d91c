"""Admin tools for FeedForward (not packaged into the Lambda functions)."""
