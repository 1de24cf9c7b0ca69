"""Customer displays: command-set encoders, sale screens and the serial pole display."""

from devices.display.encoding import (
    COMMAND_SETS,
    CD5220Commands,
    CommandSet,
    DisplayCommands,
    EpsonDisplayCommands,
    commands_for,
    transliterate,
)
from devices.display.screens import change_screen, item_screen, total_screen, welcome_screen
from devices.display.serial_display import SerialDisplay

__all__ = [
    "COMMAND_SETS",
    "CD5220Commands",
    "CommandSet",
    "DisplayCommands",
    "EpsonDisplayCommands",
    "SerialDisplay",
    "change_screen",
    "commands_for",
    "item_screen",
    "total_screen",
    "transliterate",
    "welcome_screen",
]
