"""virtprov's Apache Libcloud provider: any libcloud compute driver as a virtprov provider.

The entry point ``libcloud`` in ``virtprov.providers`` names
:class:`virtprov_libcloud.provider.LibcloudProvider`. See ``docs/libcloud.md``.
"""
