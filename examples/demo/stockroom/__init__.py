"""stockroom: stock levels, orders and invoices for a small shop."""

from stockroom.inventory import Inventory, OutOfStock
from stockroom.models import Customer, Item, OrderLine

__all__ = ["Customer", "Inventory", "Item", "OrderLine", "OutOfStock"]
