"""virtprov-testing: the provider conformance suite and cassette helpers (the fake
provider itself ships with the core, as :mod:`virtprov.fake`)."""

import logging

# Its modules log on virtprov_testing.<module>. A library installs only a NullHandler: the
# application decides where the lines go (the pool's docs, "Logging", name every logger).
logging.getLogger(__name__).addHandler(logging.NullHandler())
