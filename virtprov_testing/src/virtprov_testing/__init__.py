"""virtprov-testing: the provider conformance suite and cassette helpers (the fake
provider itself ships with the core, as :mod:`virtprov.fake`)."""
