"""tmt's ``provision: how: virtprov`` plugin."""

import logging

# Its modules log on virtprov_tmt.<module>. A library installs only a NullHandler: the
# application decides where the lines go (the pool's docs, "Logging", name every logger).
logging.getLogger(__name__).addHandler(logging.NullHandler())
