"""virtprov-openstack: the OpenStack provider and its iPXE boot-image tool.

Importing this package is cheap: openstacksdk is imported only by the modules that
talk to a cloud (``provider``, ``image``), when they are first used.
"""
