"""DLE EOT status bytes: each bit read into a PrinterStatus, and the simulator's answers."""

import pytest

from devices.escpos.commands import StatusRequest
from devices.escpos.status import PrinterCondition, interpret, is_status_byte
from devices.ports import PrinterState

READY = 0x12  # bits 1 and 4 are always set in a DLE EOT answer


def test_ready_printer_is_online_with_drawer_closed():
    status = interpret(READY, None, READY)
    assert status.state == PrinterState.online
    assert status.drawer_open is False
    assert status.can_print


def test_no_answer_is_offline_with_unknown_drawer():
    status = interpret(None)
    assert status.state == PrinterState.offline
    assert status.drawer_open is None
    assert not status.can_print


def test_bit_2_of_printer_status_is_the_drawer_sensor():
    assert interpret(READY | 0x04, None, READY).drawer_open is True
    # A drawer whose switch pulls pin 3 low when open reads the other way round.
    assert interpret(READY | 0x04, None, READY, drawer_open_when_high=False).drawer_open is False


def test_bit_3_of_printer_status_is_offline():
    status = interpret(READY | 0x08, READY, READY)
    assert status.state == PrinterState.offline
    assert "offline" in status.detail


def test_offline_cause_bit_2_is_cover_open():
    assert interpret(READY | 0x08, READY | 0x04, READY).state == PrinterState.cover_open


def test_offline_cause_bit_5_is_paper_out():
    assert interpret(READY | 0x08, READY | 0x20, READY).state == PrinterState.paper_out


def test_offline_cause_bit_6_is_an_error():
    status = interpret(READY | 0x08, READY | 0x40, READY)
    assert status.state == PrinterState.offline
    assert "error" in status.detail


def test_paper_sensor_bits_2_3_are_near_end_and_bits_5_6_are_out():
    near_end = interpret(READY, None, READY | 0x0C)
    assert near_end.state == PrinterState.paper_near_end
    assert near_end.can_print
    assert interpret(READY, None, READY | 0x6C).state == PrinterState.paper_out


def test_cover_open_outranks_paper_out():
    assert interpret(READY | 0x08, READY | 0x24, READY | 0x6C).state == PrinterState.cover_open


def test_a_byte_that_is_no_status_answer_is_not_believed():
    assert not is_status_byte(0x13)  # XOFF
    status = interpret(0x13)
    assert status.state == PrinterState.offline
    assert "0x13" in status.detail


@pytest.mark.parametrize(
    "condition, expected",
    [
        (PrinterCondition(), PrinterState.online),
        (PrinterCondition(paper_near_end=True), PrinterState.paper_near_end),
        (PrinterCondition(paper_out=True), PrinterState.paper_out),
        (PrinterCondition(cover_open=True), PrinterState.cover_open),
        (PrinterCondition(error=True), PrinterState.offline),
    ],
)
def test_simulated_answers_read_back_to_the_same_state(condition, expected):
    answers = [condition.answer(request) for request in StatusRequest]
    assert all(is_status_byte(answer) for answer in answers)
    printer, cause, _, paper = answers
    assert interpret(printer, cause, paper).state == expected


def test_simulated_answers_use_the_documented_bits():
    assert PrinterCondition(paper_out=True).answer(StatusRequest.paper) == 0x7E
    assert PrinterCondition(cover_open=True).answer(StatusRequest.printer) == 0x1A
    assert PrinterCondition(cover_open=True).answer(StatusRequest.offline_cause) == 0x16
    assert PrinterCondition(drawer_pin3_high=True).answer(StatusRequest.printer) == 0x16
