"""Developer tools, not tests: packaging, make invoke, soak, local DynamoDB, fault proxies, and
a mapping's test cases, explanations and JSON Schemas (make check-mapping, explain, schema)."""
