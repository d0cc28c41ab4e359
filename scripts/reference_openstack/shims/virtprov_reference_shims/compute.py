"""``nova-compute`` with the shims' driver next to ``fake.FakeDriver``.

Nova loads drivers from ``nova.virt`` only, so ``IpxeFakeDriver`` (module ``driver``) is
put into ``nova.virt.fake`` before the service starts, and nova.conf names it
``compute_driver = fake.IpxeFakeDriver``. Nothing of Nova may be imported before
``nova.cmd.compute``, which sets up Nova's threading.
"""

from __future__ import annotations


def main() -> None:
    from nova.cmd import compute as service  # first: see above
    from nova.virt import fake

    from virtprov_reference_shims.driver import IpxeFakeDriver

    fake.IpxeFakeDriver = IpxeFakeDriver
    service.main()


if __name__ == "__main__":
    main()
