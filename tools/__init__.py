"""Developer tools, not tests: packaging, make invoke, soak, local DynamoDB, fault proxies."""
