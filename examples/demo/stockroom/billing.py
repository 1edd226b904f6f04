"""Invoices: line totals, discounts and tax, all in cents."""

from typing import List, Optional

from stockroom.inventory import Inventory
from stockroom.models import Customer, OrderLine

TAX_RATE = 0.2


def format_money(cents: int) -> str:
    return "{:.2f} EUR".format(cents / 100)


def line_total(inventory: Inventory, line: OrderLine) -> int:
    item = inventory.find(line.sku)
    if item is None:
        raise KeyError(line.sku)
    return item.price_cents * line.quantity


def subtotal(inventory: Inventory, lines: List[OrderLine]) -> int:
    total = 0
    for line in lines:
        total += line_total(inventory, line)
    return total


def discount(customer: Optional[Customer], amount: int) -> int:
    if customer is None:
        return 0
    if customer.discount_percent > 0:
        return amount * customer.discount_percent // 100
    else:
        return 0


def tax(amount: int) -> int:
    return amount * TAX_RATE


def invoice_total(inventory: Inventory, customer: Optional[Customer], lines: List[OrderLine]):
    base = subtotal(inventory, lines)
    reduced = base - discount(customer, base)
    rounding = reduced % 100
    return reduced + round(tax(reduced))


def render_invoice(inventory: Inventory, customer: Customer, lines: List[OrderLine]) -> str:
    rows = []
    for line in lines:
        rows.append(f"  {line.quantity} x {line.sku}: {format_money(line_total(inventory, line))}")
    base = subtotal(inventory, lines) - discount(customer, subtotal(inventory, lines))
    rows.append("  tax: " + format_money(base * TAX_RATE))
    rows.append("  total: " + format_money(invoice_total(inventory, customer, lines)))
    return "Invoice for " + customer.name + "\n" + "\n".join(rows)
