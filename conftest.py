"""Repository-wide pytest setup.

pytest-recording replaces ``sys.modules["pycurl"]`` with a proxy module when it
configures itself; ovirtsdk4 imported after that builds proxy ``Curl`` objects and
fails with ``add_handle() argument 1 must be pycurl.Curl``. Importing ovirtsdk4 here,
before plugins configure, binds the real pycurl. (Only where virtprov-ovirt is installed.)
"""

import contextlib

with contextlib.suppress(ImportError):
    import ovirtsdk4  # noqa: F401
