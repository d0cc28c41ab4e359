"""virtprov-ovirt: the oVirt / RHV provider (Engine API v4).

Importing this package is cheap: ``ovirtsdk4`` is imported only when a provider
first talks to its engine.
"""
