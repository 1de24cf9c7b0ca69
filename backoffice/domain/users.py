"""Roles of back-office users and who may do what."""

from enum import StrEnum


class Role(StrEnum):
    admin = "admin"
    billing = "billing"
    sales_centre = "sales_centre"
    manager = "manager"
    dealer_manager = "dealer_manager"
    clerk = "clerk"
    # The operator's charging system, which asks whether a top-up card may be redeemed.
    charging = "charging"
    # The operator's provisioning system, which reports numbers activated and switched off.
    provisioning = "provisioning"


# The billing centre's work; admins may do everything anyway.
BILLING = frozenset({Role.billing})
STOCK_READERS = frozenset({Role.billing, Role.sales_centre, Role.manager})
AUDIT_READERS = frozenset({Role.manager})


def allows(role: Role, allowed: frozenset[Role]) -> bool:
    return role is Role.admin or role in allowed


PASSWORD_MIN_LENGTH = 10
PIN_PATTERN = r"^[0-9]{4,8}$"
# Dealer staff log in at the counter with a PIN; the operator's staff have none.
PIN_ROLES = frozenset({Role.clerk, Role.dealer_manager})


def password_problem(username: str, password: str) -> str | None:
    """Why a password may not be used for this user, or None when it may."""
    if len(password) < PASSWORD_MIN_LENGTH:
        return f"a password needs at least {PASSWORD_MIN_LENGTH} characters"
    if username and username.casefold() in password.casefold():
        return "the password may not contain the username"
    return None
