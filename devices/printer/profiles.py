"""Paper widths the receipt printers use: columns of text, dots per line, code sizes."""

from dataclasses import dataclass


@dataclass(frozen=True)
class PrinterProfile:
    """One paper width: `columns` of font A (12 dots each) across `dots` printable dots."""

    name: str
    columns: int
    dots: int
    barcode_module: int  # dots per narrowest Code 128 bar
    barcode_height: int  # dots
    qr_module: int  # dots per QR module


PROFILES: dict[str, PrinterProfile] = {
    profile.name: profile
    for profile in (
        PrinterProfile("58mm", 32, 384, barcode_module=2, barcode_height=80, qr_module=5),
        PrinterProfile("80mm", 48, 576, barcode_module=3, barcode_height=80, qr_module=6),
    )
}


def get_profile(name: str) -> PrinterProfile:
    """The profile called `name` ("58mm" or "80mm")."""
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(sorted(PROFILES))
        raise ValueError(f"unknown printer profile {name!r}; known: {known}") from None
