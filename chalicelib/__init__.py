"""FeedForward's runtime code: everything the Lambda functions need, packaged by chalice."""
