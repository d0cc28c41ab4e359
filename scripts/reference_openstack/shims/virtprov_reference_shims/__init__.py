"""The only fakes of the reference OpenStack; everything else is the real service.

* :mod:`virtprov_reference_shims.ml2` binds every port at once (no L2 agent, no data plane);
* :mod:`virtprov_reference_shims.driver` is Nova's own ``fake.FakeDriver`` sized like a
  small lab hypervisor, whose console shows what the iPXE image would print.
"""
