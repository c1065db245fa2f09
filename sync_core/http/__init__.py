"""The HTTP layer every connector uses: client, circuit breaker, pacing, redaction, answer reading."""
