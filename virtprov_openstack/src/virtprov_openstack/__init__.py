"""virtprov-openstack: the OpenStack provider and its iPXE boot-image tool.

Importing this package is cheap: openstacksdk is imported only by the modules that
talk to a cloud (``provider``, ``image``), when they are first used.
"""

import logging

# Its modules log on virtprov_openstack.<module>. A library installs only a NullHandler: the
# application decides where the lines go (the pool's docs, "Logging", name every logger).
logging.getLogger(__name__).addHandler(logging.NullHandler())
