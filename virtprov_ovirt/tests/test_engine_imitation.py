"""The engine imitation behaves as the engine's source says, and agrees with real bodies.

These talk HTTP to the imitation alone (no provider, no cassette): what they check is
what every composed cassette carries. The engine source each behaviour follows is cited
in ``engine_imitation.py``, ``engine_search.py`` and ``engine_messages.py``.
"""

from __future__ import annotations

import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from engine_imitation import API, Imitation, served
from engine_messages import Refusal

DATA = Path(__file__).parent / "data"
NEWC = "b875154c-5b87-4068-aa3f-f32c4d672193"  # the cluster of data center Newd
UNKNOWN = "00000000-0000-4000-8000-00000000dead"
NEW_VM = (
    "<vm><name>vp-1</name><description>virtprov {}</description><comment>c</comment>"
    f'<cluster id="{NEWC}"/><template><name>Blank</name></template>'
    "<memory>1073741824</memory><console><enabled>true</enabled></console></vm>"
)
DISK = (
    "<disk_attachment><bootable>true</bootable><interface>virtio</interface>"
    "<disk><name>vp-1_disk0</name><format>cow</format><provisioned_size>1073741824"
    "</provisioned_size><storage_domains><storage_domain id='sd'/></storage_domains>"
    "</disk></disk_attachment>"
)


class Client:
    def __init__(self, url: str) -> None:
        self.url = url

    def call(
        self, method: str, path: str, body: str | None = None
    ) -> tuple[int, dict[str, str], str]:
        request = urllib.request.Request(
            self.url + API + path,
            data=body.encode() if body is not None else None,
            method=method,
            headers={"Content-Type": "application/xml"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as reply:
                return reply.status, dict(reply.headers), reply.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read().decode()

    def xml(self, method: str, path: str, body: str | None = None) -> tuple[int, ET.Element]:
        status, _, text = self.call(method, path, body)
        return status, ET.fromstring(text)

    def vm(self, vm_id: str) -> ET.Element:
        status, element = self.xml("GET", f"/vms/{vm_id}")
        assert status == 200
        return element

    def new_vm(self) -> str:
        status, vm = self.xml("POST", "/vms", NEW_VM)
        assert status == 201
        return vm.get("id") or ""


@pytest.fixture
def imitation() -> Imitation:
    return Imitation()


@pytest.fixture
def client(imitation: Imitation) -> Iterator[Client]:
    with served(imitation) as url:
        yield Client(url)


def test_start_time_only_while_the_vm_runs(client: Client) -> None:
    vm_id = client.new_vm()
    created = client.vm(vm_id)
    assert created.findtext("status") == "down"
    assert created.find("start_time") is None
    assert created.findtext("stop_time")  # AddVmCommand sets it at creation
    assert client.xml("POST", f"/vms/{vm_id}/start", "<action/>")[0] == 200
    looks = [client.vm(vm_id) for _ in range(2)]
    assert [v.findtext("status") for v in looks] == ["powering_up", "up"]
    for running in looks:
        assert running.findtext("start_time")
        assert running.findtext("run_once") == "false"
        assert running.find("host") is not None
    client.xml("POST", f"/vms/{vm_id}/stop", "<action/>")
    stopped = [client.vm(vm_id) for _ in range(2)]
    assert [v.findtext("status") for v in stopped] == ["powering_down", "down"]
    assert stopped[0].findtext("start_time")
    down = stopped[1]
    assert down.find("start_time") is None
    assert down.find("run_once") is None
    assert down.find("host") is None
    assert (down.findtext("stop_time") or "") > (created.findtext("stop_time") or "")


def test_run_once_is_shown_while_running(client: Client) -> None:
    vm_id = client.new_vm()
    action = "<action><vm><os><kernel>/net/k</kernel></os></vm><volatile>true</volatile></action>"
    status, answer = client.xml("POST", f"/vms/{vm_id}/start", action)
    assert status == 200
    assert answer.findtext("status") == "complete"
    assert answer.find("vm").get("id") == vm_id  # type: ignore[union-attr]
    assert client.vm(vm_id).findtext("run_once") == "true"


def test_recorded_vms_agree_that_down_means_no_start_time() -> None:
    # The premise above, in the real RHV 4.3 bodies: no VM that is down carries a start
    # time; every VM, down or up, carries its last stop time.
    seen = 0
    for inventory in ("rhv43-refresh", "rhv43-lans"):
        for vm in ET.parse(DATA / inventory / "vms.xml").getroot().findall("vm"):
            seen += 1
            assert vm.findtext("stop_time")
            if vm.findtext("status") == "down":
                assert vm.find("start_time") is None
                assert vm.find("run_once") is None
            else:
                assert vm.findtext("start_time")
    assert seen >= 5


def test_search_values_are_the_engines_enum_names(client: Client) -> None:
    vm_id = client.new_vm()

    def found(search: str) -> list[str]:
        status, vms = client.xml("GET", "/vms?search=" + urllib.request.quote(search))
        assert status == 200  # an invalid search is no error: an empty list
        return [v.get("id") or "" for v in vms.findall("vm")]

    assert found("status=image_locked") == []
    assert found("status=down or status=image_locked") == []
    both = found("status=down or status=imagelocked")
    assert vm_id in both
    assert "8070fa6d-5b82-412c-9d41-a00017205c73" in both  # vm_off of the inventory
    assert found(f"id={vm_id}") == [vm_id]
    assert found("name=vp-*") == [vm_id]
    assert found("name=vp") == []
    assert found("id=not-a-uuid") == []


def test_actions_on_an_unknown_vm(client: Client) -> None:
    for verb, text in (("start", "Cannot run VM"), ("stop", "Cannot stop VM")):
        status, answer = client.xml("POST", f"/vms/{UNKNOWN}/{verb}", "<action/>")
        assert status == 400
        assert answer.tag == "action"
        assert answer.findtext("status") == "failed"
        assert answer.findtext("fault/detail") == f"[{text}. VM is not found.]"
        assert answer.findtext("fault/reason") == "Operation Failed"
    # A run-once start reads the VM first: a plain 404, as a GET or a DELETE.
    run_once = "<action><vm><os><kernel>/k</kernel></os></vm></action>"
    for method, path, body in (
        ("POST", f"/vms/{UNKNOWN}/start", run_once),
        ("GET", f"/vms/{UNKNOWN}", None),
        ("DELETE", f"/vms/{UNKNOWN}", None),
    ):
        status, _, text = client.call(method, path, body)
        assert (status, text) == (404, "")


def test_a_user_without_a_system_role_gets_403_for_an_unknown_vm() -> None:
    with served(Imitation(system_permissions=False)) as url:
        status, answer = Client(url).xml("POST", f"/vms/{UNKNOWN}/start", "<action/>")
    assert status == 403
    assert answer.findtext("fault/detail") == "[User is not authorized to perform this action.]"


def test_stopping_a_down_vm_is_skipped_and_succeeds(client: Client) -> None:
    vm_id = client.new_vm()
    status, answer = client.xml("POST", f"/vms/{vm_id}/stop", "<action/>")
    assert status == 200
    assert answer.findtext("status") == "complete"
    assert answer.find("job") is not None


def test_creations_answer_as_the_engine(client: Client) -> None:
    status, headers, text = client.call("POST", "/vms", NEW_VM)
    vm_id = ET.fromstring(text).get("id")
    assert status == 201
    assert headers["Location"] == f"{client.url}{API}/vms/{vm_id}"
    status, headers, text = client.call(
        "POST", f"/vms/{vm_id}/nics", "<nic><name>nic1</name><vnic_profile id='p'/></nic>"
    )
    assert status == 201
    nic = ET.fromstring(text)
    assert headers["Location"] == f"{client.url}{API}/vms/{vm_id}/nics/{nic.get('id')}"
    assert (nic.findtext("mac/address") or "").startswith("56:6f:")
    # The disk is made by a storage task: 202, no Location, a creation status.
    status, headers, text = client.call("POST", f"/vms/{vm_id}/diskattachments", DISK)
    assert status == 202
    assert "Location" not in headers
    attachment = ET.fromstring(text)
    assert attachment.findtext("creation_status") == "pending"


def test_a_disk_that_fails_is_removed_by_the_engine(client: Client, imitation: Imitation) -> None:
    vm_id = client.new_vm()
    imitation.fail_disks()
    client.call("POST", f"/vms/{vm_id}/diskattachments", DISK)

    def disks() -> list[str | None]:
        _, vms = client.xml("GET", f"/vms?search=id%3D{vm_id}&follow=disk_attachments.disk")
        return [d.findtext("disk/status") for d in vms.iterfind("vm/disk_attachments/*")]

    assert disks() == ["locked"]
    assert disks() == []  # the image, its disk and its attachment are gone


def test_a_vm_with_a_locked_disk_is_not_removed(client: Client) -> None:
    vm_id = client.new_vm()
    client.call("POST", f"/vms/{vm_id}/diskattachments", DISK)
    status, fault = client.xml("DELETE", f"/vms/{vm_id}")
    assert status == 409
    assert fault.tag == "fault"
    assert "The following disks are locked: vp-1_disk0" in (fault.findtext("detail") or "")
    assert client.call("DELETE", f"/vms/{vm_id}")[0] == 200  # a look later it is ok


def test_refusals_render_as_the_engine_did() -> None:
    # Answers users quoted from real engines in public issues, rendered from the
    # engine's catalogue with the messages the engine's commands send.
    no_host = Refusal.no_host_with_memory("server.domain.local", "487.000000")
    assert no_host.status == 409
    assert no_host.detail == (
        "[Cannot run VM. There is no host that satisfies current scheduling constraints. "
        "See below for details:, The host server.domain.local did not satisfy internal "
        "filter Memory because its available memory is too low (487.000000 MB) to run "
        "the VM.]"
    )
    in_use = Refusal.of("ACTION_TYPE_FAILED_NAME_ALREADY_USED", "ADD", "VM")
    assert (in_use.status, in_use.detail) == (
        409,
        "[Cannot add VM. The VM name is already in use, please choose a unique name and "
        "try again.]",
    )
    # A message without an ErrorType counts for nothing: alone, it is a 400.
    assert Refusal.of("SCHEDULING_NO_HOSTS", "RUN", "VM").status == 400
    storage = Refusal.of(
        "ACTION_TYPE_FAILED_STORAGE_DOMAIN_STATUS_ILLEGAL", "ATTACH", "STORAGE__DOMAIN"
    )
    assert storage.detail == (
        "[Cannot attach Storage. The relevant Storage Domain is inaccessible.\n"
        "-Please handle Storage Domain issues and retry the operation.]"
    )


def test_an_injected_refusal_of_an_action_is_an_action(
    client: Client, imitation: Imitation
) -> None:
    vm_id = client.new_vm()
    imitation.refuse(
        "POST", rf"{API}/vms/[^/]+/start", Refusal.of("SCHEDULING_NO_HOSTS", "RUN", "VM")
    )
    status, answer = client.xml("POST", f"/vms/{vm_id}/start", "<action/>")
    assert (status, answer.tag, answer.findtext("status")) == (400, "action", "failed")
    assert client.vm(vm_id).findtext("status") == "down"


def test_the_disk_collection_and_its_search(client: Client, imitation: Imitation) -> None:
    vm_id = client.new_vm()
    client.call("POST", f"/vms/{vm_id}/diskattachments", DISK)
    hand_made = imitation.float_disk("vp-9_disk0", "made by hand")

    def found(search: str) -> list[tuple[str | None, str | None]]:
        status, disks = client.xml("GET", "/disks?search=" + urllib.request.quote(search))
        assert status == 200  # an invalid search is no error: an empty list
        return [(d.findtext("alias"), d.findtext("status")) for d in disks.findall("disk")]

    # Sorted by alias; number_of_vms tells a VM's disk from one no VM uses.
    assert found("alias=vp-*") == [("vp-1_disk0", "locked"), ("vp-9_disk0", "ok")]
    assert found("alias=vp-* and number_of_vms=0") == [("vp-9_disk0", "ok")]
    assert found("name=vp-1_disk0 and number_of_vms=1") == [("vp-1_disk0", "locked")]
    assert found("alias=vp-* and number_of_vms=none") == []
    client.vm(vm_id)  # a look later the disk is ok
    # A removal that fails to remove the image: the VM goes, its disk stays, illegal.
    imitation.fail_image_removals()
    assert client.call("DELETE", f"/vms/{vm_id}")[0] == 200
    assert client.call("GET", f"/vms/{vm_id}")[0] == 404
    assert found("alias=vp-* and number_of_vms=0") == [
        ("vp-1_disk0", "illegal"),
        ("vp-9_disk0", "ok"),
    ]
    status, answer = client.xml("DELETE", f"/disks/{hand_made}")
    assert (status, answer.findtext("status")) == (200, "complete")
    assert client.call("DELETE", f"/disks/{hand_made}")[:3:2] == (404, "")
    assert found("alias=vp-*") == [("vp-1_disk0", "illegal")]


CD2 = "5037cc2a-0268-4412-a591-ee7da56efe53"  # template_cd2 of data center newd1
NEWD1_CLUSTER = "1c273044-e6ca-492f-9ac2-47381b626808"


def test_templates_are_the_recorded_ones_with_their_disks(client: Client) -> None:
    follow = "&follow=disk_attachments.disk,nics"
    status, found = client.xml("GET", "/templates?search=name%3Dtemplate_cd2" + follow)
    assert status == 200
    (template,) = found.findall("template")
    assert template.get("id") == CD2
    assert (
        template.findtext("description")
        == "CentOS 7 Generic Cloud Image v1901 for x86_64 (fe03ebf)"
    )
    (disk,) = template.findall("disk_attachments/disk_attachment/disk")
    assert (disk.findtext("alias"), disk.findtext("provisioned_size")) == (
        "GlanceDisk-fe03ebf",
        str(8 * 1024**3),
    )
    nics = template.find("nics")  # imported from Glance: made from Blank, without NICs
    assert nics is not None
    assert list(nics) == []
    _, in_dc = client.xml("GET", "/templates?search=name%3Dtemplate_cd2+and+datacenter%3DNewd")
    assert in_dc.findall("template") == []  # it is in newd1
    assert client.xml("GET", f"/templates/{CD2}")[1].findtext("name") == "template_cd2"
    assert client.call("GET", f"/templates/{UNKNOWN}")[0] == 404


def test_a_vm_from_a_template_with_disks_is_image_locked_then_runs_and_reports(
    client: Client,
) -> None:
    body = (
        f"<vm><name>vp-2</name><cluster id='{NEWD1_CLUSTER}'/><template id='{CD2}'/>"
        "<disk_attachments><disk_attachment><disk id='d7355822-5742-4d87-81c8-ffdbd87515db'>"
        "<name>vp-2_disk0</name></disk></disk_attachment></disk_attachments>"
        "<initialization><custom_script>#cloud-config\n</custom_script>"
        "<root_password>s3cr3t</root_password></initialization></vm>"
    )
    status, headers, text = client.call("POST", "/vms", body)
    vm = ET.fromstring(text)
    vm_id = vm.get("id") or ""
    # Storage tasks copy the template's disk: 202, a creation status, no Location.
    assert (status, vm.findtext("creation_status"), "Location" in headers) == (
        202,
        "pending",
        False,
    )
    assert vm.findtext("status") == "image_locked"
    assert vm.find("template").get("id") == CD2  # type: ignore[union-attr]
    assert [d.text for d in vm.iterfind("os/boot/devices/device")] == ["hd"]
    init = vm.find("initialization")
    assert init is not None
    assert init.findtext("custom_script") == "#cloud-config\n"
    assert init.findtext("root_password") == "******"  # never the password itself
    assert "s3cr3t" not in text
    client.call("POST", f"/vms/{vm_id}/nics", "<nic><name>nic1</name><vnic_profile id='p'/></nic>")
    # Each request that names the VM is a step of the copy (the NIC's addition one).
    looks = [client.vm(vm_id).findtext("status") for _ in range(2)]
    assert looks == ["image_locked", "down"]
    _, disks = client.xml("GET", f"/vms?search=id%3D{vm_id}&follow=disk_attachments.disk")
    assert [d.findtext("alias") for d in disks.iterfind("vm/disk_attachments/*/disk")] == [
        "vp-2_disk0"
    ]
    client.xml("POST", f"/vms/{vm_id}/start", "<action/>")

    def reported() -> list[str]:
        _, vms = client.xml("GET", f"/vms?search=id%3D{vm_id}&follow=reported_devices")
        return [a.text or "" for a in vms.iterfind("vm/reported_devices/*/ips/ip/address")]

    # powering_up, up: nothing yet; a look later the guest agent reports its addresses.
    assert [reported(), reported()] == [[], []]
    assert reported() == ["192.0.2.2", "2001:db8::1", "fe80::1"]
