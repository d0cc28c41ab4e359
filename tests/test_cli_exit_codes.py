"""Exit codes tell the truth (docs/cli.md): 0 done, 1 failed, 2 bad input, 130 Ctrl-C,
and a command's own ``ctx.exit(n)``, for core and plugin commands alike."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from virtprov.fake import FakeProvider

VIRTPROV = [sys.executable, "-c", "from virtprov.cli import main; main()"]


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*VIRTPROV, *args], env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("code", [3, 42])
def test_a_plugin_commands_ctx_exit_is_the_status(
    cli_plugin_env: dict[str, str], code: int
) -> None:
    result = run(cli_plugin_env, "fixture", "exit-with", str(code))
    assert result.returncode == code, result.stderr
    assert result.stdout == f"exiting with {code}\n"
    assert run(cli_plugin_env, "fixture", "exit-with", "0").returncode == 0
    # As click in standalone mode: a returned value is not a status, only ctx.exit() is.
    assert run(cli_plugin_env, "fixture", "returns").returncode == 0


def test_a_core_commands_ctx_exit_is_the_status(cli_env: dict[str, str]) -> None:
    result = run(cli_env, "destroy", "no-such-guest")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "virtprov: no-such-guest: not found on fake, nothing destroyed"
    )


def test_ctrl_c_in_a_plugin_command_is_130(cli_plugin_env: dict[str, str]) -> None:
    result = run(cli_plugin_env, "fixture", "interrupted")
    assert result.returncode == 130
    assert result.stderr.strip() == "virtprov: interrupted"


def test_an_unexpected_exception_is_one_line_with_status_1(cli_plugin_env: dict[str, str]) -> None:
    result = run(cli_plugin_env, "fixture", "crashes")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("virtprov: unexpected error: KeyError: ")
    assert "\x1b" not in result.stderr  # a terminal escape from an SDK is shown escaped
    assert "\\x1b[31mred" in lines[0]
    assert "--debug" in lines[0]
    debug = run(cli_plugin_env, "--debug", "fixture", "crashes")
    assert debug.returncode == 1
    assert "Traceback" in debug.stderr


def test_what_the_cli_logs_is_escaped_one_line_each_without_traceback(
    cli_plugin_env: dict[str, str],
) -> None:
    result = run(cli_plugin_env, "fixture", "logs")
    assert result.returncode == 0
    assert result.stderr == (
        "WARNING virtprov_cli_plugin: the cloud said \\x1b[2J\\u202eevil\\x0aFORGED line"
        "\\x09and a tab\n"
    )
    debug = run(cli_plugin_env, "--debug", "fixture", "logs")
    lines = debug.stderr.splitlines()
    assert lines[0] == result.stderr.strip()
    assert lines[1] == "Traceback (most recent call last):"
    assert lines[-1] == "RuntimeError: \\x1b[31mred"  # the traceback escaped too


def test_one_line_escapes_as_everything_shown_to_a_user_does() -> None:
    from virtprov.cli import one_line

    assert one_line("a\tb\x1b[31m\u202ec\r\nd\u2028e") == "a\\x09b\\x1b[31m\\u202ec  d\\u2028e"
    assert one_line("caf\u00e9 \u4e2d\u6587") == "caf\u00e9 \u4e2d\u6587"  # text stays text


@pytest.mark.parametrize(
    "args",
    [
        ["provision", "--no-such-option"],
        ["no-such-command"],
        ["provision", "--poll-interval", "soon"],
        ["destroy"],
    ],
)
def test_bad_usage_is_one_line_with_status_2(cli_env: dict[str, str], args: list[str]) -> None:
    result = run(cli_env, *args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("virtprov: usage: ")
    assert "--help" in lines[0]


def test_ctrl_c_during_provision_is_130_and_leaves_no_guest(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    state = tmp_path / "cloud.sqlite"
    config = tmp_path / "virtprov.toml"
    config.write_text(
        f'[providers.slow]\ndriver = "fake"\nlab = "l"\nstate_file = "{state}"\n'
        "[providers.slow.latency]\nbuild = 60\n"
    )
    process = subprocess.Popen(
        [*VIRTPROV, "--config", str(config), "provision", "--poll-interval", "0.05"],
        env=cli_env,  # its CLI journal in the test's state directory, not the user's
        # Ctrl-C as in a terminal, even when this test runs as a background job
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    cloud = FakeProvider(state_file=state)
    try:
        deadline = time.monotonic() + 60
        while not cloud.all_guest_ids():  # wait until the guest exists, then interrupt
            assert time.monotonic() < deadline, "provision never created its guest"
            assert process.poll() is None, process.communicate()
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
        assert process.returncode == 130, stderr
        assert stderr.strip().splitlines()[-1] == "virtprov: interrupted"
        assert cloud.all_guest_ids() == []  # the half-made guest was destroyed
    finally:
        if process.poll() is None:
            process.kill()
        cloud.close()


@pytest.fixture
def ctrl_c_raises() -> Iterator[None]:
    """SIGINT raising KeyboardInterrupt, as in a terminal (a background job's SIGINT may
    be ignored, and a second Ctrl-C restores whatever handler there was before)."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


@pytest.mark.usefixtures("ctrl_c_raises")
def test_a_deferred_ctrl_c_is_raised_where_the_command_checks_and_a_second_at_once() -> None:
    from virtprov.cli.interrupts import DeferredInterrupt

    reached = []
    with DeferredInterrupt() as interrupt:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)  # the handler has run: held, not raised
        reached.append("after the first Ctrl-C")
        started = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            interrupt.sleep(30)  # a wait ends at once
        assert time.monotonic() - started < 5
        with pytest.raises(KeyboardInterrupt):
            interrupt.check()
        with pytest.raises(KeyboardInterrupt):  # the second one is not held
            os.kill(os.getpid(), signal.SIGINT)
    assert reached == ["after the first Ctrl-C"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
