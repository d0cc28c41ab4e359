"""Nova's answers as every provider that talks to Nova reads them (virtprov.nova)."""

from __future__ import annotations

from virtprov import nova


def test_fault_texts_that_mean_no_room() -> None:
    assert nova.fault_is_capacity("No valid host was found. There are not enough hosts available.")
    # the older shape: message "NoValidHost", the text in details
    assert nova.fault_is_capacity("NoValidHost: No valid host was found. Exceeded max scheduling")
    assert nova.fault_is_capacity("Quota exceeded for instances: Requested 1, but already used 10")
    assert not nova.fault_is_capacity(
        "Build of instance aborted: Failed to allocate the network(s)"
    )
    assert not nova.fault_is_capacity(None)


def test_a_fault_is_its_message_and_the_first_line_of_its_details() -> None:
    # What Nova's fake hypervisor answered on the reference OpenStack for m1.xlarge.
    assert nova.fault_text({"code": 500, "message": "No valid host was found. "}) == (
        "No valid host was found."
    )
    traceback = "Traceback (most recent call last):\n  File ...\nnova.exception.NoValidHost"
    assert nova.fault_text({"message": "NoValidHost", "details": traceback}) == (
        "NoValidHost: Traceback (most recent call last):"
    )
    assert nova.fault_text({"message": "Exceeded maximum", "details": "Exceeded maximum"}) == (
        "Exceeded maximum"
    )
    assert nova.fault_text(None) == "the server went into ERROR without a fault"


def test_a_flavor_declares_its_arch_and_properties_in_extra_specs() -> None:
    specs = {"hw:architecture": "aarch64", "trait:HW_CPU_AARCH64_SVE": "required"}
    assert nova.flavor_arch(specs) == "aarch64"
    assert nova.flavor_arch({"cpu_arch": "s390x", "architecture": "x86_64"}) == "s390x"
    assert nova.flavor_arch({"hw:architecture": "", "hw:cpu_policy": "dedicated"}) is None
    properties = nova.flavor_properties(specs)
    assert properties["cpu.flag"] == "sve"  # what the trait declares...
    assert properties["hw:architecture"] == "aarch64"  # ... beside the raw specs
