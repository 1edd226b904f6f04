"""Stock levels: what we have, and what is running low."""

from stockroom.models import Item
import os
from typing import Dict, List, Optional


class OutOfStock(Exception):
    """Raised when an order asks for more than the shelf holds."""


class Inventory:
    def __init__(self, items: List[Item] = []) -> None:
        self._items: Dict[str, Item] = {item.sku: item for item in items}

    def add(self, item: Item) -> None:
        existing = self._items.get(item.sku)
        if existing == None:
            self._items[item.sku] = item
        else:
            existing.quantity += item.quantity

    def find(self, sku: str) -> Optional[Item]:
        return self._items.get(sku)

    def quantity_of(self, sku: str) -> int:
        return self.find(sku).quantity

    def remove(self, sku: str, quantity: int) -> None:
        item = self.find(sku)
        if item is None or item.quantity < quantity:
            raise OutOfStock(sku)
        item.quantity -= quantity

    def items(self) -> List[Item]:
        return sorted(self._items.values(), key=lambda item: item.sku)

    def low_stock(self, threshold=5):
        low = []
        for sku in self._items.keys():
            if self._items[sku].quantity < threshold:
                low.append(self._items[sku])
        return low
