"""The devices TOML file: a full example loads into typed settings, and every mistake is an
error naming the file, the key and the problem."""

import re
from pathlib import Path

import pytest

from devices.config import (
    ConfigError,
    DevicesConfig,
    DisplayConfig,
    DrawerConfig,
    EvdevScannerConfig,
    SerialScannerConfig,
    load_config,
)
from devices.printer import PrinterConfig
from devices.scanner import EvdevMatch

EXAMPLE = """
[scanner]
type = "evdev"
path = "/dev/input/by-id/usb-Honeywell_1900-event-kbd"
double_scan_window = 1.5

[printer]
transport = "network"
target = "192.168.1.50:9100"
profile = "58mm"
status_timeout = 0.8

[drawer]
via = "printer"
pin = 5

[display]
port = "/dev/serial/by-id/usb-Prolific-if00-port0"
baudrate = 9600
command_set = "cd5220"
brightness = 3
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "devices.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_full_example_loads(tmp_path: Path) -> None:
    path = write(tmp_path, EXAMPLE)
    config = load_config(path)
    assert config == DevicesConfig(
        source=str(path),
        scanner=EvdevScannerConfig(
            EvdevMatch(path="/dev/input/by-id/usb-Honeywell_1900-event-kbd"),
            double_scan_window=1.5,
        ),
        printer=PrinterConfig(
            transport="network",
            target="192.168.1.50:9100",
            profile="58mm",
            drawer_pin=5,
            status_timeout=0.8,
        ),
        drawer=DrawerConfig(via="printer", pin=5),
        display=DisplayConfig(
            port="/dev/serial/by-id/usb-Prolific-if00-port0", command_set="cd5220", brightness=3
        ),
    )
    assert config.serial_paths() == ["/dev/serial/by-id/usb-Prolific-if00-port0"]


def test_an_empty_file_configures_nothing(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "")) == DevicesConfig(source=str(tmp_path / "devices.toml"))


def test_serial_scanner_and_serial_drawer_with_defaults(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            '[scanner]\ntype = "serial"\nport = "/dev/ttyACM0"\nsuffix = "CRLF"\n'
            '[drawer]\nvia = "serial"\nport = "/dev/ttyS1"\n',
        )
    )
    assert config.scanner == SerialScannerConfig("/dev/ttyACM0", 9600, "CRLF", 1.0)
    assert config.drawer == DrawerConfig(via="serial", port="/dev/ttyS1", baudrate=9600)
    assert config.serial_paths() == ["/dev/ttyACM0", "/dev/ttyS1"]


def test_evdev_scanner_by_usb_id_and_name(tmp_path: Path) -> None:
    config = load_config(
        write(tmp_path, '[scanner]\ntype = "evdev"\nusb = "0C2E:0B61"\nname = "1900"\ngrab = false')
    )
    assert config.scanner == EvdevScannerConfig(
        EvdevMatch(usb_id="0C2E:0B61", name="1900"), grab=False
    )


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ('[scaner]\ntype = "serial"', "scaner", "is not a known section"),
        ("scanner = 3", "scanner", "must be a table, got 3"),
        ("[scanner]\nport = '/dev/ttyACM0'", "scanner.type", "is required"),
        ('[scanner]\ntype = "bluetooth"', "scanner.type", "must be one of evdev, serial"),
        ('[scanner]\ntype = "serial"', "scanner.port", "is required"),
        (
            '[scanner]\ntype = "serial"\nport = "/dev/ttyACM0"\nbaudrate = "fast"',
            "scanner.baudrate",
            "must be an integer, got 'fast'",
        ),
        (
            '[scanner]\ntype = "serial"\nport = "/dev/ttyACM0"\nsuffix = "TAB"',
            "scanner.suffix",
            "must be one of CR, LF, CRLF, got 'TAB'",
        ),
        (
            '[scanner]\ntype = "serial"\nport = "/dev/ttyACM0"\ndouble_scan_window = -1',
            "scanner.double_scan_window",
            "must not be negative",
        ),
        (
            '[scanner]\ntype = "serial"\nport = "/dev/ttyACM0"\ndouble_scan_window = inf',
            "scanner.double_scan_window",
            "must be a finite number of seconds, got inf",
        ),
        (
            '[printer]\ntransport = "file"\ntarget = "/dev/usb/lp0"\nstatus_timeout = nan',
            "printer.status_timeout",
            "must be a finite number of seconds, got nan",
        ),
        (
            '[scanner]\ntype = "serial"\nport = "/dev/ttyACM0"\nbaud = 9600',
            "scanner.baud",
            "is not a known setting",
        ),
        ('[scanner]\ntype = "evdev"', "scanner.path", "needs one of path, usb or name"),
        ('[scanner]\ntype = "evdev"\nusb = "honeywell"', "scanner.usb", "vendor:product in hex"),
        ('[scanner]\ntype = "evdev"\nname = ""', "scanner.name", "must be a non-empty string"),
        ('[scanner]\ntype = "evdev"\nname = "x"\ngrab = "yes"', "scanner.grab", "true or false"),
        ('[printer]\ntransport = "lpt"\ntarget = "x"', "printer.transport", "must be one of"),
        ('[printer]\ntransport = "usb"\ntarget = "epson"', "printer.target", "vendor:product"),
        (
            '[printer]\ntransport = "network"\ntarget = "10.0.0.5:printer"',
            "printer.target",
            "host or host:port",
        ),
        (
            '[printer]\ntransport = "file"\ntarget = "/dev/usb/lp0"\ndrawer_pin = 3',
            "printer.drawer_pin",
            "must be 2 or 5, got 3",
        ),
        (
            '[printer]\ntransport = "file"\ntarget = "/dev/usb/lp0"\nprofile = "76mm"',
            "printer.profile",
            "must be one of 58mm, 80mm",
        ),
        (
            '[printer]\ntransport = "file"\ntarget = "/dev/usb/lp0"\nstatus_timeout = 0',
            "printer.status_timeout",
            "must be above 0 and at most 10 s, got 0",
        ),
        (
            '[printer]\ntransport = "file"\ntarget = "/dev/usb/lp0"\nstatus_timeout = 60',
            "printer.status_timeout",
            "must be above 0 and at most 10 s, got 60",
        ),
        ('[drawer]\nvia = "printer"', "drawer.via", "there is no [printer] section"),
        ('[drawer]\nvia = "serial"', "drawer.port", "is required"),
        (
            '[drawer]\nvia = "serial"\nport = "/dev/ttyS1"\nopen_command = "ZZ"',
            "drawer.open_command",
            "must be 1 to 16 bytes in hex",
        ),
        (
            '[drawer]\nvia = "serial"\nport = "/dev/ttyS1"\nopen_mask = 0',
            "drawer.open_mask",
            "must be 1 to 255, got 0",
        ),
        ('[display]\nport = "/dev/ttyS1"\ncommand_set = "vfd"', "display.command_set", "epson"),
        ('[display]\nport = "/dev/ttyS1"\nbrightness = 9', "display.brightness", "1 to 4, got 9"),
        ('[display]\nport = "/dev/ttyS1"\nfallback = "？"', "display.fallback", "printable ASCII"),
        ("[display]\nbaudrate = 9600", "display.port", "is required"),
    ],
)
def test_mistakes_name_file_key_and_problem(
    tmp_path: Path, text: str, key: str, problem: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.source == str(path)
    assert caught.value.key == key
    assert problem in caught.value.problem
    assert str(caught.value).startswith(f"{path}: {key}: ")


def test_bad_toml_names_the_file_and_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[display]\nport = "/dev/ttyS1\n')
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}: is not valid TOML: .*line 2"):
        load_config(path)


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"absent\.toml: cannot be read: No such file"):
        load_config(tmp_path / "absent.toml")


def test_a_non_utf8_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "devices.toml"
    path.write_bytes("[display]\nport = '端口'".encode("gbk"))
    with pytest.raises(ConfigError, match="is not UTF-8 text"):
        load_config(path)
