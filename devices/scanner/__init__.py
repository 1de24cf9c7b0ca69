"""Barcode scanners: pure decoders, the double-scan filter, evdev and serial scan sources."""

from devices.scanner.decode import (
    DoubleScanFilter,
    KeyDecoder,
    ScanProcessor,
    SerialDecoder,
    Suffix,
    classify_scan,
    decode_key_events,
    decode_serial,
)
from devices.scanner.evdev_scanner import EvdevMatch, EvdevScanner
from devices.scanner.serial_scanner import SerialScanner

__all__ = [
    "DoubleScanFilter",
    "EvdevMatch",
    "EvdevScanner",
    "KeyDecoder",
    "ScanProcessor",
    "SerialDecoder",
    "SerialScanner",
    "Suffix",
    "classify_scan",
    "decode_key_events",
    "decode_serial",
]
