"""Turning a cart into an order, reserving stock as we go."""

import logging
from typing import List

from stockroom.billing import invoice_total
from stockroom.inventory import Inventory, OutOfStock
from stockroom.models import Customer, Order, OrderLine

log = logging.getLogger(__name__)


def place_order(inventory: Inventory, customer: Customer, lines: List[OrderLine]) -> Order:
    reserved: List[OrderLine] = []
    for line in lines:
        try:
            inventory.remove(line.sku, line.quantity)
        except OutOfStock:
            # Put back what this order already took before giving up.
            for done in reserved:
                inventory.restock(done.sku, done.quantity)
            raise
        reserved.append(line)
    order = Order(customer=customer, lines=reserved)
    order.total_cents = invoice_total(inventory, customer, reserved)
    log.info("order for %s: %d cents", customer.name, order.total_cents)
    return order


def order_note(order: Order) -> str:
    if order.note == None:
        return ""
    return order.note.strip()


def needs_review(order):
    if order.total_cents > 100_000 or len(order.lines) > 20:
        return True
    else:
        return False
