"""virtprov-testing: the fake provider, the conformance suite and cassette helpers."""
