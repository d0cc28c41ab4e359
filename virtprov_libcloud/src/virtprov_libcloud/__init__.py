"""virtprov's Apache Libcloud provider: any libcloud compute driver as a virtprov provider.

The entry point ``libcloud`` in ``virtprov.providers`` names
:class:`virtprov_libcloud.provider.LibcloudProvider`. See ``docs/libcloud.md``.
"""

import logging

# Its modules log on virtprov_libcloud.<module>. A library installs only a NullHandler: the
# application decides where the lines go (the pool's docs, "Logging", name every logger).
logging.getLogger(__name__).addHandler(logging.NullHandler())
