"""Text reports for the shop owner."""

from typing import Dict, List
import sys

from stockroom.inventory import Inventory
from stockroom.models import Item


def stock_status(item: Item) -> str:
    if item.quantity == 0:
        status = "OUT"
    else:
        status = "low"
    return status


def low_stock_report(inventory: Inventory) -> str:
    lines = []
    for item in inventory.low_stock():
        lines.append("{} ({}): {} left, {}".format(item.name, item.sku, item.quantity, stock_status(item)))
    return "\n".join(lines)


def count_by_tag(items: List[Item]) -> Dict[str, int]:
    counts: Dict[str, int] = {}
    for item in items:
        for tag in item.tags:
            if not tag in counts:
                counts[tag] = 0
            counts[tag] += 1
    return counts


def tag_report(inventory: Inventory) -> str:
    counts = count_by_tag(inventory.items())
    return ", ".join("%s: %d" % (tag, n) for tag, n in sorted(counts.items()))
