"""virtprov-ovirt: the oVirt / RHV provider (Engine API v4).

Importing this package is cheap: ``ovirtsdk4`` is imported only when a provider
first talks to its engine.
"""

import logging

# Its modules log on virtprov_ovirt.<module>. A library installs only a NullHandler: the
# application decides where the lines go (the pool's docs, "Logging", name every logger).
logging.getLogger(__name__).addHandler(logging.NullHandler())
